/* test_helpers.c — libcommon's small shared helpers: severity and kind names
 * (domain/severity.c), an alert as JSON (domain/alert_json.c), the Redis key
 * layout (domain/redis_keys.c), hex digits (hex.c), constant-time comparison
 * (secret.c), td_str_printf (str.c) and the whole-file reader (file.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tfdrift/alert_json.h"
#include "tfdrift/error.h"
#include "tfdrift/file.h"
#include "tfdrift/hex.h"
#include "tfdrift/redis_keys.h"
#include "tfdrift/secret.h"
#include "tfdrift/severity.h"
#include "tfdrift/str.h"

static void
test_severity_names(void **state)
{
	(void)state;
	static const char *const sev[] = { NULL, "info", "low", "medium", "high", "critical" };
	for (int v = 1; v <= 5; v++) {
		assert_string_equal(td_severity_name(v), sev[v]);
		assert_int_equal(td_severity_parse(sev[v], strlen(sev[v])), v);
		assert_string_equal(td_severity_names[v - 1], sev[v]);
	}
	assert_int_equal(td_severity_count, 5);
	assert_null(td_severity_name(0));
	assert_null(td_severity_name(6));
	assert_null(td_severity_name(-1));
	assert_int_equal(td_severity_parse("severe", 6), 0);
	assert_int_equal(td_severity_parse("HIGH", 4), 0);    /* exact, lower case */
	assert_int_equal(td_severity_parse("highest", 4), 4); /* the first len bytes */
	assert_int_equal(td_severity_parse("high", 3), 0);
	assert_int_equal(td_severity_parse(NULL, 0), 0);

	static const char *const kind[] = { NULL, "drift", "unmanaged", "deleted", "modified" };
	for (int v = 1; v <= 4; v++) {
		assert_string_equal(td_kind_name(v), kind[v]);
		assert_int_equal(td_kind_parse(kind[v], strlen(kind[v])), v);
	}
	assert_int_equal(td_kind_count, 4);
	assert_null(td_kind_name(0));
	assert_null(td_kind_name(5));
	assert_int_equal(td_kind_parse("DRIFT", 5), 0);
}

static void
test_alert_json(void **state)
{
	(void)state;
	Tfdrift__V1__DriftAlert a = TFDRIFT__V1__DRIFT_ALERT__INIT;
	Tfdrift__V1__Principal pr = TFDRIFT__V1__PRINCIPAL__INIT;
	Tfdrift__V1__AttributeChange ch = TFDRIFT__V1__ATTRIBUTE_CHANGE__INIT;
	Tfdrift__V1__AttributeChange *chs[] = { &ch };
	char *text;

	a.id = 7;
	a.alert_key = "k1";
	a.kind = TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED;
	a.severity = TFDRIFT__V1__SEVERITY__SEVERITY_HIGH;
	a.resource_address = "aws_instance.web[0]";
	a.event_time_ns = 1795705445000000000LL; /* 2026-11-26T15:04:05Z */
	a.source_ip = "10.0.0.1";
	pr.name = "alice";
	pr.type = "AssumedRole";
	pr.role_name = "admin";
	a.principal = &pr;
	ch.path = "instance_type";
	ch.old_json = "\"t3.micro\"";
	ch.new_json = "\"t3.large\"";
	a.changes = chs;
	a.n_changes = 1;

	cJSON *item = td_alert_json_item(&a);
	assert_non_null(item);
	text = cJSON_PrintUnformatted(item);
	assert_non_null(strstr(text, "\"id\":7,\"alert_key\":\"k1\""));
	assert_non_null(strstr(text, "\"event_time\":\"2026-11-26T15:04:05.000000Z\""));
	assert_non_null(strstr(text, "\"detected_at\":null"));
	assert_non_null(strstr(text, "\"kind\":\"modified\""));
	assert_non_null(strstr(text, "\"severity\":\"high\",\"status\":\"open\""));
	assert_non_null(strstr(text,
	    "\"principal\":{\"type\":\"AssumedRole\",\"arn\":\"\",\"name\":\"alice\""));
	assert_non_null(strstr(text, "\"source_ip\":\"10.0.0.1\""));
	cJSON_free(text);
	cJSON_Delete(item);

	a.severity = 0; /* unspecified */
	cJSON *ex = td_alert_json_explain(&a);
	assert_non_null(ex);
	text = cJSON_PrintUnformatted(ex);
	assert_non_null(strstr(text, "\"kind\":\"modified\",\"severity\":\"unspecified\""));
	assert_non_null(strstr(text, "\"address\":\"aws_instance.web[0]\""));
	assert_non_null(strstr(text,
	    "\"changes\":[{\"path\":\"instance_type\",\"old\":\"t3.micro\",\"new\":\"t3.large\",\"sensitive\":false}]"));
	assert_non_null(strstr(text,
	    "\"who\":{\"name\":\"alice\",\"type\":\"AssumedRole\",\"role\":\"admin\"}"));
	cJSON_free(text);
	cJSON_Delete(ex);
}

