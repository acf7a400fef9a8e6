/* planner.c — see planner.h. */
#include "planner.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "db.h"
#include "msg.h"
#include "recv.h"
#include "tfdrift/clock.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

#define MAX_CP 256
#define MAX_TARGETS 32
#define MAX_SILENCES 1024
#define REPEAT_EVERY_MS 1000
#define SETTLE_MS 1000

/* One scan's high-water mark: ids up to max_id are final once the
 * snapshot's xmin reaches xmax. */
typedef struct checkpoint {
	int64_t xmax, max_id;
	int64_t at_ms; /* when the scan ran (monotonic) */
} checkpoint;

typedef struct cursor {
	const char *name; /* notifier_cursors.name */
	bool loaded;
	int64_t low;       /* every id <= low is planned */
	int64_t read_from; /* the largest id read; (low, read_from] is read again */
	int64_t *seen;     /* ids of (low, read_from] planned, ascending */
	size_t nseen, capseen;
	checkpoint cp[MAX_CP];
	int ncp;
} cursor;

typedef struct silence {
	int64_t id;
	rt_matcher *m;
} silence;

struct planner {
	planner_opts o;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool woken, stopping;
	atomic_bool caught_up;
	cursor alerts, status;
	silence silences[MAX_SILENCES];
	size_t nsilences;
	char status_receivers[4096]; /* array literal of receivers that take status changes */
	char receivers[4096];        /* array literal of every receiver */
	bool any_repeat;             /* some route has a repeat_interval */
	int64_t repeat_at;
	td_counter *planned, *silenced, *scan_errors, *catchup, *repeats;
	td_gauge *cursor_gauge;
	int64_t last_error_log;
};

static void
fail_log(planner *p, const char *what, const char *why)
{
	int64_t t = td_clock_mono_ms();

	td_counter_inc(p->scan_errors);
	/* an outage would otherwise log once per poll */
	if (t - p->last_error_log >= 10000) {
		p->last_error_log = t;
		TD_WARN("planning failed; will try again", TD_KV_STR("step", what),
		    TD_KV_STR("error", why));
	}
}

/* ---- cursors ------------------------------------------------------------- */

/* Whether id was planned since low. */
static bool
seen_has(const cursor *cur, int64_t id)
{
	size_t lo = 0, hi = cur->nseen;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cur->seen[mid] == id) {
			return true;
		}
		if (cur->seen[mid] < id) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return false;
}

/* Records id as planned (kept sorted; late ids go in their place). */
static int
seen_add(cursor *cur, int64_t id)
{
	size_t i = cur->nseen;

	if (seen_has(cur, id)) {
		return 0;
	}
	if (cur->nseen == cur->capseen) {
		size_t cap = cur->capseen == 0 ? 1024 : cur->capseen * 2;
		int64_t *n = realloc(cur->seen, cap * sizeof(*n));
		if (n == NULL) {
			return TD_ENOMEM;
		}
		cur->seen = n;
		cur->capseen = cap;
	}
	while (i > 0 && cur->seen[i - 1] > id) {
		cur->seen[i] = cur->seen[i - 1];
		i--;
	}
	cur->seen[i] = id;
	cur->nseen++;
	return 0;
}

/* Forgets ids at or below low. */
static void
seen_prune(cursor *cur)
{
	size_t k = 0;

	while (k < cur->nseen && cur->seen[k] <= cur->low) {
		k++;
	}
	memmove(cur->seen, cur->seen + k, (cur->nseen - k) * sizeof(*cur->seen));
	cur->nseen -= k;
}

static int
cursor_load(PGconn *c, cursor *cur, char *why, size_t wl)
{
	const char *params[] = { cur->name };
	PGresult *res = NULL;
	int rv;

	if (cur->loaded) {
		return 0;
	}
	if ((rv = db_exec(c,
		 "INSERT INTO notifier_cursors (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", 1,
		 params, PGRES_COMMAND_OK, NULL, why, wl)) != 0 ||
	    (rv = db_exec(c, "SELECT last_id FROM notifier_cursors WHERE name = $1", 1, params,
		 PGRES_TUPLES_OK, &res, why, wl)) != 0) {
		return rv;
	}
	cur->low = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	cur->read_from = cur->low;
	cur->nseen = 0;
	cur->loaded = true;
	cur->ncp = 0;
	PQclear(res);
	return 0;
}

