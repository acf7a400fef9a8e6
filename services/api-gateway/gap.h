/* gap.h — noticing committed alerts the live feed did not receive.
 *
 * Persistence publishes each committed alert once on a PUB socket; a
 * subscriber whose link is re-dialing, or whose queue overflowed, silently
 * misses some.  Alert ids come from one PostgreSQL sequence, so an id more
 * than one above the newest seen means ids in between were skipped.  Not
 * every skipped id is a lost alert (a duplicate that ON CONFLICT dropped, a
 * rolled-back batch, the sequence's cache after a restart also consume
 * ids), so a gap only means "maybe": the live feed then tells its clients
 * to read GET /api/v1/drifts above their newest id, which costs one cached
 * request when nothing was lost.  Ids arriving below the newest (batches
 * committed by concurrent writers) are no gap.
 *
 * A gap that no later alert reveals (the link dropped and nothing was
 * committed since, or it was the last alert for days) is found two other
 * ways (gapwatch.c): the newest id in the alerts table, read every few
 * seconds, is compared with the newest seen (gw_gap_committed), and a link
 * that comes back after it was lost means whatever was published meanwhile
 * was missed (gw_gap_relinked).
 *
 * Plain value logic; the caller serialises calls (live.c holds its mutex). */
#ifndef TFDRIFT_GW_GAP_H
#define TFDRIFT_GW_GAP_H

#include <stdbool.h>
#include <stdint.h>

typedef struct gw_gap {
	uint64_t newest;    /* the highest id seen; 0 before the first */
	uint64_t gaps;      /* gaps reported */
	uint64_t committed; /* the newest committed id at the previous check */
	bool checked;       /* gw_gap_committed was called at least once */
} gw_gap;

/* Records id.  True when ids between the newest seen and id were not seen;
 * *after is then the newest id seen before it (clients catch up above it).
 * The first id ever seen is no gap (what came before is what the clients
 * loaded when they connected). */
bool gw_gap_observe(gw_gap *g, uint64_t id, uint64_t *after);

/* Records that committed is the newest id in the alerts table now.  True
 * when the newest id committed at the previous check (an interval ago, long
 * enough for its publication to arrive) has still not been seen; *after is
 * then the newest seen, and the newest seen moves up to committed (clients
 * read what is above *after once, so the same ids are not reported again).
 * The first check is a baseline: what was committed before it is what the
 * clients loaded when they connected. */
bool gw_gap_committed(gw_gap *g, uint64_t committed, uint64_t *after);

/* The link to the publisher came back after it was lost: what was published
 * meanwhile was missed.  Counts a gap; returns the newest id seen (clients
 * catch up above it). */
uint64_t gw_gap_relinked(gw_gap *g);

#endif
