/* cloudtrail_file.c — CloudTrail log files (.json, .json.gz; Records or JSON Lines). */
#include "tfdrift/cloudtrail_file.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

#include "tfdrift/cloudtrail_record.h"
#include "tfdrift/json_check.h"

#define READ_CHUNK (1u << 20)
#define WALK_MAX_DEPTH 64

/* Suffixes a directory walk takes. */
static const char *const log_suffixes[] = { ".json", ".json.gz" };

/* The first fault in a string of each record of one JSON value (a document
 * or a JSON Lines line), found by td_json_check_value: cJSON takes invalid
 * UTF-8 and NULs (raw or \u0000) into its strings, which PostgreSQL would
 * refuse later.  index: the Records element; -1 outside Records (the value
 * itself, when it is one record). */
typedef struct bad_string {
	struct bad_string *next;
	long index;
	char why[]; /* "userIdentity.arn: the string is not valid UTF-8 (byte 812)" */
} bad_string;

/* In the order found, which is the records' order. */
typedef struct bad_list {
	bad_string *head, *tail;
	const bad_string *cursor; /* bad_find: where the last search ended */
	bool have_doc;            /* an entry with index -1 is kept */
} bad_list;

typedef struct parse_state {
	const char *name;
	const char *buf;
	size_t len;
	size_t index; /* next record's index */
	ct_file_fn fn;
	void *arg;
} parse_state;

/* ---- positions ------------------------------------------------------------ */

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t
skip_ws(const char *buf, size_t len, size_t off)
{
	while (off < len && is_ws(buf[off]))
		off++;
	return off;
}

/* 1-based line and column of buf[pos]. */
static void
line_col(const char *buf, size_t pos, size_t *line, size_t *col)
{
	size_t l = 1, start = 0;

	for (size_t i = 0; i < pos; i++) {
		if (buf[i] == '\n') {
			l++;
			start = i + 1;
		}
	}
	*line = l;
	*col = pos - start + 1;
}

/* ---- faults in strings ------------------------------------------------------ */

static void
bad_clear(bad_list *b)
{
	while (b->head != NULL) {
		bad_string *next = b->head->next;
		free(b->head);
		b->head = next;
	}
	*b = (bad_list){ 0 };
}

/* td_json_fault_fn: keeps the first fault of each record. */
static int
on_fault(void *arg, const td_json_fault *f)
{
	bad_list *b = arg;
	const char *sep = f->field[0] != '\0' ? ": " : "";
	bad_string *s;
	int n;

	if (f->index < 0 ? b->have_doc : b->tail != NULL && b->tail->index == f->index)
		return 0;
	n = snprintf(NULL, 0, "%s%s%s", f->field, sep, f->why);
	s = n >= 0 ? malloc(sizeof(*s) + (size_t)n + 1) : NULL;
	if (s == NULL)
		return TD_ENOMEM;
	s->next = NULL;
	s->index = f->index;
	snprintf(s->why, (size_t)n + 1, "%s%s%s", f->field, sep, f->why);
	if (b->tail != NULL)
		b->tail->next = s;
	else
		b->head = s;
	if (b->cursor == NULL)
		b->cursor = b->head;
	b->tail = s;
	b->have_doc = b->have_doc || f->index < 0;
	return 0;
}

/* The fault of Records element idx, or NULL; idx -1: of the value itself.
 * Elements are asked for in increasing order. */
static const char *
bad_find(bad_list *b, long idx)
{
	if (idx < 0) {
		for (const bad_string *s = b->head; s != NULL; s = s->next)
			if (s->index < 0)
				return s->why;
		return NULL;
	}
	while (b->cursor != NULL && b->cursor->index < idx)
		b->cursor = b->cursor->next;
	return b->cursor != NULL && b->cursor->index == idx ? b->cursor->why : NULL;
}

/* ---- records -------------------------------------------------------------- */

static int
emit(parse_state *st, size_t line, const cJSON *json, const char *reason)
{
	ct_file_record rec = {
		.path = st->name,
		.index = st->index++,
		.line = line,
		.json = json,
		.reason = reason,
	};
	return st->fn(st->arg, &rec);
}

static void
record_where(const parse_state *st, size_t line, char *buf, size_t len)
{
	if (line > 0)
		snprintf(buf, len, "record %zu (line %zu)", st->index, line);
	else
		snprintf(buf, len, "record %zu", st->index);
}

