/* test_correlator_rule.c — the starter rule's decisions, with the resource
 * index given as a table instead of Redis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/correlator/rule.h"
#include "tfdrift/error.h"
#include "tfdrift/id.h"

/* ---- a resource index as a table ---------------------------------------------- */

typedef struct index_row {
	const char *identifier, *workspace, *address, *type;
} index_row;

static const index_row demo_index[] = {
	{ "i-0abc", "prod/network", "aws_instance.web", "aws_instance" },
	{ "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc", "prod/network", "aws_instance.web",
	    "aws_instance" },
	{ "i-0def", "prod/network", "aws_instance.db", "aws_instance" },
	{ "acme-logs", "prod/storage", "aws_s3_bucket.logs", "aws_s3_bucket" },
	{ "ci-deployer", "prod/iam", "aws_iam_role.deployer", "aws_iam_role" },
	{ NULL, NULL, NULL, NULL },
};

typedef struct table_index {
	const index_row *rows;
	int fail; /* non-zero: every lookup fails with this code */
	int calls;
} table_index;

static int
table_lookup(void *arg, const char *identifier, rule_match *m)
{
	table_index *t = arg;

	t->calls++;
	if (t->fail != 0)
		return t->fail;
	for (const index_row *r = t->rows; r->identifier != NULL; r++) {
		if (strcmp(r->identifier, identifier) == 0) {
			snprintf(m->workspace, sizeof(m->workspace), "%s", r->workspace);
			snprintf(m->address, sizeof(m->address), "%s", r->address);
			snprintf(m->type, sizeof(m->type), "%s", r->type);
			return 0;
		}
	}
	return TD_ENOTFOUND;
}

/* ---- events ------------------------------------------------------------------- */

typedef struct event {
	Tfdrift__V1__CloudEvent ev;
	Tfdrift__V1__UserIdentity id;
	Tfdrift__V1__EventResource res[2];
	Tfdrift__V1__EventResource *resp[2];
} event;

/* An AssumedRole call by alice; tests change what they need.  Strings are
 * literals: the rule only reads them. */
static void
make_event(event *e, const char *name, const char *source, const char *req, const char *resp)
{
	memset(e, 0, sizeof(*e));
	tfdrift__v1__cloud_event__init(&e->ev);
	tfdrift__v1__user_identity__init(&e->id);
	e->id.type = (char *)"AssumedRole";
	e->id.arn = (char *)"arn:aws:sts::123456789012:assumed-role/PlatformAdmin/alice";
	e->id.principal_id = (char *)"AROAEXAMPLE:alice";
	e->id.account_id = (char *)"123456789012";
	e->id.session_name = (char *)"alice";
	e->id.session_issuer_arn = (char *)"arn:aws:iam::123456789012:role/PlatformAdmin";
	e->id.access_key_id = (char *)"ASIAEXAMPLE";
	e->ev.user_identity = &e->id;
	e->ev.event_id = (char *)"evt-1";
	e->ev.event_time_ns = 1714564800LL * 1000000000LL;
	e->ev.event_name = (char *)name;
	e->ev.event_source = (char *)source;
	e->ev.aws_region = (char *)"eu-west-1";
	e->ev.account_id = (char *)"123456789012";
	e->ev.source_ip = (char *)"203.0.113.7";
	e->ev.user_agent = (char *)"aws-cli/2.15.30 Python/3.11.8";
	e->ev.read_only = TFDRIFT__V1__READ_ONLY__READ_ONLY_FALSE;
	e->ev.request_parameters_json = (char *)(req ? req : "");
	e->ev.response_elements_json = (char *)(resp ? resp : "");
	e->ev.raw_json = (char *)"{\"eventID\":\"evt-1\"}";
	e->ev.falco_rule = (char *)"AWS drift";
	e->ev.falco_priority = (char *)"Warning";
}

static void
add_resource(event *e, const char *arn)
{
	size_t i = e->ev.n_resources;

	tfdrift__v1__event_resource__init(&e->res[i]);
	e->res[i].arn = (char *)arn;
	e->resp[i] = &e->res[i];
	e->ev.resources = e->resp;
	e->ev.n_resources = i + 1;
}

