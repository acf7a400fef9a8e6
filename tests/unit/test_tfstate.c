/* test_tfstate.c — Terraform state v4 parsing, addresses, identifiers,
 * redaction and error messages (services/state-loader/{tfstate,redact,index}.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tfdrift/identifiers.h"
#include "tfdrift/redact.h"
#include "tfdrift/tfstate.h"

#define FIXTURES "tests/fixtures/states/"

/* ---- helpers ------------------------------------------------------------- */

static tfs_state *
load_fixture(const char *file)
{
	tfs_state *st = NULL;
	td_error err = { 0 };
	int rv = tfs_parse_file(&st, file, 0, &err);

	if (rv != 0) {
		fail_msg("%s: %s", file, err.msg);
	}
	return st;
}

static const tfs_instance *
find(const tfs_state *st, const char *address, bool deposed)
{
	size_t i;
	const tfs_instance *in;

	for (i = 0; (in = tfs_instance_at(st, i)) != NULL; i++) {
		if (strcmp(in->address, address) == 0 && (in->deposed != NULL) == deposed) {
			return in;
		}
	}
	fail_msg("no instance %s (deposed=%d)", address, deposed);
	return NULL;
}

/* An instance's attributes as a tree, kept until the group ends. */
static cJSON *trees[256];
static size_t ntrees;

static const cJSON *
A(const tfs_instance *in)
{
	cJSON *t = tfs_instance_attributes(in);

	assert_non_null(t);
	assert_true(ntrees < sizeof(trees) / sizeof(trees[0]));
	trees[ntrees++] = t;
	return t;
}

static int
free_trees(void **state)
{
	(void)state;
	while (ntrees > 0) {
		cJSON_Delete(trees[--ntrees]);
	}
	return 0;
}

/* Every instance's attributes as JSON, concatenated; malloc'd. */
static char *
all_attributes_json(const tfs_state *st)
{
	size_t i, len = 0;
	char *all = calloc(1, 1), *one, *grown;
	const tfs_instance *in;

	for (i = 0; (in = tfs_instance_at(st, i)) != NULL; i++) {
		one = cJSON_PrintUnformatted(A(in));
		assert_non_null(one);
		grown = realloc(all, len + strlen(one) + 2);
		assert_non_null(grown);
		all = grown;
		memcpy(all + len, one, strlen(one) + 1);
		len += strlen(one);
		all[len++] = '\n';
		all[len] = '\0';
		cJSON_free(one);
	}
	return all;
}

/* Parses text named `name` and expects failure with code and message. */
static void
expect_error(const char *text, const char *name, int code, const char *msg)
{
	tfs_state *st = NULL;
	td_error err = { 0 };
	int rv = tfs_parse_buffer(&st, text, strlen(text), name, &err);

	assert_null(st);
	assert_int_equal(rv, code);
	if (strcmp(err.msg, msg) != 0) {
		fail_msg("expected \"%s\"\n     got \"%s\"", msg, err.msg);
	}
}

/* ---- addresses -------------------------------------------------------------- */

static void
test_header_fields(void **state)
{
	tfs_state *st = load_fixture(FIXTURES "prod.tfstate");

	(void)state;
	assert_int_equal(tfs_serial(st), 42);
	assert_string_equal(tfs_lineage(st), "8d6f2a61-3c0e-4b7e-9a55-0f1e2d3c4b5a");
	assert_string_equal(tfs_terraform_version(st), "1.9.8");
	assert_int_equal(tfs_instance_count(st), 20);
	/* 20 objects minus 2 data sources minus 1 deposed */
	assert_int_equal(tfs_indexed_count(st), 17);
	tfs_free(st);
}

static void
test_addresses(void **state)
{
	static const char *const want[] = {
		"data.aws_ami.ubuntu",
		"aws_cloudwatch_log_group.app",
		"aws_db_instance.main",
		"aws_iam_access_key.deploy",
		"aws_iam_role.app",
		"aws_iam_user.deploy",
		"aws_iam_user_login_profile.deploy",
		"aws_instance.web[0]",
		"aws_instance.web[1]",
		"aws_instance.web[1]",
		"aws_lambda_function.api",
		"aws_security_group.web",
		"aws_vpc.main",
		"module.apps[\"payments\"].module.queue.aws_sqs_queue.jobs[\"ordered \\\"fifo\\\"\"]",
		"module.apps[\"payments\"].aws_s3_bucket.assets[\"eu\"]",
		"module.apps[\"payments\"].aws_s3_bucket.assets[\"us\"]",
		"module.network.data.aws_availability_zones.available",
		"module.network.aws_subnet.private[0]",
		"module.network.aws_subnet.private[1]",
		"module.network.aws_vpn_connection.office",
	};
	tfs_state *st = load_fixture(FIXTURES "prod.tfstate");
	size_t i;

	(void)state;
	assert_int_equal(tfs_instance_count(st), sizeof(want) / sizeof(want[0]));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_string_equal(tfs_instance_at(st, i)->address, want[i]);
	}
	assert_null(tfs_instance_at(st, i));
	tfs_free(st);
}

static void
test_modes_status_deposed(void **state)
{
	tfs_state *st = load_fixture(FIXTURES "prod.tfstate");
	const tfs_instance *in;

	(void)state;
	in = find(st, "data.aws_ami.ubuntu", false);
	assert_false(in->managed);
	assert_false(tfs_instance_indexed(in));
	assert_string_equal(in->type, "aws_ami");
	assert_string_equal(in->module, "");

	in = find(st, "module.network.data.aws_availability_zones.available", false);
	assert_false(in->managed);
	assert_string_equal(in->module, "module.network");
	assert_string_equal(in->name, "available");

	in = find(st, "aws_instance.web[0]", false);
	assert_true(in->tainted);
	assert_true(tfs_instance_indexed(in)); /* tainted objects still exist */

	in = find(st, "aws_instance.web[1]", true);
	assert_string_equal(in->deposed, "00000001");
	assert_false(tfs_instance_indexed(in));
	assert_string_equal(cJSON_GetObjectItem(A(in), "id")->valuestring, "i-0ccccccccccccccc9");

	in = find(st, "aws_instance.web[1]", false);
	assert_null(in->deposed);
	assert_false(in->tainted);
	assert_string_equal(cJSON_GetObjectItem(A(in), "id")->valuestring, "i-0bbbbbbbbbbbbbbb1");
	assert_int_equal(in->resource_index, 7);
	assert_int_equal(in->instance_index, 1);

	in = find(st, "aws_db_instance.main", false);
	assert_non_null(in->dependencies);
	assert_int_equal(in->n_dependencies, 2);
	assert_string_equal(in->dependencies[1], "module.network.aws_subnet.private");
	tfs_free(st);
}

