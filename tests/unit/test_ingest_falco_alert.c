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

#include <cmocka.h>

#include "../../services/ingest/cloudtrail_record.h"
#include "../../services/ingest/falco_alert.h"
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_alert_with_nulls_numbers_and_double_encoding),
		cmocka_unit_test(missing_fields_are_accepted_and_listed),
		cmocka_unit_test(other_sources_are_dropped),
		cmocka_unit_test(wrong_input_names_the_field),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
