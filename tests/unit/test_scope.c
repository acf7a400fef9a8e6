/* test_scope.c — identifiers scoped by account and region (issue 17):
 * where each instance of a state lives (tfdrift/scope.h: its ARN, its
 * provider configuration, the source's options, the state's one account),
 * which types are account-global (idx_type_global) and the index fields
 * written and looked up (tfdrift/redis_keys.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tfdrift/identifiers.h"
#include "tfdrift/redis_keys.h"
#include "tfdrift/scope.h"
#include "tfdrift/tfstate.h"

#define A "111111111111"
#define B "222222222222"
#define PROV "provider[\\\"registry.terraform.io/hashicorp/aws\\\"]"
#define WEST PROV ".west"

/* One resource with one instance: mode, type, name, provider, attributes. */
#define RES(mode, type, name, prov, attrs)                                                        \
	"{\"mode\":\"" mode "\",\"type\":\"" type "\",\"name\":\"" name "\",\"provider\":\"" prov \
	"\",\"instances\":[{\"attributes\":" attrs "}]}"
#define STATE(...) "{\"version\":4,\"serial\":1,\"lineage\":\"l\",\"resources\":[" __VA_ARGS__ "]}"

static tfs_state *
parse(const char *text)
{
	tfs_state *st = NULL;
	td_error err = { 0 };

	if (tfs_parse_buffer(&st, text, strlen(text), "t.tfstate", &err) != 0)
		fail_msg("parse: %s", err.msg);
	return st;
}

/* The index i of the instance at address. */
static size_t
at(const tfs_state *st, const char *address)
{
	const tfs_instance *in;

	for (size_t i = 0; (in = tfs_instance_at(st, i)) != NULL; i++)
		if (strcmp(in->address, address) == 0)
			return i;
	fail_msg("no instance %s", address);
	return 0;
}

static void
expect(const td_scope *sc, const tfs_state *st, const char *address, const char *account,
    const char *region)
{
	const char *a, *r;

	td_scope_of(sc, at(st, address), &a, &r);
	assert_string_equal(a, account);
	assert_string_equal(r, region);
}

/* ARNs say where: IAM (no region in its ARN, and account-global anyway),
 * SQS in its region; S3 bucket ARNs name no account: the state's one account. */
static void
test_from_arns(void **unused)
{
	tfs_state *st = parse(STATE(RES("managed", "aws_iam_role", "r", PROV,
	    "{\"name\":\"ecsInstanceRole\",\"arn\":\"arn:aws:iam::" A
	    ":role/ecsInstanceRole\"}") "," RES("managed", "aws_sqs_queue", "q", PROV,
	    "{\"name\":\"jobs\",\"arn\":\"arn:aws:sqs:eu-west-1:" A ":jobs\"}") "," RES("managed",
	    "aws_s3_bucket", "b", PROV,
	    "{\"bucket\":\"logs\",\"arn\":\"arn:aws:s3:::logs\",\"region\":\"eu-west-1\"}")));
	td_scope *sc = NULL;
	size_t n;
	const char *const *v;

	(void)unused;
	assert_int_equal(td_scope_build(&sc, st, NULL, NULL), 0);
	expect(sc, st, "aws_iam_role.r", A, "");
	expect(sc, st, "aws_sqs_queue.q", A, "eu-west-1");
	expect(sc, st, "aws_s3_bucket.b", A, ""); /* account-global type */
	assert_true(td_scope_account_known(sc));
	assert_int_equal(td_scope_unscoped(sc), 0);
	v = td_scope_accounts(sc, &n);
	assert_int_equal(n, 1);
	assert_string_equal(v[0], A);
	v = td_scope_regions(sc, &n);
	assert_int_equal(n, 1);
	assert_string_equal(v[0], "eu-west-1");
	td_scope_free(sc);
	tfs_free(st);
}