static void
test_key_quoting(void **state)
{
	static const char text[] =
	    "{\"version\":4,\"serial\":1,\"lineage\":\"l\",\"resources\":[{\"mode\":\"managed\","
	    "\"type\":\"aws_s3_bucket\",\"name\":\"b\",\"instances\":["
	    "{\"index_key\":\"a\\\\b\\nc${x}%{y}$z\",\"attributes\":{}},"
	    "{\"index_key\":\"\",\"attributes\":{}},"
	    "{\"index_key\":12,\"attributes\":{}},"
	    "{\"index_key\":\"tab\\there\\u0001\",\"attributes\":{}}]}]}";
	tfs_state *st = NULL;
	td_error err = { 0 };

	(void)state;
	assert_int_equal(tfs_parse_buffer(&st, text, strlen(text), "k.tfstate", &err), 0);
	assert_string_equal(tfs_instance_at(st, 0)->address,
	    "aws_s3_bucket.b[\"a\\\\b\\nc$${x}%%{y}$z\"]");
	assert_string_equal(tfs_instance_at(st, 1)->address, "aws_s3_bucket.b[\"\"]");
	assert_string_equal(tfs_instance_at(st, 2)->address, "aws_s3_bucket.b[12]");
	assert_string_equal(tfs_instance_at(st, 3)->address,
	    "aws_s3_bucket.b[\"tab\\there\\u0001\"]");
	tfs_free(st);
}

static void
test_legacy_and_missing_attributes(void **state)
{
	static const char text[] =
	    "{\"version\":4,\"resources\":[{\"mode\":\"managed\",\"type\":\"aws_vpc\",\"name\":\"v\","
	    "\"instances\":[{\"attributes_flat\":{\"id\":\"vpc-1\",\"tags.%\":\"0\"}},{}]},"
	    "{\"mode\":\"managed\",\"type\":\"aws_vpc\",\"name\":\"none\"}]}";
	tfs_state *st = NULL;
	td_error err = { 0 };
	const char *ids[IDX_MAX];

	(void)state;
	assert_int_equal(tfs_parse_buffer(&st, text, strlen(text), "legacy.tfstate", &err), 0);
	assert_int_equal(tfs_instance_count(st), 2);
	assert_int_equal(tfs_serial(st), 0);
	assert_string_equal(tfs_lineage(st), "");
	assert_int_equal(idx_identifiers("aws_vpc", A(tfs_instance_at(st, 0)), ids, IDX_MAX, NULL,
			     0),
	    1);
	assert_string_equal(ids[0], "vpc-1");
	assert_true(cJSON_IsObject(A(tfs_instance_at(st, 1))));
	assert_int_equal(cJSON_GetArraySize(A(tfs_instance_at(st, 1))), 0);
	tfs_free(st);
}

/* ---- identifiers ------------------------------------------------------------ */

static void
expect_ids(const tfs_state *st, const char *address, const char *const *want, size_t nwant)
{
	const tfs_instance *in = find(st, address, false);
	const char *const *ids = in->identifiers; /* computed while parsing */
	size_t n = in->n_identifiers, i;

	if (n != nwant) {
		fail_msg("%s: %zu identifiers, want %zu", address, n, nwant);
	}
	for (i = 0; i < n && i < nwant; i++) {
		assert_string_equal(ids[i], want[i]);
	}
}

#define IDS(...)                              \
	(const char *const[]){ __VA_ARGS__ }, \
	    sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *)

static void
test_identifiers_per_type(void **state)
{
	tfs_state *st = load_fixture(FIXTURES "prod.tfstate");

	(void)state;
	expect_ids(st, "aws_instance.web[0]",
	    IDS("i-0aaaaaaaaaaaaaaa0",
		"arn:aws:ec2:eu-west-1:123456789012:instance/i-0aaaaaaaaaaaaaaa0"));
	expect_ids(st, "module.apps[\"payments\"].aws_s3_bucket.assets[\"eu\"]",
	    IDS("payments-assets-eu", "arn:aws:s3:::payments-assets-eu"));
	expect_ids(st, "aws_iam_role.app",
	    IDS("prod-app", "arn:aws:iam::123456789012:role/prod-app", "AROA3XFRBF535EXAMPLE"));
	expect_ids(st, "aws_iam_user.deploy",
	    IDS("deploy", "arn:aws:iam::123456789012:user/ci/deploy", "AIDACKCEVSQ6C2EXAMPLE"));
	expect_ids(st, "aws_lambda_function.api",
	    IDS("prod-api", "arn:aws:lambda:eu-west-1:123456789012:function:prod-api"));
	expect_ids(st, "aws_db_instance.main",
	    IDS("prod-db", "db-ABCDEFGHIJKLMNOPQRSTUVWXY",
		"arn:aws:rds:eu-west-1:123456789012:db:prod-db"));
	expect_ids(st,
	    "module.apps[\"payments\"].module.queue.aws_sqs_queue.jobs[\"ordered \\\"fifo\\\"\"]",
	    IDS("https://sqs.eu-west-1.amazonaws.com/123456789012/payments-jobs.fifo",
		"arn:aws:sqs:eu-west-1:123456789012:payments-jobs.fifo"));
	expect_ids(st, "aws_security_group.web",
	    IDS("sg-0123456789abcdef0",
		"arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0123456789abcdef0"));
	expect_ids(st, "aws_vpc.main",
	    IDS("vpc-0a1b2c3d4e5f60789",
		"arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-0a1b2c3d4e5f60789"));
	expect_ids(st, "module.network.aws_subnet.private[1]",
	    IDS("subnet-0bbbbbbbbbbbbbbb2",
		"arn:aws:ec2:eu-west-1:123456789012:subnet/subnet-0bbbbbbbbbbbbbbb2"));
	/* log groups: name (= id), arn */
	expect_ids(st, "aws_cloudwatch_log_group.app",
	    IDS("/prod/app", "arn:aws:logs:eu-west-1:123456789012:log-group:/prod/app"));
	expect_ids(st, "aws_iam_access_key.deploy", IDS("AKIAIOSFODNN7EXAMPLE"));
	tfs_free(st);
}

