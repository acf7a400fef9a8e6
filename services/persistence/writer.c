/* writer.c — see writer.h. */
#include "writer.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rows.h"
#include "tfdrift/bus.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"
#include "tfdrift/v1/alert.pb-c.h"

/* How long a worker waits for a pooled connection.  The pool has one per
 * worker, so this only matters if the pool was sized smaller. */
#define ACQUIRE_WAIT_MS 5000
/* Connections tried when BEGIN finds them dead. */
#define BEGIN_ATTEMPTS 3

struct ps_writer {
	pgpool *pool;
	td_bus_pub *pub;
	td_bus_rep *rep;

	td_counter *inserted;
	td_counter *duplicates;
	td_counter *rejected;
	td_counter *deferred;
	td_counter *publish_errors;
	td_histogram *batch_seconds;
};

/* One stored row as RETURNING gave it. */
typedef struct stored {
	bool set;
	int64_t id;
	int64_t committed_us;
} stored;

typedef struct key_idx {
	const char *key;
	size_t idx;
} key_idx;

static int
cmp_key(const void *a, const void *b)
{
	const key_idx *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	if (c != 0) {
		return c;
	}
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static double
mono_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Builds an Ack payload into reply (reply->payload owned by the bus after). */
static int
ack(td_bus_reply *reply, const td_envelope *req, int status, uint32_t accepted, uint32_t duplicates,
    uint32_t produced, const char *error)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rv = td_bus_ack_encode(req->message_id, status, accepted, duplicates, produced, error,
	    &buf, &len);
	if (rv != 0) {
		/* Nothing was lost: the sender resends and the upsert dedupes. */
		return TD_EAGAIN;
	}
	reply->type = TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ACK;
	reply->payload = buf;
	reply->len = len;
	return 0;
}

static int
reject(ps_writer *w, td_bus_reply *reply, const td_envelope *req, const char *why)
{
	td_counter_inc(w->rejected);
	TD_WARN("alert batch rejected", TD_KV_STR("message_id", req->message_id),
	    TD_KV_STR("trace_id", req->trace_id), TD_KV_STR("error", why));
	return ack(reply, req, TFDRIFT__V1__ACK_STATUS__ACK_STATUS_REJECTED, 0, 0, 0, why);
}

/* Builds one INSERT per PS_ROWS_MAX alerts.  ins[] released by the caller. */
static int
build_inserts(const Tfdrift__V1__AlertBatch *b, ps_insert *ins, size_t nins, td_error *err)
{
	for (size_t i = 0; i < nins; i++) {
		size_t first = i * PS_ROWS_MAX;
		size_t n = b->n_alerts - first < PS_ROWS_MAX ? b->n_alerts - first : PS_ROWS_MAX;
		int rv = ps_insert_build(&ins[i], b->alerts + first, n, first, err);
		if (rv != 0) {
			return rv;
		}
	}
	return 0;
}

/* Records RETURNING rows into rows[] by alert index.  keys: the batch's keys sorted. */
static void
collect(const PGresult *res, const key_idx *keys, size_t n, stored *rows, uint32_t *inserted)
{
	for (int r = 0; r < PQntuples(res); r++) {
		key_idx probe = { PQgetvalue(res, r, 1), 0 };
		/* Find the first alert with this key (cmp_key's index tie-break
		 * would otherwise make the probe miss). */
		size_t lo = 0, hi = n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (strcmp(keys[mid].key, probe.key) < 0) {
				lo = mid + 1;
			} else {
				hi = mid;
			}
		}
		if (lo == n || strcmp(keys[lo].key, probe.key) != 0) {
			continue; /* cannot happen: RETURNING only names rows we sent */
		}
		stored *s = &rows[keys[lo].idx];
		if (!s->set) {
			s->set = true;
			s->id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
			s->committed_us = strtoll(PQgetvalue(res, r, 2), NULL, 10);
			(*inserted)++;
		}
	}
}

/* Runs the transaction.  0: committed, rows[] filled.  TD_EAGAIN: the database
 * is unavailable (nothing committed, or the commit's fate is unknown: the
 * resend will find the rows and count them as duplicates).  TD_EINVAL: the
 * database refused the data; err says why. */
