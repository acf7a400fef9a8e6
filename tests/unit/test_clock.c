/* test_clock.c — RFC 3339 parsing and formatting (clock.c) and identifiers (id.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tfdrift/clock.h"
#include "tfdrift/error.h"
#include "tfdrift/id.h"

#define NS 1000000000LL
#define T0 1795705445LL /* 2026-11-26T15:04:05Z, from `date -u -d ... +%s` */

static void
test_parse_valid(void **state)
{
	static const struct {
		const char *text;
		int64_t ns;
	} cases[] = {
		{ "2026-11-26T15:04:05Z", T0 * NS },
		{ "2026-11-26T15:04:05.123Z", T0 * NS + 123000000 },
		{ "2026-11-26T15:04:05.123456Z", T0 * NS + 123456000 },
		{ "2026-11-26T15:04:05.123456789Z", T0 * NS + 123456789 },
		{ "2026-11-26T15:04:05.1Z", T0 * NS + 100000000 },
		{ "2026-11-26T15:04:05.1234567891234Z", T0 * NS + 123456789 }, /* truncated */
		{ "2026-11-26T17:04:05+02:00", T0 * NS },
		{ "2026-11-26T17:04:05.5+02:00", T0 * NS + 500000000 },
		{ "2026-11-26T09:34:05-05:30", T0 * NS }, { "2026-11-26T17:04:05+0200", T0 * NS },
		{ "2026-11-26T15:04:05+00:00", T0 * NS }, { "2026-11-26T15:04:05-00:00", T0 * NS },
		{ "2026-11-26t15:04:05z", T0 * NS }, { "2026-11-26 15:04:05Z", T0 * NS },
		{ "2026-11-26T15:04:05", T0 * NS }, /* no offset: UTC */
		{ "2026-11-26", (T0 - (15 * 3600 + 4 * 60 + 5)) * NS },
		{ "1970-01-01T00:00:00Z", 0 }, { "1969-12-31T23:59:59Z", -1 * NS },
		{ "1969-12-31T23:59:59.5Z", -NS / 2 }, { "2000-02-29T00:00:00Z", 951782400LL * NS },
		{ "2026-11-26T15:04:60Z", (T0 + 55) * NS }, /* leap second rolls over */
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ns = 42;
		int rv = td_clock_parse(cases[i].text, &ns);
		if (rv != 0 || ns != cases[i].ns) {
			fail_msg("%s: rv %d, got %lld, want %lld", cases[i].text, rv, (long long)ns,
			    (long long)cases[i].ns);
		}
	}
}

static void
test_parse_invalid(void **state)
{
	static const char *const bad[] = {
		"", "garbage", "2026", "2026-11", "2026-11-26T", "2026-11-26T15:04",
		"2026-11-26T15:04:05Zjunk", "2026-11-26T15:04:05ZZ", "2026-11-26T15:04:05.Z",
		"2026-11-26T15:04:05.", "2026-11-26T15:04:05+2:00", "2026-11-26T15:04:05+02",
		"2026-11-26T15:04:05+02:0", "2026-11-26T15:04:05+24:00",
		"2026-11-26T15:04:05+02:60", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z",
		"2026-11-00T00:00:00Z", "2026-11-31T00:00:00Z", "2023-02-29T00:00:00Z",
		"1900-02-29T00:00:00Z", "2026-11-26T24:00:00Z", "2026-11-26T15:60:00Z",
		"2026-11-26T15:04:61Z", "2026-11-26X15:04:05Z", "26-11-26T15:04:05Z",
		"2026/11/26T15:04:05Z", "+2026-11-26T15:04:05Z", " 2026-11-26T15:04:05Z",
		"2026-11-26T15:04:05Z ", "2026-1a-26T15:04:05Z",
		"9999-12-31T23:59:59Z", /* beyond int64 nanoseconds */
		"1000-01-01T00:00:00Z",
		"2262-04-11T23:47:17Z", /* one second past the int64 limit */
	};
	int64_t ns = 42;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rv = td_clock_parse(bad[i], &ns);
		if (rv != TD_EINVAL) {
			fail_msg("'%s' accepted (rv %d, ns %lld)", bad[i], rv, (long long)ns);
		}
	}
	assert_int_equal(ns, 42); /* untouched on failure */
	assert_int_equal(td_clock_parse(NULL, &ns), TD_EINVAL);
	assert_int_equal(td_clock_parse("2026-11-26T15:04:05Z", NULL), TD_EINVAL);
	/* the last representable second still parses */
	assert_int_equal(td_clock_parse("2262-04-11T23:47:16Z", &ns), 0);
	assert_int_equal(ns, 9223372036LL * NS);
}