static void
test_identifier_table_rows(void **state)
{
	const char *const *names;
	cJSON *attrs;
	const char *ids[IDX_MAX];

	(void)state;
	names = idx_attribute_names("aws_kms_key");
	assert_string_equal(names[0], "key_id");
	assert_string_equal(names[1], "arn");
	names = idx_attribute_names("aws_no_such_type");
	assert_string_equal(names[0], "id");
	assert_string_equal(names[1], "arn");
	assert_string_equal(names[2], "name");
	assert_null(names[3]);
	names = idx_attribute_names("aws_lb");
	assert_string_equal(names[2], "name");

	/* redacted, empty and non-string values never become identifiers */
	attrs = cJSON_Parse("{\"name\":\"(sensitive)\",\"arn\":\"\",\"id\":7,"
			    "\"unique_id\":\"AIDA1\"}");
	assert_int_equal(idx_identifiers("aws_iam_user", attrs, ids, IDX_MAX, NULL, 0), 1);
	assert_string_equal(ids[0], "AIDA1");
	/* max is honoured */
	cJSON_Delete(attrs);
	attrs = cJSON_Parse("{\"id\":\"a\",\"arn\":\"b\",\"name\":\"c\"}");
	assert_int_equal(idx_identifiers("x", attrs, ids, 2, NULL, 0), 2);
	cJSON_Delete(attrs);
}

static void
test_identifier_table_file(void **state)
{
	td_error err = { 0 };
	size_t types = 0;
	const char *ids[IDX_MAX];
	char scratch[IDX_SCRATCH];
	cJSON *attrs;

	(void)state;
	/* the embedded identifiers.tsv parses and covers the catalog */
	assert_int_equal(idx_init(&err), 0);
	assert_true(idx_type_count() >= 80);
	assert_string_equal(idx_attribute_names("aws_s3_bucket_policy")[0], "=bucket");
	assert_string_equal(idx_attribute_names("aws_route53_record")[0], "zone_id+name");

	/* scoped and composite values */
	attrs = cJSON_Parse("{\"bucket\":\"logs\",\"policy\":\"{}\"}");
	assert_int_equal(idx_identifiers("aws_s3_bucket_policy", attrs, ids, IDX_MAX, scratch,
			     sizeof(scratch)),
	    1);
	assert_string_equal(ids[0], "aws_s3_bucket_policy:logs");
	cJSON_Delete(attrs);
	attrs = cJSON_Parse("{\"zone_id\":\"Z1\",\"name\":\"www.example.com\","
			    "\"id\":\"Z1_www.example.com_A\",\"fqdn\":\"www.example.com\"}");
	assert_int_equal(idx_identifiers("aws_route53_record", attrs, ids, IDX_MAX, scratch,
			     sizeof(scratch)),
	    3);
	assert_string_equal(ids[0], "Z1/www.example.com");
	assert_string_equal(ids[1], "Z1_www.example.com_A");
	assert_string_equal(ids[2], "www.example.com");
	/* no scratch room: composites are skipped, plain values stay */
	assert_int_equal(idx_identifiers("aws_route53_record", attrs, ids, IDX_MAX, scratch, 4), 2);
	cJSON_Delete(attrs);
	/* a composite with a part missing gives nothing */
	attrs = cJSON_Parse("{\"role\":\"app\"}");
	assert_int_equal(idx_identifiers("aws_iam_role_policy_attachment", attrs, ids, IDX_MAX,
			     scratch, sizeof(scratch)),
	    0);
	cJSON_Delete(attrs);

	/* bad tables name the line */
	assert_int_equal(idx_check_table("# c\naws_x\tid\n\naws_y\tid arn\n", "t.tsv", &types,
			     &err),
	    0);
	assert_int_equal(types, 2);
	assert_int_equal(idx_check_table("aws_x id\n", "t.tsv", NULL, &err), TD_EINVAL);
	assert_string_equal(err.msg, "t.tsv:1: expected TYPE<TAB>IDENTIFIERS");
	assert_int_equal(idx_check_table("aws_x\tid\naws_y\ta+\n", "t.tsv", NULL, &err), TD_EINVAL);
	assert_non_null(strstr(err.msg, "t.tsv:2: aws_y: bad identifier"));
	assert_int_equal(idx_check_table("aws_x\tid\naws_x\tarn\n", "t.tsv", NULL, &err),
	    TD_EINVAL);
	assert_string_equal(err.msg, "t.tsv: aws_x is listed twice");
	assert_int_equal(idx_check_table("aws_x\t\n", "t.tsv", NULL, &err), TD_EINVAL);
	assert_string_equal(err.msg, "t.tsv:1: aws_x: no identifiers");
}

/* ---- redaction ---------------------------------------------------------------- */

static void
test_secrets_never_appear(void **state)
{
	static const char *const secrets[] = {
		"Sup3rS3cretDbPassw0rd!",
		"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"BMaSmtpPasswordV4ExampleValue0000000000000",
		"Init1alLoginPassw0rd#",
		"lambda-env-secret-123",
		"sk_live_51HxyzStripeKeyValue",
		"tunnelPresharedKeyOne_123",
		"tunnelPresharedKeyTwo_456",
		"output-secret-value-xyz",
		"eyJlMmJmYjczMC1lY2FhLTExZTYtOGY4OC0zNDM2M2JjN2M0YzAiOnt9fQ==",
	};
	tfs_state *st = load_fixture(FIXTURES "prod.tfstate");
	char *all = all_attributes_json(st);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		if (strstr(all, secrets[i]) != NULL) {
			fail_msg("secret %s appears in the attributes", secrets[i]);
		}
	}
	/* what is not secret stays */
	assert_non_null(strstr(all, "\"LOG_LEVEL\":\"info\""));
	assert_non_null(strstr(all, "\"password_reset_required\":true"));
	assert_non_null(strstr(all, "\"password_length\":20"));
	assert_non_null(strstr(all, "\"tunnel1_address\":\"203.0.113.10\""));
	assert_non_null(strstr(all, "\"kms_key_id\":\"arn:aws:kms:eu-west-1:123456789012:key/"));
	assert_non_null(strstr(all, "\"username\":\"app_admin\""));
	free(all);
	tfs_free(st);
}

