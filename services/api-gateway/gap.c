/* gap.c — see gap.h. */
#include "gap.h"

bool
gw_gap_observe(gw_gap *g, uint64_t id, uint64_t *after)
{
	bool gap = g->newest != 0 && id > g->newest + 1;
	if (gap) {
		*after = g->newest;
		g->gaps++;
	}
	if (id > g->newest) {
		g->newest = id;
	}
	return gap;
}
