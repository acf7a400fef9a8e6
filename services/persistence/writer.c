/* writer.c — see writer.h. */
#include "writer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "rows.h"
#include "writer_impl.h"
#include "tfdrift/bus.h"
#include "tfdrift/clock.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"
#include "tfdrift/v1/alert.pb-c.h"

/* How long a batch thread waits for a pooled connection. */
#define ACQUIRE_WAIT_MS 5000
/* Connections tried when BEGIN finds them dead. */
#define BEGIN_ATTEMPTS 3
/* While PostgreSQL refuses writes for a reason that is not one row's (no
 * privilege, table missing, read-only, disk full, ...), batches go straight
 * to the spool and the database is tried again after this backoff (doubling
 * from MIN to MAX), by whichever of the drain and the live path comes first. */
#define REFUSED_BACKOFF_MIN_MS 200
#define REFUSED_BACKOFF_MAX_MS 5000

static double
mono_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- jobs ----------------------------------------------------------------------- */

/* Converts every alert of j->b; an invalid one is marked bad (dead letter).
 * TD_ENOMEM only. */
int
wr_job_prepare(job *j, Tfdrift__V1__AlertBatch *b, const td_envelope *env)
{
	memset(j, 0, sizeof(*j));
	j->env = env;
	j->b = b;
	j->n = b->n_alerts;
	j->rows = calloc(j->n, sizeof(*j->rows));
	j->bad = calloc(j->n, sizeof(*j->bad));
	j->st = calloc(j->n, sizeof(*j->st));
	if (j->rows == NULL || j->bad == NULL || j->st == NULL) {
		return TD_ENOMEM;
	}
	for (size_t i = 0; i < j->n; i++) {
		td_error err = { 0 };
		int rv = ps_row_build(&j->rows[i], b->alerts[i], i, &err);
		if (rv == TD_EINVAL) {
			if ((j->bad[i] = strdup(err.msg)) == NULL) {
				return TD_ENOMEM;
			}
		} else if (rv != 0) {
			return TD_ENOMEM;
		}
	}
	return 0;
}

/* Frees what job_prepare allocated (not env, not b). */
void
wr_job_release(job *j)
{
	for (size_t i = 0; j->rows != NULL && i < j->n; i++) {
		ps_row_free(&j->rows[i]);
	}
	for (size_t i = 0; j->bad != NULL && i < j->n; i++) {
		free(j->bad[i]);
	}
	free(j->rows);
	free(j->bad);
	free(j->st);
	j->rows = NULL;
	j->bad = NULL;
	j->st = NULL;
}

/* Forgets what an attempt recorded, before the next attempt at the same jobs. */
static void
job_reset(job *j)
{
	memset(j->st, 0, j->n * sizeof(*j->st));
	j->inserted = 0;
	j->dead = 0;
	j->first_dead[0] = '\0';
}

/* ---- the database ------------------------------------------------------------- */

typedef struct key_ref {
	const char *key;
	int seq;
	job *j;
	size_t idx;
} key_ref;

static int
cmp_ref(const void *a, const void *b)
{
	const key_ref *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	if (c != 0) {
		return c;
	}
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Records RETURNING rows: each key goes to its first occurrence in seq order
 * (the one the INSERT stored; later ones conflicted). */
static void
collect(const PGresult *res, const key_ref *refs, size_t n)
{
	for (int r = 0; r < PQntuples(res); r++) {
		const char *key = PQgetvalue(res, r, 1);
		size_t lo = 0, hi = n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (strcmp(refs[mid].key, key) < 0) {
				lo = mid + 1;
			} else {
				hi = mid;
			}
		}
		if (lo == n || strcmp(refs[lo].key, key) != 0) {
			continue; /* cannot happen: RETURNING only names rows we sent */
		}
		job *j = refs[lo].j;
		stored *s = &j->st[refs[lo].idx];
		if (!s->set) {
			s->set = true;
			s->id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
			s->committed_us = strtoll(PQgetvalue(res, r, 2), NULL, 10);
			j->inserted++;
		}
	}
}

/* ---- writes refused ------------------------------------------------------------ */

/* True while PostgreSQL refused the last write and its backoff has not
 * passed: do not try, spool. */
bool
wr_refused_backing_off(ps_writer *w)
{
	pthread_mutex_lock(&w->fault_mu);
	bool wait = w->fault_state[0] != '\0' && td_clock_mono_ms() < w->retry_at_ms;
	pthread_mutex_unlock(&w->fault_mu);
	return wait;
}

