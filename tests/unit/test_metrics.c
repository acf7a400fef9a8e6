/* test_metrics.c — registry, atomics and the exact Prometheus text. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tfdrift/version.h"
#include "tfdrift/error.h"
#include "tfdrift/metrics.h"

static int
setup(void **state)
{
	td_metrics *m = NULL;
	if (td_metrics_new(&m) != 0)
		return -1;
	*state = m;
	return 0;
}

static int
teardown(void **state)
{
	td_metrics_free(*state);
	return 0;
}

/* Renders m; the caller frees the result. */
static char *
render(td_metrics *m)
{
	char *out = NULL;
	size_t len = 0;
	assert_int_equal(td_metrics_render(m, &out, &len), 0);
	assert_non_null(out);
	assert_int_equal(len, strlen(out));
	return out;
}

static void
test_counter_text(void **state)
{
	td_metrics *m = *state;
	td_counter *c = NULL;

	assert_int_equal(td_metrics_counter(m, "test_requests_total", "Requests seen.", NULL, &c),
	    0);
	td_counter_inc(c);
	td_counter_add(c, 41);
	assert_int_equal(td_counter_value(c), 42);
	char *text = render(m);
	assert_string_equal(text,
	    "# HELP test_requests_total Requests seen.\n"
	    "# TYPE test_requests_total counter\n"
	    "test_requests_total 42\n");
	free(text);
}

static void
test_labelled_gauges_text(void **state)
{
	td_metrics *m = *state;
	td_gauge *a = NULL, *b = NULL;

	assert_int_equal(td_metrics_gauge(m, "test_temperature_celsius", "Room temperature.",
			     "room=\"a\"", &a),
	    0);
	assert_int_equal(td_metrics_gauge(m, "test_temperature_celsius", "Room temperature.",
			     "room=\"b\",floor=\"2\"", &b),
	    0);
	assert_ptr_not_equal(a, b);
	td_gauge_set(a, 21.5);
	td_gauge_set(b, 0.1);
	td_gauge_add(b, -3.1);
	char *text = render(m);
	assert_string_equal(text,
	    "# HELP test_temperature_celsius Room temperature.\n"
	    "# TYPE test_temperature_celsius gauge\n"
	    "test_temperature_celsius{room=\"a\"} 21.5\n"
	    "test_temperature_celsius{room=\"b\",floor=\"2\"} -3\n");
	free(text);
}

static void
test_histogram_text(void **state)
{
	td_metrics *m = *state;
	td_histogram *h = NULL, *plain = NULL;
	const double bounds[] = { 0.25, 1 };

	assert_int_equal(td_metrics_histogram(m, "test_latency_seconds", "Latency.", "op=\"get\"",
			     bounds, 2, &h),
	    0);
	td_histogram_observe(h, 0.0625);
	td_histogram_observe(h, 0.25); /* on the bound: counts in le="0.25" */
	td_histogram_observe(h, 0.5);
	td_histogram_observe(h, 4);
	assert_int_equal(td_histogram_count(h), 4);
	assert_int_equal(td_metrics_histogram(m, "test_latency_seconds", "Latency.", NULL, bounds,
			     2, &plain),
	    0);
	td_histogram_observe(plain, 2);
	char *text = render(m);
	assert_string_equal(text,
	    "# HELP test_latency_seconds Latency.\n"
	    "# TYPE test_latency_seconds histogram\n"
	    "test_latency_seconds_bucket{op=\"get\",le=\"0.25\"} 2\n"
	    "test_latency_seconds_bucket{op=\"get\",le=\"1\"} 3\n"
	    "test_latency_seconds_bucket{op=\"get\",le=\"+Inf\"} 4\n"
	    "test_latency_seconds_sum{op=\"get\"} 4.8125\n"
	    "test_latency_seconds_count{op=\"get\"} 4\n"
	    "test_latency_seconds_bucket{le=\"0.25\"} 0\n"
	    "test_latency_seconds_bucket{le=\"1\"} 0\n"
	    "test_latency_seconds_bucket{le=\"+Inf\"} 1\n"
	    "test_latency_seconds_sum 2\n"
	    "test_latency_seconds_count 1\n");
	free(text);
}

