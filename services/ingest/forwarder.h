/* forwarder.h — hands CloudEventBatches to the correlators and waits for their Ack.
 *
 * The forwarder owns ingest's REQ socket, which LISTENS on ingest.work_listen;
 * correlator replicas dial it and NNG spreads requests over them (and resends a
 * request whose correlator went away).  Every input of ingest — the submit
 * server used by `replay` today; the Falco gRPC client and HTTP receiver
 * later — calls fwd_forward and replies to its own sender only after the
 * correlator's Ack came back, so nothing is acknowledged before it is stored.
 *
 * Waiting: a forward waits for the correlator in rounds of FWD_ROUND_MS; a
 * round without a reply sends the batch again (correlators and persistence
 * take duplicates by design) unless a stop was requested, so a stop never waits
 * longer than one round.  timeout_ms bounds the whole wait (0: until stopped).
 *
 * Metrics: tfdrift_ingest_events_received_total{origin=...},
 * tfdrift_ingest_events_forwarded_total, tfdrift_ingest_batches_in_flight,
 * tfdrift_ingest_last_event_timestamp_seconds, tfdrift_ingest_batches_rejected_total.
 *
 * Threads: fwd_forward may be called from any number of threads at once;
 * fwd_request_stop from any thread (a stop hook); fwd_close from the main
 * thread after every caller has returned. */
#ifndef TFDRIFT_INGEST_FORWARDER_H
#define TFDRIFT_INGEST_FORWARDER_H

#include <stddef.h>
#include <stdint.h>

#include "batchscan.h"
#include "tfdrift/error.h"
#include "tfdrift/v1/bus.pb-c.h"
#include "tfdrift/v1/event.pb-c.h"

/* Longest single wait for a correlator before the batch is sent again.  Above
 * the correlator's own wait for persistence (CORR_PERSIST_WAIT_MS, 2.5 s), so
 * a correlator gives up before ingest asks again, and below the 5 s a stop may take. */
#define FWD_ROUND_MS 3000

typedef struct fwd fwd;

typedef struct fwd_opts {
	const char *work_url; /* ingest.work_listen */
	int resend_ms;        /* bus.resend_interval */
	int timeout_ms;       /* bus.request_timeout; 0 waits until stopped */
} fwd_opts;

/* *out owned by the caller (fwd_close). */
int fwd_open(fwd **out, const fwd_opts *opts, td_error *err);

/* Forwards the packed CloudEventBatch payload/len (sum: its events, from
 * batchscan.h, for the metrics) under trace_id, and waits for the
 * correlator's Ack.
 * On success *ack is owned by the caller (tfdrift__v1__ack__free_unpacked(ack, NULL)).
 * TD_ECLOSED: a stop was requested; TD_ETIMEDOUT: timeout_ms passed; TD_EPROTO:
 * the correlator answered something that is not an Ack. */
int fwd_forward(fwd *f, const bscan_summary *sum, const uint8_t *payload, size_t len,
    const char *trace_id, Tfdrift__V1__Ack **ack);

/* Connected correlators. */
int fwd_correlators(const fwd *f);

/* Makes forwards in progress return TD_ECLOSED after their current round and
 * new ones at once.  Only sets a flag: safe in a stop hook. */
void fwd_request_stop(fwd *f);

/* Closes the socket and frees f; call after every fwd_forward has returned. */
void fwd_close(fwd *f);

#endif