/* SQLSTATEs are five characters of [0-9A-Z]; anything else is not used as a
 * label. */
static const char *
label_state(const char *state)
{
	for (size_t i = 0; i < 5; i++) {
		char ch = state[i];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z'))) {
			return "other";
		}
	}
	return state[5] == '\0' ? state : "other";
}

/* PostgreSQL refused a write with res, for a reason that is not one row's:
 * record it (gauges, readiness, one log line per new SQLSTATE) and back off. */
static void
note_refused(ps_writer *w, const PGresult *res, const char *msg)
{
	char state[6];
	td_pgpool_sqlstate(res, state);
	if (state[0] == '\0') {
		return; /* no answer from the server: the pool's state says it */
	}
	char labels[32];
	snprintf(labels, sizeof(labels), "sqlstate=\"%s\"", label_state(state));
	td_gauge *series = td_gauge_get("tfdrift_persistence_db_write_error",
	    "1 while PostgreSQL refuses writes with this SQLSTATE for a reason that is not one "
	    "row's (alerts are spooled meanwhile).",
	    labels);
	pthread_mutex_lock(&w->fault_mu);
	bool changed = strcmp(w->fault_state, state) != 0;
	if (w->fault_state[0] == '\0') {
		w->fault_since_ms = td_clock_mono_ms();
		w->backoff_ms = REFUSED_BACKOFF_MIN_MS;
	} else {
		w->backoff_ms = w->backoff_ms * 2 > REFUSED_BACKOFF_MAX_MS ? REFUSED_BACKOFF_MAX_MS
									   : w->backoff_ms * 2;
	}
	w->retry_at_ms = td_clock_mono_ms() + w->backoff_ms;
	if (changed) {
		if (w->write_error != NULL) {
			td_gauge_set(w->write_error, 0);
		}
		w->write_error = series;
		td_gauge_set(series, 1);
		memcpy(w->fault_state, state, sizeof(state));
	}
	td_gauge_set(w->writable, 0);
	pthread_mutex_unlock(&w->fault_mu);
	if (changed) {
		TD_ERROR("PostgreSQL refuses writes; alerts go to the spool until it takes them "
			 "again",
		    TD_KV_STR("sqlstate", state),
		    TD_KV_STR("kind",
			td_pgpool_fault(res) == TD_PG_FAULT_SETUP ? "setup" : "transient"),
		    TD_KV_STR("error", msg));
		if (w->on_write_state != NULL) {
			w->on_write_state(w->state_arg, state, msg);
		}
	}
}

/* A transaction committed: writes work (again). */
static void
note_writable(ps_writer *w)
{
	pthread_mutex_lock(&w->fault_mu);
	bool was = w->fault_state[0] != '\0';
	int64_t since = w->fault_since_ms;
	char state[6];
	memcpy(state, w->fault_state, sizeof(state));
	if (was) {
		w->fault_state[0] = '\0';
		w->backoff_ms = 0;
		w->retry_at_ms = 0;
		td_gauge_set(w->write_error, 0);
		w->write_error = NULL;
		td_gauge_set(w->writable, 1);
	}
	pthread_mutex_unlock(&w->fault_mu);
	if (was) {
		TD_INFO("PostgreSQL takes writes again", TD_KV_STR("was_sqlstate", state),
		    TD_KV_INT("refused_ms", td_clock_mono_ms() - since));
		if (w->on_write_state != NULL) {
			w->on_write_state(w->state_arg, NULL, NULL);
		}
	}
}

/* Takes a connection and opens a transaction.  TD_EAGAIN when none works. */
static int
begin(ps_writer *w, PGconn **out)
{
	PGconn *c = NULL;
	for (int attempt = 0;; attempt++) {
		if (td_pgpool_acquire(w->pool, ACQUIRE_WAIT_MS, &c) != 0) {
			return TD_EAGAIN;
		}
		/* The Ack promises the alert survives a server crash: the commit
		 * waits for its WAL flush whatever the server's (or the role's)
		 * synchronous_commit says. */
		PGresult *res = PQexec(c, "BEGIN; SET LOCAL synchronous_commit = on");
		bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		PQclear(res);
		if (ok) {
			*out = c;
			return 0;
		}
		/* A pooled connection can turn out dead only when used (the server
		 * restarted while it sat idle); nothing was sent yet. */
		td_pgpool_release(w->pool, c, true);
		if (attempt >= BEGIN_ATTEMPTS - 1) {
			return TD_EAGAIN;
		}
	}
}