static void
test_default_buckets(void **state)
{
	td_metrics *m = *state;
	td_histogram *h = NULL;

	assert_int_equal(td_metrics_histogram(m, "test_op_seconds", "Op.", NULL, NULL, 0, &h), 0);
	td_histogram_observe(h, 0.0004);
	td_histogram_observe(h, 11);
	char *text = render(m);
	assert_non_null(strstr(text, "test_op_seconds_bucket{le=\"0.0005\"} 1\n"));
	assert_non_null(strstr(text, "test_op_seconds_bucket{le=\"10\"} 1\n"));
	assert_non_null(strstr(text, "test_op_seconds_bucket{le=\"+Inf\"} 2\n"));
	/* 14 finite buckets plus +Inf */
	size_t n = 0;
	for (const char *p = text; (p = strstr(p, "_bucket{")) != NULL; p++)
		n++;
	assert_int_equal(n, 15);
	free(text);
}

static void
test_families_grouped_in_registration_order(void **state)
{
	td_metrics *m = *state;
	td_counter *a1, *b1, *a2;

	assert_int_equal(td_metrics_counter(m, "test_a_total", "A.", "k=\"1\"", &a1), 0);
	assert_int_equal(td_metrics_counter(m, "test_b_total", "B.", NULL, &b1), 0);
	assert_int_equal(td_metrics_counter(m, "test_a_total", "A.", "k=\"2\"", &a2), 0);
	td_counter_inc(a2);
	char *text = render(m);
	assert_string_equal(text,
	    "# HELP test_a_total A.\n"
	    "# TYPE test_a_total counter\n"
	    "test_a_total{k=\"1\"} 0\n"
	    "test_a_total{k=\"2\"} 1\n"
	    "# HELP test_b_total B.\n"
	    "# TYPE test_b_total counter\n"
	    "test_b_total 0\n");
	free(text);
}

static void
test_duplicate_registration_same_series(void **state)
{
	td_metrics *m = *state;
	td_counter *c1 = NULL, *c2 = NULL, *c3 = NULL;
	td_gauge *g1 = NULL, *g2 = NULL;

	assert_int_equal(td_metrics_counter(m, "test_dup_total", "Dup.", "x=\"1\"", &c1), 0);
	assert_int_equal(td_metrics_counter(m, "test_dup_total", "Dup.", "x=\"1\"", &c2), 0);
	assert_ptr_equal(c1, c2);
	assert_int_equal(td_metrics_counter(m, "test_dup_total", "Dup.", "x=\"2\"", &c3), 0);
	assert_ptr_not_equal(c1, c3);
	/* "" and NULL both mean no labels */
	assert_int_equal(td_metrics_gauge(m, "test_dup_gauge", "G.", NULL, &g1), 0);
	assert_int_equal(td_metrics_gauge(m, "test_dup_gauge", "G.", "", &g2), 0);
	assert_ptr_equal(g1, g2);
	td_counter_inc(c2);
	assert_int_equal(td_counter_value(c1), 1);
}

static void
test_type_clash(void **state)
{
	td_metrics *m = *state;
	td_counter *c = NULL;
	td_gauge *g = NULL;
	td_histogram *h = NULL;
	const double b1[] = { 1, 2 }, b2[] = { 1, 3 };

	assert_int_equal(td_metrics_counter(m, "test_clash", "C.", NULL, &c), 0);
	assert_int_equal(td_metrics_gauge(m, "test_clash", "C.", NULL, &g), TD_EINVAL);
	assert_int_equal(td_metrics_gauge(m, "test_clash", "C.", "other=\"x\"", &g), TD_EINVAL);
	assert_int_equal(td_metrics_histogram(m, "test_clash", "C.", NULL, NULL, 0, &h), TD_EINVAL);
	/* a second label set of a histogram must use the same buckets */
	assert_int_equal(td_metrics_histogram(m, "test_hclash", "H.", "a=\"1\"", b1, 2, &h), 0);
	assert_int_equal(td_metrics_histogram(m, "test_hclash", "H.", "a=\"2\"", b2, 2, &h),
	    TD_EINVAL);
	assert_int_equal(td_metrics_histogram(m, "test_hclash", "H.", "a=\"2\"", b1, 2, &h), 0);
}

