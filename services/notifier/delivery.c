/* delivery.c — see delivery.h. */
#include "delivery.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "http.h"
#include "msg.h"
#include "recv.h"
#include "tfdrift/clock.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

#define GAUGE_EVERY_MS 2000
#define THREAD_WAIT_MS 250
#define STATUS_WAIT_MS 1000
#define FINISH_TRIES 20

/* Per receiver: rate limit, failures, metrics. */
typedef struct rstate {
	const rt_receiver *r;
	const recv_ops *ops;
	pthread_mutex_t mu;
	double tokens;
	int64_t refill_ms;
	int64_t blocked_until_ms; /* after a 429 */
	atomic_int failures;      /* in a row */
	td_counter *sent, *failed, *retried, *skipped;
	td_histogram *send_s, *delivered_s;
	td_gauge *depth, *oldest;
} rstate;

typedef struct row {
	int64_t id, alert_id, status_event_id;
	int attempts;
	bool is_status;
	bool is_repeat;
} row;

typedef struct job {
	size_t rcv;
	char *group_key;
	row *rows;
	nt_alert *alerts; /* alerts[i] is rows[i]'s alert, read with the claim */
	size_t n;
	struct job *next;
} job;

struct delivery {
	delivery_opts o;
	char *ui_url, *instance;
	char *names; /* array literal of the receivers configured here */
	rstate *rs;
	size_t nrs;
	pthread_mutex_t mu;
	pthread_cond_t cv;      /* dispatcher: woken, or a worker finished */
	pthread_cond_t work_cv; /* workers: a job was queued */
	job *head, *tail;
	int queued, busy;
	bool woken, stopping;
	atomic_bool abort; /* sends still running when the stop's grace ends */
	pthread_t dispatcher;
	bool dispatching;
	pthread_t *workers;
	int nworkers;
	td_counter *claim_errors;
	int64_t last_log_ms;
};

static double
wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
job_free(job *j)
{
	if (j != NULL) {
		for (size_t i = 0; j->alerts != NULL && i < j->n; i++) {
			msg_alert_clear(&j->alerts[i]);
		}
		free(j->alerts);
		free(j->group_key);
		free(j->rows);
		free(j);
	}
}

static rstate *
rstate_by_name(delivery *d, const char *name)
{
	for (size_t i = 0; i < d->nrs; i++) {
		if (strcmp(d->rs[i].r->name, name) == 0) {
			return &d->rs[i];
		}
	}
	return NULL;
}

/* ---- recording outcomes -------------------------------------------------- */

static void
ids_of(const job *j, db_arr *a)
{
	for (size_t i = 0; i < j->n; i++) {
		db_arr_int(a, j->rows[i].id);
	}
}

/* Runs an UPDATE of the job's rows, retrying while PostgreSQL is away (a row
 * left "sending" would be sent again when its lease ends). */
static void
record(delivery *d, const job *j, const char *sql, int n, const char **params)
{
	char why[512];
	db_arr ids = { 0 };

	ids_of(j, &ids);
	params[0] = db_arr_str(&ids);
	for (int t = 0; params[0] != NULL && t < FINISH_TRIES; t++) {
		PGconn *c = NULL;
		int rv = td_pgpool_acquire(d->o.pool, 2000, &c);
		if (rv == 0) {
			rv = db_exec(c, sql, n, params, PGRES_COMMAND_OK, NULL, why, sizeof(why));
			td_pgpool_release(d->o.pool, c, rv != 0);
			if (rv == 0) {
				break;
			}
		} else {
			snprintf(why, sizeof(why), "%s", td_strerror(rv));
		}
		if (t == 0 || t == FINISH_TRIES - 1) {
			TD_WARN("cannot record a delivery's outcome; trying again",
			    TD_KV_STR("receiver", d->rs[j->rcv].r->name), TD_KV_STR("error", why));
		}
		usleep(250000);
	}
	db_arr_free(&ids);
}

static void
record_sent(delivery *d, const job *j, const char *message_id)
{
	const char *p[] = { NULL, message_id };

	record(d, j,
	    "UPDATE notifications SET state = 'sent', sent_at = now(), message_id = $2, "
	    "last_error = '', lease_until = NULL WHERE id = ANY($1::bigint[])",
	    2, p);
}

