/* test_gateway_jsonw.c — the api-gateway's JSON writer
 * (services/api-gateway/jsonw.c): escaping per RFC 8259, checked both as
 * exact text and by parsing the output back with cJSON, and growth from a
 * tiny buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "../../services/api-gateway/jsonw.h"
#include "tfdrift/clock.h"

/* gw_jw_str(s) as text; the caller frees it. */
static char *
quoted(const char *s)
{
	gw_jw w;
	gw_jw_init(&w, 1);
	gw_jw_str(&w, s);
	return gw_jw_finish(&w);
}

static void
expect(const char *in, const char *want)
{
	char *got = quoted(in);
	assert_non_null(got);
	assert_string_equal(got, want);
	/* A JSON parser reads back exactly the input. */
	cJSON *j = cJSON_Parse(got);
	assert_non_null(j);
	assert_true(cJSON_IsString(j));
	assert_string_equal(j->valuestring, in);
	cJSON_Delete(j);
	free(got);
}

static void
test_escapes(void **state)
{
	(void)state;
	expect("", "\"\"");
	expect("plain", "\"plain\"");
	expect("a\"b", "\"a\\\"b\"");
	expect("back\\slash", "\"back\\\\slash\"");
	expect("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
	expect("\x01\x1f", "\"\\u0001\\u001f\"");
	expect("nul-free \x7f del", "\"nul-free \x7f del\"");
	expect("/slash", "\"/slash\""); /* '/' needs no escape */
	expect("caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80",
	    "\"caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80\"");
	expect("</script>", "\"</script>\"");
	expect("\"\\\"\\", "\"\\\"\\\\\\\"\\\\\"");
}

static void
test_every_control_byte(void **state)
{
	(void)state;
	char in[32];
	for (int c = 1; c < 32; c++) {
		in[c - 1] = (char)c;
	}
	in[31] = '\0';
	char *got = quoted(in);
	assert_non_null(got);
	for (const char *p = got; *p; p++) {
		assert_true((unsigned char)*p >= 0x20);
	}
	cJSON *j = cJSON_Parse(got);
	assert_non_null(j);
	assert_string_equal(j->valuestring, in);
	cJSON_Delete(j);
	free(got);
}

static void
test_growth_and_structure(void **state)
{
	(void)state;
	gw_jw w;
	gw_jw_init(&w, 1);
	gw_jw_lit(&w, "{\"items\":[");
	for (int i = 0; i < 1000; i++) {
		if (i > 0) {
			gw_jw_raw(&w, ",", 1);
		}
		gw_jw_str(&w, "line\nwith \"quotes\" and \\ a long enough tail to grow the buffer");
	}
	gw_jw_lit(&w, "]}");
	size_t len = w.len;
	char *out = gw_jw_finish(&w);
	assert_non_null(out);
	assert_int_equal(strlen(out), len);
	assert_null(w.buf);
	cJSON *j = cJSON_Parse(out);
	assert_non_null(j);
	cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "items");
	assert_int_equal(cJSON_GetArraySize(items), 1000);
	assert_string_equal(cJSON_GetArrayItem(items, 999)->valuestring,
	    "line\nwith \"quotes\" and \\ a long enough tail to grow the buffer");
	cJSON_Delete(j);
	free(out);
}

/* gw_jw_time_us writes what td_clock_format(us * 1000, 6) does, quoted:
 * around the epoch, leap days, century and 400-year rules, the last
 * microsecond of a day, and a sweep of pseudo-random times. */
static void
expect_time(int64_t us)
{
	char want[80], ts[64];
	td_clock_format(us * 1000, 6, ts, sizeof(ts));
	snprintf(want, sizeof(want), "\"%s\"", ts);
	gw_jw w;
	gw_jw_init(&w, 1);
	gw_jw_time_us(&w, us);
	char *got = gw_jw_finish(&w);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
test_time(void **state)
{
	(void)state;
	static const int64_t fixed[] = {
		0, 1, -1, 999999, 1000000, -1000000, 86399999999LL, 86400000000LL,
		951782400000000LL,  /* 2000-02-29 */
		4107542399999999LL, /* 2100-02-28T23:59:59.999999 */
		4107542400000000LL, 1763100000123456LL,
		-9000000000000000LL, /* 1684, near td_clock_format's int64 ns limit */
		9000000000000000LL,  /* 2255 */
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		expect_time(fixed[i]);
	}
	/* Beyond td_clock_format's range (its nanoseconds overflow int64). */
	gw_jw w;
	gw_jw_init(&w, 1);
	gw_jw_time_us(&w, -62135596800000000LL);
	gw_jw_raw(&w, " ", 1);
	gw_jw_time_us(&w, 253402300799999999LL);
	gw_jw_raw(&w, " ", 1);
	gw_jw_time_us(&w, 253402300800000000LL);
	char *got = gw_jw_finish(&w);
	assert_string_equal(got,
	    "\"0001-01-01T00:00:00.000000Z\" \"9999-12-31T23:59:59.999999Z\" "
	    "\"10000-01-01T00:00:00.000000Z\"");
	free(got);
	uint64_t x = 88172645463325252ULL;
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* 1900..2200 */
		expect_time((int64_t)(x % 9467280000000000ULL) - 2208988800000000LL);
	}
}

/* Escapes found at every offset of longer strings (the writer copies
 * eight plain bytes at a time), UTF-8 bytes left alone. */
static void
test_escape_positions(void **state)
{
	(void)state;
	static const char specials[] = { '"', '\\', '\n', '\x01', '\x1f', 'a', (char)0xc3 };
	for (size_t len = 1; len < 40; len++) {
		for (size_t at = 0; at < len; at++) {
			for (size_t k = 0; k < sizeof(specials); k++) {
				char in[48];
				memset(in, 'x', len);
				in[len] = '\0';
				in[at] = specials[k];
				if (specials[k] == (char)0xc3 && at + 1 < len) {
					in[at + 1] = (char)0xa9; /* a whole UTF-8 sequence */
				}
				char *got = quoted(in);
				assert_non_null(got);
				cJSON *j = cJSON_Parse(got);
				assert_non_null(j);
				assert_string_equal(j->valuestring, in);
				cJSON_Delete(j);
				free(got);
			}
		}
	}
}

static void
test_int(void **state)
{
	(void)state;
	gw_jw w;
	gw_jw_init(&w, 1);
	static const int64_t v[] = { 0, 7, -7, 10, 1000000, INT64_MAX, INT64_MIN };
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		gw_jw_raw(&w, i ? "," : "", i ? 1 : 0);
		gw_jw_int(&w, v[i]);
	}
	char *got = gw_jw_finish(&w);
	assert_string_equal(got, "0,7,-7,10,1000000,9223372036854775807,-9223372036854775808");
	free(got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_every_control_byte),
		cmocka_unit_test(test_growth_and_structure),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_escape_positions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