/* A redacted instance's attributes are its source text, compacted, with each
 * redacted value swapped for the marker: numbers stay as written, escapes
 * stay, whole blocks and list elements are replaced, nothing secret stays. */
static void
test_redacted_text_patched(void **state)
{
	static const char text[] =
	    "{\"version\":4,\"serial\":1,\"lineage\":\"l\",\"resources\":[{\"mode\":\"managed\","
	    "\"type\":\"aws_instance\",\"name\":\"w\",\"instances\":[{\n"
	    "  \"sensitive_attributes\": [[{\"type\":\"get_attr\",\"value\":\"conf\"}]],\n"
	    "  \"attributes\" : {\n"
	    "    \"id\" : \"i-1\",\n"
	    "    \"count\": 1.50, \"big\": 1e3,\t\"neg\": -0,\n"
	    "    \"password\" : \"hunter2-secret\",\n"
	    "    \"tags\": { \"Na\\\"me\": \"a\\u00e9b\", \"api_token\": {\"v\": \"tok-XYZ\"} },\n"
	    "    \"tokens\": [ \"tok-ABC\" ],\n"
	    "    \"list\": [ 1, 2 , {\"db_password\": \"pw-ABC\", \"ok\": true}, null ],\n"
	    "    \"secrets_list\": [\"s-1\", [\"s-2\"]],\n"
	    "    \"conf\": {\"a\": [1, {\"b\": \"conf-SECRET\"}]},\n"
	    "    \"empty_obj\": {}, \"empty_arr\": [ ]\n"
	    "  }\n"
	    "}]}]}";
	static const char want[] =
	    "{\"id\":\"i-1\",\"count\":1.50,\"big\":1e3,\"neg\":-0,\"password\":\"(sensitive)\","
	    "\"tags\":{\"Na\\\"me\":\"a\\u00e9b\",\"api_token\":\"(sensitive)\"},"
	    "\"tokens\":[\"(sensitive)\"],"
	    "\"list\":[1,2,{\"db_password\":\"(sensitive)\",\"ok\":true},null],"
	    "\"secrets_list\":[\"(sensitive)\",[\"(sensitive)\"]],\"conf\":\"(sensitive)\","
	    "\"empty_obj\":{},\"empty_arr\":[]}";
	tfs_state *st = NULL;
	td_error err = { 0 };
	const tfs_instance *in;

	(void)state;
	assert_int_equal(tfs_parse_buffer(&st, text, strlen(text), "p.tfstate", &err), 0);
	in = tfs_instance_at(st, 0);
	assert_non_null(in);
	if (strcmp(in->attributes_json, want) != 0) {
		fail_msg("expected %s\n     got %s", want, in->attributes_json);
	}
	assert_int_equal(in->attributes_len, strlen(want));
	assert_int_equal(tfs_redaction_count(st), 7);
	tfs_free(st);
}

static void
test_redacted_places(void **state)
{
	tfs_state *st = load_fixture(FIXTURES "prod.tfstate");
	const tfs_instance *in;
	const cJSON *vars;

	(void)state;
	in = find(st, "aws_db_instance.main", false);
	assert_string_equal(cJSON_GetObjectItem(A(in), "password")->valuestring, REDACT_TEXT);
	assert_true(cJSON_IsArray(cJSON_GetObjectItem(A(in), "master_user_secret")));
	in = find(st, "aws_lambda_function.api", false);
	vars = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(A(in), "environment"), 0),
	    "variables");
	/* by sensitive_attributes (an index path) and by name */
	assert_string_equal(cJSON_GetObjectItem(vars, "STRIPE_KEY")->valuestring, REDACT_TEXT);
	assert_string_equal(cJSON_GetObjectItem(vars, "DB_PASSWORD")->valuestring, REDACT_TEXT);
	assert_string_equal(cJSON_GetObjectItem(vars, "LOG_LEVEL")->valuestring, "info");
	in = find(st, "aws_iam_access_key.deploy", false);
	assert_string_equal(cJSON_GetObjectItem(A(in), "secret")->valuestring, REDACT_TEXT);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(A(in), "encrypted_secret")));
	tfs_free(st);
}

/* Real provider attribute names: every secret is gone, by name, by
 * sensitive_attributes or by resource type; what only describes a secret
 * stays. */
