/* api.c — see api.h. */
#include "api.h"
#include "notify.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ingest_probe.h"
#include "jsonw.h"
#include "patch.h"
#include "pgrow.h"
#include "router.h"
#include "stmt.h"
#include "tfdrift/clock.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"
#include "tfdrift/secret.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Longest note a status change may carry. */
/* Graph page sizes. */
#define GRAPH_LIMIT_DEFAULT 500
#define GRAPH_LIMIT_MAX 5000
/* Drift history shown with a resource. */
#define RESOURCE_DRIFTS 100
/* Longest per-day range for /stats. */
#define STATS_MAX_DAYS 366
#define STATS_DEFAULT_DAYS 30
/* Groups with many values (service, workspace) show the largest ones. */
#define STATS_TOP 50

struct gw_api {
	td_pgpool *pool;
	gw_feed *feed;
	const gw_auth *auth;
	gw_graph *graph;
	int db_wait_ms;
	char *ingest_metrics_url;
	/* compiled once (gw_api_new): row programs and SELECT lists */
	gw_row_tmpl *t_item, *t_detail, *t_history;
	char *sql_list; /* "SELECT <item columns> FROM alerts" */
	char *sql_get, *sql_history;
	gw_cache *cache; /* borrowed; NULL: none */
};

extern const unsigned char gw_openapi_json[];
extern const size_t gw_openapi_json_len;

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

void
gw_api_error(gw_response *r, unsigned status, const char *code, const char *message,
    const char *parameter)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *e = cJSON_AddObjectToObject(root, "error");
	cJSON_AddStringToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", message);
	if (parameter != NULL && parameter[0] != '\0') {
		cJSON_AddStringToObject(e, "parameter", parameter);
	}
	free(r->body);
	r->body = NULL;
	r->body_static = false;
	r->ctype = NULL;
	respond_json(r, status, root);
}

static void
respond_error(gw_response *r, unsigned status, const char *code, const char *message)
{
	gw_api_error(r, status, code, message, NULL);
}

/* A 400 for a message "param: why" (the parameter is taken from it). */
static void
respond_invalid(gw_response *r, const char *message)
{
	char param[64];
	gw_query_error_param(message, param, sizeof(param));
	gw_api_error(r, 400, "invalid_parameter", message, param);
}

/* The value of parameter key, or NULL. */
static const char *
arg(const gw_request *req, const char *key)
{
	for (size_t i = 0; i < req->nargs; i++) {
		if (req->args[i].key != NULL && strcmp(req->args[i].key, key) == 0) {
			return req->args[i].value != NULL ? req->args[i].value : "";
		}
	}
	return NULL;
}

/* Rejects (400) parameters not in allowed (NULL-terminated), repeated or
 * empty ones.  Returns true when the request may go on. */
static bool
check_params(const gw_request *req, const char *const *allowed, gw_response *resp)
{
	char msg[160];
	for (size_t i = 0; i < req->nargs; i++) {
		const char *k = req->args[i].key != NULL ? req->args[i].key : "";
		bool known = false;
		for (size_t a = 0; allowed[a] != NULL; a++) {
			known = known || strcmp(allowed[a], k) == 0;
		}
		if (!known) {
			snprintf(msg, sizeof(msg), "%.64s: unknown parameter", k);
			respond_invalid(resp, msg);
			return false;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(req->args[j].key, k) == 0) {
				snprintf(msg, sizeof(msg), "%s: given more than once", k);
				respond_invalid(resp, msg);
				return false;
			}
		}
		if (req->args[i].value == NULL || req->args[i].value[0] == '\0') {
			snprintf(msg, sizeof(msg), "%s: empty value", k);
			respond_invalid(resp, msg);
			return false;
		}
	}
	return true;
}

/* ---- columns: SQL expression -> JSON member (pgrow.h) ----------------------------- */

#define TIME_US(c) c

/* What a list item shows. */
static const gw_out_col item_cols[] = {
	{ "id", "id", GW_COL_INT },
	{ "alert_key", "alert_key", GW_COL_TEXT },
	{ "event_id", "event_id", GW_COL_TEXT },
	{ "event_time", TIME_US("event_time"), GW_COL_TIME },
	{ "detected_at", TIME_US("detected_at"), GW_COL_TIME },
	{ "workspace", "workspace", GW_COL_TEXT },
	{ "resource_address", "resource_address", GW_COL_TEXT },
	{ "resource_type", "resource_type", GW_COL_TEXT },
	{ "kind", "kind", GW_COL_TEXT },
	{ "attribute", "attribute", GW_COL_TEXT },
	{ "severity", "severity", GW_COL_TEXT },
	{ "status", "status", GW_COL_TEXT },
	{ "principal.type", "principal_type", GW_COL_TEXT },
	{ "principal.arn", "principal_arn", GW_COL_TEXT },
	{ "principal.name", "principal_name", GW_COL_TEXT },
	{ "principal.account_id", "principal_account", GW_COL_TEXT },
	{ "source_ip", "source_ip", GW_COL_TEXT },
	{ "user_agent", "user_agent", GW_COL_TEXT },
	{ "region", "region", GW_COL_TEXT },
	{ "account_id", "account_id", GW_COL_TEXT },
	{ "event_name", "event_name", GW_COL_TEXT },
	{ "event_source", "event_source", GW_COL_TEXT },
	{ "service", "service", GW_COL_TEXT },
	{ "summary", "summary", GW_COL_TEXT },
	/* old -> new in the table's rows (values already redacted) */
	{ "changes", "changes", GW_COL_JSON },
};

/* What the detail view adds. */
static const gw_out_col detail_cols[] = {
	{ "committed_at", TIME_US("committed_at"), GW_COL_TIME },
	{ "severity_rank", "severity_rank", GW_COL_INT },
	{ "identifiers", "identifiers", GW_COL_JSON },
	{ "principal.role_arn", "principal_role_arn", GW_COL_TEXT },
	{ "principal.session_name", "principal_session", GW_COL_TEXT },
	{ "falco_rule", "falco_rule", GW_COL_TEXT },
	{ "falco_priority", "falco_priority", GW_COL_TEXT },
	{ "recommended_fix", "recommended_fix", GW_COL_TEXT },
	{ "raw_event", "raw_event", GW_COL_JSON },
	{ "status_changed_at", TIME_US("status_changed_at"), GW_COL_TIME },
	{ "status_changed_by", "status_changed_by", GW_COL_TEXT },
};

