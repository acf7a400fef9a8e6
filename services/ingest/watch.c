/* watch.c — reads new CloudTrail files from ingest.watch_dir (see watch.h). */
#include "watch.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tfdrift/cloudtrail_file.h"
#include "tfdrift/cloudtrail_record.h"
#include "tfdrift/clock.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

#define TICK_MS 100

/* A file seen in a scan. */
typedef struct seen {
	char *path;
	int64_t size, mtime_ns;
	bool done; /* read (or failed) and recorded */
} seen;

struct watch {
	hand *hand;
	watch_opts o;
	char *dir, *state_file;
	pthread_t thread;
	bool started;
	atomic_bool stopping;
	seen *files;
	size_t nfiles, capfiles;
	/* the file being read */
	Tfdrift__V1__CloudEvent **batch;
	size_t nbatch;
	size_t rejected;
	td_counter *c_read, *c_error, *c_rejected;
};

static seen *
find(watch *w, const char *path)
{
	for (size_t i = 0; i < w->nfiles; i++)
		if (strcmp(w->files[i].path, path) == 0)
			return &w->files[i];
	return NULL;
}

/* Adds path (copied). */
static seen *
add(watch *w, const char *path, int64_t size, int64_t mtime_ns)
{
	seen *s;

	if (w->nfiles == w->capfiles) {
		size_t cap = w->capfiles ? w->capfiles * 2 : 64;
		seen *n = realloc(w->files, cap * sizeof(*n));
		if (n == NULL)
			return NULL;
		w->files = n;
		w->capfiles = cap;
	}
	s = &w->files[w->nfiles];
	*s = (seen){ .path = strdup(path), .size = size, .mtime_ns = mtime_ns };
	if (s->path == NULL)
		return NULL;
	w->nfiles++;
	return s;
}

/* Reads watch.done: "size mtime_ns path" per line. */
static void
load_state(watch *w)
{
	FILE *f = fopen(w->state_file, "r");
	char line[4200];

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		long long size, mtime;
		char *p = line, *end;
		const char *path;
		seen *s;

		line[strcspn(line, "\n")] = '\0';
		size = strtoll(p, &end, 10);
		if (end == p || *end != ' ')
			continue;
		p = end + 1;
		mtime = strtoll(p, &end, 10);
		if (end == p || *end != ' ')
			continue;
		path = end + 1;
		if ((s = find(w, path)) == NULL)
			s = add(w, path, size, mtime);
		if (s != NULL) {
			s->size = size;
			s->mtime_ns = mtime;
			s->done = true;
		}
	}
	fclose(f);
}

static void
save_done(watch *w, const seen *s)
{
	FILE *f = fopen(w->state_file, "a");

	if (f == NULL) {
		TD_WARN("watch: cannot record a file as read", TD_KV_STR("file", w->state_file));
		return;
	}
	fprintf(f, "%" PRId64 " %" PRId64 " %s\n", s->size, s->mtime_ns, s->path);
	fflush(f);
	(void)fsync(fileno(f));
	fclose(f);
}

/* Journals the batch; waits while the journal is full.  TD_ECLOSED on a stop. */
static int
flush(watch *w)
{
	Tfdrift__V1__CloudEventBatch b = TFDRIFT__V1__CLOUD_EVENT_BATCH__INIT;
	uint8_t *buf;
	size_t len;
	int rv;

	if (w->nbatch == 0)
		return 0;
	b.n_events = w->nbatch;
	b.events = w->batch;
	len = tfdrift__v1__cloud_event_batch__get_packed_size(&b);
	buf = malloc(len ? len : 1);
	if (buf == NULL)
		return TD_ENOMEM;
	tfdrift__v1__cloud_event_batch__pack(&b, buf);
	while ((rv = hand_submit(w->hand, buf, len, NULL, NULL)) == TD_EBUSY)
		if (atomic_load(&w->stopping) || hand_wait_space(w->hand, 500) == TD_ECLOSED) {
			rv = TD_ECLOSED;
			break;
		}
	free(buf);
	for (size_t i = 0; i < w->nbatch; i++)
		ct_event_free(w->batch[i]);
	w->nbatch = 0;
	return rv;
}

static int
on_record(void *arg, const ct_file_record *rec)
{
	watch *w = arg;
	Tfdrift__V1__CloudEvent *ev = NULL;
	ct_record_ctx ctx = { .path = rec->path, .index = rec->index, .line = rec->line };
	const char *skip = NULL;
	td_error err;
	int rv;

	td_error_clear(&err);
	if (atomic_load(&w->stopping))
		return TD_ECLOSED;
	if (rec->json == NULL || ct_record_normalise(rec->json, &ctx, &ev, &skip, &err) != 0) {
		w->rejected++;
		td_counter_inc(w->c_rejected);
		TD_WARN("watch: record rejected", TD_KV_STR("file", rec->path),
		    TD_KV_UINT("record", rec->index),
		    TD_KV_STR("reason", rec->json == NULL ? rec->reason : err.msg));
		return 0;
	}
	if (ev == NULL)
		return 0;
	w->batch[w->nbatch++] = ev;
	if (w->nbatch == w->o.batch_max && (rv = flush(w)) != 0)
		return rv;
	return 0;
}

