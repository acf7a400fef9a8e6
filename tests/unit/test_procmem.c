/* test_procmem.c — arena cap, trim and the memory figures.
 *
 * The allocator checks need glibc's malloc; under AddressSanitizer (whose
 * allocator replaces it) they are skipped, the gauges still checked. */
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tfdrift/metrics.h"
#include "tfdrift/procmem.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define MB (1024u * 1024u)

/* Counts the heaps (arenas) malloc_info reports. */
static int
count_arenas(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int n = 0;

	assert_non_null(f);
	assert_int_equal(malloc_info(0, f), 0);
	fclose(f);
	for (const char *p = buf; (p = strstr(p, "<heap nr=")) != NULL; p++)
		n++;
	free(buf);
	return n;
}

enum {
	NTHREADS = 16
};
static pthread_barrier_t all_in;

/* Allocates while every other thread is alive, so each asks for an arena. */
static void *
allocating(void *arg)
{
	volatile char *p = malloc(4096);

	(void)arg;
	if (p != NULL)
		p[0] = 1;
	pthread_barrier_wait(&all_in);
	free((void *)p);
	return NULL;
}

/* Runs first: the cap must be set before the process's first thread. */
static void
test_arenas_capped(void **state)
{
	pthread_t t[NTHREADS];

	(void)state;
	if (UNDER_ASAN)
		skip();
	td_procmem_setup();
	assert_int_equal(pthread_barrier_init(&all_in, NULL, NTHREADS + 1), 0);
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, allocating, NULL), 0);
	pthread_barrier_wait(&all_in);
	/* 16 threads allocating at once; glibc would give up to 8 per CPU */
	assert_in_range(count_arenas(), 1, TD_PROCMEM_ARENAS);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&all_in);
}

static void
test_in_use_follows_allocations(void **state)
{
	enum {
		N = 8192,
		SZ = 1024
	};
	char **blocks;
	td_procmem_figures before, after, freed;

	(void)state;
	if (UNDER_ASAN)
		skip();
	blocks = calloc(N, sizeof(*blocks));
	assert_non_null(blocks);
	td_procmem_read(&before);
	assert_true(before.rss > 0);
	for (int i = 0; i < N; i++) {
		assert_non_null(blocks[i] = malloc(SZ));
		memset(blocks[i], 0x5a, SZ);
	}
	td_procmem_read(&after);
	assert_true(after.in_use >= before.in_use + (size_t)N * SZ);
	assert_true(after.rss >= before.rss + (size_t)N * SZ / 2);
	for (int i = 0; i < N; i++)
		free(blocks[i]);
	td_procmem_read(&freed);
	assert_true(freed.in_use + (size_t)N * SZ / 2 <= after.in_use);
	free(blocks);
}

/* 32 MB of 1 KB blocks, then every block freed but one in 256: the holes
 * between the survivors stay resident until a trim hands them back. */
static void
test_trim_returns_holes(void **state)
{
	enum {
		N = 32768,
		SZ = 1024,
		KEEP_EVERY = 256
	};
	char **blocks;
	td_procmem_figures held, trimmed;

	(void)state;
	if (UNDER_ASAN)
		skip();
	blocks = calloc(N, sizeof(*blocks));
	assert_non_null(blocks);
	for (int i = 0; i < N; i++) {
		assert_non_null(blocks[i] = malloc(SZ));
		memset(blocks[i], 0x5a, SZ);
	}
	for (int i = 0; i < N; i++) {
		if (i % KEEP_EVERY != KEEP_EVERY - 1) {
			free(blocks[i]);
			blocks[i] = NULL;
		}
	}
	td_procmem_read(&held);
	assert_true(held.free >= 24 * MB);
	td_procmem_trim();
	td_procmem_read(&trimmed);
	/* most of the 32 MB of holes is no longer resident */
	assert_true(trimmed.rss + 16 * MB <= held.rss);
	for (int i = 0; i < N; i++)
		free(blocks[i]);
	free(blocks);
}

static void
test_gauges_on_metrics(void **state)
{
	char *out = NULL, *line;
	size_t len = 0;
	double rss = 0;

	(void)state;
	td_procmem_sample();
	assert_int_equal(td_metrics_render(td_metrics_default(), &out, &len), 0);
	assert_non_null(strstr(out, "# TYPE tfdrift_process_heap_in_use_bytes gauge\n"));
	assert_non_null(strstr(out, "# TYPE tfdrift_process_heap_free_bytes gauge\n"));
	line = strstr(out, "\ntfdrift_process_resident_memory_bytes ");
	assert_non_null(line);
	rss = strtod(line + strlen("\ntfdrift_process_resident_memory_bytes "), NULL);
	assert_true(rss > 1024 * 1024);
	free(out);
}