static const gw_out_col history_cols[] = {
	{ "from_status", "from_status", GW_COL_TEXT },
	{ "to_status", "to_status", GW_COL_TEXT },
	{ "actor", "actor", GW_COL_TEXT },
	{ "note", "note", GW_COL_TEXT },
	{ "at", TIME_US("at"), GW_COL_TIME },
};

/* The size of the last list/detail answer on this thread, so the next one's
 * buffer is allocated once at about the right size. */
static _Thread_local size_t body_hint = 16384;

/* Hands w's text to resp as a 200. */
static void
respond_jw(gw_response *resp, gw_jw *w)
{
	size_t len = w->len;
	resp->body = gw_jw_finish(w);
	if (resp->body == NULL) {
		respond_error(resp, 500, "internal", "out of memory");
		return;
	}
	resp->status = 200;
	if (len + len / 4 > body_hint) {
		body_hint = len + len / 4;
	}
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
		int rv = td_pgpool_acquire(api->pool, api->db_wait_ms, &conn);
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
		td_pgpool_release(api->pool, conn, broken);
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

/* Runs a read query, results in format (0 text, 1 binary); logs failures.
 * *res owned by the caller on success. */
static int
exec_fmt(PGconn *conn, const char *sql, int n, const char *const *vals, int format, PGresult **res)
{
	*res = gw_stmt_exec(conn, sql, n, vals, format);
	if (PQresultStatus(*res) == PGRES_TUPLES_OK) {
		return 0;
	}
	char msg[512];
	snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(*res));
	td_pgpool_one_line(msg);
	TD_WARN("query failed", TD_KV_STR("error", msg));
	PQclear(*res);
	*res = NULL;
	return DB_FAILED;
}

static int
exec(PGconn *conn, const char *sql, int n, const char *const *vals, PGresult **res)
{
	return exec_fmt(conn, sql, n, vals, 0, res);
}

/* For the gw_out_col tables' SELECTs (binary: see gw_col_type). */
static int
exec_bin(PGconn *conn, const char *sql, int n, const char *const *vals, PGresult **res)
{
	return exec_fmt(conn, sql, n, vals, 1, res);
}

/* ---- GET /api/v1/drifts ----------------------------------------------------------------------- */

static int
db_list(gw_api *api, PGconn *conn, void *ctx, gw_response *resp)
{
	const gw_query *q = ctx;
	PGresult *res = NULL;
	size_t len = strlen(api->sql_list) + strlen(q->where) + 1;
	char *sql = malloc(len);
	if (sql == NULL) {
		respond_error(resp, 500, "internal", "out of memory");
		return 0;
	}
	memcpy(sql, api->sql_list, strlen(api->sql_list));
	memcpy(sql + strlen(api->sql_list), q->where, strlen(q->where) + 1);
	int rv = exec_bin(conn, sql, q->nparams, (const char *const *)q->values, &res);
	free(sql);
	if (rv != 0) {
		return rv;
	}

	int rows = PQntuples(res);
	int shown = rows > q->limit ? q->limit : rows;
	gw_jw w;
	gw_jw_init(&w, body_hint);
	gw_jw_lit(&w, "{\"items\":[");
	for (int r = 0; r < shown; r++) {
		if (r > 0) {
			gw_jw_raw(&w, ",", 1);
		}
		gw_row_write(&w, res, r, api->t_item);
	}
	gw_jw_lit(&w, "],\"next_cursor\":");
	if (rows > q->limit) {
		/* More rows exist: the cursor points after the last one shown. */
		char cur[64];
		gw_cursor_encode(gw_row_int(res, shown - 1, 0), cur, sizeof(cur));
		gw_jw_str(&w, cur);
	} else {
		gw_jw_lit(&w, "null");
	}
	gw_jw_raw(&w, "}", 1);
	PQclear(res);
	respond_jw(resp, &w);
	return 0;
}

