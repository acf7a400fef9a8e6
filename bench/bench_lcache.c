/* bench_lcache.c — what a StateNotice costs the correlator's local cache
 * (services/correlator/lcache.h, redis_index.h): a full cache of ENTRIES
 * answers (claims "workspace\taddress\ttype\tgen\torder" of WORKSPACES
 * workspaces, half of the entries their attributes), then
 *   - lcache_drop_if dropping one workspace's answers (a notice naming it:
 *     the runs after each dropped entry move back; every worker waits),
 *   - lcache_clear (a full notice),
 * each averaged over ROUNDS (the dropped answers put back between rounds).
 *
 *   bench_lcache [ENTRIES] [WORKSPACES] [ROUNDS] */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../services/correlator/lcache.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A claim or attributes entry i of workspace w, as redis_index.c keys them. */
static void
entry(size_t i, size_t nws, char *key, size_t klen, char *val, size_t vlen)
{
	size_t w = i % nws;

	if (i % 2 == 0) {
		snprintf(key, klen,
		    "i\x1f"
		    "111111111111\x1f"
		    "eu-west-1\x1fi-%012zx",
		    i);
		snprintf(val, vlen, "org/ws-%zu\taws_instance.web[%zu]\taws_instance\t%zu\t%zu", w,
		    i, 1000 + w, w);
	} else {
		snprintf(key, klen,
		    "a\x1forg/ws-%zu\x1f%zu\x1f"
		    "aws_instance.web[%zu]",
		    w, 1000 + w, i);
		snprintf(val, vlen, "{\"id\":\"i-%012zx\",\"instance_type\":\"t3.micro\"}", i);
	}
}

/* The service's test (redis_index.c drop_ws) for one workspace name. */
static bool
of_ws(void *arg, const char *key, const char *val)
{
	const char *ws = arg, *p = key[0] == 'i' ? val : key + 2;
	size_t n = strlen(ws);

	if (key[0] == 'i' && val[0] == '\0')
		return true;
	return strncmp(p, ws, n) == 0 && (p[n] == '\t' || p[n] == '\x1f');
}

int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	size_t nws = argc > 2 ? strtoul(argv[2], NULL, 10) : 5000;
	int rounds = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 20;
	lcache *c = lcache_new(n + 1);
	char key[256], val[256], ws[64];
	double t, drop = 0, clear = 0;
	size_t gone = 0;

	if (c == NULL || n == 0 || nws == 0 || rounds < 1) {
		fprintf(stderr, "usage: bench_lcache [ENTRIES] [WORKSPACES] [ROUNDS]\n");
		return 2;
	}
	for (size_t i = 0; i < n; i++) {
		entry(i, nws, key, sizeof(key), val, sizeof(val));
		lcache_put(c, key, val);
	}
	for (int r = 0; r < rounds; r++) {
		size_t w = (size_t)r * 7919 % nws;

		snprintf(ws, sizeof(ws), "org/ws-%zu", w);
		t = now_ms();
		gone += lcache_drop_if(c, of_ws, ws);
		drop += now_ms() - t;
		for (size_t i = w; i < n; i += nws) {
			entry(i, nws, key, sizeof(key), val, sizeof(val));
			lcache_put(c, key, val);
		}
	}
	for (int r = 0; r < rounds; r++) {
		t = now_ms();
		lcache_clear(c);
		clear += now_ms() - t;
		for (size_t i = 0; i < n; i++) {
			entry(i, nws, key, sizeof(key), val, sizeof(val));
			lcache_put(c, key, val);
		}
	}
	printf("correlator cache: %zu entries of %zu workspaces; a notice naming one drops %zu "
	       "in %.2f ms (in place), a full notice drops all in %.2f ms (avg of %d)\n",
	    lcache_size(c), nws, gone / (size_t)rounds, drop / rounds, clear / rounds, rounds);
	lcache_free(c);
	return 0;
}