/* Ends a failed transaction: classifies res (may be NULL), rolls back,
 * releases c.  Returns TD_EINVAL (a row's data is at fault: the caller
 * splits the batch to find it) or TD_EAGAIN (the database: every row would
 * fail alike, so the batch is spooled and retried later). */
static int
fail_tx(ps_writer *w, PGconn *c, PGresult *res, td_error *err)
{
	bool permanent = td_pgpool_fault(res) == TD_PG_FAULT_ROW;
	const char *msg = res != NULL ? PQresultErrorMessage(res) : "";
	if (msg == NULL || *msg == '\0') {
		msg = PQerrorMessage(c);
	}
	td_error_set(err, permanent ? TD_EINVAL : TD_EAGAIN, "postgres: %s", msg);
	if (err != NULL) {
		td_pgpool_one_line(err->msg);
	}
	if (!permanent && res != NULL) {
		char line[256];
		snprintf(line, sizeof(line), "%s", msg);
		td_pgpool_one_line(line);
		note_refused(w, res, line);
	}
	PQclear(res);
	bool healthy = PQstatus(c) == CONNECTION_OK;
	if (healthy) {
		PQclear(PQexec(c, "ROLLBACK"));
	}
	td_pgpool_release(w->pool, c, !healthy);
	return permanent ? TD_EINVAL : TD_EAGAIN;
}

static int
commit(ps_writer *w, PGconn *c, td_error *err)
{
	PGresult *res = PQexec(c, "COMMIT");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		/* Fate unknown if the connection broke: a resend or the spool
		 * stores it again, as duplicates if it did commit. */
		return fail_tx(w, c, res, err);
	}
	PQclear(res);
	td_pgpool_release(w->pool, c, false);
	note_writable(w);
	return 0;
}

/* Streams buf[0..len) into COPY; the COPY's result through *res. */
static int
copy_in(PGconn *c, const char *buf, size_t len, PGresult **res)
{
	*res = PQexec(c, ps_copy_from_sql());
	if (PQresultStatus(*res) != PGRES_COPY_IN) {
		return TD_EIO;
	}
	PQclear(*res);
	*res = NULL;
	/* In slices: PQputCopyData takes an int length. */
	const size_t slice = 1u << 20;
	for (size_t off = 0; off < len; off += slice) {
		size_t k = len - off < slice ? len - off : slice;
		if (PQputCopyData(c, buf + off, (int)k) != 1) {
			break;
		}
	}
	PQputCopyEnd(c, NULL);
	*res = PQgetResult(c);
	/* Drain anything else so the connection is ready for the next command. */
	PGresult *extra;
	while ((extra = PQgetResult(c)) != NULL) {
		PQclear(extra);
	}
	return PQresultStatus(*res) == PGRES_COMMAND_OK ? 0 : TD_EIO;
}

/* One transaction for every alert of jobs[0..n): COPY, INSERT ... SELECT,
 * dead letters for invalid alerts, COMMIT.  0, TD_EINVAL (refused data),
 * TD_EAGAIN (database unavailable), TD_ENOMEM. */
static int
store_batch(ps_writer *w, job **jobs, size_t n, td_error *err)
{
	PGconn *c = NULL;
	PGresult *res = NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0, nrefs = 0;
	key_ref *refs = NULL;
	int rv;

	size_t total = 0;
	for (size_t k = 0; k < n; k++) {
		job_reset(jobs[k]);
		total += jobs[k]->n;
	}
	if ((refs = calloc(total ? total : 1, sizeof(*refs))) == NULL) {
		return TD_ENOMEM;
	}
	int seq = 0;
	for (size_t k = 0; k < n; k++) {
		for (size_t i = 0; i < jobs[k]->n; i++) {
			if (jobs[k]->bad[i] != NULL) {
				continue;
			}
			if (ps_row_copy_line(&jobs[k]->rows[i], seq, &buf, &len, &cap) != 0) {
				rv = TD_ENOMEM;
				goto out;
			}
			refs[nrefs++] = (key_ref){ jobs[k]->b->alerts[i]->alert_key, seq, jobs[k],
				i };
			seq++;
		}
	}
	qsort(refs, nrefs, sizeof(*refs), cmp_ref);

	if ((rv = begin(w, &c)) != 0) {
		goto out;
	}
	res = PQexec(c, ps_copy_table_sql());
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		rv = fail_tx(w, c, res, err);
		goto out;
	}
	PQclear(res);
	res = NULL;
	if (nrefs > 0) {
		if (copy_in(c, buf, len, &res) != 0) {
			rv = fail_tx(w, c, res, err);
			goto out;
		}
		PQclear(res);
		res = PQexec(c, ps_copy_insert_sql());
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			rv = fail_tx(w, c, res, err);
			goto out;
		}
		collect(res, refs, nrefs);
		PQclear(res);
		res = NULL;
	}
	if (wr_dead_letter_invalid(w, c, jobs, n, &res) != 0) {
		rv = fail_tx(w, c, res, err);
		goto out;
	}
	rv = commit(w, c, err);

