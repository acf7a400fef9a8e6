/* db.h — small helpers for the notifier's SQL: one command with text
 * parameters, and PostgreSQL array literals built in a growing buffer. */
#ifndef TFDRIFT_NOTIFIER_DB_H
#define TFDRIFT_NOTIFIER_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/* Runs sql with n text parameters.  0 when the result has status want
 * (PGRES_COMMAND_OK or PGRES_TUPLES_OK); then *out (if not NULL) holds the
 * result, owned by the caller (PQclear).  Otherwise TD_EDEPEND with the
 * error, on one line, in why (may be NULL). */
int db_exec(PGconn *c, const char *sql, int n, const char *const *params, ExecStatusType want,
    PGresult **out, char *why, size_t whylen);

/* An array literal "{...}" being built; grows; owned by the caller (db_arr_free). */
typedef struct db_arr {
	char *s;
	size_t len, cap;
	size_t n;
	bool oom;
} db_arr;

void db_arr_int(db_arr *a, int64_t v);
void db_arr_text(db_arr *a, const char *v);
/* The literal ("{}" when empty); NULL when out of memory. Borrowed. */
const char *db_arr_str(db_arr *a);
void db_arr_free(db_arr *a);

#endif
