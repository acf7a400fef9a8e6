/* test_state_contain.c — graph containment from state attributes
 * (services/state-loader/contain.c): subnets in their VPC, instances in their
 * subnet, multi-subnet resources in the VPC, nesting across workspaces,
 * nested blocks, unknown ids, deposed objects and data sources. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/state-loader/contain.h"
#include "tfdrift/tfstate.h"

static const char net[] =
    "{\"version\":4,\"terraform_version\":\"1.7.0\",\"serial\":1,\"lineage\":\"n\",\"resources\":["
    "{\"mode\":\"managed\",\"type\":\"aws_vpc\",\"name\":\"main\",\"provider\":\"p\",\"instances\":"
    "[{\"attributes\":{\"id\":\"vpc-1\",\"cidr_block\":\"10.0.0.0/16\"}}]},"
    "{\"mode\":\"managed\",\"type\":\"aws_subnet\",\"name\":\"private\",\"provider\":\"p\","
    "\"instances\":[{\"index_key\":0,\"attributes\":{\"id\":\"subnet-a\",\"vpc_id\":\"vpc-1\"}},"
    "{\"index_key\":1,\"attributes\":{\"id\":\"subnet-b\",\"vpc_id\":\"vpc-1\"}}]},"
    "{\"mode\":\"managed\",\"type\":\"aws_security_group\",\"name\":\"web\",\"provider\":\"p\","
    "\"instances\":[{\"attributes\":{\"id\":\"sg-1\",\"vpc_id\":\"vpc-1\"}}]},"
    "{\"mode\":\"data\",\"type\":\"aws_subnet\",\"name\":\"looked_up\",\"provider\":\"p\","
    "\"instances\":[{\"attributes\":{\"id\":\"subnet-data\",\"vpc_id\":\"vpc-1\"}}]}"
    "]}";

static const char app[] =
    "{\"version\":4,\"terraform_version\":\"1.7.0\",\"serial\":1,\"lineage\":\"a\",\"resources\":["
    "{\"mode\":\"managed\",\"type\":\"aws_instance\",\"name\":\"web\",\"provider\":\"p\","
    "\"instances\":[{\"attributes\":{\"id\":\"i-1\",\"subnet_id\":\"subnet-a\",\"vpc_security_group_ids\":[\"sg-1\"]}},"
    "{\"deposed\":\"d1\",\"attributes\":{\"id\":\"i-0\",\"subnet_id\":\"subnet-a\"}}]},"
    "{\"mode\":\"managed\",\"type\":\"aws_lb\",\"name\":\"front\",\"provider\":\"p\","
    "\"instances\":[{\"attributes\":{\"id\":\"lb-1\",\"subnets\":[\"subnet-a\",\"subnet-b\"]}}]},"
    "{\"mode\":\"managed\",\"type\":\"aws_lambda_function\",\"name\":\"fn\",\"provider\":\"p\","
    "\"instances\":[{\"attributes\":{\"id\":\"fn\",\"vpc_config\":[{\"subnet_ids\":[\"subnet-b\"],\"vpc_id\":\"vpc-1\"}]}}]},"
    "{\"mode\":\"managed\",\"type\":\"aws_instance\",\"name\":\"elsewhere\",\"provider\":\"p\","
    "\"instances\":[{\"attributes\":{\"id\":\"i-2\",\"subnet_id\":\"subnet-unknown\"}}]},"
    "{\"mode\":\"managed\",\"type\":\"aws_s3_bucket\",\"name\":\"logs\",\"provider\":\"p\","
    "\"instances\":[{\"attributes\":{\"id\":\"logs\",\"bucket\":\"logs\"}}]}"
    "]}";

typedef struct fixture {
	tfs_state *st[2];
	contain *c;
} fixture;

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	td_error err = { 0 };
	assert_non_null(f);
	assert_int_equal(tfs_parse_buffer(&f->st[0], net, strlen(net), "net.tfstate", &err), 0);
	assert_int_equal(tfs_parse_buffer(&f->st[1], app, strlen(app), "app.tfstate", &err), 0);
	const char *names[] = { "prod/network", "prod/app" };
	const tfs_state *states[] = { f->st[0], f->st[1] };
	assert_int_equal(contain_build(&f->c, names, states, 2), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	contain_free(f->c);
	tfs_free(f->st[0]);
	tfs_free(f->st[1]);
	free(f);
	return 0;
}

/* The parent of the instance at address (deposed or not) of state w. */
static const char *
parent_of(const fixture *f, size_t w, const char *address, bool deposed)
{
	const tfs_instance *in;
	for (size_t i = 0; (in = tfs_instance_at(f->st[w], i)) != NULL; i++) {
		if (strcmp(in->address, address) == 0 && (in->deposed != NULL) == deposed) {
			return contain_parent(f->c, w, i);
		}
	}
	fail_msg("no instance %s", address);
	return NULL;
}

