/* submit.h — the REP server where `tfdrift-ingest replay` hands in events.
 *
 * Listens on ingest.submit_listen with ingest.in_flight workers.  Each request
 * is a CloudEventBatch; it is forwarded as is (same trace id) through the
 * forwarder and the correlator's Ack is relayed back as the reply, so replay
 * learns of success only once the alerts are stored.  A payload that is not a
 * CloudEventBatch is answered Ack REJECTED; a forward that bus.request_timeout
 * cut short is answered Ack RETRY; one cut short by a stop gets no reply (the
 * sender's REQ resends it once this ingest is gone).
 *
 * Threads: the bus's worker threads run the handler. */
#ifndef TFDRIFT_INGEST_SUBMIT_H
#define TFDRIFT_INGEST_SUBMIT_H

#include "forwarder.h"
#include "tfdrift/error.h"

typedef struct submit_server submit_server;

/* *out owned by the caller (submit_stop).  f must outlive the server. */
int submit_start(submit_server **out, const char *url, int workers, fwd *f, td_error *err);
/* Stops taking requests, waits for those in progress, frees s.  NULL is ignored. */
void submit_stop(submit_server *s);

#endif
