/* watch.h — a configured directory of CloudTrail log files, read as files
 * appear (ingest.watch_dir).
 *
 * Every ingest.watch_interval the tree is listed (ct_file_list: *.json and
 * *.json.gz, recursively, sorted — the layout CloudTrail writes to S3).  A file
 * not read before, whose size and mtime did not change since the previous
 * scan (so a file still being copied in is left alone), is read; its events
 * are normalised and journaled in batches of ingest.batch_max, waiting while
 * the journal is full.  Once all of a file's events are journaled its path,
 * size and mtime are appended to shared.data_dir/ingest/watch.done, so a
 * restart does not read it again (a crash in the middle of a file reads it
 * again: at-least-once; duplicates are stored once).  A file that cannot be
 * read (a truncated .gz, not JSON) is logged once and counted, and the others
 * are read.
 *
 * Metrics: tfdrift_ingest_watch_files_total{result="read|error"},
 * tfdrift_ingest_watch_records_rejected_total.
 *
 * Threads: one thread of its own. */
#ifndef TFDRIFT_INGEST_WATCH_H
#define TFDRIFT_INGEST_WATCH_H

#include <stddef.h>

#include "handoff.h"
#include "tfdrift/error.h"

typedef struct watch watch;

typedef struct watch_opts {
	const char *dir;
	const char *state_file; /* watch.done */
	int interval_ms;
	size_t batch_max;
} watch_opts;

/* *out owned by the caller (watch_stop); h must outlive it. */
int watch_start(watch **out, const watch_opts *opts, hand *h, td_error *err);
/* Stops the thread (after the batch in progress) and frees w.  NULL is ignored. */
void watch_stop(watch *w);

#endif
