/* test_state_names.c — the state-loader's name set
 * (services/state-loader/names.c): add, look up, first value kept, growth
 * through many names with shared prefixes, clear and reuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/state-loader/names.h"

static void
test_add_and_get(void **state)
{
	names *n = NULL;
	size_t v = 99;
	char name[64];

	(void)state;
	assert_int_equal(names_new(&n), 0);
	assert_false(names_get(n, "prod/network", &v));
	assert_int_equal(names_add(n, "prod/network", 3), 1);
	assert_int_equal(names_add(n, "prod/app", 4), 1);
	/* a second add keeps the first value */
	assert_int_equal(names_add(n, "prod/network", 7), 0);
	assert_true(names_get(n, "prod/network", &v));
	assert_int_equal(v, 3);
	assert_true(names_get(n, "prod/app", NULL));
	assert_false(names_get(n, "prod/ap", NULL));
	assert_false(names_get(n, "prod/appx", NULL));
	assert_false(names_get(n, "", NULL));
	assert_int_equal(names_count(n), 2);
	/* the set keeps its own copy */
	snprintf(name, sizeof(name), "bucket/%s", "ws-1");
	assert_int_equal(names_add(n, name, 5), 1);
	memset(name, 'x', sizeof(name) - 1);
	assert_true(names_get(n, "bucket/ws-1", &v));
	assert_int_equal(v, 5);
	names_free(n);
	names_free(NULL);
}

static void
test_many_names(void **state)
{
	enum {
		N = 20000
	};
	names *n = NULL;
	char name[96];
	size_t v;

	(void)state;
	assert_int_equal(names_new(&n), 0);
	for (size_t i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "s3-org-states/env:/account-%05zu/terraform.tfstate",
		    i);
		assert_int_equal(names_add(n, name, i), 1);
	}
	assert_int_equal(names_count(n), N);
	for (size_t i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "s3-org-states/env:/account-%05zu/terraform.tfstate",
		    i);
		assert_true(names_get(n, name, &v));
		assert_int_equal(v, i);
		assert_int_equal(names_add(n, name, i + 1), 0);
	}
	assert_false(names_get(n, "s3-org-states/env:/account-20000/terraform.tfstate", NULL));

	/* cleared: empty, and it takes names again */
	names_clear(n);
	assert_int_equal(names_count(n), 0);
	assert_false(names_get(n, "s3-org-states/env:/account-00001/terraform.tfstate", NULL));
	assert_int_equal(names_add(n, "again", 1), 1);
	assert_true(names_get(n, "again", &v));
	assert_int_equal(v, 1);
	names_free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_and_get),
		cmocka_unit_test(test_many_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
