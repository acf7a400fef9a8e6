/* test_gateway_query.c — /api/v1/drifts parameters to SQL and the list
 * cursor (services/api-gateway/query.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/api-gateway/query.h"
#include "tfdrift/error.h"

#define KV(k, v)         \
	{                \
		(k), (v) \
	}
#define NARGS(a) (sizeof(a) / sizeof((a)[0]))

static void
test_defaults(void **state)
{
	(void)state;
	gw_query q;
	td_error err = { 0 };
	assert_int_equal(gw_query_build(NULL, 0, &q, &err), 0);
	assert_string_equal(q.where, " ORDER BY id DESC LIMIT $1::integer");
	assert_int_equal(q.nparams, 1);
	assert_string_equal(q.values[0], "51"); /* one more than shown, to know if more exist */
	assert_int_equal(q.limit, GW_LIMIT_DEFAULT);
	gw_query_free(&q);
}

static void
test_every_filter(void **state)
{
	(void)state;
	char cur[64];
	assert_int_equal(gw_cursor_encode(1234, cur, sizeof(cur)), 0);
	const gw_kv a[] = {
		KV("severity", "high,critical"),
		KV("min_severity", "medium"),
		KV("status", "open"),
		KV("kind", "drift,unmanaged"),
		KV("workspace", "prod/app"),
		KV("resource_type", "aws_instance"),
		KV("event_name", "ModifyInstanceAttribute"),
		KV("event_id", "evt-1"),
		KV("since", "2026-11-26T15:04:05Z"),
		KV("until", "2026-11-27T17:04:05+02:00"),
		KV("limit", "10"),
		KV("cursor", cur),
	};
	gw_query q;
	td_error err = { 0 };
	assert_int_equal(gw_query_build(a, NARGS(a), &q, &err), 0);
	assert_string_equal(q.where,
	    " WHERE severity = ANY($1::text[]) AND severity_rank >= $2::smallint"
	    " AND status = ANY($3::text[]) AND kind = ANY($4::text[]) AND workspace = $5"
	    " AND resource_type = $6 AND event_name = $7 AND event_id = $8"
	    " AND event_time >= $9::timestamptz AND event_time < $10::timestamptz"
	    " AND id < $11::bigint ORDER BY id DESC LIMIT $12::integer");
	static const char *const want[] = { "{high,critical}", "3", "{open}", "{drift,unmanaged}",
		"prod/app", "aws_instance", "ModifyInstanceAttribute", "evt-1",
		"2026-11-26T15:04:05.000000000Z", "2026-11-27T15:04:05.000000000Z", "1234", "11" };
	assert_int_equal(q.nparams, 12);
	for (int i = 0; i < q.nparams; i++) {
		assert_string_equal(q.values[i], want[i]);
	}
	assert_int_equal(q.limit, 10);
	gw_query_free(&q);
}

static void
test_values_never_in_sql(void **state)
{
	(void)state;
	const gw_kv a[] = { KV("workspace", "x' OR '1'='1"),
		KV("event_id", "$1; DROP TABLE alerts") };
	gw_query q;
	td_error err = { 0 };
	assert_int_equal(gw_query_build(a, NARGS(a), &q, &err), 0);
	assert_null(strchr(q.where, '\''));
	assert_null(strstr(q.where, "DROP"));
	assert_string_equal(q.values[0], "x' OR '1'='1");
	assert_string_equal(q.values[1], "$1; DROP TABLE alerts");
	gw_query_free(&q);
}

static void
test_text_filters(void **state)
{
	(void)state;
	char cur[64];
	assert_int_equal(gw_cursor_encode(77, cur, sizeof(cur)), 0);
	const gw_kv a[] = {
		KV("cursor", cur),
		KV("service", "ec2"),
		KV("region", "eu-west-1"),
		KV("account", "111122223333"),
		KV("principal", "alice"),
		KV("address", "module.net.aws_*[?]"),
		KV("q", "50%_off\\"),
		KV("sort", "oldest"),
	};
	gw_query q;
	td_error err = { 0 };
	assert_int_equal(gw_query_build(a, NARGS(a), &q, &err), 0);
	assert_string_equal(q.where,
	    " WHERE service = $1 AND region = $2 AND account_id = $3"
	    " AND (principal_name = $4 OR principal_arn = $4) AND resource_address LIKE $5"
	    " AND (resource_address ILIKE $6 OR principal_name ILIKE $6 OR principal_arn ILIKE $6"
	    " OR event_name ILIKE $6) AND id > $7::bigint ORDER BY id ASC LIMIT $8::integer");
	/* glob * and ? become % and _; LIKE's own metacharacters are escaped */
	static const char *const want[] = { "ec2", "eu-west-1", "111122223333", "alice",
		"module.net.aws\\_%[_]", "%50\\%\\_off\\\\%", "77", "51" };
	assert_int_equal(q.nparams, 8);
	for (int i = 0; i < q.nparams; i++) {
		assert_string_equal(q.values[i], want[i]);
	}
	gw_query_free(&q);
}

static void
test_error_param(void **state)
{
	(void)state;
	char p[64];
	gw_query_error_param("limit: must be between 1 and 500", p, sizeof(p));
	assert_string_equal(p, "limit");
	gw_query_error_param("out of memory", p, sizeof(p));
	assert_string_equal(p, "");
	gw_query_error_param("a b: c", p, sizeof(p));
	assert_string_equal(p, "");
}

static void
expect_bad(const char *key, const char *value, const char *msg)
{
	const gw_kv a[] = { KV(key, value) };
	gw_query q;
	td_error err = { 0 };
	assert_int_equal(gw_query_build(a, 1, &q, &err), TD_EINVAL);
	if (strcmp(err.msg, msg) != 0) {
		fail_msg("%s=%s: got \"%s\", want \"%s\"", key, value ? value : "(null)", err.msg,
		    msg);
	}
	gw_query_free(&q);
}

