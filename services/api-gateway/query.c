/* query.c — see query.h. */
#include "query.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfdrift/clock.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *const gw_statuses[] = { "open", "acknowledged", "resolved", "ignored" };
const size_t gw_nstatuses = NELEM(gw_statuses);

/* Longest value accepted for a text filter. */
#define TEXT_MAX 1024

static int
index_of(const char *const *list, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++) {
		if (strlen(list[i]) == len && memcmp(list[i], s, len) == 0) {
			return (int)i;
		}
	}
	return -1;
}

int
gw_severity_rank(const char *name)
{
	int i = index_of(td_severity_names, td_severity_count, name, strlen(name));
	return i < 0 ? -1 : i + 1;
}

/* ---- cursor: base64url("v1:<id>"), no padding --------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
gw_cursor_encode(int64_t id, char *buf, size_t len)
{
	char plain[32];
	int n = snprintf(plain, sizeof(plain), "v1:%" PRId64, id);
	size_t need = ((size_t)n * 4 + 2) / 3 + 1;
	if (id <= 0 || len < need) {
		return TD_EINVAL;
	}
	size_t o = 0;
	for (int i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)(unsigned char)plain[i] << 16;
		int have = n - i < 3 ? n - i : 3;
		if (have > 1) {
			v |= (uint32_t)(unsigned char)plain[i + 1] << 8;
		}
		if (have > 2) {
			v |= (uint32_t)(unsigned char)plain[i + 2];
		}
		buf[o++] = b64[(v >> 18) & 63];
		buf[o++] = b64[(v >> 12) & 63];
		if (have > 1) {
			buf[o++] = b64[(v >> 6) & 63];
		}
		if (have > 2) {
			buf[o++] = b64[v & 63];
		}
	}
	buf[o] = '\0';
	return 0;
}

int
gw_cursor_decode(const char *s, int64_t *id)
{
	char plain[32] = { 0 };
	size_t n = strlen(s), o = 0;
	uint32_t acc = 0;
	int bits = 0;
	if (n == 0 || n > 40 || n % 4 == 1) {
		return TD_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *p = strchr(b64, s[i]); /* s[i] is never NUL here */
		if (p == NULL) {
			return TD_EINVAL;
		}
		acc = (acc << 6) | (uint32_t)(p - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o + 1 >= sizeof(plain)) {
				return TD_EINVAL;
			}
			plain[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	plain[o] = '\0';
	if (strncmp(plain, "v1:", 3) != 0 || plain[3] < '1' || plain[3] > '9') {
		return TD_EINVAL;
	}
	char *end = NULL;
	errno = 0;
	long long v = strtoll(plain + 3, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0) {
		return TD_EINVAL;
	}
	/* Only the canonical spelling: one id, one cursor. */
	char again[48];
	if (gw_cursor_encode(v, again, sizeof(again)) != 0 || strcmp(again, s) != 0) {
		return TD_EINVAL;
	}
	*id = v;
	return 0;
}

/* ---- filters ------------------------------------------------------------------- */

typedef struct builder {
	gw_query *q;
	char *sql;
	size_t len, cap;
	bool oom;
	int nconds;
	bool seen[32]; /* per filter row: given already */
	int64_t since, until;
	bool have_since, have_until;
	int64_t cursor; /* 0: none */
	bool oldest;    /* sort=oldest: ascending ids */
} builder;

static void
add(builder *b, const char *s)
{
	size_t n = strlen(s);
	if (b->oom) {
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		while (cap < b->len + n + 1) {
			cap *= 2;
		}
		char *p = realloc(b->sql, cap);
		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->sql = p;
		b->cap = cap;
	}
	memcpy(b->sql + b->len, s, n + 1);
	b->len += n;
}

/* Adds a parameter holding a copy of v; returns its number ($N) or TD_ENOMEM. */
static int
param(builder *b, const char *v)
{
	if (b->q->nparams == GW_QUERY_MAX_PARAMS) {
		return TD_ERANGE;
	}
	char *c = strdup(v);
	if (c == NULL) {
		b->oom = true;
		return TD_ENOMEM;
	}
	b->q->values[b->q->nparams++] = c;
	return b->q->nparams;
}

