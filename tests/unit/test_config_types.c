/* test_config_types.c — every directive type of config.c, with bounds and
 * secrets, through a directive table of the test's own.
 *
 * This file defines td_config_directives itself, so the linker takes it from
 * here and never pulls config_directives.o out of libtdcommon.a: config.c
 * (the real loader) then validates, documents and exemplifies this table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tfdrift/config.h"

#define NOB 1, 0
#define KIB 1024.0
#define GIB (1024.0 * 1024.0 * 1024.0)

const td_config_directive td_config_directives[] = {
	{ "t", "s", TD_CFG_STRING, "dflt", NOB, NULL, 0, "A string." },
	{ "t", "i", TD_CFG_INT, "5", -10, 10, NULL, 0, "An integer from -10 to 10." },
	{ "t", "i_any", TD_CFG_INT, "0", NOB, NULL, 0, "An integer without bounds." },
	{ "t", "b", TD_CFG_BOOL, "false", NOB, NULL, 0, "A boolean." },
	{ "t", "d", TD_CFG_DOUBLE, "0.5", 0, 1, NULL, 0, "A fraction | with a pipe in its help." },
	{ "t", "dur", TD_CFG_DURATION, "1s", 100, 86400000, NULL, 0, "A duration." },
	{ "t", "size", TD_CFG_SIZE, "64KiB", KIB, GIB, NULL, 0, "A size." },
	{ "t", "size_any", TD_CFG_SIZE, "0", NOB, NULL, 0, "A size without bounds." },
	{ "t", "e", TD_CFG_ENUM, "b", NOB, "a|b|c", 0, "An enum." },
	{ "t", "l", TD_CFG_STRLIST, "x, y", NOB, NULL, 0, "A list with a default." },
	{ "t", "secret", TD_CFG_STRING, "", NOB, NULL, TD_CFG_F_SECRET, "A secret string." },
	{ "t", "secret_int", TD_CFG_INT, "7", 0, 100, NULL, TD_CFG_F_SECRET, "A secret number." },
	{ "t", "secret_str_def", TD_CFG_STRING, "hunter2", NOB, NULL, TD_CFG_F_SECRET,
	    "A secret with a default that must not be printed." },
	{ "u", "flag", TD_CFG_BOOL, "yes", NOB, NULL, 0, "A second section." },
	{ "u", "text", TD_CFG_STRING, "needs: \"quotes\" \\ here", NOB, NULL, 0,
	    "Quoting in the example." },
	{ NULL, NULL, 0, NULL, 0, 0, NULL, 0, NULL },
};

static td_config *
load_ok_at(const char *yaml, int line)
{
	td_config *cfg = NULL;
	td_error err;

	if (td_config_load_string(&cfg, yaml, "t.yaml", &err) != 0) {
		fail_msg("line %d: load failed: %s", line, err.msg);
	}
	return cfg;
}
#define load_ok(yaml) load_ok_at((yaml), __LINE__)

static void
expect_error_at(const char *yaml, const char *want, int line)
{
	td_config *cfg = NULL;
	td_error err;

	if (td_config_load_string(&cfg, yaml, "t.yaml", &err) != TD_EINVAL || cfg != NULL) {
		fail_msg("line %d: '%s' loaded", line, yaml);
	}
	if (strcmp(err.msg, want) != 0) {
		fail_msg("line %d:\n  got  \"%s\"\n  want \"%s\"", line, err.msg, want);
	}
}
#define expect_error(yaml, want) expect_error_at((yaml), (want), __LINE__)

static void
test_defaults(void **state)
{
	td_config *cfg = load_ok(NULL);
	(void)state;

	assert_string_equal(td_config_str(cfg, "t", "s"), "dflt");
	assert_int_equal(td_config_int(cfg, "t", "i"), 5);
	assert_false(td_config_bool(cfg, "t", "b"));
	assert_true(td_config_double(cfg, "t", "d") == 0.5);
	assert_int_equal(td_config_int(cfg, "t", "dur"), 1000);
	assert_int_equal(td_config_int(cfg, "t", "size"), 65536);
	assert_string_equal(td_config_str(cfg, "t", "e"), "b");
	assert_int_equal(td_config_list_len(cfg, "t", "l"), 2);
	assert_string_equal(td_config_list_item(cfg, "t", "l", 0), "x");
	assert_string_equal(td_config_list_item(cfg, "t", "l", 1), "y");
	assert_string_equal(td_config_str(cfg, "t", "secret"), "");
	assert_int_equal(td_config_int(cfg, "t", "secret_int"), 7);
	assert_true(td_config_bool(cfg, "u", "flag"));
	td_config_free(cfg);
}

static void
test_every_type_from_file(void **state)
{
	td_config *cfg;
	(void)state;

	cfg = load_ok("t:\n"
		      "  s: hello world\n"
		      "  i: -10\n"
		      "  i_any: -9000000000\n"
		      "  b: on\n"
		      "  d: 0.25\n"
		      "  dur: 1d\n"
		      "  size: 1MiB\n"
		      "  e: C\n"
		      "  l:\n"
		      "    - p\n"
		      "    - q r\n"
		      "  secret: s3cr3t\n"
		      "u:\n"
		      "  flag: Off\n");
	assert_string_equal(td_config_str(cfg, "t", "s"), "hello world");
	assert_int_equal(td_config_int(cfg, "t", "i"), -10);
	assert_int_equal(td_config_int(cfg, "t", "i_any"), -9000000000LL);
	assert_true(td_config_bool(cfg, "t", "b"));
	assert_true(td_config_double(cfg, "t", "d") == 0.25);
	assert_int_equal(td_config_int(cfg, "t", "dur"), 86400000);
	assert_int_equal(td_config_int(cfg, "t", "size"), 1 << 20);
	assert_string_equal(td_config_str(cfg, "t", "e"), "c");
	assert_int_equal(td_config_list_len(cfg, "t", "l"), 2);
	assert_string_equal(td_config_list_item(cfg, "t", "l", 1), "q r");
	assert_string_equal(td_config_str(cfg, "t", "secret"), "s3cr3t");
	assert_false(td_config_bool(cfg, "u", "flag"));
	assert_string_equal(td_config_origin(cfg, "u", "flag"), "file:15");
	td_config_free(cfg);
}

static void
test_bool_words(void **state)
{
	static const struct {
		const char *text;
		bool value;
	} words[] = {
		{ "true", true },
		{ "false", false },
		{ "yes", true },
		{ "no", false },
		{ "on", true },
		{ "off", false },
		{ "1", true },
		{ "0", false },
		{ "TRUE", true },
		{ "No", false },
	};
	static const char *const bad[] = { "maybe", "2", "y", "t", "enabled", "truee" };
	char yaml[64], want[160];
	(void)state;

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		td_config *cfg;
		snprintf(yaml, sizeof(yaml), "t:\n  b: \"%s\"\n", words[i].text);
		cfg = load_ok(yaml);
		assert_int_equal(td_config_bool(cfg, "t", "b"), words[i].value);
		td_config_free(cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml), "t:\n  b: %s\n", bad[i]);
		snprintf(want, sizeof(want),
		    "t.yaml:2: t.b: expected a boolean (true/false, yes/no, on/off, 1/0), got '%s'",
		    bad[i]);
		expect_error(yaml, want);
	}
	expect_error("t:\n  b:\n",
	    "t.yaml:2: t.b: expected a boolean (true/false, yes/no, on/off, 1/0), got an empty value");
}

static void
test_double(void **state)
{
	td_config *cfg;
	(void)state;

	cfg = load_ok("t:\n  d: 1e-1\n");
	assert_true(td_config_double(cfg, "t", "d") == 0.1);
	td_config_free(cfg);
	cfg = load_ok("t:\n  d: 1\n");
	assert_true(td_config_double(cfg, "t", "d") == 1.0);
	td_config_free(cfg);
	expect_error("t:\n  d: 1.5\n", "t.yaml:2: t.d: 1.5 is above the maximum 1");
	expect_error("t:\n  d: -0.1\n", "t.yaml:2: t.d: -0.1 is below the minimum 0");
	expect_error("t:\n  d: half\n", "t.yaml:2: t.d: expected a number, got 'half'");
	expect_error("t:\n  d: nan\n", "t.yaml:2: t.d: expected a number, got 'nan'");
	expect_error("t:\n  d: inf\n", "t.yaml:2: t.d: expected a number, got 'inf'");
	expect_error("t:\n  d: 0.5x\n", "t.yaml:2: t.d: expected a number, got '0.5x'");
}

static void
test_size(void **state)
{
	static const struct {
		const char *text;
		int64_t bytes;
	} ok[] = {
		{ "1024", 1024 },
		{ "2048B", 2048 },
		{ "64KiB", 65536 },
		{ "64KB", 65536 },
		{ "64k", 65536 },
		{ "64kb", 65536 },
		{ "64 KiB", 65536 },
		{ "1MiB", 1 << 20 },
		{ "1M", 1 << 20 },
		{ "3mb", 3 << 20 },
		{ "1GiB", 1 << 30 },
		{ "1g", 1 << 30 },
	};
	static const char *const bad[] = { "12XB", "-1", "1.5MiB", "KiB", "1 2", "0x10", "1KiBs" };
	char yaml[80], want[200];
	td_config *cfg;
	(void)state;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(yaml, sizeof(yaml), "t:\n  size: %s\n", ok[i].text);
		cfg = load_ok(yaml);
		assert_int_equal(td_config_int(cfg, "t", "size"), ok[i].bytes);
		td_config_free(cfg);
	}
	cfg = load_ok("t:\n  size_any: 2TiB\n");
	assert_int_equal(td_config_int(cfg, "t", "size_any"), 2LL << 40);
	td_config_free(cfg);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml), "t:\n  size: \"%s\"\n", bad[i]);
		snprintf(want, sizeof(want),
		    "t.yaml:2: t.size: expected a size (64KiB, 1MiB, 2GiB, or a number of bytes), got '%s'",
		    bad[i]);
		expect_error(yaml, want);
	}
	/* bounds compared in bytes, shown in the largest exact unit */
	expect_error("t:\n  size: 512\n", "t.yaml:2: t.size: 512 is below the minimum 1KiB");
	expect_error("t:\n  size: 1023B\n", "t.yaml:2: t.size: 1023B is below the minimum 1KiB");
	expect_error("t:\n  size: 2GiB\n", "t.yaml:2: t.size: 2GiB is above the maximum 1GiB");
	expect_error("t:\n  size: 1048577k\n",
	    "t.yaml:2: t.size: 1048577k is above the maximum 1GiB");
	expect_error("t:\n  size_any: 99999999TiB\n",
	    "t.yaml:2: t.size_any: '99999999TiB' is out of range");
}

