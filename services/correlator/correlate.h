/* correlate.h — the correlator's work handler: CloudEventBatch in, Ack out.
 *
 * For each request from ingest:
 *   1. decode the CloudEventBatch (a payload that does not decode is answered
 *      Ack REJECTED: resending it cannot help);
 *   2. of the candidates (rule_prefilter: not read-only, failed, Terraform's
 *      or unmapped), drop eventIDs already stored (Redis ev:<id> = done;
 *      repeats inside the batch too), claim the others (SET NX,
 *      CORR_CLAIM_TTL_MS; redis_index.h).  An event another replica finished
 *      meanwhile is a duplicate; one another replica is working on leaves
 *      the whole batch to it: claims released, no reply, ingest resends it
 *      later (tfdrift_correlator_batches_claimed_elsewhere_total).  Then run
 *      the rules (rule.h) on every event with a Redis connection of the pool;
 *      Redis unreachable or no resource index yet -> no reply (TD_EAGAIN), so
 *      ingest's REQ hands the batch out again later;
 *   3. send the alerts as one AlertBatch to persistence and wait up to
 *      CORR_PERSIST_WAIT_MS (or bus.request_timeout when shorter) for its Ack;
 *   4. reply Ack OK (accepted = events, produced = alerts) only after
 *      persistence answered OK.  Persistence RETRY, timeout or closing -> no
 *      reply (resend); persistence REJECTED -> Ack REJECTED with its reason.
 *      A batch whose events were all skipped is answered OK at once.  Only
 *      then are its eventIDs marked done (CORR_DONE_TTL_S); a batch handed
 *      back after its claims were taken releases them.
 *
 * Metrics: tfdrift_correlator_events_total,
 * tfdrift_correlator_events_skipped_total{reason}, tfdrift_correlator_alerts_total{kind},
 * tfdrift_correlator_request_seconds, tfdrift_correlator_batches_rejected_total,
 * tfdrift_correlator_batches_claimed_elsewhere_total,
 * tfdrift_correlator_ignored_total{rule} (rcfg.c),
 * tfdrift_correlator_alerts_precise_total,
 * tfdrift_correlator_alerts_coarse_total{entry,event} (MODIFIED alerts on managed
 * resources, by the catalog entry "file:line" that produced them),
 * tfdrift_correlator_extractor_misses_total{event} (the entry names attributes,
 * the event carried none in a form it knows); these three per evaluation.
 *
 * Threads: corr_handle runs on the bus's worker threads, any number at once. */
#ifndef TFDRIFT_CORRELATOR_CORRELATE_H
#define TFDRIFT_CORRELATOR_CORRELATE_H

#include "redis_index.h"
#include "rule.h"
#include "tfdrift/bus.h"
#include "tfdrift/error.h"

/* Below ingest's FWD_ROUND_MS (3 s), so this replica gives up on a stuck
 * persistence before ingest hands the batch out again. */
#define CORR_PERSIST_WAIT_MS 2500
#define CORR_CLAIM_TTL_MS 30000
/* The default of correlator.dedupe_window: CloudTrail repeats eventIDs
 * within hours; a day covers replays of a day's files too. */
#define CORR_DONE_TTL_S 86400

typedef struct corr corr;

/* index and persist are borrowed and must outlive c.  request_timeout_ms:
 * bus.request_timeout (0: none beyond CORR_PERSIST_WAIT_MS).  *out owned by
 * the caller (corr_free). */
int corr_new(corr **out, ridx *index, td_bus_req *persist, const rule_env *env,
    int request_timeout_ms, td_error *err);
void corr_free(corr *c);

/* How long an event stays marked done (correlator.dedupe_window, seconds;
 * CORR_DONE_TTL_S until set).  Call before the first request. */
void corr_set_dedupe_window(corr *c, int seconds);

/* A td_bus_handler; arg is the corr. */
int corr_handle(void *arg, const td_envelope *req, td_bus_reply *reply);

/* New requests are handed back at once (TD_ECLOSED).  Safe in a stop hook. */
void corr_request_stop(corr *c);

#endif
