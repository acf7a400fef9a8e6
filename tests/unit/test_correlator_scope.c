/* test_correlator_scope.c — the explain path (memstate, the same rule code
 * as the service) matches an event only to resources of its own account and
 * region (issue 17): one state loaded as workspaces of two accounts and of
 * two regions, an IAM name (account-global) and a Lambda function (regional),
 * an account no state belongs to, and the unscoped fallback for a state
 * whose account is unknown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tfdrift/catalog.h"
#include "../../services/correlator/memstate.h"
#include "../../services/correlator/rule.h"
#include "tfdrift/error.h"

#define A "111111111111"
#define B "222222222222"
#define C "333333333333"

/* No ARN anywhere: the account and region come from the --state options. */
static const char shared_state[] =
    "{\"version\":4,\"serial\":1,\"lineage\":\"l\",\"resources\":["
    "{\"mode\":\"managed\",\"type\":\"aws_iam_role\",\"name\":\"ecs\",\"provider\":\"p\","
    "\"instances\":[{\"attributes\":{\"name\":\"ecsInstanceRole\",\"id\":\"ecsInstanceRole\","
    "\"assume_role_policy\":\"{}\"}}]},"
    "{\"mode\":\"managed\",\"type\":\"aws_lambda_function\",\"name\":\"t\",\"provider\":\"p\","
    "\"instances\":[{\"attributes\":{\"function_name\":\"thumbnails\",\"id\":\"thumbnails\"}}]}"
    "]}";
/* An ARN in account A, eu-west-1: scoped without options. */
static const char arn_state[] =
    "{\"version\":4,\"serial\":1,\"lineage\":\"m\",\"resources\":["
    "{\"mode\":\"managed\",\"type\":\"aws_sqs_queue\",\"name\":\"q\",\"provider\":\"p\","
    "\"instances\":[{\"attributes\":{\"id\":\"https://sqs.eu-west-1.amazonaws.com/" A "/jobs\","
    "\"url\":\"https://sqs.eu-west-1.amazonaws.com/" A "/jobs\",\"name\":\"jobs\","
    "\"arn\":\"arn:aws:sqs:eu-west-1:" A ":jobs\"}}]}]}";
/* A topic in B's eu-west-1, named by its ARN. */
static const char topic_state[] =
    "{\"version\":4,\"serial\":1,\"lineage\":\"t\",\"resources\":["
    "{\"mode\":\"managed\",\"type\":\"aws_sns_topic\",\"name\":\"alerts\",\"provider\":\"p\","
    "\"instances\":[{\"attributes\":{\"id\":\"arn:aws:sns:eu-west-1:" B ":alerts\","
    "\"arn\":\"arn:aws:sns:eu-west-1:" B ":alerts\",\"name\":\"alerts\"}}]}]}";
/* Unknown account: matched by every account, as before scoping. */
static const char legacy_state[] =
    "{\"version\":4,\"serial\":1,\"lineage\":\"n\",\"resources\":["
    "{\"mode\":\"managed\",\"type\":\"aws_lambda_function\",\"name\":\"old\",\"provider\":\"p\","
    "\"instances\":[{\"attributes\":{\"function_name\":\"legacy-fn\",\"id\":\"legacy-fn\"}}]}]}";

static cat_catalog *cat;
static memstate *ms;
static char dir[] = "/tmp/test_correlator_scope_XXXXXX";

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
add(const char *spec_fmt, const char *file)
{
	char spec[512];
	td_error err = { 0 };

	snprintf(spec, sizeof(spec), spec_fmt, dir, file);
	if (memstate_add_file(ms, spec, &err) != 0)
		fail_msg("%s: %s", spec, err.msg);
}