static void
test_redact_providers(void **state)
{
	static const char text[] =
	    "{\"version\": 4, \"terraform_version\": \"1.9.5\", \"serial\": 1, \"lineage\": \"l\", \""
	    "outputs\": {}, \"resources\": [{\"mode\": \"managed\", \"type\": \"aws_iam_access_key\","
	    " \"name\": \"deploy\", \"provider\": \"provider[\\\"registry.terraform.io/x/y\\\"]\", \""
	    "instances\": [{\"schema_version\": 0, \"attributes\": {\"id\": \"AKIAIOSFODNN7EXAMPLE\","
	    " \"user\": \"deploy\", \"secret\": \"SECRET-iam-1\", \"ses_smtp_password_v4\": \"SECRET-"
	    "iam-2\", \"encrypted_secret\": null, \"status\": \"Active\"}}]}, {\"mode\": \"managed\","
	    " \"type\": \"aws_db_instance\", \"name\": \"main\", \"provider\": \"provider[\\\"registr"
	    "y.terraform.io/x/y\\\"]\", \"instances\": [{\"schema_version\": 0, \"attributes\": {\"id"
	    "\": \"db-1\", \"identifier\": \"main\", \"username\": \"app_admin\", \"password\": \"SEC"
	    "RET-db-1\", \"port\": 5432, \"master_user_secret\": [{\"kms_key_id\": \"arn:aws:kms:eu-w"
	    "est-1:1:key/k\", \"secret_arn\": \"arn:aws:secretsmanager:eu-west-1:1:secret:x\", \"secr"
	    "et_status\": \"active\"}]}, \"sensitive_attributes\": [[{\"type\": \"get_attr\", \"value"
	    "\": \"password\"}]]}]}, {\"mode\": \"managed\", \"type\": \"aws_elasticache_replication_"
	    "group\", \"name\": \"cache\", \"provider\": \"provider[\\\"registry.terraform.io/x/y\\\""
	    "]\", \"instances\": [{\"schema_version\": 0, \"attributes\": {\"id\": \"cache\", \"auth_"
	    "token\": \"SECRET-ec-1\", \"transit_encryption_enabled\": true, \"port\": 6379}}]}, {\"m"
	    "ode\": \"managed\", \"type\": \"tls_private_key\", \"name\": \"k\", \"provider\": \"prov"
	    "ider[\\\"registry.terraform.io/x/y\\\"]\", \"instances\": [{\"schema_version\": 0, \"att"
	    "ributes\": {\"id\": \"k1\", \"algorithm\": \"RSA\", \"private_key_pem\": \"-----BEGIN RS"
	    "A PRIVATE KEY-----SECRET-tls-1\", \"private_key_openssh\": \"SECRET-tls-2\", \"private_k"
	    "ey_pem_pkcs8\": \"SECRET-tls-3\", \"public_key_pem\": \"-----BEGIN PUBLIC KEY-----PUBLIC"
	    "\"}}]}, {\"mode\": \"managed\", \"type\": \"random_password\", \"name\": \"db\", \"provi"
	    "der\": \"provider[\\\"registry.terraform.io/x/y\\\"]\", \"instances\": [{\"schema_versio"
	    "n\": 0, \"attributes\": {\"id\": \"none\", \"length\": 20, \"special\": true, \"result\""
	    ": \"SECRET-rand-1\", \"bcrypt_hash\": \"SECRET-rand-2\"}}]}, {\"mode\": \"managed\", \"t"
	    "ype\": \"random_password\", \"name\": \"marked\", \"provider\": \"provider[\\\"registry."
	    "terraform.io/x/y\\\"]\", \"instances\": [{\"schema_version\": 0, \"attributes\": {\"id\""
	    ": \"none\", \"length\": 16, \"result\": \"SECRET-rand-3\"}, \"sensitive_attributes\": [["
	    "{\"type\": \"get_attr\", \"value\": \"result\"}]]}]}, {\"mode\": \"managed\", \"type\": "
	    "\"aws_secretsmanager_secret_version\", \"name\": \"v\", \"provider\": \"provider[\\\"reg"
	    "istry.terraform.io/x/y\\\"]\", \"instances\": [{\"schema_version\": 0, \"attributes\": {"
	    "\"id\": \"x|v1\", \"secret_id\": \"arn:aws:secretsmanager:eu-west-1:1:secret:x\", \"secr"
	    "et_string\": \"{\\\"password\\\":\\\"SECRET-sm-1\\\"}\", \"secret_binary\": \"\", \"vers"
	    "ion_id\": \"v1\", \"version_stages\": [\"AWSCURRENT\"]}}]}, {\"mode\": \"managed\", \"ty"
	    "pe\": \"kubernetes_secret\", \"name\": \"db\", \"provider\": \"provider[\\\"registry.ter"
	    "raform.io/x/y\\\"]\", \"instances\": [{\"schema_version\": 0, \"attributes\": {\"id\": \""
	    "default/db\", \"type\": \"Opaque\", \"data\": {\"username\": \"SECRET-k8s-1\", \"pw\": \""
	    "SECRET-k8s-2\"}, \"metadata\": [{\"name\": \"db\", \"namespace\": \"default\"}]}}]}, {\""
	    "mode\": \"managed\", \"type\": \"azurerm_storage_account\", \"name\": \"sa\", \"provider"
	    "\": \"provider[\\\"registry.terraform.io/x/y\\\"]\", \"instances\": [{\"schema_version\""
	    ": 0, \"attributes\": {\"id\": \"/subscriptions/s/sa\", \"access_tier\": \"Hot\", \"prima"
	    "ry_access_key\": \"SECRET-az-1\", \"secondary_access_key\": \"SECRET-az-2\", \"primary_c"
	    "onnection_string\": \"DefaultEndpointsProtocol=https;AccountKey=SECRET-az-3\"}}]}, {\"mo"
	    "de\": \"managed\", \"type\": \"azurerm_cosmosdb_account\", \"name\": \"c\", \"provider\""
	    ": \"provider[\\\"registry.terraform.io/x/y\\\"]\", \"instances\": [{\"schema_version\": "
	    "0, \"attributes\": {\"id\": \"c\", \"primary_key\": \"SECRET-az-4\", \"secondary_key\": "
	    "\"SECRET-az-5\", \"connection_strings\": [\"SECRET-az-6\"], \"kind\": \"GlobalDocumentDB"
	    "\"}}]}, {\"mode\": \"managed\", \"type\": \"linode_object_storage_key\", \"name\": \"k\""
	    ", \"provider\": \"provider[\\\"registry.terraform.io/x/y\\\"]\", \"instances\": [{\"sche"
	    "ma_version\": 0, \"attributes\": {\"id\": \"1\", \"label\": \"tf\", \"access_key\": \"SE"
	    "CRET-lin-1\", \"secret_key\": \"SECRET-lin-2\"}}]}, {\"mode\": \"managed\", \"type\": \""
	    "aws_instance\", \"name\": \"web\", \"provider\": \"provider[\\\"registry.terraform.io/x/"
	    "y\\\"]\", \"instances\": [{\"schema_version\": 0, \"attributes\": {\"id\": \"i-1\", \"in"
	    "stance_type\": \"t3.micro\", \"user_data\": \"SECRET-ud-1\", \"tags\": {\"Name\": \"web\""
	    ", \"DB_PASSWORD\": \"SECRET-tag-1\"}}, \"sensitive_attributes\": [[{\"type\": \"get_attr"
	    "\", \"value\": \"user_data\"}]]}]}, {\"mode\": \"managed\", \"type\": \"example_thing\","
	    " \"name\": \"n\", \"provider\": \"provider[\\\"registry.terraform.io/x/y\\\"]\", \"insta"
	    "nces\": [{\"schema_version\": 0, \"attributes\": {\"id\": \"n\", \"admin_password\": 123"
	    "45678, \"api_token\": true, \"secret_values\": {\"a\": \"SECRET-map-1\", \"b\": 2}, \"pa"
	    "ssword_length\": 20, \"password_reset_required\": true, \"password_policy\": {\"minimum_"
	    "length\": 12}}}]}]}";
	tfs_state *st = NULL;
	td_error err = { 0 };
	char *all;

	(void)state;
	assert_int_equal(tfs_parse_buffer(&st, text, strlen(text), "providers.tfstate", &err), 0);
	all = all_attributes_json(st);
	if (strstr(all, "SECRET-") != NULL) {
		fail_msg("a secret survived: %s", strstr(all, "SECRET-"));
	}
	/* non-string values under secret names, and a map of secrets */
	assert_non_null(strstr(all, "\"admin_password\":\"(sensitive)\""));
	assert_non_null(strstr(all, "\"api_token\":\"(sensitive)\""));
	assert_non_null(strstr(all, "\"secret_values\":\"(sensitive)\""));
	assert_non_null(strstr(all, "\"data\":\"(sensitive)\""));
	/* what only describes or refers to a secret stays */
	static const char *const kept[] = { "\"password_length\":20",
		"\"password_reset_required\":true", "\"password_policy\":{\"minimum_length\":12}",
		"\"length\":20", "\"public_key_pem\":\"-----BEGIN PUBLIC KEY-----PUBLIC\"",
		"\"secret_id\":\"arn:aws:secretsmanager", "\"kms_key_id\":\"arn:aws:kms",
		"\"encrypted_secret\":null", "\"secret_binary\":\"\"", "\"access_tier\":\"Hot\"",
		"\"username\":\"app_admin\"", "\"port\":6379", "\"Name\":\"web\"",
		"\"namespace\":\"default\"", "\"version_stages\":[\"AWSCURRENT\"]" };
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		if (strstr(all, kept[i]) == NULL) {
			fail_msg("%s was redacted:\n%s", kept[i], all);
		}
	}
	assert_true(redact_name_is_secret("access_key"));
	assert_true(redact_name_is_secret("secret_key"));
	assert_true(redact_name_is_secret("primary_key"));
	assert_true(redact_name_is_secret("primary_connection_string"));
	assert_true(redact_name_is_secret("private_key_pem"));
	assert_false(redact_name_is_secret("access_key_id"));
	assert_false(redact_name_is_secret("password_length"));
	free(all);
	tfs_free(st);
}