out:
	free(refs);
	free(buf);
	return rv;
}

/* One request, alert by alert under savepoints: what PostgreSQL refuses goes
 * to the dead letter with its reason, the rest is stored.  0 or TD_EAGAIN. */
static int
store_isolated(ps_writer *w, job *j, td_error *err)
{
	PGconn *c = NULL;
	PGresult *res = NULL;
	int rv;

	job_reset(j);
	if ((rv = begin(w, &c)) != 0) {
		return rv;
	}
	for (size_t i = 0; i < j->n; i++) {
		if (j->bad[i] != NULL) {
			continue;
		}
		ps_insert ins;
		td_error berr = { 0 };
		if (ps_insert_build(&ins, &j->b->alerts[i], 1, i, &berr) != 0) {
			ps_insert_free(&ins);
			/* validated already: only memory can fail here */
			fail_tx(w, c, NULL, err);
			return TD_EAGAIN;
		}
		PQclear(PQexec(c, "SAVEPOINT one"));
		res = PQexecParams(c, ins.sql, ins.nparams, NULL, ins.values, NULL, NULL, 0);
		ps_insert_free(&ins);
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			if (PQntuples(res) == 1) {
				j->st[i].set = true;
				j->st[i].id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
				j->st[i].committed_us = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
				j->inserted++;
			}
			PQclear(res);
			res = NULL;
			PQclear(PQexec(c, "RELEASE SAVEPOINT one"));
			continue;
		}
		if (td_pgpool_fault(res) != TD_PG_FAULT_ROW || PQstatus(c) != CONNECTION_OK) {
			/* not this row's fault: the whole request waits in the spool */
			fail_tx(w, c, res, err);
			return TD_EAGAIN;
		}
		char why[600];
		snprintf(why, sizeof(why), "alerts[%zu]: postgres: %s", i,
		    PQresultErrorMessage(res));
		td_pgpool_one_line(why);
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		char sqlstate[8];
		snprintf(sqlstate, sizeof(sqlstate), "%s", state != NULL ? state : "");
		PQclear(res);
		res = NULL;
		PQclear(PQexec(c, "ROLLBACK TO SAVEPOINT one"));
		if (wr_dead_letter(w, c, j, i, why, sqlstate, &res) != 0) {
			/* The dead letter itself refused: nothing sensible is left;
			 * keep the request (spool / resend) rather than lose it. */
			fail_tx(w, c, res, err);
			return TD_EAGAIN;
		}
	}
	if (wr_dead_letter_invalid(w, c, &j, 1, &res) != 0) {
		fail_tx(w, c, res, err);
		return TD_EAGAIN;
	}
	return commit(w, c, err);
}

/* Stores jobs[0..n), splitting around refused data.  Sets each job's outcome
 * to STORED, or leaves it PENDING (database unavailable). */
void
wr_store(ps_writer *w, job **jobs, size_t n)
{
	td_error err = { 0 };
	double t0 = mono_seconds();
	size_t alerts = 0;
	if (n == 0) {
		return;
	}
	if (wr_refused_backing_off(w)) {
		return; /* pending: spooled */
	}
	for (size_t k = 0; k < n; k++) {
		alerts += jobs[k]->n;
	}
	int rv = store_batch(w, jobs, n, &err);
	if (rv == TD_EINVAL) {
		TD_WARN("a batch was refused; storing its requests one by one",
		    TD_KV_UINT("requests", n), TD_KV_STR("error", err.msg));
		if (n > 1) {
			for (size_t k = 0; k < n; k++) {
				wr_store(w, &jobs[k], 1);
			}
			return;
		}
		rv = store_isolated(w, jobs[0], &err);
	}
	if (rv == 0) {
		for (size_t k = 0; k < n; k++) {
			jobs[k]->outcome = STORED;
		}
		td_histogram_observe(w->batch_seconds, mono_seconds() - t0);
		td_histogram_observe(w->batch_alerts, (double)alerts);
		return;
	}
	TD_DEBUG("batch not stored", TD_KV_UINT("requests", n),
	    TD_KV_STR("error", err.code != 0 ? err.msg : td_strerror(rv)));
}

