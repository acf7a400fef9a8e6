/* test_correlator_lcache.c — the correlator's local cache
 * (services/correlator/lcache.c): bounded and growing tables, dropping by
 * predicate (the table rebuilt: every survivor still found, whatever probe
 * sequence it sat on), and the epoch that keeps an answer read before a drop
 * out of the cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/correlator/lcache.h"

static char *last; /* get's last answer */

static void
forget(void)
{
	free(last);
	last = NULL;
}

/* The value of key, or NULL when absent (freed by the next call). */
static const char *
get(lcache *c, const char *key)
{
	char *v;

	forget();
	if (!lcache_get(c, key, &v))
		return NULL;
	last = v;
	return v;
}

static void
test_put_get_replace(void **state)
{
	lcache *c = lcache_new(0);

	(void)state;
	assert_non_null(c);
	assert_null(get(c, "a"));
	lcache_put(c, "a", "1");
	lcache_put(c, "b", "");
	assert_string_equal(get(c, "a"), "1");
	assert_string_equal(get(c, "b"), ""); /* a cached "not found" */
	lcache_put(c, "a", "2");
	assert_string_equal(get(c, "a"), "2");
	assert_int_equal(lcache_size(c), 2);
	lcache_free(c);
}

static void
test_bounded_empties_when_full(void **state)
{
	lcache *c = lcache_new(4);
	char k[16];

	(void)state;
	for (int i = 0; i < 4; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		lcache_put(c, k, k);
	}
	assert_int_equal(lcache_size(c), 4);
	uint64_t e = lcache_epoch(c);
	lcache_put(c, "k4", "k4"); /* full: emptied, then k4 */
	assert_int_equal(lcache_size(c), 1);
	assert_null(get(c, "k0"));
	assert_string_equal(get(c, "k4"), "k4");
	/* being full is no drop: an answer read before it is still cached */
	assert_int_equal(lcache_epoch(c), e);
	lcache_free(c);
}

/* lcache_pred: keys whose number (after "k") is a multiple of *arg. */
static bool
multiple_of(void *arg, const char *key, const char *val)
{
	(void)val;
	return strtol(key + 1, NULL, 10) % *(int *)arg == 0;
}

static bool
none(void *arg, const char *key, const char *val)
{
	(void)arg;
	(void)key;
	(void)val;
	return false;
}

/* Value "ws\t…" names workspace *arg, or is "" (not found). */
static bool
names_ws(void *arg, const char *key, const char *val)
{
	size_t n = strlen(arg);

	(void)key;
	return val[0] == '\0' || (strncmp(val, arg, n) == 0 && val[n] == '\t');
}

static void
check_all(lcache *c, int n, int dropped_every)
{
	char k[16];

	for (int i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		if (dropped_every > 0 && i % dropped_every == 0) {
			assert_null(get(c, k));
		} else {
			const char *v = get(c, k);
			assert_non_null(v);
			assert_string_equal(v, k);
		}
	}
}

static void
drop_if_keeps_every_survivor(lcache *c, int n)
{
	char k[16];
	int three = 3, expect = 0;

	for (int i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		lcache_put(c, k, k);
		expect += i % 3 == 0;
	}
	check_all(c, n, 0);
	assert_int_equal(lcache_drop_if(c, none, NULL), 0);
	assert_int_equal(lcache_size(c), (size_t)n);
	check_all(c, n, 0);
	/* a third of the keys go, many of them in the middle of another key's
	 * probe sequence: the survivors are all found */
	assert_int_equal(lcache_drop_if(c, multiple_of, &three), (size_t)expect);
	assert_int_equal(lcache_size(c), (size_t)(n - expect));
	check_all(c, n, 3);
	/* and the table takes new keys (and the dropped ones again) */
	for (int i = 0; i < n; i += 3) {
		snprintf(k, sizeof(k), "k%d", i);
		lcache_put(c, k, k);
	}
	assert_int_equal(lcache_size(c), (size_t)n);
	check_all(c, n, 0);
}

static void
test_drop_if_unbounded(void **state)
{
	lcache *c = lcache_new(0);

	(void)state;
	drop_if_keeps_every_survivor(c, 5000);
	lcache_free(c);
}

static void
test_drop_if_bounded(void **state)
{
	/* 2048 entries in 4096 slots: half full, long probe sequences */
	lcache *c = lcache_new(2048);

	(void)state;
	drop_if_keeps_every_survivor(c, 2048);
	lcache_free(c);
}