static void
record_final(delivery *d, const job *j, const char *state, const char *error)
{
	const char *p[] = { NULL, state, error };

	record(d, j,
	    "UPDATE notifications SET state = $2, last_error = $3, lease_until = NULL "
	    "WHERE id = ANY($1::bigint[])",
	    3, p);
}

/* Back to pending in delay_ms; uncount: the attempt did not happen (a rate
 * limit, a thread being started). */
static void
record_later(delivery *d, const job *j, int64_t delay_ms, const char *error, bool uncount)
{
	char ms[32];
	const char *p[] = { NULL, ms, error, uncount ? "1" : "0" };

	snprintf(ms, sizeof(ms), "%lld", (long long)delay_ms);
	record(d, j,
	    "UPDATE notifications SET state = 'pending', next_attempt_at = now() + "
	    "$2::bigint * interval '1 millisecond', last_error = $3, lease_until = NULL, "
	    "attempts = greatest(attempts - $4::integer, 0) WHERE id = ANY($1::bigint[])",
	    4, p);
}

static int64_t
backoff_ms(const delivery *d, int attempts)
{
	double ms = (double)d->o.retry_initial_ms;

	for (int i = 1; i < attempts && ms < (double)d->o.retry_max_ms; i++) {
		ms *= 2;
	}
	if (ms > (double)d->o.retry_max_ms) {
		ms = (double)d->o.retry_max_ms;
	}
	/* "equal jitter": half fixed, half random, so replicas and receivers
	 * that failed together do not retry together */
	return (int64_t)(ms / 2 + ms / 2 * ((double)random() / (double)RAND_MAX));
}

/* ---- rate limits ---------------------------------------------------------- */

/* 0 when the receiver may send now (a token is taken), else ms to wait. */
static int64_t
rate_take(rstate *rs)
{
	int64_t now = td_clock_mono_ms(), wait = 0;

	pthread_mutex_lock(&rs->mu);
	if (rs->blocked_until_ms > now) {
		wait = rs->blocked_until_ms - now;
	} else if (rs->r->rate > 0) {
		double burst = rs->r->rate < 1 ? 1 : rs->r->rate;
		rs->tokens += (double)(now - rs->refill_ms) / 1000.0 * rs->r->rate;
		if (rs->tokens > burst) {
			rs->tokens = burst;
		}
		rs->refill_ms = now;
		if (rs->tokens >= 1) {
			rs->tokens -= 1;
		} else {
			wait = (int64_t)((1 - rs->tokens) / rs->r->rate * 1000) + 1;
		}
	}
	pthread_mutex_unlock(&rs->mu);
	return wait;
}

static void
rate_block(rstate *rs, int64_t ms)
{
	pthread_mutex_lock(&rs->mu);
	if (td_clock_mono_ms() + ms > rs->blocked_until_ms) {
		rs->blocked_until_ms = td_clock_mono_ms() + ms;
	}
	pthread_mutex_unlock(&rs->mu);
}

/* ---- one job -------------------------------------------------------------- */

typedef struct ctx {
	delivery *d;
	nt_http *http;
	PGconn *c;
} ctx;

/* Status change rows: what changed, and the alert's own delivery.  0 and
 * *state = the alert row's state ("" when there is none). */
static int
load_status(ctx *x, const job *j, PGresult **out, char *why, size_t wl)
{
	char hid[32];
	const char *params[] = { hid, x->d->rs[j->rcv].r->name };

	snprintf(hid, sizeof(hid), "%lld", (long long)j->rows[0].status_event_id);
	return db_exec(x->c,
	    "SELECT coalesce(h.from_status, ''), h.to_status, h.actor, h.note, "
	    "to_char(h.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	    "coalesce(o.state, ''), coalesce(o.message_id, '') "
	    "FROM alert_status_history h LEFT JOIN notifications o ON o.alert_id = h.alert_id "
	    "AND o.receiver = $2 AND o.event = 'alert' WHERE h.id = $1::bigint",
	    2, params, PGRES_TUPLES_OK, out, why, wl);
}