/* Appends " WHERE"/" AND" + pre + $N + post for value v. */
static int
cond(builder *b, const char *pre, const char *v, const char *post)
{
	int n = param(b, v);
	if (n < 0) {
		return n;
	}
	char num[16];
	snprintf(num, sizeof(num), "$%d", n);
	add(b, b->nconds++ ? " AND " : " WHERE ");
	add(b, pre);
	add(b, num);
	add(b, post);
	return 0;
}

typedef struct filter filter;
typedef int (*filter_fn)(builder *b, const filter *f, const char *v, td_error *err);

struct filter {
	const char *name;
	filter_fn fn;
	const char *column;        /* for the column-based filters */
	const char *const *values; /* for enum lists */
	const size_t *nvalues;
};

/* "a,b,c" of known values -> column = ANY($N::text[]).  The array literal is
 * built only from the table's own spellings, so nothing needs quoting. */
static int
f_enum_list(builder *b, const filter *f, const char *v, td_error *err)
{
	char arr[256] = "{";
	size_t alen = 1;
	const char *p = v;
	for (;;) {
		size_t len = strcspn(p, ",");
		int i = index_of(f->values, *f->nvalues, p, len);
		if (i < 0) {
			char allowed[128] = "";
			for (size_t k = 0; k < *f->nvalues; k++) {
				size_t l = strlen(allowed);
				snprintf(allowed + l, sizeof(allowed) - l, "%s%s", k ? ", " : "",
				    f->values[k]);
			}
			return td_error_set(err, TD_EINVAL, "%s: '%.*s' is not one of %s", f->name,
			    (int)(len > 64 ? 64 : len), p, allowed);
		}
		alen += (size_t)snprintf(arr + alen, sizeof(arr) - alen, "%s%s",
		    alen > 1 ? "," : "", f->values[i]);
		if (alen >= sizeof(arr) - 1) {
			return td_error_set(err, TD_EINVAL, "%s: too many values", f->name);
		}
		if (p[len] == '\0') {
			break;
		}
		p += len + 1;
	}
	snprintf(arr + alen, sizeof(arr) - alen, "}");
	char pre[64];
	snprintf(pre, sizeof(pre), "%s = ANY(", f->column);
	return cond(b, pre, arr, "::text[])");
}

static int
f_text(builder *b, const filter *f, const char *v, td_error *err)
{
	size_t len = strlen(v);
	if (len > TEXT_MAX) {
		return td_error_set(err, TD_EINVAL, "%s: longer than %d bytes", f->name, TEXT_MAX);
	}
	char pre[64];
	snprintf(pre, sizeof(pre), "%s = ", f->column);
	return cond(b, pre, v, "");
}

static int
f_min_severity(builder *b, const filter *f, const char *v, td_error *err)
{
	int rank = gw_severity_rank(v);
	if (rank < 0) {
		return td_error_set(err, TD_EINVAL,
		    "%s: '%.64s' is not one of info, low, medium, high, critical", f->name, v);
	}
	char num[16];
	snprintf(num, sizeof(num), "%d", rank);
	return cond(b, "severity_rank >= ", num, "::smallint");
}

static int
f_time(builder *b, const filter *f, const char *v, td_error *err)
{
	int64_t ns;
	if (td_clock_parse(v, &ns) != 0) {
		return td_error_set(err, TD_EINVAL,
		    "%s: '%.64s' is not an RFC 3339 time (e.g. 2026-11-26T15:04:05Z)", f->name, v);
	}
	bool is_since = strcmp(f->name, "since") == 0;
	if (is_since) {
		b->since = ns;
		b->have_since = true;
	} else {
		b->until = ns;
		b->have_until = true;
	}
	char text[64];
	td_clock_format(ns, 9, text, sizeof(text));
	return cond(b, is_since ? "event_time >= " : "event_time < ", text, "::timestamptz");
}

