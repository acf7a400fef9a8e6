/* test_gateway_gap.c — the live feed's gap detection (services/api-gateway/gap.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../services/api-gateway/gap.h"

static void
test_contiguous_ids_are_no_gap(void **state)
{
	(void)state;
	gw_gap g = { 0 };
	uint64_t after = 99;
	for (uint64_t id = 1; id <= 100; id++) {
		assert_false(gw_gap_observe(&g, id, &after));
	}
	assert_int_equal(after, 99); /* untouched */
	assert_int_equal(g.newest, 100);
	assert_int_equal(g.gaps, 0);
}

static void
test_first_id_is_no_gap(void **state)
{
	(void)state;
	gw_gap g = { 0 };
	uint64_t after = 0;
	assert_false(gw_gap_observe(&g, 5000, &after));
	assert_int_equal(g.newest, 5000);
}

static void
test_skipped_ids_are_a_gap_after_the_newest(void **state)
{
	(void)state;
	gw_gap g = { 0 };
	uint64_t after = 0;
	assert_false(gw_gap_observe(&g, 10, &after));
	assert_false(gw_gap_observe(&g, 11, &after));
	assert_true(gw_gap_observe(&g, 14, &after));
	assert_int_equal(after, 11);
	assert_int_equal(g.newest, 14);
	assert_false(gw_gap_observe(&g, 15, &after));
	assert_int_equal(g.gaps, 1);
}

static void
test_older_or_repeated_ids_are_no_gap(void **state)
{
	(void)state;
	gw_gap g = { 0 };
	uint64_t after = 0;
	assert_false(gw_gap_observe(&g, 20, &after));
	assert_false(gw_gap_observe(&g, 18, &after)); /* a concurrent writer's batch */
	assert_false(gw_gap_observe(&g, 20, &after));
	assert_int_equal(g.newest, 20);
	assert_false(gw_gap_observe(&g, 21, &after));
	assert_int_equal(g.gaps, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contiguous_ids_are_no_gap),
		cmocka_unit_test(test_first_id_is_no_gap),
		cmocka_unit_test(test_skipped_ids_are_a_gap_after_the_newest),
		cmocka_unit_test(test_older_or_repeated_ids_are_no_gap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
