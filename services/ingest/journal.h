/* journal.h — ingest's durable, bounded, segmented on-disk journal.
 *
 * Every event an input accepts is appended here before the input acknowledges
 * it to its source, and released only once a correlator answered Ack OK for
 * it.  An entry is opaque bytes (an encoded CloudEventBatch).
 *
 * On disk: files seg-<20-digit id>.jrn in one directory.  Each record is a
 * 24-byte header (magic "TDJ1", payload length, sequence number, CRC-32 of the
 * sequence number and payload, all little-endian) followed by the payload.
 * Appends go to the newest (active) segment; a segment that would grow past
 * segment_bytes is closed and a new one started.  A closed segment whose
 * entries are all released is deleted, and so is any fully released segment
 * at jrn_close (a clean stop leaves only unreleased data).  Releases are not
 * written to disk: after a crash every record still on disk is pending again,
 * so an entry may be sent twice (downstream stores duplicates once) but never
 * lost.
 *
 * Opening a directory recovers it: segments are read in order, every record
 * whose header and checksum are sound is pending again (jrn_recovered), and a
 * record that is not sound (torn by a power loss, or damaged) ends that
 * segment: it is logged, counted in tfdrift_ingest_journal_corrupt_records_total,
 * and the file is truncated there.  New appends go to a new segment.
 *
 * Bound: the sum of the segments' sizes never exceeds max_bytes; an append
 * that would pass it returns TD_EBUSY (the input pushes back) until releases
 * free a segment.
 *
 * Durability (fsync): JRN_FSYNC_ALWAYS syncs every append before returning;
 * JRN_FSYNC_INTERVAL syncs an append when the last sync is older than
 * fsync_interval_ms (a crash of the machine may lose that much; a crash of the
 * process loses nothing, the data is in the page cache) — that append syncs
 * after releasing the lock, so other appends do not wait for the disk, and a
 * failed sync is logged and retried at the next interval; JRN_FSYNC_OFF leaves
 * it to the kernel.
 *
 * Metrics: tfdrift_ingest_journal_bytes, tfdrift_ingest_journal_entries
 * (pending), tfdrift_ingest_journal_full_total (appends refused),
 * tfdrift_ingest_journal_corrupt_records_total.
 *
 * Threads: every function may be called from any thread; one mutex guards the
 * index.  jrn_read reads without holding it (a pending entry's segment is never
 * deleted). */
#ifndef TFDRIFT_INGEST_JOURNAL_H
#define TFDRIFT_INGEST_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tfdrift/error.h"

#define JRN_HEADER_BYTES 24

typedef enum jrn_fsync {
	JRN_FSYNC_ALWAYS = 0,
	JRN_FSYNC_INTERVAL,
	JRN_FSYNC_OFF,
} jrn_fsync;

typedef struct jrn jrn;

typedef struct jrn_opts {
	const char *dir;        /* created if missing (one level) */
	uint64_t max_bytes;     /* bound on all segments together */
	uint64_t segment_bytes; /* a segment is closed past this size */
	jrn_fsync fsync;
	int fsync_interval_ms; /* for JRN_FSYNC_INTERVAL */
} jrn_opts;

/* Parses "always" | "interval" | "off".  TD_EINVAL otherwise. */
int jrn_fsync_parse(const char *s, jrn_fsync *out);

/* Opens (and recovers) opts->dir.  *out owned by the caller (jrn_close).
 * TD_EIO with err naming the file when the directory cannot be used. */
int jrn_open(jrn **out, const jrn_opts *opts, td_error *err);

/* The sequence numbers of the entries found on disk at open, ascending.
 * *seqs is malloc'd and owned by the caller; NULL when *n is 0. */
int jrn_recovered(jrn *j, uint64_t **seqs, size_t *n);

/* Appends data (copied).  *seq gets the entry's sequence number.
 * TD_EBUSY: the journal is full; TD_ETOOBIG: the record alone exceeds
 * max_bytes; TD_EIO: a write or sync failed (logged). */
int jrn_append(jrn *j, const uint8_t *data, size_t len, uint64_t *seq);

/* Reads a pending entry back.  *data is malloc'd and owned by the caller.
 * TD_ENOTFOUND for an unknown or released seq; TD_EIO if the bytes on disk no
 * longer match their checksum. */
int jrn_read(jrn *j, uint64_t seq, uint8_t **data, size_t *len);

/* Releases an entry: its space is freed once its segment holds no pending
 * entry.  TD_ENOTFOUND for an unknown or already released seq. */
int jrn_release(jrn *j, uint64_t seq);

/* Ingest's readiness: 0 while the journal can take appends (its directory
 * exists and is writable, and the last append did not fail on the disk);
 * otherwise TD_EIO with the reason in why.  A full journal is not a failure:
 * it pushes back (TD_EBUSY) and drains. */
int jrn_check(jrn *j, char *why, size_t whylen);

/* Pending entries and bytes on disk right now. */
size_t jrn_pending(jrn *j);
uint64_t jrn_bytes(jrn *j);

/* Syncs, closes the files (pending entries stay on disk for the next open)
 * and frees j.  NULL is ignored. */
void jrn_close(jrn *j);

#endif