static void
h_list(gw_api *api, const gw_match *m, const gw_request *req, gw_response *resp)
{
	(void)m;
	gw_query q;
	td_error err = { 0 };
	if (gw_query_build(req->args, req->nargs, &q, &err) != 0) {
		if (err.code == TD_EINVAL) {
			respond_invalid(resp, err.msg);
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
	const char *id = ctx;
	const char *vals[] = { id };
	PGresult *res = NULL, *hist = NULL;
	int rv;

	if ((rv = exec_bin(conn, api->sql_get, 1, vals, &res)) != 0) {
		return rv;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		char msg[96];
		snprintf(msg, sizeof(msg), "no drift with id %s", id);
		respond_error(resp, 404, "not_found", msg);
		return 0;
	}
	if ((rv = exec_bin(conn, api->sql_history, 1, vals, &hist)) != 0) {
		PQclear(res);
		return rv;
	}

	gw_jw w;
	gw_jw_init(&w, body_hint);
	gw_row_write(&w, res, 0, api->t_detail);
	w.len -= w.oom ? 0 : 1; /* reopen the object for status_history */
	gw_jw_lit(&w, ",\"status_history\":[");
	for (int r = 0; r < PQntuples(hist); r++) {
		if (r > 0) {
			gw_jw_raw(&w, ",", 1);
		}
		gw_row_write(&w, hist, r, api->t_history);
	}
	gw_jw_lit(&w, "]");
	PQclear(res);
	PQclear(hist);
	if ((rv = gw_deliveries_append(conn, id, &w)) != 0) {
		gw_jw_free(&w);
		return rv;
	}
	gw_jw_lit(&w, "}");
	respond_jw(resp, &w);
	return 0;
}

/* Parses the {id} capture: digits only, no sign, space or hex; canon gets
 * the canonical spelling.  Fills resp and returns false when it is bad. */
static bool
parse_id(const char *id, char *canon, size_t len, gw_response *resp)
{
	char *end = NULL;
	errno = 0;
	long long v = strtoll(id, &end, 10);
	if (id[0] < '0' || id[0] > '9' || *end != '\0' || errno != 0 || v <= 0) {
		gw_api_error(resp, 400, "invalid_parameter", "id: must be a positive integer",
		    "id");
		return false;
	}
	snprintf(canon, len, "%lld", v);
	return true;
}

static const char *const no_params[] = { NULL };

static void
h_get(gw_api *api, const gw_match *m, const gw_request *req, gw_response *resp)
{
	char canon[32];
	if (!check_params(req, no_params, resp) ||
	    !parse_id(m->captures[0], canon, sizeof(canon), resp)) {
		return;
	}
	with_db(api, db_get, canon, resp);
}

/* ---- PATCH /api/v1/drifts/{id} ----------------------------------------------------------- */

/* Which status changes are allowed: from -> to.  "reopened" is the request
 * word for going back to open. */
typedef struct transition {
	const char *from, *to;
} transition;

static const transition transitions[] = {
	{ "open", "acknowledged" },
	{ "open", "resolved" },
	{ "open", "ignored" },
	{ "acknowledged", "resolved" },
	{ "acknowledged", "ignored" },
	{ "acknowledged", "open" },
	{ "resolved", "open" },
	{ "ignored", "open" },
};

typedef struct patch_ctx {
	char id[32];
	const char *to; /* a schema status */
	const char *note;
	const char *actor;
} patch_ctx;

/* Runs a command that returns no rows. */
static int
exec_cmd(PGconn *conn, const char *sql, int n, const char *const *vals, PGresult **res)
{
	*res = PQexecParams(conn, sql, n, NULL, vals, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(*res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		return 0;
	}
	char msg[512];
	snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(*res));
	td_pgpool_one_line(msg);
	TD_WARN("status change failed", TD_KV_STR("error", msg));
	PQclear(*res);
	*res = NULL;
	return DB_FAILED;
}

static int
db_patch(gw_api *api, PGconn *conn, void *vctx, gw_response *resp)
{
	patch_ctx *c = vctx;
	PGresult *res = NULL;
	const char *idv[] = { c->id };
	int rv;
	if ((rv = exec_cmd(conn, "BEGIN", 0, NULL, &res)) != 0) {
		return rv;
	}
	PQclear(res);
	if ((rv = exec_cmd(conn, "SELECT status FROM alerts WHERE id = $1::bigint FOR UPDATE", 1,
		 idv, &res)) != 0) {
		goto rollback;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		char msg[96];
		snprintf(msg, sizeof(msg), "no drift with id %s", c->id);
		respond_error(resp, 404, "not_found", msg);
		goto rollback_answered;
	}
	char from[32];
	snprintf(from, sizeof(from), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	bool allowed = false;
	for (size_t i = 0; i < NELEM(transitions); i++) {
		allowed = allowed ||
		    (strcmp(transitions[i].from, from) == 0 &&
			strcmp(transitions[i].to, c->to) == 0);
	}
	if (!allowed) {
		char msg[160];
		snprintf(msg, sizeof(msg), "status: cannot go from %s to %s", from, c->to);
		gw_api_error(resp, 409, "conflict", msg, "status");
		goto rollback_answered;
	}
	const char *uv[] = { c->id, c->to, c->actor };
	if ((rv = exec_cmd(conn,
		 "UPDATE alerts SET status = $2, status_changed_at = now(), "
		 "status_changed_by = $3 WHERE id = $1::bigint",
		 3, uv, &res)) != 0) {
		goto rollback;
	}
	PQclear(res);
	const char *hv[] = { c->id, from, c->to, c->actor, c->note };
	if ((rv = exec_cmd(conn,
		 "INSERT INTO alert_status_history (alert_id, from_status, to_status, actor, note) "
		 "VALUES ($1::bigint, $2, $3, $4, $5)",
		 5, hv, &res)) != 0) {
		goto rollback;
	}
	PQclear(res);
	if ((rv = exec_cmd(conn, "COMMIT", 0, NULL, &res)) != 0) {
		return rv;
	}
	PQclear(res);
	TD_INFO("status changed", TD_KV_STR("id", c->id), TD_KV_STR("from", from),
	    TD_KV_STR("to", c->to), TD_KV_STR("actor", c->actor));
	/* The answer is the alert as it now is, history included. */
	return db_get(api, conn, c->id, resp);

rollback_answered:
	rv = 0;
rollback:
	res = PQexec(conn, "ROLLBACK");
	PQclear(res);
	return rv;
}

static void
h_patch(gw_api *api, const gw_match *m, const gw_request *req, gw_response *resp)
{
	patch_ctx c = { .note = "" };
	gw_patch *body = NULL;
	if (!check_params(req, no_params, resp) ||
	    !parse_id(m->captures[0], c.id, sizeof(c.id), resp)) {
		return;
	}
	/* owned here; c.note points into it until with_db returns */
	if ((body = malloc(sizeof(*body))) == NULL) {
		respond_error(resp, 500, "internal", "out of memory");
		return;
	}
	switch (gw_patch_parse(req->body, req->body_len, body)) {
	case GW_PATCH_OK: break;
	case GW_PATCH_BAD_BODY: respond_error(resp, 400, "bad_request", body->msg); goto out;
	default: gw_api_error(resp, 400, "invalid_parameter", body->msg, body->param); goto out;
	}
	c.to = body->to;
	c.note = body->note;
	c.actor = resp->who.name[0] != '\0' ? resp->who.name : "anonymous";
	with_db(api, db_patch, &c, resp);
out:
	free(body);
}

/* ---- GET /api/v1/stats ------------------------------------------------------------------------------- */

typedef struct stat_group {
	const char *name; /* the JSON member and the SQL label */
	const char *column;
	const char *const *values; /* NULL: the values found, largest first */
	const size_t *nvalues;
} stat_group;

static const stat_group stat_groups[] = {
	{ "by_severity", "severity", td_severity_names, &td_severity_count },
	{ "by_kind", "kind", td_kind_names, &td_kind_count },
	{ "by_status", "status", gw_statuses, &gw_nstatuses },
	{ "by_service", "service", NULL, NULL },
	{ "by_workspace", "workspace", NULL, NULL },
};

typedef struct stats_ctx {
	char since[64], until[64]; /* canonical RFC 3339 */
	bool ranged;               /* since or until given: groups count the range only */
} stats_ctx;

static int
db_stats(gw_api *api, PGconn *conn, void *vctx, gw_response *resp)
{
	(void)api;
	stats_ctx *c = vctx;
	const char *vals[] = { c->since, c->until };
	const char *where = c->ranged ? " WHERE detected_at >= $1::timestamptz AND detected_at < "
					"$2::timestamptz"
				      : " WHERE $1::text IS NOT NULL AND $2::text IS NOT NULL";
	char sql[4096] = "";
	for (size_t g = 0; g < NELEM(stat_groups); g++) {
		size_t used = strlen(sql);
		snprintf(sql + used, sizeof(sql) - used,
		    "%s(SELECT '%s', %s, count(*) FROM alerts%s GROUP BY %s ORDER BY 3 DESC, 2 "
		    "LIMIT %d)",
		    g ? " UNION ALL " : "", stat_groups[g].name, stat_groups[g].column, where,
		    stat_groups[g].column, STATS_TOP);
	}
	PGresult *res = NULL, *days = NULL;
	int rv = exec(conn, sql, 2, vals, &res);
	if (rv != 0) {
		return rv;
	}
	/* One row per UTC day of the range, zeros included. */
	static const char days_sql[] =
	    "SELECT to_char(d, 'YYYY-MM-DD'), coalesce(c.n, 0), coalesce(c.info, 0), "
	    "coalesce(c.low, 0), coalesce(c.medium, 0), coalesce(c.high, 0), "
	    "coalesce(c.critical, 0) FROM generate_series("
	    "date_trunc('day', $1::timestamptz AT TIME ZONE 'UTC'), "
	    "date_trunc('day', ($2::timestamptz - interval '1 microsecond') AT TIME ZONE 'UTC'), "
	    "interval '1 day') AS d LEFT JOIN (SELECT date_trunc('day', detected_at AT TIME ZONE "
	    "'UTC') AS day, count(*) AS n, count(*) FILTER (WHERE severity_rank = 1) AS info, "
	    "count(*) FILTER (WHERE severity_rank = 2) AS low, count(*) FILTER (WHERE "
	    "severity_rank = 3) AS medium, count(*) FILTER (WHERE severity_rank = 4) AS high, "
	    "count(*) FILTER (WHERE severity_rank = 5) AS critical FROM alerts WHERE "
	    "detected_at >= $1::timestamptz AND detected_at < $2::timestamptz GROUP BY 1) AS c "
	    "ON c.day = d ORDER BY d";
	if ((rv = exec(conn, days_sql, 2, vals, &days)) != 0) {
		PQclear(res);
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
		if (sg->values == NULL) {
			for (int r = 0; !oom && r < PQntuples(res); r++) {
				if (strcmp(PQgetvalue(res, r, 0), sg->name) == 0) {
					oom = cJSON_AddNumberToObject(o, PQgetvalue(res, r, 1),
						  (double)strtoll(PQgetvalue(res, r, 2), NULL,
						      10)) == NULL;
				}
			}
			continue;
		}
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
	cJSON *range = oom ? NULL : cJSON_AddObjectToObject(root, "range");
	oom = oom || range == NULL || cJSON_AddStringToObject(range, "since", c->since) == NULL ||
	    cJSON_AddStringToObject(range, "until", c->until) == NULL;
	cJSON *pd = oom ? NULL : cJSON_AddArrayToObject(root, "per_day");
	oom = oom || pd == NULL;
	for (int r = 0; !oom && r < PQntuples(days); r++) {
		cJSON *d = cJSON_CreateObject();
		oom = d == NULL || !cJSON_AddItemToArray(pd, d) ||
		    cJSON_AddStringToObject(d, "date", PQgetvalue(days, r, 0)) == NULL ||
		    cJSON_AddNumberToObject(d, "count",
			(double)strtoll(PQgetvalue(days, r, 1), NULL, 10)) == NULL;
		cJSON *bs = oom ? NULL : cJSON_AddObjectToObject(d, "by_severity");
		oom = oom || bs == NULL;
		for (size_t s = 0; !oom && s < td_severity_count; s++) {
			oom = cJSON_AddNumberToObject(bs, td_severity_names[s],
				  (double)strtoll(PQgetvalue(days, r, 2 + (int)s), NULL, 10)) ==
			    NULL;
		}
	}
	PQclear(res);
	PQclear(days);
	if (oom) {
		cJSON_Delete(root);
		respond_error(resp, 500, "internal", "out of memory");
		return 0;
	}
	cJSON_SetNumberValue(total, sum);
	respond_json(resp, 200, root);
	return 0;
}

/* Parses an RFC 3339 parameter into its canonical text; 400 when bad. */
static bool
time_param(const gw_request *req, const char *key, int64_t *ns, bool *given, gw_response *resp)
{
	const char *v = arg(req, key);
	*given = v != NULL;
	if (v == NULL) {
		return true;
	}
	if (td_clock_parse(v, ns) != 0) {
		char msg[160];
		snprintf(msg, sizeof(msg),
		    "%s: '%.64s' is not an RFC 3339 time (e.g. 2026-11-26T15:04:05Z)", key, v);
		respond_invalid(resp, msg);
		return false;
	}
	return true;
}

static void
h_stats(gw_api *api, const gw_match *m, const gw_request *req, gw_response *resp)
{
	static const char *const allowed[] = { "since", "until", NULL };
	(void)m;
	stats_ctx c = { .ranged = false };
	int64_t since = 0, until = 0;
	bool have_since, have_until;
	if (!check_params(req, allowed, resp) ||
	    !time_param(req, "since", &since, &have_since, resp) ||
	    !time_param(req, "until", &until, &have_until, resp)) {
		return;
	}
	const int64_t day = 86400LL * 1000000000LL;
	if (!have_until) {
		until = td_clock_now_ns();
	}
	if (!have_since) {
		/* the last STATS_DEFAULT_DAYS whole days up to until */
		since = (until / day - (STATS_DEFAULT_DAYS - 1)) * day;
	}
	if (until <= since) {
		respond_invalid(resp, "until: must be later than since");
		return;
	}
	if ((until - since) / day > STATS_MAX_DAYS) {
		respond_invalid(resp, "since: the range may cover at most 366 days");
		return;
	}
	c.ranged = have_since || have_until;
	td_clock_format(since, 6, c.since, sizeof(c.since));
	td_clock_format(until, 6, c.until, sizeof(c.until));
	with_db(api, db_stats, &c, resp);
}

/* ---- Redis-backed: /workspaces, /resources/{address}, /graph -------------------------- */

/* Maps a graph error to a response. */
static void
respond_redis(gw_response *resp, const td_error *err)
{
	switch (err->code) {
	case TD_EINVAL:
	case TD_ERANGE:
	case TD_EEXIST: respond_invalid(resp, err->msg); break;
	case TD_ENOTFOUND: respond_error(resp, 404, "not_found", err->msg); break;
	case TD_ENOMEM: respond_error(resp, 500, "internal", "out of memory"); break;
	default:
		TD_WARN("redis read failed", TD_KV_STR("error", err->msg));
		respond_error(resp, 503, "unavailable", "redis unavailable");
		break;
	}
}

static void
h_workspaces(gw_api *api, const gw_match *m, const gw_request *req, gw_response *resp)
{
	(void)m;
	td_error err = { 0 };
	cJSON *arr = NULL;
	if (!check_params(req, no_params, resp)) {
		return;
	}
	if (gw_graph_workspaces(api->graph, &arr, &err) != 0) {
		respond_redis(resp, &err);
		return;
	}
	cJSON *root = cJSON_CreateObject();
	if (root == NULL) {
		cJSON_Delete(arr);
		respond_error(resp, 500, "internal", "out of memory");
		return;
	}
	cJSON_AddItemToObject(root, "items", arr);
	respond_json(resp, 200, root);
}

typedef struct resource_ctx {
	const char *workspace; /* NULL: any */
	const char *address;
	cJSON *root; /* the answer, completed here */
} resource_ctx;

static int
db_resource_drifts(gw_api *api, PGconn *conn, void *vctx, gw_response *resp)
{
	(void)api;
	resource_ctx *c = vctx;
	char cols[2048] = "", sql[3072];
	gw_row_select_list(cols, sizeof(cols), item_cols, NELEM(item_cols));
	snprintf(sql, sizeof(sql),
	    "SELECT %s FROM alerts WHERE resource_address = $1 AND ($2::text IS NULL OR "
	    "workspace = $2) ORDER BY id DESC LIMIT %d",
	    cols, RESOURCE_DRIFTS);
	const char *vals[] = { c->address, c->workspace };
	PGresult *res = NULL;
	int rv = exec_bin(conn, sql, 2, vals, &res);
	if (rv != 0) {
		return rv;
	}
	cJSON *items = cJSON_AddArrayToObject(c->root, "drifts");
	bool oom = items == NULL;
	for (int r = 0; !oom && r < PQntuples(res); r++) {
		cJSON *it = cJSON_CreateObject();
		oom = it == NULL || !cJSON_AddItemToArray(items, it) ||
		    gw_row_add(it, res, r, 0, item_cols, NELEM(item_cols)) != 0;
	}
	PQclear(res);
	(void)resp;
	return oom ? TD_ENOMEM : 0;
}

static void
h_resource(gw_api *api, const gw_match *m, const gw_request *req, gw_response *resp)
{
	static const char *const allowed[] = { "workspace", NULL };
	td_error err = { 0 };
	cJSON *attrs = NULL;
	char *ws = NULL;
	if (!check_params(req, allowed, resp)) {
		return;
	}
	const char *address = m->captures[0];
	const char *workspace = arg(req, "workspace");
	int rv = gw_graph_resource(api->graph, workspace, address, &attrs, &ws, &err);
	if (rv != 0 && rv != TD_ENOTFOUND) {
		respond_redis(resp, &err);
		return;
	}
	resource_ctx c = { .workspace = ws != NULL ? ws : workspace, .address = address };
	c.root = cJSON_CreateObject();
	char type[128], module[512];
	gw_address_parts(address, type, sizeof(type), module, sizeof(module));
	cJSON_AddStringToObject(c.root, "address", address);
	if (c.workspace != NULL) {
		cJSON_AddStringToObject(c.root, "workspace", c.workspace);
	} else {
		cJSON_AddNullToObject(c.root, "workspace");
	}
	cJSON_AddStringToObject(c.root, "type", type);
	cJSON_AddStringToObject(c.root, "module", module);
	cJSON_AddBoolToObject(c.root, "in_state", attrs != NULL);
	if (attrs != NULL) {
		cJSON_AddItemToObject(c.root, "attributes", attrs);
	} else {
		cJSON_AddNullToObject(c.root, "attributes");
	}
	with_db(api, db_resource_drifts, &c, resp);
	if (resp->body == NULL && resp->status == 0) {
		cJSON *d = cJSON_GetObjectItemCaseSensitive(c.root, "drifts");
		if (attrs == NULL && cJSON_GetArraySize(d) == 0) {
			respond_error(resp, 404, "not_found",
			    err.msg[0] ? err.msg : "no such resource");
			cJSON_Delete(c.root);
		} else {
			respond_json(resp, 200, c.root);
		}
	} else {
		cJSON_Delete(c.root);
	}
	free(ws);
}

/* A PostgreSQL text[] literal of the strings (each quoted).  Owned by caller. */
static char *
pg_array(const char *const *v, size_t n)
{
	size_t cap = 3;
	for (size_t i = 0; i < n; i++) {
		cap += 2 * strlen(v[i]) + 3;
	}
	char *s = malloc(cap), *o = s;
	if (s == NULL) {
		return NULL;
	}
	*o++ = '{';
	for (size_t i = 0; i < n; i++) {
		if (i > 0) {
			*o++ = ',';
		}
		*o++ = '"';
		for (const char *p = v[i]; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\') {
				*o++ = '\\';
			}
			*o++ = *p;
		}
		*o++ = '"';
	}
	*o++ = '}';
	*o = '\0';
	return s;
}

typedef struct graph_ctx {
	gw_graph_page *page;
	long long *count; /* per node: open drifts */
	int *worst;       /* per node: worst open severity rank, 0 none */
} graph_ctx;

static int
db_graph_counts(gw_api *api, PGconn *conn, void *vctx, gw_response *resp)
{
	(void)api;
	(void)resp;
	graph_ctx *c = vctx;
	size_t n = c->page->n;
	const char **ws = calloc(n + 1, sizeof(*ws)), **ad = calloc(n + 1, sizeof(*ad));
	char *wa = NULL, *aa = NULL;
	PGresult *res = NULL;
	int rv = TD_ENOMEM;
	if (ws == NULL || ad == NULL) {
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		ws[i] = c->page->nodes[i].workspace;
		ad[i] = c->page->nodes[i].address;
	}
	if ((wa = pg_array(ws, n)) == NULL || (aa = pg_array(ad, n)) == NULL) {
		goto out;
	}
	const char *vals[] = { wa, aa };
	rv = exec(conn,
	    "SELECT a.workspace, a.resource_address, count(*), max(a.severity_rank) FROM alerts a "
	    "JOIN unnest($1::text[], $2::text[]) AS p(w, r) ON a.workspace = p.w AND "
	    "a.resource_address = p.r WHERE a.status IN ('open', 'acknowledged') GROUP BY 1, 2",
	    2, vals, &res);
	if (rv != 0) {
		goto out;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		for (size_t i = 0; i < n; i++) {
			if (strcmp(ws[i], PQgetvalue(res, r, 0)) == 0 &&
			    strcmp(ad[i], PQgetvalue(res, r, 1)) == 0) {
				c->count[i] = strtoll(PQgetvalue(res, r, 2), NULL, 10);
				c->worst[i] = (int)strtol(PQgetvalue(res, r, 3), NULL, 10);
			}
		}
	}
	PQclear(res);
out:
	free(ws);
	free(ad);
	free(wa);
	free(aa);
	return rv == TD_ENOMEM ? DB_FAILED : rv;
}

/* "true"/"false" for a boolean parameter; 400 otherwise. */
static bool
bool_param(const gw_request *req, const char *key, bool *out, gw_response *resp)
{
	const char *v = arg(req, key);
	*out = false;
	if (v == NULL || strcmp(v, "false") == 0) {
		return true;
	}
	if (strcmp(v, "true") == 0) {
		*out = true;
		return true;
	}
	char msg[128];
	snprintf(msg, sizeof(msg), "%s: must be true or false", key);
	respond_invalid(resp, msg);
	return false;
}

static void
h_graph(gw_api *api, const gw_match *m, const gw_request *req, gw_response *resp)
{
	static const char *const allowed[] = { "workspace", "type", "module", "drifted_only",
		"limit", "cursor", NULL };
	(void)m;
	gw_graph_page page = { 0 };
	graph_ctx c = { .page = &page };
	td_error err = { 0 };
	bool drifted_only;
	cJSON *root = NULL;
	if (!check_params(req, allowed, resp) ||
	    !bool_param(req, "drifted_only", &drifted_only, resp)) {
		return;
	}
	gw_graph_filter f = { .workspace = arg(req, "workspace"),
		.type = arg(req, "type"),
		.module = arg(req, "module"),
		.cursor = arg(req, "cursor"),
		.limit = GRAPH_LIMIT_DEFAULT };
	const char *lim = arg(req, "limit");
	if (lim != NULL) {
		char *end = NULL;
		errno = 0;
		long v = strtol(lim, &end, 10);
		if (*end != '\0' || errno != 0 || v < 1 || v > GRAPH_LIMIT_MAX) {
			respond_invalid(resp, "limit: must be between 1 and 5000");
			return;
		}
		f.limit = (int)v;
	}
	if (f.module != NULL && strncmp(f.module, "module.", 7) != 0) {
		respond_invalid(resp, "module: must start with module. (e.g. module.network)");
		return;
	}
	if (f.module != NULL && f.workspace == NULL) {
		respond_invalid(resp, "workspace: required with module");
		return;
	}
	if (gw_graph_page_read(api->graph, &f, &page, &err) != 0) {
		respond_redis(resp, &err);
		goto out;
	}
	c.count = calloc(page.n + 1, sizeof(*c.count));
	c.worst = calloc(page.n + 1, sizeof(*c.worst));
	if (c.count == NULL || c.worst == NULL) {
		respond_error(resp, 500, "internal", "out of memory");
		goto out;
	}
	if (page.n > 0) {
		with_db(api, db_graph_counts, &c, resp);
		if (resp->body != NULL) {
			goto out;
		}
	}
	root = cJSON_CreateObject();
	cJSON *el = cJSON_AddObjectToObject(root, "elements");
	cJSON *nodes = cJSON_AddArrayToObject(el, "nodes");
	for (size_t i = 0; i < page.n; i++) {
		if (drifted_only && c.count[i] == 0) {
			continue;
		}
		const gw_graph_node *nd = &page.nodes[i];
		char id[2048];
		snprintf(id, sizeof(id), "%s:%s", nd->workspace, nd->address);
		cJSON *o = cJSON_CreateObject();
		cJSON *d = cJSON_AddObjectToObject(o, "data");
		cJSON_AddStringToObject(d, "id", id);
		cJSON_AddStringToObject(d, "label", nd->address);
		cJSON_AddStringToObject(d, "workspace", nd->workspace);
		cJSON_AddStringToObject(d, "address", nd->address);
		cJSON_AddStringToObject(d, "type", nd->type);
		cJSON_AddStringToObject(d, "module", nd->module);
		cJSON_AddNumberToObject(d, "drift_count", (double)c.count[i]);
		if (c.worst[i] > 0) {
			cJSON_AddStringToObject(d, "worst_severity",
			    td_severity_names[c.worst[i] - 1]);
		} else {
			cJSON_AddNullToObject(d, "worst_severity");
		}
		if (nd->parent != NULL) {
			cJSON_AddStringToObject(d, "parent", nd->parent);
		} else {
			cJSON_AddNullToObject(d, "parent");
		}
		cJSON_AddItemToArray(nodes, o);
	}
	cJSON_AddItemToObject(el, "edges", page.edges);
	page.edges = NULL;
	cJSON_AddNumberToObject(root, "generation", (double)page.generation);
	if (page.next_cursor[0] != '\0') {
		cJSON_AddStringToObject(root, "next_cursor", page.next_cursor);
	} else {
		cJSON_AddNullToObject(root, "next_cursor");
	}
	respond_json(resp, 200, root);
out:
	free(c.count);
	free(c.worst);
	gw_graph_page_free(&page);
}

/* ---- GET /api/v1/health ------------------------------------------------------------------------------ */

static void
h_health(gw_api *api, const gw_match *m, const gw_request *req, gw_response *resp)
{
	(void)m;
	if (!check_params(req, no_params, resp)) {
		return;
	}
	/* From state the pool and the SUB keep current: a health probe must not
	 * queue behind busy connections. */
	bool db = td_pgpool_up(api->pool);
	bool feed = gw_feed_connected(api->feed);
	bool state = gw_feed_state_connected(api->feed);
	td_error err = { 0 };
	uint64_t gen = 0;
	bool redis = api->graph != NULL && gw_graph_ping(api->graph, &gen, &err) == 0;
	bool ok = db && feed && state && redis;
	cJSON *root = cJSON_CreateObject();
	cJSON *checks = cJSON_AddObjectToObject(root, "checks");
	cJSON *pg = cJSON_AddObjectToObject(checks, "postgres");
	cJSON_AddBoolToObject(pg, "ok", db);
	cJSON_AddNumberToObject(pg, "connections", td_pgpool_open_count(api->pool));
	if (!db) {
		char why[256];
		td_pgpool_last_error(api->pool, why, sizeof(why));
		cJSON_AddStringToObject(pg, "error", why);
	}
	cJSON *rd = cJSON_AddObjectToObject(checks, "redis");
	cJSON_AddBoolToObject(rd, "ok", redis);
	cJSON_AddNumberToObject(rd, "generation", (double)gen);
	if (!redis) {
		cJSON_AddStringToObject(rd, "error", err.msg[0] ? err.msg : "not configured");
	}
	cJSON *af = cJSON_AddObjectToObject(checks, "alerts_feed");
	cJSON_AddBoolToObject(af, "connected", feed);
	cJSON *sf = cJSON_AddObjectToObject(checks, "state_feed");
	cJSON_AddBoolToObject(sf, "connected", state);
	cJSON_AddNumberToObject(sf, "generation", (double)gw_feed_state_generation(api->feed));
	if (api->ingest_metrics_url != NULL && api->ingest_metrics_url[0] != '\0') {
		cJSON *pl = cJSON_AddObjectToObject(checks, "pipeline");
		double last = 0;
		char why[256];
		if (gw_ingest_last_event(api->ingest_metrics_url, &last, why, sizeof(why)) == 0) {
			cJSON_AddBoolToObject(pl, "ok", true);
			if (last > 0) {
				double age = (double)td_clock_now_ns() / 1e9 - last;
				cJSON_AddNumberToObject(pl, "last_event_age_seconds",
				    round(age * 1000) / 1000);
			} else {
				cJSON_AddNullToObject(pl, "last_event_age_seconds");
			}
		} else {
			ok = false;
			cJSON_AddBoolToObject(pl, "ok", false);
			cJSON_AddNullToObject(pl, "last_event_age_seconds");
			cJSON_AddStringToObject(pl, "error", why);
		}
	}
	cJSON_AddStringToObject(root, "status", ok ? "ok" : "degraded");
	respond_json(resp, 200, root);
}

/* ---- GET /openapi.json ---------------------------------------------------------------------------------- */

static void
h_openapi(gw_api *api, const gw_match *m, const gw_request *req, gw_response *resp)
{
	(void)api;
	(void)m;
	(void)req;
	resp->status = 200;
	resp->body = (char *)gw_openapi_json;
	resp->body_static = true;
}

/* ---- silences (notify.h) ------------------------------------------------------------------------- */

static int
db_silences_list(gw_api *api, PGconn *conn, void *ctx, gw_response *resp)
{
	(void)api;
	(void)ctx;
	return gw_silences_list(conn, resp);
}

static int
db_silence_new(gw_api *api, PGconn *conn, void *ctx, gw_response *resp)
{
	(void)api;
	return gw_silences_create(conn, ctx, resp);
}

static int
db_silence_end(gw_api *api, PGconn *conn, void *ctx, gw_response *resp)
{
	(void)api;
	return gw_silences_end(conn, ctx, resp);
}

static void
h_silences(gw_api *api, const gw_match *m, const gw_request *req, gw_response *resp)
{
	(void)m;
	if (check_params(req, no_params, resp)) {
		with_db(api, db_silences_list, NULL, resp);
	}
}

static void
h_silence_new(gw_api *api, const gw_match *m, const gw_request *req, gw_response *resp)
{
	(void)m;
	if (check_params(req, no_params, resp)) {
		with_db(api, db_silence_new, (void *)req, resp);
	}
}

static void
h_silence_end(gw_api *api, const gw_match *m, const gw_request *req, gw_response *resp)
{
	char canon[32];
	if (check_params(req, no_params, resp) &&
	    parse_id(m->captures[0], canon, sizeof(canon), resp)) {
		with_db(api, db_silence_end, canon, resp);
	}
}

/* ---- routing ----------------------------------------------------------------------------------------- */

typedef void (
    *handler_fn)(gw_api *api, const gw_match *m, const gw_request *req, gw_response *resp);

typedef struct handler {
	handler_fn fn;
	gw_role role;   /* the least role that may call it; NONE: open */
	bool cacheable; /* its 200 answers may be kept (cache.h) */
} handler;

enum {
	H_LIST,
	H_GET,
	H_PATCH,
	H_STATS,
	H_WORKSPACES,
	H_RESOURCE,
	H_GRAPH,
	H_HEALTH,
	H_OPENAPI,
	H_SILENCES,
	H_SILENCE_NEW,
	H_SILENCE_END
};

static const handler handlers[] = {
	[H_LIST] = { h_list, GW_ROLE_VIEWER, true },
	[H_GET] = { h_get, GW_ROLE_VIEWER, false },
	[H_PATCH] = { h_patch, GW_ROLE_OPERATOR, false },
	[H_STATS] = { h_stats, GW_ROLE_VIEWER, true },
	[H_WORKSPACES] = { h_workspaces, GW_ROLE_VIEWER, false },
	[H_RESOURCE] = { h_resource, GW_ROLE_VIEWER, false },
	[H_GRAPH] = { h_graph, GW_ROLE_VIEWER, false },
	[H_HEALTH] = { h_health, GW_ROLE_VIEWER, false },
	[H_OPENAPI] = { h_openapi, GW_ROLE_NONE, false },
	[H_SILENCES] = { h_silences, GW_ROLE_VIEWER, false },
	[H_SILENCE_NEW] = { h_silence_new, GW_ROLE_OPERATOR, false },
	[H_SILENCE_END] = { h_silence_end, GW_ROLE_OPERATOR, false },
};

static const gw_route routes[] = {
	{ "GET", "/api/v1/drifts", H_LIST },
	{ "GET", "/api/v1/drifts/{id}", H_GET },
	{ "PATCH", "/api/v1/drifts/{id}", H_PATCH },
	{ "GET", "/api/v1/stats", H_STATS },
	{ "GET", "/api/v1/workspaces", H_WORKSPACES },
	{ "GET", "/api/v1/resources/{address}", H_RESOURCE },
	{ "GET", "/api/v1/graph", H_GRAPH },
	{ "GET", "/api/v1/health", H_HEALTH },
	{ "GET", "/api/v1/openapi.json", H_OPENAPI },
	{ "GET", "/openapi.json", H_OPENAPI },
	{ "GET", "/api/v1/silences", H_SILENCES },
	{ "POST", "/api/v1/silences", H_SILENCE_NEW },
	{ "DELETE", "/api/v1/silences/{id}", H_SILENCE_END },
};

/* Fills resp->who from the request's credentials.  Returns false with the
 * 401 written when they do not name a known token. */
static bool
authenticate(gw_api *api, const gw_request *req, bool allow_query, gw_response *resp)
{
	const char *secret = td_secret_bearer(req->authorization);
	if (secret == NULL && allow_query) {
		secret = arg(req, "access_token");
	}
	int rv = gw_auth_check(api->auth, secret, &resp->who);
	if (rv == 0) {
		return true;
	}
	td_counter_inc(td_counter_get("tfdrift_gateway_auth_failures_total",
	    "Requests refused for a missing or unknown API token.", NULL));
	resp->www_auth = true;
	if (req->authorization != NULL && td_secret_bearer(req->authorization) == NULL) {
		respond_error(resp, 401, "unauthorized",
		    "the Authorization header must be: Bearer <token>");
	} else if (rv == TD_ENOTFOUND) {
		respond_error(resp, 401, "unauthorized",
		    "an API token is required (Authorization: Bearer <token>)");
	} else {
		respond_error(resp, 401, "unauthorized", "unknown API token");
	}
	return false;
}

int
gw_api_auth_feed(gw_api *api, const gw_request *req, gw_identity *who, gw_response *resp)
{
	if (!authenticate(api, req, true, resp)) {
		return TD_EINVAL;
	}
	*who = resp->who;
	return 0;
}

/* Runs a cacheable handler through the response cache (the caller has
 * authenticated the request and checked its role). */
static void
serve_cached(gw_api *api, const handler *h, const gw_match *m, const gw_request *req,
    gw_response *resp)
{
	char *key = gw_cache_key(req->path, req->args, req->nargs);
	size_t len = 0;
	bool leader = false;
	char *body = key != NULL ? gw_cache_get(api->cache, key, &len, &leader) : NULL;
	if (body != NULL) {
		resp->status = 200;
		resp->body = body;
		resp->cache = "hit";
		free(key);
		return;
	}
	uint64_t gen = gw_cache_generation(api->cache); /* before the database is read */
	h->fn(api, m, req, resp);
	if (key != NULL && resp->status == 200 && resp->body != NULL && !resp->body_static &&
	    resp->ctype == NULL) {
		gw_cache_put(api->cache, key, gen, resp->body, strlen(resp->body));
	}
	if (leader) {
		gw_cache_done(api->cache, key);
	}
	resp->cache = "miss";
	free(key);
}

void
gw_api_serve(gw_api *api, const gw_request *req, gw_response *resp)
{
	gw_match m;
	memset(resp, 0, sizeof(*resp));
	resp->route = "unmatched";
	switch (gw_router_match(routes, NELEM(routes), req->method, req->path, &m)) {
	case GW_ROUTE_FOUND: {
		const handler *h = &handlers[m.route->handler];
		resp->route = m.route->pattern;
		if (h->role != GW_ROLE_NONE) {
			if (!authenticate(api, req, false, resp)) {
				return;
			}
			if (resp->who.role < h->role) {
				char msg[160];
				snprintf(msg, sizeof(msg), "this needs the %s role; token %s is %s",
				    gw_role_name(h->role), resp->who.name,
				    gw_role_name(resp->who.role));
				respond_error(resp, 403, "forbidden", msg);
				return;
			}
		}
		if (h->cacheable && api->cache != NULL) {
			serve_cached(api, h, &m, req, resp);
			return;
		}
		h->fn(api, &m, req, resp);
		if (m.route->handler == H_PATCH && resp->status == 200 && api->cache != NULL) {
			gw_cache_invalidate(api->cache); /* a status changed */
		}
		return;
	}
	case GW_ROUTE_BAD_METHOD: {
		char msg[128];
		snprintf(msg, sizeof(msg), "%.16s is not allowed here; use %s", req->method,
		    m.allow);
		snprintf(resp->allow, sizeof(resp->allow), "%s", m.allow);
		respond_error(resp, 405, "method_not_allowed", msg);
		return;
	}
	default: {
		char msg[320];
		snprintf(msg, sizeof(msg), "no such resource: %.256s", req->path);
		respond_error(resp, 404, "not_found", msg);
		return;
	}
	}
}

/* *out owned by caller. */
/* The SELECT texts and row programs every list and detail answer uses. */
static int
compile(gw_api *api)
{
	char cols[3072] = "", sql[4096];
	const gw_col_set item[] = { { item_cols, NELEM(item_cols), 0 } };
	const gw_col_set detail[] = {
		{ item_cols, NELEM(item_cols), 0 },
		{ detail_cols, NELEM(detail_cols), (int)NELEM(item_cols) },
	};
	const gw_col_set history[] = { { history_cols, NELEM(history_cols), 0 } };
	if (gw_row_tmpl_new(&api->t_item, item, NELEM(item)) != 0 ||
	    gw_row_tmpl_new(&api->t_detail, detail, NELEM(detail)) != 0 ||
	    gw_row_tmpl_new(&api->t_history, history, NELEM(history)) != 0) {
		return TD_ENOMEM;
	}

	gw_row_select_list(cols, sizeof(cols), item_cols, NELEM(item_cols));
	snprintf(sql, sizeof(sql), "SELECT %s FROM alerts", cols);
	if ((api->sql_list = strdup(sql)) == NULL) {
		return TD_ENOMEM;
	}
	gw_row_select_list(cols, sizeof(cols), detail_cols, NELEM(detail_cols));
	snprintf(sql, sizeof(sql), "SELECT %s FROM alerts WHERE id = $1::bigint", cols);
	if ((api->sql_get = strdup(sql)) == NULL) {
		return TD_ENOMEM;
	}
	cols[0] = '\0';
	gw_row_select_list(cols, sizeof(cols), history_cols, NELEM(history_cols));
	snprintf(sql, sizeof(sql),
	    "SELECT %s FROM alert_status_history WHERE alert_id = $1::bigint ORDER BY at, id",
	    cols);
	if ((api->sql_history = strdup(sql)) == NULL) {
		return TD_ENOMEM;
	}
	return 0;
}

int
gw_api_new(gw_api **out, const gw_api_opts *o)
{
	gw_api *api = calloc(1, sizeof(*api));
	*out = NULL;
	if (api == NULL) {
		return TD_ENOMEM;
	}
	api->pool = o->pool;
	api->feed = o->feed;
	api->auth = o->auth;
	api->graph = o->graph;
	api->db_wait_ms = o->db_wait_ms;
	api->cache = o->cache;
	api->ingest_metrics_url = strdup(
	    o->ingest_metrics_url != NULL ? o->ingest_metrics_url : "");
	if (api->ingest_metrics_url == NULL || compile(api) != 0) {
		gw_api_free(api);
		return TD_ENOMEM;
	}
	*out = api;
	return 0;
}

void
gw_api_free(gw_api *api)
{
	if (api == NULL) {
		return;
	}
	free(api->ingest_metrics_url);
	gw_row_tmpl_free(api->t_item);
	gw_row_tmpl_free(api->t_detail);
	gw_row_tmpl_free(api->t_history);
	free(api->sql_list);
	free(api->sql_get);
	free(api->sql_history);
	free(api);
}