static int
setup(void **unused)
{
	td_error err = { 0 };
	char path[256];

	(void)unused;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/shared.tfstate", dir);
	write_file(path, shared_state);
	snprintf(path, sizeof(path), "%s/arn.tfstate", dir);
	write_file(path, arn_state);
	snprintf(path, sizeof(path), "%s/legacy.tfstate", dir);
	write_file(path, legacy_state);
	snprintf(path, sizeof(path), "%s/topic.tfstate", dir);
	write_file(path, topic_state);
	assert_int_equal(cat_load_embedded(&cat, &err), 0);
	assert_int_equal(memstate_new(&ms), 0);
	add("acct-a=%s/%s#account=" A "&region=eu-west-1", "shared.tfstate");
	add("acct-b=%s/%s#account=" B "&region=eu-west-1", "shared.tfstate");
	add("a-west=%s/%s#account=" A "&region=us-west-2", "shared.tfstate");
	add("queues=%s/%s", "arn.tfstate");
	add("%s/%s", "legacy.tfstate");
	add("topics=%s/%s", "topic.tfstate");
	return 0;
}

static int
teardown(void **unused)
{
	char path[256];

	(void)unused;
	memstate_free(ms);
	cat_free(cat);
	for (const char *const *f =
		 (const char *const[]){ "shared", "arn", "legacy", "topic", NULL };
	     *f != NULL; f++) {
		snprintf(path, sizeof(path), "%s/%s.tfstate", dir, *f);
		unlink(path);
	}
	rmdir(dir);
	return 0;
}

/* The workspace the event's first alert names, or the skip reason. */
static const char *
decide(const char *source, const char *name, const char *req, const char *recipient,
    const char *principal, const char *region, char *buf, size_t len)
{
	Tfdrift__V1__CloudEvent ev;
	Tfdrift__V1__UserIdentity id;
	rule_state st = { .lookup = memstate_lookup, .attrs = memstate_attrs, .arg = ms };
	rule_env env = { .catalog = cat };
	rule_alerts al = { 0 };
	rule_result res;

	tfdrift__v1__cloud_event__init(&ev);
	tfdrift__v1__user_identity__init(&id);
	ev.user_identity = &id;
	ev.event_id = (char *)"11111111-2222-4333-8444-555555555555";
	ev.event_source = (char *)source;
	ev.event_name = (char *)name;
	ev.request_parameters_json = (char *)req;
	ev.read_only = TFDRIFT__V1__READ_ONLY__READ_ONLY_FALSE;
	ev.user_agent = (char *)"aws-cli/2.15.30";
	ev.aws_region = (char *)region;
	ev.recipient_account_id = (char *)recipient;
	ev.account_id = (char *)(recipient[0] != '\0' ? recipient : principal);
	id.type = (char *)"IAMUser";
	id.user_name = (char *)"bob";
	id.account_id = (char *)principal;
	assert_int_equal(rule_evaluate(&env, &ev, &st, 1, &al, &res), 0);
	if (al.n > 0)
		snprintf(buf, len, "%s", al.items[0]->workspace);
	else
		snprintf(buf, len, "%s", res.skip);
	rule_alerts_free(&al);
	return buf;
}

#define ROLE_REQ \
	"{\"roleName\":\"ecsInstanceRole\",\"policyDocument\":\"{\\\"Version\\\":\\\"2012-10-17\\\"}\"}"
#define FN_REQ(fn) "{\"functionName\":\"" fn "\"}"
#define IAM "iam.amazonaws.com"
#define LAMBDA "lambda.amazonaws.com"

/* The incident of issue 17: the same role name in A's and B's states. */
static void
test_account_global_names(void **unused)
{
	char b[256];

	(void)unused;
	/* IAM calls are recorded in us-east-1; the role is region-free */
	assert_string_equal(decide(IAM, "UpdateAssumeRolePolicy", ROLE_REQ, B, B, "us-east-1", b,
				sizeof(b)),
	    "acct-b");
	assert_string_equal(decide(IAM, "UpdateAssumeRolePolicy", ROLE_REQ, A, A, "us-east-1", b,
				sizeof(b)),
	    "acct-a");
	/* a principal of A acting in B: the resource is B's (recipientAccountId) */
	assert_string_equal(decide(IAM, "UpdateAssumeRolePolicy", ROLE_REQ, B, A, "us-east-1", b,
				sizeof(b)),
	    "acct-b");
	/* no recipientAccountId: the principal's account */
	assert_string_equal(decide(IAM, "UpdateAssumeRolePolicy", ROLE_REQ, "", B, "us-east-1", b,
				sizeof(b)),
	    "acct-b");
	/* an account no state belongs to: nothing managed */
	assert_string_equal(decide(IAM, "UpdateAssumeRolePolicy", ROLE_REQ, C, C, "us-east-1", b,
				sizeof(b)),
	    "not_managed");
}

