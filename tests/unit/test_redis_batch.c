/* test_redis_batch.c — td_rbatch (redis_batch.c): every emitted command holds
 * 1 to TD_RBATCH_PAIRS pairs after its fixed arguments, whatever the number
 * and size of the pairs, with and without a key, and every pair goes out once
 * and in order.  Under `make test-asan` an overflow of the argument arrays is
 * a report here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tfdrift/error.h"
#include "tfdrift/redis_batch.h"

/* What the emit callback saw: commands as copies of their arguments. */
typedef struct seen {
	size_t ncmd;
	size_t pairs_total;
	size_t max_pairs, min_pairs;
	size_t next; /* index of the next pair expected, for the order check */
	bool bad;    /* a command or pair that broke the contract */
	char why[256];
	const char *cmd, *key; /* expected fixed arguments */
	int fail_at;           /* emit returns TD_EIO at this command (1-based); 0 never */
} seen;

static void
bad(seen *s, const char *what)
{
	if (!s->bad) {
		snprintf(s->why, sizeof(s->why), "command %zu: %s", s->ncmd, what);
	}
	s->bad = true;
}

/* Field i is "f<i>"; its value starts with "v<i>:" and is padded to its size. */
static int
emit(void *arg, int argc, const char **argv, const size_t *lens, td_error *err)
{
	seen *s = arg;
	int fixed = s->key != NULL ? 2 : 1, i;
	size_t pairs, bytes = 0;
	char want[32];

	s->ncmd++;
	if (s->fail_at > 0 && (size_t)s->fail_at == s->ncmd) {
		return td_error_set(err, TD_EIO, "emit failed on purpose");
	}
	if (argc <= fixed || (argc - fixed) % 2 != 0) {
		bad(s, "argument count is not the fixed ones plus whole pairs");
		return 0;
	}
	if (lens[0] != strlen(s->cmd) || memcmp(argv[0], s->cmd, lens[0]) != 0) {
		bad(s, "wrong command");
	}
	if (s->key != NULL &&
	    (lens[1] != strlen(s->key) || memcmp(argv[1], s->key, lens[1]) != 0)) {
		bad(s, "wrong key");
	}
	pairs = (size_t)(argc - fixed) / 2;
	if (pairs > TD_RBATCH_PAIRS) {
		bad(s, "more pairs than TD_RBATCH_PAIRS");
	}
	for (i = fixed; i < argc; i += 2) {
		snprintf(want, sizeof(want), "f%zu", s->next);
		if (lens[i] != strlen(want) || memcmp(argv[i], want, lens[i]) != 0) {
			bad(s, "pair out of order or lost");
		}
		snprintf(want, sizeof(want), "v%zu:", s->next);
		if (lens[i + 1] < strlen(want) || memcmp(argv[i + 1], want, strlen(want)) != 0) {
			bad(s, "value does not belong to its field");
		}
		bytes += lens[i] + lens[i + 1];
		s->next++;
	}
	/* full by bytes: the last pair may cross the limit, no earlier one */
	if (bytes - lens[argc - 1] - lens[argc - 2] >= TD_RBATCH_BYTES) {
		bad(s, "kept adding after the byte limit was reached");
	}
	s->pairs_total += pairs;
	s->max_pairs = pairs > s->max_pairs ? pairs : s->max_pairs;
	s->min_pairs = s->ncmd == 1 || pairs < s->min_pairs ? pairs : s->min_pairs;
	return 0;
}

/* Adds n pairs with values of vsize(i) bytes (each owned by the batch), then
 * sends; checks what came out. */
static void
run(size_t n, const char *key, size_t (*vsize)(size_t))
{
	seen s = { .cmd = key != NULL ? "HSET" : "MSET", .key = key };
	td_rbatch *b = NULL;
	td_error err = { 0 };
	size_t i, vl;
	char **bufs = calloc(n + 1, sizeof(*bufs)); /* the test's: freed after the send */

	assert_non_null(bufs);
	assert_int_equal(td_rbatch_new(&b, emit, &s), 0);
	td_rbatch_start(b, s.cmd, key);
	for (i = 0; i < n; i++) {
		char f[32], pre[32], *v;
		size_t flen = (size_t)snprintf(f, sizeof(f), "f%zu", i);
		size_t plen = (size_t)snprintf(pre, sizeof(pre), "v%zu:", i);
		vl = vsize(i) > plen ? vsize(i) : plen;
		/* one allocation: the value, then the field; both borrowed by
		 * the batch (ownership by the batch: test_emit_failure) */
		v = bufs[i] = malloc(vl + 1 + flen + 1);
		assert_non_null(v);
		memcpy(v, pre, plen);
		memset(v + plen, 'x', vl - plen);
		v[vl] = '\0';
		memcpy(v + vl + 1, f, flen + 1);
		assert_int_equal(td_rbatch_add(b, v + vl + 1, flen, v, vl, NULL, &err), 0);
		assert_true(td_rbatch_pending(b) < TD_RBATCH_PAIRS);
	}
	assert_int_equal(td_rbatch_send(b, &err), 0);
	assert_int_equal(td_rbatch_pending(b), 0);
	td_rbatch_free(b);
	for (i = 0; i < n; i++) {
		free(bufs[i]);
	}
	free(bufs);
	if (s.bad) {
		fail_msg("%zu pairs, key %s: %s", n, key != NULL ? key : "(none)", s.why);
	}
	assert_int_equal(s.pairs_total, n);
	assert_int_equal(s.next, n);
	if (n == 0) {
		assert_int_equal(s.ncmd, 0);
	} else {
		assert_true(s.min_pairs >= 1);
	}
}

