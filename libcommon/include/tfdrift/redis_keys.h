/* redis_keys.h — the Redis key layout, spelled once: the state-loader writes
 * these keys, the correlator and the gateway read them (docs/redis-keys.md).
 * P is redis.key_prefix ("tfdrift:"), gen a generation number:
 *
 *   P gen                                 the current generation
 *   P gen_seq                             INCR allocates a generation
 *   P workspaces                          workspace -> status JSON
 *   P g:<gen>:idx                         identifier -> workspace\taddress\ttype
 *   P g:<gen>:res:<workspace>:<address>   an instance's attributes (JSON)
 *   P g:<gen>:nodes:<workspace>           address -> node JSON
 *   P g:<gen>:edges:<workspace>           address -> JSON array of addresses
 *   P ev:<event id>                       the correlator's claim on an event
 *   P writer                              the state-loader holding the write lease
 *
 * Each function returns the key as a new string (free), NULL when out of
 * memory.  Threads: no state. */
#ifndef TFDRIFT_REDIS_KEYS_H
#define TFDRIFT_REDIS_KEYS_H

#include <stdint.h>

char *td_rkey_gen(const char *prefix);
char *td_rkey_gen_seq(const char *prefix);
char *td_rkey_workspaces(const char *prefix);
char *td_rkey_idx(const char *prefix, uint64_t gen);
char *td_rkey_res(const char *prefix, uint64_t gen, const char *workspace, const char *address);
char *td_rkey_nodes(const char *prefix, uint64_t gen, const char *workspace);
char *td_rkey_edges(const char *prefix, uint64_t gen, const char *workspace);
char *td_rkey_event(const char *prefix, const char *event_id);
char *td_rkey_writer(const char *prefix);

/* The part after P and before the rest of a generation's keys: "g:" (SCAN
 * patterns find old generations by it). */
#define TD_RKEY_GEN_PART "g:"

#endif
