/* test_ingest_falco_alert.c — Falco JSON alerts (the shapes Falco's
 * http_output and Falcosidekick send) to CloudEvents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "tfdrift/cloudtrail_record.h"
#include "tfdrift/falco_alert.h"
#include "tfdrift/error.h"

#define HTTP TFDRIFT__V1__EVENT_ORIGIN__EVENT_ORIGIN_FALCO_HTTP

static int
parse(const char *body, Tfdrift__V1__CloudEvent **ev, td_error *err)
{
	char source[64];

	td_error_clear(err);
	return falco_alert_parse(body, strlen(body), HTTP, "http:127.0.0.1:5555", ev, source,
	    sizeof(source), err);
}

static bool
has_missing(const Tfdrift__V1__CloudEvent *ev, const char *field)
{
	for (size_t i = 0; i < ev->n_missing_fields; i++)
		if (strcmp(ev->missing_fields[i], field) == 0)
			return true;
	return false;
}

static void
full_alert_with_nulls_numbers_and_double_encoding(void **state)
{
	const char *body =
	    "{\"time\":\"2026-07-23T09:40:55.000000000Z\",\"rule\":\"Terraform Managed Resource "
	    "Modified\",\"priority\":\"Warning\",\"source\":\"aws_cloudtrail\",\"hostname\":\"falco-0\","
	    "\"tags\":[\"drift\",\"iac\"],\"output_fields\":{\"evt.time\":1784799655000000000,"
	    "\"ct.id\":\"e-1\",\"ct.time\":\"2026-07-23T09:40:55Z\",\"ct.src\":\"ec2.amazonaws.com\","
	    "\"ct.name\":\"ModifyInstanceAttribute\",\"ct.region\":\"ap-northeast-1\","
	    "\"ct.request\":\"{\\\"instanceId\\\":\\\"i-0abc\\\",\\\"instanceType\\\":{\\\"value\\\":"
	    "\\\"t3.xlarge\\\"}}\",\"ct.response\":null,\"ct.error\":\"<NA>\",\"ct.srcip\":\"203.0.113.7\","
	    "\"ct.user\":\"ops\",\"ct.user.identitytype\":\"AssumedRole\","
	    "\"ct.user.arn\":\"arn:aws:sts::111122223333:assumed-role/ops/alice\","
	    "\"ct.user.accountid\":111122223333,\"ct.readonly\":false,\"ct.managementevent\":\"true\","
	    "\"ct.resources\":\"{\\\"ARN\\\":\\\"arn:aws:ec2:ap-northeast-1:111122223333:instance/"
	    "i-0abc\\\",\\\"type\\\":\\\"AWS::EC2::Instance\\\"},{\\\"ARN\\\":\\\"arn:x\\\"}\"}}";
	Tfdrift__V1__CloudEvent *ev = NULL;
	td_error err;

	(void)state;
	assert_int_equal(parse(body, &ev, &err), 0);
	assert_non_null(ev);
	assert_string_equal(ev->event_id, "e-1");
	assert_string_equal(ev->event_name, "ModifyInstanceAttribute");
	assert_string_equal(ev->event_source, "ec2.amazonaws.com");
	assert_string_equal(ev->aws_region, "ap-northeast-1");
	assert_non_null(strstr(ev->request_parameters_json, "\"t3.xlarge\""));
	assert_string_equal(ev->error_code, "");                            /* "<NA>" is no value */
	assert_string_equal(ev->user_identity->account_id, "111122223333"); /* a number */
	assert_string_equal(ev->user_identity->type, "AssumedRole");
	assert_string_equal(ev->user_identity->session_issuer_user_name, "ops");
	assert_int_equal(ev->read_only, TFDRIFT__V1__READ_ONLY__READ_ONLY_FALSE);
	assert_int_equal(ev->n_resources, 2);
	assert_int_equal(ev->origin, HTTP);
	assert_string_equal(ev->falco_rule, "Terraform Managed Resource Modified");
	assert_string_equal(ev->falco_priority, "Warning");
	assert_string_equal(ev->falco_hostname, "falco-0");
	assert_int_equal(ev->n_falco_tags, 2);
	assert_string_equal(ev->origin_detail, "http:127.0.0.1:5555");
	/* ct.response is null (present, no value): not "missing" from the rule */
	assert_false(has_missing(ev, "ct.response"));
	assert_int_equal(ev->n_missing_fields, 0);
	ct_event_free(ev);
}