/* Reads, in one REPEATABLE READ snapshot, the rows of (low, read_from]
 * (sql_window: $1 low, $2 read_from; late commits) into *win and up to
 * batch rows after read_from (sql_new: $1 read_from, $2 batch) into *fresh;
 * the snapshot's xmin and xmax.  Results owned by the caller. */
static int
cursor_scan(PGconn *c, cursor *cur, const char *sql_window, const char *sql_new, int batch,
    int64_t *xmin, int64_t *xmax, PGresult **win, PGresult **fresh, char *why, size_t wl)
{
	char low[32], from[32], lim[16];
	const char *wparams[] = { low, from };
	const char *nparams[] = { from, lim };
	PGresult *snap = NULL;
	int rv;

	*win = *fresh = NULL;
	snprintf(low, sizeof(low), "%lld", (long long)cur->low);
	snprintf(from, sizeof(from), "%lld", (long long)cur->read_from);
	snprintf(lim, sizeof(lim), "%d", batch);
	if ((rv = db_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL,
		 PGRES_COMMAND_OK, NULL, why, wl)) != 0) {
		return rv;
	}
	if ((rv = db_exec(c,
		 "SELECT pg_snapshot_xmin(pg_current_snapshot())::text, "
		 "pg_snapshot_xmax(pg_current_snapshot())::text",
		 0, NULL, PGRES_TUPLES_OK, &snap, why, wl)) != 0 ||
	    (cur->read_from > cur->low &&
		(rv = db_exec(c, sql_window, 2, wparams, PGRES_TUPLES_OK, win, why, wl)) != 0) ||
	    (rv = db_exec(c, sql_new, 2, nparams, PGRES_TUPLES_OK, fresh, why, wl)) != 0) {
		goto out;
	}
	*xmin = strtoll(PQgetvalue(snap, 0, 0), NULL, 10);
	*xmax = strtoll(PQgetvalue(snap, 0, 1), NULL, 10);
	rv = db_exec(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL, why, wl);
out:
	PQclear(snap);
	if (rv != 0) {
		PQclear(*win);
		PQclear(*fresh);
		*win = *fresh = NULL;
		PQclear(PQexec(c, "ROLLBACK"));
	}
	return rv;
}

/* After the rows up to max_id were planned: records the checkpoint, moves
 * low past every checkpoint that is final, and saves it. */
static int
cursor_advance(PGconn *c, cursor *cur, int64_t xmin, int64_t xmax, int64_t max_id, char *why,
    size_t wl)
{
	int64_t old = cur->low;
	int k = 0;

	if (cur->ncp == MAX_CP) {
		/* a transaction running for hundreds of scans: keep the newest marks */
		memmove(&cur->cp[0], &cur->cp[1], sizeof(cur->cp[0]) * (MAX_CP - 1));
		cur->ncp--;
	}
	if (max_id > cur->read_from) {
		cur->read_from = max_id;
	}
	if (cur->read_from > cur->low) {
		cur->cp[cur->ncp++] = (checkpoint){ .xmax = xmax,
			.max_id = cur->read_from,
			.at_ms = td_clock_mono_ms() };
	}
	for (int i = 0; i < cur->ncp; i++) {
		/* SETTLE_MS as well: a writer may take an id with nextval a moment
		 * before its transaction gets the xid the snapshot would show */
		if (cur->cp[i].xmax <= xmin && td_clock_mono_ms() - cur->cp[i].at_ms >= SETTLE_MS) {
			if (cur->cp[i].max_id > cur->low) {
				cur->low = cur->cp[i].max_id;
			}
		} else {
			cur->cp[k++] = cur->cp[i];
		}
	}
	cur->ncp = k;
	if (cur->low == old) {
		return 0;
	}
	seen_prune(cur);
	char v[32];
	const char *params[] = { cur->name, v };
	snprintf(v, sizeof(v), "%lld", (long long)cur->low);
	return db_exec(c,
	    "UPDATE notifier_cursors SET last_id = GREATEST(last_id, $2::bigint), updated_at = now() "
	    "WHERE name = $1",
	    2, params, PGRES_COMMAND_OK, NULL, why, wl);
}

