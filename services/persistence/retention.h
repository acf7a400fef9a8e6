/* retention.h — deletes alerts older than the retention period.
 *
 * A thread wakes every `interval_ms`, and while rows older than
 * `retention_ms` exist deletes them `batch` at a time, each batch its own
 * short transaction (so a large purge never holds many locks or a long
 * transaction):
 *
 *   DELETE FROM alerts WHERE id IN (SELECT id FROM alerts
 *       WHERE detected_at < now() - retention ORDER BY detected_at LIMIT batch)
 *
 * Status history goes with its alert (ON DELETE CASCADE); dead letters older
 * than the period are deleted the same way.  A database error ends the round;
 * the next one retries.  Metric: tfdrift_persistence_retention_deleted_total.
 *
 * Threads: its own; borrows one pooled connection per batch. */
#ifndef TFDRIFT_PS_RETENTION_H
#define TFDRIFT_PS_RETENTION_H

#include <stdint.h>

#include "tfdrift/pgpool.h"
#include "tfdrift/error.h"

typedef struct ps_retention ps_retention;

/* retention_ms == 0: nothing is ever deleted and no thread starts (*out is
 * still set).  *out owned by caller. */
int ps_retention_start(ps_retention **out, td_pgpool *pool, int64_t retention_ms, int batch,
    int64_t interval_ms, td_error *err);

/* One full round now, on the calling thread: deletes until nothing old is
 * left.  *deleted: alert rows deleted.  0 or TD_EAGAIN (database). */
int ps_retention_run(td_pgpool *pool, int64_t retention_ms, int batch, uint64_t *deleted);

void ps_retention_stop(ps_retention *r);

#endif
