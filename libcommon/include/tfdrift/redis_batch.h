/* redis_batch.h — one multi-field Redis command (HSET key f v f v …, MSET
 * k v k v …) filled pair by pair and handed on when it is full.
 *
 * A command per field costs Redis and hiredis far more than the bytes do, so
 * writers of many small values group them; but a command must stay bounded
 * in arguments and bytes.  A batch emits its command (through the callback
 * given to td_rbatch_new, typically redisAppendCommandArgv into a pipeline)
 * as soon as it holds TD_RBATCH_PAIRS pairs or TD_RBATCH_BYTES bytes of
 * fields and values, whichever comes first, and on td_rbatch_send.  Every
 * emitted command therefore has 1 to TD_RBATCH_PAIRS pairs after its fixed
 * arguments (the command name, and the key for HSET), whatever the sizes.
 *
 * The emit callback must be done with argv/lens when it returns (hiredis
 * formats the command into its buffer at once): owned strings are freed right
 * after it.
 *
 * Threads: a batch is used by one thread at a time. */
#ifndef TFDRIFT_REDIS_BATCH_H
#define TFDRIFT_REDIS_BATCH_H

#include <stddef.h>

#include "tfdrift/error.h"

#define TD_RBATCH_PAIRS 256
#define TD_RBATCH_BYTES (256u << 10)

typedef struct td_rbatch td_rbatch;

/* Called with one complete command; 0 or a TD_E* code (err set). */
typedef int (
    *td_rbatch_emit_fn)(void *arg, int argc, const char **argv, const size_t *lens, td_error *err);

/* *out owned by the caller (td_rbatch_free).  The batch starts empty with no
 * command; call td_rbatch_start before adding. */
int td_rbatch_new(td_rbatch **out, td_rbatch_emit_fn emit, void *arg);
/* Frees what the batch still owns; nothing is emitted. */
void td_rbatch_free(td_rbatch *b);

/* Drops anything pending and starts a command: cmd (e.g. "HSET") with key,
 * or with no key when key is NULL ("MSET").  Both are borrowed until the
 * last emit of this command. */
void td_rbatch_start(td_rbatch *b, const char *cmd, const char *key);

/* Adds a pair; f and v are borrowed until emitted, and a non-NULL own is
 * freed by the batch once the pair has been emitted or dropped (also when
 * this call fails).  Emits when the batch is full; returns the emit's
 * result. */
int td_rbatch_add(td_rbatch *b, const char *f, size_t flen, const char *v, size_t vlen, char *own,
    td_error *err);

/* Emits what is pending (nothing when empty), then empties the batch; the
 * command stays started. */
int td_rbatch_send(td_rbatch *b, td_error *err);

/* Empties the batch without emitting, freeing owned strings. */
void td_rbatch_drop(td_rbatch *b);

/* Pairs pending. */
size_t td_rbatch_pending(const td_rbatch *b);

#endif
