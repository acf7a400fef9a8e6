/* pgrow.c — see pgrow.h. */
#include "pgrow.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfdrift/error.h"

#define JSONB_OID 3802
#define PG_EPOCH_US 946684800000000LL /* 2000-01-01 in Unix microseconds */

int64_t
gw_row_int(const PGresult *res, int r, int c)
{
	const unsigned char *p = (const unsigned char *)PQgetvalue(res, r, c);
	int len = PQgetlength(res, r, c);
	uint64_t v = 0;
	for (int i = 0; i < len && i < 8; i++) {
		v = (v << 8) | p[i];
	}
	if (len == 2) {
		return (int16_t)v;
	}
	if (len == 4) {
		return (int32_t)v;
	}
	return (int64_t)v;
}

/* A binary timestamptz as Unix microseconds; false for +-infinity. */
static bool
bin_time(const PGresult *res, int r, int c, int64_t *us)
{
	int64_t t = gw_row_int(res, r, c);
	if (t == INT64_MAX || t == INT64_MIN) {
		return false;
	}
	*us = t + PG_EPOCH_US;
	return true;
}

/* A binary json/jsonb field's text (jsonb's starts with a version byte). */
static const char *
bin_json(const PGresult *res, int r, int c, size_t *len)
{
	const char *p = PQgetvalue(res, r, c);
	size_t n = (size_t)PQgetlength(res, r, c);
	if (PQftype(res, c) == JSONB_OID && n > 0) {
		p++;
		n--;
	}
	*len = n;
	return p;
}

void
gw_row_select_list(char *buf, size_t len, const gw_out_col *cols, size_t n)
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

int
gw_row_add(cJSON *obj, const PGresult *res, int r, int first, const gw_out_col *cols, size_t n)
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
			switch (cols[i].type) {
			case GW_COL_TEXT: v = cJSON_CreateString(PQgetvalue(res, r, c)); break;
			case GW_COL_INT:
				v = cJSON_CreateNumber((double)gw_row_int(res, r, c));
				break;
			case GW_COL_TIME: {
				int64_t us;
				if (!bin_time(res, r, c, &us)) {
					v = cJSON_CreateNull();
					break;
				}
				gw_jw w;
				gw_jw_init(&w, 64);
				gw_jw_time_us(&w, us);
				char *q = gw_jw_finish(&w);
				if (q != NULL) {
					q[strlen(q) - 1] = '\0'; /* without the quotes */
					v = cJSON_CreateString(q + 1);
				}
				free(q);
				break;
			}
			case GW_COL_JSON: {
				/* json's text form is valid JSON: embed without reparsing. */
				size_t jlen;
				const char *j = bin_json(res, r, c, &jlen);
				char *copy = strndup(j, jlen);
				v = copy != NULL ? cJSON_CreateRaw(copy) : NULL;
				free(copy);
				break;
			}
			}
		}
		if (v == NULL) {
			return TD_ENOMEM;
		}
		cJSON_AddItemToObject(parent, leaf, v);
	}
	return 0;
}

/* ---- the row template (list and detail: the hot answers) ----------------------------- */

static void
write_value(gw_jw *w, const PGresult *res, int r, int c, gw_col_type type)
{
	if (PQgetisnull(res, r, c)) {
		gw_jw_raw(w, "null", 4);
		return;
	}
	switch (type) {
	case GW_COL_TEXT: gw_jw_str(w, PQgetvalue(res, r, c)); break;
	case GW_COL_INT: gw_jw_int(w, gw_row_int(res, r, c)); break;
	case GW_COL_JSON: { /* json's text form is valid JSON */
		size_t n;
		const char *j = bin_json(res, r, c, &n);
		gw_jw_raw(w, j, n);
		break;
	}
	case GW_COL_TIME: {
		int64_t us;
		if (bin_time(res, r, c, &us)) {
			gw_jw_time_us(w, us);
		} else {
			gw_jw_raw(w, "null", 4);
		}
		break;
	}
	}
}

/* A row's JSON object as a fixed program: before each value the literal
 * text (keys, commas, braces) that precedes it, then the value's result
 * column and type; tail closes it.  Compiled once from the column tables
 * so that writing a row does no name lookups ("a.b" columns of every set
 * gathered into "a":{...} where a first appears). */
#define ROW_OPS_MAX 48
typedef struct row_op {
	char lit[64];
	size_t litlen;
	int col;
	gw_col_type type;
} row_op;