static void
test_invalid_names_and_labels(void **state)
{
	td_metrics *m = *state;
	td_counter *c = NULL;
	td_histogram *h = NULL;
	static const char *const bad_names[] = { "", "1abc", "a-b", "a b", "é", "a.b" };
	static const char *const good_names[] = { "a", "_a", ":a", "a:b_c9", "A_B" };
	static const char *const bad_labels[] = { "a", "a=b", "a=\"b", "=\"b\"", "1a=\"b\"",
		"a=\"b\",", "a=\"b\" ,c=\"d\"", "a:b=\"c\"", "a=\"b\\x\"", "a=\"b\nc\"",
		"a=\"b\"c=\"d\"" };
	static const char *const good_labels[] = { "a=\"\"", "a=\"b\",c=\"d\"",
		"_x=\"q\\\"uo\\\\te\\n\"" };
	const double unsorted[] = { 1, 0.5 }, dup[] = { 1, 1 }, inf[] = { 1, INFINITY };

	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
		assert_int_equal(td_metrics_counter(m, bad_names[i], "x", NULL, &c), TD_EINVAL);
	assert_int_equal(td_metrics_counter(m, NULL, "x", NULL, &c), TD_EINVAL);
	for (size_t i = 0; i < sizeof(good_names) / sizeof(good_names[0]); i++)
		assert_int_equal(td_metrics_counter(m, good_names[i], "x", NULL, &c), 0);
	for (size_t i = 0; i < sizeof(bad_labels) / sizeof(bad_labels[0]); i++)
		assert_int_equal(td_metrics_counter(m, "test_l", "x", bad_labels[i], &c),
		    TD_EINVAL);
	for (size_t i = 0; i < sizeof(good_labels) / sizeof(good_labels[0]); i++)
		assert_int_equal(td_metrics_counter(m, "test_l", "x", good_labels[i], &c), 0);
	/* histograms own the le label, and bounds must rise strictly and be finite */
	assert_int_equal(td_metrics_histogram(m, "test_h", "x", "le=\"1\"", NULL, 0, &h),
	    TD_EINVAL);
	assert_int_equal(td_metrics_histogram(m, "test_h", "x", NULL, unsorted, 2, &h), TD_EINVAL);
	assert_int_equal(td_metrics_histogram(m, "test_h", "x", NULL, dup, 2, &h), TD_EINVAL);
	assert_int_equal(td_metrics_histogram(m, "test_h", "x", NULL, inf, 2, &h), TD_EINVAL);
	/* a counter may have a label called le */
	assert_int_equal(td_metrics_counter(m, "test_le", "x", "le=\"1\"", &c), 0);
}

static void
test_help_escaping_and_special_values(void **state)
{
	td_metrics *m = *state;
	td_gauge *g1, *g2, *g3, *g4, *g5, *g6, *g7, *g8;

	assert_int_equal(td_metrics_gauge(m, "test_esc", "Back\\slash and\nnewline \"q\".",
			     "v=\"nan\"", &g1),
	    0);
	assert_int_equal(td_metrics_gauge(m, "test_esc", NULL, "v=\"inf\"", &g2), 0);
	assert_int_equal(td_metrics_gauge(m, "test_esc", NULL, "v=\"ninf\"", &g3), 0);
	assert_int_equal(td_metrics_gauge(m, "test_esc", NULL, "v=\"big\"", &g4), 0);
	assert_int_equal(td_metrics_gauge(m, "test_esc", NULL, "v=\"tenth\"", &g5), 0);
	assert_int_equal(td_metrics_gauge(m, "test_esc", NULL, "v=\"tiny\"", &g6), 0);
	assert_int_equal(td_metrics_gauge(m, "test_esc", NULL, "v=\"huge\"", &g7), 0);
	assert_int_equal(td_metrics_gauge(m, "test_esc", NULL, "v=\"million\"", &g8), 0);
	td_gauge_set(g5, 0.1);
	td_gauge_set(g6, 0.00001);
	td_gauge_set(g7, 1e21);
	td_gauge_set(g8, 1e6);
	td_gauge_set(g1, NAN);
	td_gauge_set(g2, INFINITY);
	td_gauge_set(g3, -INFINITY);
	td_gauge_set(g4, 1732634645.125);
	char *text = render(m);
	assert_string_equal(text,
	    "# HELP test_esc Back\\\\slash and\\nnewline \"q\".\n"
	    "# TYPE test_esc gauge\n"
	    "test_esc{v=\"nan\"} NaN\n"
	    "test_esc{v=\"inf\"} +Inf\n"
	    "test_esc{v=\"ninf\"} -Inf\n"
	    "test_esc{v=\"big\"} 1732634645.125\n"
	    "test_esc{v=\"tenth\"} 0.1\n"
	    "test_esc{v=\"tiny\"} 1e-05\n"
	    "test_esc{v=\"huge\"} 1e+21\n"
	    "test_esc{v=\"million\"} 1000000\n");
	free(text);
}