/* Two provider configurations (accounts A and B, two regions): an instance
 * without ARN takes its provider's, learnt from the caller identity and
 * region data sources or from its siblings' ARNs; a public AMI's owner_id
 * (Amazon's account) says nothing about the state. */
static void
test_from_providers(void **unused)
{
	tfs_state *st = parse(STATE(RES("data", "aws_ami", "u", PROV,
	    "{\"id\":\"ami-1\",\"owner_id\":\"137112412989\"}") "," RES("data",
	    "aws_caller_identity", "me", PROV,
	    "{\"account_id\":\"" A "\"}") "," RES("data", "aws_region", "here", PROV,
	    "{\"name\":\"eu-west-1\"}") "," RES("managed", "aws_security_group_rule", "a", PROV,
	    "{\"id\":\"sgrule-1\",\"security_group_rule_id\":\"sgr-a\"}") "," RES("managed",
	    "aws_security_group", "w", WEST,
	    "{\"id\":\"sg-w\",\"arn\":\"arn:aws:ec2:us-west-2:" B
	    ":security-group/sg-w\"}") "," RES("managed", "aws_security_group_rule", "b", WEST,
	    "{\"id\":\"sgrule-2\",\"security_group_rule_id\":\"sgr-b\"}") "," RES("managed",
	    "aws_iam_role_policy_attachment", "p", WEST,
	    "{\"role\":\"r\",\"policy_arn\":\"arn:aws:iam::aws:policy/X\"}")));
	td_scope *sc = NULL;
	size_t n;

	(void)unused;
	assert_int_equal(td_scope_build(&sc, st, NULL, NULL), 0);
	expect(sc, st, "aws_security_group_rule.a", A, "eu-west-1");
	expect(sc, st, "aws_security_group.w", B, "us-west-2");
	expect(sc, st, "aws_security_group_rule.b", B, "us-west-2");
	expect(sc, st, "aws_iam_role_policy_attachment.p", B, "");
	expect(sc, st, "data.aws_ami.u", "", ""); /* not indexed */
	td_scope_accounts(sc, &n);
	assert_int_equal(n, 2);
	td_scope_regions(sc, &n);
	assert_int_equal(n, 2);
	td_scope_free(sc);
	tfs_free(st);
}

/* A state with no ARN: the source's options scope it; without them it is
 * unscoped (and says so).  What the state says beats the options. */
static void
test_from_options(void **unused)
{
	tfs_state *bare = parse(STATE(RES("managed", "aws_lambda_function", "f", PROV,
	    "{\"function_name\":\"thumbnails\",\"id\":\"thumbnails\"}") "," RES("managed",
	    "aws_iam_role", "r", PROV, "{\"name\":\"ecsInstanceRole\"}")));
	tfs_state *arn = parse(STATE(RES("managed", "aws_lambda_function", "f", PROV,
	    "{\"function_name\":\"thumbnails\",\"arn\":\"arn:aws:lambda:eu-west-1:" A
	    ":function:thumbnails\"}")));
	td_scope *sc = NULL;

	(void)unused;
	assert_int_equal(td_scope_build(&sc, bare, B, "us-east-2"), 0);
	expect(sc, bare, "aws_lambda_function.f", B, "us-east-2");
	expect(sc, bare, "aws_iam_role.r", B, "");
	assert_true(td_scope_account_known(sc));
	td_scope_free(sc);

	assert_int_equal(td_scope_build(&sc, bare, B, NULL), 0);
	expect(sc, bare, "aws_lambda_function.f", B, ""); /* region unknown: the whole account */
	td_scope_free(sc);

	assert_int_equal(td_scope_build(&sc, bare, NULL, "us-east-2"), 0);
	expect(sc, bare, "aws_lambda_function.f", "", ""); /* no account: unscoped */
	expect(sc, bare, "aws_iam_role.r", "", "");
	assert_false(td_scope_account_known(sc));
	assert_int_equal(td_scope_unscoped(sc), 2);
	td_scope_free(sc);

	assert_int_equal(td_scope_build(&sc, arn, B, "us-east-2"), 0);
	expect(sc, arn, "aws_lambda_function.f", A, "eu-west-1");
	td_scope_free(sc);
	tfs_free(bare);
	tfs_free(arn);
}

