/* router.c — see router.h. */
#include "router.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Matches path against pattern segment by segment, capturing {name}s. */
static bool
path_matches(const char *pattern, const char *path, gw_match *m)
{
	size_t ncap = 0;
	const char *p = pattern, *s = path;
	if (*p != '/' || *s != '/') {
		return false;
	}
	while (*p == '/' && *s == '/') {
		p++;
		s++;
		size_t plen = strcspn(p, "/");
		size_t slen = strcspn(s, "/");
		if (slen == 0) {
			return false; /* empty segment or trailing slash */
		}
		if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
			if (ncap == GW_ROUTER_MAX_CAPTURES || slen >= GW_ROUTER_MAX_SEGMENT) {
				return false;
			}
			memcpy(m->captures[ncap], s, slen);
			m->captures[ncap][slen] = '\0';
			ncap++;
		} else if (plen != slen || memcmp(p, s, plen) != 0) {
			return false;
		}
		p += plen;
		s += slen;
	}
	if (*p != '\0' || *s != '\0') {
		return false;
	}
	m->ncaptures = ncap;
	return true;
}

int
gw_router_match(const gw_route *routes, size_t n, const char *method, const char *path, gw_match *m)
{
	bool path_known = false;
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < n; i++) {
		gw_match tmp;
		memset(&tmp, 0, sizeof(tmp));
		if (!path_matches(routes[i].pattern, path, &tmp)) {
			continue;
		}
		if (strcmp(routes[i].method, method) == 0) {
			*m = tmp;
			m->route = &routes[i];
			return GW_ROUTE_FOUND;
		}
		/* Remember the method for the Allow header, once each. */
		if (strstr(m->allow, routes[i].method) == NULL) {
			size_t len = strlen(m->allow);
			snprintf(m->allow + len, sizeof(m->allow) - len, "%s%s", len ? ", " : "",
			    routes[i].method);
		}
		path_known = true;
	}
	return path_known ? GW_ROUTE_BAD_METHOD : GW_ROUTE_NOT_FOUND;
}
