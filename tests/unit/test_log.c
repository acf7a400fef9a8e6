/* test_log.c — JSON-lines records from log.c: structure, escaping, levels,
 * lazy argument evaluation and whole-line writes from many threads. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>
#include <cmocka.h>

#include "tfdrift/clock.h"
#include "tfdrift/error.h"
#include "tfdrift/log.h"

static int pipe_fd[2] = { -1, -1 };

static int
setup(void **state)
{
	(void)state;
	if (pipe(pipe_fd) != 0) {
		return -1;
	}
	/* reads must not block when nothing was written */
	fcntl(pipe_fd[0], F_SETFL, O_NONBLOCK);
	td_log_init("tfdrift-test", TD_LOG_DEBUG);
	td_log_set_fd(pipe_fd[1]);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	td_log_set_fd(-1);
	close(pipe_fd[0]);
	close(pipe_fd[1]);
	return 0;
}

/* Everything written to the pipe so far; caller frees. */
static char *
drain(void)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap + 1);
	ssize_t n;

	assert_non_null(buf);
	while ((n = read(pipe_fd[0], buf + len, cap - len)) > 0) {
		len += (size_t)n;
		if (len == cap) {
			char *nb = realloc(buf, cap * 2 + 1);
			assert_non_null(nb);
			buf = nb;
			cap *= 2;
		}
	}
	buf[len] = '\0';
	return buf;
}

/* Exactly one newline-terminated record in the pipe, parsed; caller deletes. */
static cJSON *
one_record(void)
{
	char *text = drain();
	size_t len = strlen(text);
	cJSON *j;

	if (len == 0 || text[len - 1] != '\n' || strchr(text, '\n') != text + len - 1) {
		fail_msg("not exactly one line: [%s]", text);
	}
	j = cJSON_Parse(text);
	if (j == NULL) {
		fail_msg("not JSON: %s", text);
	}
	free(text);
	return j;
}

static const char *
get_str(const cJSON *j, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(j, key);

	if (!cJSON_IsString(it)) {
		fail_msg("field %s missing or not a string", key);
	}
	return it->valuestring;
}

static void
test_record_shape(void **state)
{
	cJSON *j;
	int64_t t, before = td_clock_now_ns();
	(void)state;

	TD_INFO("state loaded", TD_KV_STR("workspace", "prod/network"), TD_KV_INT("resources", 42));
	j = one_record();
	assert_string_equal(get_str(j, "level"), "info");
	assert_string_equal(get_str(j, "service"), "tfdrift-test");
	assert_string_equal(get_str(j, "msg"), "state loaded");
	assert_string_equal(get_str(j, "workspace"), "prod/network");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(j, "resources")->valuedouble, 42);
	/* time: RFC 3339 UTC with milliseconds, not before the call */
	assert_int_equal(strlen(get_str(j, "time")), strlen("2026-11-26T15:04:05.123Z"));
	assert_int_equal(get_str(j, "time")[23], 'Z');
	assert_int_equal(td_clock_parse(get_str(j, "time"), &t), 0);
	assert_true(t >= before / 1000000 * 1000000);
	cJSON_Delete(j);

	/* no fields at all */
	TD_ERROR("bare");
	j = one_record();
	assert_string_equal(get_str(j, "level"), "error");
	assert_string_equal(get_str(j, "msg"), "bare");
	assert_int_equal(cJSON_GetArraySize(j), 4);
	cJSON_Delete(j);

	/* the key order is fixed: time, level, service, msg, fields */
	TD_WARN("order", TD_KV_BOOL("b", true));
	{
		char *text = drain();
		assert_true(strncmp(text, "{\"time\":\"", 9) == 0);
		assert_non_null(strstr(text,
		    "\",\"level\":\"warn\",\"service\":\"tfdrift-test\",\"msg\":\"order\",\"b\":true}\n"));
		free(text);
	}
}

