/* submit.h — the REP server where `tfdrift-ingest replay` hands in events.
 *
 * Listens on ingest.submit_listen with ingest.in_flight workers.  Each request
 * is a CloudEventBatch; it is journaled and forwarded as is (same trace id)
 * through the hand-off (handoff.h), and the correlator's Ack is relayed back
 * as the reply, so replay learns of success only once the alerts are stored.
 * A payload that is not a CloudEventBatch is answered Ack REJECTED; while the
 * journal is full the request waits for room; one cut short by a stop gets no
 * reply (it stays journaled and the next run sends it; the sender's REQ may
 * resend it too — duplicates are stored once).
 *
 * Threads: the bus's worker threads run the handler. */
#ifndef TFDRIFT_INGEST_SUBMIT_H
#define TFDRIFT_INGEST_SUBMIT_H

#include "handoff.h"
#include "tfdrift/error.h"

typedef struct submit_server submit_server;

/* *out owned by the caller (submit_stop).  h must outlive the server. */
int submit_start(submit_server **out, const char *url, int workers, hand *h, td_error *err);
/* Stops taking requests, waits for those in progress, frees s.  NULL is ignored. */
void submit_stop(submit_server *s);

#endif