/* ---- the spool ------------------------------------------------------------------ */

void
ps_writer_spool_gauges(ps_writer *w)
{
	ps_spool_stats st;
	ps_spool_get_stats(w->spool, &st);
	td_gauge_set(w->spool_alerts, (double)st.alerts);
	td_gauge_set(w->spool_segments, (double)st.segments);
	td_gauge_set(w->spool_bytes, (double)st.bytes);
	td_gauge_set(w->spool_max, (double)st.max_bytes);
	td_gauge_set(w->spool_full, st.full ? 1.0 : 0.0);
	double age = 0;
	if (st.oldest_ms != 0) {
		int64_t now_ms = td_clock_now_ns() / 1000000;
		age = (double)(now_ms - st.oldest_ms) / 1000.0;
	}
	td_gauge_set(w->spool_age, age < 0 ? 0 : age);
}

/* Writes the still-pending jobs[] to the spool as one segment; they become
 * SPOOLED, FULL when the spool has no room, or HANDBACK if the disk failed. */
static void
spool_jobs(ps_writer *w, job **jobs, size_t n)
{
	ps_spool_rec *recs = calloc(n, sizeof(*recs));
	uint8_t **bufs = calloc(n, sizeof(*bufs));
	size_t k = 0;
	uint64_t alerts = 0;
	td_error err = { 0 };
	int rv = TD_ENOMEM;

	if (recs == NULL || bufs == NULL) {
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (jobs[i]->outcome != PENDING) {
			continue;
		}
		size_t len = tfdrift__v1__envelope__get_packed_size(jobs[i]->env);
		if ((bufs[k] = malloc(len ? len : 1)) == NULL) {
			goto out;
		}
		tfdrift__v1__envelope__pack(jobs[i]->env, bufs[k]);
		recs[k].data = bufs[k];
		recs[k].len = len;
		alerts += jobs[i]->n;
		k++;
	}
	rv = k > 0 ? ps_spool_append(w->spool, recs, k, alerts, &err) : 0;

out:
	for (size_t i = 0; i < n; i++) {
		if (jobs[i]->outcome == PENDING) {
			jobs[i]->outcome = rv == 0 ? SPOOLED : rv == TD_EBUSY ? FULL : HANDBACK;
		}
	}
	if (rv == 0 && k > 0) {
		td_counter_add(w->spooled, alerts);
		TD_DEBUG("alerts spooled", TD_KV_UINT("requests", k), TD_KV_UINT("alerts", alerts));
		if (atomic_exchange(&w->full_logged, false)) {
			TD_INFO("spool has room again; spooling alerts instead of answering RETRY");
		}
		ps_writer_spool_gauges(w);
	} else if (rv == TD_EBUSY) {
		td_counter_add(w->refused_full, alerts);
		if (!atomic_exchange(&w->full_logged, true)) {
			TD_ERROR(
			    "spool full; answering alert requests RETRY (senders keep them) until "
			    "PostgreSQL takes the spooled alerts",
			    TD_KV_STR("error", err.msg));
		}
		ps_writer_spool_gauges(w);
	} else if (rv != 0) {
		TD_ERROR("cannot spool alerts; handing them back to their senders",
		    TD_KV_STR("error", err.code != 0 ? err.msg : td_strerror(rv)));
	}
	for (size_t i = 0; bufs != NULL && i < k; i++) {
		free(bufs[i]);
	}
	free(bufs);
	free(recs);
}

/* ---- batch threads ---------------------------------------------------------------- */

static void finish(ps_writer *w, job *j);