/* Reads one stable, new file.  false on a stop (the file is read again later). */
static bool
read_one(watch *w, seen *s)
{
	td_error err;
	int rv;

	td_error_clear(&err);
	w->rejected = 0;
	rv = ct_file_read(s->path, 0, on_record, w, &err);
	if (rv == 0)
		rv = flush(w);
	for (size_t i = 0; i < w->nbatch; i++)
		ct_event_free(w->batch[i]);
	w->nbatch = 0;
	if (rv == TD_ECLOSED)
		return false;
	if (rv != 0) {
		td_counter_inc(w->c_error);
		TD_ERROR("watch: file not read; the other files go on", TD_KV_STR("file", s->path),
		    TD_KV_STR("error", err.msg[0] ? err.msg : td_strerror(rv)));
	} else {
		td_counter_inc(w->c_read);
		TD_INFO("watch: file read", TD_KV_STR("file", s->path),
		    TD_KV_UINT("rejected_records", w->rejected));
	}
	s->done = true;
	save_done(w, s);
	return true;
}

static void
scan(watch *w)
{
	char **paths = NULL;
	size_t n = 0;
	td_error err;

	td_error_clear(&err);
	if (ct_file_list(w->dir, &paths, &n, &err) != 0) {
		TD_WARN("watch: cannot list the directory", TD_KV_STR("error", err.msg));
		return;
	}
	for (size_t i = 0; i < n && !atomic_load(&w->stopping); i++) {
		struct stat st;
		int64_t mt;
		seen *s;

		if (stat(paths[i], &st) != 0)
			continue;
		mt = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
		s = find(w, paths[i]);
		if (s == NULL) {
			/* first sight: read it on the next scan if it stays the same */
			(void)add(w, paths[i], (int64_t)st.st_size, mt);
			continue;
		}
		if (s->size != (int64_t)st.st_size || s->mtime_ns != mt) {
			/* changed: a new copy of the file, or still being written */
			s->size = (int64_t)st.st_size;
			s->mtime_ns = mt;
			s->done = false;
			continue;
		}
		if (!s->done && !read_one(w, s))
			break;
	}
	ct_file_list_free(paths, n);
}

static void *
watch_thread(void *arg)
{
	watch *w = arg;

	while (!atomic_load(&w->stopping)) {
		int64_t next = td_clock_mono_ms() + w->o.interval_ms;
		scan(w);
		while (!atomic_load(&w->stopping) && td_clock_mono_ms() < next) {
			struct timespec t = { 0, TICK_MS * 1000000L };
			nanosleep(&t, NULL);
		}
	}
	return NULL;
}

int
watch_start(watch **out, const watch_opts *o, hand *h, td_error *err)
{
	watch *w;
	struct stat st;
	int rv;

	*out = NULL;
	if (stat(o->dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return td_error_set(err, TD_ENOTFOUND, "ingest.watch_dir: %s is not a directory",
		    o->dir);
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return td_error_set(err, TD_ENOMEM, "out of memory");
	w->hand = h;
	w->o = *o;
	if (w->o.batch_max == 0)
		w->o.batch_max = 100;
	atomic_init(&w->stopping, false);
	w->dir = strdup(o->dir);
	w->state_file = strdup(o->state_file);
	w->batch = calloc(w->o.batch_max, sizeof(*w->batch));
	if (w->dir == NULL || w->state_file == NULL || w->batch == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto fail;
	}
	w->c_read = td_counter_get("tfdrift_ingest_watch_files_total",
	    "CloudTrail files taken from ingest.watch_dir, by outcome.", "result=\"read\"");
	w->c_error = td_counter_get("tfdrift_ingest_watch_files_total",
	    "CloudTrail files taken from ingest.watch_dir, by outcome.", "result=\"error\"");
	w->c_rejected = td_counter_get("tfdrift_ingest_watch_records_rejected_total",
	    "Records in watched files that did not normalise.", NULL);
	load_state(w);
	if (pthread_create(&w->thread, NULL, watch_thread, w) != 0) {
		rv = td_error_set(err, TD_EIO, "cannot start the watch thread");
		goto fail;
	}
	w->started = true;
	*out = w;
	return 0;
fail:
	watch_stop(w);
	return rv;
}

void
watch_stop(watch *w)
{
	if (w == NULL)
		return;
	atomic_store(&w->stopping, true);
	if (w->started)
		pthread_join(w->thread, NULL);
	for (size_t i = 0; i < w->nfiles; i++)
		free(w->files[i].path);
	free(w->files);
	free(w->batch);
	free(w->dir);
	free(w->state_file);
	free(w);
}
