/* spool.h — the on-disk spool: alert requests accepted while PostgreSQL could
 * not take them, kept until they are stored.
 *
 * A spool is a directory of segment files, one per spooled batch, named
 * <seq>-<created_ms>-<alerts>.spool (seq: 20 digits, ascending).  A segment
 * holds records [u32 length][u32 CRC-32][length bytes], little-endian; each
 * record is one request's Envelope as received (type, trace id, AlertBatch).
 * A segment is written to a temporary name, fsynced, renamed and the
 * directory fsynced before ps_spool_append returns, so an acknowledged
 * request survives a crash or power loss; a segment left half-written by a
 * crash still has its temporary name and is deleted at open (its requests
 * were never answered, so their senders resend them).
 *
 * Drained oldest first: ps_spool_oldest + ps_spool_read, store the requests,
 * then ps_spool_remove.  A crash between storing and removing stores them
 * again, which the alert_key conflict check turns into duplicates.
 *
 * Bounded: with a maximum size (ps_spool_set_max) an append that would take
 * the segments past it is refused (TD_EBUSY), as is one the disk has no room
 * for; the caller answers its sender "retry later" instead of growing the
 * disk without limit.
 *
 * Threads: every function may be called from any thread (one mutex); file
 * I/O of append/read runs outside it. */
#ifndef TFDRIFT_PS_SPOOL_H
#define TFDRIFT_PS_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tfdrift/error.h"

typedef struct ps_spool ps_spool;

/* Creates dir (and parents) if needed and indexes the segments in it.
 * *out owned by caller (ps_spool_close). */
int ps_spool_open(ps_spool **out, const char *dir, td_error *err);
void ps_spool_close(ps_spool *s);

/* Most bytes the segments may hold together (record headers included);
 * 0 = no limit (the default).  Segments already there count, and are kept
 * even when they exceed it. */
void ps_spool_set_max(ps_spool *s, uint64_t max_bytes);

/* One record to append: bytes borrowed for the call. */
typedef struct ps_spool_rec {
	const uint8_t *data;
	size_t len;
} ps_spool_rec;

/* Writes recs[0..n) as one durable segment counting `alerts` alerts.
 * TD_EBUSY: no room (the maximum size, or the disk is full); TD_EIO (err
 * says which call failed).  Either way nothing was spooled. */
int ps_spool_append(ps_spool *s, const ps_spool_rec *recs, size_t n, uint64_t alerts,
    td_error *err);

/* The oldest segment's sequence number; TD_ENOTFOUND when empty. */
int ps_spool_oldest(ps_spool *s, uint64_t *seq);

/* Reads segment seq: *recs (n entries) and their bytes live in one malloc'd
 * block owned by the caller (free(*recs)).  A record whose CRC does not match
 * ends the read there (*corrupt set to 1).  TD_EIO, TD_ENOTFOUND. */
int ps_spool_read(ps_spool *s, uint64_t seq, ps_spool_rec **recs, size_t *n, int *corrupt,
    td_error *err);

/* Deletes segment seq (durably). */
int ps_spool_remove(ps_spool *s, uint64_t seq);

typedef struct ps_spool_stats {
	uint64_t segments;
	uint64_t alerts;
	uint64_t bytes;
	int64_t oldest_ms;  /* wall-clock creation of the oldest segment; 0 when empty */
	uint64_t max_bytes; /* ps_spool_set_max; 0 = no limit */
	bool full;          /* the last append was refused for room (until one succeeds
			     * or a segment is removed) */
} ps_spool_stats;

void ps_spool_get_stats(ps_spool *s, ps_spool_stats *st);

#endif