/* A record that is not taken: "record 3 (line 4): " + why. */
static int
emit_rejected(parse_state *st, size_t line, const char *why)
{
	char where[64], reason[512];

	record_where(st, line, where, sizeof(where));
	snprintf(reason, sizeof(reason), "%s: %s", where, why);
	return emit(st, line, NULL, reason);
}

/* A record that is a JSON object (with no fault in its strings), else
 * rejected saying why. */
static int
emit_one(parse_state *st, size_t line, const cJSON *item, const char *bad_why)
{
	char got[64], why[160];

	if (bad_why != NULL)
		return emit_rejected(st, line, bad_why);
	if (cJSON_IsObject(item))
		return emit(st, line, item, NULL);
	snprintf(why, sizeof(why), "expected a JSON object, got %s",
	    ct_json_describe(item, got, sizeof(got)));
	return emit_rejected(st, line, why);
}

/* Every element of a Records array.  line: the JSON Lines line holding the
 * document, or 0. */
static int
emit_records(parse_state *st, const cJSON *records, size_t line, bad_list *bad)
{
	const cJSON *item;
	long k = 0;
	int rv;

	cJSON_ArrayForEach(item, records)
	{
		if ((rv = emit_one(st, line, item, bad_find(bad, k++))) != 0)
			return rv;
	}
	return 0;
}

/* One parsed document: {"Records":[...]} or a single record. */
static int
emit_document(parse_state *st, const cJSON *doc, size_t line, bad_list *bad, td_error *err)
{
	const cJSON *records;
	char got[64];

	if (!cJSON_IsObject(doc))
		return td_error_set(err, TD_EINVAL,
		    "%s:%zu: expected an object with a Records array, or JSON Lines; got %s",
		    st->name, line, ct_json_describe(doc, got, sizeof(got)));
	records = cJSON_GetObjectItemCaseSensitive(doc, "Records");
	if (records == NULL)
		return emit_one(st, line, doc, bad_find(bad, -1));
	if (!cJSON_IsArray(records))
		return td_error_set(err, TD_EINVAL, "%s:%zu: Records: expected an array, got %s",
		    st->name, line, ct_json_describe(records, got, sizeof(got)));
	return emit_records(st, records, 0, bad);
}

/* Parses the JSON value at buf[off..off+n): checked strictly first
 * (td_json_check_value; its faults in strings go to bad), then by cJSON.
 * 0 with *out (the caller's, cJSON_Delete) and *used (bytes up to the value's
 * end); TD_EINVAL with *used where it stops parsing; TD_ENOMEM. */
static int
parse_value(const char *buf, size_t off, size_t n, bad_list *bad, cJSON **out, size_t *used)
{
	const char *end = NULL;
	td_error jerr;
	int rv;

	*out = NULL;
	bad_clear(bad);
	td_error_clear(&jerr);
	rv = td_json_check_value(buf + off, n, "Records", "record", on_fault, bad, used, &jerr);
	if (rv != 0)
		return rv;
	/* what the check passes cJSON takes, but for an unpaired surrogate escape */
	*out = cJSON_ParseWithLengthOpts(buf + off, n, &end, false);
	if (*out == NULL) {
		*used = end != NULL ? (size_t)(end - (buf + off)) : 0;
		return TD_EINVAL;
	}
	return 0;
}

/* Parses buf[off..off+n) as exactly one JSON value (parse_value); TD_EINVAL
 * with *errpos (relative to off) if it does not parse or has more after it. */
static int
parse_one(const char *buf, size_t off, size_t n, bad_list *bad, cJSON **out, size_t *errpos)
{
	size_t used = 0;
	int rv = parse_value(buf, off, n, bad, out, &used);

	*errpos = used;
	if (rv != 0 || skip_ws(buf + off, n, used) == n)
		return rv;
	cJSON_Delete(*out);
	*out = NULL;
	return TD_EINVAL;
}

