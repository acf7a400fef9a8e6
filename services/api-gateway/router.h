/* router.h — maps (method, path) to a handler through a table of routes.
 *
 * A pattern is a path whose segments are literal or a capture written {name}
 * ("/api/v1/drifts/{id}").  A capture matches one non-empty segment.  Trailing
 * slashes and empty segments never match.  Pure logic; no I/O. */
#ifndef TFDRIFT_GW_ROUTER_H
#define TFDRIFT_GW_ROUTER_H

#include <stddef.h>

#define GW_ROUTER_MAX_CAPTURES 4
#define GW_ROUTER_MAX_SEGMENT 256

typedef struct gw_route {
	const char *method;  /* "GET" */
	const char *pattern; /* "/api/v1/drifts/{id}"; also the metrics label */
	int handler;         /* the caller's handler index */
} gw_route;

typedef struct gw_match {
	const gw_route *route; /* NULL unless found */
	size_t ncaptures;
	char captures[GW_ROUTER_MAX_CAPTURES][GW_ROUTER_MAX_SEGMENT];
	char allow[64]; /* for 405: the methods the path does accept, "GET, POST" */
} gw_match;

enum {
	GW_ROUTE_FOUND = 0,
	GW_ROUTE_NOT_FOUND = 404,
	GW_ROUTE_BAD_METHOD = 405,
};

/* Finds the route for method and path (no query string) in routes[0..n).
 * Returns GW_ROUTE_FOUND with *m filled, GW_ROUTE_BAD_METHOD when some route
 * has that path but not that method (m->allow lists the methods), or
 * GW_ROUTE_NOT_FOUND. */
int gw_router_match(const gw_route *routes, size_t n, const char *method, const char *path,
    gw_match *m);

#endif
