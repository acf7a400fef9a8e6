/* redis_keys.h — the Redis key layout, spelled once: the state-loader writes
 * these keys, the correlator and the gateway read them (docs/redis-keys.md).
 * P is redis.key_prefix ("tfdrift:"); each workspace has a generation of its
 * own, <gen>, and a changed state rewrites only its workspace's keys:
 *
 *   P gen_seq                  INCR allocates a generation (one per switch)
 *   P gen                      the generation of the latest switch of any
 *                              workspace: exists once an index was written
 *   P wsgen                    workspace -> its current generation
 *   P workspaces               workspace -> status JSON
 *   P idx                      field -> claims (below), the field an
 *                              identifier scoped by account and region
 *                              (td_rkey_idx_field); one hash for every
 *                              workspace, so a lookup is one HMGET
 *   P g:<gen>:res:<workspace>  address -> the instance's attributes (JSON,
 *                              stored packed: attrs_codec.h)
 *   P g:<gen>:nodes:<workspace> address -> node JSON
 *   P g:<gen>:edges:<workspace> address -> JSON array of addresses
 *   P g:<gen>:ids:<workspace>  a string: the fields this generation of the
 *                              workspace claims, one a line
 *   P ev:<event id>            the correlator's claim on an event
 *   P writer                   the state-loader holding the write lease
 *
 * A value of P idx is one line per workspace claiming the field,
 * "workspace\taddress\ttype\tgen\torder", lines joined by '\n' and sorted
 * by (order, workspace): the first line answers (the first claim wins, in
 * the order of the sources).  td_rkey_entry_parse reads it.
 *
 * Each function returns the key as a new string (free), NULL when out of
 * memory.  Threads: no state. */
#ifndef TFDRIFT_REDIS_KEYS_H
#define TFDRIFT_REDIS_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

char *td_rkey_gen(const char *prefix);
char *td_rkey_gen_seq(const char *prefix);
char *td_rkey_workspaces(const char *prefix);
char *td_rkey_wsgen(const char *prefix);
char *td_rkey_idx(const char *prefix);
char *td_rkey_res(const char *prefix, uint64_t gen, const char *workspace);
char *td_rkey_nodes(const char *prefix, uint64_t gen, const char *workspace);
char *td_rkey_edges(const char *prefix, uint64_t gen, const char *workspace);
char *td_rkey_ids(const char *prefix, uint64_t gen, const char *workspace);
char *td_rkey_event(const char *prefix, const char *event_id);
char *td_rkey_writer(const char *prefix);

/* The first claim of a P idx value (s, len bytes, not NUL-terminated):
 * pointers into s and lengths.  False when the value is malformed (fewer
 * than four tab-separated parts in its first line, an empty address, or a
 * generation that is not a number). */
typedef struct td_rkey_entry {
	const char *workspace, *address, *type;
	size_t workspace_len, address_len, type_len;
	uint64_t gen;
} td_rkey_entry;
bool td_rkey_entry_parse(const char *s, size_t len, td_rkey_entry *e);

/* The field of P idx under which identifier is indexed for an object
 * of account and region (scope.h):
 *   "@<account>:<region>:<identifier>"   a regional object
 *   "@<account>::<identifier>"           an account-global type (IAM, S3, ...)
 *                                        or an object whose region is unknown
 *   "<identifier>"                       account "" (unknown): unscoped, as
 *                                        every field was before scoping
 * td_rkey_idx_field_into writes it into buf (snprintf's contract: returns the
 * length it needs; truncated when that is >= len). */
char *td_rkey_idx_field(const char *account, const char *region, const char *identifier);
size_t td_rkey_idx_field_into(char *buf, size_t len, const char *account, const char *region,
    const char *identifier);

/* The fields an event of account and region finds identifier under, most
 * specific first: "@<account>:<region>:<id>" (when both are known),
 * "@<account>::<id>" (when the account is), "<id>".  Writes them into buf
 * (len bytes; td_rkey_idx_lookup_size says how many it takes) one after the
 * other, each NUL-terminated, points out[] (room for TD_RKEY_IDX_LOOKUPS) at
 * them and returns how many; 0 when buf is too small.  No allocation: this
 * is on every lookup of the correlator. */
#define TD_RKEY_IDX_LOOKUPS 3
size_t td_rkey_idx_lookup_size(const char *account, const char *region, const char *identifier);
size_t td_rkey_idx_lookup_fields(const char *account, const char *region, const char *identifier,
    char *buf, size_t len, const char **out);

/* The part after P and before the rest of a generation's keys: "g:" (SCAN
 * patterns find old generations by it). */
#define TD_RKEY_GEN_PART "g:"

#endif