typedef enum {
	TH_NONE,
	TH_START,
	TH_REPLY,
	TH_WAIT
} th_role;

/* Slack threads: whether this job starts the resource's thread, replies in
 * it (*thread set, owned by the caller) or must wait for its first message. */
static th_role
thread_role(ctx *x, const job *j, const nt_alert *a, char **thread, char *why, size_t wl)
{
	const rt_receiver *r = x->d->rs[j->rcv].r;
	char key[600], win[32], lease[32];
	const char *params[] = { r->name, key, win, lease };
	PGresult *res = NULL;
	th_role role = TH_NONE;

	*thread = NULL;
	snprintf(key, sizeof(key), "%s\x1f%s", a->workspace, a->address);
	snprintf(win, sizeof(win), "%lld", (long long)r->thread_window_ms);
	snprintf(lease, sizeof(lease), "%lld", (long long)x->d->o.lease_ms);
	if (db_exec(x->c,
		"INSERT INTO notifier_threads AS t (receiver, thread_key) VALUES ($1, $2) "
		"ON CONFLICT (receiver, thread_key) DO UPDATE SET message_id = NULL, "
		"started_at = now(), updated_at = now() "
		"WHERE t.started_at < now() - $3::bigint * interval '1 millisecond' "
		"OR (t.message_id IS NULL AND t.updated_at < now() - $4::bigint * interval '1 "
		"millisecond') RETURNING 1",
		4, params, PGRES_TUPLES_OK, &res, why, wl) != 0) {
		return TH_NONE;
	}
	if (PQntuples(res) == 1) {
		role = TH_START;
	}
	PQclear(res);
	if (role == TH_START) {
		return role;
	}
	if (db_exec(x->c,
		"SELECT message_id FROM notifier_threads WHERE receiver = $1 AND thread_key = $2",
		2, params, PGRES_TUPLES_OK, &res, why, wl) != 0) {
		return TH_NONE;
	}
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		*thread = strdup(PQgetvalue(res, 0, 0));
		role = *thread != NULL ? TH_REPLY : TH_WAIT;
	} else {
		role = TH_WAIT;
	}
	PQclear(res);
	return role;
}

static void
thread_done(ctx *x, const job *j, const nt_alert *a, const nt_result *res)
{
	const rt_receiver *r = x->d->rs[j->rcv].r;
	char key[600], why[256];
	const char *params[] = { r->name, key, res->message_id };

	snprintf(key, sizeof(key), "%s\x1f%s", a->workspace, a->address);
	if (res->outcome == NT_SENT) {
		db_exec(x->c,
		    "UPDATE notifier_threads SET message_id = $3, updated_at = now() "
		    "WHERE receiver = $1 AND thread_key = $2",
		    3, params, PGRES_COMMAND_OK, NULL, why, sizeof(why));
	} else {
		db_exec(x->c,
		    "DELETE FROM notifier_threads WHERE receiver = $1 AND thread_key = $2 "
		    "AND message_id IS NULL",
		    2, params, PGRES_COMMAND_OK, NULL, why, sizeof(why));
	}
}

static void
dedup_key(const rt_receiver *r, const nt_alert *a, char *buf, size_t len)
{
	if (r->dedup_per_alert) {
		snprintf(buf, len, "tfdrift/alert/%lld", (long long)a->id);
	} else {
		snprintf(buf, len, "tfdrift/%.100s/%.130s", a->workspace, a->address);
	}
}

static void
count_outcome(rstate *rs, const nt_result *res, bool final_failure)
{
	switch (res->outcome) {
	case NT_SENT:
		td_counter_inc(rs->sent);
		atomic_store(&rs->failures, 0);
		break;
	case NT_SKIP: td_counter_inc(rs->skipped); break;
	default:
		td_counter_inc(final_failure ? rs->failed : rs->retried);
		atomic_fetch_add(&rs->failures, 1);
		break;
	}
}