static void *
batch_main(void *arg)
{
	ps_writer *w = arg;
	job **batch = NULL;
	size_t cap = 0;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stopping && (w->head == NULL || w->collecting)) {
			pthread_cond_wait(&w->work, &w->mu);
		}
		if (w->head == NULL) {
			break; /* stopping and nothing left */
		}
		w->collecting = true;
		size_t n = 0, alerts = 0;
		int64_t deadline = w->head->enq_ms + w->batch_wait_ms;
		for (;;) {
			while (w->head != NULL &&
			    (n == 0 || alerts + w->head->n <= (size_t)w->batch_max)) {
				if (n == cap) {
					size_t nc = cap ? cap * 2 : 64;
					job **nb = realloc(batch, nc * sizeof(*nb));
					if (nb == NULL) {
						break;
					}
					batch = nb;
					cap = nc;
				}
				job *j = w->head;
				w->head = j->next;
				if (w->head == NULL) {
					w->tail = NULL;
				}
				batch[n++] = j;
				alerts += j->n;
			}
			if (n == 0 || w->stopping || alerts >= (size_t)w->batch_max ||
			    w->head != NULL || td_clock_mono_ms() >= deadline) {
				break;
			}
			struct timespec ts;
			td_clock_mono_timespec(deadline, &ts);
			pthread_cond_timedwait(&w->work, &w->mu, &ts);
		}
		w->collecting = false;
		pthread_cond_signal(&w->work); /* the next collector may start */
		pthread_mutex_unlock(&w->mu);

		if (n > 0) {
			wr_store(w, batch, n);
			spool_jobs(w, batch, n); /* those still pending */
		}

		for (size_t k = 0; k < n; k++) {
			finish(w, batch[k]); /* replies; frees the job */
		}
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	free(batch);
	return NULL;
}

/* ---- the REP handler -------------------------------------------------------------- */

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

/* Answers a job's request by its outcome, then frees the job (a batch
 * thread, after the batch is stored or spooled). */
static void
finish(ps_writer *w, job *j)
{
	const td_envelope *req = j->env;
	td_bus_reply reply = { 0 };
	char why[800];
	size_t n = j->n;
	int rv;

	switch (j->outcome) {
	case STORED:
		wr_account(w, j);
		wr_publish(w, j);
		TD_DEBUG("alert batch stored", TD_KV_STR("message_id", req->message_id),
		    TD_KV_UINT("alerts", n), TD_KV_UINT("inserted", j->inserted),
		    TD_KV_UINT("dead_letter", j->dead));
		if (j->dead > 0) {
			snprintf(why, sizeof(why),
			    "%u alert(s) quarantined in alerts_dead_letter: %s", j->dead,
			    j->first_dead);
		}
		rv = ack(&reply, req, TFDRIFT__V1__ACK_STATUS__ACK_STATUS_OK, (uint32_t)n,
		    (uint32_t)(n - j->inserted - j->dead), j->inserted, j->dead > 0 ? why : NULL);
		break;
	case SPOOLED:
		rv = ack(&reply, req, TFDRIFT__V1__ACK_STATUS__ACK_STATUS_OK, (uint32_t)n, 0, 0,
		    NULL);
		break;
	case FULL: {
		/* Not stored anywhere: RETRY tells the sender to keep the alerts
		 * (the correlator hands its batch back, so ingest keeps the events
		 * in its journal) and send them again later. */
		ps_spool_stats st;
		ps_spool_get_stats(w->spool, &st);
		snprintf(why, sizeof(why),
		    "persistence cannot store alerts now: PostgreSQL does not take them and the "
		    "spool is full (%llu of %llu bytes); retry later",
		    (unsigned long long)st.bytes, (unsigned long long)st.max_bytes);
		rv = ack(&reply, req, TFDRIFT__V1__ACK_STATUS__ACK_STATUS_RETRY, 0, 0, 0, why);
		break;
	}
	default:
		td_counter_inc(w->deferred);
		TD_WARN("alert batch handed back unanswered: neither stored nor spooled",
		    TD_KV_STR("message_id", req->message_id), TD_KV_UINT("alerts", n));
		rv = TD_EAGAIN;
		break;
	}
	td_histogram_observe(w->request_seconds, mono_seconds() - j->t0);
	wr_job_release(j);
	tfdrift__v1__alert_batch__free_unpacked(j->b, NULL);
	td_bus_call_done(j->call, rv, &reply); /* ends req */
	free(j);
}

/* Runs on one of NNG's threads, so it only converts and queues: a batch
 * thread answers (finish) once the batch is stored or spooled. */
