/* planner.h — committed alerts and status changes into deliveries.
 *
 * PostgreSQL is the source: the planner reads alerts (and
 * alert_status_history rows) after its cursor, routes each one
 * (routing.h), checks the active silences, and inserts one notifications
 * row per (alert, receiver) — or per (status change, receiver) for receivers
 * that edit or resolve what they sent — with ON CONFLICT DO NOTHING, so
 * replicas and rescans never plan twice.  The committed-alerts messages from
 * persistence only wake it early; a scan also runs every poll_interval, so
 * alerts committed while the notifier was down, or published while a
 * pub/sub link was reconnecting, are planned all the same.
 *
 * The cursor: alerts.id values are taken before their transactions commit,
 * so a smaller id can become visible after a larger one.  Each scan notes
 * its snapshot's xmax; ids up to a scan's largest are final once every
 * transaction that was running then has ended (the current snapshot's xmin
 * reached that xmax) and a second has passed.  Only then does the cursor
 * (notifier_cursors, shared by replicas, GREATEST wins) move; the ids
 * between are read again (ids only) and those not planned yet (kept in a
 * sorted array) are planned.
 *
 * Threads: one planner thread; planner_wake may be called from any thread
 * (the bus subscriber's) and only signals. */
#ifndef TFDRIFT_NOTIFIER_PLANNER_H
#define TFDRIFT_NOTIFIER_PLANNER_H

#include <stdint.h>

#include "routing.h"
#include "tfdrift/error.h"
#include "tfdrift/pgpool.h"

typedef struct planner planner;

typedef struct planner_opts {
	td_pgpool *pool;     /* borrowed */
	const rt_config *rt; /* borrowed */
	int64_t poll_ms;
	int batch;                  /* alerts per scan */
	void (*planned)(void *arg); /* called after a scan inserted rows (wakes delivery) */
	void *arg;
} planner_opts;

/* Starts the thread.  *out owned by the caller (planner_stop). */
int planner_start(planner **out, const planner_opts *o, td_error *err);
void planner_wake(planner *p);
/* True once a scan has reached the cursor's end since start (catch-up done). */
bool planner_caught_up(planner *p);
void planner_stop(planner *p);

#endif
