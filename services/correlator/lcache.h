/* lcache.h — the correlator's local cache of Redis answers (identifier ->
 * index claim, resource -> attributes), so a warm event costs no round trip.
 *
 * Bounded (max entries; when full it is emptied: the working set refills it
 * in one pass).  The service drops the entries a StateNotice makes stale with
 * lcache_drop_if (the claims of the workspaces it names), or everything with
 * lcache_clear (redis_index.c says when).
 *
 * A reader that asks Redis and then caches the answer may race with a drop
 * (its answer read before the switch, cached after the notice): it takes
 * lcache_epoch before asking and caches with lcache_put_at, which refuses
 * when a drop happened in between.
 * Threads: any; one mutex. */
#ifndef TFDRIFT_CORRELATOR_LCACHE_H
#define TFDRIFT_CORRELATOR_LCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lcache lcache;

/* max_entries 0: unbounded (a table that grows: memstate, explain). */
lcache *lcache_new(size_t max_entries);
void lcache_free(lcache *c);
/* A malloc'd copy of key's value into *val (caller frees); false when absent. */
bool lcache_get(lcache *c, const char *key, char **val);
void lcache_put(lcache *c, const char *key, const char *val);
/* Counts lcache_clear and lcache_drop_if calls. */
uint64_t lcache_epoch(lcache *c);
/* lcache_put unless the epoch is no longer epoch (false then). */
bool lcache_put_at(lcache *c, uint64_t epoch, const char *key, const char *val);
void lcache_clear(lcache *c);
/* Drops every entry for which drop(arg, key, value) says true, in place:
 * the keys after a dropped one in its run move back (no holes left in the
 * probe sequences, no tombstones).  drop runs under the cache's mutex, may
 * be asked more than once about a key it keeps, and must not call the
 * cache.  Returns how many went. */
typedef bool (*lcache_pred)(void *arg, const char *key, const char *val);
size_t lcache_drop_if(lcache *c, lcache_pred drop, void *arg);
size_t lcache_size(lcache *c);

#endif