static void
test_redact_rules(void **state)
{
	cJSON *a;
	char *s;
	size_t n = 0;
	td_error err = { 0 };
	cJSON *paths;

	(void)state;
	assert_true(redact_name_is_secret("password"));
	assert_true(redact_name_is_secret("master_password"));
	assert_true(redact_name_is_secret("Secret_String"));
	assert_true(redact_name_is_secret("private_key_pem"));
	assert_true(redact_name_is_secret("auth_token"));
	assert_true(redact_name_is_secret("tunnel1_preshared_key"));
	assert_true(redact_name_is_secret("GITHUB_TOKEN"));
	assert_false(redact_name_is_secret("secret_arn"));
	assert_false(redact_name_is_secret("kms_key_id"));
	assert_false(redact_name_is_secret("secret_id"));
	assert_false(redact_name_is_secret("instance_type"));
	assert_false(redact_name_is_secret("access_key_id"));
	assert_false(redact_name_is_secret(NULL));

	/* a whole block marked sensitive, a list under a secret name, a list index */
	a = cJSON_Parse("{\"block\":[{\"x\":\"block-secret-1\"}],\"api_keys\":[\"k-secret-2\","
			"[\"k-secret-3\"]],\"list\":[\"keep\",\"idx-secret-4\"],"
			"\"nested\":{\"deep\":{\"client_secret\":\"nested-secret-5\"}},"
			"\"gone\":null}");
	paths = cJSON_Parse(
	    "[[{\"type\":\"get_attr\",\"value\":\"block\"}],"
	    "[{\"type\":\"get_attr\",\"value\":\"list\"},{\"type\":\"index\",\"value\":1}],"
	    "[{\"type\":\"get_attr\",\"value\":\"gone\"},{\"type\":\"get_attr\",\"value\":\"x\"}],"
	    "[{\"type\":\"get_attr\",\"value\":\"list\"},{\"type\":\"index\",\"value\":9}]]");
	assert_int_equal(redact_attributes(a, paths, "t", &n, &err), 0);
	s = cJSON_PrintUnformatted(a);
	assert_null(strstr(s, "secret-"));
	assert_non_null(strstr(s, "\"keep\""));
	assert_non_null(strstr(s, "\"block\":\"(sensitive)\""));
	assert_int_equal(n, 5);
	cJSON_free(s);
	cJSON_Delete(paths);

	/* malformed paths are errors naming the step; nothing is changed */
	paths = cJSON_Parse("[[{\"type\":\"get_attr\",\"value\":\"list\"}],"
			    "[{\"type\":\"splat\",\"value\":1}]]");
	assert_int_equal(redact_attributes(a, paths, "f.tfstate: x.sensitive_attributes", &n, &err),
	    TD_EINVAL);
	assert_string_equal(err.msg,
	    "f.tfstate: x.sensitive_attributes[1][0].type: expected \"get_attr\" or \"index\"");
	assert_true(cJSON_IsArray(cJSON_GetObjectItem(a, "list")));
	cJSON_Delete(paths);
	paths = cJSON_Parse("[[{\"type\":\"get_attr\",\"value\":3}]]");
	assert_int_equal(redact_attributes(a, paths, "w", &n, &err), TD_EINVAL);
	assert_string_equal(err.msg, "w[0][0].value: expected a string");
	cJSON_Delete(paths);
	paths = cJSON_Parse("{}");
	assert_int_equal(redact_attributes(a, paths, "w", &n, &err), TD_EINVAL);
	assert_string_equal(err.msg, "w: expected an array of paths");
	cJSON_Delete(paths);
	cJSON_Delete(a);
}

