/* notify.c — silences and deliveries (contract in notify.h). */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tfdrift/error.h"
#include "tfdrift/log.h"
#include "tfdrift/pgpool.h"
#include "tfdrift/severity.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_COMMENT 1024

static const char *const matcher_keys[] = { "severity", "kind", "workspace", "service",
	"resource_type", "resource_address", "event_name", "principal", "min_severity" };

static const char silence_cols[] =
    "id, matchers::text, "
    "to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "to_char(ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "created_by, comment, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "(starts_at <= now() AND ends_at > now())";

static int
failed(PGconn *conn, PGresult *res)
{
	char msg[400];

	snprintf(msg, sizeof(msg), "%s",
	    res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(conn));
	td_pgpool_one_line(msg);
	TD_WARN("query failed", TD_KV_STR("error", msg));
	PQclear(res);
	return TD_EDEPEND;
}

static void
respond(gw_response *resp, unsigned status, cJSON *j)
{
	resp->status = status;
	resp->body = cJSON_PrintUnformatted(j);
	if (resp->body == NULL) {
		gw_api_error(resp, 500, "internal", "out of memory", NULL);
	}
	cJSON_Delete(j);
}

static cJSON *
silence_json(const PGresult *res, int r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *m = cJSON_Parse(PQgetvalue(res, r, 1));

	cJSON_AddNumberToObject(o, "id", strtod(PQgetvalue(res, r, 0), NULL));
	cJSON_AddItemToObject(o, "matchers", m != NULL ? m : cJSON_CreateObject());
	cJSON_AddStringToObject(o, "starts_at", PQgetvalue(res, r, 2));
	cJSON_AddStringToObject(o, "ends_at", PQgetvalue(res, r, 3));
	cJSON_AddStringToObject(o, "created_by", PQgetvalue(res, r, 4));
	cJSON_AddStringToObject(o, "comment", PQgetvalue(res, r, 5));
	cJSON_AddStringToObject(o, "created_at", PQgetvalue(res, r, 6));
	cJSON_AddBoolToObject(o, "active", strcmp(PQgetvalue(res, r, 7), "t") == 0);
	return o;
}

int
gw_silences_list(PGconn *conn, gw_response *resp)
{
	char sql[1024];
	PGresult *res;
	cJSON *root, *items;

	snprintf(sql, sizeof(sql),
	    "SELECT %s FROM silences WHERE ends_at > now() ORDER BY starts_at, id LIMIT 1000",
	    silence_cols);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		return failed(conn, res);
	}
	root = cJSON_CreateObject();
	items = cJSON_AddArrayToObject(root, "items");
	for (int r = 0; r < PQntuples(res); r++) {
		cJSON_AddItemToArray(items, silence_json(res, r));
	}
	PQclear(res);
	respond(resp, 200, root);
	return 0;
}

/* Checks the matchers object; false with the 400 written. */
static bool
valid_matchers(const cJSON *m, gw_response *resp)
{
	const cJSON *it;
	char msg[256];

	if (!cJSON_IsObject(m) || m->child == NULL) {
		gw_api_error(resp, 400, "invalid_parameter",
		    "matchers: required, an object of field: glob (at least one)", "matchers");
		return false;
	}
	cJSON_ArrayForEach(it, m)
	{
		size_t k;
		for (k = 0; k < NELEM(matcher_keys) && strcmp(it->string, matcher_keys[k]) != 0;
		     k++)
			;
		if (k == NELEM(matcher_keys)) {
			snprintf(msg, sizeof(msg),
			    "matchers.%.64s: unknown field (fields: severity, kind, workspace, "
			    "service, resource_type, resource_address, event_name, principal, "
			    "min_severity)",
			    it->string);
			gw_api_error(resp, 400, "invalid_parameter", msg, "matchers");
			return false;
		}
		if (strcmp(it->string, "min_severity") == 0) {
			bool ok = cJSON_IsString(it) &&
			    td_severity_parse(it->valuestring, strlen(it->valuestring)) != 0;
			if (!ok) {
				gw_api_error(resp, 400, "invalid_parameter",
				    "matchers.min_severity: one of info, low, medium, high, critical",
				    "matchers");
				return false;
			}
			continue;
		}
		bool ok = cJSON_IsString(it);
		if (cJSON_IsArray(it) && cJSON_GetArraySize(it) > 0) {
			const cJSON *v;
			ok = true;
			cJSON_ArrayForEach(v, it)
			{
				ok = ok && cJSON_IsString(v);
			}
		}
		if (!ok) {
			snprintf(msg, sizeof(msg),
			    "matchers.%.64s: a glob or a non-empty list of globs", it->string);
			gw_api_error(resp, 400, "invalid_parameter", msg, "matchers");
			return false;
		}
	}
	return true;
}