static void
test_empty_registry(void **state)
{
	char *text = render(*state);
	assert_string_equal(text, "");
	free(text);
}

#define THREADS 4
#define ROUNDS 100000

typedef struct worker_arg {
	td_counter *c;
	td_gauge *g;
	td_histogram *h;
} worker_arg;

static void *
worker(void *p)
{
	worker_arg *w = p;
	for (int i = 0; i < ROUNDS; i++) {
		td_counter_inc(w->c);
		td_gauge_add(w->g, 1.0);
		td_histogram_observe(w->h, 1.0);
	}
	return NULL;
}

static void
test_concurrent_updates_sum_exactly(void **state)
{
	td_metrics *m = *state;
	worker_arg w;
	pthread_t t[THREADS];

	assert_int_equal(td_metrics_counter(m, "test_conc_total", "C.", NULL, &w.c), 0);
	assert_int_equal(td_metrics_gauge(m, "test_conc_gauge", "G.", NULL, &w.g), 0);
	assert_int_equal(td_metrics_histogram(m, "test_conc_seconds", "H.", NULL, NULL, 0, &w.h),
	    0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, &w), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(td_counter_value(w.c), (uint64_t)THREADS * ROUNDS);
	/* integers up to 2^53 add exactly in a double, so a lost CAS would show */
	assert_true(td_gauge_value(w.g) == (double)THREADS * ROUNDS);
	assert_int_equal(td_histogram_count(w.h), (uint64_t)THREADS * ROUNDS);
	char *text = render(m);
	assert_non_null(strstr(text, "test_conc_seconds_sum 400000\n"));
	assert_non_null(strstr(text, "test_conc_seconds_bucket{le=\"1\"} 400000\n"));
	free(text);
}

static void
test_default_registry(void **state)
{
	(void)state;
	td_metrics *d = td_metrics_default();
	assert_non_null(d);
	assert_ptr_equal(d, td_metrics_default());
	td_counter *c = td_counter_get("test_default_total", "In the default registry.", NULL);
	assert_ptr_equal(c, td_counter_get("test_default_total", "In the default registry.", NULL));
	td_counter_add(c, 3);
	td_histogram *h = td_histogram_get("test_default_seconds", "H.", "k=\"v\"");
	td_histogram_observe(h, 0.003);
	char *text = render(d);
	assert_non_null(strstr(text, "# TYPE tfdrift_process_start_time_seconds gauge\n"));
	assert_non_null(strstr(text, "tfdrift_build_info{version=\"" TD_VERSION "\"} 1\n"));
	assert_non_null(strstr(text, "test_default_total 3\n"));
	assert_non_null(strstr(text, "test_default_seconds_bucket{k=\"v\",le=\"0.005\"} 1\n"));
	/* the start time is a plausible Unix time (after 2020-01-01) */
	const char *p = strstr(text, "\ntfdrift_process_start_time_seconds ");
	assert_non_null(p);
	assert_true(
	    strtod(p + strlen("\ntfdrift_process_start_time_seconds "), NULL) > 1577836800.0);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_counter_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_labelled_gauges_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_histogram_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_buckets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_families_grouped_in_registration_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_registration_same_series, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_type_clash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_names_and_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help_escaping_and_special_values, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_empty_registry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_updates_sum_exactly, setup,
		    teardown),
		cmocka_unit_test(test_default_registry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