static int
parse_lines(parse_state *st, bad_list *bad)
{
	size_t off = 0, line = 0;
	int rv = 0;

	while (off < st->len && rv == 0) {
		const char *nl = memchr(st->buf + off, '\n', st->len - off);
		size_t n = nl ? (size_t)(nl - (st->buf + off)) : st->len - off;
		size_t errpos = 0;
		cJSON *v = NULL;

		line++;
		if (skip_ws(st->buf + off, n, 0) == n) {
			off += n + 1;
			continue;
		}
		rv = parse_one(st->buf, off, n, bad, &v, &errpos);
		if (rv == TD_EINVAL) {
			char why[64];
			snprintf(why, sizeof(why), "not valid JSON (column %zu)", errpos + 1);
			rv = emit_rejected(st, line, why);
		} else if (rv != 0) {
			break;
		} else if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(v, "Records"))) {
			rv = emit_records(st, cJSON_GetObjectItemCaseSensitive(v, "Records"), line,
			    bad);
		} else {
			rv = emit_one(st, line, v, bad_find(bad, -1));
		}
		cJSON_Delete(v);
		off += n + 1;
	}
	return rv;
}

/* True when the second non-blank line is a JSON object on its own: the file is
 * JSON Lines even though its first line is broken. */
static bool
looks_like_lines(const char *buf, size_t len, bad_list *bad)
{
	size_t off = 0;
	int seen = 0;

	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (buf + off)) : len - off;

		if (skip_ws(buf + off, n, 0) != n && ++seen == 2) {
			size_t errpos;
			cJSON *v = NULL;
			bool ok = parse_one(buf, off, n, bad, &v, &errpos) == 0 &&
			    cJSON_IsObject(v);
			cJSON_Delete(v);
			return ok;
		}
		off += n + 1;
	}
	return false;
}

int
ct_file_parse(const char *name, const char *buf, size_t len, ct_file_fn fn, void *arg,
    td_error *err)
{
	parse_state st = { .name = name, .buf = buf, .len = len, .fn = fn, .arg = arg };
	bad_list bad = { 0 };
	size_t off = 0, line, col, used = 0;
	cJSON *doc = NULL;
	int rv;

	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
		off = 3; /* UTF-8 byte order mark */
	off = skip_ws(buf, len, off);
	if (off == len)
		return 0;
	rv = parse_value(buf, off, len - off, &bad, &doc, &used);
	if (rv == TD_EINVAL) {
		if (looks_like_lines(buf, len, &bad)) {
			rv = parse_lines(&st, &bad);
		} else {
			line_col(buf, off + used, &line, &col);
			rv = td_error_set(err, TD_EINVAL, "%s:%zu: not valid JSON (column %zu)",
			    name, line, col);
		}
	} else if (rv != 0) {
		rv = td_error_set(err, rv, "%s: out of memory", name);
	} else if (skip_ws(buf, len, off + used) == len) {
		line_col(buf, off, &line, &col);
		rv = emit_document(&st, doc, line, &bad, err);
	} else {
		rv = parse_lines(&st, &bad);
	}
	cJSON_Delete(doc);
	bad_clear(&bad);
	return rv;
}

/* ---- files ---------------------------------------------------------------- */

/* Reads the whole (decompressed) file into *out (malloc'd, NUL-terminated,
 * owned by the caller). */
