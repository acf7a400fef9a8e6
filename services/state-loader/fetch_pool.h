/* fetch_pool.h — a fixed pool of fetch workers with a queue and a limit per
 * host.
 *
 * Remote state checks (fetcher.h) are submitted here instead of each source
 * owning a thread: 5,000 sources cost `workers` threads, not 5,000.  Checks
 * wait in one queue per host and a worker takes the oldest check of the next
 * host (round robin) that has fewer than `per_host` checks running, so one
 * slow or hanging server holds at most `per_host` workers and a bucket of
 * 5,000 workspaces is not asked 5,000 times at once.
 *
 * Threads: submit, withdraw and the counters from any thread; run is called
 * on a worker with no pool lock held. */
#ifndef TFDRIFT_STATE_LOADER_FETCH_POOL_H
#define TFDRIFT_STATE_LOADER_FETCH_POOL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct fetch_pool fetch_pool;

/* One check: run(arg) on a worker. */
typedef void (*fetch_pool_fn)(void *arg);

/* A pool of `workers` threads (at least one), at most `per_host` (at least
 * one) checks of one host at a time.  0; TD_ENOMEM; TD_EIO when no worker
 * thread could be started (*out stays NULL: the caller fetches inline).
 * *out owned by the caller (fetch_pool_free). */
int fetch_pool_start(fetch_pool **out, size_t workers, size_t per_host);
/* Stops the workers after the checks they are running (queued ones are
 * dropped: their owners withdraw or free them first), joins them and frees
 * p; NULL is ignored. */
void fetch_pool_free(fetch_pool *p);

/* Queues run(arg) for host (a URL's authority, no credentials; copied).
 * 0 or TD_ENOMEM. */
int fetch_pool_submit(fetch_pool *p, const char *host, fetch_pool_fn run, void *arg);
/* Removes arg's queued check; true when one was queued (it will not run),
 * false when none is queued (it is running, has run, or was never queued). */
bool fetch_pool_withdraw(fetch_pool *p, void *arg);

/* Checks waiting for a worker (*queued) and running now (*running), read
 * together. */
void fetch_pool_counts(fetch_pool *p, size_t *queued, size_t *running);

/* The authority of url ("host:port", without "user:pass@"), lower-cased,
 * into buf (always terminated); "" when url has no "scheme://". */
void fetch_pool_host_of(const char *url, char *buf, size_t len);

#endif