static const char *
ident(const Tfdrift__V1__DriftAlert *a, const char *key)
{
	for (size_t i = 0; i < a->n_identifiers; i++)
		if (strcmp(a->identifiers[i]->key, key) == 0)
			return a->identifiers[i]->value;
	return NULL;
}

/* ---- skip --------------------------------------------------------------------- */

static void
skip_reasons(void **state)
{
	event e;
	(void)state;

	make_event(&e, "ModifyInstanceAttribute", "ec2.amazonaws.com", NULL, NULL);
	assert_null(rule_skip_reason(&e.ev));

	e.ev.read_only = TFDRIFT__V1__READ_ONLY__READ_ONLY_TRUE;
	assert_string_equal(rule_skip_reason(&e.ev), "read_only");
	e.ev.read_only = TFDRIFT__V1__READ_ONLY__READ_ONLY_UNKNOWN;
	assert_null(rule_skip_reason(&e.ev));

	e.ev.error_code = (char *)"AccessDenied";
	assert_string_equal(rule_skip_reason(&e.ev), "failed");
	e.ev.error_code = (char *)"";

	e.ev.user_agent = (char
		*)"APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) "
		  "terraform-provider-aws/5.40.0 (+https://registry.terraform.io/providers/hashicorp/aws) "
		  "aws-sdk-go-v2/1.25.2 os/linux lang/go#1.21.8";
	assert_string_equal(rule_skip_reason(&e.ev), "terraform");
	e.ev.user_agent = (char *)"terraform-provider-aws/dev";
	assert_string_equal(rule_skip_reason(&e.ev), "terraform");
	e.ev.user_agent = (char *)"console.amazonaws.com";
	assert_null(rule_skip_reason(&e.ev));
}

static void
skipped_event_makes_no_alert(void **state)
{
	event e;
	table_index t = { .rows = demo_index };
	rule_alerts out = { 0 };
	const char *skip = NULL;
	(void)state;

	make_event(&e, "DescribeInstances", "ec2.amazonaws.com", "{\"instanceId\":\"i-0abc\"}",
	    NULL);
	e.ev.read_only = TFDRIFT__V1__READ_ONLY__READ_ONLY_TRUE;
	assert_int_equal(rule_evaluate(&e.ev, table_lookup, &t, 1, &out, &skip), 0);
	assert_string_equal(skip, "read_only");
	assert_int_equal(out.n, 0);
	assert_int_equal(t.calls, 0);
}

/* ---- identifiers ---------------------------------------------------------------- */

