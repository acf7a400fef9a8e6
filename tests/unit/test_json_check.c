/* test_json_check.c — json_check.c: strict JSON (one value, nothing after
 * it), strings that are UTF-8 without NULs, and the path the error names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tfdrift/error.h"
#include "tfdrift/json_check.h"

/* 0 or the error message of td_json_check over s (len bytes). */
static const char *
check(const char *s, size_t len)
{
	static td_error err;
	td_error_clear(&err);
	return td_json_check(s, len, NULL, "body", &err) == 0 ? NULL : err.msg;
}

#define CHECK(lit) check(lit, sizeof(lit) - 1)

static void
test_accepts_json(void **state)
{
	(void)state;
	assert_null(CHECK("{}"));
	assert_null(CHECK(" [1, -2.5e+3, true, false, null, \"x\"] \r\n\t"));
	assert_null(CHECK("{\"a\":{\"b\":[{\"c\":\"\\u00e9\\ud83d\\ude00\\n\\\"\"}]}}"));
	assert_null(CHECK("\"caf\xc3\xa9 \xf0\x9f\x98\x80\""));
	assert_null(CHECK("0"));
}

static void
test_refuses_syntax(void **state)
{
	(void)state;
	static const char *const bad[] = { "", " ", "{", "{\"a\"}", "{\"a\":1,}", "[1,]", "01",
		"1.", "-", "tru", "{\"a\":1} xyz}", "{}{}", "[] []", "'x'", "{a:1}", "\"\\x\"",
		"\"abc", "NaN", "\"\\u12\"" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *m = check(bad[i], strlen(bad[i]));
		assert_non_null(m);
		assert_true(strncmp(m, "body: not JSON", 14) == 0);
	}
	const char *m = CHECK("{\"a\":1} xyz}");
	assert_string_equal(m, "body: not JSON: text after the value at byte 8");
}

static void
test_refuses_bad_text_naming_the_field(void **state)
{
	(void)state;
	assert_string_equal(CHECK("{\"output_fields\":{\"ct.id\":\"a\xff\"}}"),
	    "output_fields.ct.id: the string is not valid UTF-8 (byte 28)");
	assert_string_equal(CHECK("{\"a\":[1,{\"b\":\"x\\u0000y\"}]}"),
	    "a[1].b: the string contains a NUL (\\u0000)");
	assert_string_equal(CHECK("{\"a\":\"x\0y\"}"), "a: the string contains a NUL byte");
	assert_string_equal(CHECK("{\"a\":\"x\ny\"}"),
	    "a: the string contains a raw control character (0x0a)");
	assert_string_equal(CHECK("{\"a\":\"\\udc80\"}"),
	    "a: the string has an unpaired surrogate escape");
	assert_string_equal(CHECK("{\"a\":\"\\ud800x\"}"),
	    "a: the string has an unpaired surrogate escape");
	assert_string_equal(CHECK("{\"a\":{\"b\xc3\x28\":1}}"),
	    "a: a member name is not valid UTF-8 (byte 8)");
	/* overlong, surrogate, beyond U+10FFFF, truncated */
	assert_non_null(CHECK("\"\xc0\xaf\""));
	assert_non_null(CHECK("\"\xed\xa0\x80\""));
	assert_non_null(CHECK("\"\xf4\x90\x80\x80\""));
	assert_non_null(CHECK("\"\xe2\x82\""));
	assert_string_equal(CHECK("\"\xff\""), "body: the string is not valid UTF-8 (byte 1)");
}

static void
test_prefix_and_depth(void **state)
{
	(void)state;
	td_error err;
	assert_int_equal(td_json_check("{\"k\":\"\xff\"}", 9, "output_fields.ct.request",
			     "output_fields.ct.request", &err),
	    TD_EINVAL);
	assert_string_equal(err.msg,
	    "output_fields.ct.request.k: the string is not valid UTF-8 (byte 6)");
	char deep[600];
	memset(deep, '[', 300);
	memset(deep + 300, ']', 300);
	assert_int_equal(td_json_check(deep, 600, NULL, "body", &err), TD_EINVAL);
	assert_non_null(strstr(err.msg, "nested deeper than 256 levels"));
	assert_int_equal(td_json_check(deep + 100, 400, NULL, "body", &err), 0);
}