static void
handle(void *arg, td_bus_call *call)
{
	ps_writer *w = arg;
	const td_envelope *req = td_bus_call_request(call);
	double t0 = mono_seconds();
	Tfdrift__V1__AlertBatch *b = NULL;
	td_bus_reply reply = { 0 };
	job *j = NULL;
	char why[800];
	int rv;

	if (req->type != TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ALERT_BATCH) {
		snprintf(why, sizeof(why), "message type %d is not ALERT_BATCH", (int)req->type);
		rv = reject(w, &reply, req, why);
		goto out;
	}
	b = tfdrift__v1__alert_batch__unpack(NULL, req->payload.len, req->payload.data);
	if (b == NULL) {
		rv = reject(w, &reply, req, "payload is not a tfdrift.v1.AlertBatch");
		goto out;
	}
	if (b->n_alerts == 0) {
		rv = ack(&reply, req, TFDRIFT__V1__ACK_STATUS__ACK_STATUS_OK, 0, 0, 0, NULL);
		goto out;
	}
	if ((j = malloc(sizeof(*j))) == NULL || wr_job_prepare(j, b, req) != 0) {
		rv = TD_EAGAIN;
		goto out;
	}
	j->call = call;
	j->t0 = t0;

	pthread_mutex_lock(&w->mu);
	if (w->stopping) {
		pthread_mutex_unlock(&w->mu);
		rv = TD_ECLOSED;
		goto out;
	}
	j->enq_ms = td_clock_mono_ms();
	if (w->tail != NULL) {
		w->tail->next = j;
	} else {
		w->head = j;
	}
	w->tail = j;
	pthread_cond_broadcast(&w->work);
	pthread_mutex_unlock(&w->mu);
	return; /* finish answers; j and b are the job's */

out:
	td_histogram_observe(w->request_seconds, mono_seconds() - t0);
	if (j != NULL) {
		wr_job_release(j);
		free(j);
	}
	tfdrift__v1__alert_batch__free_unpacked(b, NULL);
	td_bus_call_done(call, rv, &reply);
}

/* ---- start / stop ---------------------------------------------------------------- */

static void
stop_threads(ps_writer *w)
{
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_broadcast(&w->work);
	pthread_cond_broadcast(&w->drain_wake);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->nthreads; i++) {
		pthread_join(w->threads[i], NULL);
	}
	w->nthreads = 0;
	if (w->have_drain) {
		pthread_join(w->drain, NULL);
		w->have_drain = false;
	}
}

