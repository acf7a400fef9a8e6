/* livefilter.h — a live-feed client's filter (live.h): set from the query
 * parameters of /api/v1/ws and /api/v1/stream, or from a WebSocket client's
 * {"type":"filter",...} message, and matched against each alert.
 *
 * Pure logic (no I/O), so the fuzz harness (tests/fuzz/fuzz_ws_frames.c)
 * reaches what a WebSocket client sends. */
#ifndef TFDRIFT_GW_LIVEFILTER_H
#define TFDRIFT_GW_LIVEFILTER_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* Longest workspace a filter holds, NUL included. */
#define GW_FILTER_WS_MAX 256
/* Longest client message read (larger ones are refused by wslay). */
#define GW_CLIENT_MSG_MAX 4096

typedef struct gw_filter {
	int min_rank;                     /* 0: any */
	unsigned kinds;                   /* bit per td_kind_names index; 0: any */
	char workspace[GW_FILTER_WS_MAX]; /* "": any */
} gw_filter;

/* True when an alert of this severity rank, kind index (td_kind_names; -1
 * unknown) and workspace passes f. */
bool gw_filter_matches(const gw_filter *f, int rank, int kind_idx, const char *workspace);

/* Sets one field from text (min_severity, workspace, kinds as a comma list;
 * access_token is ignored).  TD_EINVAL with why naming the field. */
int gw_filter_set(gw_filter *f, const char *key, const char *v, char *why, size_t whylen);

/* {"min_severity":...,"workspace":...,"kinds":[...]}; owned by the caller
 * (cJSON_Delete); NULL when out of memory. */
cJSON *gw_filter_json(const gw_filter *f);

/* A WebSocket client's text message (len bytes, need not be NUL-terminated)
 * to a new filter in *f.  0, or TD_EINVAL with why (never empty) saying what
 * is wrong; *f is then zeroed. */
int gw_filter_from_client_msg(const char *msg, size_t len, gw_filter *f, char *why, size_t whylen);

#endif