/* ---- thread caches: a child run of this binary, with or without the tunable ---- */

enum {
	PROBE_THREADS = 32,
	PROBE_SIZES = 48 /* 24 .. 776 bytes, every tcache bin up to there */
};
static pthread_barrier_t probe_freed, probe_measured;

/* Allocates and frees 7 chunks of each size, then stays alive (a thread's
 * cache is given back when it exits) until the parent has measured. */
static void *
probe_thread(void *arg)
{
	void *p[PROBE_SIZES][7];

	(void)arg;
	for (int s = 0; s < PROBE_SIZES; s++)
		for (int k = 0; k < 7; k++)
			p[s][k] = malloc(24 + 16 * (size_t)s);
	for (int s = 0; s < PROBE_SIZES; s++)
		for (int k = 0; k < 7; k++)
			free(p[s][k]);
	pthread_barrier_wait(&probe_freed);
	pthread_barrier_wait(&probe_measured);
	return NULL;
}

/* `test_procmem --probe`: prints "<bytes in use the threads' caches hold>
 * <the thread cache gauge>". */
static int
probe(void)
{
	pthread_t t[PROBE_THREADS];
	td_procmem_figures before, after;
	char *out = NULL;
	size_t len = 0;
	const char *g;

	td_procmem_setup();
	pthread_barrier_init(&probe_freed, NULL, PROBE_THREADS + 1);
	pthread_barrier_init(&probe_measured, NULL, PROBE_THREADS + 1);
	td_procmem_read(&before);
	for (int i = 0; i < PROBE_THREADS; i++)
		if (pthread_create(&t[i], NULL, probe_thread, NULL) != 0)
			return 1;
	pthread_barrier_wait(&probe_freed);
	td_procmem_read(&after);
	pthread_barrier_wait(&probe_measured);
	for (int i = 0; i < PROBE_THREADS; i++)
		pthread_join(t[i], NULL);
	td_procmem_sample();
	if (td_metrics_render(td_metrics_default(), &out, &len) != 0 ||
	    (g = strstr(out, "\ntfdrift_process_malloc_thread_cache_count ")) == NULL)
		return 1;
	printf("%lld %s", (long long)after.in_use - (long long)before.in_use,
	    g + strlen("\ntfdrift_process_malloc_thread_cache_count "));
	free(out);
	return 0;
}

static char self[4096];

/* Runs the probe with GLIBC_TUNABLES=tunables (NULL: unset). */
static void
run_probe(const char *tunables, long long *held, int *gauge)
{
	char cmd[4400], buf[128];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s%s%s '%s' --probe",
	    tunables ? "env GLIBC_TUNABLES='" : "env -u GLIBC_TUNABLES", tunables ? tunables : "",
	    tunables ? "'" : "", self);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	assert_int_equal(pclose(f), 0);
	{
		char *end = NULL, *end2 = NULL;

		*held = strtoll(buf, &end, 10);
		assert_true(end != buf && *end == ' ');
		*gauge = (int)strtol(end + 1, &end2, 10);
		assert_true(end2 != end + 1);
	}
}

static void
test_thread_caches(void **state)
{
	long long held_on, held_off, held_two;
	int g_on, g_off, g_two;

	(void)state;
	if (UNDER_ASAN)
		skip();
	run_probe(NULL, &held_on, &g_on);
	run_probe("glibc.malloc.arena_max=2:glibc.malloc.tcache_count=0", &held_off, &g_off);
	run_probe("glibc.malloc.tcache_count=2", &held_two, &g_two);
	print_message("thread caches hold %lld bytes (default), %lld (count 2), %lld (off)\n",
	    held_on, held_two, held_off);
	assert_int_equal(g_on, 7);
	assert_int_equal(g_off, 0);
	assert_int_equal(g_two, 2);
	/* 32 threads x 7 chunks x 48 sizes (~400 bytes each): about 4 MB cached */
	assert_true(held_on > 3 * (long long)MB);
	assert_true(held_two * 3 < held_on);
	/* off: every freed chunk back in the shared arenas */
	assert_true(held_off < 256 * 1024);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arenas_capped),
		cmocka_unit_test(test_in_use_follows_allocations),
		cmocka_unit_test(test_trim_returns_holes),
		cmocka_unit_test(test_gauges_on_metrics),
		cmocka_unit_test(test_thread_caches),
	};
	if (argc == 2 && strcmp(argv[1], "--probe") == 0)
		return probe();
	if (realpath("/proc/self/exe", self) == NULL)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