/* ---- silences ------------------------------------------------------------ */

static void
silences_clear(planner *p)
{
	for (size_t i = 0; i < p->nsilences; i++) {
		rt_matcher_free(p->silences[i].m);
	}
	p->nsilences = 0;
}

/* {"severity": "high", "workspace": ["prod-*"], "min_severity": "medium"} */
static rt_matcher *
silence_matcher(const char *json)
{
	cJSON *j = cJSON_Parse(json), *it;
	rt_matcher *m = NULL;

	if (!cJSON_IsObject(j) || rt_matcher_new(&m) != 0) {
		goto out;
	}
	cJSON_ArrayForEach(it, j)
	{
		int f = rt_field_index(it->string);
		if (strcmp(it->string, "min_severity") == 0 && cJSON_IsString(it)) {
			rt_matcher_min_rank(m, rt_rank(it->valuestring));
		} else if (f >= 0 && cJSON_IsString(it)) {
			rt_matcher_add(m, f, it->valuestring);
		} else if (f >= 0 && cJSON_IsArray(it)) {
			const cJSON *v;
			cJSON_ArrayForEach(v, it)
			{
				if (cJSON_IsString(v)) {
					rt_matcher_add(m, f, v->valuestring);
				}
			}
		}
	}
out:
	cJSON_Delete(j);
	return m;
}

static int
silences_load(planner *p, PGconn *c, char *why, size_t wl)
{
	PGresult *res = NULL;
	int rv;

	if ((rv = db_exec(c,
		 "SELECT id, matchers::text FROM silences WHERE starts_at <= now() AND ends_at > "
		 "now() ORDER BY id LIMIT 1024",
		 0, NULL, PGRES_TUPLES_OK, &res, why, wl)) != 0) {
		return rv;
	}
	silences_clear(p);
	for (int i = 0; i < PQntuples(res) && p->nsilences < MAX_SILENCES; i++) {
		rt_matcher *m = silence_matcher(PQgetvalue(res, i, 1));
		if (m != NULL) {
			p->silences[p->nsilences].id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
			p->silences[p->nsilences++].m = m;
		}
	}
	PQclear(res);
	return 0;
}

static int64_t
silenced_by(const planner *p, const rt_alert *ra)
{
	for (size_t i = 0; i < p->nsilences; i++) {
		if (rt_matcher_matches(p->silences[i].m, ra)) {
			return p->silences[i].id;
		}
	}
	return 0;
}

/* ---- planning ------------------------------------------------------------ */

static const char insert_sql[] =
    "INSERT INTO notifications (alert_id, receiver, group_key, state, silence_id, "
    "next_attempt_at, repeat_ms) "
    "SELECT x.alert_id, x.receiver, x.group_key, x.state, NULLIF(x.silence_id, 0), "
    " CASE WHEN x.group_key = '' THEN now() ELSE coalesce("
    "  (SELECT min(p.next_attempt_at) FROM notifications p WHERE p.receiver = x.receiver "
    "   AND p.group_key = x.group_key AND p.group_key <> '' AND p.state = 'pending' "
    "   AND p.event = 'alert'),"
    "  greatest(now() + x.wait_ms * interval '1 millisecond',"
    "   (SELECT max(s.sent_at) FROM notifications s WHERE s.receiver = x.receiver "
    "    AND s.group_key = x.group_key AND s.group_key <> '' AND s.state = 'sent') "
    "    + x.interval_ms * interval '1 millisecond')) END, x.repeat_ms "
    "FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], "
    " $7::bigint[], $8::bigint[]) "
    " AS x(alert_id, receiver, group_key, state, silence_id, wait_ms, interval_ms, repeat_ms) "
    "ORDER BY x.alert_id "
    "ON CONFLICT (alert_id, receiver, event, status_event_id) DO NOTHING";

/* The next reminder for every alert still open whose last message (the
 * alert's, or its last reminder) was sent repeat_ms ago. */