static void
test_field_types(void **state)
{
	cJSON *j;
	char *text;
	(void)state;

	TD_INFO("types", TD_KV_STR("s", "x"), TD_KV_STR("null_s", NULL), TD_KV_INT("neg", -7),
	    TD_KV_INT("min", LLONG_MIN), TD_KV_UINT("umax", ULLONG_MAX), TD_KV_DBL("d", 1.5),
	    TD_KV_DBL("third", 1.0 / 3.0), TD_KV_DBL("nan", 0.0 / 0.0), TD_KV_BOOL("t", true),
	    TD_KV_BOOL("f", false), TD_KV_RAW("raw", "{\"a\":[1,2]}"), TD_KV_RAW("null_raw", NULL));
	text = drain();
	/* exact integers are checked in the text: cJSON reads numbers as doubles */
	assert_non_null(strstr(text, "\"min\":-9223372036854775808,"));
	assert_non_null(strstr(text, "\"umax\":18446744073709551615,"));
	assert_non_null(strstr(text, "\"d\":1.5,"));
	assert_non_null(strstr(text, "\"third\":0.33333333333333331,"));
	j = cJSON_Parse(text);
	if (j == NULL) {
		fail_msg("not JSON: %s", text);
	}
	free(text);
	assert_string_equal(get_str(j, "s"), "x");
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "null_s")));
	assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(j, "neg")->valuedouble, -7);
	assert_true(cJSON_GetObjectItemCaseSensitive(j, "third")->valuedouble == 1.0 / 3.0);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "nan")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "t")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "f")));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
			     cJSON_GetObjectItemCaseSensitive(j, "raw"), "a")),
	    2);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "null_raw")));
	cJSON_Delete(j);
}