/* k, compared with want and freed */
static void
key_is(char *k, const char *want)
{
	assert_non_null(k);
	assert_string_equal(k, want);
	free(k);
}

static void
test_redis_keys(void **state)
{
	(void)state;
	/* docs/redis-keys.md spells the same */
	key_is(td_rkey_gen("tfdrift:"), "tfdrift:gen");
	key_is(td_rkey_gen_seq("tfdrift:"), "tfdrift:gen_seq");
	key_is(td_rkey_workspaces("tfdrift:"), "tfdrift:workspaces");
	key_is(td_rkey_wsgen("tfdrift:"), "tfdrift:wsgen");
	key_is(td_rkey_idx("tfdrift:"), "tfdrift:idx");
	key_is(td_rkey_res("tfdrift:", 18446744073709551615ULL, "prod/app"),
	    "tfdrift:g:18446744073709551615:res:prod/app");
	key_is(td_rkey_ids("tfdrift:", 7, "prod/app"), "tfdrift:g:7:ids:prod/app");
	key_is(td_rkey_writer("tfdrift:"), "tfdrift:writer");
	key_is(td_rkey_nodes("p:", 3, "prod/app"), "p:g:3:nodes:prod/app");
	key_is(td_rkey_edges("", 3, "prod/app"), "g:3:edges:prod/app");
	key_is(td_rkey_event("tfdrift:", "0f1e2d3c-aaaa"), "tfdrift:ev:0f1e2d3c-aaaa");
	key_is(td_str_printf("%s=%d", "n", 42), "n=42");
	key_is(td_str_printf("%s", ""), "");
}

/* td_rkey_entry_parse on s (len: strlen) answers ok, and when it does the
 * first claim is ws, address, type, gen. */
static void
entry_is(const char *s, size_t len, bool ok, const char *ws, const char *address, const char *type,
    uint64_t gen)
{
	td_rkey_entry e;

	memset(&e, 0, sizeof(e));
	assert_int_equal(td_rkey_entry_parse(s, len, &e), ok);
	if (!ok)
		return;
	assert_int_equal(e.workspace_len, strlen(ws));
	assert_memory_equal(e.workspace, ws, e.workspace_len);
	assert_int_equal(e.address_len, strlen(address));
	assert_memory_equal(e.address, address, e.address_len);
	assert_int_equal(e.type_len, strlen(type));
	assert_memory_equal(e.type, type, e.type_len);
	assert_int_equal(e.gen, gen);
}

#define ENTRY(s, ok, ws, addr, type, gen) entry_is(s, strlen(s), ok, ws, addr, type, gen)
#define BAD(s) entry_is(s, strlen(s), false, "", "", "", 0)

