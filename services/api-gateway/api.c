/* api.c — see api.h. */
#include "api.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "router.h"
#include "tfdrift/clock.h"
#include "tfdrift/log.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct gw_api {
	pgpool *pool;
	gw_feed *feed;
	int db_wait_ms;
};

/* ---- responses ------------------------------------------------------------------- */

/* Takes j (deleted here) as the body. */
static void
respond_json(gw_response *r, unsigned status, cJSON *j)
{
	r->status = status;
	r->body = j != NULL ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_Delete(j);
	if (r->body == NULL) {
		r->status = 500;
	}
}

static void
respond_error(gw_response *r, unsigned status, const char *code, const char *message)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *e = cJSON_AddObjectToObject(root, "error");
	cJSON_AddStringToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", message);
	respond_json(r, status, root);
}

/* ---- columns: SQL expression -> JSON member ---------------------------------------- */

typedef enum {
	T_TEXT,
	T_INT,
	T_TIME, /* the SQL yields Unix microseconds; written as RFC 3339 */
	T_JSON, /* jsonb text, embedded as is */
} col_type;

typedef struct out_col {
	const char *json; /* "name", or "object.name" for a nested member */
	const char *sql;
	col_type type;
} out_col;

#define TIME_US(c) "(extract(epoch FROM " c ") * 1000000)::bigint"

/* What a list item shows. */
static const out_col item_cols[] = {
	{ "id", "id", T_INT },
	{ "alert_key", "alert_key", T_TEXT },
	{ "event_id", "event_id", T_TEXT },
	{ "event_time", TIME_US("event_time"), T_TIME },
	{ "detected_at", TIME_US("detected_at"), T_TIME },
	{ "workspace", "workspace", T_TEXT },
	{ "resource_address", "resource_address", T_TEXT },
	{ "resource_type", "resource_type", T_TEXT },
	{ "kind", "kind", T_TEXT },
	{ "attribute", "attribute", T_TEXT },
	{ "severity", "severity", T_TEXT },
	{ "status", "status", T_TEXT },
	{ "principal.type", "principal_type", T_TEXT },
	{ "principal.arn", "principal_arn", T_TEXT },
	{ "principal.name", "principal_name", T_TEXT },
	{ "principal.account_id", "principal_account", T_TEXT },
	{ "source_ip", "source_ip", T_TEXT },
	{ "user_agent", "user_agent", T_TEXT },
	{ "region", "region", T_TEXT },
	{ "account_id", "account_id", T_TEXT },
	{ "event_name", "event_name", T_TEXT },
	{ "event_source", "event_source", T_TEXT },
	{ "service", "service", T_TEXT },
	{ "summary", "summary", T_TEXT },
};

/* What the detail view adds. */
static const out_col detail_cols[] = {
	{ "committed_at", TIME_US("committed_at"), T_TIME },
	{ "severity_rank", "severity_rank", T_INT },
	{ "identifiers", "identifiers", T_JSON },
	{ "changes", "changes", T_JSON },
	{ "principal.role_arn", "principal_role_arn", T_TEXT },
	{ "principal.session_name", "principal_session", T_TEXT },
	{ "falco_rule", "falco_rule", T_TEXT },
	{ "falco_priority", "falco_priority", T_TEXT },
	{ "recommended_fix", "recommended_fix", T_TEXT },
	{ "raw_event", "raw_event", T_JSON },
	{ "status_changed_at", TIME_US("status_changed_at"), T_TIME },
	{ "status_changed_by", "status_changed_by", T_TEXT },
};

static const out_col history_cols[] = {
	{ "from_status", "from_status", T_TEXT },
	{ "to_status", "to_status", T_TEXT },
	{ "actor", "actor", T_TEXT },
	{ "note", "note", T_TEXT },
	{ "at", TIME_US("at"), T_TIME },
};

/* Appends "expr, expr, ..." for cols to buf. */
static void
select_list(char *buf, size_t len, const out_col *cols, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t used = strlen(buf);
		snprintf(buf + used, len - used, "%s%s", used ? ", " : "", cols[i].sql);
	}
}

