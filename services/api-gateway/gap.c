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

bool
gw_gap_committed(gw_gap *g, uint64_t committed, uint64_t *after)
{
	bool gap = false;
	if (!g->checked) {
		g->checked = true;
		if (g->newest == 0) {
			g->newest = committed;
		}
	} else if (g->newest < g->committed) {
		gap = true;
		*after = g->newest;
		g->gaps++;
		g->newest = committed > g->committed ? committed : g->committed;
	}
	g->committed = committed;
	return gap;
}

uint64_t
gw_gap_relinked(gw_gap *g)
{
	g->gaps++;
	return g->newest;
}
