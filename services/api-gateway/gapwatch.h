/* gapwatch.h — notices alerts the live feed missed when no later alert
 * reveals the gap (gap.h): every interval it reads the newest id in the
 * alerts table (one index lookup) and hands it to the live feed, and it
 * tells the live feed when the link to persistence comes back after it was
 * lost.  Either way the live clients are told to catch up, so a UI left open
 * for days stays complete even when no new alert comes.
 *
 * A link that drops and comes back within one interval is not seen as such;
 * the table check finds what was committed meanwhile one interval later.
 *
 * Threads: one thread of its own; the pool, feed and live feed are shared
 * (each is thread-safe) and must outlive it. */
#ifndef TFDRIFT_GW_GAPWATCH_H
#define TFDRIFT_GW_GAPWATCH_H

#include <stdint.h>

#include "cache.h"
#include "feed.h"
#include "live.h"
#include "tfdrift/error.h"
#include "tfdrift/pgpool.h"

typedef struct gw_gapwatch gw_gapwatch;

typedef struct gw_gapwatch_opts {
	td_pgpool *pool; /* borrowed */
	gw_feed *feed;   /* borrowed */
	gw_live *live;   /* borrowed */
	/* borrowed; NULL: no response cache.  Emptied when the newest committed
	 * id moved or the link came back, before clients are told to catch up */
	gw_cache *cache;
	int64_t interval_ms; /* between checks; the first runs at once */
} gw_gapwatch_opts;

/* Starts the thread.  *out owned by caller (gw_gapwatch_stop). */
int gw_gapwatch_start(gw_gapwatch **out, const gw_gapwatch_opts *o, td_error *err);

/* Stops the thread and frees w.  NULL is ignored. */
void gw_gapwatch_stop(gw_gapwatch *w);

#endif