/* Numbers beyond int64 (found by fuzz_falco_alert: the cast to int64 was
 * undefined for 1e300 and for the inf cJSON makes of 1e999) keep their
 * %.17g spelling; integral ones within range keep their digits. */
static void
numbers_beyond_int64_are_text(void **state)
{
	const char *body =
	    "{\"time\":\"2026-07-23T09:43:00Z\",\"rule\":\"R\",\"source\":\"aws_cloudtrail\","
	    "\"output_fields\":{\"ct.name\":\"RunInstances\",\"ct.id\":1e300,"
	    "\"ct.user.accountid\":-9223372036854775808,\"ct.region\":1e999}}";
	Tfdrift__V1__CloudEvent *ev = NULL;
	td_error err;

	(void)state;
	assert_int_equal(parse(body, &ev, &err), 0);
	assert_string_equal(ev->event_id, "1.0000000000000001e+300");
	assert_string_equal(ev->user_identity->account_id, "-9223372036854775808");
	assert_string_equal(ev->aws_region, "inf");
	ct_event_free(ev);
}

static void
missing_fields_are_accepted_and_listed(void **state)
{
	const char *body =
	    "{\"time\":\"2026-07-23T09:43:00Z\",\"rule\":\"R\",\"source\":\"aws_cloudtrail\","
	    "\"output_fields\":{\"ct.name\":\"RunInstances\"}}";
	Tfdrift__V1__CloudEvent *ev = NULL, *again = NULL;
	td_error err;

	(void)state;
	assert_int_equal(parse(body, &ev, &err), 0);
	assert_true(has_missing(ev, "ct.id"));
	assert_true(has_missing(ev, "ct.region"));
	assert_true(has_missing(ev, "ct.request"));
	assert_false(has_missing(ev, "ct.name"));
	assert_string_equal(ev->event_source, "unknown");
	/* the derived id is stable: a resent alert keeps it */
	assert_int_equal(parse(body, &again, &err), 0);
	assert_true(strncmp(ev->event_id, "falco-", 6) == 0);
	assert_string_equal(ev->event_id, again->event_id);
	assert_true(ev->event_time_ns > 0); /* from the alert's time */
	ct_event_free(ev);
	ct_event_free(again);
}

static void
other_sources_are_dropped(void **state)
{
	const char *body =
	    "{\"rule\":\"Terminal shell\",\"source\":\"syscall\",\"output_fields\":{}}";
	Tfdrift__V1__CloudEvent *ev = NULL;
	char source[64];
	td_error err;

	(void)state;
	td_error_clear(&err);
	assert_int_equal(falco_alert_parse(body, strlen(body), HTTP, NULL, &ev, source,
			     sizeof(source), &err),
	    FALCO_ALERT_OTHER_SOURCE);
	assert_null(ev);
	assert_string_equal(source, "syscall");
}

