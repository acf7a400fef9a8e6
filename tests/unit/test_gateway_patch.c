/* test_gateway_patch.c — the PATCH /api/v1/drifts/{id} body
 * (services/api-gateway/patch.c) and a live-feed client's filter message
 * (services/api-gateway/livefilter.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/api-gateway/livefilter.h"
#include "../../services/api-gateway/patch.h"
#include "tfdrift/error.h"

static int
parse(const char *body, gw_patch *p)
{
	return gw_patch_parse(body, body != NULL ? strlen(body) : 0, p);
}

static void
patch_accepts_statuses_and_notes(void **state)
{
	gw_patch *p = malloc(sizeof(*p));
	(void)state;
	assert_non_null(p);
	assert_int_equal(parse("{\"status\":\"acknowledged\",\"note\":\"on it\"}", p), GW_PATCH_OK);
	assert_string_equal(p->to, "acknowledged");
	assert_string_equal(p->note, "on it");
	assert_int_equal(parse("{\"status\":\"reopened\",\"note\":null}", p), GW_PATCH_OK);
	assert_string_equal(p->to, "open"); /* the request word for the schema's open */
	assert_string_equal(p->note, "");
	assert_int_equal(parse("{\"note\":\"x\",\"status\":\"ignored\"}", p), GW_PATCH_OK);
	assert_string_equal(p->to, "ignored");
	free(p);
}

static void
patch_refusals_name_the_member(void **state)
{
	static const struct {
		const char *body;
		int rv;
		const char *param;
	} cases[] = {
		{ NULL, GW_PATCH_BAD_BODY, "" },
		{ "", GW_PATCH_BAD_BODY, "" },
		{ "[1]", GW_PATCH_BAD_BODY, "" },
		{ "{\"status\":", GW_PATCH_BAD_BODY, "" },
		{ "{}", GW_PATCH_INVALID, "status" },
		{ "{\"status\":1}", GW_PATCH_INVALID, "status" },
		{ "{\"status\":\"closed\"}", GW_PATCH_INVALID, "status" },
		{ "{\"status\":\"resolved\",\"owner\":\"me\"}", GW_PATCH_INVALID, "owner" },
		{ "{\"status\":\"resolved\",\"note\":5}", GW_PATCH_INVALID, "note" },
	};
	gw_patch *p = malloc(sizeof(*p));
	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rv = parse(cases[i].body, p);
		if (rv != cases[i].rv || strcmp(p->param, cases[i].param) != 0 ||
		    p->msg[0] == '\0') {
			fail_msg("%s: got %d '%s' '%s'",
			    cases[i].body != NULL ? cases[i].body : "NULL", rv, p->param, p->msg);
		}
	}
	/* the note's bound: GW_PATCH_NOTE_MAX bytes pass, one more does not */
	char *body = malloc(GW_PATCH_NOTE_MAX + 64);
	assert_non_null(body);
	for (size_t n = GW_PATCH_NOTE_MAX; n <= GW_PATCH_NOTE_MAX + 1; n++) {
		size_t off = (size_t)snprintf(body, 64, "{\"status\":\"resolved\",\"note\":\"");
		memset(body + off, 'x', n);
		snprintf(body + off + n, 3, "\"}");
		assert_int_equal(parse(body, p),
		    n <= GW_PATCH_NOTE_MAX ? GW_PATCH_OK : GW_PATCH_INVALID);
	}
	free(body);
	free(p);
}

static void
client_filter_messages(void **state)
{
	gw_filter f;
	char why[160];
	const char *ok =
	    "{\"type\":\"filter\",\"min_severity\":\"high\",\"workspace\":\"prod/app\","
	    "\"kinds\":[\"drift\",\"modified\"]}";
	(void)state;
	assert_int_equal(gw_filter_from_client_msg(ok, strlen(ok), &f, why, sizeof(why)), 0);
	assert_string_equal(f.workspace, "prod/app");
	assert_true(gw_filter_matches(&f, 5, 0, "prod/app"));
	assert_false(gw_filter_matches(&f, 1, 0, "prod/app"));
	assert_false(gw_filter_matches(&f, 5, 0, "other"));

	static const char *const bad[] = {
		"[]", "{\"type\":\"hello\"}", "{\"type\":\"filter\",\"kinds\":[\"nope\"]}",
		"{\"type\":\"filter\",\"min_severity\":\"urgent\"}",
		"{\"type\":\"filter\",\"access_token\":\"t\"}",
		"{\"type\":\"filter\",\"colour\":\"red\"}", "{\"type\":\"filter\"", /* cut short */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (gw_filter_from_client_msg(bad[i], strlen(bad[i]), &f, why, sizeof(why)) !=
			TD_EINVAL ||
		    why[0] == '\0' || f.min_rank != 0 || f.workspace[0] != '\0') {
			fail_msg("%s: not refused with a reason", bad[i]);
		}
	}
	/* larger than the gateway reads */
	size_t n = GW_CLIENT_MSG_MAX + 1;
	char *big = malloc(n);
	assert_non_null(big);
	static const char head[] = "{\"type\":\"filter\"}";
	memset(big, ' ', n);
	memcpy(big, head, sizeof(head) - 1); /* then spaces: valid JSON, just too long */
	assert_int_equal(gw_filter_from_client_msg(big, n, &f, why, sizeof(why)), TD_EINVAL);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(patch_accepts_statuses_and_notes),
		cmocka_unit_test(patch_refusals_name_the_member),
		cmocka_unit_test(client_filter_messages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