static void
extracts_identifiers(void **state)
{
	event e;
	rule_idents ids = { 0 };
	(void)state;

	make_event(&e, "RunInstances", "ec2.amazonaws.com",
	    "{\"instancesSet\":{\"items\":[{\"imageId\":\"ami-1\",\"minCount\":1}]},"
	    "\"subnetId\":\"subnet-1\",\"name\":{\"nested\":\"ignored\"},\"count\":3}",
	    "{\"instancesSet\":{\"items\":[{\"instanceId\":\"i-1\"},{\"instanceId\":\"i-2\"},"
	    "{\"noId\":true},{\"instanceId\":\"i-3\"}]},\"subnetId\":\"subnet-1\"}");
	add_resource(&e, "arn:aws:ec2:eu-west-1:1:instance/i-1");
	add_resource(&e, "");
	assert_int_equal(rule_extract_identifiers(&e.ev, &ids), 0);
	assert_int_equal(ids.n, 5);
	assert_string_equal(ids.items[0].key, "subnetId");
	assert_string_equal(ids.items[0].value, "subnet-1");
	assert_string_equal(ids.items[1].key, "instanceId");
	assert_string_equal(ids.items[1].value, "i-1");
	assert_string_equal(ids.items[2].key, "instanceId.2");
	assert_string_equal(ids.items[2].value, "i-2");
	assert_string_equal(ids.items[3].key, "instanceId.3");
	assert_string_equal(ids.items[3].value, "i-3");
	assert_string_equal(ids.items[4].key, "arn");
	assert_string_equal(ids.items[4].value, "arn:aws:ec2:eu-west-1:1:instance/i-1");
	rule_idents_free(&ids);

	/* every key of the table; JSON that is not an object gives nothing */
	make_event(&e, "X", "x.amazonaws.com",
	    "{\"bucketName\":\"b\",\"groupId\":\"sg-1\",\"roleName\":\"r\",\"userName\":\"u\","
	    "\"policyArn\":\"arn:p\",\"functionName\":\"f\",\"dBInstanceIdentifier\":\"db\","
	    "\"keyId\":\"k\",\"queueUrl\":\"https://q\",\"topicArn\":\"arn:t\",\"tableName\":\"t\","
	    "\"name\":\"n\",\"vpcId\":\"vpc-1\",\"clusterName\":\"c\",\"loadBalancerArn\":\"arn:lb\","
	    "\"instanceId\":\"i-9\",\"other\":\"no\"}",
	    "[\"i-77\"]");
	assert_int_equal(rule_extract_identifiers(&e.ev, &ids), 0);
	assert_int_equal(ids.n, 16);
	for (size_t i = 0; i < ids.n; i++)
		assert_string_not_equal(ids.items[i].value, "no");
	rule_idents_free(&ids);

	make_event(&e, "X", "x.amazonaws.com", "not json", NULL);
	assert_int_equal(rule_extract_identifiers(&e.ev, &ids), 0);
	assert_int_equal(ids.n, 0);
	rule_idents_free(&ids);
}

/* ---- kind and severity ---------------------------------------------------------- */

