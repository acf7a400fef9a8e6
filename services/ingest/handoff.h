/* handoff.h — accept = journaled; then forwarded to the correlators with many
 * requests in flight; released from the journal on the correlator's Ack OK.
 *
 * Every input of ingest hands its encoded CloudEventBatch to hand_submit.  The
 * batch is appended to the journal (journal.h) and queued; `workers` threads
 * take entries from the queue, read them back from the journal and forward
 * them (forwarder.h).  On Ack OK the entry is released.  On Ack REJECTED the
 * batch can never succeed: it is logged, counted and released.  On Ack RETRY
 * or a timeout it is queued again after a short pause.  On a stop it stays in
 * the journal and is sent again by the next run (at-least-once).
 *
 * Entries found in the journal at start are queued first.
 *
 * Back-pressure: hand_submit returns TD_EBUSY while the journal is full;
 * hand_wait_space lets a blocking input wait for room instead.
 *
 * A caller that must learn the correlator's answer (the submit server relays
 * it to `replay`) passes a hand_waiter and calls hand_wait.
 *
 * Metrics: tfdrift_ingest_handoff_queued (entries waiting for a worker),
 * tfdrift_ingest_handoff_rejected_total, tfdrift_ingest_handoff_retries_total.
 *
 * Threads: hand_submit / hand_wait / hand_wait_space from any thread;
 * hand_request_stop from a stop hook; hand_close from the main thread after
 * every input has stopped. */
#ifndef TFDRIFT_INGEST_HANDOFF_H
#define TFDRIFT_INGEST_HANDOFF_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "forwarder.h"
#include "journal.h"
#include "tfdrift/error.h"

typedef struct hand hand;

/* The correlator's answer for one submitted batch.  Owned by the submitter
 * (usually on its stack); valid until hand_wait returned. */
typedef struct hand_waiter {
	bool done;
	int rv;     /* 0, TD_ECLOSED (stopping: the entry stays journaled) */
	int status; /* Ack status when rv == 0 */
	uint32_t accepted, duplicates, produced;
	char error[256];
} hand_waiter;

/* j and f must outlive h; h does not own them.  *out owned by the caller
 * (hand_close).  Queued entries nobody waits for are forwarded together, up to
 * batch_max entries per request (ingest.batch_max). */
int hand_open(hand **out, jrn *j, fwd *f, int workers, int batch_max, td_error *err);

/* Journals payload (an encoded CloudEventBatch; copied) and queues it.
 * trace_id may be NULL.  w, if not NULL, is filled when the entry is
 * answered; the caller must then call hand_wait(h, w).  TD_EBUSY: journal
 * full; TD_ECLOSED: stopping; TD_ETOOBIG, TD_EIO from the journal. */
int hand_submit(hand *h, const uint8_t *payload, size_t len, const char *trace_id, hand_waiter *w);

/* Waits until w is answered or a stop is requested (w->rv TD_ECLOSED). */
void hand_wait(hand *h, hand_waiter *w);

/* Waits up to timeout_ms for a release to free journal space.  0 when some
 * entry was released (try again), TD_ETIMEDOUT, or TD_ECLOSED when stopping. */
int hand_wait_space(hand *h, int timeout_ms);

/* Makes workers finish their current forward and waiters return. */
void hand_request_stop(hand *h);

/* Stops the workers and frees h (journal entries stay on disk).  NULL ignored. */
void hand_close(hand *h);

#endif
