/* pgrow.h — rows of PostgreSQL results as JSON, for the gateway's answers.
 *
 * A column table (gw_out_col) names, per result column, the SQL expression
 * to select and the JSON member it becomes ("a.b" nests into "a":{...}).
 * gw_row_add builds cJSON from a row (the rarer answers); a row template
 * (gw_row_tmpl) compiled once from the tables writes a row straight into a
 * gw_jw buffer (the list and detail answers, the hot ones).
 *
 * Threads: templates are read-only after gw_row_tmpl_new. */
#ifndef TFDRIFT_GW_PGROW_H
#define TFDRIFT_GW_PGROW_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "jsonw.h"

/* The list, detail, history and resource queries return binary results
 * (PQexecPrepared resultFormat 1): PostgreSQL then sends integers and times
 * as they are stored instead of formatting them (and the time columns need
 * no extract(epoch) arithmetic), which was the larger part of its CPU per
 * list page; the gateway formats them once, straight into the JSON. */
typedef enum gw_col_type {
	GW_COL_TEXT,
	GW_COL_INT,  /* int2, int4 or int8 */
	GW_COL_TIME, /* timestamptz: microseconds since 2000-01-01; written as RFC 3339 */
	GW_COL_JSON, /* json or jsonb, embedded as is */
} gw_col_type;

typedef struct gw_out_col {
	const char *json; /* "name", or "object.name" for a nested member */
	const char *sql;
	gw_col_type type;
} gw_out_col;

/* Columns of one result row: cols[0..n) are result columns first.. */
typedef struct gw_col_set {
	const gw_out_col *cols;
	size_t n;
	int first;
} gw_col_set;

typedef struct gw_row_tmpl gw_row_tmpl;

/* A binary integer field (network order, 2, 4 or 8 bytes) of row r, column c. */
int64_t gw_row_int(const PGresult *res, int r, int c);

/* Appends "expr, expr, ..." (the SELECT list) for cols to buf. */
void gw_row_select_list(char *buf, size_t len, const gw_out_col *cols, size_t n);

/* Adds the columns of row r (starting at result column first) to obj.
 * TD_ENOMEM when out of memory. */
int gw_row_add(cJSON *obj, const PGresult *res, int r, int first, const gw_out_col *cols, size_t n);

/* The template of the rows the column sets describe (in result order).
 * *out owned by the caller (gw_row_tmpl_free); TD_ENOMEM. */
int gw_row_tmpl_new(gw_row_tmpl **out, const gw_col_set *sets, size_t nsets);
void gw_row_tmpl_free(gw_row_tmpl *t);

/* Writes row r of res as one object. */
void gw_row_write(gw_jw *w, const PGresult *res, int r, const gw_row_tmpl *t);

#endif