static int
store(ps_writer *w, const ps_insert *ins, size_t nins, const key_idx *keys, size_t n, stored *rows,
    uint32_t *inserted, td_error *err)
{
	PGconn *c = NULL;
	PGresult *res = NULL;
	/* A pooled connection can turn out dead only when used (the server
	 * restarted while it sat idle); nothing was sent yet, so take another. */
	for (int attempt = 0;; attempt++) {
		if (pgpool_acquire(w->pool, ACQUIRE_WAIT_MS, &c) != 0) {
			return TD_EAGAIN;
		}
		res = PQexec(c, "BEGIN");
		if (PQresultStatus(res) == PGRES_COMMAND_OK) {
			break;
		}
		if (attempt >= BEGIN_ATTEMPTS - 1 || PQstatus(c) == CONNECTION_OK) {
			goto failed;
		}
		PQclear(res);
		res = NULL;
		pgpool_release(w->pool, c, true);
	}
	for (size_t i = 0; i < nins; i++) {
		PQclear(res);
		res = PQexecParams(c, ins[i].sql, ins[i].nparams, NULL, ins[i].values, NULL, NULL,
		    0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			goto failed;
		}
		collect(res, keys, n, rows, inserted);
	}
	PQclear(res);
	res = PQexec(c, "COMMIT");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		goto failed;
	}
	PQclear(res);
	pgpool_release(w->pool, c, false);
	return 0;

failed : {
	bool permanent = pgpool_error_is_permanent(res);
	const char *msg = PQresultErrorMessage(res);
	if (msg == NULL || *msg == '\0') {
		msg = PQerrorMessage(c);
	}
	td_error_set(err, permanent ? TD_EINVAL : TD_EAGAIN, "postgres: %s", msg);
	if (err != NULL) {
		pgpool_one_line(err->msg);
	}
	PQclear(res);
	bool healthy = PQstatus(c) == CONNECTION_OK;
	if (healthy) {
		PQclear(PQexec(c, "ROLLBACK"));
	}
	pgpool_release(w->pool, c, !healthy);
	return permanent ? TD_EINVAL : TD_EAGAIN;
}
}

/* Publishes the newly stored alerts, in request order. */
static void
publish(ps_writer *w, const td_envelope *req, const Tfdrift__V1__AlertBatch *b, const stored *rows,
    uint32_t inserted)
{
	static char status_open[] = "open";
	Tfdrift__V1__DriftAlert *copies = NULL;
	Tfdrift__V1__DriftAlert **ptrs = NULL;
	uint8_t *buf = NULL;
	int rv = TD_ENOMEM;

	if (inserted == 0) {
		return;
	}
	copies = calloc(inserted, sizeof(*copies));
	ptrs = calloc(inserted, sizeof(*ptrs));
	if (copies == NULL || ptrs == NULL) {
		goto out;
	}
	size_t k = 0;
	for (size_t i = 0; i < b->n_alerts && k < inserted; i++) {
		if (!rows[i].set) {
			continue;
		}
		/* Shallow copies: packing only reads, and the strings stay owned by
		 * the decoded request. */
		copies[k] = *b->alerts[i];
		copies[k].id = rows[i].id;
		copies[k].committed_at_ns = rows[i].committed_us * 1000;
		copies[k].status = status_open;
		ptrs[k] = &copies[k];
		k++;
	}
	Tfdrift__V1__AlertBatch out = TFDRIFT__V1__ALERT_BATCH__INIT;
	out.n_alerts = k;
	out.alerts = ptrs;
	out.events = 0;
	size_t len = tfdrift__v1__alert_batch__get_packed_size(&out);
	if ((buf = malloc(len ? len : 1)) == NULL) {
		goto out;
	}
	tfdrift__v1__alert_batch__pack(&out, buf);
	rv = td_bus_publish(w->pub, TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ALERT_COMMITTED, buf,
	    len, req->trace_id);

out:
	if (rv != 0) {
		/* Subscribers re-read PostgreSQL; the alert is stored either way. */
		td_counter_inc(w->publish_errors);
		TD_WARN("committed alerts not published", TD_KV_STR("trace_id", req->trace_id),
		    TD_KV_UINT("alerts", inserted), TD_KV_STR("error", td_strerror(rv)));
	}
	free(buf);
	free(ptrs);
	free(copies);
}