static void
process(ctx *x, job *j)
{
	delivery *d = x->d;
	rstate *rs = &d->rs[j->rcv];
	const nt_alert *alerts = j->alerts;
	size_t nalerts = j->n;
	PGresult *st = NULL;
	char why[512] = "", idem[32], dkey[256], *thread = NULL;
	nt_msg m = { 0 };
	nt_result res = { 0 };
	th_role role = TH_NONE;
	int64_t wait, t0;
	int attempts = 0;
	bool have_conn = false;

	if (j->n == 0) {
		return;
	}
	for (size_t i = 0; i < j->n; i++) {
		attempts = j->rows[i].attempts > attempts ? j->rows[i].attempts : attempts;
	}
	if ((wait = rate_take(rs)) > 0) {
		record_later(d, j, wait, "waiting for the receiver's rate limit", true);
		goto out;
	}
	if ((j->rows[0].is_status || rs->ops->threads) &&
	    td_pgpool_acquire(d->o.pool, 5000, &x->c) != 0) {
		record_later(d, j, 1000, "PostgreSQL unavailable", true);
		goto out;
	}
	have_conn = j->rows[0].is_status || rs->ops->threads;
	snprintf(idem, sizeof(idem), "n%lld", (long long)j->rows[0].id);
	dedup_key(rs->r, &alerts[0], dkey, sizeof(dkey));
	m = (nt_msg){ .is_repeat = j->rows[0].is_repeat,
		.rcv = rs->r,
		.alerts = alerts,
		.n = nalerts,
		.idem = idem,
		.ui_url = d->ui_url,
		.dedup_key = dkey };
	if (j->rows[0].is_status) {
		if (load_status(x, j, &st, why, sizeof(why)) != 0) {
			record_later(d, j, 1000, why, true);
			goto out;
		}
		const char *ostate = PQntuples(st) == 1 ? PQgetvalue(st, 0, 5) : "";
		if (strcmp(ostate, "pending") == 0 || strcmp(ostate, "sending") == 0) {
			record_later(d, j, STATUS_WAIT_MS, "waiting for the alert's own message",
			    true);
			goto out;
		}
		if (strcmp(ostate, "sent") != 0) {
			record_final(d, j, "skipped", "the alert's own message was not sent");
			td_counter_inc(rs->skipped);
			goto out;
		}
		m.is_status = true;
		m.st = (nt_status){ .from = PQgetvalue(st, 0, 0),
			.to = PQgetvalue(st, 0, 1),
			.by = PQgetvalue(st, 0, 2),
			.note = PQgetvalue(st, 0, 3),
			.at = PQgetvalue(st, 0, 4) };
		m.prev_message_id = PQgetvalue(st, 0, 6);
	} else if (rs->ops->threads) {
		role = thread_role(x, j, &alerts[0], &thread, why, sizeof(why));
		if (role == TH_WAIT) {
			record_later(d, j, THREAD_WAIT_MS, "waiting for the thread's first message",
			    true);
			goto out;
		}
		m.thread_id = thread;
	}
	/* no database connection is held while the receiver answers */
	if (have_conn) {
		td_pgpool_release(d->o.pool, x->c, false);
		have_conn = false;
	}
	t0 = td_clock_mono_ms();
	rs->ops->send(&m, x->http, &res);
	td_histogram_observe(rs->send_s, (double)(td_clock_mono_ms() - t0) / 1000.0);
	if (role == TH_START && td_pgpool_acquire(d->o.pool, 5000, &x->c) == 0) {
		thread_done(x, j, &alerts[0], &res);
		td_pgpool_release(d->o.pool, x->c, false);
	}
	bool final_failure = res.outcome == NT_PERMANENT ||
	    (res.outcome == NT_RETRY && attempts >= d->o.max_attempts);
	count_outcome(rs, &res, final_failure);
	switch (res.outcome) {
	case NT_SENT:
		record_sent(d, j, res.message_id);
		if (!m.is_status) {
			double now = wall_s();
			for (size_t i = 0; i < nalerts; i++) {
				td_histogram_observe(rs->delivered_s, now - alerts[i].committed_s);
			}
		}
		break;
	case NT_SKIP: record_final(d, j, "skipped", ""); break;
	case NT_PERMANENT:
	case NT_RETRY:
		if (res.http_status == 429 && res.retry_after_ms > 0) {
			rate_block(rs, res.retry_after_ms);
		}
		if (final_failure) {
			TD_WARN("delivery failed for good", TD_KV_STR("receiver", rs->r->name),
			    TD_KV_INT("notification", j->rows[0].id),
			    TD_KV_INT("attempts", attempts), TD_KV_STR("error", res.error));
			record_final(d, j, "failed", res.error);
		} else {
			int64_t b = backoff_ms(d, attempts);
			if (res.retry_after_ms > b) {
				b = res.retry_after_ms;
			}
			TD_DEBUG("delivery will be retried", TD_KV_STR("receiver", rs->r->name),
			    TD_KV_INT("notification", j->rows[0].id), TD_KV_INT("in_ms", b),
			    TD_KV_STR("error", res.error));
			record_later(d, j, b, res.error, false);
		}
		break;
	}
out:
	if (have_conn) {
		td_pgpool_release(d->o.pool, x->c, false);
	}
	PQclear(st);
	free(thread);
}

