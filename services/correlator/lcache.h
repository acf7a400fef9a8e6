/* lcache.h — the correlator's local cache of Redis answers (identifier ->
 * index entry, resource -> attributes), so a warm event costs no round trip.
 *
 * Bounded (max entries; when full it is emptied: the working set refills it
 * in one pass).  Dropped whole by lcache_clear when a StateNotice announces a
 * new generation, or when the generation read from Redis changes.
 * Threads: any; one mutex. */
#ifndef TFDRIFT_CORRELATOR_LCACHE_H
#define TFDRIFT_CORRELATOR_LCACHE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct lcache lcache;

/* max_entries 0: unbounded (a table that grows: memstate, explain). */
lcache *lcache_new(size_t max_entries);
void lcache_free(lcache *c);
/* A malloc'd copy of key's value into *val (caller frees); false when absent. */
bool lcache_get(lcache *c, const char *key, char **val);
void lcache_put(lcache *c, const char *key, const char *val);
void lcache_clear(lcache *c);
size_t lcache_size(lcache *c);

#endif