static int
slurp(const char *path, size_t max_bytes, char **out, size_t *outlen, td_error *err)
{
	struct stat sb;
	gzFile gz = NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rv = 0, errnum = 0;

	*out = NULL;
	if (stat(path, &sb) != 0)
		return td_error_set(err, errno == ENOENT ? TD_ENOTFOUND : TD_EIO, "%s: %s", path,
		    strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return td_error_set(err, TD_EIO, "%s: not a regular file", path);
	gz = gzopen(path, "rb");
	if (gz == NULL)
		return td_error_set(err, TD_EIO, "%s: %s", path,
		    errno ? strerror(errno) : "cannot open");
	gzbuffer(gz, 128 * 1024);
	for (;;) {
		int n;

		if (cap - len < READ_CHUNK + 1) {
			size_t ncap = cap ? cap * 2 : 4 * READ_CHUNK;
			char *nbuf;
			if (ncap > max_bytes + READ_CHUNK + 1)
				ncap = max_bytes + READ_CHUNK + 1;
			nbuf = realloc(buf, ncap);
			if (nbuf == NULL) {
				rv = td_error_set(err, TD_ENOMEM, "%s: out of memory", path);
				goto out;
			}
			buf = nbuf;
			cap = ncap;
		}
		n = gzread(gz, buf + len, READ_CHUNK);
		if (n < 0) {
			rv = td_error_set(err, TD_EIO, "%s: %s", path, gzerror(gz, &errnum));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max_bytes) {
			rv = td_error_set(err, TD_ETOOBIG,
			    "%s: larger than %zu MiB once decompressed; split it or raise the limit",
			    path, max_bytes >> 20);
			goto out;
		}
	}
	/* a truncated .gz ends without an error from gzread but gzerror reports it */
	gzerror(gz, &errnum);
	if (errnum != Z_OK && errnum != Z_STREAM_END) {
		rv = td_error_set(err, TD_EIO, "%s: %s", path, gzerror(gz, &errnum));
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
out:
	if (gz != NULL)
		gzclose(gz);
	free(buf);
	return rv;
}

int
ct_file_read(const char *path, size_t max_bytes, ct_file_fn fn, void *arg, td_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	int rv;

	if (max_bytes == 0)
		max_bytes = CT_FILE_MAX_BYTES;
	if ((rv = slurp(path, max_bytes, &buf, &len, err)) != 0)
		return rv;
	rv = ct_file_parse(path, buf, len, fn, arg, err);
	free(buf);
	return rv;
}

/* ---- listing -------------------------------------------------------------- */

typedef struct file_list {
	char **items;
	size_t n, cap;
} file_list;

static int
list_add(file_list *l, const char *path)
{
	char *copy;

	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		char **ni = realloc(l->items, ncap * sizeof(*ni));
		if (ni == NULL)
			return TD_ENOMEM;
		l->items = ni;
		l->cap = ncap;
	}
	if ((copy = strdup(path)) == NULL)
		return TD_ENOMEM;
	l->items[l->n++] = copy;
	return 0;
}

static bool
has_log_suffix(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(log_suffixes) / sizeof(log_suffixes[0]); i++) {
		size_t s = strlen(log_suffixes[i]);
		if (n > s && strcmp(name + n - s, log_suffixes[i]) == 0)
			return true;
	}
	return false;
}

static int
walk(const char *dir, int depth, file_list *l, td_error *err)
{
	DIR *d;
	struct dirent *de;
	int rv = 0;

	if (depth > WALK_MAX_DEPTH)
		return td_error_set(err, TD_EINVAL, "%s: directories nested deeper than %d", dir,
		    WALK_MAX_DEPTH);
	d = opendir(dir);
	if (d == NULL)
		return td_error_set(err, TD_EIO, "%s: %s", dir, strerror(errno));
	while (rv == 0 && (de = readdir(d)) != NULL) {
		struct stat sb;
		char *child;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (asprintf(&child, "%s/%s", dir, de->d_name) < 0) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			break;
		}
		if (lstat(child, &sb) != 0) {
			rv = td_error_set(err, TD_EIO, "%s: %s", child, strerror(errno));
		} else if (S_ISDIR(sb.st_mode)) {
			rv = walk(child, depth + 1, l, err);
		} else if (has_log_suffix(de->d_name)) {
			/* a symlink counts when it points at a regular file */
			if (S_ISLNK(sb.st_mode) && stat(child, &sb) != 0)
				sb.st_mode = 0;
			if (S_ISREG(sb.st_mode) && list_add(l, child) != 0)
				rv = td_error_set(err, TD_ENOMEM, "out of memory");
		}
		free(child);
	}
	closedir(d);
	return rv;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
ct_file_list_free(char **files, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
}

int
ct_file_list(const char *path, char ***files, size_t *n, td_error *err)
{
	file_list l = { 0 };
	struct stat sb;
	int rv = 0;

	*files = NULL;
	*n = 0;
	if (stat(path, &sb) != 0)
		return td_error_set(err, errno == ENOENT ? TD_ENOTFOUND : TD_EIO, "%s: %s", path,
		    strerror(errno));
	if (S_ISREG(sb.st_mode)) {
		if (list_add(&l, path) != 0)
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
	} else if (S_ISDIR(sb.st_mode)) {
		size_t plen = strlen(path);
		char *dir = strdup(path);
		if (dir == NULL) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			goto out;
		}
		while (plen > 1 && dir[plen - 1] == '/')
			dir[--plen] = '\0'; /* "logs/" lists as logs/a.json, not logs//a.json */
		rv = walk(dir, 0, &l, err);
		free(dir);
		if (rv == 0 && l.n > 0)
			qsort(l.items, l.n, sizeof(*l.items), cmp_str);
	} else {
		rv = td_error_set(err, TD_EIO, "%s: not a regular file or directory", path);
	}
out:
	if (rv != 0) {
		ct_file_list_free(l.items, l.n);
		return rv;
	}
	*files = l.items;
	*n = l.n;
	return 0;
}
