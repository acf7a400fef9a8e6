/* rows.c — see rows.h. */
#include "rows.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tfdrift/clock.h"
#include "tfdrift/redact.h"
#include "tfdrift/severity.h"

typedef Tfdrift__V1__DriftAlert alert_t;

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- columns ----------------------------------------------------------------- */

/* Where a column's value comes from. */
typedef enum {
	FROM_ALERT,     /* a string field of DriftAlert at `off` */
	FROM_PRINCIPAL, /* a string field of Principal at `off` */
	COMPUTED,       /* compute() */
} source;

/* compute(): sets *val (NULL = SQL NULL); a string it allocates goes to
 * *owned (freed with the insert).  TD_EINVAL with err naming alerts[idx]. */
typedef int (
    *compute_fn)(const alert_t *a, size_t idx, const char **val, char **owned, td_error *err);

typedef struct column {
	const char *name;
	const char *pre, *post; /* SQL around the $N placeholder */
	source from;
	size_t off;
	compute_fn compute;
} column;

/* Timestamps go as RFC 3339 text with microseconds, PostgreSQL's precision. */
static int
time_value(int64_t ns, const char **val, char **owned)
{
	if (ns == 0) {
		*val = NULL;
		return 0;
	}
	char buf[64];
	td_clock_format(ns, 6, buf, sizeof(buf));
	if ((*owned = strdup(buf)) == NULL) {
		return TD_ENOMEM;
	}
	*val = *owned;
	return 0;
}

static int
c_event_time(const alert_t *a, size_t idx, const char **val, char **owned, td_error *err)
{
	(void)idx;
	(void)err;
	return time_value(a->event_time_ns, val, owned);
}

static int
c_detected_at(const alert_t *a, size_t idx, const char **val, char **owned, td_error *err)
{
	(void)idx;
	(void)err;
	return time_value(a->detected_at_ns, val, owned);
}

static int
c_alert_key(const alert_t *a, size_t idx, const char **val, char **owned, td_error *err)
{
	(void)owned;
	size_t len = strlen(a->alert_key);
	if (len == 0) {
		return td_error_set(err, TD_EINVAL, "alerts[%zu].alert_key: empty", idx);
	}
	if (len > 256) {
		return td_error_set(err, TD_EINVAL, "alerts[%zu].alert_key: %zu bytes, at most 256",
		    idx, len);
	}
	*val = a->alert_key;
	return 0;
}

static int
c_kind(const alert_t *a, size_t idx, const char **val, char **owned, td_error *err)
{
	(void)owned;
	if ((*val = td_kind_name((int)a->kind)) == NULL) {
		return td_error_set(err, TD_EINVAL, "alerts[%zu].kind: %d is not a drift kind", idx,
		    (int)a->kind);
	}
	return 0;
}

static int
c_severity(const alert_t *a, size_t idx, const char **val, char **owned, td_error *err)
{
	(void)owned;
	if ((*val = td_severity_name((int)a->severity)) == NULL) {
		return td_error_set(err, TD_EINVAL, "alerts[%zu].severity: %d is not a severity",
		    idx, (int)a->severity);
	}
	return 0;
}

/* Serialises j into *owned and deletes it. */
static int
json_value(cJSON *j, const char **val, char **owned)
{
	if (j == NULL) {
		return TD_ENOMEM;
	}
	*owned = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (*owned == NULL) {
		return TD_ENOMEM;
	}
	*val = *owned;
	return 0;
}

static int
c_identifiers(const alert_t *a, size_t idx, const char **val, char **owned, td_error *err)
{
	(void)idx;
	(void)err;
	cJSON *o = cJSON_CreateObject();
	for (size_t i = 0; o != NULL && i < a->n_identifiers; i++) {
		const Tfdrift__V1__DriftAlert__IdentifiersEntry *e = a->identifiers[i];
		/* Replace, so a repeated key keeps one value as in a proto map. */
		cJSON *s = cJSON_CreateString(e->value != NULL ? e->value : "");
		if (s == NULL) {
			cJSON_Delete(o);
			return TD_ENOMEM;
		}
		const char *k = e->key != NULL ? e->key : "";
		if (cJSON_GetObjectItemCaseSensitive(o, k) != NULL) {
			cJSON_ReplaceItemInObjectCaseSensitive(o, k, s);
		} else {
			cJSON_AddItemToObject(o, k, s);
		}
	}
	return json_value(o, val, owned);
}