static void
test_regional_names(void **unused)
{
	char b[256];

	(void)unused;
	assert_string_equal(decide(LAMBDA, "DeleteFunction20150331", FN_REQ("thumbnails"), A, A,
				"eu-west-1", b, sizeof(b)),
	    "acct-a");
	assert_string_equal(decide(LAMBDA, "DeleteFunction20150331", FN_REQ("thumbnails"), A, A,
				"us-west-2", b, sizeof(b)),
	    "a-west");
	assert_string_equal(decide(LAMBDA, "DeleteFunction20150331", FN_REQ("thumbnails"), B, B,
				"eu-west-1", b, sizeof(b)),
	    "acct-b");
	/* B has no such function in us-west-2; A's there is not B's */
	assert_string_equal(decide(LAMBDA, "DeleteFunction20150331", FN_REQ("thumbnails"), B, B,
				"us-west-2", b, sizeof(b)),
	    "not_managed");
	assert_string_equal(decide(LAMBDA, "DeleteFunction20150331", FN_REQ("thumbnails"), C, C,
				"eu-west-1", b, sizeof(b)),
	    "not_managed");
}

/* A state scoped by its ARNs; the queue URL names A and eu-west-1. */
static void
test_scoped_by_arns(void **unused)
{
	char b[256];
	const char *url = "{\"queueUrl\":\"https://sqs.eu-west-1.amazonaws.com/" A "/jobs\"}";

	(void)unused;
	assert_string_equal(decide("sqs.amazonaws.com", "DeleteQueue", url, A, A, "eu-west-1", b,
				sizeof(b)),
	    "queues");
	assert_string_equal(decide("sqs.amazonaws.com", "DeleteQueue", url, C, C, "eu-west-1", b,
				sizeof(b)),
	    "not_managed");
}

/* An ARN says where its resource is: a call made in another region (or
 * recorded for another account) that names it by ARN still finds it; a name
 * that is no ARN is looked up where the event happened. */
static void
test_arn_names_its_scope(void **unused)
{
	char b[256];
	const char *arn = "{\"topicArn\":\"arn:aws:sns:eu-west-1:" B ":alerts\"}";
	const char *other = "{\"topicArn\":\"arn:aws:sns:us-east-1:" B ":alerts\"}";

	(void)unused;
	assert_string_equal(decide("sns.amazonaws.com", "DeleteTopic", arn, B, B, "us-east-1", b,
				sizeof(b)),
	    "topics");
	assert_string_equal(decide("sns.amazonaws.com", "DeleteTopic", arn, A, A, "eu-west-1", b,
				sizeof(b)),
	    "topics");
	/* the same name in another region is another topic */
	assert_string_equal(decide("sns.amazonaws.com", "DeleteTopic", other, B, B, "eu-west-1", b,
				sizeof(b)),
	    "not_managed");
}

/* A state of unknown account keeps today's behaviour: any account finds it. */
static void
test_unscoped_fallback(void **unused)
{
	char b[256];

	(void)unused;
	assert_string_equal(decide(LAMBDA, "DeleteFunction20150331", FN_REQ("legacy-fn"), C, C,
				"ap-south-1", b, sizeof(b)),
	    "legacy");
	assert_string_equal(decide(LAMBDA, "DeleteFunction20150331", FN_REQ("legacy-fn"), A, A,
				"eu-west-1", b, sizeof(b)),
	    "legacy");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_account_global_names),
		cmocka_unit_test(test_regional_names),
		cmocka_unit_test(test_scoped_by_arns),
		cmocka_unit_test(test_arn_names_its_scope),
		cmocka_unit_test(test_unscoped_fallback),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
