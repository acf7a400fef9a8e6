/* test_gateway_router.c — route matching (services/api-gateway/router.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/api-gateway/router.h"

static const gw_route routes[] = {
	{ "GET", "/api/v1/drifts", 0 },
	{ "GET", "/api/v1/drifts/{id}", 1 },
	{ "PATCH", "/api/v1/drifts/{id}", 2 },
	{ "GET", "/api/v1/stats", 3 },
	{ "GET", "/api/v1/a/{x}/b/{y}", 4 },
};
#define N (sizeof(routes) / sizeof(routes[0]))

static void
test_literal(void **state)
{
	(void)state;
	gw_match m;
	assert_int_equal(gw_router_match(routes, N, "GET", "/api/v1/drifts", &m), GW_ROUTE_FOUND);
	assert_int_equal(m.route->handler, 0);
	assert_int_equal(m.ncaptures, 0);
	assert_int_equal(gw_router_match(routes, N, "GET", "/api/v1/stats", &m), GW_ROUTE_FOUND);
	assert_string_equal(m.route->pattern, "/api/v1/stats");
}

static void
test_captures(void **state)
{
	(void)state;
	gw_match m;
	assert_int_equal(gw_router_match(routes, N, "GET", "/api/v1/drifts/42", &m),
	    GW_ROUTE_FOUND);
	assert_int_equal(m.route->handler, 1);
	assert_int_equal(m.ncaptures, 1);
	assert_string_equal(m.captures[0], "42");
	/* Same path, other method: the other route. */
	assert_int_equal(gw_router_match(routes, N, "PATCH", "/api/v1/drifts/abc", &m),
	    GW_ROUTE_FOUND);
	assert_int_equal(m.route->handler, 2);
	assert_string_equal(m.captures[0], "abc");
	assert_int_equal(gw_router_match(routes, N, "GET", "/api/v1/a/one/b/two", &m),
	    GW_ROUTE_FOUND);
	assert_int_equal(m.ncaptures, 2);
	assert_string_equal(m.captures[0], "one");
	assert_string_equal(m.captures[1], "two");
}

static void
test_not_found(void **state)
{
	(void)state;
	gw_match m;
	static const char *const paths[] = {
		"/api/v1/drifts/",    /* trailing slash */
		"/api/v1/drifts//",   /* empty capture */
		"/api/v1/drifts/1/2", /* too deep */
		"/api/v1/drift",      /* prefix */
		"/api/v1/driftsX",    /* longer literal */
		"/api/v1",            /* shorter */
		"/",                  /* root */
		"",                   /* nothing */
		"api/v1/drifts",      /* relative */
		"/api/v1//drifts",    /* empty segment */
		"/api/v1/a/one/b",    /* missing capture */
	};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (gw_router_match(routes, N, "GET", paths[i], &m) != GW_ROUTE_NOT_FOUND) {
			fail_msg("'%s' should not match", paths[i]);
		}
		assert_null(m.route);
	}
}

static void
test_method_not_allowed(void **state)
{
	(void)state;
	gw_match m;
	assert_int_equal(gw_router_match(routes, N, "POST", "/api/v1/drifts", &m),
	    GW_ROUTE_BAD_METHOD);
	assert_null(m.route);
	assert_string_equal(m.allow, "GET");
	assert_int_equal(gw_router_match(routes, N, "DELETE", "/api/v1/drifts/7", &m),
	    GW_ROUTE_BAD_METHOD);
	assert_string_equal(m.allow, "GET, PATCH");
}

static void
test_long_segment(void **state)
{
	(void)state;
	gw_match m;
	char path[600] = "/api/v1/drifts/";
	size_t len = strlen(path);
	memset(path + len, '9', GW_ROUTER_MAX_SEGMENT);
	path[len + GW_ROUTER_MAX_SEGMENT] = '\0';
	/* A capture that does not fit is not a match rather than a truncation. */
	assert_int_equal(gw_router_match(routes, N, "GET", path, &m), GW_ROUTE_NOT_FOUND);
	path[len + GW_ROUTER_MAX_SEGMENT - 1] = '\0';
	assert_int_equal(gw_router_match(routes, N, "GET", path, &m), GW_ROUTE_FOUND);
	assert_int_equal(strlen(m.captures[0]), GW_ROUTER_MAX_SEGMENT - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal),
		cmocka_unit_test(test_captures),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_method_not_allowed),
		cmocka_unit_test(test_long_segment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