static const char repeat_sql[] =
    "INSERT INTO notifications (alert_id, receiver, event, status_event_id, group_key, "
    "repeat_ms) "
    "SELECT n.alert_id, n.receiver, 'repeat', n.status_event_id + 1, n.group_key, n.repeat_ms "
    "FROM notifications n JOIN alerts a ON a.id = n.alert_id "
    "WHERE n.repeat_ms > 0 AND n.state = 'sent' AND n.event IN ('alert', 'repeat') "
    " AND n.sent_at < now() - n.repeat_ms * interval '1 millisecond' AND a.status = 'open' "
    " AND n.receiver = ANY($1::text[]) "
    " AND NOT EXISTS (SELECT 1 FROM notifications r WHERE r.alert_id = n.alert_id "
    "  AND r.receiver = n.receiver AND r.event = 'repeat' "
    "  AND r.status_event_id > n.status_event_id) "
    "ORDER BY n.alert_id LIMIT 10000 "
    "ON CONFLICT (alert_id, receiver, event, status_event_id) DO NOTHING";

static const char scan_window_sql[] =
    "SELECT a.id FROM alerts a WHERE a.id > $1::bigint AND a.id <= $2::bigint ORDER BY a.id";
static const char fetch_fmt[] =
    "SELECT %s FROM alerts a WHERE a.id = ANY($1::bigint[]) ORDER BY a.id";
static const char scan_new_fmt[] =
    "SELECT %s FROM alerts a WHERE a.id > $1::bigint ORDER BY a.id LIMIT $2::integer";

/* Routes the rows of res and inserts their deliveries.  *n planned. */
static int
plan_rows(planner *p, PGconn *c, PGresult *res, long *planned, char *why, size_t wl)
{
	db_arr ids = { 0 }, rcv = { 0 }, gk = { 0 }, st = { 0 }, sil = { 0 }, wait = { 0 },
	       ival = { 0 }, rep = { 0 };
	rt_target t[MAX_TARGETS];
	char key[512];
	long nsil = 0;
	int rv = 0;

	*planned = 0;
	for (int i = 0; i < PQntuples(res); i++) {
		nt_alert a;
		rt_alert ra;
		if ((rv = msg_alert_from_row(&a, res, i, 0)) != 0) {
			snprintf(why, wl, "out of memory");
			goto out;
		}
		msg_alert_route_view(&a, &ra);
		size_t nt = rt_route(p->o.rt, &ra, t, MAX_TARGETS);
		int64_t sid = nt > 0 ? silenced_by(p, &ra) : 0;
		for (size_t k = 0; k < nt; k++) {
			bool grouped = t[k].group_wait_ms > 0 || t[k].group_interval_ms > 0;
			if (grouped) {
				rt_group_key(&ra, t[k].group_by, key, sizeof(key));
			}
			db_arr_int(&ids, a.id);
			db_arr_text(&rcv, rt_receiver_at(p->o.rt, t[k].receiver)->name);
			/* a group key is never "" for a grouped route */
			db_arr_text(&gk, grouped ? (key[0] != '\0' ? key : "-") : "");
			db_arr_text(&st, sid != 0 ? "silenced" : "pending");
			db_arr_int(&sil, sid);
			db_arr_int(&wait, t[k].group_wait_ms);
			db_arr_int(&ival, t[k].group_interval_ms);
			db_arr_int(&rep, t[k].repeat_interval_ms);
			nsil += sid != 0;
		}
		msg_alert_clear(&a);
	}
	if (ids.n == 0) {
		goto out;
	}
	const char *params[] = { db_arr_str(&ids), db_arr_str(&rcv), db_arr_str(&gk),
		db_arr_str(&st), db_arr_str(&sil), db_arr_str(&wait), db_arr_str(&ival),
		db_arr_str(&rep) };
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		if (params[i] == NULL) {
			snprintf(why, wl, "out of memory");
			rv = TD_ENOMEM;
			goto out;
		}
	}
	PGresult *ins = NULL;
	if ((rv = db_exec(c, insert_sql, 8, params, PGRES_COMMAND_OK, &ins, why, wl)) != 0) {
		goto out;
	}
	*planned = strtol(PQcmdTuples(ins), NULL, 10);
	PQclear(ins);
	td_counter_add(p->planned, (uint64_t)*planned);
	if (nsil > 0) {
		td_counter_add(p->silenced, (uint64_t)nsil);
	}