static void
writer_free(ps_writer *w)
{
	td_bus_pub_close(w->pub);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->drain_wake);
	pthread_mutex_destroy(&w->mu);
	pthread_mutex_destroy(&w->dl_mu);
	pthread_mutex_destroy(&w->fault_mu);
	free(w->dl_path);
	free(w->threads);
	free(w);
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
	w->spool = o->spool;
	w->batch_max = o->batch_max > 0 ? o->batch_max : 1;
	w->batch_wait_ms = o->batch_wait_ms >= 0 ? o->batch_wait_ms : 0;
	w->on_write_state = o->on_write_state;
	w->state_arg = o->state_arg;
	atomic_init(&w->schema_ready, false);
	pthread_mutex_init(&w->dl_mu, NULL);
	pthread_mutex_init(&w->fault_mu, NULL);
	if ((w->dl_path = strdup(o->dead_letter_file != NULL ? o->dead_letter_file
							     : "dead-letter.jsonl")) == NULL) {
		pthread_mutex_destroy(&w->dl_mu);
		pthread_mutex_destroy(&w->fault_mu);
		free(w);
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&w->mu, NULL);
	td_clock_cond_init(&w->work);
	td_clock_cond_init(&w->drain_wake);
	w->inserted = td_counter_get("tfdrift_persistence_alerts_inserted_total",
	    "Alerts written to PostgreSQL for the first time.", NULL);
	w->duplicates = td_counter_get("tfdrift_persistence_alerts_duplicate_total",
	    "Alerts received again (same alert_key) and not stored twice.", NULL);
	w->dead_letters = td_counter_get("tfdrift_persistence_alerts_dead_letter_total",
	    "Alerts quarantined in alerts_dead_letter (invalid, or refused by PostgreSQL).", NULL);
	w->spooled = td_counter_get("tfdrift_persistence_alerts_spooled_total",
	    "Alerts written to the on-disk spool because PostgreSQL could not take them.", NULL);
	w->rejected = td_counter_get("tfdrift_persistence_batches_rejected_total",
	    "Requests answered REJECTED (not an AlertBatch).", NULL);
	w->deferred = td_counter_get("tfdrift_persistence_batches_deferred_total",
	    "Requests handed back unanswered: neither PostgreSQL nor the spool took them.", NULL);
	w->publish_errors = td_counter_get("tfdrift_persistence_publish_errors_total",
	    "Committed alert batches that could not be published.", NULL);
	w->spool_corrupt = td_counter_get("tfdrift_persistence_spool_corrupt_total",
	    "Spool segments or records found damaged on disk.", NULL);
	w->batch_seconds = td_histogram_get("tfdrift_persistence_batch_seconds",
	    "Time to store one database batch (all its requests), COPY to COMMIT.", NULL);
	w->batch_alerts = td_histogram_get("tfdrift_persistence_batch_alerts",
	    "Alerts in one database batch.", NULL);
	w->request_seconds = td_histogram_get("tfdrift_persistence_request_seconds",
	    "Time from receiving a request to its reply.", NULL);
	w->spool_alerts = td_gauge_get("tfdrift_persistence_spool_alerts",
	    "Alerts in the on-disk spool, waiting for PostgreSQL.", NULL);
	w->spool_segments = td_gauge_get("tfdrift_persistence_spool_segments",
	    "Segment files in the on-disk spool.", NULL);
	w->spool_age = td_gauge_get("tfdrift_persistence_spool_oldest_age_seconds",
	    "Age of the oldest spooled alert; 0 when the spool is empty.", NULL);
	w->spool_bytes = td_gauge_get("tfdrift_persistence_spool_bytes",
	    "Bytes in the on-disk spool.", NULL);
	w->spool_max = td_gauge_get("tfdrift_persistence_spool_max_bytes",
	    "persistence.spool_max_bytes: the most the spool may hold.", NULL);
	w->spool_full = td_gauge_get("tfdrift_persistence_spool_full",
	    "1 while the spool has no room: requests PostgreSQL cannot take are answered RETRY.",
	    NULL);
	w->refused_full = td_counter_get("tfdrift_persistence_alerts_refused_spool_full_total",
	    "Alerts answered RETRY (not stored, kept by the sender) because PostgreSQL could not "
	    "take them and the spool was full.",
	    NULL);
	atomic_init(&w->full_logged, false);
	w->writable = td_gauge_get("tfdrift_persistence_db_writable",
	    "0 while PostgreSQL refuses writes for a reason that is not one row's (see "
	    "tfdrift_persistence_db_write_error), else 1.",
	    NULL);
	td_gauge_set(w->writable, 1);
	ps_writer_spool_gauges(w);

	if ((rv = td_bus_pub_open(&w->pub, "persistence.alerts", o->pub_url, err)) != 0) {
		goto fail;
	}
	int nthreads = o->workers > 0 ? o->workers : 1;
	if ((w->threads = calloc((size_t)nthreads, sizeof(*w->threads))) == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto fail;
	}
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&w->threads[i], NULL, batch_main, w) != 0) {
			rv = td_error_set(err, TD_EIO, "cannot start a batch thread");
			goto fail;
		}
		w->nthreads++;
	}
	if (pthread_create(&w->drain, NULL, wr_drain_main, w) != 0) {
		rv = td_error_set(err, TD_EIO, "cannot start the spool drain thread");
		goto fail;
	}
	w->have_drain = true;
	td_bus_rep_opts ro = {
		.name = "persistence.work",
		.url = o->work_url,
		.listen = true,
		.workers = o->in_flight > 0 ? o->in_flight : 1,
		.async_handler = handle,
		.arg = w,
	};
	if ((rv = td_bus_rep_start(&w->rep, &ro, err)) != 0) {
		goto fail;
	}
	*out = w;
	return 0;

fail:
	stop_threads(w);
	writer_free(w);
	return rv;
}

void
ps_writer_schema_ready(ps_writer *w)
{
	atomic_store(&w->schema_ready, true);
}

void
ps_writer_stop(ps_writer *w)
{
	if (w == NULL) {
		return;
	}
	/* REP first: requests in progress still commit or spool, publish and
	 * reply (the batch threads run until the queue is empty). */
	td_bus_rep_stop(w->rep);
	stop_threads(w);
	ps_writer_spool_gauges(w);
	writer_free(w);
}
