/* api.h — the REST API's routes and handlers (JSON over PostgreSQL and Redis).
 *
 *   GET   /api/v1/drifts              filtered, keyset-paginated list (query.h)
 *                                     {"items":[...],"next_cursor":"..."|null}
 *   GET   /api/v1/drifts/{id}         one alert with identifiers, changes, fix,
 *                                     raw event and status history; 404 if absent
 *   PATCH /api/v1/drifts/{id}         {"status":"acknowledged","note":"..."}:
 *                                     a status change (operator), recorded in
 *                                     alert_status_history with the caller's name
 *   GET   /api/v1/stats               counts by severity, kind, status, service,
 *                                     workspace, and per day over since..until
 *   GET   /api/v1/workspaces          the state sources (Redis `workspaces`)
 *   GET   /api/v1/resources/{address} redacted attributes (Redis) and drift
 *                                     history (PostgreSQL)
 *   GET   /api/v1/graph               Cytoscape elements, paged (graph.h)
 *   GET   /api/v1/health              dependencies and pipeline age, always 200
 *   GET   /openapi.json, /api/v1/openapi.json   the contract; no token needed
 *
 * Every /api/v1 route needs a token (auth.h) unless auth is off: viewer for
 * reads, operator for PATCH.  Errors are {"error":{"code":"...","message":
 * "...","parameter":"..."}}: invalid_parameter (400, names the parameter),
 * bad_request (400), unauthorized (401, with WWW-Authenticate), forbidden
 * (403), not_found (404), method_not_allowed (405, with Allow), conflict
 * (409: a transition the alert's status does not allow), payload_too_large
 * (413), unavailable (503), internal (500).
 *
 * Threads: gw_api_serve may run on any number of threads at once. */
#ifndef TFDRIFT_GW_API_H
#define TFDRIFT_GW_API_H

#include <stddef.h>

#include "tfdrift/pgpool.h"
#include "auth.h"
#include "cache.h"
#include "feed.h"
#include "graph.h"
#include "query.h"

typedef struct gw_api gw_api;

typedef struct gw_request {
	const char *method;
	const char *path; /* decoded, no query string */
	const gw_kv *args;
	size_t nargs;
	const char *body; /* NUL-terminated; NULL when none */
	size_t body_len;
	const char *authorization; /* the header, or NULL */
} gw_request;

typedef struct gw_response {
	unsigned status;
	char *body;        /* malloc'd; the caller frees it */
	const char *ctype; /* NULL: application/json */
	bool body_static;  /* body points at static data: do not free */
	char allow[64];    /* for 405 */
	bool www_auth;     /* 401: add WWW-Authenticate */
	const char *route; /* the matched pattern, or "unmatched": a metrics label */
	gw_identity who;   /* the caller, once authenticated */
	const char *cache; /* "hit"/"miss" for a cacheable route with the cache on (X-Cache) */
} gw_response;

typedef struct gw_api_opts {
	td_pgpool *pool;     /* borrowed */
	gw_feed *feed;       /* borrowed; may be NULL */
	const gw_auth *auth; /* borrowed */
	gw_graph *graph;     /* borrowed; may be NULL (no Redis reads) */
	int db_wait_ms;
	const char *ingest_metrics_url; /* "" or NULL: pipeline age not checked */
	gw_cache *cache;                /* borrowed; NULL: no response cache */
} gw_api_opts;

/* Everything borrowed must outlive the api.  *out owned by caller. */
int gw_api_new(gw_api **out, const gw_api_opts *opts);
void gw_api_free(gw_api *api);

/* Answers one request.  Always fills *resp (body NULL only when out of memory). */
void gw_api_serve(gw_api *api, const gw_request *req, gw_response *resp);

/* Authenticates a feed (WebSocket/SSE) request: secret from the bearer
 * header or access_token.  0 with *who filled, or fills *resp with the 401. */
int gw_api_auth_feed(gw_api *api, const gw_request *req, gw_identity *who, gw_response *resp);

/* Writes the standard error body into resp. */
void gw_api_error(gw_response *r, unsigned status, const char *code, const char *message,
    const char *parameter);

#endif
