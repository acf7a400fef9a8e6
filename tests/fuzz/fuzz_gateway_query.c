/* fuzz_gateway_query.c — what an API client puts in a URL: the path through
 * the gateway's router (services/api-gateway/router.c) and the query string
 * through the /api/v1/drifts parameters (query.c: filters, limit, sort, time
 * ranges, globs, the cursor) and the live feed's filter parameters
 * (livefilter.c).
 *
 * Input: the path, a newline, then the query string "k=v&k2=v2" decoded as
 * libmicrohttpd does (%XX and +) before the gateway sees it. */
#include <stdio.h>

#include "../../services/api-gateway/livefilter.h"
#include "../../services/api-gateway/query.h"
#include "../../services/api-gateway/router.h"
#include "fuzz.h"
#include "tfdrift/error.h"
#include "tfdrift/log.h"

/* The gateway's route shapes (api.c's table). */
static const gw_route routes[] = {
	{ "GET", "/api/v1/drifts", 1 },
	{ "GET", "/api/v1/drifts/{id}", 2 },
	{ "PATCH", "/api/v1/drifts/{id}", 3 },
	{ "GET", "/api/v1/drifts/{id}/explain", 4 },
	{ "GET", "/api/v1/resources/{address}/graph", 5 },
	{ "GET", "/api/v1/workspaces/{ws}/resources/{address}", 6 },
	{ "GET", "/api/v1/stats", 7 },
	{ "POST", "/api/v1/notify/{receiver}/test", 8 },
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	td_log_set_level(TD_LOG_OFF);
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

/* Decodes s in place the way libmicrohttpd does (%XX, + as space); a %00
 * ends the string, as it does for a C string handed to the gateway. */
static void
unescape(char *s)
{
	char *w = s;
	for (const char *r = s; *r != '\0'; r++) {
		if (*r == '+') {
			*w++ = ' ';
		} else if (*r == '%' && hexval(r[1]) >= 0 && hexval(r[2]) >= 0) {
			*w++ = (char)(hexval(r[1]) * 16 + hexval(r[2]));
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

static void
check_query(const gw_kv *kv, size_t n)
{
	gw_query q;
	td_error err = { 0 };
	if (gw_query_build(kv, n, &q, &err) == 0) {
		if (q.where == NULL || q.nparams < 1 || q.nparams > GW_QUERY_MAX_PARAMS ||
		    q.limit < 1 || q.limit > GW_LIMIT_MAX) {
			abort();
		}
		/* every $n the SQL names has a value */
		for (const char *p = strchr(q.where, '$'); p != NULL; p = strchr(p + 1, '$')) {
			long i = strtol(p + 1, NULL, 10);
			if (i < 1 || i > q.nparams || q.values[i - 1] == NULL) {
				abort();
			}
		}
	} else {
		char param[64];
		if (err.msg[0] == '\0') {
			abort();
		}
		gw_query_error_param(err.msg, param, sizeof(param));
	}
	gw_query_free(&q);

	gw_filter f = { 0 };
	for (size_t i = 0; i < n; i++) {
		char why[160] = "";
		if (kv[i].value != NULL &&
		    gw_filter_set(&f, kv[i].key, kv[i].value, why, sizeof(why)) != 0 &&
		    why[0] == '\0') {
			abort();
		}
		int64_t id;
		if (kv[i].value != NULL && gw_cursor_decode(kv[i].value, &id) == 0) {
			/* a cursor that decodes is one gw_cursor_encode wrote */
			char again[64];
			if (gw_cursor_encode(id, again, sizeof(again)) != 0 ||
			    strcmp(again, kv[i].value) != 0) {
				abort();
			}
		}
		(void)gw_severity_rank(kv[i].value != NULL ? kv[i].value : "");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strdup(data, size);
	if (s == NULL) {
		return 0;
	}
	char *qs = strchr(s, '\n');
	if (qs != NULL) {
		*qs++ = '\0';
	}
	gw_match m;
	(void)gw_router_match(routes, sizeof(routes) / sizeof(routes[0]), "GET", s, &m);
	(void)gw_router_match(routes, sizeof(routes) / sizeof(routes[0]), "PATCH", s, &m);

	gw_kv kv[GW_QUERY_MAX_PARAMS * 2];
	size_t n = 0;
	for (char *save = NULL, *tok = qs != NULL ? strtok_r(qs, "&", &save) : NULL;
	     tok != NULL && n < sizeof(kv) / sizeof(kv[0]); tok = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(tok, '=');
		if (eq != NULL) {
			*eq++ = '\0';
			unescape(eq);
		}
		unescape(tok);
		kv[n].key = tok;
		kv[n].value = eq;
		n++;
	}
	check_query(kv, n);
	free(s);
	return 0;
}