static void
kind_selection(void **state)
{
	static const struct {
		const char *name;
		bool matched;
		Tfdrift__V1__DriftKind kind;
	} cases[] = {
		{ "ModifyInstanceAttribute", true, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED },
		{ "ModifyInstanceAttribute", false, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED },
		{ "DeleteBucket", true, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DELETED },
		{ "TerminateInstances", true, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DELETED },
		{ "RemoveRoleFromInstanceProfile", true,
		    TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DELETED },
		{ "DeleteBucket", false, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED },
		{ "CreateBucket", false, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_UNMANAGED },
		{ "RunInstances", false, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_UNMANAGED },
		{ "PutBucketPolicy", false, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_UNMANAGED },
		{ "PutBucketPolicy", true, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED },
		{ "CreateTags", true, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED },
		{ "AuthorizeSecurityGroupIngress", false,
		    TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(rule_kind(cases[i].name, cases[i].matched), cases[i].kind);
}

static void
severity_by_kind_and_source(void **state)
{
	(void)state;
	assert_int_equal(rule_severity(TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DELETED,
			     "ec2.amazonaws.com"),
	    TFDRIFT__V1__SEVERITY__SEVERITY_HIGH);
	assert_int_equal(rule_severity(TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED,
			     "ec2.amazonaws.com"),
	    TFDRIFT__V1__SEVERITY__SEVERITY_MEDIUM);
	assert_int_equal(rule_severity(TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_UNMANAGED,
			     "s3.amazonaws.com"),
	    TFDRIFT__V1__SEVERITY__SEVERITY_MEDIUM);
	assert_int_equal(rule_severity(TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED,
			     "iam.amazonaws.com"),
	    TFDRIFT__V1__SEVERITY__SEVERITY_HIGH);
	assert_int_equal(rule_severity(TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DELETED,
			     "kms.amazonaws.com"),
	    TFDRIFT__V1__SEVERITY__SEVERITY_CRITICAL);
	assert_int_equal(rule_severity(TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_UNMANAGED,
			     "iam.amazonaws.com"),
	    TFDRIFT__V1__SEVERITY__SEVERITY_HIGH);
}

/* ---- whole alerts ---------------------------------------------------------------- */

static void
matched_modification(void **state)
{
	event e;
	table_index t = { .rows = demo_index };
	rule_alerts out = { 0 };
	const char *skip = "x";
	const Tfdrift__V1__DriftAlert *a;
	const char *parts[] = { "evt-1", "prod/network", "aws_instance.web", "" };
	char key[65];
	(void)state;

	make_event(&e, "ModifyInstanceAttribute", "ec2.amazonaws.com",
	    "{\"instanceId\":\"i-0abc\",\"instanceType\":{\"value\":\"t3.large\"}}",
	    "{\"_return\":true}");
	add_resource(&e, "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc");
	assert_int_equal(rule_evaluate(&e.ev, table_lookup, &t, 777, &out, &skip), 0);
	assert_null(skip);
	/* instance id and ARN name the same resource: one alert */
	assert_int_equal(out.n, 1);
	a = out.items[0];
	assert_int_equal(a->kind, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED);
	assert_int_equal(a->severity, TFDRIFT__V1__SEVERITY__SEVERITY_MEDIUM);
	assert_string_equal(a->workspace, "prod/network");
	assert_string_equal(a->resource_address, "aws_instance.web");
	assert_string_equal(a->resource_type, "aws_instance");
	assert_string_equal(a->attribute, "");
	assert_string_equal(a->alert_key, td_id_sha256_hex(key, parts, 4));
	assert_string_equal(a->event_id, "evt-1");
	assert_true(a->event_time_ns == 1714564800LL * 1000000000LL);
	assert_true(a->detected_at_ns == 777);
	assert_int_equal(a->n_identifiers, 2);
	assert_string_equal(ident(a, "instanceId"), "i-0abc");
	assert_string_equal(ident(a, "arn"), "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc");
	assert_string_equal(a->principal->type, "AssumedRole");
	assert_string_equal(a->principal->name, "alice");
	assert_string_equal(a->principal->arn,
	    "arn:aws:sts::123456789012:assumed-role/PlatformAdmin/alice");
	assert_string_equal(a->principal->account_id, "123456789012");
	assert_string_equal(a->principal->role_arn, "arn:aws:iam::123456789012:role/PlatformAdmin");
	assert_string_equal(a->principal->session_name, "alice");
	assert_string_equal(a->principal->principal_id, "AROAEXAMPLE:alice");
	assert_string_equal(a->principal->access_key_id, "ASIAEXAMPLE");
	assert_string_equal(a->source_ip, "203.0.113.7");
	assert_string_equal(a->user_agent, "aws-cli/2.15.30 Python/3.11.8");
	assert_string_equal(a->region, "eu-west-1");
	assert_string_equal(a->account_id, "123456789012");
	assert_string_equal(a->event_name, "ModifyInstanceAttribute");
	assert_string_equal(a->event_source, "ec2.amazonaws.com");
	assert_string_equal(a->service, "ec2");
	assert_string_equal(a->falco_rule, "AWS drift");
	assert_string_equal(a->falco_priority, "Warning");
	assert_string_equal(a->raw_event_json, "{\"eventID\":\"evt-1\"}");
	assert_string_equal(a->summary,
	    "ModifyInstanceAttribute on aws_instance.web (prod/network) by alice");
	assert_non_null(strstr(a->recommended_fix, "terraform plan -target=aws_instance.web"));
	assert_non_null(strstr(a->recommended_fix, "terraform apply -target=aws_instance.web"));
	rule_alerts_free(&out);
}

static void
deletion_of_two_managed_instances(void **state)
{
	event e;
	table_index t = { .rows = demo_index };
	rule_alerts out = { 0 };
	const char *skip;
	(void)state;

	make_event(&e, "TerminateInstances", "ec2.amazonaws.com",
	    "{\"instancesSet\":{\"items\":[{\"instanceId\":\"i-0abc\"},{\"instanceId\":\"i-0def\"},"
	    "{\"instanceId\":\"i-unknown\"}]}}",
	    NULL);
	assert_int_equal(rule_evaluate(&e.ev, table_lookup, &t, 1, &out, &skip), 0);
	assert_int_equal(out.n, 2);
	assert_int_equal(out.items[0]->kind, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DELETED);
	assert_int_equal(out.items[0]->severity, TFDRIFT__V1__SEVERITY__SEVERITY_HIGH);
	assert_string_equal(out.items[0]->resource_address, "aws_instance.web");
	assert_int_equal(out.items[0]->n_identifiers, 1);
	assert_string_equal(ident(out.items[0], "instanceId"), "i-0abc");
	assert_string_equal(out.items[1]->resource_address, "aws_instance.db");
	/* within its own alert the second instance is just "instanceId" */
	assert_string_equal(ident(out.items[1], "instanceId"), "i-0def");
	assert_string_not_equal(out.items[0]->alert_key, out.items[1]->alert_key);
	assert_string_equal(out.items[1]->summary,
	    "TerminateInstances deleted aws_instance.db (prod/network) by alice");
	assert_non_null(
	    strstr(out.items[1]->recommended_fix, "terraform apply -target=aws_instance.db"));
	rule_alerts_free(&out);
}

static void
unmanaged_creation(void **state)
{
	event e;
	table_index t = { .rows = demo_index };
	rule_alerts out = { 0 };
	const char *skip;
	const Tfdrift__V1__DriftAlert *a;
	const char *parts[] = { "evt-1", "", "", "" };
	char key[65];
	(void)state;

	make_event(&e, "RunInstances", "ec2.amazonaws.com", "{\"instanceType\":\"t3.micro\"}",
	    "{\"instancesSet\":{\"items\":[{\"instanceId\":\"i-new1\"},{\"instanceId\":\"i-new2\"}]}}");
	e.id.type = (char *)"IAMUser";
	e.id.user_name = (char *)"bob";
	assert_int_equal(rule_evaluate(&e.ev, table_lookup, &t, 1, &out, &skip), 0);
	assert_int_equal(out.n, 1);
	a = out.items[0];
	assert_int_equal(a->kind, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_UNMANAGED);
	assert_int_equal(a->severity, TFDRIFT__V1__SEVERITY__SEVERITY_MEDIUM);
	assert_string_equal(a->workspace, "");
	assert_string_equal(a->resource_address, "");
	assert_string_equal(a->resource_type, "");
	assert_int_equal(a->n_identifiers, 2);
	assert_string_equal(ident(a, "instanceId"), "i-new1");
	assert_string_equal(ident(a, "instanceId.2"), "i-new2");
	assert_string_equal(a->principal->name, "bob");
	assert_string_equal(a->alert_key, td_id_sha256_hex(key, parts, 4));
	assert_string_equal(a->summary, "RunInstances created i-new1 outside Terraform by bob");
	assert_non_null(strstr(a->recommended_fix, "import"));
	rule_alerts_free(&out);
}

static void
unmatched_change_and_no_identifier(void **state)
{
	event e;
	table_index t = { .rows = demo_index };
	rule_alerts out = { 0 };
	const char *skip;
	(void)state;

	make_event(&e, "AuthorizeSecurityGroupIngress", "ec2.amazonaws.com",
	    "{\"groupId\":\"sg-unknown\"}", NULL);
	e.id.type = (char *)"Root";
	e.id.principal_id = (char *)"123456789012";
	e.id.session_name = (char *)"";
	assert_int_equal(rule_evaluate(&e.ev, table_lookup, &t, 1, &out, &skip), 0);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.items[0]->kind, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED);
	assert_string_equal(out.items[0]->resource_address, "");
	assert_string_equal(ident(out.items[0], "groupId"), "sg-unknown");
	assert_string_equal(out.items[0]->principal->name, "123456789012");
	assert_string_equal(out.items[0]->summary,
	    "AuthorizeSecurityGroupIngress on sg-unknown (not in any loaded Terraform state) by 123456789012");

	/* appends: a second event adds its alert after the first */
	make_event(&e, "UpdateAccountPasswordPolicy", "iam.amazonaws.com",
	    "{\"minimumPasswordLength\":8}", NULL);
	assert_int_equal(rule_evaluate(&e.ev, table_lookup, &t, 1, &out, &skip), 0);
	assert_int_equal(out.n, 2);
	assert_int_equal(out.items[1]->n_identifiers, 0);
	assert_int_equal(out.items[1]->severity, TFDRIFT__V1__SEVERITY__SEVERITY_HIGH);
	assert_string_equal(out.items[1]->service, "iam");
	assert_non_null(strstr(out.items[1]->summary, "an unidentified resource"));
	rule_alerts_free(&out);
}

static void
lookup_failure_leaves_nothing(void **state)
{
	event e;
	table_index t = { .rows = demo_index };
	rule_alerts out = { 0 };
	const char *skip;
	(void)state;

	make_event(&e, "DeleteBucket", "s3.amazonaws.com", "{\"bucketName\":\"acme-logs\"}", NULL);
	assert_int_equal(rule_evaluate(&e.ev, table_lookup, &t, 1, &out, &skip), 0);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.items[0]->kind, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DELETED);
	assert_string_equal(out.items[0]->resource_address, "aws_s3_bucket.logs");

	t.fail = TD_EDEPEND;
	make_event(&e, "DeleteRole", "iam.amazonaws.com", "{\"roleName\":\"ci-deployer\"}", NULL);
	assert_int_equal(rule_evaluate(&e.ev, table_lookup, &t, 1, &out, &skip), TD_EDEPEND);
	assert_int_equal(out.n, 1); /* the earlier alert stays, nothing new */
	rule_alerts_free(&out);

	/* the same event once the index answers: a critical-path IAM deletion */
	t.fail = 0;
	assert_int_equal(rule_evaluate(&e.ev, table_lookup, &t, 1, &out, &skip), 0);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.items[0]->severity, TFDRIFT__V1__SEVERITY__SEVERITY_CRITICAL);
	assert_string_equal(out.items[0]->resource_address, "aws_iam_role.deployer");
	rule_alerts_free(&out);
}