out:
	db_arr_free(&ids);
	db_arr_free(&rcv);
	db_arr_free(&gk);
	db_arr_free(&st);
	db_arr_free(&sil);
	db_arr_free(&wait);
	db_arr_free(&ival);
	db_arr_free(&rep);
	return rv;
}

/* Ids of res (column 0) not planned yet into *out. */
static void
unseen_ids(const cursor *cur, const PGresult *res, db_arr *out)
{
	for (int i = 0; res != NULL && i < PQntuples(res); i++) {
		int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		if (!seen_has(cur, id)) {
			db_arr_int(out, id);
		}
	}
}

/* Marks the ids of res (column 0) planned. */
static int
mark_seen(cursor *cur, const PGresult *res, char *why, size_t wl)
{
	for (int i = 0; res != NULL && i < PQntuples(res); i++) {
		if (seen_add(cur, strtoll(PQgetvalue(res, i, 0), NULL, 10)) != 0) {
			snprintf(why, wl, "out of memory");
			return TD_ENOMEM;
		}
	}
	return 0;
}

/* Alerts of the window that committed after a larger id was read. */
static int
plan_late(planner *p, PGconn *c, const PGresult *win, long *planned, char *why, size_t wl)
{
	db_arr ids = { 0 };
	PGresult *res = NULL;
	char sql[1200];
	int rv = 0;

	*planned = 0;
	unseen_ids(&p->alerts, win, &ids);
	if (ids.n == 0) {
		goto out;
	}
	const char *params[] = { db_arr_str(&ids) };
	snprintf(sql, sizeof(sql), fetch_fmt, msg_alert_columns);
	if (params[0] == NULL) {
		snprintf(why, wl, "out of memory");
		rv = TD_ENOMEM;
		goto out;
	}
	if ((rv = db_exec(c, sql, 1, params, PGRES_TUPLES_OK, &res, why, wl)) != 0 ||
	    (rv = plan_rows(p, c, res, planned, why, wl)) != 0) {
		goto out;
	}
	TD_DEBUG("planned alerts that committed late", TD_KV_UINT("alerts", ids.n));
	rv = mark_seen(&p->alerts, res, why, wl);
out:
	PQclear(res);
	db_arr_free(&ids);
	return rv;
}

/* One scan of alerts.  *more: the batch was full. */
static int
scan_alerts(planner *p, PGconn *c, long *planned, bool *more, char *why, size_t wl)
{
	char nsql[1024];
	PGresult *win = NULL, *fresh = NULL;
	int64_t xmin = 0, xmax = 0, max_id;
	long n1 = 0, n2 = 0;
	int rv, n;

	*planned = 0;
	*more = false;
	snprintf(nsql, sizeof(nsql), scan_new_fmt, msg_alert_columns);
	if ((rv = cursor_load(c, &p->alerts, why, wl)) != 0 ||
	    (rv = silences_load(p, c, why, wl)) != 0 ||
	    (rv = cursor_scan(c, &p->alerts, scan_window_sql, nsql, p->o.batch, &xmin, &xmax, &win,
		 &fresh, why, wl)) != 0) {
		return rv;
	}
	n = PQntuples(fresh);
	max_id = n > 0 ? strtoll(PQgetvalue(fresh, n - 1, 0), NULL, 10) : p->alerts.read_from;
	if ((rv = plan_late(p, c, win, &n1, why, wl)) == 0 &&
	    (rv = plan_rows(p, c, fresh, &n2, why, wl)) == 0 &&
	    (rv = mark_seen(&p->alerts, fresh, why, wl)) == 0) {
		rv = cursor_advance(c, &p->alerts, xmin, xmax, max_id, why, wl);
	}
	*planned = n1 + n2;
	*more = rv == 0 && n == p->o.batch;
	td_gauge_set(p->cursor_gauge, (double)p->alerts.low);
	PQclear(win);
	PQclear(fresh);
	return rv;
}