static void
test_int_and_duration_bounds(void **state)
{
	td_config *cfg;
	(void)state;

	cfg = load_ok("t:\n  i: +7\n  dur: 100\n");
	assert_int_equal(td_config_int(cfg, "t", "i"), 7);
	assert_int_equal(td_config_int(cfg, "t", "dur"), 100);
	td_config_free(cfg);
	expect_error("t:\n  i: 11\n", "t.yaml:2: t.i: 11 is above the maximum 10");
	expect_error("t:\n  i: -11\n", "t.yaml:2: t.i: -11 is below the minimum -10");
	expect_error("t:\n  i: 1e3\n", "t.yaml:2: t.i: expected an integer, got '1e3'");
	expect_error("t:\n  dur: 99ms\n", "t.yaml:2: t.dur: 99ms is below the minimum 100ms");
	expect_error("t:\n  dur: 25h\n", "t.yaml:2: t.dur: 25h is above the maximum 1d");
	expect_error("t:\n  dur: 2d\n", "t.yaml:2: t.dur: 2d is above the maximum 1d");
}

static void
test_secrets_never_echoed(void **state)
{
	td_config *cfg = NULL;
	td_error err;
	char *text = NULL;
	size_t len = 0;
	FILE *mem;
	(void)state;

	expect_error("t:\n  secret_int: abc\n",
	    "t.yaml:2: t.secret_int: expected an integer, got <redacted>");
	expect_error("t:\n  secret_int: 500\n",
	    "t.yaml:2: t.secret_int: the value is above the maximum 100");
	setenv("TFDRIFT_T_SECRET_INT", "pw123", 1);
	assert_int_equal(td_config_load_string(&cfg, NULL, "t.yaml", &err), TD_EINVAL);
	assert_string_equal(err.msg,
	    "env TFDRIFT_T_SECRET_INT: t.secret_int: expected an integer, got <redacted>");
	unsetenv("TFDRIFT_T_SECRET_INT");

	/* neither document prints a secret's default */
	mem = open_memstream(&text, &len);
	assert_int_equal(td_config_write_reference(mem), 0);
	assert_int_equal(td_config_write_example(mem), 0);
	fclose(mem);
	assert_null(strstr(text, "hunter2"));
	assert_non_null(strstr(text, "| `secret_str_def` | string | *(secret)* |"));
	free(text);
}

