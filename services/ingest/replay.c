/* replay.c — CloudTrail log files into the running ingest (or onto stdout).
 *
 * Threads: the main thread reads and normalises files and packs batches; a pool
 * of sender threads takes packed batches from a bounded queue and waits for
 * each one's Ack, so several batches are in flight while reading goes on. */
#include "replay.h"

#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfdrift/cloudtrail_file.h"
#include "tfdrift/cloudtrail_record.h"
#include "tfdrift/bus.h"
#include "tfdrift/clock.h"
#include "tfdrift/config.h"
#include "tfdrift/id.h"
#include "tfdrift/log.h"

const char replay_usage[] =
    "Commands:\n"
    "  (none)                    run the daemon: take events in and hand them to correlators\n"
    "  replay [--print] PATH...  read CloudTrail log files and hand their events to the\n"
    "                            running ingest (ingest.submit_listen)\n"
    "\n"
    "replay reads .json and .json.gz files holding {\"Records\":[...]} or one record per\n"
    "line (JSON Lines); a directory is walked for *.json and *.json.gz in sorted order.\n"
    "It sends ingest.replay_batch events per message, ingest.replay_in_flight messages at\n"
    "once, and waits up to ingest.replay_timeout (default 60s, 0 = forever) for each\n"
    "message's acknowledgement, which comes only once its alerts are stored.  If no\n"
    "ingest is running it waits that long, then counts the message failed.\n"
    "  --print    print each normalised event as one JSON line on stdout (rejected\n"
    "             records as {\"rejected\":true,...}); sends nothing, needs no service\n"
    "Exit status: 0 all delivered; 1 a record was rejected, a file was not CloudTrail\n"
    "JSON or a delivery failed; 2 usage error or unreadable path.\n";

/* A packed CloudEventBatch waiting for a sender. */
typedef struct job {
	uint8_t *payload;
	size_t len;
	size_t events;
} job;

typedef struct replay {
	td_app *app;
	bool print;
	size_t batch_max;
	int timeout_ms;

	/* main thread only */
	Tfdrift__V1__CloudEvent **batch;
	size_t nbatch;
	size_t files, records, events, rejected, skipped, file_errors;
	bool unreadable;

	/* sender pool */
	td_bus_req *req;
	pthread_t *threads;
	int nthreads;
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	job *queue;
	size_t qcap, qhead, qlen;
	bool done;                /* no more jobs will come */
	size_t delivered, failed; /* under mu */
} replay;

/* ---- senders -------------------------------------------------------------- */

enum {
	RETRY_PAUSE_MS = 1000
};

/* Whether a retry after RETRY_PAUSE_MS still fits in the message's time. */
static bool
time_left(replay *r, int64_t start)
{
	if (td_app_stopping(r->app))
		return false;
	return r->timeout_ms < 0 || td_clock_mono_ms() - start + RETRY_PAUSE_MS < r->timeout_ms;
}

/* Sends one job and waits for its Ack; an Ack RETRY is retried after a pause
 * while the message's time (ingest.replay_timeout) lasts.  True when delivered. */
