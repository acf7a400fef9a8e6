/* test_state_check.c — `tfdrift-state-loader check`: the summary of a state
 * file and its --json form (services/state-loader/check.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../services/state-loader/check.h"

#define FIXTURES "tests/fixtures/states/"

/* Runs chk_main on args; *out_text and *err_text are malloc'd (caller frees). */
static int
run_check(int argc, const char **args, char **out_text, char **err_text)
{
	size_t olen = 0, elen = 0;
	FILE *out = open_memstream(out_text, &olen);
	FILE *err = open_memstream(err_text, &elen);
	int rv;

	assert_non_null(out);
	assert_non_null(err);
	rv = chk_main(argc, (char **)args, 0, out, err);
	fclose(out);
	fclose(err);
	return rv;
}

static double
num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(v)) {
		fail_msg("%s: missing or not a number", k);
	}
	return v->valuedouble;
}

static void
test_summary_counts(void **state)
{
	tfs_state *st = NULL;
	td_error err = { 0 };
	chk_summary s;
	cJSON *types = NULL;

	(void)state;
	assert_int_equal(tfs_parse_file(&st, FIXTURES "prod.tfstate", 0, &err), 0);
	assert_int_equal(chk_summarise(st, &s, &types), 0);
	/* managed and current: what the index holds */
	assert_int_equal(s.managed, tfs_indexed_count(st));
	assert_int_equal(s.managed, 17);
	assert_int_equal(s.tainted, 1);
	assert_int_equal(s.deposed, 1);
	assert_int_equal(s.data_sources, 2);
	assert_int_equal(s.managed + s.deposed + s.data_sources, tfs_instance_count(st));
	assert_int_equal(s.redactions, tfs_redaction_count(st));
	assert_true(s.redactions > 0);
	assert_int_equal(s.conflicts, 0);
	assert_true(s.identifiers >= s.managed);
	assert_int_equal(num(types, "aws_instance"), 2);
	assert_int_equal(num(types, "aws_subnet"), 2);
	assert_null(cJSON_GetObjectItemCaseSensitive(types, "aws_ami")); /* data source */
	cJSON_Delete(types);
	tfs_free(st);
}

static void
test_conflicts_counted(void **state)
{
	/* two instances naming the same bucket: one identifier, one conflict */
	static const char text[] =
	    "{\"version\":4,\"serial\":1,\"lineage\":\"l\",\"resources\":["
	    "{\"mode\":\"managed\",\"type\":\"aws_s3_bucket\",\"name\":\"a\",\"instances\":["
	    "{\"attributes\":{\"id\":\"b1\",\"bucket\":\"b1\"}}]},"
	    "{\"mode\":\"managed\",\"type\":\"aws_s3_bucket\",\"name\":\"b\",\"instances\":["
	    "{\"attributes\":{\"id\":\"b1\",\"bucket\":\"b1\"},"
	    "\"dependencies\":[\"aws_s3_bucket.a\"]}]}]}";
	tfs_state *st = NULL;
	td_error err = { 0 };
	chk_summary s;

	(void)state;
	assert_int_equal(tfs_parse_buffer(&st, text, strlen(text), "dup.tfstate", &err), 0);
	assert_int_equal(chk_summarise(st, &s, NULL), 0);
	assert_int_equal(s.identifiers, 1);
	assert_int_equal(s.conflicts, 1);
	assert_int_equal(s.edges, 1);
	tfs_free(st);
}

static void
test_json_output(void **state)
{
	const char *args[] = { FIXTURES "prod.tfstate", "--json" };
	char *out = NULL, *err = NULL;
	cJSON *o;

	(void)state;
	assert_int_equal(run_check(2, args, &out, &err), 0);
	assert_string_equal(err, "");
	o = cJSON_Parse(out);
	assert_non_null(o);
	assert_string_equal(cJSON_GetObjectItem(o, "path")->valuestring, FIXTURES "prod.tfstate");
	assert_int_equal(num(o, "serial"), 42);
	assert_int_equal(num(o, "managed"), 17);
	assert_int_equal(num(o, "data_sources"), 2);
	assert_int_equal(num(o, "deposed"), 1);
	assert_true(num(o, "identifiers") > 17);
	assert_true(num(o, "redactions") > 0);
	assert_int_equal(num(cJSON_GetObjectItem(o, "types"), "aws_instance"), 2);
	/* the summary never carries a secret */
	assert_null(strstr(out, "output-secret-value-xyz"));
	cJSON_Delete(o);
	free(out);
	free(err);
}

