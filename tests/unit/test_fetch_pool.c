/* test_fetch_pool.c — the state-loader's fetch pool (fetch_pool.c): never
 * more than per_host checks of one host at a time while other hosts' checks
 * run beside them, hosts taken in turn, a withdrawn check never runs, and the
 * host key of a URL carries no credentials.  Checks here block until the
 * test releases them, so every assertion is about a state the test waits for
 * (with a deadline), never about time. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../../services/state-loader/fetch_pool.h"

static size_t
queued_of(fetch_pool *p)
{
	size_t q, r;

	fetch_pool_counts(p, &q, &r);
	return q;
}

static size_t
running_of(fetch_pool *p)
{
	size_t q, r;

	fetch_pool_counts(p, &q, &r);
	return r;
}

#define NHOSTS 2
#define MAXJOBS 64

/* What the checks saw. */
typedef struct ctx {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t released;          /* checks allowed to finish */
	size_t started, finished; /* checks that began / ended */
	size_t running[NHOSTS];   /* per host, now */
	size_t max_running[NHOSTS];
	size_t max_total;
	int order[MAXJOBS]; /* job ids in the order they started */
} ctx;

typedef struct job {
	ctx *c;
	int id;
	int host;
} job;

static void
check(void *arg)
{
	job *j = arg;
	ctx *c = j->c;
	size_t total = 0, h;

	pthread_mutex_lock(&c->mu);
	c->order[c->started++] = j->id;
	c->running[j->host]++;
	if (c->running[j->host] > c->max_running[j->host]) {
		c->max_running[j->host] = c->running[j->host];
	}
	for (h = 0; h < NHOSTS; h++) {
		total += c->running[h];
	}
	if (total > c->max_total) {
		c->max_total = total;
	}
	pthread_cond_broadcast(&c->cv);
	while (c->released <= c->finished) {
		pthread_cond_wait(&c->cv, &c->mu);
	}
	c->running[j->host]--;
	c->finished++;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static void
ctx_init(ctx *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
}

static void
ctx_done(ctx *c)
{
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
}

/* Waits (10 s at most) until `started` reaches n; false on the deadline. */
static bool
wait_started(ctx *c, size_t n)
{
	struct timespec ts;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&c->mu);
	while (c->started < n && pthread_cond_timedwait(&c->cv, &c->mu, &ts) == 0) {
	}
	ok = c->started >= n;
	pthread_mutex_unlock(&c->mu);
	return ok;
}

/* Lets one more check finish and waits for it (and for the one a worker
 * then starts, when there is one left). */
static void
release_one(ctx *c, size_t total)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&c->mu);
	c->released++;
	pthread_cond_broadcast(&c->cv);
	while (c->finished < c->released && pthread_cond_timedwait(&c->cv, &c->mu, &ts) == 0) {
	}
	pthread_mutex_unlock(&c->mu);
	(void)total;
}

static const char *const HOSTS[NHOSTS] = { "a.example:443", "b.example:443" };

/* 8 workers, 2 per host, 40 checks over two hosts: at most 2 of a host at
 * once, 4 in all (both hosts busy together), every check runs once. */
static void
test_per_host_limit(void **state)
{
	fetch_pool *p = NULL;
	ctx c;
	job jobs[40];
	size_t i;

	(void)state;
	ctx_init(&c);
	assert_int_equal(fetch_pool_start(&p, 8, 2), 0);
	for (i = 0; i < 40; i++) {
		jobs[i] = (job){ .c = &c, .id = (int)i, .host = (int)(i % NHOSTS) };
		assert_int_equal(fetch_pool_submit(p, HOSTS[i % NHOSTS], check, &jobs[i]), 0);
	}
	assert_true(wait_started(&c, 4));
	assert_int_equal(running_of(p), 4);
	for (i = 0; i < 40; i++) {
		release_one(&c, 40);
	}
	assert_int_equal(c.finished, 40);
	assert_int_equal(c.max_running[0], 2);
	assert_int_equal(c.max_running[1], 2);
	assert_int_equal(c.max_total, 4);
	assert_int_equal(queued_of(p), 0);
	fetch_pool_free(p);
	ctx_done(&c);
}

/* One worker: a host with ten checks queued does not starve another host's
 * single check queued after them (hosts are taken in turn). */