static bool
send_job(replay *r, const job *j)
{
	int64_t start = td_clock_mono_ms();
	char trace[33];
	bool ok = false;

	td_id_random_hex(trace, 16);
	for (int attempt = 1;; attempt++) {
		td_envelope *reply = NULL;
		Tfdrift__V1__Ack *ack = NULL;
		int left = r->timeout_ms;
		bool retry = false;
		int rv;

		if (r->timeout_ms > 0) {
			int64_t l = r->timeout_ms - (td_clock_mono_ms() - start);
			left = l > 0 ? (int)l : 1;
		}
		rv = td_bus_request(r->req,
		    TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_CLOUD_EVENT_BATCH, j->payload, j->len,
		    trace, left, &reply);
		if (rv == TD_ETIMEDOUT) {
			TD_ERROR(
			    "replay: no acknowledgement from ingest in time (are tfdrift-ingest, a correlator and persistence running?)",
			    TD_KV_STR("trace_id", trace), TD_KV_INT("timeout_ms", r->timeout_ms),
			    TD_KV_UINT("events", j->events));
		} else if (rv != 0 && rv != TD_ECLOSED && time_left(r, start)) {
			/* the connection to ingest broke (it restarted): ask again */
			TD_WARN("replay: request to ingest failed; retrying",
			    TD_KV_STR("trace_id", trace), TD_KV_STR("error", td_strerror(rv)),
			    TD_KV_INT("attempt", attempt));
			retry = true;
		} else if (rv != 0) {
			TD_ERROR("replay: request failed", TD_KV_STR("trace_id", trace),
			    TD_KV_STR("error", td_strerror(rv)), TD_KV_UINT("events", j->events));
		} else if (reply->type != TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ACK ||
		    (ack = tfdrift__v1__ack__unpack(NULL, reply->payload.len,
			 reply->payload.data)) == NULL) {
			TD_ERROR("replay: ingest answered something that is not an Ack",
			    TD_KV_STR("trace_id", trace), TD_KV_INT("type", reply->type));
		} else if (ack->status == TFDRIFT__V1__ACK_STATUS__ACK_STATUS_OK) {
			TD_DEBUG("replay: batch delivered", TD_KV_STR("trace_id", trace),
			    TD_KV_UINT("events", j->events), TD_KV_UINT("alerts", ack->produced));
			ok = true;
		} else if (ack->status == TFDRIFT__V1__ACK_STATUS__ACK_STATUS_RETRY &&
		    time_left(r, start)) {
			TD_WARN("replay: ingest asked to retry", TD_KV_STR("trace_id", trace),
			    TD_KV_STR("error", ack->error), TD_KV_INT("attempt", attempt));
			retry = true;
		} else {
			TD_ERROR("replay: batch refused", TD_KV_STR("trace_id", trace),
			    TD_KV_STR("status",
				ack->status == TFDRIFT__V1__ACK_STATUS__ACK_STATUS_REJECTED
				    ? "rejected"
				    : "retry"),
			    TD_KV_STR("error", ack->error), TD_KV_UINT("events", j->events));
		}
		if (ack != NULL)
			tfdrift__v1__ack__free_unpacked(ack, NULL);
		td_bus_envelope_free(reply);
		if (!retry)
			break;
		td_app_wait(r->app, RETRY_PAUSE_MS);
	}
	return ok;
}

static void *
sender_main(void *arg)
{
	replay *r = arg;

	for (;;) {
		job j;
		bool ok;

		pthread_mutex_lock(&r->mu);
		while (r->qlen == 0 && !r->done)
			pthread_cond_wait(&r->not_empty, &r->mu);
		if (r->qlen == 0) {
			pthread_mutex_unlock(&r->mu);
			break;
		}
		j = r->queue[r->qhead];
		r->qhead = (r->qhead + 1) % r->qcap;
		r->qlen--;
		pthread_cond_signal(&r->not_full);
		pthread_mutex_unlock(&r->mu);

		ok = send_job(r, &j);
		free(j.payload);

		pthread_mutex_lock(&r->mu);
		if (ok)
			r->delivered += j.events;
		else
			r->failed += j.events;
		pthread_mutex_unlock(&r->mu);
	}
	return NULL;
}

/* Takes ownership of j->payload. */
static void
enqueue(replay *r, const job *j)
{
	pthread_mutex_lock(&r->mu);
	while (r->qlen == r->qcap)
		pthread_cond_wait(&r->not_full, &r->mu);
	r->queue[(r->qhead + r->qlen) % r->qcap] = *j;
	r->qlen++;
	pthread_cond_signal(&r->not_empty);
	pthread_mutex_unlock(&r->mu);
}

static int
senders_start(replay *r, const td_config *cfg)
{
	td_error err;
	int rv;

	int n = (int)td_config_int(cfg, "ingest", "replay_in_flight");
	int64_t timeout;

	td_error_clear(&err);
	r->qcap = (size_t)n * 2;
	r->queue = calloc(r->qcap, sizeof(*r->queue));
	r->threads = calloc((size_t)n, sizeof(*r->threads));
	if (r->queue == NULL || r->threads == NULL)
		return TD_ENOMEM;
	/* Ingest answers every request it took (RETRY when it gave up), so a timed
	 * resend would only start a second forward of the same batch: make it no
	 * sooner than the wait itself.  (It must stay finite: with no resend time
	 * NNG fails a request whose ingest went away instead of resending it to
	 * the next one.) */
	timeout = td_config_int(cfg, "ingest", "replay_timeout");
	rv = td_bus_req_open(&r->req, "replay.submit",
	    td_config_str(cfg, "ingest", "submit_listen"), false,
	    (int)(timeout > 0 ? timeout : td_config_int(cfg, "bus", "resend_interval")), &err);
	if (rv != 0) {
		fprintf(stderr, "tfdrift-ingest replay: %s\n", err.msg);
		return rv;
	}
	for (r->nthreads = 0; r->nthreads < n; r->nthreads++) {
		if (pthread_create(&r->threads[r->nthreads], NULL, sender_main, r) != 0)
			return TD_EIO;
	}
	return 0;
}