/* ---- errors ------------------------------------------------------------------ */

static void
test_version3_refused(void **state)
{
	tfs_state *st = NULL;
	td_error err = { 0 };

	(void)state;
	assert_int_equal(tfs_parse_file(&st, FIXTURES "v3.tfstate", 0, &err), TD_EUNSUPPORTED);
	assert_null(st);
	assert_string_equal(err.msg,
	    FIXTURES "v3.tfstate: state format version 3 is not supported; run `terraform state "
		     "pull` with a current Terraform and point tfdrift at that file");
}

static void
test_broken_json(void **state)
{
	tfs_state *st = NULL;
	td_error err = { 0 };

	(void)state;
	assert_int_equal(tfs_parse_file(&st, FIXTURES "broken.tfstate", 0, &err), TD_EINVAL);
	assert_null(st);
	/* the missing comma is on line 15 */
	assert_non_null(strstr(err.msg, FIXTURES "broken.tfstate:15:"));
	assert_non_null(strstr(err.msg, "invalid JSON"));
}

static void
test_streaming_errors(void **state)
{
	static const char good[] =
	    "{\"version\":4,\"serial\":1,\"lineage\":\"x\",\"outputs\":{\"p\":{\"value\":\"s3cr3t\"}},"
	    "\"resources\":[{\"mode\":\"managed\",\"type\":\"aws_vpc\",\"name\":\"v\","
	    "\"instances\":[{\"attributes\":{\"id\":\"vpc-1\",\"tags\":{\"a\":\"b\"}}},"
	    "{\"index_key\":1,\"attributes\":{\"id\":\"vpc-2\"}}]}]}";
	tfs_state *st = NULL;
	td_error err = { 0 };
	size_t n;

	(void)state;
	/* every truncation of a good file is an error naming a place, never a crash */
	for (n = 1; n < sizeof(good) - 1; n++) {
		assert_int_not_equal(tfs_parse_buffer(&st, good, n, "t.tfstate", &err), 0);
		assert_null(st);
		assert_non_null(strstr(err.msg, "t.tfstate"));
	}
	assert_int_equal(tfs_parse_buffer(&st, good, sizeof(good) - 1, "t.tfstate", &err), 0);
	assert_int_equal(tfs_instance_count(st), 2);
	assert_string_equal(tfs_instance_at(st, 1)->attributes_json, "{\"id\":\"vpc-2\"}");
	assert_true(tfs_memory_size(st) > 0);
	tfs_free(st);

	/* a syntax error inside an instance names the byte and the JSON path */
	expect_error("{\"version\":4,\"resources\":[{\"mode\":\"managed\",\"type\":\"t\","
		     "\"name\":\"n\",\"instances\":[{\"attributes\":{\"id\":\"a\" \"x\":1}}]}]}",
	    "s", TD_EINVAL,
	    "s:1:104: invalid JSON: expected ',' or '}' (byte 103, in resources[0].instances[0])");
	expect_error("{\"version\":4,\"resources\":[{\"mode\":\"managed\",\"type\":\"t\","
		     "\"name\":\"n\",\"instances\":[{\"attributes\":{\"id\":tru}}]}]}",
	    "s", TD_EINVAL, "s:1:100: invalid JSON (byte 99, in resources[0].instances[0])");
	expect_error("{\"version\":4,\"resources\":[", "s", TD_EINVAL,
	    "s:1:27: invalid JSON: the text ends early (truncated file?) (byte 26, in resources)");
	/* version 3 is refused before its layout is looked at */
	expect_error("{\"version\":3,\"modules\":[{\"path\":[\"root\"]}]}", "s", TD_EUNSUPPORTED,
	    "s: state format version 3 is not supported; run `terraform state pull` with a "
	    "current Terraform and point tfdrift at that file");
}