static void
test_env_every_type(void **state)
{
	td_config *cfg;
	(void)state;

	setenv("TFDRIFT_T_B", "yes", 1);
	setenv("TFDRIFT_T_D", "0.75", 1);
	setenv("TFDRIFT_T_SIZE", "2MiB", 1);
	setenv("TFDRIFT_T_L", "a,b , c", 1);
	setenv("TFDRIFT_U_FLAG", "0", 1);
	cfg = load_ok("t:\n  b: false\n");
	assert_true(td_config_bool(cfg, "t", "b"));
	assert_string_equal(td_config_origin(cfg, "t", "b"), "env:TFDRIFT_T_B");
	assert_true(td_config_double(cfg, "t", "d") == 0.75);
	assert_int_equal(td_config_int(cfg, "t", "size"), 2 << 20);
	assert_int_equal(td_config_list_len(cfg, "t", "l"), 3);
	assert_string_equal(td_config_list_item(cfg, "t", "l", 2), "c");
	assert_false(td_config_bool(cfg, "u", "flag"));
	td_config_free(cfg);
	unsetenv("TFDRIFT_T_B");
	unsetenv("TFDRIFT_T_D");
	unsetenv("TFDRIFT_T_SIZE");
	unsetenv("TFDRIFT_T_L");
	unsetenv("TFDRIFT_U_FLAG");
}