/* An attribute value as JSON: "" means absent (null); text that is not JSON
 * is a sender bug reported with its place. */
static int
change_value(const char *text, bool sensitive, size_t idx, size_t ci, const char *field,
    cJSON **out, td_error *err)
{
	if (sensitive) {
		*out = cJSON_CreateString(REDACT_TEXT);
	} else if (text == NULL || *text == '\0') {
		*out = cJSON_CreateNull();
	} else if ((*out = cJSON_Parse(text)) == NULL) {
		return td_error_set(err, TD_EINVAL, "alerts[%zu].changes[%zu].%s: not valid JSON",
		    idx, ci, field);
	}
	return *out != NULL ? 0 : TD_ENOMEM;
}

static int
c_changes(const alert_t *a, size_t idx, const char **val, char **owned, td_error *err)
{
	cJSON *arr = cJSON_CreateArray();
	if (arr == NULL) {
		return TD_ENOMEM;
	}
	for (size_t i = 0; i < a->n_changes; i++) {
		const Tfdrift__V1__AttributeChange *c = a->changes[i];
		cJSON *o = cJSON_CreateObject();
		cJSON *oldv = NULL, *newv = NULL;
		int rv;
		if (o == NULL) {
			cJSON_Delete(arr);
			return TD_ENOMEM;
		}
		cJSON_AddItemToArray(arr, o);
		if (cJSON_AddStringToObject(o, "path", c->path != NULL ? c->path : "") == NULL) {
			cJSON_Delete(arr);
			return TD_ENOMEM;
		}
		if ((rv = change_value(c->old_json, c->sensitive, idx, i, "old_json", &oldv,
			 err)) != 0) {
			cJSON_Delete(arr);
			return rv;
		}
		cJSON_AddItemToObject(o, "old", oldv);
		if ((rv = change_value(c->new_json, c->sensitive, idx, i, "new_json", &newv,
			 err)) != 0) {
			cJSON_Delete(arr);
			return rv;
		}
		cJSON_AddItemToObject(o, "new", newv);
		if (cJSON_AddBoolToObject(o, "sensitive", c->sensitive) == NULL) {
			cJSON_Delete(arr);
			return TD_ENOMEM;
		}
	}
	return json_value(arr, val, owned);
}

static int
c_raw_event(const alert_t *a, size_t idx, const char **val, char **owned, td_error *err)
{
	(void)owned;
	const char *t = a->raw_event_json;
	if (t == NULL || *t == '\0') {
		*val = NULL;
		return 0;
	}
	/* Checked here so a bad record is rejected with its place instead of
	 * failing the whole INSERT inside PostgreSQL. */
	cJSON *j = cJSON_Parse(t);
	if (j == NULL) {
		return td_error_set(err, TD_EINVAL, "alerts[%zu].raw_event_json: not valid JSON",
		    idx);
	}
	cJSON_Delete(j);
	*val = t;
	return 0;
}

#define A(field) FROM_ALERT, offsetof(alert_t, field), NULL
#define P(field) FROM_PRINCIPAL, offsetof(Tfdrift__V1__Principal, field), NULL
#define C(fn) COMPUTED, 0, fn

