/* server.h — the REST API's HTTP server (libmicrohttpd).
 *
 * Listens on bind:port with a pool of `threads` MHD threads, hands each
 * request to gw_api_serve (or the live feed's paths to gw_live_serve) and
 * writes its JSON back with Cache-Control no-store, security headers
 * (nosniff, DENY framing, no referrer, a CSP allowing nothing) and, for an
 * allowed Origin, CORS headers; OPTIONS preflights get 204.  Bodies larger
 * than max_body get 413; idle connections are closed after timeout_s.
 *
 * With a web root (static.h), GET/HEAD of any path outside /api and
 * /openapi.json is a static file, without a token; other methods there get
 * 405.  Static answers carry a CSP that lets the UI load its own scripts,
 * styles and images and talk to this origin (REST and the WebSocket).
 *
 * Metrics: tfdrift_gateway_requests_total{route,code} and
 * tfdrift_gateway_request_seconds{route}, route being the matched pattern
 * ("/api/v1/drifts/{id}") or "unmatched". */
#ifndef TFDRIFT_GW_SERVER_H
#define TFDRIFT_GW_SERVER_H

#include <stddef.h>

#include "api.h"
#include "live.h"
#include "static.h"
#include "tfdrift/error.h"

typedef struct gw_server gw_server;

typedef struct gw_server_opts {
	const char *bind;
	int port; /* 0 picks a free port */
	int threads;
	size_t max_body;                 /* larger bodies get 413 */
	int timeout_s;                   /* idle connections are closed after this */
	int max_connections;             /* at once, all clients */
	int max_connections_per_ip;      /* at once from one address; 0: no limit */
	const char *const *cors_origins; /* exact origins or "*" */
	size_t ncors;
	gw_api *api;    /* borrowed; must outlive the server */
	gw_live *live;  /* borrowed; NULL: no live feed */
	gw_static *web; /* borrowed; NULL: no web UI (non-API paths are 404) */
} gw_server_opts;

/* *out owned by caller. */
int gw_server_start(gw_server **out, const gw_server_opts *opts, td_error *err);
/* The port actually listened on. */
int gw_server_port(const gw_server *s);
/* Stops accepting, finishes requests in progress, frees s.  NULL is ignored. */
void gw_server_stop(gw_server *s);

#endif