struct gw_row_tmpl {
	row_op op[ROW_OPS_MAX];
	size_t n;
	char tail[8];
	size_t taillen;
};

/* Appends text to the literal that precedes the next value. */
static void
tmpl_lit(gw_row_tmpl *t, const char *text, size_t len)
{
	row_op *o = &t->op[t->n];
	if (o->litlen + len < sizeof(o->lit)) {
		memcpy(o->lit + o->litlen, text, len);
		o->litlen += len;
		o->lit[o->litlen] = '\0';
	}
}

static void
tmpl_key(gw_row_tmpl *t, const char *name, size_t n)
{
	tmpl_lit(t, "\"", 1);
	tmpl_lit(t, name, n); /* the table's names need no escaping */
	tmpl_lit(t, "\":", 2);
}

static void
tmpl_value(gw_row_tmpl *t, int col, gw_col_type type)
{
	if (t->n + 1 < ROW_OPS_MAX) {
		t->op[t->n].col = col;
		t->op[t->n].type = type;
		t->n++;
	}
}

/* Does an earlier column than (set s, index i) share name's "a." prefix? */
static bool
prefix_seen(const gw_col_set *sets, size_t s, size_t i, const char *name, size_t plen)
{
	for (size_t s2 = 0; s2 <= s; s2++) {
		size_t end = s2 == s ? i : sets[s2].n;
		for (size_t i2 = 0; i2 < end; i2++) {
			if (strncmp(sets[s2].cols[i2].json, name, plen + 1) == 0) {
				return true;
			}
		}
	}
	return false;
}

static void
tmpl_compile(gw_row_tmpl *t, const gw_col_set *sets, size_t nsets)
{
	memset(t, 0, sizeof(*t));
	bool first = true;
	tmpl_lit(t, "{", 1);
	for (size_t s = 0; s < nsets; s++) {
		for (size_t i = 0; i < sets[s].n; i++) {
			const gw_out_col *col = &sets[s].cols[i];
			const char *dot = strchr(col->json, '.');
			if (dot == NULL) {
				tmpl_lit(t, ",", first ? 0 : 1);
				first = false;
				tmpl_key(t, col->json, strlen(col->json));
				tmpl_value(t, sets[s].first + (int)i, col->type);
				continue;
			}
			size_t plen = (size_t)(dot - col->json);
			if (prefix_seen(sets, s, i, col->json, plen)) {
				continue;
			}
			tmpl_lit(t, ",", first ? 0 : 1);
			first = false;
			tmpl_key(t, col->json, plen);
			tmpl_lit(t, "{", 1);
			bool inner_first = true;
			for (size_t s2 = s; s2 < nsets; s2++) {
				for (size_t i2 = s2 == s ? i : 0; i2 < sets[s2].n; i2++) {
					const gw_out_col *c2 = &sets[s2].cols[i2];
					if (strncmp(c2->json, col->json, plen + 1) != 0) {
						continue;
					}
					tmpl_lit(t, ",", inner_first ? 0 : 1);
					inner_first = false;
					tmpl_key(t, c2->json + plen + 1,
					    strlen(c2->json + plen + 1));
					tmpl_value(t, sets[s2].first + (int)i2, c2->type);
				}
			}
			tmpl_lit(t, "}", 1);
		}
	}
	/* what is pending after the last value is the tail */
	memcpy(t->tail, t->op[t->n].lit, t->op[t->n].litlen);
	t->taillen = t->op[t->n].litlen;
	tmpl_lit(t, "}", 0);
	t->tail[t->taillen++] = '}';
	t->tail[t->taillen] = '\0';
}

void
gw_row_write(gw_jw *w, const PGresult *res, int r, const gw_row_tmpl *t)
{
	for (size_t i = 0; i < t->n; i++) {
		gw_jw_raw(w, t->op[i].lit, t->op[i].litlen);
		write_value(w, res, r, t->op[i].col, t->op[i].type);
	}
	gw_jw_raw(w, t->tail, t->taillen);
}

int
gw_row_tmpl_new(gw_row_tmpl **out, const gw_col_set *sets, size_t nsets)
{
	if ((*out = malloc(sizeof(**out))) == NULL) {
		return TD_ENOMEM;
	}
	tmpl_compile(*out, sets, nsets);
	return 0;
}

void
gw_row_tmpl_free(gw_row_tmpl *t)
{
	free(t);
}