/* The rendered example of this table loads and reproduces every default. */
static void
test_example_round_trip(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	td_config *ex, *def;
	(void)state;

	assert_int_equal(td_config_write_example(mem), 0);
	fclose(mem);
	assert_non_null(strstr(text, "  text: \"needs: \\\"quotes\\\" \\\\ here\"\n"));
	assert_non_null(strstr(text, "  l: [\"x\", \"y\"]\n"));
	assert_non_null(strstr(text, "  secret: \"\"\n"));
	assert_non_null(strstr(text, "  # secret_int:\n"));
	assert_non_null(strstr(text, "  size: 64KiB\n"));
	assert_non_null(strstr(text, "  # size, 1KiB to 1GiB; env TFDRIFT_T_SIZE\n"));
	ex = load_ok(text);
	def = load_ok(NULL);
	assert_string_equal(td_config_str(ex, "t", "s"), td_config_str(def, "t", "s"));
	assert_string_equal(td_config_str(ex, "u", "text"), "needs: \"quotes\" \\ here");
	assert_int_equal(td_config_int(ex, "t", "i"), 5);
	assert_false(td_config_bool(ex, "t", "b"));
	assert_true(td_config_double(ex, "t", "d") == 0.5);
	assert_int_equal(td_config_int(ex, "t", "dur"), 1000);
	assert_int_equal(td_config_int(ex, "t", "size"), 65536);
	assert_string_equal(td_config_str(ex, "t", "e"), "b");
	assert_int_equal(td_config_list_len(ex, "t", "l"), 2);
	assert_int_equal(td_config_int(ex, "t", "secret_int"), 7);
	assert_string_equal(td_config_str(ex, "t", "secret_str_def"), "hunter2");
	assert_string_equal(td_config_origin(ex, "t", "secret_int"), "default");
	assert_true(td_config_bool(ex, "u", "flag"));
	td_config_free(ex);
	td_config_free(def);
	free(text);
}

static void
test_reference_table(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	(void)state;

	assert_int_equal(td_config_write_reference(mem), 0);
	fclose(mem);
	assert_non_null(strstr(text, "\n## `t`\n"));
	assert_non_null(strstr(text, "\n## `u`\n"));
	assert_non_null(
	    strstr(text, "| `b` | boolean | `false` | — | `TFDRIFT_T_B` | A boolean. |\n"));
	assert_non_null(strstr(text,
	    "| `d` | number | `0.5` | 0 to 1 | `TFDRIFT_T_D` | A fraction \\| with a pipe in its help. |\n"));
	assert_non_null(
	    strstr(text, "| `dur` | duration | `1s` | 100ms to 1d | `TFDRIFT_T_DUR` |"));
	assert_non_null(
	    strstr(text, "| `size` | size | `64KiB` | 1KiB to 1GiB | `TFDRIFT_T_SIZE` |"));
	assert_non_null(strstr(text, "| `i` | integer | `5` | -10 to 10 |"));
	assert_non_null(strstr(text, "| `e` | enum | `b` | `a`, `b`, `c` |"));
	assert_non_null(strstr(text, "| `l` | list | `x, y` | — |"));
	assert_non_null(strstr(text,
	    "| `secret` | string | *(empty)* | — | `TFDRIFT_T_SECRET` | **Secret.** A secret string. |\n"));
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_type_from_file),
		cmocka_unit_test(test_bool_words),
		cmocka_unit_test(test_double),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_int_and_duration_bounds),
		cmocka_unit_test(test_secrets_never_echoed),
		cmocka_unit_test(test_env_every_type),
		cmocka_unit_test(test_example_round_trip),
		cmocka_unit_test(test_reference_table),
	};

	unsetenv("TFDRIFT_T_B");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
