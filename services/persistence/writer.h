/* writer.h — the write path: ALERT_BATCH requests in, rows in PostgreSQL,
 * committed alerts out.
 *
 * A REP socket (listening) runs `workers` threads; each request is handled on
 * one of them with its own pooled connection:
 *
 *   decode AlertBatch -> validate and build the INSERTs (rows.h)
 *   BEGIN; INSERT ... ON CONFLICT (alert_key) DO NOTHING RETURNING ...; COMMIT
 *   publish the newly inserted alerts (id, committed_at_ns, status "open") as
 *       one ALERT_COMMITTED AlertBatch on the PUB socket
 *   reply Ack OK (accepted = alerts in the request, duplicates = already
 *       stored, produced = newly stored and published)
 *
 * A payload that does not decode or holds an invalid alert, or that
 * PostgreSQL refuses as data (SQLSTATE class 22/23/42/54), is answered Ack
 * REJECTED with the reason.  When the database is unreachable the request is
 * handed back unanswered (TD_EAGAIN) so the sender resends it later.
 *
 * Metrics: tfdrift_persistence_alerts_inserted_total,
 * tfdrift_persistence_alerts_duplicate_total, tfdrift_persistence_batch_seconds,
 * tfdrift_persistence_batches_rejected_total,
 * tfdrift_persistence_batches_deferred_total (handed back: database down),
 * tfdrift_persistence_publish_errors_total. */
#ifndef TFDRIFT_PS_WRITER_H
#define TFDRIFT_PS_WRITER_H

#include "pgpool.h"
#include "tfdrift/error.h"

typedef struct ps_writer ps_writer;

typedef struct ps_writer_opts {
	const char *work_url; /* REP, listened on */
	const char *pub_url;  /* PUB, listened on */
	int workers;          /* REP workers; the pool should have as many connections */
	pgpool *pool;         /* borrowed; must outlive the writer */
} ps_writer_opts;

/* Opens the PUB socket, then the REP socket.  *out owned by caller. */
int ps_writer_start(ps_writer **out, const ps_writer_opts *opts, td_error *err);
/* Stops taking requests, lets the ones in progress finish (commit, publish,
 * reply), closes both sockets and frees w.  NULL is ignored. */
void ps_writer_stop(ps_writer *w);

#endif