/* ---- threads --------------------------------------------------------------- */

static void *
worker(void *arg)
{
	delivery *d = arg;
	ctx x = { .d = d };

	if (http_new(&x.http, d->o.http_timeout_ms, &d->abort) != 0) {
		TD_ERROR("delivery thread has no HTTP handle");
		return NULL;
	}
	pthread_mutex_lock(&d->mu);
	for (;;) {
		while (d->head == NULL && !d->stopping) {
			pthread_cond_wait(&d->work_cv, &d->mu);
		}
		if (d->head == NULL) {
			break;
		}
		job *j = d->head;
		d->head = j->next;
		if (d->head == NULL) {
			d->tail = NULL;
		}
		d->queued--;
		d->busy++;
		pthread_mutex_unlock(&d->mu);
		process(&x, j);
		job_free(j);
		pthread_mutex_lock(&d->mu);
		d->busy--;
		pthread_cond_broadcast(&d->cv); /* the dispatcher, or a stop waiting */
	}
	pthread_mutex_unlock(&d->mu);
	http_free(x.http);
	return NULL;
}

/* Due rows, and every other due row of their groups (a group is sent as
 * one message, so a claim must not cut it); with each row its alert. */
static const char claim_sql_fmt[] =
    "WITH picked AS (SELECT id, receiver, group_key, event FROM notifications "
    " WHERE ((state = 'pending' AND next_attempt_at <= now()) "
    " OR (state = 'sending' AND lease_until < now())) AND receiver = ANY($4::text[]) "
    " ORDER BY next_attempt_at, id LIMIT $1::integer FOR UPDATE SKIP LOCKED), "
    "grp AS (SELECT n.id FROM notifications n "
    " JOIN (SELECT DISTINCT receiver, group_key, event FROM picked "
    "  WHERE group_key <> '' AND event <> 'status') g "
    " ON n.receiver = g.receiver AND n.group_key = g.group_key AND n.event = g.event "
    " WHERE n.state = 'pending' AND n.next_attempt_at <= now() "
    " FOR UPDATE OF n SKIP LOCKED), "
    "ids AS (SELECT id FROM picked UNION SELECT id FROM grp) "
    "UPDATE notifications n SET state = 'sending', attempts = n.attempts + 1, "
    "lease_until = now() + $2::bigint * interval '1 millisecond', claimed_by = $3 "
    "FROM ids, alerts a WHERE n.id = ids.id AND a.id = n.alert_id "
    "RETURNING n.id, n.alert_id, n.receiver, n.event, n.status_event_id, n.group_key, "
    "n.attempts, %s";

#define CLAIM_NCOLS 7