static void
test_redis_entry_parse(void **state)
{
	(void)state;
	/* docs/redis-keys.md's example */
	ENTRY("prod/iam\taws_iam_role.ecs\taws_iam_role\t1042\t3", true, "prod/iam",
	    "aws_iam_role.ecs", "aws_iam_role", 1042);
	/* several claims: the first line answers, the others are not read */
	ENTRY("a/b\tmodule.x[\"k\"].aws_s3_bucket.logs\taws_s3_bucket\t7\t0\n"
	      "c\taws_s3_bucket.other\taws_s3_bucket\t9\t1",
	    true, "a/b", "module.x[\"k\"].aws_s3_bucket.logs", "aws_s3_bucket", 7);
	ENTRY("a\tx.y\tt\t18446744073709551615\t0\nbroken", true, "a", "x.y", "t",
	    18446744073709551615ULL);
	/* four parts (no order): the generation runs to the end of the line */
	ENTRY("ws\taws_instance.web\taws_instance\t12", true, "ws", "aws_instance.web",
	    "aws_instance", 12);
	ENTRY("ws\taws_instance.web\taws_instance\t12\nws2\ta\tt\t13\t1", true, "ws",
	    "aws_instance.web", "aws_instance", 12);
	/* not NUL-terminated: len ends it */
	entry_is("ws\ta.b\tt\t34\t0GARBAGE", 12, true, "ws", "a.b", "t", 34);
	entry_is("ws\ta.b\tt\t345", 11, true, "ws", "a.b", "t", 34);

	/* malformed: missing parts */
	BAD("");
	BAD("ws");
	BAD("ws\taws_instance.web");
	BAD("ws\taws_instance.web\taws_instance");
	/* the old layout's value (no generation) */
	BAD("ws\taws_instance.web\taws_instance\n");
	/* parts on the second line do not count for the first */
	BAD("ws\ta\nb\tc\t5\t0");
	/* a malformed first line is not saved by a good second one */
	BAD("ws\t\tt\t5\t0\nws2\ta\tt\t6\t1");
	/* empty address */
	BAD("ws\t\taws_instance\t5\t0");
	/* generation: empty, not a number, zero, too big */
	BAD("ws\ta\tt\t\t0");
	BAD("ws\ta\tt\t");
	BAD("ws\ta\tt\tx1\t0");
	BAD("ws\ta\tt\t12a\t0");
	BAD("ws\ta\tt\t-3\t0");
	BAD("ws\ta\tt\t 3\t0");
	BAD("ws\ta\tt\t0\t0");
	BAD("ws\ta\tt\t18446744073709551616\t0");
	BAD("ws\ta\tt\t99999999999999999999999\t0");
}

static void
test_hex(void **state)
{
	(void)state;
	uint8_t b[4] = { 0 };
	char text[9];

	assert_int_equal(td_hex_digit('0'), 0);
	assert_int_equal(td_hex_digit('9'), 9);
	assert_int_equal(td_hex_digit('a'), 10);
	assert_int_equal(td_hex_digit('F'), 15);
	assert_int_equal(td_hex_digit('g'), -1);
	assert_int_equal(td_hex_digit('%'), -1);
	assert_int_equal(td_hex_digit(0), -1);
	assert_int_equal(td_hex_decode("00fFa17E", 4, b), 0);
	assert_int_equal(b[0], 0x00);
	assert_int_equal(b[1], 0xff);
	assert_int_equal(b[2], 0xa1);
	assert_int_equal(b[3], 0x7e);
	assert_int_equal(td_hex_decode("0g", 1, b), TD_EINVAL);
	assert_int_equal(td_hex_decode("g0", 1, b), TD_EINVAL);
	td_hex_encode((const uint8_t[]){ 0x00, 0xff, 0xa1, 0x7e }, 4, text);
	assert_string_equal(text, "00ffa17e");
	td_hex_encode(b, 0, text);
	assert_string_equal(text, "");
}