/* The cJSON object that member `name` ("a.b") goes into; *leaf = "b". */
static cJSON *
parent_of(cJSON *obj, const char *name, const char **leaf)
{
	const char *dot = strchr(name, '.');
	if (dot == NULL) {
		*leaf = name;
		return obj;
	}
	char head[32];
	snprintf(head, sizeof(head), "%.*s", (int)(dot - name), name);
	*leaf = dot + 1;
	cJSON *sub = cJSON_GetObjectItemCaseSensitive(obj, head);
	return sub != NULL ? sub : cJSON_AddObjectToObject(obj, head);
}

/* Adds the columns of row r (starting at result column first) to obj. */
static int
add_row(cJSON *obj, const PGresult *res, int r, int first, const out_col *cols, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int c = first + (int)i;
		const char *leaf;
		cJSON *parent = parent_of(obj, cols[i].json, &leaf);
		cJSON *v = NULL;
		if (parent == NULL) {
			return TD_ENOMEM;
		}
		if (PQgetisnull(res, r, c)) {
			v = cJSON_CreateNull();
		} else {
			const char *text = PQgetvalue(res, r, c);
			switch (cols[i].type) {
			case T_TEXT: v = cJSON_CreateString(text); break;
			case T_INT: v = cJSON_CreateNumber((double)strtoll(text, NULL, 10)); break;
			case T_TIME: {
				char ts[64];
				td_clock_format(strtoll(text, NULL, 10) * 1000, 6, ts, sizeof(ts));
				v = cJSON_CreateString(ts);
				break;
			}
			case T_JSON:
				/* jsonb's text form is valid JSON: embed without reparsing. */
				v = cJSON_CreateRaw(text);
				break;
			}
		}
		if (v == NULL) {
			return TD_ENOMEM;
		}
		cJSON_AddItemToObject(parent, leaf, v);
	}
	return 0;
}

/* ---- database access ------------------------------------------------------------------- */

/* A handler's database part: runs its queries on conn and fills resp.
 * Returns 0, or DB_FAILED after a failed command (resp untouched). */
typedef int (*db_fn)(gw_api *api, PGconn *conn, void *ctx, gw_response *resp);
#define DB_FAILED 1

/* Runs fn with a pooled connection.  A connection that breaks is replaced
 * and fn run once more: every handler here only reads, so that is safe. */
static void
with_db(gw_api *api, db_fn fn, void *ctx, gw_response *resp)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		PGconn *conn = NULL;
		int rv = pgpool_acquire(api->pool, api->db_wait_ms, &conn);
		if (rv == TD_ETIMEDOUT) {
			respond_error(resp, 503, "unavailable",
			    "all database connections are busy");
			return;
		}
		if (rv != 0) {
			respond_error(resp, 503, "unavailable", "database unavailable");
			return;
		}
		rv = fn(api, conn, ctx, resp);
		bool broken = PQstatus(conn) != CONNECTION_OK;
		pgpool_release(api->pool, conn, broken);
		if (rv == 0) {
			return;
		}
		if (!broken) {
			respond_error(resp, 500, "internal", "database query failed");
			return;
		}
	}
	respond_error(resp, 503, "unavailable", "database unavailable");
}

/* Runs a read query; logs failures.  *res owned by the caller on success. */
static int
exec(PGconn *conn, const char *sql, int n, const char *const *vals, PGresult **res)
{
	*res = PQexecParams(conn, sql, n, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(*res) == PGRES_TUPLES_OK) {
		return 0;
	}
	char msg[512];
	snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(*res));
	pgpool_one_line(msg);
	TD_WARN("query failed", TD_KV_STR("error", msg));
	PQclear(*res);
	*res = NULL;
	return DB_FAILED;
}

/* ---- GET /api/v1/drifts ----------------------------------------------------------------------- */