/* The columns written, in order.  severity_rank is generated by the schema. */
static const column columns[] = {
	{ "alert_key", "$", "", C(c_alert_key) },
	{ "event_id", "$", "", A(event_id) },
	{ "event_time", "$", "::timestamptz", C(c_event_time) },
	{ "detected_at", "COALESCE($", "::timestamptz, now())", C(c_detected_at) },
	{ "workspace", "$", "", A(workspace) },
	{ "resource_address", "$", "", A(resource_address) },
	{ "resource_type", "$", "", A(resource_type) },
	{ "identifiers", "$", "::jsonb", C(c_identifiers) },
	{ "kind", "$", "", C(c_kind) },
	{ "attribute", "$", "", A(attribute) },
	{ "changes", "$", "::jsonb", C(c_changes) },
	{ "severity", "$", "", C(c_severity) },
	{ "principal_type", "$", "", P(type) },
	{ "principal_arn", "$", "", P(arn) },
	{ "principal_name", "$", "", P(name) },
	{ "principal_account", "$", "", P(account_id) },
	{ "principal_role_arn", "$", "", P(role_arn) },
	{ "principal_session", "$", "", P(session_name) },
	{ "source_ip", "$", "", A(source_ip) },
	{ "user_agent", "$", "", A(user_agent) },
	{ "region", "$", "", A(region) },
	{ "account_id", "$", "", A(account_id) },
	{ "event_name", "$", "", A(event_name) },
	{ "event_source", "$", "", A(event_source) },
	{ "service", "$", "", A(service) },
	{ "falco_rule", "$", "", A(falco_rule) },
	{ "falco_priority", "$", "", A(falco_priority) },
	{ "recommended_fix", "$", "", A(recommended_fix) },
	{ "summary", "$", "", A(summary) },
	{ "raw_event", "$", "::jsonb", C(c_raw_event) },
};

const int ps_rows_params_per_row = (int)NELEM(columns);

/* Counts the columns computed into owned strings, to size ps_insert.owned. */
static size_t
computed_columns(void)
{
	size_t n = 0;
	for (size_t i = 0; i < NELEM(columns); i++) {
		n += columns[i].from == COMPUTED;
	}
	return n;
}

static const char *
field_str(const void *base, size_t off)
{
	if (base == NULL) {
		return "";
	}
	const char *s = *(char *const *)((const char *)base + off);
	return s != NULL ? s : "";
}

/* ---- a growable string ------------------------------------------------------- */

typedef struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
} sbuf;