static const char *
str_field(const cJSON *body, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int
gw_silences_create(PGconn *conn, const gw_request *req, gw_response *resp)
{
	cJSON *body = req->body != NULL ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
	const cJSON *it;
	char *matchers = NULL, sql[1400];
	PGresult *res = NULL;
	int rv = 0;

	if (!cJSON_IsObject(body)) {
		gw_api_error(resp, 400, "bad_request",
		    "the body must be JSON: {\"matchers\":{...},\"ends_at\":\"...\"|\"duration\":\"2h\"}",
		    NULL);
		goto out;
	}
	cJSON_ArrayForEach(it, body)
	{
		if (strcmp(it->string, "matchers") != 0 && strcmp(it->string, "ends_at") != 0 &&
		    strcmp(it->string, "starts_at") != 0 && strcmp(it->string, "duration") != 0 &&
		    strcmp(it->string, "comment") != 0) {
			char msg[160];
			snprintf(msg, sizeof(msg),
			    "%.64s: unknown field (matchers, starts_at, ends_at, duration, comment)",
			    it->string);
			gw_api_error(resp, 400, "invalid_parameter", msg, it->string);
			goto out;
		}
	}
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, "matchers");
	if (!valid_matchers(m, resp)) {
		goto out;
	}
	const char *ends = str_field(body, "ends_at"), *dur = str_field(body, "duration");
	const char *starts = str_field(body, "starts_at"), *comment = str_field(body, "comment");
	if ((ends == NULL) == (dur == NULL)) {
		gw_api_error(resp, 400, "invalid_parameter",
		    "ends_at (RFC 3339) or duration (\"90m\", \"2h\"): exactly one is required",
		    ends == NULL ? "ends_at" : "duration");
		goto out;
	}
	if (comment != NULL && strlen(comment) > MAX_COMMENT) {
		gw_api_error(resp, 400, "invalid_parameter", "comment: at most 1024 bytes",
		    "comment");
		goto out;
	}
	if ((matchers = cJSON_PrintUnformatted(m)) == NULL) {
		gw_api_error(resp, 500, "internal", "out of memory", NULL);
		goto out;
	}
	/* the database parses the times and the interval; a value it refuses
	 * (22xxx) is the caller's */
	snprintf(sql, sizeof(sql),
	    "INSERT INTO silences (matchers, starts_at, ends_at, created_by, comment) "
	    "VALUES ($1::jsonb, coalesce($2::timestamptz, now()), "
	    "coalesce($3::timestamptz, coalesce($2::timestamptz, now()) + $4::interval), $5, "
	    "coalesce($6, '')) RETURNING %s",
	    silence_cols);
	const char *vals[] = { matchers, starts, ends, dur, resp->who.name, comment };
	res = PQexecParams(conn, sql, 6, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char state[6];
		td_pgpool_sqlstate(res, state);
		if (state[0] == '2' && (state[1] == '2' || state[1] == '3')) {
			gw_api_error(resp, 400, "invalid_parameter",
			    "starts_at/ends_at must be RFC 3339 times, duration an interval such as "
			    "\"2h\", and the silence must end after it starts",
			    ends != NULL ? "ends_at" : "duration");
			PQclear(res);
			res = NULL;
			goto out;
		}
		rv = failed(conn, res);
		res = NULL;
		goto out;
	}
	TD_INFO("silence created", TD_KV_STR("id", PQgetvalue(res, 0, 0)),
	    TD_KV_STR("by", resp->who.name), TD_KV_STR("matchers", matchers));
	respond(resp, 201, silence_json(res, 0));
out:
	PQclear(res);
	free(matchers);
	cJSON_Delete(body);
	return rv;
}

int
gw_silences_end(PGconn *conn, const char *id, gw_response *resp)
{
	char sql[1200];
	const char *vals[] = { id };
	PGresult *res;

	snprintf(sql, sizeof(sql),
	    "UPDATE silences SET starts_at = least(starts_at, now() - interval '1 millisecond'), "
	    "ends_at = now() WHERE id = $1::bigint AND ends_at > now() RETURNING %s",
	    silence_cols);
	res = PQexecParams(conn, sql, 1, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		return failed(conn, res);
	}
	if (PQntuples(res) == 0) {
		char msg[96];
		snprintf(msg, sizeof(msg), "no active silence with id %s", id);
		gw_api_error(resp, 404, "not_found", msg, NULL);
	} else {
		TD_INFO("silence ended", TD_KV_STR("id", id), TD_KV_STR("by", resp->who.name));
		respond(resp, 200, silence_json(res, 0));
	}
	PQclear(res);
	return 0;
}

int
gw_deliveries_append(PGconn *conn, const char *id, gw_jw *w)
{
	const char *vals[] = { id };
	PGresult *res = PQexecParams(conn,
	    "SELECT receiver, event, state, attempts, "
	    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
	    "coalesce(to_char(sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), ''), "
	    "last_error FROM notifications WHERE alert_id = $1::bigint ORDER BY id LIMIT 200",
	    1, NULL, vals, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		return failed(conn, res);
	}
	gw_jw_lit(w, ",\"deliveries\":[");
	for (int r = 0; r < PQntuples(res); r++) {
		gw_jw_lit(w, r > 0 ? ",{\"receiver\":" : "{\"receiver\":");
		gw_jw_str(w, PQgetvalue(res, r, 0));
		gw_jw_lit(w, ",\"event\":");
		gw_jw_str(w, PQgetvalue(res, r, 1));
		gw_jw_lit(w, ",\"state\":");
		gw_jw_str(w, PQgetvalue(res, r, 2));
		gw_jw_lit(w, ",\"attempts\":");
		gw_jw_int(w, strtoll(PQgetvalue(res, r, 3), NULL, 10));
		gw_jw_lit(w, ",\"created_at\":");
		gw_jw_str(w, PQgetvalue(res, r, 4));
		gw_jw_lit(w, ",\"sent_at\":");
		if (PQgetvalue(res, r, 5)[0] != '\0') {
			gw_jw_str(w, PQgetvalue(res, r, 5));
		} else {
			gw_jw_lit(w, "null");
		}
		gw_jw_lit(w, ",\"last_error\":");
		gw_jw_str(w, PQgetvalue(res, r, 6));
		gw_jw_lit(w, "}");
	}
	gw_jw_lit(w, "]");
	PQclear(res);
	return 0;
}
