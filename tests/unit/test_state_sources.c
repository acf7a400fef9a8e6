/* test_state_sources.c — state_loader.local_files entries
 * (services/state-loader/loader.c: ldr_parse_source). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../services/state-loader/loader.h"

static void
expect_ok(const char *spec, const char *want_name, const char *want_path)
{
	char *name = NULL, *path = NULL;
	td_error err = { 0 };

	assert_int_equal(ldr_parse_source(spec, &name, &path, &err), 0);
	assert_string_equal(name, want_name);
	assert_string_equal(path, want_path);
	free(name);
	free(path);
}

static void
expect_bad(const char *spec, const char *msg)
{
	char *name = (char *)"x", *path = (char *)"y";
	td_error err = { 0 };

	assert_int_equal(ldr_parse_source(spec, &name, &path, &err), TD_EINVAL);
	assert_null(name);
	assert_null(path);
	assert_string_equal(err.msg, msg);
}

static void
test_named(void **state)
{
	(void)state;
	expect_ok("prod/network=/states/network.tfstate", "prod/network",
	    "/states/network.tfstate");
	/* the first '=' splits: a path may hold '=' */
	expect_ok("x=/data/a=b.tfstate", "x", "/data/a=b.tfstate");
	expect_ok("rel=states/dev.tfstate", "rel", "states/dev.tfstate");
}

static void
test_bare_path(void **state)
{
	(void)state;
	expect_ok("/states/prod.tfstate", "prod.tfstate", "/states/prod.tfstate");
	expect_ok("terraform.tfstate", "terraform.tfstate", "terraform.tfstate");
}

static void
test_bad(void **state)
{
	(void)state;
	expect_bad("=/x", "state_loader.local_files: \"=/x\": no workspace name (write NAME=PATH)");
	expect_bad("name=", "state_loader.local_files: \"name=\": no path");
	expect_bad("/states/",
	    "state_loader.local_files: \"/states/\": no workspace name (write NAME=PATH)");
	expect_bad("", "state_loader.local_files: \"\": no path");
	expect_bad("a\tb=/x",
	    "state_loader.local_files: \"a\tb=/x\": the workspace name may not hold a tab or newline");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_named),
		cmocka_unit_test(test_bare_path),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