static void
senders_finish(replay *r)
{
	pthread_mutex_lock(&r->mu);
	r->done = true;
	pthread_cond_broadcast(&r->not_empty);
	pthread_mutex_unlock(&r->mu);
	for (int i = 0; i < r->nthreads; i++)
		pthread_join(r->threads[i], NULL);
	td_bus_req_close(r->req);
	r->req = NULL;
}

/* ---- reading -------------------------------------------------------------- */

static void
free_batch(replay *r)
{
	for (size_t i = 0; i < r->nbatch; i++)
		ct_event_free(r->batch[i]);
	r->nbatch = 0;
}

static int
flush_batch(replay *r)
{
	Tfdrift__V1__CloudEventBatch b = TFDRIFT__V1__CLOUD_EVENT_BATCH__INIT;
	job j = { 0 };

	if (r->nbatch == 0)
		return 0;
	b.events = r->batch;
	b.n_events = r->nbatch;
	j.len = tfdrift__v1__cloud_event_batch__get_packed_size(&b);
	j.payload = malloc(j.len > 0 ? j.len : 1);
	if (j.payload == NULL) {
		free_batch(r);
		return TD_ENOMEM;
	}
	tfdrift__v1__cloud_event_batch__pack(&b, j.payload);
	j.events = r->nbatch;
	free_batch(r);
	enqueue(r, &j);
	return 0;
}

static void
print_rejected(const char *file, const size_t *record, const char *reason)
{
	cJSON *o = cJSON_CreateObject();
	char *line;

	cJSON_AddTrueToObject(o, "rejected");
	cJSON_AddStringToObject(o, "file", file);
	if (record != NULL)
		cJSON_AddNumberToObject(o, "record", (double)*record);
	else
		cJSON_AddNullToObject(o, "record");
	cJSON_AddStringToObject(o, "reason", reason);
	line = cJSON_PrintUnformatted(o);
	if (line != NULL)
		printf("%s\n", line);
	free(line);
	cJSON_Delete(o);
}

static void
reject_record(replay *r, const ct_file_record *rec, const char *reason)
{
	r->rejected++;
	if (r->print)
		print_rejected(rec->path, &rec->index, reason);
	else
		TD_WARN("replay: record rejected", TD_KV_STR("file", rec->path),
		    TD_KV_UINT("record", rec->index), TD_KV_STR("reason", reason));
}

enum {
	STOP_READING = 1
};

static int
on_record(void *arg, const ct_file_record *rec)
{
	replay *r = arg;
	ct_record_ctx ctx = { .path = rec->path, .index = rec->index, .line = rec->line };
	Tfdrift__V1__CloudEvent *ev = NULL;
	const char *skip = NULL;
	td_error err;
	int rv;

	if (td_app_stopping(r->app))
		return STOP_READING;
	r->records++;
	if (rec->json == NULL) {
		reject_record(r, rec, rec->reason);
		return 0;
	}
	td_error_clear(&err);
	rv = ct_record_normalise(rec->json, &ctx, &ev, &skip, &err);
	if (rv == TD_ENOMEM)
		return rv;
	if (rv != 0) {
		reject_record(r, rec, err.msg);
		return 0;
	}
	if (ev == NULL) {
		r->skipped++;
		TD_DEBUG("replay: record skipped", TD_KV_STR("file", rec->path),
		    TD_KV_UINT("record", rec->index), TD_KV_STR("reason", skip));
		return 0;
	}
	r->events++;
	if (r->print) {
		char *line = NULL;
		rv = ct_event_to_json(ev, &line);
		ct_event_free(ev);
		if (rv != 0)
			return rv;
		printf("%s\n", line);
		free(line);
		return 0;
	}
	r->batch[r->nbatch++] = ev;
	return r->nbatch == r->batch_max ? flush_batch(r) : 0;
}

static int
read_file(replay *r, const char *path)
{
	td_error err;
	int rv;

	td_error_clear(&err);
	r->files++;
	rv = ct_file_read(path, 0, on_record, r, &err);
	if (rv == 0 || rv == STOP_READING)
		return rv;
	if (rv == TD_ENOMEM)
		return rv;
	r->file_errors++;
	if (rv == TD_EIO || rv == TD_ENOTFOUND)
		r->unreadable = true;
	if (r->print)
		print_rejected(path, NULL, err.msg);
	fprintf(stderr, "tfdrift-ingest replay: %s\n", err.msg);
	TD_ERROR("replay: file not read", TD_KV_STR("file", path), TD_KV_STR("error", err.msg));
	return 0;
}

/* ---- the command ---------------------------------------------------------- */

static int
usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "tfdrift-ingest replay: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
	fprintf(stderr, "Usage: tfdrift-ingest [OPTIONS] replay [--print] PATH...\n");
	return 2;
}