/* The REP handler; runs on a bus worker thread. */
static int
handle(void *arg, const td_envelope *req, td_bus_reply *reply)
{
	ps_writer *w = arg;
	double t0 = mono_seconds();
	Tfdrift__V1__AlertBatch *b = NULL;
	ps_insert *ins = NULL;
	key_idx *keys = NULL;
	stored *rows = NULL;
	size_t nins = 0;
	uint32_t inserted = 0;
	td_error err = { 0 };
	char why[600];
	int rv;

	if (req->type != TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ALERT_BATCH) {
		snprintf(why, sizeof(why), "message type %d is not ALERT_BATCH", (int)req->type);
		rv = reject(w, reply, req, why);
		goto out;
	}
	b = tfdrift__v1__alert_batch__unpack(NULL, req->payload.len, req->payload.data);
	if (b == NULL) {
		rv = reject(w, reply, req, "payload is not a tfdrift.v1.AlertBatch");
		goto out;
	}
	size_t n = b->n_alerts;
	if (n == 0) {
		rv = ack(reply, req, TFDRIFT__V1__ACK_STATUS__ACK_STATUS_OK, 0, 0, 0, NULL);
		goto out;
	}

	nins = (n + PS_ROWS_MAX - 1) / PS_ROWS_MAX;
	ins = calloc(nins, sizeof(*ins));
	keys = calloc(n, sizeof(*keys));
	rows = calloc(n, sizeof(*rows));
	if (ins == NULL || keys == NULL || rows == NULL) {
		rv = TD_EAGAIN;
		goto out;
	}
	if ((rv = build_inserts(b, ins, nins, &err)) != 0) {
		rv = rv == TD_EINVAL ? reject(w, reply, req, err.msg) : TD_EAGAIN;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		keys[i].key = b->alerts[i]->alert_key;
		keys[i].idx = i;
	}
	qsort(keys, n, sizeof(*keys), cmp_key);

	rv = store(w, ins, nins, keys, n, rows, &inserted, &err);
	if (rv == TD_EINVAL) {
		rv = reject(w, reply, req, err.msg);
		goto out;
	}
	if (rv != 0) {
		/* Seam for the on-disk spool (a later issue): it would take the batch
		 * here and answer OK.  Until then the request goes back to the sender,
		 * which resends it after bus.resend_interval. */
		td_counter_inc(w->deferred);
		TD_WARN("alert batch handed back unanswered: not stored",
		    TD_KV_STR("message_id", req->message_id), TD_KV_UINT("alerts", n),
		    TD_KV_STR("error", err.code != 0 ? err.msg : "no connection"));
		rv = TD_EAGAIN;
		goto out;
	}

	td_counter_add(w->inserted, inserted);
	td_counter_add(w->duplicates, n - inserted);
	publish(w, req, b, rows, inserted);
	TD_DEBUG("alert batch stored", TD_KV_STR("message_id", req->message_id),
	    TD_KV_UINT("alerts", n), TD_KV_UINT("inserted", inserted),
	    TD_KV_UINT("duplicates", n - inserted));
	rv = ack(reply, req, TFDRIFT__V1__ACK_STATUS__ACK_STATUS_OK, (uint32_t)n,
	    (uint32_t)(n - inserted), inserted, NULL);

out:
	td_histogram_observe(w->batch_seconds, mono_seconds() - t0);
	for (size_t i = 0; ins != NULL && i < nins; i++) {
		ps_insert_free(&ins[i]);
	}
	free(ins);
	free(keys);
	free(rows);
	tfdrift__v1__alert_batch__free_unpacked(b, NULL);
	return rv;
}

/* *out owned by caller. */
int
ps_writer_start(ps_writer **out, const ps_writer_opts *o, td_error *err)
{
	int rv;
	*out = NULL;
	ps_writer *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	w->pool = o->pool;
	w->inserted = td_counter_get("tfdrift_persistence_alerts_inserted_total",
	    "Alerts written to PostgreSQL for the first time.", NULL);
	w->duplicates = td_counter_get("tfdrift_persistence_alerts_duplicate_total",
	    "Alerts received again (same alert_key) and not stored twice.", NULL);
	w->rejected = td_counter_get("tfdrift_persistence_batches_rejected_total",
	    "Alert batches answered REJECTED (malformed, or refused by PostgreSQL as data).", NULL);
	w->deferred = td_counter_get("tfdrift_persistence_batches_deferred_total",
	    "Alert batches handed back unanswered because PostgreSQL was unavailable.", NULL);
	w->publish_errors = td_counter_get("tfdrift_persistence_publish_errors_total",
	    "Committed alert batches that could not be published.", NULL);
	w->batch_seconds = td_histogram_get("tfdrift_persistence_batch_seconds",
	    "Time to handle one alert batch, decode to reply.", NULL);

	if ((rv = td_bus_pub_open(&w->pub, "persistence.alerts", o->pub_url, err)) != 0) {
		goto fail;
	}
	td_bus_rep_opts ro = {
		.name = "persistence.work",
		.url = o->work_url,
		.listen = true,
		.workers = o->workers,
		.handler = handle,
		.arg = w,
	};
	if ((rv = td_bus_rep_start(&w->rep, &ro, err)) != 0) {
		goto fail;
	}
	*out = w;
	return 0;

fail:
	td_bus_pub_close(w->pub);
	free(w);
	return rv;
}

void
ps_writer_stop(ps_writer *w)
{
	if (w == NULL) {
		return;
	}
	/* REP first: in-flight batches still publish before the PUB closes. */
	td_bus_rep_stop(w->rep);
	td_bus_pub_close(w->pub);
	free(w);
}