static int
db_list(gw_api *api, PGconn *conn, void *ctx, gw_response *resp)
{
	(void)api;
	const gw_query *q = ctx;
	PGresult *res = NULL;
	char cols[2048] = "";
	select_list(cols, sizeof(cols), item_cols, NELEM(item_cols));
	size_t len = strlen(cols) + strlen(q->where) + 32;
	char *sql = malloc(len);
	if (sql == NULL) {
		respond_error(resp, 500, "internal", "out of memory");
		return 0;
	}
	snprintf(sql, len, "SELECT %s FROM alerts%s", cols, q->where);
	int rv = exec(conn, sql, q->nparams, (const char *const *)q->values, &res);
	free(sql);
	if (rv != 0) {
		return rv;
	}

	cJSON *root = cJSON_CreateObject();
	cJSON *items = cJSON_AddArrayToObject(root, "items");
	int rows = PQntuples(res);
	int shown = rows > q->limit ? q->limit : rows;
	bool oom = items == NULL;
	for (int r = 0; !oom && r < shown; r++) {
		cJSON *it = cJSON_CreateObject();
		oom = it == NULL || !cJSON_AddItemToArray(items, it) ||
		    add_row(it, res, r, 0, item_cols, NELEM(item_cols)) != 0;
	}
	if (!oom && rows > q->limit) {
		/* More rows exist: the cursor points after the last one shown. */
		char cur[64];
		gw_cursor_encode(strtoll(PQgetvalue(res, shown - 1, 0), NULL, 10), cur,
		    sizeof(cur));
		oom = cJSON_AddStringToObject(root, "next_cursor", cur) == NULL;
	} else if (!oom) {
		oom = cJSON_AddNullToObject(root, "next_cursor") == NULL;
	}
	PQclear(res);
	if (oom) {
		cJSON_Delete(root);
		respond_error(resp, 500, "internal", "out of memory");
		return 0;
	}
	respond_json(resp, 200, root);
	return 0;
}

static void
h_list(gw_api *api, const gw_match *m, const gw_kv *args, size_t nargs, gw_response *resp)
{
	(void)m;
	gw_query q;
	td_error err = { 0 };
	if (gw_query_build(args, nargs, &q, &err) != 0) {
		if (err.code == TD_EINVAL) {
			respond_error(resp, 400, "bad_request", err.msg);
		} else {
			respond_error(resp, 500, "internal", err.msg);
		}
		gw_query_free(&q);
		return;
	}
	with_db(api, db_list, &q, resp);
	gw_query_free(&q);
}

/* ---- GET /api/v1/drifts/{id} ------------------------------------------------------------------------- */

static int
db_get(gw_api *api, PGconn *conn, void *ctx, gw_response *resp)
{
	(void)api;
	const char *id = ctx;
	const char *vals[] = { id };
	PGresult *res = NULL, *hist = NULL;
	char sql[4096] = "SELECT ";
	char cols[3072] = "";
	int rv;

	select_list(cols, sizeof(cols), item_cols, NELEM(item_cols));
	select_list(cols, sizeof(cols), detail_cols, NELEM(detail_cols));
	snprintf(sql, sizeof(sql), "SELECT %s FROM alerts WHERE id = $1::bigint", cols);
	if ((rv = exec(conn, sql, 1, vals, &res)) != 0) {
		return rv;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		char msg[96];
		snprintf(msg, sizeof(msg), "no drift with id %s", id);
		respond_error(resp, 404, "not_found", msg);
		return 0;
	}
	cols[0] = '\0';
	select_list(cols, sizeof(cols), history_cols, NELEM(history_cols));
	snprintf(sql, sizeof(sql),
	    "SELECT %s FROM alert_status_history WHERE alert_id = $1::bigint ORDER BY at, id",
	    cols);
	if ((rv = exec(conn, sql, 1, vals, &hist)) != 0) {
		PQclear(res);
		return rv;
	}

	cJSON *root = cJSON_CreateObject();
	bool oom = root == NULL || add_row(root, res, 0, 0, item_cols, NELEM(item_cols)) != 0 ||
	    add_row(root, res, 0, (int)NELEM(item_cols), detail_cols, NELEM(detail_cols)) != 0;
	cJSON *h = oom ? NULL : cJSON_AddArrayToObject(root, "status_history");
	oom = oom || h == NULL;
	for (int r = 0; !oom && r < PQntuples(hist); r++) {
		cJSON *e = cJSON_CreateObject();
		oom = e == NULL || !cJSON_AddItemToArray(h, e) ||
		    add_row(e, hist, r, 0, history_cols, NELEM(history_cols)) != 0;
	}
	PQclear(res);
	PQclear(hist);
	if (oom) {
		cJSON_Delete(root);
		respond_error(resp, 500, "internal", "out of memory");
		return 0;
	}
	respond_json(resp, 200, root);
	return 0;
}