static void
wrong_input_names_the_field(void **state)
{
	static const struct {
		const char *body, *prefix;
	} cases[] = {
		{ "not json at all", "body: " },
		{ "", "body: " },
		{ "[1,2]", "body: " },
		{ "{\"rule\":\"R\",\"output_fields\":{}}", "source: missing" },
		{ "{\"rule\":42,\"source\":\"aws_cloudtrail\",\"output_fields\":{}}", "rule: " },
		{ "{\"rule\":\"R\",\"source\":\"aws_cloudtrail\"}", "output_fields: missing" },
		{ "{\"rule\":\"R\",\"source\":\"aws_cloudtrail\",\"output_fields\":\"x\"}",
		    "output_fields: expected an object" },
		{ "{\"rule\":\"R\",\"source\":\"aws_cloudtrail\",\"tags\":\"t\",\"output_fields\":{}}",
		    "tags: " },
		{ "{\"rule\":\"R\",\"source\":\"aws_cloudtrail\",\"time\":\"2026-07-23T09:43:00Z\","
		  "\"output_fields\":{\"ct.name\":{\"a\":1}}}",
		    "output_fields.ct.name: " },
		{ "{\"rule\":\"R\",\"source\":\"aws_cloudtrail\",\"time\":\"2026-07-23T09:43:00Z\","
		  "\"output_fields\":{\"ct.request\":\"{broken\"}}",
		    "output_fields.ct.request: not JSON text" },
		{ "{\"rule\":\"R\",\"source\":\"aws_cloudtrail\",\"time\":\"2026-07-23T09:43:00Z\","
		  "\"output_fields\":{\"ct.readonly\":\"maybe\"}}",
		    "output_fields.ct.readonly: " },
		{ "{\"rule\":\"R\",\"source\":\"aws_cloudtrail\",\"output_fields\":{\"ct.name\":\"X\"}}",
		    "time: missing" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Tfdrift__V1__CloudEvent *ev = NULL;
		td_error err;
		int rv = parse(cases[i].body, &ev, &err);

		if (rv != TD_EINVAL ||
		    strncmp(err.msg, cases[i].prefix, strlen(cases[i].prefix)) != 0)
			fail_msg("case %zu: rv %d, message '%s', wanted a message starting '%s'", i,
			    rv, err.msg, cases[i].prefix);
		assert_null(ev);
	}
}

/* An alert whose ct.request is JSON text with the given inner text (already
 * escaped for a JSON string). */
static char *
alert_with_request(const char *escaped)
{
	char *body = NULL;

	if (asprintf(&body,
		"{\"time\":\"2026-07-23T09:43:00Z\",\"rule\":\"R\",\"source\":\"aws_cloudtrail\","
		"\"output_fields\":{\"ct.id\":\"e-9\",\"ct.name\":\"PutBucketPolicy\","
		"\"ct.request\":\"%s\"}}",
		escaped) < 0)
		return NULL;
	return body;
}

static void
request_text_is_checked_and_minified(void **state)
{
	static const struct {
		const char *in, *want;
	} good[] = {
		{ " {\\n  \\\"bucketName\\\" : \\\"b\\\",\\t\\\"n\\\": [1, -2.5e3, 0, true, false, null] }\\r\\n",
		    "{\"bucketName\":\"b\",\"n\":[1,-2.5e3,0,true,false,null]}" },
		/* string contents are kept byte for byte, escapes included */
		{ "{\\\"p\\\":\\\"a b \\\\\\\"q\\\\\\\" \\\\u00e9 \\\\n \\\\/\\\"}",
		    "{\"p\":\"a b \\\"q\\\" \\u00e9 \\n \\/\"}" },
		{ "[]", "[]" }, { "{ }", "{}" }, { "\\\"just a string\\\"", "\"just a string\"" },
		{ "42", "42" }, { "null", "" }, /* no value, as an absent one */
	};
	static const char *const bad[] = {
		"{broken",
		"{\\\"a\\\":1}}",
		"{\\\"a\\\":1} x",
		"{\\\"a\\\" 1}",
		"{\\\"a\\\":}",
		"[1,]",
		"{,}",
		"[01]",
		"[1.]",
		"[-]",
		"[1e]",
		"[tru]",
		"{\\\"a\\\":\\\"\\\\x\\\"}",
		"{\\\"a\\\":\\\"\\\\u12g4\\\"}",
		"{\\\"a\\\":\\\"tab\\there\\\"}",
		"{\\\"a\\\":\\\"unterminated}",
		"{\\\"a\\\":[1,2}",
		"[1 2]",
		"",
		"   ",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char *body = alert_with_request(good[i].in);
		Tfdrift__V1__CloudEvent *ev = NULL;
		td_error err;

		assert_non_null(body);
		if (parse(body, &ev, &err) != 0)
			fail_msg("good case %zu refused: %s", i, err.msg);
		if (strcmp(ev->request_parameters_json, good[i].want) != 0)
			fail_msg("good case %zu: got '%s', wanted '%s'", i,
			    ev->request_parameters_json, good[i].want);
		ct_event_free(ev);
		free(body);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *body = alert_with_request(bad[i]);
		Tfdrift__V1__CloudEvent *ev = NULL;
		td_error err;
		int rv;

		assert_non_null(body);
		rv = parse(body, &ev, &err);
		/* "" is no value at all, not JSON text */
		if (bad[i][0] == '\0') {
			assert_int_equal(rv, 0);
			assert_string_equal(ev->request_parameters_json, "");
		} else if (rv != TD_EINVAL ||
		    strcmp(err.msg, "output_fields.ct.request: not JSON text") != 0) {
			fail_msg("bad case %zu (%s): rv %d, '%s'", i, bad[i], rv, err.msg);
		}
		ct_event_free(ev);
		free(body);
	}
}

/* raw_json is the CloudTrail record the fields stand for (stored as raw_event). */
static void
raw_json_is_the_record(void **state)
{
	const char *body =
	    "{\"time\":\"2026-07-23T09:40:55.000000000Z\",\"rule\":\"R\",\"source\":\"aws_cloudtrail\","
	    "\"output_fields\":{\"ct.id\":\"e-1\",\"ct.time\":\"2026-07-23T09:40:55Z\","
	    "\"ct.src\":\"s3.amazonaws.com\",\"ct.name\":\"PutBucketAcl\",\"ct.region\":\"eu-west-1\","
	    "\"ct.request\":\"{\\\"bucketName\\\": \\\"b\\\\\\\"q\\\", \\\"acl\\\": [\\\"x\\\"]}\","
	    "\"ct.response\":\"null\",\"ct.user\":\"ops\",\"ct.user.identitytype\":\"AssumedRole\","
	    "\"ct.user.arn\":\"arn:aws:sts::1:assumed-role/ops/al\\\"ice\",\"ct.readonly\":\"false\","
	    "\"ct.useragent\":\"ua\\ttab\",\"ct.resources\":\"{\\\"ARN\\\":\\\"arn:b\\\"}\"}}";
	Tfdrift__V1__CloudEvent *ev = NULL;
	cJSON *raw, *req, *ui;
	td_error err;

	(void)state;
	assert_int_equal(parse(body, &ev, &err), 0);
	raw = cJSON_Parse(ev->raw_json);
	assert_non_null(raw);
	assert_string_equal(cJSON_GetObjectItem(raw, "eventID")->valuestring, "e-1");
	assert_string_equal(cJSON_GetObjectItem(raw, "eventTime")->valuestring,
	    "2026-07-23T09:40:55Z");
	assert_string_equal(cJSON_GetObjectItem(raw, "userAgent")->valuestring, "ua\ttab");
	req = cJSON_GetObjectItem(raw, "requestParameters");
	assert_true(cJSON_IsObject(req));
	assert_string_equal(cJSON_GetObjectItem(req, "bucketName")->valuestring, "b\"q");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(raw, "responseElements")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(raw, "readOnly")));
	ui = cJSON_GetObjectItem(raw, "userIdentity");
	assert_string_equal(cJSON_GetObjectItem(ui, "type")->valuestring, "AssumedRole");
	assert_string_equal(cJSON_GetObjectItem(ui, "arn")->valuestring,
	    "arn:aws:sts::1:assumed-role/ops/al\"ice");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(ui,
									"sessionContext"),
						    "sessionIssuer"),
				"userName")
				->valuestring,
	    "ops");
	assert_string_equal(
	    cJSON_GetArrayItem(cJSON_GetObjectItem(raw, "resources"), 0)->child->valuestring,
	    "arn:b");
	assert_string_equal(ev->user_identity->session_name, "al\"ice");
	assert_string_equal(ev->response_elements_json, "");
	cJSON_Delete(raw);
	ct_event_free(ev);
}