static void
test_bad_parameters(void **state)
{
	(void)state;
	expect_bad("limit", "0", "limit: must be between 1 and 500");
	expect_bad("limit", "501", "limit: must be between 1 and 500");
	expect_bad("limit", "10x", "limit: must be between 1 and 500");
	expect_bad("limit", "-5", "limit: must be between 1 and 500");
	expect_bad("limit", "99999999999999999999", "limit: must be between 1 and 500");
	expect_bad("limit", "", "limit: empty value");
	expect_bad("limit", NULL, "limit: empty value");
	expect_bad("severity", "high,severe",
	    "severity: 'severe' is not one of info, low, medium, high, critical");
	expect_bad("severity", "high,",
	    "severity: '' is not one of info, low, medium, high, critical");
	expect_bad("severity", "HIGH",
	    "severity: 'HIGH' is not one of info, low, medium, high, critical");
	expect_bad("status", "closed",
	    "status: 'closed' is not one of open, acknowledged, resolved, ignored");
	expect_bad("kind", "drifted",
	    "kind: 'drifted' is not one of drift, unmanaged, deleted, modified");
	expect_bad("min_severity", "urgent",
	    "min_severity: 'urgent' is not one of info, low, medium, high, critical");
	expect_bad("since", "yesterday",
	    "since: 'yesterday' is not an RFC 3339 time (e.g. 2026-11-26T15:04:05Z)");
	expect_bad("until", "2026-13-01T00:00:00Z",
	    "until: '2026-13-01T00:00:00Z' is not an RFC 3339 time (e.g. 2026-11-26T15:04:05Z)");
	expect_bad("cursor", "nonsense", "cursor: not a cursor this API returned");
	expect_bad("colour", "x", "colour: unknown parameter");
	expect_bad("sort", "severity", "sort: 'severity' is not one of newest, oldest");
	char big[1100];
	memset(big, 'w', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	expect_bad("workspace", big, "workspace: longer than 1024 bytes");
}

static void
test_repeats_and_ranges(void **state)
{
	(void)state;
	gw_query q;
	td_error err = { 0 };
	const gw_kv twice[] = { KV("severity", "high"), KV("severity", "low") };
	assert_int_equal(gw_query_build(twice, 2, &q, &err), TD_EINVAL);
	assert_string_equal(err.msg, "severity: given more than once (use a comma list)");
	gw_query_free(&q);

	const gw_kv backwards[] = { KV("since", "2026-11-27T00:00:00Z"),
		KV("until", "2026-11-26T00:00:00Z") };
	assert_int_equal(gw_query_build(backwards, 2, &q, &err), TD_EINVAL);
	assert_string_equal(err.msg, "until: must be later than since");
	gw_query_free(&q);

	const gw_kv edge[] = { KV("limit", "500") };
	assert_int_equal(gw_query_build(edge, 1, &q, &err), 0);
	assert_int_equal(q.limit, 500);
	assert_string_equal(q.values[0], "501");
	gw_query_free(&q);
}

static void
test_cursor(void **state)
{
	(void)state;
	static const int64_t ids[] = { 1, 9, 10, 645, 123456789, INT64_MAX };
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		char c[64];
		int64_t back = 0;
		assert_int_equal(gw_cursor_encode(ids[i], c, sizeof(c)), 0);
		/* URL-safe: no +, / or = to escape. */
		assert_int_equal(
		    strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
		    strlen(c));
		assert_int_equal(gw_cursor_decode(c, &back), 0);
		assert_int_equal(back, ids[i]);
	}
	char c[64];
	assert_int_equal(gw_cursor_encode(645, c, sizeof(c)), 0);
	assert_string_equal(c, "djE6NjQ1"); /* base64url("v1:645") */
	assert_int_equal(gw_cursor_encode(0, c, sizeof(c)), TD_EINVAL);
	assert_int_equal(gw_cursor_encode(-3, c, sizeof(c)), TD_EINVAL);
	assert_int_equal(gw_cursor_encode(645, c, 4), TD_EINVAL);

	static const char *const bad[] = {
		"", "djE6", "djE6MA", /* v1: with nothing, v1:0 */
		"djI6NjQ1",           /* v2:645 */
		"NjQ1",               /* 645 without the version */
		"djE6LTE",            /* v1:-1 */
		"djE6MDY0NQ",         /* v1:0645, not canonical */
		"djE6NjQ1eA",         /* v1:645x */
		"djE6NjQ1=", "dj+6NjQ1", "d", "djE6OTk5OTk5OTk5OTk5OTk5OTk5OTk5", /* overflow */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t id = 0;
		if (gw_cursor_decode(bad[i], &id) != TD_EINVAL) {
			fail_msg("cursor '%s' accepted as %lld", bad[i], (long long)id);
		}
	}
}

static void
test_severity_rank(void **state)
{
	(void)state;
	assert_int_equal(gw_severity_rank("info"), 1);
	assert_int_equal(gw_severity_rank("critical"), 5);
	assert_int_equal(gw_severity_rank("crit"), -1);
	assert_int_equal(gw_nseverities, 5);
	assert_int_equal(gw_nkinds, 4);
	assert_int_equal(gw_nstatuses, 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_filter),
		cmocka_unit_test(test_values_never_in_sql),
		cmocka_unit_test(test_bad_parameters),
		cmocka_unit_test(test_text_filters),
		cmocka_unit_test(test_error_param),
		cmocka_unit_test(test_repeats_and_ranges),
		cmocka_unit_test(test_cursor),
		cmocka_unit_test(test_severity_rank),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