static int
f_limit(builder *b, const filter *f, const char *v, td_error *err)
{
	char *end = NULL;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 || n < 1 || n > GW_LIMIT_MAX) {
		return td_error_set(err, TD_EINVAL, "%s: must be between 1 and %d", f->name,
		    GW_LIMIT_MAX);
	}
	b->q->limit = (int)n;
	return 0;
}

static int
f_cursor(builder *b, const filter *f, const char *v, td_error *err)
{
	int64_t id;
	if (gw_cursor_decode(v, &id) != 0) {
		return td_error_set(err, TD_EINVAL, "%s: not a cursor this API returned", f->name);
	}
	b->cursor = id; /* applied last: its direction depends on sort */
	return 0;
}

static int
f_sort(builder *b, const filter *f, const char *v, td_error *err)
{
	if (strcmp(v, "newest") == 0) {
		b->oldest = false;
	} else if (strcmp(v, "oldest") == 0) {
		b->oldest = true;
	} else {
		return td_error_set(err, TD_EINVAL, "%s: '%.64s' is not one of newest, oldest",
		    f->name, v);
	}
	return 0;
}

/* Copies v into out with LIKE's metacharacters escaped; glob true turns
 * '*' and '?' into '%' and '_'.  out holds 2 * strlen(v) + 3 bytes. */
static void
like_pattern(const char *v, bool glob, bool contains, char *out)
{
	size_t o = 0;
	if (contains) {
		out[o++] = '%';
	}
	for (; *v != '\0'; v++) {
		if (glob && *v == '*') {
			out[o++] = '%';
		} else if (glob && *v == '?') {
			out[o++] = '_';
		} else {
			if (*v == '%' || *v == '_' || *v == '\\') {
				out[o++] = '\\';
			}
			out[o++] = *v;
		}
	}
	if (contains) {
		out[o++] = '%';
	}
	out[o] = '\0';
}

/* Appends a condition where every "$$" in tmpl is the one parameter v. */
static int
cond_tmpl(builder *b, const char *tmpl, const char *v)
{
	int n = param(b, v);
	if (n < 0) {
		return n;
	}
	char num[16];
	snprintf(num, sizeof(num), "$%d", n);
	add(b, b->nconds++ ? " AND " : " WHERE ");
	for (const char *p = tmpl; *p != '\0';) {
		const char *d = strstr(p, "$$");
		char piece[256];
		size_t len = d != NULL ? (size_t)(d - p) : strlen(p);
		snprintf(piece, sizeof(piece), "%.*s", (int)len, p);
		add(b, piece);
		if (d == NULL) {
			break;
		}
		add(b, num);
		p = d + 2;
	}
	return 0;
}

static int
f_like(builder *b, const filter *f, const char *v, td_error *err)
{
	size_t len = strlen(v);
	if (len > TEXT_MAX) {
		return td_error_set(err, TD_EINVAL, "%s: longer than %d bytes", f->name, TEXT_MAX);
	}
	char *pat = malloc(2 * len + 3);
	if (pat == NULL) {
		b->oom = true;
		return TD_ENOMEM;
	}
	bool is_q = strcmp(f->name, "q") == 0;
	like_pattern(v, !is_q, is_q, pat);
	int rv = cond_tmpl(b, f->column, pat);
	free(pat);
	return rv;
}

static int
f_either(builder *b, const filter *f, const char *v, td_error *err)
{
	if (strlen(v) > TEXT_MAX) {
		return td_error_set(err, TD_EINVAL, "%s: longer than %d bytes", f->name, TEXT_MAX);
	}
	return cond_tmpl(b, f->column, v);
}