/* Turns claimed rows into jobs, grouping rows of one (receiver, group_key). */
static int
make_jobs(delivery *d, PGresult *res, job **out)
{
	job *list = NULL, **tail = &list;
	int n = 0;

	*out = NULL;
	for (int i = 0; i < PQntuples(res); i++) {
		rstate *rs = rstate_by_name(d, PQgetvalue(res, i, 2));
		const char *gk = PQgetvalue(res, i, 5);
		bool is_status = strcmp(PQgetvalue(res, i, 3), "status") == 0;
		bool is_repeat = strcmp(PQgetvalue(res, i, 3), "repeat") == 0;
		job *j = NULL;
		if (rs == NULL) {
			continue; /* not claimed: the claim names our receivers */
		}
		if (!is_status && gk[0] != '\0') {
			for (job *k = list; k != NULL; k = k->next) {
				if (k->rcv == (size_t)(rs - d->rs) && k->group_key != NULL &&
				    !k->rows[0].is_status && k->rows[0].is_repeat == is_repeat &&
				    strcmp(k->group_key, gk) == 0) {
					j = k;
					break;
				}
			}
		}
		if (j == NULL) {
			if ((j = calloc(1, sizeof(*j))) == NULL ||
			    (j->rows = calloc((size_t)PQntuples(res), sizeof(*j->rows))) == NULL ||
			    (j->alerts = calloc((size_t)PQntuples(res), sizeof(*j->alerts))) ==
				NULL ||
			    (j->group_key = strdup(gk)) == NULL) {
				job_free(j);
				continue;
			}
			j->rcv = (size_t)(rs - d->rs);
			*tail = j;
			tail = &j->next;
			n++;
		}
		j->rows[j->n++] = (row){
			.id = strtoll(PQgetvalue(res, i, 0), NULL, 10),
			.alert_id = strtoll(PQgetvalue(res, i, 1), NULL, 10),
			.status_event_id = strtoll(PQgetvalue(res, i, 4), NULL, 10),
			.attempts = (int)strtol(PQgetvalue(res, i, 6), NULL, 10),
			.is_status = is_status,
			.is_repeat = is_repeat,
		};
		if (msg_alert_from_row(&j->alerts[j->n - 1], res, i, CLAIM_NCOLS) != 0) {
			j->n--; /* out of memory: the row is claimed again after its lease */
		}
	}
	*out = list;
	return n;
}

/* Claims up to limit rows; returns how many rows were claimed (<0 error). */
static int
claim(delivery *d, int limit)
{
	char lim[16], lease[32], why[512], sql[2600];
	const char *params[] = { lim, lease, d->instance, d->names };
	PGconn *c = NULL;
	PGresult *res = NULL;
	job *jobs = NULL;
	int rv, nrows, njobs;

	snprintf(lim, sizeof(lim), "%d", limit);
	snprintf(lease, sizeof(lease), "%lld", (long long)d->o.lease_ms);
	if ((rv = td_pgpool_acquire(d->o.pool, 1000, &c)) != 0) {
		snprintf(why, sizeof(why), "%s", td_strerror(rv));
		goto fail;
	}
	snprintf(sql, sizeof(sql), claim_sql_fmt, msg_alert_columns);
	rv = db_exec(c, sql, 4, params, PGRES_TUPLES_OK, &res, why, sizeof(why));
	td_pgpool_release(d->o.pool, c, rv != 0);
	if (rv != 0) {
		goto fail;
	}
	nrows = PQntuples(res);
	njobs = make_jobs(d, res, &jobs);
	PQclear(res);
	if (njobs > 0) {
		pthread_mutex_lock(&d->mu);
		for (job *j = jobs; j != NULL; j = j->next) {
			d->queued++;
			if (j->next == NULL) {
				if (d->tail != NULL) {
					d->tail->next = jobs;
				} else {
					d->head = jobs;
				}
				d->tail = j;
			}
		}
		pthread_cond_broadcast(&d->work_cv);
		pthread_mutex_unlock(&d->mu);
	}
	return nrows;
fail:
	td_counter_inc(d->claim_errors);
	if (td_clock_mono_ms() - d->last_log_ms > 10000) {
		d->last_log_ms = td_clock_mono_ms();
		TD_WARN("cannot claim deliveries; will try again", TD_KV_STR("error", why));
	}
	return -1;
}