static const char status_insert_sql[] =
    "INSERT INTO notifications (alert_id, receiver, event, status_event_id) "
    "SELECT n.alert_id, n.receiver, 'status', h.id "
    "FROM unnest($1::bigint[]) AS x(hid) JOIN alert_status_history h ON h.id = x.hid "
    "JOIN notifications n ON n.alert_id = h.alert_id AND n.event = 'alert' "
    " AND n.receiver = ANY($2::text[]) AND n.state IN ('pending', 'sending', 'sent') "
    "ORDER BY h.id "
    "ON CONFLICT (alert_id, receiver, event, status_event_id) DO NOTHING";

static int
plan_status(planner *p, PGconn *c, PGresult *res, long *planned, char *why, size_t wl)
{
	db_arr ids = { 0 };
	PGresult *ins = NULL;
	int rv = 0;

	unseen_ids(&p->status, res, &ids);
	if (ids.n == 0) {
		goto out;
	}
	const char *params[] = { db_arr_str(&ids), p->status_receivers };
	if (params[0] == NULL) {
		rv = TD_ENOMEM;
		snprintf(why, wl, "out of memory");
		goto out;
	}
	if ((rv = db_exec(c, status_insert_sql, 2, params, PGRES_COMMAND_OK, &ins, why, wl)) != 0) {
		goto out;
	}
	*planned += strtol(PQcmdTuples(ins), NULL, 10);
	PQclear(ins);
	rv = mark_seen(&p->status, res, why, wl);
out:
	db_arr_free(&ids);
	return rv;
}

static int
scan_status(planner *p, PGconn *c, long *planned, char *why, size_t wl)
{
	PGresult *win = NULL, *fresh = NULL;
	int64_t xmin = 0, xmax = 0, max_id;
	int rv, n;

	*planned = 0;
	if ((rv = cursor_load(c, &p->status, why, wl)) != 0 ||
	    (rv = cursor_scan(c, &p->status,
		 "SELECT h.id FROM alert_status_history h WHERE h.id > $1::bigint "
		 "AND h.id <= $2::bigint ORDER BY h.id",
		 "SELECT h.id FROM alert_status_history h WHERE h.id > $1::bigint ORDER BY h.id "
		 "LIMIT $2::integer",
		 p->o.batch, &xmin, &xmax, &win, &fresh, why, wl)) != 0) {
		return rv;
	}
	n = PQntuples(fresh);
	max_id = n > 0 ? strtoll(PQgetvalue(fresh, n - 1, 0), NULL, 10) : p->status.read_from;
	if ((rv = plan_status(p, c, win, planned, why, wl)) == 0 &&
	    (rv = plan_status(p, c, fresh, planned, why, wl)) == 0) {
		rv = cursor_advance(c, &p->status, xmin, xmax, max_id, why, wl);
	}
	PQclear(win);
	PQclear(fresh);
	return rv;
}

/* Reminders, at most every REPEAT_EVERY_MS. */
static int
scan_repeats(planner *p, PGconn *c, long *planned, char *why, size_t wl)
{
	const char *params[] = { p->receivers };
	PGresult *ins = NULL;
	int rv;

	*planned = 0;
	if (!p->any_repeat || td_clock_mono_ms() - p->repeat_at < REPEAT_EVERY_MS) {
		return 0;
	}
	p->repeat_at = td_clock_mono_ms();
	if ((rv = db_exec(c, repeat_sql, 1, params, PGRES_COMMAND_OK, &ins, why, wl)) != 0) {
		return rv;
	}
	*planned = strtol(PQcmdTuples(ins), NULL, 10);
	PQclear(ins);
	td_counter_add(p->repeats, (uint64_t)*planned);
	return 0;
}