static size_t
one_byte(size_t i)
{
	(void)i;
	return 1;
}

static size_t
few_hundred(size_t i)
{
	return 150 + (i * 37) % 400;
}

static size_t
over_limit(size_t i)
{
	(void)i;
	return TD_RBATCH_BYTES + 10;
}

/* 1 byte to 300 KB, as real attribute JSON varies. */
static size_t
mixed(size_t i)
{
	static const size_t sizes[] = { 1, 40, 300, 2000, 17000, 120000, TD_RBATCH_BYTES - 5,
		300000 };
	return sizes[(i * 7) % (sizeof(sizes) / sizeof(sizes[0]))];
}

static const size_t counts[] = { 0, 1, 2, 255, 256, 257, 511, 512, 513, 1000, 5000 };

static void
test_small_values_with_key(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		run(counts[i], "g:1:idx", one_byte);
		run(counts[i], "g:1:idx", few_hundred);
	}
}

static void
test_small_values_without_key(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		run(counts[i], NULL, one_byte);
		run(counts[i], NULL, few_hundred);
	}
}

static void
test_large_and_mixed_values(void **state)
{
	(void)state;
	run(1, "k", over_limit);
	run(3, NULL, over_limit);
	run(257, "k", mixed);
	run(600, NULL, mixed);
}

/* Full by count: exactly TD_RBATCH_PAIRS pairs per command until the rest. */
static void
test_full_commands_hold_exactly_the_limit(void **state)
{
	seen s = { .cmd = "MSET" };
	td_rbatch *b = NULL;
	td_error err = { 0 };
	static char fields[600][16], v[600][32];
	size_t i;

	(void)state;
	assert_int_equal(td_rbatch_new(&b, emit, &s), 0);
	td_rbatch_start(b, "MSET", NULL);
	for (i = 0; i < 600; i++) {
		snprintf(fields[i], sizeof(fields[i]), "f%zu", i);
		snprintf(v[i], sizeof(v[i]), "v%zu:", i);
		assert_int_equal(td_rbatch_add(b, fields[i], strlen(fields[i]), v[i], strlen(v[i]),
				     NULL, &err),
		    0);
	}
	assert_int_equal(s.ncmd, 2); /* 256 + 256 emitted, 88 pending */
	assert_int_equal(td_rbatch_pending(b), 600 - 2 * TD_RBATCH_PAIRS);
	assert_int_equal(td_rbatch_send(b, &err), 0);
	assert_int_equal(s.ncmd, 3);
	assert_int_equal(s.max_pairs, TD_RBATCH_PAIRS);
	assert_false(s.bad);
	td_rbatch_free(b);
}

/* An emit failure is returned, the batch is emptied and its owned strings
 * freed (ASan's leak check), and the batch can be used again. */
static void
test_emit_failure(void **state)
{
	seen s = { .cmd = "HSET", .key = "k", .fail_at = 1 };
	td_rbatch *b = NULL;
	td_error err = { 0 };
	size_t i;
	int rv = 0;

	(void)state;
	assert_int_equal(td_rbatch_new(&b, emit, &s), 0);
	td_rbatch_start(b, "HSET", "k");
	for (i = 0; i < TD_RBATCH_PAIRS && rv == 0; i++) {
		char *v = malloc(32);
		assert_non_null(v);
		snprintf(v, 32, "v%zu:", i);
		rv = td_rbatch_add(b, "f", 1, v, strlen(v), v, &err);
	}
	assert_int_equal(rv, TD_EIO);
	assert_string_equal(err.msg, "emit failed on purpose");
	assert_int_equal(td_rbatch_pending(b), 0);
	/* dropped with pairs pending: owned strings freed, nothing emitted */
	for (i = 0; i < 10; i++) {
		assert_int_equal(td_rbatch_add(b, "f", 1, "v", 1, strdup("x"), &err), 0);
	}
	td_rbatch_drop(b);
	assert_int_equal(s.ncmd, 1);
	td_rbatch_free(b);
}

static void
test_add_without_start(void **state)
{
	seen s = { .cmd = "HSET" };
	td_rbatch *b = NULL;
	td_error err = { 0 };

	(void)state;
	assert_int_equal(td_rbatch_new(&b, emit, &s), 0);
	assert_int_equal(td_rbatch_add(b, "f", 1, "v", 1, strdup("owned"), &err), TD_EINVAL);
	assert_non_null(strstr(err.msg, "no command started"));
	td_rbatch_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_values_with_key),
		cmocka_unit_test(test_small_values_without_key),
		cmocka_unit_test(test_large_and_mixed_values),
		cmocka_unit_test(test_full_commands_hold_exactly_the_limit),
		cmocka_unit_test(test_emit_failure),
		cmocka_unit_test(test_add_without_start),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