static void
refresh_gauges(delivery *d)
{
	PGconn *c = NULL;
	PGresult *res = NULL;
	char why[256];

	if (td_pgpool_acquire(d->o.pool, 500, &c) != 0) {
		return;
	}
	int rv = db_exec(c,
	    "SELECT receiver, count(*), coalesce(extract(epoch from now() - min(created_at)), 0) "
	    "FROM notifications WHERE state IN ('pending', 'sending') GROUP BY receiver",
	    0, NULL, PGRES_TUPLES_OK, &res, why, sizeof(why));
	td_pgpool_release(d->o.pool, c, rv != 0);
	if (rv != 0) {
		return;
	}
	for (size_t i = 0; i < d->nrs; i++) {
		double depth = 0, oldest = 0;
		for (int k = 0; k < PQntuples(res); k++) {
			if (strcmp(PQgetvalue(res, k, 0), d->rs[i].r->name) == 0) {
				depth = strtod(PQgetvalue(res, k, 1), NULL);
				oldest = strtod(PQgetvalue(res, k, 2), NULL);
			}
		}
		td_gauge_set(d->rs[i].depth, depth);
		td_gauge_set(d->rs[i].oldest, oldest);
	}
	PQclear(res);
}

static void *
dispatcher(void *arg)
{
	delivery *d = arg;
	int64_t gauges_at = 0;

	for (;;) {
		pthread_mutex_lock(&d->mu);
		bool stop = d->stopping;
		int free_slots = d->nworkers - d->busy - d->queued;
		d->woken = false;
		pthread_mutex_unlock(&d->mu);
		if (stop) {
			break;
		}
		int got = 0, limit = free_slots * 2 + 16;
		if (free_slots > 0) {
			got = claim(d, limit);
		}
		if (td_clock_mono_ms() - gauges_at >= GAUGE_EVERY_MS) {
			refresh_gauges(d);
			gauges_at = td_clock_mono_ms();
		}
		pthread_mutex_lock(&d->mu);
		if (!d->woken && !d->stopping &&
		    !(got == limit && d->busy + d->queued < d->nworkers)) {
			struct timespec dl;
			int64_t ms = got < 0 ? 1000 : d->o.poll_ms;
			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_sec += ms / 1000;
			dl.tv_nsec += (ms % 1000) * 1000000;
			if (dl.tv_nsec >= 1000000000) {
				dl.tv_sec++;
				dl.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&d->cv, &d->mu, &dl);
		}
		pthread_mutex_unlock(&d->mu);
	}
	return NULL;
}

void
delivery_wake(delivery *d)
{
	pthread_mutex_lock(&d->mu);
	d->woken = true;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

int
delivery_failing(delivery *d, char *buf, size_t len)
{
	size_t off = 0;
	int n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < d->nrs; i++) {
		if (atomic_load(&d->rs[i].failures) >= d->o.failing_after && off < len) {
			int w = snprintf(buf + off, len - off, "%s%s", n > 0 ? ", " : "",
			    d->rs[i].r->name);
			off += w > 0 ? (size_t)w : 0;
			n++;
		}
	}
	return n;
}

static td_counter *
outcome_counter(const rstate *rs, const char *outcome)
{
	char l[200];

	snprintf(l, sizeof(l), "receiver=\"%s\",outcome=\"%s\"", rs->r->name, outcome);
	return td_counter_get("tfdrift_notifier_deliveries_total",
	    "Delivery attempts by receiver and outcome (sent, retried, failed, skipped).", l);
}

static void
metrics_for(rstate *rs)
{
	char l[200];

	rs->sent = outcome_counter(rs, "sent");
	rs->retried = outcome_counter(rs, "retried");
	rs->failed = outcome_counter(rs, "failed");
	rs->skipped = outcome_counter(rs, "skipped");
	snprintf(l, sizeof(l), "receiver=\"%s\"", rs->r->name);
	rs->send_s = td_histogram_get("tfdrift_notifier_send_seconds",
	    "How long a receiver took to answer one message.", l);
	rs->delivered_s = td_histogram_get("tfdrift_notifier_delivered_seconds",
	    "From an alert's commit in PostgreSQL to its delivery.", l);
	rs->depth = td_gauge_get("tfdrift_notifier_queue_depth",
	    "Deliveries pending or being sent, all replicas.", l);
	rs->oldest = td_gauge_get("tfdrift_notifier_oldest_pending_seconds",
	    "Age of the oldest delivery pending or being sent.", l);
}

