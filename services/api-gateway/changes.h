/* changes.h — hears of every committed change to the alerts table through
 * PostgreSQL's LISTEN/NOTIFY, so that each gateway replica empties its
 * response cache (cache.h) whoever made the change.
 *
 * Migration 005_change_notify.sql makes each statement that changes alerts
 * send NOTIFY tfdrift_changes in its transaction: a persistence's commit, a
 * PATCH on any gateway, retention's DELETE, a row written by hand.  One
 * thread holds a connection of its own (not the pool's: LISTEN belongs to
 * a session) that LISTENs on the channel and calls on_change for each
 * notification.  When the connection breaks it redials with a backoff
 * (100 ms doubling to 5 s) and calls on_change once LISTEN is in place
 * again: notifications sent while it was away are lost, so anything kept
 * may be stale.
 *
 * Metrics: tfdrift_gateway_changes_listening (1 while LISTEN is in place),
 * tfdrift_gateway_changes_notifications_total, and
 * tfdrift_gateway_changes_reconnects_total.
 *
 * Threads: on_change runs on the listener's own thread. */
#ifndef TFDRIFT_GW_CHANGES_H
#define TFDRIFT_GW_CHANGES_H

#include <stdbool.h>
#include <stdint.h>

#include "tfdrift/error.h"

#define GW_CHANGES_CHANNEL "tfdrift_changes"

typedef struct gw_changes gw_changes;

typedef struct gw_changes_opts {
	const char *dsn;            /* libpq conninfo or URI, as postgres.dsn */
	int64_t connect_timeout_ms; /* rounded up to whole seconds, at least 2 */
	void (*on_change)(void *arg);
	void *arg;
} gw_changes_opts;

/* Starts the listener thread (it dials in the background).  *out owned by
 * caller (gw_changes_stop). */
int gw_changes_start(gw_changes **out, const gw_changes_opts *opts, td_error *err);
/* True while LISTEN is in place. */
bool gw_changes_listening(const gw_changes *c);
/* Stops the thread (waits at most for a dial in progress) and frees c.
 * NULL is ignored. */
void gw_changes_stop(gw_changes *c);

#endif