static void
test_vpc_contains_subnets_and_groups(void **state)
{
	fixture *f = *state;
	assert_null(parent_of(f, 0, "aws_vpc.main", false));
	assert_string_equal(parent_of(f, 0, "aws_subnet.private[0]", false),
	    "prod/network:aws_vpc.main");
	assert_string_equal(parent_of(f, 0, "aws_subnet.private[1]", false),
	    "prod/network:aws_vpc.main");
	assert_string_equal(parent_of(f, 0, "aws_security_group.web", false),
	    "prod/network:aws_vpc.main");
}

static void
test_instance_sits_in_its_subnet_across_workspaces(void **state)
{
	fixture *f = *state;
	assert_string_equal(parent_of(f, 1, "aws_instance.web", false),
	    "prod/network:aws_subnet.private[0]");
	assert_null(parent_of(f, 1, "aws_instance.web", true)); /* deposed */
}

static void
test_multi_subnet_resources_sit_in_the_vpc(void **state)
{
	fixture *f = *state;
	assert_string_equal(parent_of(f, 1, "aws_lb.front", false), "prod/network:aws_vpc.main");
	/* a nested vpc_config block with one subnet */
	assert_string_equal(parent_of(f, 1, "aws_lambda_function.fn", false),
	    "prod/network:aws_subnet.private[1]");
}

static void
test_unknown_ids_and_unplaced_resources_stay_on_top(void **state)
{
	fixture *f = *state;
	assert_null(parent_of(f, 1, "aws_instance.elsewhere", false));
	assert_null(parent_of(f, 1, "aws_s3_bucket.logs", false));
	/* a data source is no container: nothing points at subnet-data, and it
	 * is itself placed in the VPC like any resource naming one */
	assert_string_equal(parent_of(f, 0, "data.aws_subnet.looked_up", false),
	    "prod/network:aws_vpc.main");
	assert_int_equal(contain_count(f->c), 7);
	assert_null(contain_parent(f->c, 5, 0)); /* out of range */
}

static void
test_no_state_no_parents(void **state)
{
	(void)state;
	contain *c = NULL;
	const char *names[] = { "empty" };
	const tfs_state *states[] = { NULL };
	assert_int_equal(contain_build(&c, names, states, 1), 0);
	assert_null(contain_parent(c, 0, 0));
	assert_int_equal(contain_count(c), 0);
	contain_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vpc_contains_subnets_and_groups),
		cmocka_unit_test(test_instance_sits_in_its_subnet_across_workspaces),
		cmocka_unit_test(test_multi_subnet_resources_sit_in_the_vpc),
		cmocka_unit_test(test_unknown_ids_and_unplaced_resources_stay_on_top),
	};
	int rv = cmocka_run_group_tests(tests, setup, teardown);
	const struct CMUnitTest lone[] = { cmocka_unit_test(test_no_state_no_parents) };
	return rv | cmocka_run_group_tests(lone, NULL, NULL);
}