/* An arena for falco_alert_from_fields: every block is kept in a list and
 * freed at once by arena_clear; free does nothing. */
typedef struct test_arena {
	void *blocks[4096];
	size_t n;
} test_arena;

static void *
ta_alloc(void *data, size_t n)
{
	test_arena *a = data;
	void *p;

	if (a->n == sizeof(a->blocks) / sizeof(a->blocks[0]))
		return NULL;
	p = malloc(n);
	if (p != NULL)
		a->blocks[a->n++] = p;
	return p;
}

static void
ta_free(void *data, void *p)
{
	(void)data;
	(void)p;
}

static void
ta_clear(test_arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->blocks[i]);
	a->n = 0;
}

/* A gRPC alert (the response's fields, all strings) maps to the same event as
 * the JSON alert Falco's http_output would post for it. */
static void
grpc_fields_map_like_json(void **state)
{
	const char *keys[] = { "ct.id", "ct.time", "ct.src", "ct.name", "ct.region", "ct.request",
		"ct.response", "ct.error", "ct.user", "ct.user.identitytype", "ct.user.arn",
		"ct.user.accountid", "ct.readonly", "evt.time" };
	const char *vals[] = { "e-7", "2026-07-23T09:40:55Z", "ec2.amazonaws.com",
		"AuthorizeSecurityGroupIngress", "us-east-1",
		"{\"groupId\": \"sg-1\", \"cidr\": \"0.0.0.0/0\"}", "<NA>", "", "dev", "IAMUser",
		"arn:aws:iam::1:user/dev", "111122223333", "false", "1784799655000000000" };
	const char *tags[] = { "drift", "iac" };
	const char *json =
	    "{\"time\":\"2026-07-23T09:40:55.000000000Z\",\"rule\":\"Drift\",\"priority\":\"Warning\","
	    "\"source\":\"aws_cloudtrail\",\"hostname\":\"h\",\"tags\":[\"drift\",\"iac\"],"
	    "\"output_fields\":{\"ct.id\":\"e-7\",\"ct.time\":\"2026-07-23T09:40:55Z\","
	    "\"ct.src\":\"ec2.amazonaws.com\",\"ct.name\":\"AuthorizeSecurityGroupIngress\","
	    "\"ct.region\":\"us-east-1\",\"ct.request\":\"{\\\"groupId\\\": \\\"sg-1\\\", "
	    "\\\"cidr\\\": \\\"0.0.0.0/0\\\"}\",\"ct.response\":\"<NA>\",\"ct.error\":\"\","
	    "\"ct.user\":\"dev\",\"ct.user.identitytype\":\"IAMUser\","
	    "\"ct.user.arn\":\"arn:aws:iam::1:user/dev\",\"ct.user.accountid\":\"111122223333\","
	    "\"ct.readonly\":\"false\",\"evt.time\":\"1784799655000000000\"}}";
	falco_alert_fields a = { .time = "2026-07-23T09:40:55.000000000Z",
		.rule = "Drift",
		.priority = "Warning",
		.source = "aws_cloudtrail",
		.hostname = "h",
		.tags = tags,
		.n_tags = 2,
		.keys = keys,
		.values = vals,
		.n_fields = sizeof(keys) / sizeof(keys[0]) };
	Tfdrift__V1__CloudEvent *g = NULL, *h = NULL;
	char *gj, *hj;
	td_error err;

	(void)state;
	td_error_clear(&err);
	assert_int_equal(falco_alert_from_fields(&a, HTTP, "http:127.0.0.1:5555", NULL, &g, &err),
	    0);
	assert_int_equal(parse(json, &h, &err), 0);
	g->received_at_ns = h->received_at_ns = 0;
	assert_int_equal(ct_event_to_json(g, &gj), 0);
	assert_int_equal(ct_event_to_json(h, &hj), 0);
	assert_string_equal(gj, hj);
	assert_string_equal(g->raw_json, h->raw_json);
	assert_string_equal(g->request_parameters_json,
	    "{\"groupId\":\"sg-1\",\"cidr\":\"0.0.0.0/0\"}");
	assert_string_equal(g->user_identity->user_name, "dev");
	assert_string_equal(g->account_id, "111122223333");
	assert_int_equal(g->n_falco_tags, 2);
	assert_string_equal(g->falco_priority, "Warning");
	assert_int_equal(g->n_missing_fields, 1); /* ct.srcip */
	assert_string_equal(g->missing_fields[0], "ct.srcip");
	free(gj);
	free(hj);
	ct_event_free(h);

	/* built in an arena (as the gRPC client does) it packs to the same bytes */
	{
		static test_arena ar;
		ProtobufCAllocator alloc;
		uint8_t *p1, *p2;
		size_t n1, n2;

		alloc.alloc = ta_alloc;
		alloc.free = ta_free;
		alloc.allocator_data = &ar;

		assert_int_equal(falco_alert_from_fields(&a, HTTP, "http:127.0.0.1:5555", &alloc,
				     &h, &err),
		    0);
		h->received_at_ns = 0;
		n1 = tfdrift__v1__cloud_event__get_packed_size(g);
		n2 = tfdrift__v1__cloud_event__get_packed_size(h);
		assert_int_equal(n1, n2);
		p1 = malloc(n1);
		p2 = malloc(n2);
		tfdrift__v1__cloud_event__pack(g, p1);
		tfdrift__v1__cloud_event__pack(h, p2);
		assert_memory_equal(p1, p2, n1);
		assert_true(ar.n > 0);
		free(p1);
		free(p2);
		ta_clear(&ar); /* h goes with the arena */
		h = NULL;
	}
	ct_event_free(g);

	/* without ct.id both paths derive the same id */
	keys[0] = "ct.ix";
	assert_int_equal(falco_alert_from_fields(&a, HTTP, NULL, NULL, &g, &err), 0);
	assert_true(strncmp(g->event_id, "falco-", 6) == 0);
	{
		char *j2 = strdup(json);
		char *p = strstr(j2, "\"ct.id\"");
		p[5] = 'x'; /* "ct.ix", as in keys[0] */
		assert_int_equal(parse(j2, &h, &err), 0);
		assert_string_equal(g->event_id, h->event_id);
		assert_true(has_missing(h, "ct.id"));
		ct_event_free(h);
		free(j2);
	}
	ct_event_free(g);

	/* other sources, bad values */
	a.source = "syscall";
	assert_int_equal(falco_alert_from_fields(&a, HTTP, NULL, NULL, &g, &err),
	    FALCO_ALERT_OTHER_SOURCE);
	assert_null(g);
	a.source = "aws_cloudtrail";
	vals[12] = "maybe";
	assert_int_equal(falco_alert_from_fields(&a, HTTP, NULL, NULL, &g, &err), TD_EINVAL);
	assert_string_equal(err.msg,
	    "output_fields.ct.readonly: expected \"true\" or \"false\", got \"maybe\"");
	vals[12] = "false";
	vals[5] = "{\"groupId\": ";
	assert_int_equal(falco_alert_from_fields(&a, HTTP, NULL, NULL, &g, &err), TD_EINVAL);
	assert_string_equal(err.msg, "output_fields.ct.request: not JSON text");
	vals[5] = "{}";
	vals[1] = "yesterday";
	assert_int_equal(falco_alert_from_fields(&a, HTTP, NULL, NULL, &g, &err), TD_EINVAL);
	assert_true(strncmp(err.msg, "output_fields.ct.time: ", 23) == 0);
	assert_null(g);
}