static void
test_secret_equal(void **state)
{
	(void)state;
	assert_true(td_secret_equal("token", 5, "token", 5));
	assert_false(td_secret_equal("token", 5, "tokeN", 5));
	assert_false(td_secret_equal("Token", 5, "token", 5));
	assert_false(td_secret_equal("token", 5, "token2", 6)); /* a prefix is not equal */
	assert_false(td_secret_equal("token2", 6, "token", 5));
	assert_true(td_secret_equal("", 0, "", 0));
	assert_false(td_secret_equal("", 0, "x", 1));
	/* bytes after a NUL count */
	assert_false(td_secret_equal("a\0b", 3, "a\0c", 3));

	/* digests: SHA-256 (the known vector of "abc"), compared whole */
	unsigned char d1[TD_SECRET_DIGEST_LEN], d2[TD_SECRET_DIGEST_LEN];
	char hex[2 * TD_SECRET_DIGEST_LEN + 1];
	td_secret_digest("abc", 3, d1);
	for (size_t i = 0; i < sizeof(d1); i++) {
		snprintf(hex + 2 * i, 3, "%02x", d1[i]);
	}
	assert_string_equal(hex,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	td_secret_digest("abc", 3, d2);
	assert_true(td_secret_digest_equal(d1, d2));
	td_secret_digest("abd", 3, d2);
	assert_false(td_secret_digest_equal(d1, d2));
	td_secret_digest("ab", 2, d2); /* a prefix */
	assert_false(td_secret_digest_equal(d1, d2));
}

/* The one Authorization parser of ingest and the gateway. */
static void
test_secret_bearer(void **state)
{
	(void)state;
	assert_string_equal(td_secret_bearer("Bearer abc"), "abc");
	/* the scheme in any case (RFC 9110 11.1), then one or more spaces */
	assert_string_equal(td_secret_bearer("bearer abc"), "abc");
	assert_string_equal(td_secret_bearer("BEARER abc"), "abc");
	assert_string_equal(td_secret_bearer("bEaReR   abc"), "abc");
	/* the token as it is: a trailing space or a space inside stays (and so
	 * does not match) */
	assert_string_equal(td_secret_bearer("Bearer abc "), "abc ");
	assert_string_equal(td_secret_bearer("Bearer a b"), "a b");
	assert_string_equal(td_secret_bearer("Bearer "), "");
	assert_null(td_secret_bearer("Bearerabc")); /* no space */
	assert_null(td_secret_bearer("Bearer\tabc"));
	assert_null(td_secret_bearer("Bearer"));
	assert_null(td_secret_bearer(" Bearer abc"));
	assert_null(td_secret_bearer("Basic dXNlcg=="));
	assert_null(td_secret_bearer("Bearerish abc"));
	assert_null(td_secret_bearer(""));
	assert_null(td_secret_bearer(NULL));
}

static void
test_file_read(void **state)
{
	(void)state;
	char path[] = "/tmp/td-test-file-XXXXXX";
	int fd = mkstemp(path);
	char *buf = NULL;
	size_t len = 99;
	td_error err;

	assert_true(fd >= 0);
	/* more than one read's worth, with a NUL inside */
	size_t n = 70000;
	char *data = malloc(n);
	assert_non_null(data);
	for (size_t i = 0; i < n; i++) {
		data[i] = (char)('a' + i % 26);
	}
	data[100] = '\0';
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);

	assert_int_equal(td_file_read(path, 0, &buf, &len, &err), 0);
	assert_int_equal(len, n);
	assert_memory_equal(buf, data, n);
	assert_int_equal(buf[n], '\0');
	free(buf);

	/* exactly at the limit is fine, one byte over is not */
	assert_int_equal(td_file_read(path, n, &buf, NULL, &err), 0);
	free(buf);
	assert_int_equal(td_file_read(path, n - 1, &buf, &len, &err), TD_ETOOBIG);
	assert_null(buf);
	char want[256];
	snprintf(want, sizeof(want), "%s: larger than %zu bytes", path, n - 1);
	assert_string_equal(err.msg, want);

	/* an empty file is an empty string */
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(td_file_read(path, 0, &buf, &len, &err), 0);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");
	free(buf);
	unlink(path);

	assert_int_equal(td_file_read(path, 0, &buf, &len, &err), TD_EIO);
	assert_null(buf);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	assert_string_equal(err.msg, want);
	assert_int_equal(td_file_read("/tmp", 0, &buf, NULL, &err), TD_EIO);
	assert_string_equal(err.msg, "/tmp: cannot read: Is a directory");
	assert_int_equal(td_file_read("/tmp", 0, &buf, NULL, NULL), TD_EIO);
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_severity_names),
		cmocka_unit_test(test_alert_json),
		cmocka_unit_test(test_redis_keys),
		cmocka_unit_test(test_redis_entry_parse),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_secret_equal),
		cmocka_unit_test(test_secret_bearer),
		cmocka_unit_test(test_file_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