/* Expands every argument before anything is sent, so a typo fails the run at
 * once (exit 2) rather than after half the events went out. */
static int
list_all(int argc, char **argv, char ***files, size_t *nfiles)
{
	char **all = NULL;
	size_t n = 0;
	int status = 0;

	for (int i = 0; i < argc; i++) {
		char **f = NULL;
		size_t k = 0;
		td_error err;
		char **grown;

		td_error_clear(&err);
		if (ct_file_list(argv[i], &f, &k, &err) != 0) {
			fprintf(stderr, "tfdrift-ingest replay: %s\n", err.msg);
			status = 2;
			continue;
		}
		if (k == 0)
			fprintf(stderr, "tfdrift-ingest replay: %s: no *.json or *.json.gz files\n",
			    argv[i]);
		grown = realloc(all, (n + k + 1) * sizeof(*all));
		if (grown == NULL) {
			ct_file_list_free(f, k);
			status = 1;
			break;
		}
		all = grown;
		memcpy(all + n, f, k * sizeof(*f));
		n += k;
		free(f); /* the strings moved to all */
	}
	*files = all;
	*nfiles = n;
	return status;
}

int
replay_run(td_app *app, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "print", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const td_config *cfg = td_app_config(app);
	replay r = { .app = app };
	char **files = NULL;
	size_t nfiles = 0;
	int c, status = 0, rv = 0;
	int64_t start = td_clock_mono_ms();

	/* stdout carries --print's output; logs go beside the summary on stderr */
	td_log_set_fd(2);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+ph", opts, NULL)) != -1) {
		switch (c) {
		case 'p': r.print = true; break;
		case 'h': fputs(replay_usage, stdout); return 0;
		default: return usage_error("unknown option", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("needs at least one PATH", NULL);
	if ((status = list_all(argc - optind, argv + optind, &files, &nfiles)) != 0)
		goto out;

	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.not_empty, NULL);
	pthread_cond_init(&r.not_full, NULL);
	r.batch_max = (size_t)td_config_int(cfg, "ingest", "replay_batch");
	r.timeout_ms = (int)td_config_int(cfg, "ingest", "replay_timeout");
	if (r.timeout_ms == 0)
		r.timeout_ms = -1;
	r.batch = calloc(r.batch_max, sizeof(*r.batch));
	if (r.batch == NULL) {
		rv = TD_ENOMEM;
	} else if (!r.print && (rv = senders_start(&r, cfg)) != 0) {
		status = 1;
	}
	for (size_t i = 0; rv == 0 && i < nfiles; i++)
		rv = read_file(&r, files[i]);
	if (rv == 0 && !r.print)
		rv = flush_batch(&r);
	free_batch(&r);
	if (!r.print)
		senders_finish(&r);
	fflush(stdout);

	if (rv == TD_ENOMEM)
		fprintf(stderr, "tfdrift-ingest replay: out of memory\n");
	if (r.print) {
		fprintf(stderr,
		    "replay: %zu files, %zu records, %zu events printed, %zu rejected, %zu skipped, %zu file errors\n",
		    r.files, r.records, r.events, r.rejected, r.skipped, r.file_errors);
	} else {
		fprintf(stderr,
		    "replay: %zu files, %zu records, %zu events delivered, %zu failed, %zu rejected, %zu skipped, %zu file errors\n",
		    r.files, r.records, r.delivered, r.failed, r.rejected, r.skipped,
		    r.file_errors);
	}
	TD_INFO("replay finished", TD_KV_UINT("files", r.files), TD_KV_UINT("records", r.records),
	    TD_KV_UINT("events", r.events), TD_KV_UINT("delivered", r.delivered),
	    TD_KV_UINT("failed", r.failed), TD_KV_UINT("rejected", r.rejected),
	    TD_KV_UINT("skipped", r.skipped), TD_KV_UINT("file_errors", r.file_errors),
	    TD_KV_BOOL("interrupted", td_app_stopping(app)),
	    TD_KV_INT("elapsed_ms", td_clock_mono_ms() - start));
	if (status == 0 && r.unreadable)
		status = 2;
	else if (status == 0 &&
	    (rv != 0 || r.failed > 0 || r.rejected > 0 || r.file_errors > 0 ||
		td_app_stopping(app) || (!r.print && r.delivered != r.events)))
		status = 1;
	free(r.batch);
	free(r.queue);
	free(r.threads);
	pthread_cond_destroy(&r.not_full);
	pthread_cond_destroy(&r.not_empty);
	pthread_mutex_destroy(&r.mu);
out:
	ct_file_list_free(files, nfiles);
	return status;
}
