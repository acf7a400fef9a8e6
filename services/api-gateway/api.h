/* api.h — the REST API's routes and handlers (JSON over PostgreSQL).
 *
 *   GET /api/v1/drifts        filtered, keyset-paginated list (query.h)
 *                             {"items":[...],"next_cursor":"..."|null}
 *   GET /api/v1/drifts/{id}   one alert with identifiers, changes, fix, raw
 *                             event and status history; 404 if absent
 *   GET /api/v1/stats         {"total":N,"by_severity":{...},"by_kind":{...},
 *                             "by_status":{...}} (every value present, 0 if none)
 *   GET /api/v1/health        {"status":"ok|degraded","checks":{"postgres":{...},
 *                             "alerts_feed":{"connected":bool}}}, always 200
 *
 * Errors are {"error":{"code":"...","message":"..."}}: bad_request (400; the
 * message starts with the parameter's name), not_found (404),
 * method_not_allowed (405, with Allow), unavailable (503: the database is
 * unreachable or every connection is busy), internal (500).
 *
 * Threads: gw_api_serve may run on any number of threads at once. */
#ifndef TFDRIFT_GW_API_H
#define TFDRIFT_GW_API_H

#include <stddef.h>

#include "../persistence/pgpool.h"
#include "feed.h"
#include "query.h"

typedef struct gw_api gw_api;

typedef struct gw_response {
	unsigned status;
	char *body;        /* JSON, malloc'd; the caller frees it */
	char allow[64];    /* for 405 */
	const char *route; /* the matched pattern, or "unmatched": a metrics label */
} gw_response;

/* pool and feed are borrowed and must outlive the api (feed may be NULL).
 * *out owned by caller. */
int gw_api_new(gw_api **out, pgpool *pool, gw_feed *feed, int db_wait_ms);
void gw_api_free(gw_api *api);

/* Answers one request.  path has no query string; args are its decoded
 * parameters.  Always fills *resp (body NULL only when out of memory). */
void gw_api_serve(gw_api *api, const char *method, const char *path, const gw_kv *args,
    size_t nargs, gw_response *resp);

#endif
