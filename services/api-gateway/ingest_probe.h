/* ingest_probe.h — what GET /api/v1/health asks ingest: the time of its
 * newest event, read from ingest's /metrics over HTTP (libcurl, 1 s timeout,
 * at most 1 MiB).
 *
 * Threads: no state; any number of callers. */
#ifndef TFDRIFT_GW_INGEST_PROBE_H
#define TFDRIFT_GW_INGEST_PROBE_H

#include <stddef.h>

/* ingest's newest event time (Unix seconds; 0 before the first), from its
 * /metrics at url.  TD_EDEPEND with why filled when it cannot be read. */
int gw_ingest_last_event(const char *url, double *secs, char *why, size_t whylen);

#endif