static void
test_big_state_released(void **state)
{
	/* enough instances that tfs_parse_file gives walked text back several
	 * times; everything parsed must still be right */
	char path[] = "/tmp/test_tfstate_bigXXXXXX";
	int fd = mkstemp(path), i;
	FILE *f;
	tfs_state *st = NULL;
	td_error err = { 0 };
	const tfs_instance *in;
	char pad[1001];

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	fprintf(f, "{\n  \"version\": 4,\n  \"serial\": 9,\n  \"resources\": [\n");
	for (i = 0; i < 12000; i++) {
		fprintf(f,
		    "    {\"mode\": \"managed\", \"type\": \"aws_instance\", \"name\": \"w%d\",\n"
		    "     \"instances\": [{\"attributes\": {\"id\": \"i-%d\", \"password\": \"pw%d\","
		    " \"user_data\": \"%s\"}}]}%s\n",
		    i, i, i, pad, i + 1 < 12000 ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
	fclose(f);
	assert_int_equal(tfs_parse_file(&st, path, 0, &err), 0);
	assert_int_equal(tfs_instance_count(st), 12000);
	in = tfs_instance_at(st, 11999);
	assert_string_equal(in->address, "aws_instance.w11999");
	assert_string_equal(in->identifiers[0], "i-11999");
	assert_null(strstr(in->attributes_json, "pw11999"));
	assert_int_equal(tfs_redaction_count(st), 12000);
	tfs_free(st);

	/* an error near the end still reports the right line after release */
	f = fopen(path, "a");
	assert_non_null(f);
	fprintf(f, "x\n");
	fclose(f);
	assert_int_equal(tfs_parse_file(&st, path, 0, &err), TD_EINVAL);
	{
		char want[64];
		snprintf(want, sizeof(want), ":%d:1: unexpected text", 2 * 12000 + 4 + 2 + 1);
		if (strstr(err.msg, want) == NULL) {
			fail_msg("%s: want %s", err.msg, want);
		}
	}
	unlink(path);
}

static void
test_file_errors(void **state)
{
	tfs_state *st = NULL;
	td_error err = { 0 };

	(void)state;
	assert_int_equal(tfs_parse_file(&st, FIXTURES "no-such.tfstate", 0, &err), TD_EIO);
	assert_string_equal(err.msg,
	    FIXTURES "no-such.tfstate: cannot open: No such file or directory");
	assert_int_equal(tfs_parse_file(&st, FIXTURES, 0, &err), TD_EIO);
	assert_string_equal(err.msg, FIXTURES ": not a regular file");
	assert_int_equal(tfs_parse_file(&st, FIXTURES "prod.tfstate", 100, &err), TD_ETOOBIG);
	assert_string_equal(err.msg,
	    FIXTURES "prod.tfstate: larger than state_loader.max_state_size (100 bytes)");
	assert_null(st);
}

#define HDR "{\"version\":4,\"serial\":1,\"lineage\":\"x\",\"resources\":["
#define RES(body) "{\"mode\":\"managed\",\"type\":\"aws_vpc\",\"name\":\"v\"" body "}"
#define OK_RES RES(",\"instances\":[{\"attributes\":{\"id\":\"vpc-1\"}}]")

static void
test_field_errors(void **state)
{
	(void)state;
	expect_error(HDR OK_RES "," OK_RES "," OK_RES
				"," RES(",\"instances\":[{\"attributes\":\"vpc-1\"}]") "]}",
	    "state.tfstate", TD_EINVAL,
	    "state.tfstate: resources[3].instances[0].attributes: expected an object");
	expect_error(HDR RES(",\"instances\":[{\"attributes\":{},\"index_key\":true}]") "]}", "s",
	    TD_EINVAL, "s: resources[0].instances[0].index_key: expected an integer or a string");
	expect_error(HDR RES(",\"instances\":[{\"attributes\":{},\"index_key\":1.5}]") "]}", "s",
	    TD_EINVAL, "s: resources[0].instances[0].index_key: expected an integer or a string");
	expect_error(HDR RES(",\"instances\":[{\"attributes\":{},\"status\":\"weird\"}]") "]}", "s",
	    TD_EINVAL, "s: resources[0].instances[0].status: unknown status \"weird\"");
	expect_error(HDR RES(
			 ",\"instances\":[{\"attributes\":{},\"dependencies\":[\"a\",1]}]") "]}",
	    "s", TD_EINVAL, "s: resources[0].instances[0].dependencies[1]: expected a string");
	expect_error(
	    HDR RES(
		",\"instances\":[{\"attributes\":{},\"sensitive_attributes\":[[{\"type\":\"index\",\"value\":{}}]]}]") "]}",
	    "s", TD_EINVAL,
	    "s: resources[0].instances[0].sensitive_attributes[0][0].value: expected a string or a number");
	expect_error(HDR OK_RES ",[]]}", "s", TD_EINVAL, "s: resources[1]: expected an object");
	expect_error(HDR OK_RES "," RES(",\"instances\":[3]") "]}", "s", TD_EINVAL,
	    "s: resources[1].instances[0]: expected an object");
	expect_error(HDR RES(",\"instances\":{}") "]}", "s", TD_EINVAL,
	    "s: resources[0].instances: expected an array");
	expect_error(HDR "{\"mode\":\"x\",\"type\":\"t\",\"name\":\"n\"}]}", "s", TD_EINVAL,
	    "s: resources[0].mode: expected \"managed\" or \"data\", got \"x\"");
	expect_error(HDR "{\"mode\":\"managed\",\"name\":\"n\"}]}", "s", TD_EINVAL,
	    "s: resources[0].type: missing");
	expect_error(HDR "{\"mode\":\"managed\",\"type\":\"t\",\"name\":\"\"}]}", "s", TD_EINVAL,
	    "s: resources[0].name: expected a non-empty string");
	expect_error(HDR "{\"module\":5,\"mode\":\"managed\",\"type\":\"t\",\"name\":\"n\"}]}", "s",
	    TD_EINVAL, "s: resources[0].module: expected a string");
	expect_error("{\"version\":4,\"resources\":{}}", "s", TD_EINVAL,
	    "s: resources: expected an array");
	expect_error("{\"version\":4,\"serial\":-1}", "s", TD_EINVAL,
	    "s: serial: expected a non-negative integer below 2^64");
	/* found by fuzz_tfstate: the cast of 4.2e38 to uint64 was undefined */
	expect_error("{\"version\":4,\"serial\":4.2e38}", "s", TD_EINVAL,
	    "s: serial: expected a non-negative integer below 2^64");
	expect_error("{\"version\":4,\"serial\":18446744073709551616}", "s", TD_EINVAL,
	    "s: serial: expected a non-negative integer below 2^64");
	expect_error("{\"version\":4,\"lineage\":1}", "s", TD_EINVAL,
	    "s: lineage: expected a string");
	expect_error("{\"version\":5}", "s", TD_EUNSUPPORTED,
	    "s: state format version 5 is newer than this tfdrift understands (4)");
	expect_error("{\"serial\":1}", "s", TD_EINVAL,
	    "s: version: missing (is this a Terraform state file?)");
	expect_error("{\"version\":\"4\"}", "s", TD_EINVAL, "s: version: expected an integer");
	expect_error("[1]", "s", TD_EINVAL, "s: expected a JSON object at the top level");
	expect_error("{\"version\":4}\n  x", "s", TD_EINVAL,
	    "s:2:3: unexpected text after the JSON document (byte 16)");
	expect_error("{\"version\":4,\n\"serial\":}", "s", TD_EINVAL,
	    "s:2:10: invalid JSON (byte 23)");
	expect_error("", "s", TD_EINVAL, "s: the file is empty");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_modes_status_deposed),
		cmocka_unit_test(test_key_quoting),
		cmocka_unit_test(test_legacy_and_missing_attributes),
		cmocka_unit_test(test_identifiers_per_type),
		cmocka_unit_test(test_identifier_table_rows),
		cmocka_unit_test(test_identifier_table_file),
		cmocka_unit_test(test_secrets_never_appear),
		cmocka_unit_test(test_redacted_text_patched),
		cmocka_unit_test(test_redacted_places),
		cmocka_unit_test(test_redact_rules),
		cmocka_unit_test(test_redact_providers),
		cmocka_unit_test(test_version3_refused),
		cmocka_unit_test(test_broken_json),
		cmocka_unit_test(test_streaming_errors),
		cmocka_unit_test(test_big_state_released),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_field_errors),
	};

	return cmocka_run_group_tests(tests, NULL, free_trees);
}