static void
h_get(gw_api *api, const gw_match *m, const gw_kv *args, size_t nargs, gw_response *resp)
{
	const char *id = m->captures[0];
	char *end = NULL;
	(void)args;
	(void)nargs;
	errno = 0;
	long long v = strtoll(id, &end, 10);
	/* Digits only: no sign, space or hex slips through strtoll. */
	if (id[0] < '0' || id[0] > '9' || *end != '\0' || errno != 0 || v <= 0) {
		respond_error(resp, 400, "bad_request", "id: must be a positive integer");
		return;
	}
	char canon[32];
	snprintf(canon, sizeof(canon), "%lld", v);
	with_db(api, db_get, canon, resp);
}

/* ---- GET /api/v1/stats ------------------------------------------------------------------------------- */

typedef struct stat_group {
	const char *name; /* the JSON member and the SQL label */
	const char *column;
	const char *const *values;
	const size_t *nvalues;
} stat_group;

static const stat_group stat_groups[] = {
	{ "by_severity", "severity", gw_severities, &gw_nseverities },
	{ "by_kind", "kind", gw_kinds, &gw_nkinds },
	{ "by_status", "status", gw_statuses, &gw_nstatuses },
};

static int
db_stats(gw_api *api, PGconn *conn, void *ctx, gw_response *resp)
{
	(void)api;
	(void)ctx;
	char sql[1024] = "";
	for (size_t g = 0; g < NELEM(stat_groups); g++) {
		size_t used = strlen(sql);
		snprintf(sql + used, sizeof(sql) - used,
		    "%sSELECT '%s', %s, count(*) FROM alerts GROUP BY %s", g ? " UNION ALL " : "",
		    stat_groups[g].name, stat_groups[g].column, stat_groups[g].column);
	}
	PGresult *res = NULL;
	int rv = exec(conn, sql, 0, NULL, &res);
	if (rv != 0) {
		return rv;
	}
	cJSON *root = cJSON_CreateObject();
	cJSON *total = cJSON_AddNumberToObject(root, "total", 0);
	bool oom = root == NULL || total == NULL;
	double sum = 0;
	for (size_t g = 0; !oom && g < NELEM(stat_groups); g++) {
		const stat_group *sg = &stat_groups[g];
		cJSON *o = cJSON_AddObjectToObject(root, sg->name);
		oom = o == NULL;
		for (size_t v = 0; !oom && v < *sg->nvalues; v++) {
			double count = 0;
			for (int r = 0; r < PQntuples(res); r++) {
				if (strcmp(PQgetvalue(res, r, 0), sg->name) == 0 &&
				    strcmp(PQgetvalue(res, r, 1), sg->values[v]) == 0) {
					count = (double)strtoll(PQgetvalue(res, r, 2), NULL, 10);
				}
			}
			oom = cJSON_AddNumberToObject(o, sg->values[v], count) == NULL;
			if (g == 0) {
				sum += count; /* every alert has exactly one severity */
			}
		}
	}
	PQclear(res);
	if (oom) {
		cJSON_Delete(root);
		respond_error(resp, 500, "internal", "out of memory");
		return 0;
	}
	cJSON_SetNumberValue(total, sum);
	respond_json(resp, 200, root);
	return 0;
}