static void
test_escaping(void **state)
{
	static const struct {
		const char *in;
		const char *want_text;  /* as written in the line */
		const char *want_value; /* as cJSON decodes it */
	} cases[] = {
		{ "say \"hi\"", "\"say \\\"hi\\\"\"", "say \"hi\"" },
		{ "back\\slash", "\"back\\\\slash\"", "back\\slash" },
		{ "a\nb\rc\td", "\"a\\nb\\rc\\td\"", "a\nb\rc\td" },
		{ "\b\f", "\"\\b\\f\"", "\b\f" },
		{ "x\x01y\x1fz\x7f", "\"x\\u0001y\\u001fz\\u007f\"", "x\001y\037z\177" },
		{ "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",
		    "\"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80\"",
		    "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80" },
		/* invalid UTF-8: one U+FFFD per offending byte */
		{ "a\xffz", "\"a\\ufffdz\"", "a\xef\xbf\xbdz" },
		{ "a\xe6\x97", "\"a\\ufffd\\ufffd\"", "a\xef\xbf\xbd\xef\xbf\xbd" }, /* truncated */
		{ "\xc0\xaf", "\"\\ufffd\\ufffd\"", "\xef\xbf\xbd\xef\xbf\xbd" }, /* overlong '/' */
		{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"",
		    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* surrogate */
		{ "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"",
		    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* > U+10FFFF */
		{ "\x80x", "\"\\ufffdx\"", "\xef\xbf\xbdx" },             /* stray continuation */
		{ "", "\"\"", "" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text;
		cJSON *j;
		char want[128];

		/* the same string as msg, field key and field value */
		TD_INFO(cases[i].in, TD_KV_STR("v", cases[i].in), TD_KV_STR(cases[i].in, "k"));
		text = drain();
		snprintf(want, sizeof(want), "\"msg\":%s,", cases[i].want_text);
		if (strstr(text, want) == NULL) {
			fail_msg("case %zu: msg not written as %s in %s", i, want, text);
		}
		snprintf(want, sizeof(want), "\"v\":%s,", cases[i].want_text);
		if (strstr(text, want) == NULL) {
			fail_msg("case %zu: value not written as %s in %s", i, want, text);
		}
		snprintf(want, sizeof(want), ",%s:\"k\"}", cases[i].want_text);
		if (strstr(text, want) == NULL) {
			fail_msg("case %zu: key not written as %s in %s", i, want, text);
		}
		j = cJSON_Parse(text);
		if (j == NULL) {
			fail_msg("case %zu: not JSON: %s", i, text);
		}
		assert_string_equal(get_str(j, "msg"), cases[i].want_value);
		assert_string_equal(get_str(j, "v"), cases[i].want_value);
		assert_string_equal(get_str(j, cases[i].want_value), "k");
		cJSON_Delete(j);
		free(text);
	}
}

static int counter;

static int
bump(void)
{
	return ++counter;
}

static void
test_disabled_level_is_lazy(void **state)
{
	char *text;
	(void)state;

	counter = 0;
	td_log_set_level(TD_LOG_WARN);
	assert_false(td_log_enabled(TD_LOG_DEBUG));
	assert_false(td_log_enabled(TD_LOG_INFO));
	assert_true(td_log_enabled(TD_LOG_WARN));

	TD_DEBUG("hidden", TD_KV_INT("n", counter++));
	TD_INFO("hidden", TD_KV_INT("n", bump()));
	td_logf(TD_LOG_INFO, "hidden %d", 1);
	assert_int_equal(counter, 0);
	text = drain();
	assert_string_equal(text, "");
	free(text);

	TD_WARN("shown", TD_KV_INT("n", counter++));
	TD_ERROR("shown", TD_KV_INT("n", bump()));
	assert_int_equal(counter, 2);
	text = drain();
	assert_int_equal(strchr(strchr(text, '\n') + 1, '\n')[1], '\0'); /* two lines */
	free(text);

	td_log_set_level(TD_LOG_OFF);
	TD_ERROR("off", TD_KV_INT("n", bump()));
	assert_int_equal(counter, 2);
	assert_false(td_log_enabled(TD_LOG_ERROR));
	assert_false(td_log_enabled(TD_LOG_OFF));
	/* emitting directly at a disabled level writes nothing either */
	td_log_emit(TD_LOG_ERROR, "off", NULL, 0);
	text = drain();
	assert_string_equal(text, "");
	free(text);

	td_log_set_level(TD_LOG_DEBUG);
	assert_int_equal(td_log_get_level(), TD_LOG_DEBUG);
}

static void
test_logf(void **state)
{
	cJSON *j;
	char big[5000];
	(void)state;

	td_logf(TD_LOG_WARN, "%d events from %s", 3, "file\"x\"");
	j = one_record();
	assert_string_equal(get_str(j, "level"), "warn");
	assert_string_equal(get_str(j, "msg"), "3 events from file\"x\"");
	cJSON_Delete(j);

	/* longer than the formatting buffer */
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	td_logf(TD_LOG_INFO, "<%s>", big);
	j = one_record();
	assert_int_equal(strlen(get_str(j, "msg")), sizeof(big) + 1);
	cJSON_Delete(j);
}

static void
test_level_names(void **state)
{
	static const struct {
		const char *text;
		td_log_level level;
	} ok[] = {
		{ "debug", TD_LOG_DEBUG },
		{ "info", TD_LOG_INFO },
		{ "warn", TD_LOG_WARN },
		{ "warning", TD_LOG_WARN },
		{ "error", TD_LOG_ERROR },
		{ "off", TD_LOG_OFF },
		{ "INFO", TD_LOG_INFO },
	};
	td_log_level lvl = TD_LOG_OFF;
	(void)state;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(td_log_level_parse(ok[i].text, &lvl), 0);
		assert_int_equal(lvl, ok[i].level);
	}
	assert_int_equal(td_log_level_parse("loud", &lvl), TD_EINVAL);
	assert_int_equal(td_log_level_parse("", &lvl), TD_EINVAL);
	assert_int_equal(td_log_level_parse(NULL, &lvl), TD_EINVAL);
	assert_string_equal(td_log_level_name(TD_LOG_DEBUG), "debug");
	assert_string_equal(td_log_level_name(TD_LOG_INFO), "info");
	assert_string_equal(td_log_level_name(TD_LOG_WARN), "warn");
	assert_string_equal(td_log_level_name(TD_LOG_ERROR), "error");
	assert_string_equal(td_log_level_name(TD_LOG_OFF), "off");
}

/* ---- many threads into one file: every line whole -------------------------- */

#define THREADS 4
#define PER_THREAD 500

static void *
writer(void *arg)
{
	long id = (long)(intptr_t)arg;
	char pad[600];

	/* a few hundred bytes per record so interleaved writes would show */
	memset(pad, 'a' + (int)id, sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (int i = 0; i < PER_THREAD; i++) {
		TD_INFO("concurrent", TD_KV_INT("thread", id), TD_KV_INT("i", i),
		    TD_KV_STR("pad", pad));
	}
	return NULL;
}

static void
test_threads_whole_lines(void **state)
{
	char path[] = "/tmp/tfdrift-test-log-XXXXXX";
	int fd = mkstemp(path);
	pthread_t th[THREADS];
	int seen[THREADS] = { 0 };
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	int lines = 0;
	(void)state;

	assert_true(fd >= 0);
	unlink(path);
	td_log_set_fd(fd);
	for (long t = 0; t < THREADS; t++) {
		assert_int_equal(pthread_create(&th[t], NULL, writer, (void *)(intptr_t)t), 0);
	}
	for (int t = 0; t < THREADS; t++) {
		pthread_join(th[t], NULL);
	}
	td_log_set_fd(pipe_fd[1]);

	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	f = fdopen(fd, "r");
	assert_non_null(f);
	while (getline(&line, &cap, f) > 0) {
		cJSON *j = cJSON_Parse(line);
		int t, i;
		if (j == NULL) {
			fail_msg("line %d is not JSON: %.80s", lines + 1, line);
		}
		t = (int)cJSON_GetObjectItemCaseSensitive(j, "thread")->valuedouble;
		i = (int)cJSON_GetObjectItemCaseSensitive(j, "i")->valuedouble;
		assert_true(t >= 0 && t < THREADS);
		assert_int_equal(i, seen[t]); /* each thread's records in order */
		seen[t]++;
		assert_int_equal(get_str(j, "pad")[0], 'a' + t);
		assert_int_equal(strlen(get_str(j, "pad")), 599);
		cJSON_Delete(j);
		lines++;
	}
	free(line);
	fclose(f);
	assert_int_equal(lines, THREADS * PER_THREAD);
}

static void
test_large_record(void **state)
{
	char path[] = "/tmp/tfdrift-test-log-XXXXXX";
	int fd = mkstemp(path);
	size_t n = 200000;
	char *big = malloc(n + 1);
	char *text;
	cJSON *j;
	FILE *f;
	size_t cap = 0;
	(void)state;

	assert_true(fd >= 0);
	assert_non_null(big);
	unlink(path);
	/* quotes double in size when escaped: the buffer must grow past its first size */
	for (size_t i = 0; i < n; i++) {
		big[i] = i % 2 ? '"' : 'x';
	}
	big[n] = '\0';
	td_log_set_fd(fd);
	TD_INFO("big", TD_KV_STR("v", big));
	td_log_set_fd(pipe_fd[1]);

	lseek(fd, 0, SEEK_SET);
	f = fdopen(fd, "r");
	text = NULL;
	assert_true(getline(&text, &cap, f) > 0);
	j = cJSON_Parse(text);
	assert_non_null(j);
	assert_string_equal(get_str(j, "v"), big);
	cJSON_Delete(j);
	free(text);
	free(big);
	fclose(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_shape),
		cmocka_unit_test(test_field_types),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_disabled_level_is_lazy),
		cmocka_unit_test(test_logf),
		cmocka_unit_test(test_level_names),
		cmocka_unit_test(test_threads_whole_lines),
		cmocka_unit_test(test_large_record),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
