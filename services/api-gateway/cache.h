/* cache.h — a small cache of whole REST answers (GET /drifts, GET /stats).
 *
 * A list page or the stats cost PostgreSQL far more than copying a kept
 * answer, and dashboards ask the same few questions over and over.  An
 * answer is kept under its canonical request (the path and the sorted
 * parameters) for at most ttl_ms, and only while nothing has changed
 * since: every commit the gateway hears of (persistence's alerts PUB, the
 * live feed's source), every PATCH, and every change PostgreSQL announces
 * (changes.h: commits of any persistence, PATCHes on any gateway replica,
 * retention, rows written by hand) moves the generation, and an answer
 * from an older generation is never served.  The generation is read before
 * the database is asked, so an answer computed across a commit is already
 * stale when it is stored.  Only while the change listener is reconnecting
 * may another replica's change go unheard; the TTL bounds that lag, and
 * the cache is emptied again once the listener is back.
 *
 * Authentication and the role check run before the cache is consulted, on
 * every request; only 200 answers are kept.  Size: at most max_entries
 * answers and GW_CACHE_MAX_BYTES of bodies; the oldest go first (with one
 * TTL for all, the oldest is also the nearest to expiry).
 *
 * Threads: every function may be called from any thread. */
#ifndef TFDRIFT_GW_CACHE_H
#define TFDRIFT_GW_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "query.h"
#include "tfdrift/error.h"

#define GW_CACHE_MAX_BYTES (64u << 20)
#define GW_CACHE_WAIT_MS 2000

typedef struct gw_cache gw_cache;

/* ttl_ms > 0.  *out owned by caller (gw_cache_free). */
int gw_cache_new(gw_cache **out, int64_t ttl_ms, size_t max_entries, td_error *err);
void gw_cache_free(gw_cache *c);

/* The canonical key of path + args (order of args ignored), malloc'd, or
 * NULL when out of memory. */
char *gw_cache_key(const char *path, const gw_kv *args, size_t nargs);

/* The current generation; read it before computing an answer to store. */
uint64_t gw_cache_generation(gw_cache *c);

/* A copy of the answer kept for key (malloc'd, NUL-terminated, *len set),
 * or NULL when there is none that is current.  While another request is
 * computing the same key (a leader), this waits for its answer, at most
 * GW_CACHE_WAIT_MS: after a commit empties the cache, 32 clients asking for
 * the same page cost one query, not 32.  On NULL with *leader true the
 * caller computes the answer and must call gw_cache_done(key) afterwards
 * (whether or not it stored one); waiters then look again. */
char *gw_cache_get(gw_cache *c, const char *key, size_t *len, bool *leader);
void gw_cache_done(gw_cache *c, const char *key);

/* Keeps a copy of body for key, unless the generation moved past gen
 * (the answer may predate a change).  Out of memory: not kept. */
void gw_cache_put(gw_cache *c, const char *key, uint64_t gen, const char *body, size_t len);

/* Something changed (a commit, a PATCH): no answer kept so far is served. */
void gw_cache_invalidate(gw_cache *c);

#endif
