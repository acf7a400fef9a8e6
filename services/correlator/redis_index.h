/* redis_index.h — the correlator's read side of the resource index in Redis.
 *
 * Layout (docs/redis-keys.md, tfdrift/redis_keys.h): P idx is one hash of
 * every workspace, field (an identifier scoped by account and region) ->
 * claims "workspace\taddress\ttype\tgen\torder" (the first line answers);
 * P g:<gen>:res:<workspace> is a hash address -> attributes JSON, gen being
 * the claiming workspace's own generation.  A lookup is one HMGET of P idx,
 * the attributes one HGET of the generation the claim names.
 *
 * One hiredis connection per worker (a pool of `conns`), each opened on first
 * use and reopened after any error (host, port, AUTH password, SELECT db,
 * connect/command timeout).
 *
 * Local cache (lcache.h) of claims and attributes.  Attributes are keyed by
 * (workspace, generation, address) and never go stale; claims do when a
 * workspace switches.  ridx_invalidate (a StateNotice) drops the claims of
 * the workspaces it names (with every cached "not found"), or everything
 * when it says full.  P gen (the generation of the latest switch) is read at
 * most every RIDX_GEN_TTL_MS: one that no notice announced (a notice lost on
 * the bus) drops everything.  A cached claim whose generation's attributes
 * are gone from Redis (its grace expired) drops that workspace's answers and
 * the event is retried (TD_EAGAIN).
 * While P gen does not exist (state-loader has not loaded anything yet) a
 * lookup fails with TD_EAGAIN: answering "not managed" then would flag every
 * resource as unmanaged.
 *
 * Metrics: tfdrift_correlator_cache_drops_total{reason} (full, workspaces,
 * unannounced, expired) and tfdrift_correlator_cache_dropped_entries_total.
 *
 * Health: ridx_healthy() is the result of the last command on any connection;
 * a probe thread PINGs every RIDX_PROBE_MS so it recovers while idle.
 *
 * Threads: ridx_acquire/ridx_release/ridx_lookup/ridx_attrs from any worker
 * thread, ridx_invalidate from the notice's; a connection is used by one
 * thread at a time. */
#ifndef TFDRIFT_CORRELATOR_REDIS_INDEX_H
#define TFDRIFT_CORRELATOR_REDIS_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rule.h"
#include "tfdrift/error.h"

#define RIDX_GEN_TTL_MS 5000
#define RIDX_PROBE_MS 2000
#define RIDX_CACHE_ENTRIES 100000

typedef struct ridx ridx;
typedef struct ridx_conn ridx_conn;

typedef struct ridx_opts {
	const char *host;
	int port;
	const char *password; /* "" for none */
	int db;
	int timeout_ms;
	const char *prefix; /* redis.key_prefix */
	int conns;          /* pool size: the number of workers */
} ridx_opts;

/* Does not connect (Redis may be down at start); the probe thread does.
 * *out owned by the caller (ridx_close). */
int ridx_open(ridx **out, const ridx_opts *opts, td_error *err);
/* Stops the probe, closes every connection, frees r.  All connections must be released. */
void ridx_close(ridx *r);

/* Borrows a connection (blocks while all are in use). */
ridx_conn *ridx_acquire(ridx *r);
void ridx_release(ridx *r, ridx_conn *c);

/* A rule_lookup_fn; arg is a ridx_conn.  One HMGET of P idx for the fields
 * of the event's scope, most specific first (account and region, account
 * alone, unscoped: td_rkey_idx_lookup_fields); the first present answers,
 * with its first claim (m->gen the claiming workspace's generation).  0,
 * TD_ENOTFOUND (also for a malformed value, warned), TD_EAGAIN (no index
 * yet), TD_ENOMEM or TD_EDEPEND (Redis error; the connection is reset). */
int ridx_lookup(void *arg, const rule_scope *scope, const char *identifier, rule_match *m);

/* A rule_attrs_fn: HGET P g:<gen>:res:<workspace> address.  TD_EAGAIN when
 * that generation is gone (a stale cached claim, dropped: look up again). */
int ridx_attrs(void *arg, const char *workspace, uint64_t gen, const char *address, char **json);

/* eventID dedupe across replicas (<prefix>ev:<eventID>, tfdrift/redis_keys.h).
 *
 * check sets done[i] for events already stored ("done").
 * claim takes each key for owner (SET NX, ttl_ms) before the work and says
 * per event whose it is: RIDX_CLAIM_OURS (taken now, or already this
 * owner's: a resent request), RIDX_CLAIM_DONE (another replica finished it
 * meanwhile) or RIDX_CLAIM_OTHER (another replica is working on it, or its
 * claim just expired).  The caller leaves an event claimed by another to
 * that replica; a replica that dies leaves a claim that expires after
 * ttl_ms, and the event is then done again.
 * release drops this owner's claims (compare and delete in one script) when
 * the work is handed back undone, so another replica need not wait ttl_ms.
 * done marks the events after persistence acknowledged their alerts, never
 * before, so a resent copy of a lost request is processed, not taken for a
 * duplicate.  All return 0, TD_ENOMEM or TD_EDEPEND (connection reset). */
typedef enum ridx_claim {
	RIDX_CLAIM_OURS,
	RIDX_CLAIM_DONE,
	RIDX_CLAIM_OTHER,
} ridx_claim;

int ridx_dedupe_check(ridx_conn *c, char *const *event_ids, size_t n, bool *done);
int ridx_dedupe_claim(ridx_conn *c, char *const *event_ids, size_t n, const char *owner, int ttl_ms,
    ridx_claim *claim);
int ridx_dedupe_release(ridx_conn *c, char *const *event_ids, size_t n, const char *owner);
int ridx_dedupe_done(ridx_conn *c, char *const *event_ids, size_t n, int ttl_s);

/* A StateNotice: generation is the P gen it announces (0: none), changed
 * (n_changed names, borrowed) the workspaces it switched.  Drops the cached
 * claims of those workspaces and every cached "not found"; with full,
 * everything.  Each switch takes one generation, so a notice whose
 * generation lies more than n_changed above the last one known follows a
 * switch whose notice was lost: everything goes.  With no changed: nothing
 * when the generation is known (the state-loader's notice of statuses only:
 * a failed load), else everything (a switch from a state-loader older than
 * per-workspace generations). */
void ridx_invalidate(ridx *r, uint64_t generation, const char *const *changed, size_t n_changed,
    bool full);

/* Last command succeeded. */
bool ridx_healthy(const ridx *r);
/* A generation exists (as of the last read of it). */
bool ridx_loaded(const ridx *r);

#endif