static void
test_global_types(void **unused)
{
	(void)unused;
	assert_true(idx_type_global("aws_iam_role"));
	assert_true(idx_type_global("aws_iam_policy"));
	assert_true(idx_type_global("aws_s3_bucket"));
	assert_true(idx_type_global("aws_s3_bucket_policy"));
	assert_true(idx_type_global("aws_cloudfront_distribution"));
	assert_true(idx_type_global("aws_route53_record"));
	assert_false(idx_type_global("aws_route53_resolver_endpoint"));
	assert_false(idx_type_global("aws_security_group"));
	assert_false(idx_type_global("aws_lambda_function"));
	assert_false(idx_type_global("aws_db_instance"));
	assert_false(idx_type_global("aws_sqs_queue"));
	assert_false(idx_type_global("aws_sns_topic"));
	assert_false(idx_type_global("aws_ecs_cluster"));
	assert_false(idx_type_global("aws_eks_cluster"));
}

static void
test_fields(void **unused)
{
	const char *f[TD_RKEY_IDX_LOOKUPS];
	char buf[256], *one;
	size_t n, need;

	(void)unused;
	one = td_rkey_idx_field(A, "eu-west-1", "jobs");
	assert_string_equal(one, "@" A ":eu-west-1:jobs");
	free(one);
	one = td_rkey_idx_field(A, "", "ecsInstanceRole");
	assert_string_equal(one, "@" A "::ecsInstanceRole");
	free(one);
	one = td_rkey_idx_field("", "eu-west-1", "i-1");
	assert_string_equal(one, "i-1");
	free(one);

	/* most specific first: the region, the account, unscoped states */
	n = td_rkey_idx_lookup_fields(B, "us-east-1", "aws_s3_bucket_policy:logs", buf, sizeof(buf),
	    f);
	assert_int_equal(n, 3);
	assert_string_equal(f[0], "@" B ":us-east-1:aws_s3_bucket_policy:logs");
	assert_string_equal(f[1], "@" B "::aws_s3_bucket_policy:logs");
	assert_string_equal(f[2], "aws_s3_bucket_policy:logs");
	/* the size is exact: one byte less does not fit */
	need = td_rkey_idx_lookup_size(B, "us-east-1", "aws_s3_bucket_policy:logs");
	assert_int_equal(need, (size_t)(f[2] - buf) + strlen(f[2]) + 1);
	assert_int_equal(td_rkey_idx_lookup_fields(B, "us-east-1", "aws_s3_bucket_policy:logs", buf,
			     need - 1, f),
	    0);
	n = td_rkey_idx_lookup_fields(B, "", "x", buf, sizeof(buf), f);
	assert_int_equal(n, 2);
	assert_string_equal(f[0], "@" B "::x");
	assert_string_equal(f[1], "x");
	n = td_rkey_idx_lookup_fields("", "eu-west-1", "x", buf, sizeof(buf), f);
	assert_int_equal(n, 1);
	assert_string_equal(f[0], "x");
}

static void
test_valid_options(void **unused)
{
	(void)unused;
	assert_true(td_scope_valid_account(A));
	assert_false(td_scope_valid_account("12345"));
	assert_false(td_scope_valid_account("11111111111a"));
	assert_false(td_scope_valid_account("1111111111111"));
	assert_true(td_scope_valid_region("eu-west-1"));
	assert_true(td_scope_valid_region("us-gov-west-1"));
	assert_false(td_scope_valid_region("eu-west"));
	assert_false(td_scope_valid_region("EU-WEST-1"));
	assert_false(td_scope_valid_region("eu_west_1"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_arns),
		cmocka_unit_test(test_from_providers),
		cmocka_unit_test(test_from_options),
		cmocka_unit_test(test_global_types),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_valid_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