static void *
run(void *arg)
{
	planner *p = arg;
	char why[512];
	bool more = false;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		if (!more && !p->woken && !p->stopping) {
			struct timespec dl;
			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_sec += p->o.poll_ms / 1000;
			dl.tv_nsec += (p->o.poll_ms % 1000) * 1000000;
			if (dl.tv_nsec >= 1000000000) {
				dl.tv_sec++;
				dl.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&p->cv, &p->mu, &dl);
		}
		p->woken = false;
		bool stop = p->stopping;
		pthread_mutex_unlock(&p->mu);
		if (stop) {
			break;
		}
		PGconn *c = NULL;
		long n1 = 0, n2 = 0, n3 = 0;
		int rv = td_pgpool_acquire(p->o.pool, 1000, &c);
		more = false;
		if (rv != 0) {
			fail_log(p, "connect", td_strerror(rv));
			continue;
		}
		bool broken = false;
		if (scan_alerts(p, c, &n1, &more, why, sizeof(why)) != 0) {
			fail_log(p, "alerts", why);
			broken = true;
			more = false;
		} else if (scan_status(p, c, &n2, why, sizeof(why)) != 0) {
			fail_log(p, "status changes", why);
			broken = true;
		} else if (scan_repeats(p, c, &n3, why, sizeof(why)) != 0) {
			fail_log(p, "reminders", why);
			broken = true;
		}
		td_pgpool_release(p->o.pool, c, broken);
		if (!broken && !more && !atomic_load(&p->caught_up)) {
			atomic_store(&p->caught_up, true);
			td_counter_inc(p->catchup);
			TD_INFO("caught up with committed alerts",
			    TD_KV_INT("cursor", p->alerts.low));
		}
		if (n1 + n2 + n3 > 0 && p->o.planned != NULL) {
			p->o.planned(p->o.arg);
		}
	}
	return NULL;
}

int
planner_start(planner **out, const planner_opts *o, td_error *err)
{
	planner *p = calloc(1, sizeof(*p));
	db_arr r = { 0 };

	*out = NULL;
	if (p == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	p->o = *o;
	p->alerts.name = "alerts";
	p->status.name = "status";
	atomic_init(&p->caught_up, false);
	for (size_t i = 0; i < rt_receiver_count(o->rt); i++) {
		const rt_receiver *rc = rt_receiver_at(o->rt, i);
		if (recv_for(rc->type)->on_status) {
			db_arr_text(&r, rc->name);
		}
	}
	snprintf(p->status_receivers, sizeof(p->status_receivers), "%s",
	    db_arr_str(&r) != NULL ? db_arr_str(&r) : "{}");
	db_arr_free(&r);
	for (size_t i = 0; i < rt_receiver_count(o->rt); i++) {
		db_arr_text(&r, rt_receiver_at(o->rt, i)->name);
	}
	snprintf(p->receivers, sizeof(p->receivers), "%s",
	    db_arr_str(&r) != NULL ? db_arr_str(&r) : "{}");
	db_arr_free(&r);
	p->any_repeat = rt_any_repeat(o->rt);
	p->repeats = td_counter_get("tfdrift_notifier_reminders_total",
	    "Reminders planned for alerts still open after their route's repeat_interval.", NULL);
	p->planned = td_counter_get("tfdrift_notifier_planned_total",
	    "Deliveries planned (notifications rows inserted), alerts and status changes.", NULL);
	p->silenced = td_counter_get("tfdrift_notifier_silenced_total",
	    "Deliveries recorded as silenced instead of sent.", NULL);
	p->scan_errors = td_counter_get("tfdrift_notifier_scan_errors_total",
	    "Planner scans of PostgreSQL that failed (retried at the next poll).", NULL);
	p->catchup = td_counter_get("tfdrift_notifier_caught_up_total",
	    "Times the planner reached the end of the committed alerts.", NULL);
	p->cursor_gauge = td_gauge_get("tfdrift_notifier_cursor",
	    "alerts.id below which every committed alert has been planned.", NULL);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pthread_create(&p->thread, NULL, run, p) != 0) {
		pthread_mutex_destroy(&p->mu);
		pthread_cond_destroy(&p->cv);
		free(p);
		return td_error_set(err, TD_EIO, "cannot start the planner thread");
	}
	p->started = true;
	*out = p;
	return 0;
}

void
planner_wake(planner *p)
{
	pthread_mutex_lock(&p->mu);
	p->woken = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

bool
planner_caught_up(planner *p)
{
	return atomic_load(&p->caught_up);
}

void
planner_stop(planner *p)
{
	if (p == NULL) {
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (p->started) {
		pthread_join(p->thread, NULL);
	}
	silences_clear(p);
	free(p->alerts.seen);
	free(p->status.seen);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}