int
delivery_start(delivery **out, const delivery_opts *o, td_error *err)
{
	delivery *d = calloc(1, sizeof(*d));
	int rv = 0;

	*out = NULL;
	if (d == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	d->o = *o;
	d->nrs = rt_receiver_count(o->rt);
	if ((d->ui_url = strdup(o->ui_url)) == NULL ||
	    (d->instance = strdup(o->instance)) == NULL ||
	    (d->rs = calloc(d->nrs + 1, sizeof(*d->rs))) == NULL ||
	    (d->workers = calloc((size_t)o->workers, sizeof(*d->workers))) == NULL) {
		d->nrs = 0; /* no mutex initialised yet */
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < d->nrs; i++) {
		rstate *rs = &d->rs[i];
		rs->r = rt_receiver_at(o->rt, i);
		rs->ops = recv_for(rs->r->type);
		rs->tokens = rs->r->rate >= 1 ? rs->r->rate : 1;
		rs->refill_ms = td_clock_mono_ms();
		atomic_init(&rs->failures, 0);
		pthread_mutex_init(&rs->mu, NULL);
		metrics_for(rs);
	}
	db_arr names = { 0 };
	for (size_t i = 0; i < d->nrs; i++) {
		db_arr_text(&names, d->rs[i].r->name);
	}
	d->names = db_arr_str(&names) != NULL ? strdup(db_arr_str(&names)) : NULL;
	db_arr_free(&names);
	if (d->names == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto fail;
	}
	d->claim_errors = td_counter_get("tfdrift_notifier_claim_errors_total",
	    "Claims of due deliveries that failed (PostgreSQL unavailable).", NULL);
	atomic_init(&d->abort, false);
	srandom((unsigned)(td_clock_mono_ms() ^ getpid()));
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	pthread_cond_init(&d->work_cv, NULL);
	for (int i = 0; i < o->workers; i++) {
		if (pthread_create(&d->workers[i], NULL, worker, d) != 0) {
			break;
		}
		d->nworkers++;
	}
	if (d->nworkers > 0 && pthread_create(&d->dispatcher, NULL, dispatcher, d) == 0) {
		d->dispatching = true;
	}
	if (!d->dispatching) {
		delivery_stop(d, 0);
		return td_error_set(err, TD_EIO, "cannot start delivery threads");
	}
	*out = d;
	return 0;
fail:
	for (size_t i = 0; d->rs != NULL && i < d->nrs; i++) {
		pthread_mutex_destroy(&d->rs[i].mu);
	}
	free(d->ui_url);
	free(d->instance);
	free(d->rs);
	free(d->workers);
	free(d);
	return rv;
}

void
delivery_stop(delivery *d, int64_t grace_ms)
{
	job *left;
	struct timespec dl;

	if (d == NULL) {
		return;
	}
	pthread_mutex_lock(&d->mu);
	d->stopping = true;
	/* jobs not started go back to pending for whoever runs next */
	left = d->head;
	d->head = d->tail = NULL;
	d->queued = 0;
	pthread_cond_broadcast(&d->cv);
	pthread_cond_broadcast(&d->work_cv);
	/* sends in progress get the grace to finish; then they are cut short
	 * (recorded as a failed attempt, retried by whoever runs next) */
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += grace_ms / 1000;
	dl.tv_nsec += (grace_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	while (d->busy > 0 && pthread_cond_timedwait(&d->cv, &d->mu, &dl) == 0) {
	}
	atomic_store(&d->abort, true);
	pthread_mutex_unlock(&d->mu);
	if (d->dispatching) {
		pthread_join(d->dispatcher, NULL);
	}
	for (int i = 0; i < d->nworkers; i++) {
		pthread_join(d->workers[i], NULL);
	}
	while (left != NULL) {
		job *n = left->next;
		record_later(d, left, 0, "", true);
		job_free(left);
		left = n;
	}
	for (size_t i = 0; i < d->nrs; i++) {
		pthread_mutex_destroy(&d->rs[i].mu);
	}
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	pthread_cond_destroy(&d->work_cv);
	free(d->ui_url);
	free(d->instance);
	free(d->names);
	free(d->rs);
	free(d->workers);
	free(d);
}