/* Text PostgreSQL would refuse (invalid UTF-8, NUL) or JSON with anything
 * after the value is refused, naming the field, on both paths. */
static void
bad_text_is_refused(void **state)
{
	static const struct {
		const char *body, *want;
	} cases[] = {
		{ "{\"source\":\"aws_cloudtrail\",\"rule\":\"r\",\"output_fields\":{\"ct.id\":\"a\xff\"}}",
		    "output_fields.ct.id: the string is not valid UTF-8" },
		{ "{\"source\":\"aws_cloudtrail\",\"rule\":\"r\",\"output_fields\":{\"ct.user.arn\":"
		  "\"a\\u0000b\"}}",
		    "output_fields.ct.user.arn: the string contains a NUL" },
		{ "{\"source\":\"aws_cloudtrail\",\"rule\":\"r\",\"time\":\"2026-01-02T03:04:05Z\","
		  "\"output_fields\":{\"ct.request\":"
		  "\"{\\\"k\\\":\\\"\\\\u0000\\\"}\"}}",
		    "output_fields.ct.request.k: the string contains a NUL" },
		{ "{\"source\":\"aws_cloudtrail\",\"rule\":\"r\",\"output_fields\":{}} xyz}",
		    "body: not JSON: text after the value" },
	};
	const char *keys[] = { "ct.id", "ct.user.arn" };
	const char *vals[] = { "ok", "arn:\xc3\x28" };
	falco_alert_fields a = { .rule = "r",
		.source = "aws_cloudtrail",
		.keys = keys,
		.values = vals,
		.n_fields = 2 };
	Tfdrift__V1__CloudEvent *ev = NULL;
	td_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		td_error_clear(&err);
		int rv = falco_alert_parse(cases[i].body, strlen(cases[i].body), HTTP, NULL, &ev,
		    NULL, 0, &err);
		if (rv != TD_EINVAL || strncmp(err.msg, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("case %zu: rv %d, '%s', wanted '%s'", i, rv, err.msg,
			    cases[i].want);
		assert_null(ev);
	}
	assert_int_equal(falco_alert_from_fields(&a, HTTP, NULL, NULL, &ev, &err), TD_EINVAL);
	assert_string_equal(err.msg, "output_fields.ct.user.arn: not valid UTF-8");
	a.rule = "r\xff";
	vals[1] = "arn:ok";
	assert_int_equal(falco_alert_from_fields(&a, HTTP, NULL, NULL, &ev, &err), TD_EINVAL);
	assert_string_equal(err.msg, "rule: not valid UTF-8");
	assert_null(ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_alert_with_nulls_numbers_and_double_encoding),
		cmocka_unit_test(missing_fields_are_accepted_and_listed),
		cmocka_unit_test(numbers_beyond_int64_are_text),
		cmocka_unit_test(other_sources_are_dropped),
		cmocka_unit_test(wrong_input_names_the_field),
		cmocka_unit_test(request_text_is_checked_and_minified),
		cmocka_unit_test(raw_json_is_the_record),
		cmocka_unit_test(grpc_fields_map_like_json),
		cmocka_unit_test(bad_text_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
