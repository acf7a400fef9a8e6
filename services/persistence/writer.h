/* writer.h — the write path: ALERT_BATCH requests in, rows in PostgreSQL,
 * committed alerts out.
 *
 * A REP socket (listening) runs `in_flight` threads; each receives one
 * request, validates and converts its alerts (rows.h) and queues it.  `workers`
 * batch threads, each with its own pooled connection, take queued requests
 * together until `batch_max` alerts or `batch_wait` after the oldest one,
 * whichever comes first (one thread collects at a time, so batches fill), and
 * write them in one transaction:
 *
 *   BEGIN; COPY ps_in FROM STDIN (every request's rows);
 *   INSERT INTO alerts SELECT ... FROM ps_in ORDER BY seq
 *     ON CONFLICT (alert_key) DO NOTHING RETURNING ...;
 *   INSERT INTO alerts_dead_letter (alerts that failed validation); COMMIT
 *
 * Only then is each request answered Ack OK (accepted = alerts in it,
 * duplicates = already stored, produced = newly stored) and its newly stored
 * alerts published as one ALERT_COMMITTED (id, committed_at_ns, status "open";
 * the request's trace_id).  A key stored by an earlier request, or earlier in
 * the same batch, is a duplicate and is not published again.
 *
 * Failures:
 *  - PostgreSQL refuses a row's data (SQLSTATE class 22/23/44/54, see
 *    td_pg_fault): the batch is split, request by request, then alert by
 *    alert (savepoints); each alert it refuses goes to alerts_dead_letter
 *    with the reason, the rest are stored.  An invalid alert (no key, unknown kind/severity, bad JSON) goes
 *    there too.  If alerts_dead_letter refuses the row as well (say the table
 *    is gone), it is appended to dead_letter_file (JSON line with the reason
 *    and the alert's protobuf in base64, fsynced).  Never silently dropped,
 *    never blocking the rest.
 *  - PostgreSQL unreachable, failing transiently, or refusing every row
 *    alike (no INSERT privilege, table missing, read-only, disk full, ...;
 *    any SQLSTATE that is not a row's): the requests go to the on-disk spool
 *    (spool.h, fsynced) and are answered OK; a drain thread stores the spool
 *    oldest first once the database answers again, and publishes what is
 *    new.  While the database refuses writes, batches go straight to the
 *    spool and the database is retried with a backoff (200 ms doubling to
 *    5 s); the refusal's SQLSTATE is reported (on_write_state, metrics).
 *  - The spool full as well (persistence.spool_max_bytes, or the disk): the
 *    request is answered Ack RETRY; nothing is stored, the sender keeps the
 *    alerts and sends them again later (the correlator hands its event
 *    batch back to ingest, which keeps it in its journal).  If the spool
 *    cannot be written at all, the request is handed back unanswered (the
 *    sender resends it).
 *  - A payload that does not decode: Ack REJECTED.
 *
 * Metrics: tfdrift_persistence_alerts_inserted_total, _alerts_duplicate_total,
 * _alerts_dead_letter_total, _alerts_spooled_total, _batches_rejected_total,
 * _batches_deferred_total (handed back), _publish_errors_total,
 * _batch_seconds (one database batch), _batch_alerts, _request_seconds
 * (receive to reply), _spool_alerts, _spool_segments, _spool_bytes,
 * _spool_max_bytes, _spool_full, _alerts_refused_spool_full_total,
 * _spool_oldest_age_seconds, _db_writable (0 while writes are refused),
 * _db_write_error{sqlstate} (1 for the current refusal's SQLSTATE). */
#ifndef TFDRIFT_PS_WRITER_H
#define TFDRIFT_PS_WRITER_H

#include <stdint.h>

#include "tfdrift/pgpool.h"
#include "spool.h"
#include "tfdrift/error.h"

typedef struct ps_writer ps_writer;

typedef struct ps_writer_opts {
	const char *work_url;         /* REP, listened on */
	const char *pub_url;          /* PUB, listened on */
	int workers;                  /* batch threads; the pool needs workers + 2 connections */
	int in_flight;                /* REP contexts: requests received and waiting at once */
	int batch_max;                /* alerts in one database batch */
	int batch_wait_ms;            /* longest wait for a batch to fill */
	td_pgpool *pool;              /* borrowed; must outlive the writer */
	ps_spool *spool;              /* borrowed; must outlive the writer */
	const char *dead_letter_file; /* JSON lines, when alerts_dead_letter refuses a row */
	/* Called when PostgreSQL starts refusing writes for a reason that is not
	 * one row's, or the SQLSTATE changes (sqlstate and a one-line message),
	 * and when writes work again (both NULL).  Any thread; may be NULL. */
	void (*on_write_state)(void *arg, const char *sqlstate, const char *msg);
	void *state_arg;
} ps_writer_opts;

/* Opens the PUB socket, starts the batch and drain threads, then the REP
 * socket.  *out owned by caller. */
int ps_writer_start(ps_writer **out, const ps_writer_opts *opts, td_error *err);
/* Until this is called (after the migrations), every request is spooled and
 * the spool is not drained: persistence takes work even when it starts while
 * the database is down. */
void ps_writer_schema_ready(ps_writer *w);
/* Stops taking requests, lets the ones in progress finish (commit or spool,
 * publish, reply), stops the threads, closes both sockets and frees w.  NULL
 * is ignored. */
void ps_writer_stop(ps_writer *w);

/* Refreshes the spool gauges (also done by the drain thread). */
void ps_writer_spool_gauges(ps_writer *w);

#endif
