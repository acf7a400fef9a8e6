/* rows.h — DriftAlerts to a parameterised multi-row INSERT.
 *
 * Pure logic (no database): validates each alert, maps enums to the text the
 * schema's CHECK constraints accept, builds the JSON columns with cJSON and
 * writes one statement
 *
 *     INSERT INTO alerts (...) VALUES ($1, ...), (...)
 *     ON CONFLICT (alert_key) DO NOTHING
 *     RETURNING id, alert_key, <committed_at as Unix microseconds>
 *
 * with every value a text parameter (never spliced into the SQL).  A change
 * marked sensitive is stored with old/new replaced by REDACT_TEXT
 * ("(sensitive)", tfdrift/redact.h), whatever the sender put there. */
#ifndef TFDRIFT_PS_ROWS_H
#define TFDRIFT_PS_ROWS_H

#include <stddef.h>

#include "tfdrift/error.h"
#include "tfdrift/v1/alert.pb-c.h"

/* PostgreSQL allows 65535 parameters per statement; at 30 per row this keeps
 * one statement well inside that. */
#define PS_ROWS_MAX 1000

/* Values per alert row (the number of columns written). */
extern const int ps_rows_params_per_row;

typedef struct ps_insert {
	char *sql;
	int nparams;
	const char **values; /* nparams entries; NULL = SQL NULL; borrowed or owned below */
	char **owned;        /* strings this insert allocated */
	size_t nowned;
} ps_insert;

/* Builds the statement for alerts[0..n), 1 <= n <= PS_ROWS_MAX.  first is the
 * index of alerts[0] in the whole batch, for messages
 * ("alerts[12].kind: DRIFT_KIND_UNSPECIFIED is not a drift kind").  Values
 * borrow strings from the alerts, which must outlive *out.
 * TD_EINVAL for an invalid alert (err names it).  *out is released with
 * ps_insert_free, also after a failure. */
int ps_insert_build(ps_insert *out, Tfdrift__V1__DriftAlert *const *alerts, size_t n, size_t first,
    td_error *err);
void ps_insert_free(ps_insert *ins);

/* ---- one row at a time, for COPY ------------------------------------------
 *
 * The batched write path (writer.c) validates and converts each alert on the
 * thread that received it (ps_row_build), then a batch thread streams many
 * rows with COPY into a per-session temporary table (PS_COPY_TABLE_SQL) and
 * moves them with PS_COPY_INSERT_SQL:
 *
 *     INSERT INTO alerts (...) SELECT ... FROM ps_in ORDER BY seq
 *     ON CONFLICT (alert_key) DO NOTHING RETURNING id, alert_key, committed_us
 *
 * so the first of several rows with one key (in seq order) is the one stored. */

#define PS_ROW_COLS 30

typedef struct ps_row {
	const char *values[PS_ROW_COLS]; /* NULL = SQL NULL; borrowed from the alert or owned */
	char *owned[PS_ROW_COLS];
	size_t nowned;
} ps_row;

/* Validates alerts[idx] (a) and fills *out; TD_EINVAL names the field.  The
 * alert must outlive *out; release with ps_row_free (also after failure). */
int ps_row_build(ps_row *out, const Tfdrift__V1__DriftAlert *a, size_t idx, td_error *err);
void ps_row_free(ps_row *r);

/* Appends "seq\tv1\t...\n" in COPY text format to *buf (malloc'd, grown;
 * owned by the caller).  TD_ENOMEM. */
int ps_row_copy_line(const ps_row *r, int seq, char **buf, size_t *len, size_t *cap);

/* SQL for the temporary table (IF NOT EXISTS, ON COMMIT DELETE ROWS), the
 * COPY command and the move into alerts.  Static strings built once. */
const char *ps_copy_table_sql(void);
const char *ps_copy_from_sql(void);
const char *ps_copy_insert_sql(void);

#endif
