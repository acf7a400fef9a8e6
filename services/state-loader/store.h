/* store.h — the resource index in Redis, one generation at a time.
 *
 * Key layout (docs/architecture.md, "Redis"; P = redis.key_prefix):
 *   P gen_seq                         counter; INCR allocates a generation
 *   P g:<gen>:idx                     hash  field -> "workspace\taddress\ttype", the
 *                                     field an identifier scoped by the
 *                                     instance's account and region (scope.h,
 *                                     td_rkey_idx_field)
 *   P g:<gen>:res:<workspace>:<addr>  string  the instance's attributes as JSON
 *                                     (already redacted by tfstate.c)
 *   P gen                             string  the current generation
 *   P workspaces                      hash  workspace -> status JSON
 *   P g:<gen>:nodes:<workspace>       hash  address -> node JSON (type, name,
 *                                     module, mode, provider, tainted)
 *   P g:<gen>:edges:<workspace>       hash  address -> JSON array of the
 *                                     resource addresses it depends on
 * (docs/redis-keys.md is the reference for readers.)
 *
 * store_write_generation writes a complete new generation (pipelined), then
 * in one MULTI/EXEC sets `gen` and replaces `workspaces`, then gives the
 * previous generation's keys a TTL of the grace period (readers that fetched
 * the old `gen` a moment ago can still finish).  The first switch after the
 * store was created or after a failed write instead scans for every key of any
 * other generation (leftovers of a crash) and gives them the same TTL.
 *
 * Generations only grow while a store lives: if gen_seq went back (Redis
 * restarted empty) it is bumped past the last generation written.
 *
 * When two instances claim the same field (the same identifier in the same
 * account and region) the first one (workspace order, then file order) keeps it and the clash is counted; this is decided
 * in memory (each generation is written fresh), so the index, the resources
 * and the graph go out as HSET/MSET commands of many fields each.
 *
 * Threads: a store is used by one thread at a time. */
#ifndef TFDRIFT_STATE_LOADER_STORE_H
#define TFDRIFT_STATE_LOADER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tfdrift/error.h"
#include "tfdrift/scope.h"
#include "tfdrift/tfstate.h"

typedef struct store store;

typedef struct store_opts {
	const char *host;
	int port;
	const char *password; /* "" or NULL: no AUTH */
	int db;
	const char *prefix;
	int timeout_ms;
	int64_t grace_ms; /* TTL of a replaced generation; 0 deletes it at once */
	/* The write lease (several state-loaders, one writer): holder is this
	 * process's unique name; lease_ms 0 disables the lease (always write). */
	const char *holder;
	int64_t lease_ms;
} store_opts;

/* One workspace's part of a generation. */
typedef struct store_workspace {
	const char *name;
	const tfs_state *state;  /* NULL when nothing was ever loaded */
	const td_scope *scope;   /* accounts and regions of its instances; NULL: unscoped */
	const char *status_json; /* the `workspaces` hash value */
} store_workspace;

typedef struct store_result {
	uint64_t generation;
	size_t resources;   /* res keys written */
	size_t identifiers; /* idx fields written */
	size_t conflicts;   /* identifiers already claimed by another instance */
	size_t nodes;       /* graph nodes written (data sources included) */
	size_t edges;       /* dependency edges (array elements) written */
} store_result;

/* Copies opts; does not connect.  *out owned by the caller (store_free). */
int store_new(store **out, const store_opts *opts);
void store_free(store *s);

/* Connects (with AUTH and SELECT) unless connected.  TD_EDEPEND when Redis
 * cannot be reached, TD_EINVAL when it refuses AUTH or SELECT; err says why. */
int store_connect(store *s, td_error *err);
/* False after any connection-level failure, until store_connect succeeds. */
bool store_connected(const store *s);

/* Takes or renews the write lease P writer (SET NX PX / PEXPIRE when it is
 * ours, in one Lua script).  *held tells whether this store holds it now;
 * *other (when not held, if non-NULL) receives the holder's name, owned by
 * the caller.  Always held when the lease is disabled.  TD_EDEPEND when Redis
 * cannot be reached. */
int store_lease(store *s, bool *held, char **other, td_error *err);

/* Reads P gen into *gen (0 when unset).  TD_EDEPEND when Redis cannot be
 * reached, TD_EINVAL when it refuses the command. */
int store_current_generation(store *s, uint64_t *gen, td_error *err);

/* Writes and switches to a new generation holding every indexed instance of
 * ws[0..n).  cancel (may be NULL) is polled between pipeline chunks; when it
 * returns true the write stops with TD_ECLOSED and the switch does not happen.
 * The switch is fenced: it happens only while this store holds the write
 * lease (checked in the same Lua script that switches), else TD_EBUSY and
 * nothing is switched (the keys written are left to expire by the holder's
 * sweep).
 * On success *res describes the new generation.  Failures: TD_EDEPEND only
 * when Redis could not be reached or the connection broke; TD_EINVAL when
 * Redis refused a command (its reply in err), TD_EPROTO for a reply of the
 * wrong shape, TD_ENOMEM when we (or hiredis) ran out of memory. */
int store_write_generation(store *s, const store_workspace *ws, size_t n, bool (*cancel)(void *),
    void *cancel_arg, store_result *res, td_error *err);

#endif
