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

#define READ_CHUNK (1u << 20)
#define WALK_MAX_DEPTH 64

/* Suffixes a directory walk takes. */
static const char *const log_suffixes[] = { ".json", ".json.gz" };

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

/* Every element of a Records array.  line: the JSON Lines line holding the
 * document, or 0. */
static int
emit_records(parse_state *st, const cJSON *records, size_t line)
{
	const cJSON *item;
	int rv;

	cJSON_ArrayForEach(item, records)
	{
		if (cJSON_IsObject(item)) {
			rv = emit(st, line, item, NULL);
		} else {
			char where[64], got[64], reason[160];
			record_where(st, line, where, sizeof(where));
			snprintf(reason, sizeof(reason), "%s: expected a JSON object, got %s",
			    where, ct_json_describe(item, got, sizeof(got)));
			rv = emit(st, line, NULL, reason);
		}
		if (rv != 0)
			return rv;
	}
	return 0;
}

/* One parsed document: {"Records":[...]} or a single record. */
static int
emit_document(parse_state *st, const cJSON *doc, size_t line, td_error *err)
{
	const cJSON *records;
	char got[64];

	if (!cJSON_IsObject(doc))
		return td_error_set(err, TD_EINVAL,
		    "%s:%zu: expected an object with a Records array, or JSON Lines; got %s",
		    st->name, line, ct_json_describe(doc, got, sizeof(got)));
	records = cJSON_GetObjectItemCaseSensitive(doc, "Records");
	if (records == NULL)
		return emit(st, line, doc, NULL);
	if (!cJSON_IsArray(records))
		return td_error_set(err, TD_EINVAL, "%s:%zu: Records: expected an array, got %s",
		    st->name, line, ct_json_describe(records, got, sizeof(got)));
	return emit_records(st, records, 0);
}

/* Parses buf[off..off+n) as exactly one JSON value; NULL (and *errpos, relative
 * to off) if it does not parse or has more after it. */
static cJSON *
parse_one(const char *buf, size_t off, size_t n, size_t *errpos)
{
	const char *end = NULL;
	cJSON *v = cJSON_ParseWithLengthOpts(buf + off, n, &end, false);
	size_t used;

	if (v == NULL) {
		*errpos = end != NULL ? (size_t)(end - (buf + off)) : 0;
		return NULL;
	}
	used = (size_t)(end - (buf + off));
	if (skip_ws(buf + off, n, used) != n) {
		*errpos = used;
		cJSON_Delete(v);
		return NULL;
	}
	return v;
}

static int
parse_lines(parse_state *st)
{
	size_t off = 0, line = 0;
	int rv = 0;

	while (off < st->len && rv == 0) {
		const char *nl = memchr(st->buf + off, '\n', st->len - off);
		size_t n = nl ? (size_t)(nl - (st->buf + off)) : st->len - off;
		size_t errpos = 0;
		cJSON *v;

		line++;
		if (skip_ws(st->buf + off, n, 0) == n) {
			off += n + 1;
			continue;
		}
		v = parse_one(st->buf, off, n, &errpos);
		if (v == NULL) {
			char where[64], reason[160];
			record_where(st, line, where, sizeof(where));
			snprintf(reason, sizeof(reason), "%s: not valid JSON (column %zu)", where,
			    errpos + 1);
			rv = emit(st, line, NULL, reason);
		} else if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(v, "Records"))) {
			rv = emit_records(st, cJSON_GetObjectItemCaseSensitive(v, "Records"), line);
		} else if (cJSON_IsObject(v)) {
			rv = emit(st, line, v, NULL);
		} else {
			char where[64], got[64], reason[160];
			record_where(st, line, where, sizeof(where));
			snprintf(reason, sizeof(reason), "%s: expected a JSON object, got %s",
			    where, ct_json_describe(v, got, sizeof(got)));
			rv = emit(st, line, NULL, reason);
		}
		cJSON_Delete(v);
		off += n + 1;
	}
	return rv;
}

/* True when the second non-blank line is a JSON object on its own: the file is
 * JSON Lines even though its first line is broken. */
static bool
looks_like_lines(const char *buf, size_t len)
{
	size_t off = 0;
	int seen = 0;

	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (buf + off)) : len - off;

		if (skip_ws(buf + off, n, 0) != n && ++seen == 2) {
			size_t errpos;
			cJSON *v = parse_one(buf, off, n, &errpos);
			bool ok = cJSON_IsObject(v);
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
	const char *end = NULL;
	size_t off = 0, line, col, after;
	cJSON *doc;
	int rv;

	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
		off = 3; /* UTF-8 byte order mark */
	off = skip_ws(buf, len, off);
	if (off == len)
		return 0;
	doc = cJSON_ParseWithLengthOpts(buf + off, len - off, &end, false);
	if (doc == NULL) {
		if (looks_like_lines(buf, len))
			return parse_lines(&st);
		line_col(buf, end != NULL ? (size_t)(end - buf) : off, &line, &col);
		return td_error_set(err, TD_EINVAL, "%s:%zu: not valid JSON (column %zu)", name,
		    line, col);
	}
	after = skip_ws(buf, len, (size_t)(end - buf));
	if (after == len) {
		line_col(buf, off, &line, &col);
		rv = emit_document(&st, doc, line, err);
		cJSON_Delete(doc);
		return rv;
	}
	cJSON_Delete(doc);
	return parse_lines(&st);
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