static void
alerts_survive_protobuf_round_trip(void **state)
{
	event e;
	table_index t = { .rows = demo_index };
	rule_alerts out = { 0 };
	Tfdrift__V1__AlertBatch b = TFDRIFT__V1__ALERT_BATCH__INIT, *back;
	const char *skip;
	uint8_t *buf;
	size_t len;
	(void)state;

	make_event(&e, "ModifyInstanceAttribute", "ec2.amazonaws.com",
	    "{\"instanceId\":\"i-0abc\"}", NULL);
	assert_int_equal(rule_evaluate(&e.ev, table_lookup, &t, 1, &out, &skip), 0);
	b.alerts = out.items;
	b.n_alerts = out.n;
	b.events = 1;
	len = tfdrift__v1__alert_batch__get_packed_size(&b);
	buf = malloc(len);
	assert_non_null(buf);
	tfdrift__v1__alert_batch__pack(&b, buf);
	back = tfdrift__v1__alert_batch__unpack(NULL, len, buf);
	assert_non_null(back);
	assert_int_equal(back->n_alerts, 1);
	assert_string_equal(back->alerts[0]->resource_address, "aws_instance.web");
	assert_string_equal(back->alerts[0]->identifiers[0]->value, "i-0abc");
	assert_string_equal(back->alerts[0]->principal->name, "alice");
	tfdrift__v1__alert_batch__free_unpacked(back, NULL);
	free(buf);
	rule_alerts_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(skip_reasons),
		cmocka_unit_test(skipped_event_makes_no_alert),
		cmocka_unit_test(extracts_identifiers),
		cmocka_unit_test(kind_selection),
		cmocka_unit_test(severity_by_kind_and_source),
		cmocka_unit_test(matched_modification),
		cmocka_unit_test(deletion_of_two_managed_instances),
		cmocka_unit_test(unmanaged_creation),
		cmocka_unit_test(unmatched_change_and_no_identifier),
		cmocka_unit_test(lookup_failure_leaves_nothing),
		cmocka_unit_test(alerts_survive_protobuf_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
