/* delivery.h — the notifications table to the receivers.
 *
 * A dispatcher thread claims due rows (pending with next_attempt_at passed,
 * or sending with an expired lease: a notifier that died mid-send) with
 * FOR UPDATE SKIP LOCKED, so replicas never claim the same row, marks them
 * sending with a lease, and hands them to worker threads.  Rows of one group
 * (same receiver and non-empty group_key) claimed together become one
 * message.  A worker sends, then records the outcome:
 *   sent       state sent, message_id, sent_at
 *   transient  state pending, next_attempt_at = now + backoff (retry_initial
 *              doubling to retry_max, with jitter), or Retry-After if longer;
 *              a 429 also holds the whole receiver back that long
 *   permanent  state failed (4xx other than 408/429, a refused address), or
 *              when max_attempts is used up
 * The webhook-id (and e-mail Message-ID) is "n<first row id>", the PagerDuty
 * dedup_key the resource's (or alert's): the same on every retry, so a
 * delivery repeated after a crash is recognised by the receiver.
 *
 * Slack Web API threads: notifier_threads holds (receiver, resource) ->
 * first message; the worker that inserts the row posts the first message,
 * others wait for it and reply in its thread until thread_window has passed.
 * Status changes wait until the alert's own message is sent, then edit it
 * (Slack), acknowledge/resolve (PagerDuty) or are posted (webhook).
 *
 * Rate limits: a receiver with rate R sends at most R messages per second
 * from this process; a row that finds no token goes back to pending for the
 * wait, without counting an attempt.
 *
 * Metrics per receiver: tfdrift_notifier_deliveries_total{receiver,outcome},
 * tfdrift_notifier_send_seconds{receiver}, tfdrift_notifier_delivered_seconds
 * {receiver} (commit to delivered), tfdrift_notifier_queue_depth{receiver},
 * tfdrift_notifier_oldest_pending_seconds{receiver}.
 *
 * Threads: one dispatcher, `workers` workers; delivery_wake from any thread. */
#ifndef TFDRIFT_NOTIFIER_DELIVERY_H
#define TFDRIFT_NOTIFIER_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#include "routing.h"
#include "tfdrift/error.h"
#include "tfdrift/pgpool.h"

typedef struct delivery delivery;

typedef struct delivery_opts {
	td_pgpool *pool;     /* borrowed */
	const rt_config *rt; /* borrowed */
	int workers;
	int64_t poll_ms, lease_ms, http_timeout_ms, retry_initial_ms, retry_max_ms;
	int max_attempts;
	int failing_after;
	const char *ui_url;   /* copied */
	const char *instance; /* copied */
} delivery_opts;

int delivery_start(delivery **out, const delivery_opts *o, td_error *err);
void delivery_wake(delivery *d);
/* Names of receivers that failed failing_after times in a row, comma
 * separated, into buf; returns how many. */
int delivery_failing(delivery *d, char *buf, size_t len);
/* Stops claiming; gives sends in progress up to grace_ms to finish, then
 * cuts them short; records every outcome and puts claimed rows not yet sent
 * back to pending. */
void delivery_stop(delivery *d, int64_t grace_ms);

#endif