static void
test_utf8_text(void **state)
{
	(void)state;
	assert_true(td_utf8_text_ok("arn:aws:iam::1:user/\xc3\xa9", 22));
	assert_false(td_utf8_text_ok("a\xff", 2));
	assert_false(td_utf8_text_ok("a\0b", 3));
	assert_true(td_utf8_text_ok("", 0));
}

/* Faults td_json_check_value reported, one "index|field|why" line each. */
typedef struct faults {
	char text[1024];
	size_t len;
	int stop_after; /* 0: never */
	int n;
} faults;

static int
keep_fault(void *arg, const td_json_fault *f)
{
	faults *fs = arg;
	int w = snprintf(fs->text + fs->len, sizeof(fs->text) - fs->len, "%ld|%s|%s\n", f->index,
	    f->field, f->why);
	assert_true(w > 0 && (size_t)w < sizeof(fs->text) - fs->len);
	fs->len += (size_t)w;
	return ++fs->n == fs->stop_after ? 42 : 0;
}

static void
test_value_goes_on_past_bad_strings(void **state)
{
	(void)state;
	/* records 1 and 3 have faults; a top-level member outside Records too;
	 * a second "Records" member is not numbered */
	static const char doc[] = "{\"x\":\"\xc0\",\"Records\":[{\"a\":\"ok\"},"
				  "{\"u\":{\"arn\":\"a\xff\"},\"n\":\"\\u0000\"},"
				  "{\"b\":[\"\xc3\xa9\"]},[\"\\udc00\"],{\"k\xfe\":1}],"
				  "\"Records\":[\"\xff\"]} trailing";
	faults fs = { 0 };
	td_error err;
	size_t end = 0;

	td_error_clear(&err);
	assert_int_equal(td_json_check_value(doc, sizeof(doc) - 1, "Records", "doc", keep_fault,
			     &fs, &end, &err),
	    0);
	assert_string_equal(fs.text,
	    "-1|x|the string is not valid UTF-8 (byte 6)\n"
	    "1|u.arn|the string is not valid UTF-8 (byte 45)\n"
	    "1|n|the string contains a NUL (\\u0000)\n"
	    "3|[0]|the string has an unpaired surrogate escape\n"
	    "4||a member name is not valid UTF-8 (byte 90)\n"
	    "-1|Records[0]|the string is not valid UTF-8 (byte 109)\n");
	/* it stops at the end of the value */
	assert_int_equal(end, sizeof(doc) - 1 - strlen(" trailing"));

	/* the callback can stop the walk */
	memset(&fs, 0, sizeof(fs));
	fs.stop_after = 2;
	assert_int_equal(td_json_check_value(doc, sizeof(doc) - 1, "Records", "doc", keep_fault,
			     &fs, &end, &err),
	    42);

	/* a syntax error still stops it, naming where */
	memset(&fs, 0, sizeof(fs));
	assert_int_equal(td_json_check_value("[\"\xff\", 01]", 11, NULL, "line 3", keep_fault, &fs,
			     &end, &err),
	    TD_EINVAL);
	assert_string_equal(err.msg, "line 3: not JSON: unexpected byte 0x31 at byte 7");
	assert_int_equal(end, 7);
	assert_int_equal(fs.n, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_json),
		cmocka_unit_test(test_refuses_syntax),
		cmocka_unit_test(test_refuses_bad_text_naming_the_field),
		cmocka_unit_test(test_prefix_and_depth),
		cmocka_unit_test(test_utf8_text),
		cmocka_unit_test(test_value_goes_on_past_bad_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