static void
sb_add(sbuf *b, const char *s)
{
	size_t n = strlen(s);
	if (b->oom) {
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n + 1) {
			cap *= 2;
		}
		char *np = realloc(b->p, cap);
		if (np == NULL) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

/* ---- the statement ------------------------------------------------------------- */

void
ps_insert_free(ps_insert *ins)
{
	if (ins == NULL) {
		return;
	}
	for (size_t i = 0; i < ins->nowned; i++) {
		free(ins->owned[i]);
	}
	free(ins->owned);
	free(ins->values);
	free(ins->sql);
	memset(ins, 0, sizeof(*ins));
}

/* Fills the values of alerts[idx] at values[base..]. */
static int
row_values(ps_insert *ins, const alert_t *a, size_t idx, int base, td_error *err)
{
	for (size_t c = 0; c < NELEM(columns); c++) {
		const column *col = &columns[c];
		const char **val = &ins->values[base + (int)c];
		int rv;
		switch (col->from) {
		case FROM_ALERT: *val = field_str(a, col->off); break;
		case FROM_PRINCIPAL: *val = field_str(a->principal, col->off); break;
		case COMPUTED: {
			char *owned = NULL;
			rv = col->compute(a, idx, val, &owned, err);
			if (owned != NULL) {
				ins->owned[ins->nowned++] = owned;
			}
			if (rv != 0) {
				if (rv == TD_ENOMEM) {
					td_error_set(err, rv, "out of memory");
				}
				return rv;
			}
			break;
		}
		}
	}
	return 0;
}

/* *out released with ps_insert_free (also on failure). */
int
ps_insert_build(ps_insert *out, Tfdrift__V1__DriftAlert *const *alerts, size_t n, size_t first,
    td_error *err)
{
	sbuf sql = { 0 };
	int rv = 0;
	memset(out, 0, sizeof(*out));
	if (n == 0 || n > PS_ROWS_MAX) {
		return td_error_set(err, TD_EINVAL, "%zu rows in one INSERT (1..%d)", n,
		    PS_ROWS_MAX);
	}
	out->nparams = (int)(n * NELEM(columns));
	out->values = calloc((size_t)out->nparams, sizeof(*out->values));
	out->owned = calloc(n * computed_columns(), sizeof(*out->owned));
	if (out->values == NULL || out->owned == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}

	sb_add(&sql, "INSERT INTO alerts (");
	for (size_t c = 0; c < NELEM(columns); c++) {
		sb_add(&sql, c ? ", " : "");
		sb_add(&sql, columns[c].name);
	}
	sb_add(&sql, ") VALUES ");
	int param = 1;
	for (size_t r = 0; r < n; r++) {
		sb_add(&sql, r ? ", (" : "(");
		for (size_t c = 0; c < NELEM(columns); c++) {
			char num[16];
			snprintf(num, sizeof(num), "%d", param++);
			sb_add(&sql, c ? ", " : "");
			sb_add(&sql, columns[c].pre);
			sb_add(&sql, num);
			sb_add(&sql, columns[c].post);
		}
		sb_add(&sql, ")");
		if ((rv = row_values(out, alerts[r], first + r, (int)(r * NELEM(columns)), err)) !=
		    0) {
			goto out;
		}
	}
	/* committed_at as whole microseconds: exact, unlike float epoch seconds. */
	sb_add(&sql,
	    " ON CONFLICT (alert_key) DO NOTHING RETURNING id, alert_key, "
	    "(extract(epoch FROM committed_at) * 1000000)::bigint");
	if (sql.oom) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	out->sql = sql.p;
	sql.p = NULL;

out:
	free(sql.p);
	return rv;
}

/* ---- one row at a time, for COPY ------------------------------------------------- */

_Static_assert(PS_ROW_COLS == NELEM(columns), "PS_ROW_COLS must match columns[]");

void
ps_row_free(ps_row *r)
{
	if (r == NULL) {
		return;
	}
	for (size_t i = 0; i < r->nowned; i++) {
		free(r->owned[i]);
	}
	memset(r, 0, sizeof(*r));
}

/* *out released with ps_row_free (also on failure). */
int
ps_row_build(ps_row *out, const Tfdrift__V1__DriftAlert *a, size_t idx, td_error *err)
{
	memset(out, 0, sizeof(*out));
	/* row_values writes through an ps_insert; lend it our arrays. */
	ps_insert tmp = { .values = out->values, .owned = out->owned };
	int rv = row_values(&tmp, a, idx, 0, err);
	out->nowned = tmp.nowned;
	return rv;
}

/* Grows *buf to hold `more` bytes beyond *len. */
static int
reserve(char **buf, size_t *len, size_t *cap, size_t more)
{
	if (*len + more <= *cap) {
		return 0;
	}
	size_t n = *cap ? *cap : 65536;
	while (n < *len + more) {
		n *= 2;
	}
	char *p = realloc(*buf, n);
	if (p == NULL) {
		return TD_ENOMEM;
	}
	*buf = p;
	*cap = n;
	return 0;
}

int
ps_row_copy_line(const ps_row *r, int seq, char **buf, size_t *len, size_t *cap)
{
	char num[16];
	int nl = snprintf(num, sizeof(num), "%d", seq);
	if (reserve(buf, len, cap, (size_t)nl + 1) != 0) {
		return TD_ENOMEM;
	}
	memcpy(*buf + *len, num, (size_t)nl);
	*len += (size_t)nl;
	for (size_t c = 0; c < PS_ROW_COLS; c++) {
		const char *v = r->values[c];
		size_t vl = v != NULL ? strlen(v) : 0;
		/* Worst case every byte escaped, plus the tab, \N and the newline. */
		if (reserve(buf, len, cap, 2 * vl + 4) != 0) {
			return TD_ENOMEM;
		}
		char *w = *buf + *len;
		*w++ = '\t';
		if (v == NULL) {
			*w++ = '\\';
			*w++ = 'N';
		} else {
			for (size_t i = 0; i < vl; i++) {
				char ch = v[i];
				switch (ch) {
				case '\\':
					*w++ = '\\';
					*w++ = '\\';
					break;
				case '\t':
					*w++ = '\\';
					*w++ = 't';
					break;
				case '\n':
					*w++ = '\\';
					*w++ = 'n';
					break;
				case '\r':
					*w++ = '\\';
					*w++ = 'r';
					break;
				default: *w++ = ch; break;
				}
			}
		}
		*len = (size_t)(w - *buf);
	}
	(*buf)[(*len)++] = '\n';
	return 0;
}

static char *copy_table;
static char *copy_from;
static char *copy_insert;
static pthread_once_t copy_once = PTHREAD_ONCE_INIT;

/* The column's type in the temporary table, read off its cast. */
static const char *
column_type(const column *c)
{
	if (strstr(c->post, "timestamptz") != NULL) {
		return "timestamptz";
	}
	if (strstr(c->post, "jsonb") != NULL) {
		return "jsonb";
	}
	return "text";
}

static void
build_copy_sql(void)
{
	sbuf t = { 0 }, f = { 0 }, ins = { 0 };
	sb_add(&t, "CREATE TEMP TABLE IF NOT EXISTS ps_in (seq integer");
	sb_add(&f, "COPY ps_in (seq");
	sb_add(&ins, "INSERT INTO alerts (");
	for (size_t c = 0; c < NELEM(columns); c++) {
		sb_add(&t, ", ");
		sb_add(&t, columns[c].name);
		sb_add(&t, " ");
		sb_add(&t, column_type(&columns[c]));
		sb_add(&f, ", ");
		sb_add(&f, columns[c].name);
		sb_add(&ins, c ? ", " : "");
		sb_add(&ins, columns[c].name);
	}
	sb_add(&t, ") ON COMMIT DELETE ROWS");
	sb_add(&f, ") FROM STDIN");
	sb_add(&ins, ") SELECT ");
	for (size_t c = 0; c < NELEM(columns); c++) {
		sb_add(&ins, c ? ", " : "");
		/* The same expression around the column as the INSERT uses around
		 * its parameter (e.g. COALESCE(detected_at, now())). */
		char pre[64], post[64];
		snprintf(pre, sizeof(pre), "%s", columns[c].pre);
		snprintf(post, sizeof(post), "%s", columns[c].post);
		char *dollar = strrchr(pre, '$');
		if (dollar != NULL) {
			*dollar = '\0';
		}
		char *cast = strstr(post, "::");
		if (cast != NULL) {
			/* drop "::type" but keep what follows (", now())") */
			char *rest = cast + 2;
			while (*rest == '_' || (*rest >= 'a' && *rest <= 'z')) {
				rest++;
			}
			memmove(cast, rest, strlen(rest) + 1);
		}
		sb_add(&ins, pre);
		sb_add(&ins, columns[c].name);
		sb_add(&ins, post);
	}
	sb_add(&ins,
	    " FROM ps_in ORDER BY seq ON CONFLICT (alert_key) DO NOTHING RETURNING id, alert_key, "
	    "(extract(epoch FROM committed_at) * 1000000)::bigint");
	if (t.oom || f.oom || ins.oom) {
		free(t.p);
		free(f.p);
		free(ins.p);
		return;
	}
	copy_table = t.p;
	copy_from = f.p;
	copy_insert = ins.p;
}

const char *
ps_copy_table_sql(void)
{
	pthread_once(&copy_once, build_copy_sql);
	return copy_table;
}

const char *
ps_copy_from_sql(void)
{
	pthread_once(&copy_once, build_copy_sql);
	return copy_from;
}

const char *
ps_copy_insert_sql(void)
{
	pthread_once(&copy_once, build_copy_sql);
	return copy_insert;
}