static void
test_text_output(void **state)
{
	const char *args[] = { FIXTURES "prod.tfstate" };
	char *out = NULL, *err = NULL;

	(void)state;
	assert_int_equal(run_check(1, args, &out, &err), 0);
	assert_non_null(strstr(out, "serial 42"));
	assert_non_null(strstr(out, "managed instances:   17 (1 tainted)"));
	assert_non_null(strstr(out, "data sources:        2"));
	assert_non_null(strstr(out, "  aws_subnet "));
	free(out);
	free(err);
}

/* Where the resources live (issue 17): the fixture's ARNs say it; a state
 * without any says it does not know, unless --account is given; the same
 * name in two accounts is no conflict. */
static void
test_scope(void **state)
{
	char path[] = "/tmp/test_state_check_XXXXXX";
	const char *text_args[] = { path };
	const char *json_args[] = { path, "--json", "--account", "111111111111" };
	const char *bad_args[] = { path, "--account", "12" };
	const char *prod[] = { FIXTURES "prod.tfstate", "--json" };
	const char bare[] =
	    "{\"version\":4,\"serial\":1,\"lineage\":\"l\",\"resources\":["
	    "{\"mode\":\"managed\",\"type\":\"aws_iam_role\",\"name\":\"a\",\"provider\":\"p1\","
	    "\"instances\":[{\"attributes\":{\"name\":\"ecsInstanceRole\",\"arn\":"
	    "\"arn:aws:iam::222222222222:role/ecsInstanceRole\"}}]},"
	    "{\"mode\":\"managed\",\"type\":\"aws_iam_role\",\"name\":\"b\",\"provider\":\"p2\","
	    "\"instances\":[{\"attributes\":{\"name\":\"ecsInstanceRole\",\"arn\":"
	    "\"arn:aws:iam::333333333333:role/ecsInstanceRole\"}}]},"
	    "{\"mode\":\"managed\",\"type\":\"aws_sqs_queue\",\"name\":\"q\",\"provider\":\"p3\","
	    "\"instances\":[{\"attributes\":{\"name\":\"jobs\",\"id\":\"jobs\"}}]}]}";
	char *out = NULL, *err = NULL;
	cJSON *o;
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	(void)state;
	assert_non_null(f);
	fputs(bare, f);
	fclose(f);

	assert_int_equal(run_check(2, prod, &out, &err), 0);
	o = cJSON_Parse(out);
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "accounts"), 0)->valuestring,
	    "123456789012");
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "regions"), 0)->valuestring,
	    "eu-west-1");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "account_known")));
	cJSON_Delete(o);
	free(out);
	free(err);

	/* two accounts in one state: the queue (no ARN, its own provider) is unknown */
	assert_int_equal(run_check(1, text_args, &out, &err), 0);
	assert_non_null(strstr(out, "accounts:            222222222222, 333333333333\n"));
	assert_non_null(strstr(out, "account unknown:     1 of 3 resources"));
	assert_non_null(strstr(out, "(0 claimed by more than one instance)"));
	free(out);
	free(err);

	assert_int_equal(run_check(4, json_args, &out, &err), 0);
	o = cJSON_Parse(out);
	assert_non_null(o);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "account_known")));
	assert_int_equal(num(o, "unscoped_resources"), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "accounts")), 3);
	assert_int_equal(num(o, "identifier_conflicts"), 0);
	cJSON_Delete(o);
	free(out);
	free(err);

	assert_int_equal(run_check(3, bad_args, &out, &err), 2);
	assert_non_null(strstr(err, "--account \"12\": expected a 12-digit AWS account id"));
	free(out);
	free(err);
	unlink(path);
}

static void
test_bad_files(void **state)
{
	const char *v3[] = { FIXTURES "v3.tfstate" };
	const char *broken[] = { FIXTURES "broken.tfstate", "--json" };
	const char *usage[] = { "--json" };
	char *out = NULL, *err = NULL;
	cJSON *o;

	(void)state;
	assert_int_equal(run_check(1, v3, &out, &err), 1);
	assert_string_equal(out, "");
	assert_non_null(strstr(err, "v3.tfstate: state format version 3 is not supported"));
	assert_non_null(strstr(err, "terraform state pull"));
	free(out);
	free(err);

	assert_int_equal(run_check(2, broken, &out, &err), 1);
	o = cJSON_Parse(out);
	assert_non_null(o);
	assert_non_null(strstr(cJSON_GetObjectItem(o, "error")->valuestring, "broken.tfstate:"));
	cJSON_Delete(o);
	free(out);
	free(err);

	assert_int_equal(run_check(1, usage, &out, &err), 2);
	assert_non_null(strstr(err, "usage: tfdrift-state-loader check PATH"));
	free(out);
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_summary_counts),
		cmocka_unit_test(test_conflicts_counted),
		cmocka_unit_test(test_json_output),
		cmocka_unit_test(test_text_output),
		cmocka_unit_test(test_scope),
		cmocka_unit_test(test_bad_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
