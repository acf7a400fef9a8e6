/* db.c — see db.h. */
#include "db.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfdrift/error.h"
#include "tfdrift/pgpool.h"

int
db_exec(PGconn *c, const char *sql, int n, const char *const *params, ExecStatusType want,
    PGresult **out, char *why, size_t whylen)
{
	PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);

	if (out != NULL) {
		*out = NULL;
	}
	if (PQresultStatus(res) != want) {
		if (why != NULL) {
			const char *m = res != NULL ? PQresultErrorMessage(res) : "";
			snprintf(why, whylen, "%s",
			    m != NULL && *m != '\0' ? m : PQerrorMessage(c));
			td_pgpool_one_line(why);
		}
		PQclear(res);
		return TD_EDEPEND;
	}
	if (out != NULL) {
		*out = res;
	} else {
		PQclear(res);
	}
	return 0;
}

static void
put(db_arr *a, const char *s, size_t n)
{
	if (a->oom) {
		return;
	}
	if (a->len + n + 3 > a->cap) {
		size_t cap = a->cap == 0 ? 256 : a->cap;
		while (cap < a->len + n + 3) {
			cap *= 2;
		}
		char *ns = realloc(a->s, cap);
		if (ns == NULL) {
			a->oom = true;
			return;
		}
		a->s = ns;
		a->cap = cap;
	}
	if (a->len == 0) {
		a->s[a->len++] = '{';
	}
	memcpy(a->s + a->len, s, n);
	a->len += n;
	a->s[a->len] = '\0';
}

void
db_arr_int(db_arr *a, int64_t v)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%s%" PRId64, a->n > 0 ? "," : "", v);

	put(a, buf, (size_t)n);
	a->n++;
}

void
db_arr_text(db_arr *a, const char *v)
{
	put(a, a->n > 0 ? ",\"" : "\"", a->n > 0 ? 2 : 1);
	for (const char *p = v; p != NULL && *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			put(a, "\\", 1);
		}
		put(a, p, 1);
	}
	put(a, "\"", 1);
	a->n++;
}

const char *
db_arr_str(db_arr *a)
{
	if (a->oom) {
		return NULL;
	}
	if (a->n == 0) {
		return "{}";
	}
	put(a, "}", 1);
	a->len--; /* a later append goes before the brace */
	return a->oom ? NULL : a->s;
}

void
db_arr_free(db_arr *a)
{
	free(a->s);
	memset(a, 0, sizeof(*a));
}
