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

static void
test_the_first_check_is_a_baseline(void **state)
{
	(void)state;
	gw_gap g = { 0 };
	uint64_t after = 0;
	assert_false(gw_gap_committed(&g, 500, &after)); /* loaded by the clients */
	assert_int_equal(g.newest, 500);
	assert_false(gw_gap_committed(&g, 500, &after));
	assert_false(gw_gap_observe(&g, 501, &after)); /* contiguous with the baseline */
	assert_int_equal(g.gaps, 0);
}

static void
test_committed_but_not_pushed_is_a_gap_one_check_later(void **state)
{
	(void)state;
	gw_gap g = { 0 };
	uint64_t after = 0;
	assert_false(gw_gap_committed(&g, 0, &after)); /* an empty table */
	assert_false(gw_gap_observe(&g, 1, &after));
	assert_false(gw_gap_observe(&g, 2, &after));
	/* 3 and 4 committed; their publication may still be on its way */
	assert_false(gw_gap_committed(&g, 4, &after));
	assert_false(gw_gap_observe(&g, 3, &after));
	/* 4 never came, 5 committed since */
	assert_true(gw_gap_committed(&g, 5, &after));
	assert_int_equal(after, 3);
	assert_int_equal(g.newest, 5);
	/* reported once, and 6 is contiguous with what the clients read */
	assert_false(gw_gap_committed(&g, 5, &after));
	assert_false(gw_gap_observe(&g, 6, &after));
	assert_int_equal(g.gaps, 1);
}

static void
test_pushed_in_time_is_no_gap(void **state)
{
	(void)state;
	gw_gap g = { 0 };
	uint64_t after = 0;
	assert_false(gw_gap_committed(&g, 10, &after));
	for (uint64_t id = 11; id <= 40; id++) {
		assert_false(gw_gap_observe(&g, id, &after));
		if (id % 10 == 0) {
			assert_false(gw_gap_committed(&g, id + 2, &after)); /* two on their way */
		}
	}
	assert_int_equal(g.gaps, 0);
}

static void
test_a_relink_reports_the_newest_seen(void **state)
{
	(void)state;
	gw_gap g = { 0 };
	uint64_t after = 0;
	assert_false(gw_gap_observe(&g, 7, &after));
	assert_int_equal(gw_gap_relinked(&g), 7);
	assert_int_equal(g.gaps, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contiguous_ids_are_no_gap),
		cmocka_unit_test(test_first_id_is_no_gap),
		cmocka_unit_test(test_skipped_ids_are_a_gap_after_the_newest),
		cmocka_unit_test(test_older_or_repeated_ids_are_no_gap),
		cmocka_unit_test(test_the_first_check_is_a_baseline),
		cmocka_unit_test(test_committed_but_not_pushed_is_a_gap_one_check_later),
		cmocka_unit_test(test_pushed_in_time_is_no_gap),
		cmocka_unit_test(test_a_relink_reports_the_newest_seen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