static void
h_stats(gw_api *api, const gw_match *m, const gw_kv *args, size_t nargs, gw_response *resp)
{
	(void)m;
	(void)args;
	(void)nargs;
	with_db(api, db_stats, NULL, resp);
}

/* ---- GET /api/v1/health ------------------------------------------------------------------------------ */

static void
h_health(gw_api *api, const gw_match *m, const gw_kv *args, size_t nargs, gw_response *resp)
{
	(void)m;
	(void)args;
	(void)nargs;
	/* From state the pool and the SUB keep current: a health probe must not
	 * queue behind busy connections. */
	bool db = pgpool_up(api->pool);
	bool feed = gw_feed_connected(api->feed);
	bool state = gw_feed_state_connected(api->feed);
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "status", db && feed && state ? "ok" : "degraded");
	cJSON *checks = cJSON_AddObjectToObject(root, "checks");
	cJSON *pg = cJSON_AddObjectToObject(checks, "postgres");
	cJSON_AddBoolToObject(pg, "ok", db);
	cJSON_AddNumberToObject(pg, "connections", pgpool_open_count(api->pool));
	if (!db) {
		char why[256];
		pgpool_last_error(api->pool, why, sizeof(why));
		cJSON_AddStringToObject(pg, "error", why);
	}
	cJSON *af = cJSON_AddObjectToObject(checks, "alerts_feed");
	cJSON_AddBoolToObject(af, "connected", feed);
	cJSON *sf = cJSON_AddObjectToObject(checks, "state_feed");
	cJSON_AddBoolToObject(sf, "connected", state);
	cJSON_AddNumberToObject(sf, "generation", (double)gw_feed_state_generation(api->feed));
	respond_json(resp, 200, root);
}

/* ---- routing ----------------------------------------------------------------------------------------- */

typedef void (*handler_fn)(gw_api *api, const gw_match *m, const gw_kv *args, size_t nargs,
    gw_response *resp);

static const handler_fn handlers[] = { h_list, h_get, h_stats, h_health };

static const gw_route routes[] = {
	{ "GET", "/api/v1/drifts", 0 },
	{ "GET", "/api/v1/drifts/{id}", 1 },
	{ "GET", "/api/v1/stats", 2 },
	{ "GET", "/api/v1/health", 3 },
};

void
gw_api_serve(gw_api *api, const char *method, const char *path, const gw_kv *args, size_t nargs,
    gw_response *resp)
{
	gw_match m;
	memset(resp, 0, sizeof(*resp));
	resp->route = "unmatched";
	switch (gw_router_match(routes, NELEM(routes), method, path, &m)) {
	case GW_ROUTE_FOUND:
		resp->route = m.route->pattern;
		handlers[m.route->handler](api, &m, args, nargs, resp);
		return;
	case GW_ROUTE_BAD_METHOD: {
		char msg[128];
		snprintf(msg, sizeof(msg), "%.16s is not allowed here; use %s", method, m.allow);
		snprintf(resp->allow, sizeof(resp->allow), "%s", m.allow);
		respond_error(resp, 405, "method_not_allowed", msg);
		return;
	}
	default: {
		char msg[320];
		snprintf(msg, sizeof(msg), "no such resource: %.256s", path);
		respond_error(resp, 404, "not_found", msg);
		return;
	}
	}
}

/* *out owned by caller. */
int
gw_api_new(gw_api **out, pgpool *pool, gw_feed *feed, int db_wait_ms)
{
	gw_api *api = calloc(1, sizeof(*api));
	*out = NULL;
	if (api == NULL) {
		return TD_ENOMEM;
	}
	api->pool = pool;
	api->feed = feed;
	api->db_wait_ms = db_wait_ms;
	*out = api;
	return 0;
}

void
gw_api_free(gw_api *api)
{
	free(api);
}