static void
test_format(void **state)
{
	char buf[64];
	int64_t t = T0 * NS + 123456789;
	(void)state;

	assert_string_equal(td_clock_format(t, 0, buf, sizeof(buf)), "2026-11-26T15:04:05Z");
	assert_string_equal(td_clock_format(t, 3, buf, sizeof(buf)), "2026-11-26T15:04:05.123Z");
	assert_string_equal(td_clock_format(t, 6, buf, sizeof(buf)), "2026-11-26T15:04:05.123456Z");
	assert_string_equal(td_clock_format(t, 9, buf, sizeof(buf)),
	    "2026-11-26T15:04:05.123456789Z");
	assert_string_equal(td_clock_format(0, 3, buf, sizeof(buf)), "1970-01-01T00:00:00.000Z");
	assert_string_equal(td_clock_format(-NS / 2, 3, buf, sizeof(buf)),
	    "1969-12-31T23:59:59.500Z");
	assert_string_equal(td_clock_format(-1, 9, buf, sizeof(buf)),
	    "1969-12-31T23:59:59.999999999Z");
	assert_string_equal(td_clock_format(951782400LL * NS, 0, buf, sizeof(buf)),
	    "2000-02-29T00:00:00Z");
	/* a short buffer is truncated, never overrun */
	memset(buf, 'x', sizeof(buf));
	td_clock_format(t, 9, buf, 11);
	assert_string_equal(buf, "2026-11-26");
	assert_int_equal(buf[11], 'x');
}

static void
test_round_trip(void **state)
{
	char buf[64];
	int64_t back = 0;
	/* spread over leap years, century boundaries, both sides of 1970 */
	static const int64_t samples[] = {
		0,
		1,
		-1,
		T0 * NS + 987654321,
		951782400LL * NS - 1,
		4102444800LL * NS + 7,
		-2208988800LL * NS + 999999999,
		1709164800LL * NS,
		INT64_MAX / NS * NS,
	};
	(void)state;

	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		td_clock_format(samples[i], 9, buf, sizeof(buf));
		assert_int_equal(td_clock_parse(buf, &back), 0);
		if (back != samples[i]) {
			fail_msg("%lld -> %s -> %lld", (long long)samples[i], buf, (long long)back);
		}
	}
	/* every day for ten years, at a fixed time of day */
	for (int64_t d = 0; d < 3660; d++) {
		int64_t t = (1704067200LL + d * 86400 + 45296) * NS; /* from 2024-01-01T12:34:56Z */
		td_clock_format(t, 0, buf, sizeof(buf));
		assert_int_equal(td_clock_parse(buf, &back), 0);
		assert_int_equal(back, t);
	}
}

static void
test_now(void **state)
{
	int64_t a, b;
	(void)state;

	assert_true(td_clock_now_ns() > 1577836800LL * NS); /* after 2020 */
	a = td_clock_mono_ms();
	b = td_clock_mono_ms();
	assert_true(b >= a);
}

static bool
all_hex(const char *s)
{
	for (; *s != '\0'; s++) {
		if (strchr("0123456789abcdef", *s) == NULL) {
			return false;
		}
	}
	return true;
}

static void
test_id_random(void **state)
{
	char a[65], b[65], small[3];
	(void)state;

	memset(a, 'x', sizeof(a));
	assert_ptr_equal(td_id_random_hex(a, 16), a);
	assert_int_equal(strlen(a), 32);
	assert_true(all_hex(a));
	td_id_random_hex(b, 16);
	assert_string_not_equal(a, b); /* 2^-128 chance of a false failure */

	td_id_random_hex(a, 32);
	assert_int_equal(strlen(a), 64);
	assert_true(all_hex(a));

	memset(small, 'x', sizeof(small));
	td_id_random_hex(small, 1);
	assert_int_equal(strlen(small), 2);

	td_id_random_hex(a, 0);
	assert_string_equal(a, "");

	/* over 32 bytes is clamped to 32 and never writes past 65 chars */
	memset(a, 'x', sizeof(a));
	td_id_random_hex(a, 100);
	assert_int_equal(strlen(a), 64);
}

static void
test_id_sha256(void **state)
{
	char buf[65];
	const char *abc[] = { "abc" };
	const char *key[] = { "evt-1", "prod/network", "aws_s3_bucket.logs", "tags.env" };
	const char *with_empty[] = { "a", "", "b" };
	const char *with_null[] = { "a", NULL, "b" };
	(void)state;

	assert_string_equal(td_id_sha256_hex(buf, abc, 1),
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_string_equal(td_id_sha256_hex(buf, NULL, 0),
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* parts joined by 0x1f (values from Python's hashlib) */
	assert_string_equal(td_id_sha256_hex(buf, key, 4),
	    "24a548016b44a07594054b991d515eb77f0b715e72b1fd8caaf1acee35ee06ac");
	assert_string_equal(td_id_sha256_hex(buf, with_empty, 3),
	    "3aa8909cac0696919c2cc255ee0dbcc632b90ddcdc8a7fd54836d34d61dd645c");
	assert_string_equal(td_id_sha256_hex(buf, with_null, 3),
	    "3aa8909cac0696919c2cc255ee0dbcc632b90ddcdc8a7fd54836d34d61dd645c");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_now),
		cmocka_unit_test(test_id_random),
		cmocka_unit_test(test_id_sha256),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