static void
test_round_robin(void **state)
{
	fetch_pool *p = NULL;
	ctx c;
	job jobs[11];
	size_t i, pos = 0;

	(void)state;
	ctx_init(&c);
	assert_int_equal(fetch_pool_start(&p, 1, 1), 0);
	for (i = 0; i < 10; i++) {
		jobs[i] = (job){ .c = &c, .id = (int)i, .host = 0 };
		assert_int_equal(fetch_pool_submit(p, HOSTS[0], check, &jobs[i]), 0);
	}
	jobs[10] = (job){ .c = &c, .id = 10, .host = 1 };
	assert_int_equal(fetch_pool_submit(p, HOSTS[1], check, &jobs[10]), 0);
	assert_true(wait_started(&c, 1));
	for (i = 0; i < 11; i++) {
		release_one(&c, 11);
	}
	assert_int_equal(c.finished, 11);
	for (i = 0; i < 11; i++) {
		if (c.order[i] == 10) {
			pos = i;
		}
	}
	/* the first check of host a was running when b's came: b's is next */
	assert_true(pos <= 2);
	assert_int_equal(c.max_total, 1);
	fetch_pool_free(p);
	ctx_done(&c);
}

/* A queued check that is withdrawn never runs; a running one cannot be
 * withdrawn; free drops what is still queued (LeakSanitizer checks). */
static void
test_withdraw(void **state)
{
	fetch_pool *p = NULL;
	ctx c;
	job a = { 0 }, b = { 0 }, d = { 0 };

	(void)state;
	ctx_init(&c);
	assert_int_equal(fetch_pool_start(&p, 1, 1), 0);
	a = (job){ .c = &c, .id = 0, .host = 0 };
	b = (job){ .c = &c, .id = 1, .host = 0 };
	d = (job){ .c = &c, .id = 2, .host = 1 };
	assert_int_equal(fetch_pool_submit(p, HOSTS[0], check, &a), 0);
	assert_true(wait_started(&c, 1));
	assert_int_equal(fetch_pool_submit(p, HOSTS[0], check, &b), 0);
	assert_int_equal(fetch_pool_submit(p, HOSTS[1], check, &d), 0);
	assert_int_equal(queued_of(p), 2);
	assert_false(fetch_pool_withdraw(p, &a)); /* running */
	assert_true(fetch_pool_withdraw(p, &b));
	assert_false(fetch_pool_withdraw(p, &b)); /* gone already */
	assert_int_equal(queued_of(p), 1);
	release_one(&c, 2);
	assert_true(wait_started(&c, 2));
	assert_int_equal(c.order[1], 2); /* d ran, b did not */
	release_one(&c, 2);
	assert_int_equal(c.finished, 2);
	/* a check left queued at free: dropped, not run, not leaked */
	pthread_mutex_lock(&c.mu);
	c.released = c.finished; /* the next check blocks */
	pthread_mutex_unlock(&c.mu);
	assert_int_equal(fetch_pool_submit(p, HOSTS[0], check, &a), 0);
	assert_true(wait_started(&c, 3));
	assert_int_equal(fetch_pool_submit(p, HOSTS[0], check, &b), 0);
	release_one(&c, 3); /* a finishes; the worker may or may not take b */
	pthread_mutex_lock(&c.mu);
	c.released = MAXJOBS; /* nothing blocks any more */
	pthread_cond_broadcast(&c.cv);
	pthread_mutex_unlock(&c.mu);
	fetch_pool_free(p);
	assert_true(c.started == 3 || c.started == 4);
	ctx_done(&c);
}

static void
test_host_of(void **state)
{
	static const struct {
		const char *url, *want;
	} cases[] = {
		{ "https://user:pa%40ss@States.Example.COM:8443/p/x.tfstate?a=b",
		    "states.example.com:8443" },
		{ "http://127.0.0.1:9000/state", "127.0.0.1:9000" },
		{ "https://bucket.s3.eu-west-1.amazonaws.com/env/prod.tfstate",
		    "bucket.s3.eu-west-1.amazonaws.com" },
		{ "http://h", "h" },
		{ "http://h?x#y", "h" },
		{ "http://a@b@c:1/x", "c:1" },
		{ "no scheme", "" },
		{ "", "" },
	};
	char buf[64], tiny[4];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fetch_pool_host_of(cases[i].url, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
	fetch_pool_host_of("http://abcdef/", tiny, sizeof(tiny));
	assert_string_equal(tiny, "abc");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_host_limit),
		cmocka_unit_test(test_round_robin),
		cmocka_unit_test(test_withdraw),
		cmocka_unit_test(test_host_of),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