/* lcache_pred: the keys whose number is set in the bitmap *arg. */
static bool
in_set(void *arg, const char *key, const char *val)
{
	const unsigned char *set = arg;
	long i = strtol(key + 1, NULL, 10);

	(void)val;
	return (set[i / 8] >> (i % 8)) & 1;
}

/* Rounds of random drops and puts, in a small table (a few runs wrap
 * around its end) and a large one, against what must be there. */
static void
test_drop_if_random(void **state)
{
	enum {
		N = 3000,
		ROUNDS = 60
	};
	static unsigned char set[N / 8 + 1];
	static bool there[N];
	unsigned seed = 12345;
	char k[16];

	(void)state;
	for (size_t max = 8; max <= 4096; max *= 512) {
		lcache *c = lcache_new(max == 8 ? 0 : max);
		int n = max == 8 ? 40 : N;

		memset(there, 0, sizeof(there));
		for (int r = 0; r < ROUNDS; r++) {
			size_t want = 0, expect = 0;

			/* put a random part of the keys */
			for (int i = 0; i < n; i++) {
				seed = seed * 1103515245u + 12345u;
				if ((seed >> 16) % 3 == 0) {
					snprintf(k, sizeof(k), "k%d", i);
					lcache_put(c, k, k);
					there[i] = true;
				}
			}
			/* drop another */
			memset(set, 0, sizeof(set));
			for (int i = 0; i < n; i++) {
				seed = seed * 1103515245u + 12345u;
				if ((seed >> 16) % 2 == 0) {
					set[i / 8] |= (unsigned char)(1u << (i % 8));
					expect += there[i];
					there[i] = false;
				}
			}
			assert_int_equal(lcache_drop_if(c, in_set, set), expect);
			for (int i = 0; i < n; i++) {
				snprintf(k, sizeof(k), "k%d", i);
				if (there[i]) {
					assert_non_null(get(c, k));
					want++;
				} else {
					assert_null(get(c, k));
				}
			}
			assert_int_equal(lcache_size(c), want);
		}
		lcache_free(c);
	}
}

/* A claim's key as redis_index.c writes them: "i<US>identifier". */
#define CLAIM(id) ("i\x1f" id)

static void
test_drop_if_by_workspace(void **state)
{
	lcache *c = lcache_new(0);

	(void)state;
	lcache_put(c, CLAIM("a"), "prod/app\taws_instance.web\taws_instance\t7\t0");
	lcache_put(c, CLAIM("b"), "prod/app2\taws_instance.x\taws_instance\t8\t1");
	lcache_put(c, CLAIM("c"), "");
	lcache_put(c, CLAIM("d"), "prod/net\taws_vpc.main\taws_vpc\t9\t2");
	assert_int_equal(lcache_drop_if(c, names_ws, "prod/app"), 2);
	assert_null(get(c, CLAIM("a")));
	assert_null(get(c, CLAIM("c")));
	/* a name that merely starts alike stays */
	assert_non_null(get(c, CLAIM("b")));
	assert_non_null(get(c, CLAIM("d")));
	assert_int_equal(lcache_size(c), 2);
	lcache_free(c);
}

static void
test_epoch_refuses_answers_read_before_a_drop(void **state)
{
	lcache *c = lcache_new(0);
	uint64_t e = lcache_epoch(c);
	int two = 2;

	(void)state;
	assert_true(lcache_put_at(c, e, "k1", "k1"));
	assert_string_equal(get(c, "k1"), "k1");
	lcache_clear(c);
	assert_int_equal(lcache_size(c), 0);
	/* read before the clear, cached after: refused */
	assert_false(lcache_put_at(c, e, "k1", "old"));
	assert_null(get(c, "k1"));
	e = lcache_epoch(c);
	assert_true(lcache_put_at(c, e, "k3", "k3"));
	lcache_drop_if(c, multiple_of, &two); /* drops nothing, still a drop */
	assert_string_equal(get(c, "k3"), "k3");
	assert_false(lcache_put_at(c, e, "k5", "k5"));
	assert_null(get(c, "k5"));
	assert_true(lcache_put_at(c, lcache_epoch(c), "k5", "k5"));
	assert_string_equal(get(c, "k5"), "k5");
	lcache_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_replace),
		cmocka_unit_test(test_bounded_empties_when_full),
		cmocka_unit_test(test_drop_if_unbounded),
		cmocka_unit_test(test_drop_if_bounded),
		cmocka_unit_test(test_drop_if_random),
		cmocka_unit_test(test_drop_if_by_workspace),
		cmocka_unit_test(test_epoch_refuses_answers_read_before_a_drop),
	};
	int rv = cmocka_run_group_tests(tests, NULL, NULL);

	forget();
	return rv;
}
