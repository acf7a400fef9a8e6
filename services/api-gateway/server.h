/* server.h — the REST API's HTTP server (libmicrohttpd).
 *
 * Listens on bind:port with a pool of `threads` MHD threads, hands each
 * request to gw_api_serve and writes its JSON back (Content-Type
 * application/json, Cache-Control no-store).  Request bodies are read and
 * ignored (no route takes one yet).
 *
 * Metrics: tfdrift_gateway_requests_total{route,code} and
 * tfdrift_gateway_request_seconds{route}, route being the matched pattern
 * ("/api/v1/drifts/{id}") or "unmatched". */
#ifndef TFDRIFT_GW_SERVER_H
#define TFDRIFT_GW_SERVER_H

#include "api.h"
#include "tfdrift/error.h"

typedef struct gw_server gw_server;

/* api is borrowed and must outlive the server.  port 0 picks a free port.
 * *out owned by caller. */
int gw_server_start(gw_server **out, const char *bind_addr, int port, int threads, gw_api *api,
    td_error *err);
/* The port actually listened on. */
int gw_server_port(const gw_server *s);
/* Stops accepting, finishes requests in progress, frees s.  NULL is ignored. */
void gw_server_stop(gw_server *s);

#endif