static const filter filters[] = {
	{ "severity", f_enum_list, "severity", td_severity_names, &td_severity_count },
	{ "min_severity", f_min_severity, NULL, NULL, NULL },
	{ "status", f_enum_list, "status", gw_statuses, &gw_nstatuses },
	{ "kind", f_enum_list, "kind", td_kind_names, &td_kind_count },
	{ "workspace", f_text, "workspace", NULL, NULL },
	{ "resource_type", f_text, "resource_type", NULL, NULL },
	{ "event_name", f_text, "event_name", NULL, NULL },
	{ "event_id", f_text, "event_id", NULL, NULL },
	{ "since", f_time, NULL, NULL, NULL },
	{ "until", f_time, NULL, NULL, NULL },
	{ "service", f_text, "service", NULL, NULL },
	{ "region", f_text, "region", NULL, NULL },
	{ "account", f_text, "account_id", NULL, NULL },
	{ "principal", f_either, "(principal_name = $$ OR principal_arn = $$)", NULL, NULL },
	{ "address", f_like, "resource_address LIKE $$", NULL, NULL },
	{ "q", f_like,
	    "(resource_address ILIKE $$ OR principal_name ILIKE $$ OR principal_arn ILIKE $$ "
	    "OR event_name ILIKE $$)",
	    NULL, NULL },
	{ "sort", f_sort, NULL, NULL, NULL },
	{ "limit", f_limit, NULL, NULL, NULL },
	{ "cursor", f_cursor, NULL, NULL, NULL },
};

_Static_assert(NELEM(filters) <= sizeof(((builder *)0)->seen), "builder.seen too small");

void
gw_query_free(gw_query *q)
{
	if (q == NULL) {
		return;
	}
	for (int i = 0; i < q->nparams; i++) {
		free(q->values[i]);
	}
	free(q->where);
	memset(q, 0, sizeof(*q));
}

/* *q released with gw_query_free (also on failure). */
int
gw_query_build(const gw_kv *args, size_t n, gw_query *q, td_error *err)
{
	builder b = { .q = q };
	int rv = 0;
	memset(q, 0, sizeof(*q));
	q->limit = GW_LIMIT_DEFAULT;

	for (size_t i = 0; i < n; i++) {
		const char *key = args[i].key != NULL ? args[i].key : "";
		const char *v = args[i].value != NULL ? args[i].value : "";
		size_t f = 0;
		while (f < NELEM(filters) && strcmp(filters[f].name, key) != 0) {
			f++;
		}
		if (f == NELEM(filters)) {
			rv = td_error_set(err, TD_EINVAL, "%.64s: unknown parameter", key);
			goto out;
		}
		if (b.seen[f]) {
			rv = td_error_set(err, TD_EINVAL, "%s: given more than once%s", key,
			    filters[f].values != NULL ? " (use a comma list)" : "");
			goto out;
		}
		b.seen[f] = true;
		if (*v == '\0') {
			rv = td_error_set(err, TD_EINVAL, "%s: empty value", key);
			goto out;
		}
		if ((rv = filters[f].fn(&b, &filters[f], v, err)) != 0) {
			goto out;
		}
	}
	if (b.have_since && b.have_until && b.until <= b.since) {
		rv = td_error_set(err, TD_EINVAL, "until: must be later than since");
		goto out;
	}
	if (b.cursor > 0) {
		char num[32];
		snprintf(num, sizeof(num), "%" PRId64, b.cursor);
		if ((rv = cond(&b, b.oldest ? "id > " : "id < ", num, "::bigint")) != 0) {
			goto out;
		}
	}
	char lim[16];
	snprintf(lim, sizeof(lim), "%d", q->limit + 1);
	int pn = param(&b, lim);
	if (pn < 0) {
		rv = pn;
		goto out;
	}
	char tail[64];
	snprintf(tail, sizeof(tail), " ORDER BY id %s LIMIT $%d::integer",
	    b.oldest ? "ASC" : "DESC", pn);
	add(&b, tail);
	if (b.oom) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	q->where = b.sql;
	b.sql = NULL;
out:
	free(b.sql);
	if (rv == TD_ENOMEM || rv == TD_ERANGE) {
		td_error_set(err, rv, "cannot build the query: %s", td_strerror(rv));
	}
	return rv;
}

void
gw_query_error_param(const char *msg, char *buf, size_t len)
{
	size_t n = strspn(msg, "abcdefghijklmnopqrstuvwxyz_0123456789");
	if (n == 0 || msg[n] != ':' || n >= len) {
		n = 0;
	}
	memcpy(buf, msg, n);
	buf[n] = '\0';
}
