/* store.h — the resource index in Redis, one workspace at a time.
 *
 * Key layout: tfdrift/redis_keys.h and docs/redis-keys.md (P =
 * redis.key_prefix).  Each workspace has a generation of its own:
 * store_switch_workspace writes the workspace's keys under a new generation
 * (P g:<gen>:res:<ws>, :ids:, :nodes:, :edges:, pipelined HSETs of many
 * fields each), then switches it in one Lua script: its claims in the one
 * index hash P idx are added, moved or dropped (the lines of other
 * workspaces claiming the same field stay, sorted by source order: the
 * first claim answers), P wsgen points at the new generation, P gen is set
 * to it and its P workspaces record is replaced.  Then the workspace's
 * previous generation gets a TTL of the grace period (readers that found the
 * old generation a moment ago can still finish).  Unchanged workspaces cost
 * nothing.
 *
 * After a failed write (or when the store was created) keys of unswitched
 * generations may be left behind: store_sweep scans for every key of a
 * generation no workspace points at and gives it the same TTL.
 *
 * Generations only grow while a store lives: if gen_seq went back (Redis
 * restarted empty) it is bumped past the last generation allocated.
 *
 * Within one workspace, the first instance (file order) claiming a field
 * keeps it; between workspaces the lower order does (the script), and both
 * clashes are counted in conflicts.
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

struct contain;

/* One workspace to switch. */
typedef struct store_workspace {
	const char *name;
	const tfs_state *state; /* NULL: remove the workspace (its claims and keys) */
	const td_scope *scope;  /* accounts and regions of its instances; NULL: unscoped */
	const struct contain *
	    parents; /* graph parents of state's instances (contain_parent(parents, 0, i)); may be NULL */
	const char *status_json; /* the `workspaces` hash value; NULL removes it */
	unsigned order;          /* its position among the sources: the lower claim answers */
} store_workspace;

typedef struct store_result {
	uint64_t
	    generation; /* allocated for this switch (P gen now): the workspace's new one (no key has it after a removal) */
	uint64_t previous;  /* its generation before (now retired); 0 none */
	size_t resources;   /* res fields written */
	size_t attr_bytes;  /* their attributes JSON, bytes */
	size_t attr_stored; /* the same as stored (attrs_codec.h: packed when smaller) */
	size_t identifiers; /* claims (conflicts included) */
	size_t conflicts;   /* claims another instance or workspace holds before this one */
	size_t
	    moved; /* fields whose answer moved between two other workspaces' hands, or from another workspace's to this one's */
	size_t nodes; /* graph nodes written (data sources included) */
	size_t edges; /* dependency edges (array elements) written */
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

/* Gives the write lease up when this store holds it (a clean stop: a
 * standby takes over at its next round instead of after the lease's TTL).
 * Does not connect. */
int store_release_lease(store *s, td_error *err);

/* Reads P gen into *gen (0 when unset).  TD_EDEPEND when Redis cannot be
 * reached, TD_EINVAL when it refuses the command. */
int store_current_generation(store *s, uint64_t *gen, td_error *err);

/* Writes w's keys under a new generation and switches the workspace to it
 * (or, with w->state NULL, removes the workspace: its claims, its P wsgen
 * entry and, when w->status_json is NULL, its record).  cancel (may be
 * NULL) is polled between pipeline chunks; when it returns true the write
 * stops with TD_ECLOSED and the switch does not happen.  The switch is
 * fenced: it happens only while this store holds the write lease (checked
 * in the script that switches), else TD_EBUSY and nothing is switched.
 * On success *res describes it.  Failures: TD_EDEPEND only when Redis could
 * not be reached or the connection broke; TD_EINVAL when Redis refused a
 * command (its reply in err), TD_EPROTO for a reply of the wrong shape,
 * TD_ENOMEM when we (or hiredis) ran out of memory. */
int store_switch_workspace(store *s, const store_workspace *w, bool (*cancel)(void *),
    void *cancel_arg, store_result *res, td_error *err);

/* While held, switches leave P gen alone: during a first load (or a
 * rewrite after Redis lost the index) readers see no index, and hand their
 * events back, until store_publish_generation says it is whole. */
void store_hold_generation(store *s, bool hold);
/* SET P gen to *gen (0: a new generation, returned in *gen: an index of no
 * workspace), fenced by the lease like a switch (TD_EBUSY). */
int store_publish_generation(store *s, uint64_t *gen, td_error *err);

/* Replaces workspace name's record in P workspaces only (a failed load:
 * the workspace keeps its contents).  Fenced like a switch. */
int store_set_status(store *s, const char *name, const char *status_json, td_error *err);

/* The workspaces P wsgen names: *names (n, each and the array owned by the
 * caller). */
int store_workspaces(store *s, char ***names, size_t *n, td_error *err);

/* When a write failed since the last sweep (or none ran yet): gives every
 * key of a generation no workspace points at the grace TTL.  0 when there
 * was nothing to do. */
int store_sweep(store *s, bool (*cancel)(void *), void *cancel_arg, td_error *err);

#endif
