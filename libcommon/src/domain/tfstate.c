/* tfstate.c — Terraform state v4 (internal/states/statefile/version4.go). */
#include "tfdrift/tfstate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdalign.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tfdrift/identifiers.h"

#include "tfdrift/redact.h"

#define STATE_VERSION 4

/* Text kept by a state: blocks of at least ARENA_BLOCK bytes. */
#define ARENA_BLOCK (256u * 1024u)
/* Deepest JSON nesting accepted (cJSON's own limit is 1000). */
#define MAX_DEPTH 512
/* tfs_parse_file returns walked text to the system in steps of this size. */
#define RELEASE_STEP (4u * 1024u * 1024u)

typedef struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	_Alignas(max_align_t) char data[];
} arena_block;

struct tfs_state {
	arena_block *arena; /* owns every string and array the instances point to */
	size_t arena_bytes;
	uint64_t serial;
	const char *lineage;
	const char *terraform_version;
	tfs_instance *inst;
	size_t n, cap;
	size_t indexed;
	size_t redactions; /* values replaced by REDACT_TEXT */
};

/* ---- a small growable string -------------------------------------------- */

typedef struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
} sbuf;

static void
sb_putn(sbuf *b, const char *s, size_t n)
{
	size_t ncap;
	char *np;

	if (b->failed) {
		return;
	}
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap * 2 : 64;
		while (ncap < b->len + n + 1) {
			ncap *= 2;
		}
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_puts(sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

/* Appends s in HCL quotes, as Terraform's addrs.StringKey prints it: \n \r \t
 * \" \\ escaped, a template introducer ${ or %{ doubled, other control
 * characters as \uXXXX. */
static void
sb_put_hcl_quoted(sbuf *b, const char *s)
{
	char u[8];

	sb_putn(b, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '\n': sb_puts(b, "\\n"); break;
		case '\r': sb_puts(b, "\\r"); break;
		case '\t': sb_puts(b, "\\t"); break;
		case '"': sb_puts(b, "\\\""); break;
		case '\\': sb_puts(b, "\\\\"); break;
		case '$':
		case '%':
			sb_putn(b, s, 1);
			if (s[1] == '{') {
				sb_putn(b, s, 1);
			}
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				snprintf(u, sizeof(u), "\\u%04x", c);
				sb_puts(b, u);
			} else {
				sb_putn(b, s, 1);
			}
		}
	}
	sb_putn(b, "\"", 1);
}

/* ---- helpers ---------------------------------------------------------------- */

static bool
is_integer(double d)
{
	return isfinite(d) && d == floor(d);
}

/* ---- arena ----------------------------------------------------------------- */

static void *
arena_alloc(tfs_state *st, size_t n)
{
	arena_block *b = st->arena;
	size_t cap;

	n = (n + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
	if (b == NULL || b->cap - b->used < n) {
		cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
		if ((b = malloc(sizeof(*b) + cap)) == NULL) {
			return NULL;
		}
		b->next = st->arena;
		b->used = 0;
		b->cap = cap;
		st->arena = b;
		st->arena_bytes += sizeof(*b) + cap;
	}
	b->used += n;
	return b->data + b->used - n;
}

/* Gives back the unused end of p, the arena's last allocation (asked for
 * with n bytes, using only used of them). */
static void
arena_trim(tfs_state *st, void *p, size_t n, size_t used)
{
	arena_block *b = st->arena;
	size_t a = alignof(max_align_t);

	n = (n + a - 1) & ~(a - 1);
	used = (used + a - 1) & ~(a - 1);
	if (b != NULL && used <= n && (char *)p + n == b->data + b->used) {
		b->used -= n - used;
	}
}

static char *
arena_strndup(tfs_state *st, const char *s, size_t n)
{
	char *p = arena_alloc(st, n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static char *
arena_strdup(tfs_state *st, const char *s)
{
	return s != NULL ? arena_strndup(st, s, strlen(s)) : NULL;
}

/* ---- the scanner ------------------------------------------------------------ */

/* The JSON text being walked.  When release is set, text before `pos` that
 * is no longer needed is given back (MADV_DONTNEED on an anonymous mapping);
 * the line count of what was given back is kept for messages. */
typedef struct scan {
	const char *buf;
	size_t len, pos;
	const char *name;
	bool release;
	size_t released;       /* bytes [0, released) are gone */
	size_t released_lines; /* newlines in them */
	size_t released_col;   /* columns after the last of them */
	char where[96];        /* the JSON path being walked, for messages */
	td_error *err;
} scan;

static void
skip_ws(scan *s)
{
	while (s->pos < s->len) {
		char c = s->buf[s->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			break;
		}
		s->pos++;
	}
}

static int
syntax_error(scan *s, const char *what)
{
	size_t line = s->released_lines + 1, col = s->released_col + 1, i;

	for (i = s->released; i < s->pos && i < s->len; i++) {
		if (s->buf[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	if (s->where[0] != '\0') {
		return td_error_set(s->err, TD_EINVAL, "%s:%zu:%zu: %s (byte %zu, in %s)", s->name,
		    line, col, what, s->pos, s->where);
	}
	return td_error_set(s->err, TD_EINVAL, "%s:%zu:%zu: %s (byte %zu)", s->name, line, col,
	    what, s->pos);
}

/* Gives back whole pages before `upto` (only for our own mapping). */
static void
release_before(scan *s, size_t upto)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), end, lines = 0;
	const char *p, *nl, *last = NULL, *stop;

	if (!s->release || upto < s->released + RELEASE_STEP) {
		return;
	}
	end = upto & ~(page - 1);
	/* count the lines given back (memchr: this runs over the whole file) */
	stop = s->buf + end;
	for (p = s->buf + s->released;
	     p < stop && (nl = memchr(p, '\n', (size_t)(stop - p))) != NULL; p = nl + 1) {
		lines++;
		last = nl;
	}
	s->released_lines += lines;
	s->released_col = last != NULL ? (size_t)(stop - last - 1)
				       : s->released_col + (end - s->released);
	/* s->released is page-aligned: it only ever takes values of end */
	madvise((void *)(s->buf + s->released), end - s->released, MADV_DONTNEED);
	s->released = end;
}

static int skip_value(scan *s, int depth);

static int
skip_string(scan *s)
{
	const char *hex = "0123456789abcdefABCDEF";
	unsigned char c;
	int k;

	s->pos++; /* the opening quote */
	while (s->pos < s->len) {
		c = (unsigned char)s->buf[s->pos];
		if (c == '"') {
			s->pos++;
			return 0;
		}
		if (c < 0x20) {
			return syntax_error(s, "invalid JSON: control character in a string");
		}
		if (c == '\\') {
			if (++s->pos >= s->len) {
				break;
			}
			c = (unsigned char)s->buf[s->pos];
			if (c == 'u') {
				for (k = 0; k < 4; k++) {
					if (++s->pos >= s->len ||
					    strchr(hex, s->buf[s->pos]) == NULL) {
						return syntax_error(s,
						    "invalid JSON: bad \\u escape");
					}
				}
			} else if (strchr("\"\\/bfnrt", c) == NULL || c == '\0') {
				return syntax_error(s, "invalid JSON: bad escape");
			}
		}
		s->pos++;
	}
	return syntax_error(s, "invalid JSON: unterminated string (truncated file?)");
}

static bool
digit(scan *s)
{
	return s->pos < s->len && s->buf[s->pos] >= '0' && s->buf[s->pos] <= '9';
}

static int
skip_number(scan *s)
{
	if (s->buf[s->pos] == '-') {
		s->pos++;
	}
	if (!digit(s)) {
		return syntax_error(s, "invalid JSON");
	}
	if (s->buf[s->pos] == '0') {
		s->pos++;
	} else {
		while (digit(s)) {
			s->pos++;
		}
	}
	if (s->pos < s->len && s->buf[s->pos] == '.') {
		s->pos++;
		if (!digit(s)) {
			return syntax_error(s, "invalid JSON");
		}
		while (digit(s)) {
			s->pos++;
		}
	}
	if (s->pos < s->len && (s->buf[s->pos] == 'e' || s->buf[s->pos] == 'E')) {
		s->pos++;
		if (s->pos < s->len && (s->buf[s->pos] == '+' || s->buf[s->pos] == '-')) {
			s->pos++;
		}
		if (!digit(s)) {
			return syntax_error(s, "invalid JSON");
		}
		while (digit(s)) {
			s->pos++;
		}
	}
	return 0;
}

static int
skip_literal(scan *s, const char *lit)
{
	size_t n = strlen(lit);

	if (s->len - s->pos < n || memcmp(s->buf + s->pos, lit, n) != 0) {
		return syntax_error(s, "invalid JSON");
	}
	s->pos += n;
	return 0;
}

/* Iterating the members of an object or the elements of an array: call with
 * s->pos at '{' or '['; each call moves to the next member value (*key and
 * *klen set for objects; raw, escapes not decoded) and returns 1, or past the
 * closing bracket and returns 0.  Negative: a syntax error (err set). */
static int
next_item(scan *s, bool object, bool *first, const char **key, size_t *klen)
{
	size_t k0;

	if (*first) {
		s->pos++;
		skip_ws(s);
		if (s->pos < s->len && s->buf[s->pos] == (object ? '}' : ']')) {
			s->pos++;
			return 0;
		}
		*first = false;
	} else {
		skip_ws(s);
		if (s->pos >= s->len) {
			return syntax_error(s,
			    "invalid JSON: the text ends early (truncated file?)");
		}
		if (s->buf[s->pos] == (object ? '}' : ']')) {
			s->pos++;
			return 0;
		}
		if (s->buf[s->pos] != ',') {
			return syntax_error(s,
			    object ? "invalid JSON: expected ',' or '}'"
				   : "invalid JSON: expected ',' or ']'");
		}
		s->pos++;
		skip_ws(s);
	}
	if (object) {
		if (s->pos >= s->len || s->buf[s->pos] != '"') {
			return syntax_error(s,
			    s->pos >= s->len ? "invalid JSON: the text ends early (truncated file?)"
					     : "invalid JSON: expected a member name");
		}
		k0 = s->pos + 1;
		if (skip_string(s) != 0) {
			return TD_EINVAL;
		}
		*key = s->buf + k0;
		*klen = s->pos - k0 - 1;
		skip_ws(s);
		if (s->pos >= s->len || s->buf[s->pos] != ':') {
			return syntax_error(s, "invalid JSON: expected ':'");
		}
		s->pos++;
		skip_ws(s);
	}
	if (s->pos >= s->len) {
		return syntax_error(s, "invalid JSON: the text ends early (truncated file?)");
	}
	return 1;
}

static int
skip_value(scan *s, int depth)
{
	bool first = true, object;
	const char *key;
	size_t klen;
	int r;

	skip_ws(s);
	if (s->pos >= s->len) {
		return syntax_error(s, "invalid JSON: the text ends early (truncated file?)");
	}
	switch (s->buf[s->pos]) {
	case '"': return skip_string(s);
	case 't': return skip_literal(s, "true");
	case 'f': return skip_literal(s, "false");
	case 'n': return skip_literal(s, "null");
	case '{':
	case '[':
		if (depth >= MAX_DEPTH) {
			return syntax_error(s, "invalid JSON: nested too deeply");
		}
		object = s->buf[s->pos] == '{';
		while ((r = next_item(s, object, &first, &key, &klen)) == 1) {
			if (skip_value(s, depth + 1) != 0) {
				return TD_EINVAL;
			}
		}
		return r;
	default:
		if (s->buf[s->pos] == '-' || (s->buf[s->pos] >= '0' && s->buf[s->pos] <= '9')) {
			return skip_number(s);
		}
		return syntax_error(s, "invalid JSON");
	}
}

/* Skips the value at pos; *tree receives it parsed by cJSON (owned by the
 * caller), or NULL when out of memory (TD_ENOMEM). */
static int
parse_value(scan *s, cJSON **tree)
{
	size_t start;
	int rv;

	*tree = NULL;
	skip_ws(s);
	start = s->pos;
	if ((rv = skip_value(s, 0)) != 0) {
		return rv;
	}
	*tree = cJSON_ParseWithLength(s->buf + start, s->pos - start);
	if (*tree == NULL) {
		return td_error_set(s->err, TD_ENOMEM, "%s: out of memory", s->name);
	}
	return 0;
}

static bool
key_is(const char *key, size_t klen, const char *want)
{
	return strlen(want) == klen && memcmp(key, want, klen) == 0;
}

/* ---- helpers ---------------------------------------------------------------- */

static int
add_instance(tfs_state *st, const tfs_instance *in)
{
	size_t ncap;
	void *np;

	if (st->n == st->cap) {
		ncap = st->cap ? st->cap * 2 : 64;
		if ((np = realloc(st->inst, ncap * sizeof(*st->inst))) == NULL) {
			return TD_ENOMEM;
		}
		st->inst = np;
		st->cap = ncap;
	}
	st->inst[st->n++] = *in;
	if (tfs_instance_indexed(in)) {
		st->indexed++;
	}
	return 0;
}

/* Optional string member: absent or null gives "", another type is an error. */
static int
opt_string(const cJSON *obj, const char *key, const char **out, const char *name, const char *field,
    td_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = "";
	if (v == NULL || cJSON_IsNull(v)) {
		return 0;
	}
	if (!cJSON_IsString(v)) {
		return td_error_set(err, TD_EINVAL, "%s: %s%s: expected a string", name, field,
		    key);
	}
	*out = v->valuestring;
	return 0;
}

static int
req_string(const cJSON *obj, const char *key, const char **out, const char *name, const char *field,
    td_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = "";
	if (v == NULL || cJSON_IsNull(v)) {
		return td_error_set(err, TD_EINVAL, "%s: %s%s: missing", name, field, key);
	}
	if (!cJSON_IsString(v) || v->valuestring[0] == '\0') {
		return td_error_set(err, TD_EINVAL, "%s: %s%s: expected a non-empty string", name,
		    field, key);
	}
	*out = v->valuestring;
	return 0;
}

/* ---- one instance ------------------------------------------------------------ */

typedef struct res_ctx {
	const char *name;                             /* file name for messages */
	const char *module, *type, *rname, *provider; /* in the state's arena */
	bool managed;
	size_t ri;
	char *print; /* reusable buffer for compact attribute JSON */
	size_t print_cap;
} res_ctx;

static int
build_address(const res_ctx *rc, const cJSON *key, char **out, const char *field, td_error *err)
{
	sbuf b = { 0 };
	char num[32];

	if (rc->module[0] != '\0') {
		sb_puts(&b, rc->module);
		sb_puts(&b, ".");
	}
	if (!rc->managed) {
		sb_puts(&b, "data.");
	}
	sb_puts(&b, rc->type);
	sb_puts(&b, ".");
	sb_puts(&b, rc->rname);
	if (key != NULL && !cJSON_IsNull(key)) {
		if (cJSON_IsNumber(key)) {
			if (!is_integer(key->valuedouble) || fabs(key->valuedouble) > 9.0e15) {
				free(b.p);
				return td_error_set(err, TD_EINVAL,
				    "%s: %sindex_key: expected an integer or a string", rc->name,
				    field);
			}
			snprintf(num, sizeof(num), "[%.0f]", key->valuedouble);
			sb_puts(&b, num);
		} else if (cJSON_IsString(key)) {
			sb_puts(&b, "[");
			sb_put_hcl_quoted(&b, key->valuestring);
			sb_puts(&b, "]");
		} else {
			free(b.p);
			return td_error_set(err, TD_EINVAL,
			    "%s: %sindex_key: expected an integer or a string", rc->name, field);
		}
	}
	if (b.failed) {
		free(b.p);
		return td_error_set(err, TD_ENOMEM, "%s: out of memory", rc->name);
	}
	*out = b.p;
	return 0;
}

/* The instance's attributes object: `attributes`, or the legacy
 * `attributes_flat` map when there is none, or an empty object (as
 * Terraform reads it).  Borrowed from inst, or *owned (the caller frees). */
static int
instance_attributes(cJSON *inst, const res_ctx *rc, const char *field, cJSON **out, cJSON **owned,
    td_error *err)
{
	cJSON *a = cJSON_GetObjectItemCaseSensitive(inst, "attributes");

	*owned = NULL;
	if (a != NULL && !cJSON_IsNull(a)) {
		if (!cJSON_IsObject(a)) {
			return td_error_set(err, TD_EINVAL, "%s: %sattributes: expected an object",
			    rc->name, field);
		}
		*out = a;
		return 0;
	}
	a = cJSON_GetObjectItemCaseSensitive(inst, "attributes_flat");
	if (a != NULL && !cJSON_IsNull(a)) {
		if (!cJSON_IsObject(a)) {
			return td_error_set(err, TD_EINVAL,
			    "%s: %sattributes_flat: expected an object", rc->name, field);
		}
		*out = a;
		return 0;
	}
	if ((*owned = *out = cJSON_CreateObject()) == NULL) {
		return td_error_set(err, TD_ENOMEM, "%s: out of memory", rc->name);
	}
	return 0;
}

/* Copies JSON text into the arena without the whitespace between tokens. */
static int
keep_minified(tfs_state *st, const char *text, size_t len, tfs_instance *in)
{
	char *out = arena_alloc(st, len + 1);
	size_t i, j = 0;
	bool in_str = false;

	if (out == NULL) {
		return TD_ENOMEM;
	}
	for (i = 0; i < len; i++) {
		char c = text[i];
		if (in_str) {
			out[j++] = c;
			if (c == '\\' && i + 1 < len) {
				out[j++] = text[++i];
			} else if (c == '"') {
				in_str = false;
			}
		} else if (c != ' ' && c != '\n' && c != '\t' && c != '\r') {
			out[j++] = c;
			in_str = c == '"';
		}
	}
	out[j] = '\0';
	arena_trim(st, out, len + 1, j + 1);
	in->attributes_json = out;
	in->attributes_len = j;
	return 0;
}

/* ---- redacted attributes: the source text, patched -------------------------- */

/* Redaction only ever replaces a value of the tree with the string
 * REDACT_TEXT (redact.h), so the compact JSON of a redacted tree is the
 * source text minified with each such value swapped for the marker.  pt_copy
 * walks the text and the tree side by side and does exactly that, which
 * keeps numbers as written and costs a fraction of printing the tree.  Any
 * disagreement between the two (it should never happen) makes it fail, and
 * the caller prints the tree instead: a secret is never copied on a guess. */
typedef struct patch {
	const char *t; /* the source text */
	size_t len, i; /* its length; the read position */
	char *out;     /* room for len + extra bytes */
	size_t j, cap; /* the write position; the room */
} patch;

#define PT_MARK "\"" REDACT_TEXT "\""

/* Bytes that end a number or literal: structure and whitespace. */
static const bool pt_delim[256] = {
	[','] = true,
	[':'] = true,
	[']'] = true,
	['}'] = true,
	[' '] = true,
	['\n'] = true,
	['\t'] = true,
	['\r'] = true,
};

/* (locals, not p->..., in the loops: p->out is a char pointer, so every
 * write through it would otherwise make the compiler reload p) */
static void
pt_ws(patch *p)
{
	const char *t = p->t;
	size_t i = p->i, len = p->len;

	while (i < len && (t[i] == ' ' || t[i] == '\n' || t[i] == '\t' || t[i] == '\r')) {
		i++;
	}
	p->i = i;
}

/* Moves past a number or literal. */
static void
pt_scalar(patch *p)
{
	const char *t = p->t;
	size_t i = p->i, len = p->len;

	while (i < len && !pt_delim[(unsigned char)t[i]]) {
		i++;
	}
	p->i = i;
}

/* The end of the string starting at p->i (its opening quote); 0 if none.
 * *plain: no escapes in it. */
static size_t
pt_string_end(const patch *p, bool *plain)
{
	const char *t = p->t, *q, *bs;
	size_t k = p->i + 1, len = p->len;

	if (k > len || (q = memchr(t + k, '"', len - k)) == NULL) {
		return 0;
	}
	bs = memchr(t + k, '\\', (size_t)(q - (t + k)));
	*plain = bs == NULL;
	if (bs == NULL) {
		return (size_t)(q - t) + 1;
	}
	k = (size_t)(bs - t);
	while (k < len && t[k] != '"') {
		if (t[k] == '\\') {
			k++;
		}
		k++;
	}
	return k < len ? k + 1 : 0;
}

static bool
pt_emit(patch *p, const char *s, size_t n)
{
	if (p->cap - p->j < n) {
		return false;
	}
	memcpy(p->out + p->j, s, n);
	p->j += n;
	return true;
}

/* Skips the value at p->i (any type) without copying it. */
static bool
pt_skip(patch *p)
{
	size_t depth = 0, e;
	bool plain;

	do {
		pt_ws(p);
		if (p->i >= p->len) {
			return false;
		}
		switch (p->t[p->i]) {
		case '"':
			if ((e = pt_string_end(p, &plain)) == 0) {
				return false;
			}
			p->i = e;
			break;
		case '{':
		case '[':
			depth++;
			p->i++;
			break;
		case '}':
		case ']':
			if (depth == 0) {
				return false;
			}
			depth--;
			p->i++;
			break;
		case ',':
		case ':': p->i++; break;
		default: pt_scalar(p); break;
		}
	} while (depth > 0);
	return true;
}

static bool
pt_copy(patch *p, const cJSON *node, int depth)
{
	const cJSON *c;
	size_t e, start;
	bool plain, object;
	char ch;

	pt_ws(p);
	if (p->i >= p->len || depth > CJSON_NESTING_LIMIT) {
		return false;
	}
	ch = p->t[p->i];
	if (cJSON_IsString(node) && strcmp(node->valuestring, REDACT_TEXT) == 0) {
		return pt_skip(p) && pt_emit(p, PT_MARK, sizeof(PT_MARK) - 1);
	}
	if (ch == '"') {
		if (!cJSON_IsString(node) || (e = pt_string_end(p, &plain)) == 0) {
			return false;
		}
		start = p->i;
		p->i = e;
		return pt_emit(p, p->t + start, e - start);
	}
	if (ch != '{' && ch != '[') {
		if (cJSON_IsString(node) || cJSON_IsArray(node) || cJSON_IsObject(node)) {
			return false;
		}
		start = p->i;
		pt_scalar(p);
		return pt_emit(p, p->t + start, p->i - start);
	}
	object = ch == '{';
	if (object ? !cJSON_IsObject(node) : !cJSON_IsArray(node)) {
		return false;
	}
	if (!pt_emit(p, &ch, 1)) {
		return false;
	}
	p->i++;
	for (c = node->child;; c = c->next) {
		pt_ws(p);
		if (p->i < p->len && p->t[p->i] == (object ? '}' : ']')) {
			/* the tree must end here too */
			p->i++;
			return c == NULL && pt_emit(p, object ? "}" : "]", 1);
		}
		if (c == NULL) {
			return false;
		}
		if (c != node->child) {
			if (p->i >= p->len || p->t[p->i] != ',' || !pt_emit(p, ",", 1)) {
				return false;
			}
			p->i++;
			pt_ws(p);
		}
		if (object) {
			/* the member name must be the tree's (compared when plain) */
			if (p->i >= p->len || p->t[p->i] != '"' ||
			    (e = pt_string_end(p, &plain)) == 0 || c->string == NULL ||
			    (plain &&
				(strncmp(c->string, p->t + p->i + 1, e - p->i - 2) != 0 ||
				    c->string[e - p->i - 2] != '\0'))) {
				return false;
			}
			start = p->i;
			p->i = e;
			if (!pt_emit(p, p->t + start, e - start)) {
				return false;
			}
			pt_ws(p);
			if (p->i >= p->len || p->t[p->i] != ':' || !pt_emit(p, ":", 1)) {
				return false;
			}
			p->i++;
		}
		if (!pt_copy(p, c, depth + 1)) {
			return false;
		}
	}
}

/* The redacted attributes as compact JSON, patched from their source text
 * (built in rc->print, then copied to the arena); false when that cannot be
 * done (the caller prints the tree; err is set only for TD_ENOMEM). */
static bool
keep_patched(tfs_state *st, res_ctx *rc, const cJSON *attrs, const char *text, size_t len,
    size_t replaced, tfs_instance *in)
{
	patch p = { .t = text, .len = len };
	size_t need = len + replaced * (sizeof(PT_MARK) - 1) + 1;
	char *np;

	if (rc->print_cap < need) {
		if ((np = realloc(rc->print, need)) == NULL) {
			return false;
		}
		rc->print = np;
		rc->print_cap = need;
	}
	p.out = rc->print;
	p.cap = rc->print_cap;
	if (!pt_copy(&p, attrs, 0) || (pt_ws(&p), p.i != p.len) ||
	    (in->attributes_json = arena_strndup(st, p.out, p.j)) == NULL) {
		return false;
	}
	in->attributes_len = p.j;
	return true;
}

/* Keeps the attributes as compact JSON: the source text (when known, text !=
 * NULL) minified, and patched where values were redacted; the redacted tree
 * printed when the text is not known or cannot be patched. */
static int
keep_attributes(tfs_state *st, res_ctx *rc, const cJSON *attrs, const char *text, size_t len,
    size_t replaced, tfs_instance *in, td_error *err)
{
	size_t need = len + 64, n;
	char *np;

	if (text != NULL && replaced == 0) {
		if (keep_minified(st, text, len, in) != 0) {
			return td_error_set(err, TD_ENOMEM, "%s: out of memory", rc->name);
		}
		return 0;
	}
	if (text != NULL && keep_patched(st, rc, attrs, text, len, replaced, in)) {
		return 0;
	}
	for (;;) {
		if (rc->print_cap < need) {
			if ((np = realloc(rc->print, need)) == NULL) {
				return td_error_set(err, TD_ENOMEM, "%s: out of memory", rc->name);
			}
			rc->print = np;
			rc->print_cap = need;
		}
		if (cJSON_PrintPreallocated((cJSON *)attrs, rc->print, (int)rc->print_cap, false)) {
			break;
		}
		need = rc->print_cap * 2;
		if (need > INT_MAX) {
			return td_error_set(err, TD_ETOOBIG, "%s: attributes too large", rc->name);
		}
	}
	n = strlen(rc->print);
	if ((in->attributes_json = arena_strndup(st, rc->print, n)) == NULL) {
		return td_error_set(err, TD_ENOMEM, "%s: out of memory", rc->name);
	}
	in->attributes_len = n;
	return 0;
}

static int
keep_lists(tfs_state *st, const res_ctx *rc, const cJSON *deps, const cJSON *attrs,
    tfs_instance *in, td_error *err)
{
	const char *ids[IDX_MAX];
	char scratch[IDX_SCRATCH];
	const char **list;
	const cJSON *d;
	size_t n, k = 0;

	if (deps != NULL && (n = (size_t)cJSON_GetArraySize(deps)) > 0) {
		if ((list = arena_alloc(st, n * sizeof(*list))) == NULL) {
			goto nomem;
		}
		cJSON_ArrayForEach(d, deps)
		{
			if ((list[k++] = arena_strdup(st, d->valuestring)) == NULL) {
				goto nomem;
			}
		}
		in->dependencies = list;
		in->n_dependencies = n;
	}
	if (!rc->managed) {
		return 0; /* data sources are never indexed */
	}
	n = idx_identifiers(rc->type, attrs, ids, IDX_MAX, scratch, sizeof(scratch));
	if (n > 0) {
		if ((list = arena_alloc(st, n * sizeof(*list))) == NULL) {
			goto nomem;
		}
		for (k = 0; k < n; k++) {
			if ((list[k] = arena_strdup(st, ids[k])) == NULL) {
				goto nomem;
			}
		}
		in->identifiers = list;
		in->n_identifiers = n;
	}
	return 0;
nomem:
	return td_error_set(err, TD_ENOMEM, "%s: out of memory", rc->name);
}

/* ---- where an object lives (account, region) ------------------------------- */

/* A string attribute's value, or NULL. */
static const char *
str_attr(const cJSON *attrs, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(attrs, name);

	return cJSON_IsString(v) && v->valuestring[0] != '\0' ? v->valuestring : NULL;
}

static bool
is_account(const char *s, size_t n)
{
	if (n != 12) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
	}
	return true;
}

/* A region as an ARN or attribute writes it (eu-west-1, us-gov-west-1; test
 * corpora obfuscate them as us-northeast-1r): lowercase letters, digits and
 * hyphens, at least one hyphen.  What the state says is taken as it is, so
 * that it equals the awsRegion of the same account's records. */
static bool
is_region(const char *s, size_t n)
{
	bool dash = false;

	if (n < 3 || n > 32) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '-') {
			dash = true;
		} else if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9'))) {
			return false;
		}
	}
	return dash;
}

/* The account and region of an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:...)
 * into the spans acc and reg (length 0 when the ARN leaves them empty). */
static void
arn_parts(const char *arn, const char **acc, size_t *alen, const char **reg, size_t *rlen)
{
	const char *f[5];
	size_t k = 0;

	*alen = *rlen = 0;
	if (arn == NULL || strncmp(arn, "arn:", 4) != 0) {
		return;
	}
	for (const char *p = arn; *p != '\0' && k < 5; p++) {
		if (*p == ':') {
			f[k++] = p + 1;
		}
	}
	if (k < 5) {
		return;
	}
	*reg = f[2];
	*rlen = (size_t)(f[3] - f[2] - 1);
	*acc = f[3];
	*alen = (size_t)(f[4] - f[3] - 1);
}

/* in->account and in->region from the instance's own attributes.  Of the
 * data sources only the two that describe the provider configuration count
 * (aws_caller_identity, aws_region): the others describe objects that may
 * live elsewhere (a public AMI's owner_id is Amazon's account). */
static int
keep_scope(tfs_state *st, const res_ctx *rc, const cJSON *attrs, tfs_instance *in)
{
	const char *acc = "", *reg = "", *v = NULL;
	size_t alen = 0, rlen = 0;

	in->account = "";
	in->region = "";
	if (rc->managed) {
		arn_parts(str_attr(attrs, "arn"), &acc, &alen, &reg, &rlen);
		if (!is_account(acc, alen) && (v = str_attr(attrs, "owner_id")) != NULL) {
			acc = v;
			alen = strlen(v);
		}
		/* provider v6's per-resource region */
		if (!is_region(reg, rlen) && (v = str_attr(attrs, "region")) != NULL) {
			reg = v;
			rlen = strlen(v);
		}
	} else if (strcmp(rc->type, "aws_caller_identity") == 0 &&
	    (v = str_attr(attrs, "account_id")) != NULL) {
		acc = v;
		alen = strlen(v);
	} else if (strcmp(rc->type, "aws_region") == 0 &&
	    ((v = str_attr(attrs, "region")) != NULL || (v = str_attr(attrs, "name")) != NULL)) {
		reg = v;
		rlen = strlen(v);
	}
	if ((is_account(acc, alen) && (in->account = arena_strndup(st, acc, alen)) == NULL) ||
	    (is_region(reg, rlen) && (in->region = arena_strndup(st, reg, rlen)) == NULL)) {
		return TD_ENOMEM;
	}
	return 0;
}

/* attr_text/attr_len: the source text of the `attributes` member (NULL if
 * unknown). */
static int
parse_instance(tfs_state *st, res_ctx *rc, cJSON *inst, size_t ii, const char *attr_text,
    size_t attr_len, td_error *err)
{
	char field[96], where[512];
	const cJSON *v, *dep;
	tfs_instance in = { 0 };
	cJSON *attrs = NULL, *owned = NULL;
	char *address = NULL;
	const char *status, *deposed;
	size_t replaced = 0;
	int rv, k;

	snprintf(field, sizeof(field), "resources[%zu].instances[%zu].", rc->ri, ii);
	if (!cJSON_IsObject(inst)) {
		field[strlen(field) - 1] = '\0';
		return td_error_set(err, TD_EINVAL, "%s: %s: expected an object", rc->name, field);
	}
	if ((rv = opt_string(inst, "status", &status, rc->name, field, err)) != 0 ||
	    (rv = opt_string(inst, "deposed", &deposed, rc->name, field, err)) != 0) {
		return rv;
	}
	if (status[0] != '\0' && strcmp(status, "tainted") != 0) {
		return td_error_set(err, TD_EINVAL, "%s: %sstatus: unknown status \"%s\"", rc->name,
		    field, status);
	}
	v = cJSON_GetObjectItemCaseSensitive(inst, "dependencies");
	if (v != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsArray(v)) {
			return td_error_set(err, TD_EINVAL, "%s: %sdependencies: expected an array",
			    rc->name, field);
		}
		k = 0;
		cJSON_ArrayForEach(dep, v)
		{
			if (!cJSON_IsString(dep)) {
				return td_error_set(err, TD_EINVAL,
				    "%s: %sdependencies[%d]: expected a string", rc->name, field,
				    k);
			}
			k++;
		}
	} else {
		v = NULL;
	}
	if ((rv = instance_attributes(inst, rc, field, &attrs, &owned, err)) != 0) {
		return rv;
	}
	snprintf(where, sizeof(where), "%s: %ssensitive_attributes", rc->name, field);
	if ((rv = redact_resource(attrs, rc->type,
		 cJSON_GetObjectItemCaseSensitive(inst, "sensitive_attributes"), where, &replaced,
		 err)) != 0) {
		goto out;
	}
	if ((rv = build_address(rc, cJSON_GetObjectItemCaseSensitive(inst, "index_key"), &address,
		 field, err)) != 0) {
		goto out;
	}
	in.module = rc->module;
	in.type = rc->type;
	in.name = rc->rname;
	in.provider = rc->provider;
	in.managed = rc->managed;
	in.tainted = status[0] != '\0';
	in.resource_index = rc->ri;
	in.instance_index = ii;
	if ((in.address = arena_strdup(st, address)) == NULL ||
	    (deposed[0] != '\0' && (in.deposed = arena_strdup(st, deposed)) == NULL)) {
		rv = td_error_set(err, TD_ENOMEM, "%s: out of memory", rc->name);
		goto out;
	}
	/* the source text is only good when it is what `attrs` was parsed from;
	 * when something in it was redacted it is patched */
	if (attr_text == NULL || owned != NULL ||
	    attrs != cJSON_GetObjectItemCaseSensitive(inst, "attributes")) {
		attr_text = NULL;
		attr_len = 64;
	}
	if ((rv = keep_attributes(st, rc, attrs, attr_text, attr_len, replaced, &in, err)) != 0 ||
	    (rv = keep_lists(st, rc, v, attrs, &in, err)) != 0) {
		goto out;
	}
	if (keep_scope(st, rc, attrs, &in) != 0) {
		rv = td_error_set(err, TD_ENOMEM, "%s: out of memory", rc->name);
		goto out;
	}
	if ((rv = add_instance(st, &in)) != 0) {
		td_error_set(err, rv, "%s: out of memory", rc->name);
		goto out;
	}
	st->redactions += replaced;
out:
	free(address);
	cJSON_Delete(owned);
	return rv;
}

/* ---- one resource ------------------------------------------------------------ */

/* Skips an instances array, naming the element in syntax errors. */
static int
skip_instances(scan *s, size_t ri)
{
	bool first = true;
	const char *key;
	size_t klen, ii = 0;
	int r;

	if (s->buf[s->pos] != '[') {
		return skip_value(s, 0);
	}
	while ((r = next_item(s, false, &first, &key, &klen)) == 1) {
		snprintf(s->where, sizeof(s->where), "resources[%zu].instances[%zu]", ri, ii++);
		if (skip_value(s, 1) != 0) {
			return TD_EINVAL;
		}
	}
	snprintf(s->where, sizeof(s->where), "resources[%zu]", ri);
	return r;
}

/* Parses the value at pos with cJSON in one go (cJSON finds its end); on
 * failure the scanner walks it again to say precisely what is wrong. */
static int
parse_member(scan *s, cJSON **out, int depth)
{
	const char *end = NULL;
	size_t start;
	int rv;

	skip_ws(s);
	start = s->pos;
	*out = cJSON_ParseWithLengthOpts(s->buf + start, s->len - start, &end, false);
	if (*out != NULL) {
		s->pos = (size_t)(end - s->buf);
		return 0;
	}
	if ((rv = skip_value(s, depth)) != 0) {
		return rv;
	}
	s->pos = start;
	return td_error_set(s->err, TD_ENOMEM, "%s: out of memory", s->name);
}

/* One element of an instances array, built member by member so the
 * attributes' source text is known and `private` is never parsed. */
static int
walk_instance(tfs_state *st, scan *s, res_ctx *rc, size_t ii, td_error *err)
{
	bool first = true;
	const char *key, *attr_text = NULL;
	size_t klen, vstart, attr_len = 0;
	cJSON *inst = NULL, *v = NULL;
	char k[64];
	int r, rv = 0;

	snprintf(s->where, sizeof(s->where), "resources[%zu].instances[%zu]", rc->ri, ii);
	skip_ws(s);
	if (s->buf[s->pos] != '{') {
		/* let parse_instance name the problem */
		if ((rv = parse_member(s, &inst, 1)) == 0) {
			rv = parse_instance(st, rc, inst, ii, NULL, 0, err);
		}
		goto out;
	}
	if ((inst = cJSON_CreateObject()) == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "%s: out of memory", rc->name);
		goto out;
	}
	while ((r = next_item(s, true, &first, &key, &klen)) == 1) {
		if (key_is(key, klen, "private") || klen >= sizeof(k)) {
			/* provider-internal, may hold secrets; never needed */
			if ((rv = skip_value(s, 1)) != 0) {
				goto out;
			}
			continue;
		}
		vstart = s->pos;
		if ((rv = parse_member(s, &v, 2)) != 0) {
			goto out;
		}
		if (key_is(key, klen, "attributes")) {
			attr_text = s->buf + vstart;
			attr_len = s->pos - vstart;
		}
		memcpy(k, key, klen);
		k[klen] = '\0';
		cJSON_DeleteItemFromObjectCaseSensitive(inst, k);
		if (!cJSON_AddItemToObject(inst, k, v)) {
			cJSON_Delete(v);
			rv = td_error_set(err, TD_ENOMEM, "%s: out of memory", rc->name);
			goto out;
		}
	}
	if (r < 0) {
		rv = r;
		goto out;
	}
	rv = parse_instance(st, rc, inst, ii, attr_text, attr_len, err);
out:
	/* secrets in clear die with the tree */
	cJSON_Delete(inst);
	return rv;
}

static int
walk_instances(tfs_state *st, scan *s, res_ctx *rc, const char *field, td_error *err)
{
	bool first = true;
	const char *key;
	size_t klen, ii = 0;
	int r, rv;

	skip_ws(s);
	if (s->buf[s->pos] == 'n') {
		return skip_value(s, 0); /* null */
	}
	if (s->buf[s->pos] != '[') {
		if ((rv = skip_value(s, 0)) == 0) {
			rv = td_error_set(err, TD_EINVAL, "%s: %sinstances: expected an array",
			    rc->name, field);
		}
		return rv;
	}
	while ((r = next_item(s, false, &first, &key, &klen)) == 1) {
		if ((rv = walk_instance(st, s, rc, ii++, err)) != 0) {
			return rv;
		}
		release_before(s, s->pos);
	}
	snprintf(s->where, sizeof(s->where), "resources[%zu]", rc->ri);
	return r;
}

/* Checks the small members and sets rc's names (in the arena). */
static int
resource_names(tfs_state *st, const cJSON *small, res_ctx *rc, const char *field, td_error *err)
{
	const char *mode, *module, *type, *rname, *provider;
	int rv;

	if ((rv = opt_string(small, "module", &module, rc->name, field, err)) != 0 ||
	    (rv = req_string(small, "mode", &mode, rc->name, field, err)) != 0 ||
	    (rv = req_string(small, "type", &type, rc->name, field, err)) != 0 ||
	    (rv = req_string(small, "name", &rname, rc->name, field, err)) != 0 ||
	    (rv = opt_string(small, "provider", &provider, rc->name, field, err)) != 0) {
		return rv;
	}
	if (strcmp(mode, "managed") == 0) {
		rc->managed = true;
	} else if (strcmp(mode, "data") == 0) {
		rc->managed = false;
	} else {
		return td_error_set(err, TD_EINVAL,
		    "%s: %smode: expected \"managed\" or \"data\", got \"%s\"", rc->name, field,
		    mode);
	}
	if ((rc->module = arena_strdup(st, module)) == NULL ||
	    (rc->type = arena_strdup(st, type)) == NULL ||
	    (rc->rname = arena_strdup(st, rname)) == NULL ||
	    (rc->provider = arena_strdup(st, provider)) == NULL) {
		return td_error_set(err, TD_ENOMEM, "%s: out of memory", rc->name);
	}
	return 0;
}

/* Drops the instances added since n (a resource walked again). */
static void
drop_instances(tfs_state *st, size_t n)
{
	while (st->n > n) {
		st->n--;
		if (tfs_instance_indexed(&st->inst[st->n])) {
			st->indexed--;
		}
	}
}

/* Terraform writes module, mode, type, name and provider before instances,
 * so the instances are walked as they come.  When a naming member comes
 * after them (hand-made JSON), they are walked again from their remembered
 * place once the names are known. */
static int
parse_resource(tfs_state *st, scan *s, res_ctx *rc, td_error *err)
{
	char field[64], k[16];
	bool first = true, walked = false, late = false;
	const char *key;
	size_t klen, inst_pos = 0, n_before = st->n, red_before = st->redactions, end;
	cJSON *small = NULL, *v = NULL;
	int r, rv = 0;

	snprintf(field, sizeof(field), "resources[%zu].", rc->ri);
	snprintf(s->where, sizeof(s->where), "resources[%zu]", rc->ri);
	skip_ws(s);
	if (s->buf[s->pos] != '{') {
		if ((rv = skip_value(s, 0)) == 0) {
			rv = td_error_set(err, TD_EINVAL, "%s: resources[%zu]: expected an object",
			    rc->name, rc->ri);
		}
		return rv;
	}
	if ((small = cJSON_CreateObject()) == NULL) {
		return td_error_set(err, TD_ENOMEM, "%s: out of memory", rc->name);
	}
	while ((r = next_item(s, true, &first, &key, &klen)) == 1) {
		if (key_is(key, klen, "instances")) {
			inst_pos = s->pos;
			if (cJSON_GetObjectItemCaseSensitive(small, "mode") != NULL &&
			    cJSON_GetObjectItemCaseSensitive(small, "type") != NULL &&
			    cJSON_GetObjectItemCaseSensitive(small, "name") != NULL) {
				if ((rv = resource_names(st, small, rc, field, err)) != 0 ||
				    (rv = walk_instances(st, s, rc, field, err)) != 0) {
					goto out;
				}
				walked = true;
			} else if ((rv = skip_instances(s, rc->ri)) != 0) {
				goto out;
			}
			continue;
		}
		if (!key_is(key, klen, "mode") && !key_is(key, klen, "type") &&
		    !key_is(key, klen, "name") && !key_is(key, klen, "module") &&
		    !key_is(key, klen, "provider")) {
			if ((rv = skip_value(s, 0)) != 0) {
				goto out;
			}
			continue;
		}
		late = late || walked;
		if ((rv = parse_member(s, &v, 1)) != 0) {
			goto out;
		}
		snprintf(k, sizeof(k), "%.*s", (int)klen, key);
		cJSON_DeleteItemFromObjectCaseSensitive(small, k);
		if (!cJSON_AddItemToObject(small, k, v)) {
			cJSON_Delete(v);
			rv = td_error_set(err, TD_ENOMEM, "%s: out of memory", rc->name);
			goto out;
		}
		v = NULL;
	}
	if (r < 0) {
		rv = r;
		goto out;
	}
	if (walked && !late) {
		goto out;
	}
	if ((rv = resource_names(st, small, rc, field, err)) != 0 || inst_pos == 0) {
		goto out;
	}
	/* second walk: the instances, now that the names are known */
	drop_instances(st, n_before);
	st->redactions = red_before;
	end = s->pos;
	s->pos = inst_pos;
	if ((rv = walk_instances(st, s, rc, field, err)) != 0) {
		goto out;
	}
	s->pos = end;
out:
	cJSON_Delete(v);
	cJSON_Delete(small);
	return rv;
}

/* ---- top level -------------------------------------------------------------- */

static int
check_version(const cJSON *v, const char *name, td_error *err)
{
	if (!cJSON_IsNumber(v) || !is_integer(v->valuedouble)) {
		return td_error_set(err, TD_EINVAL, "%s: version: expected an integer", name);
	}
	if (v->valuedouble < STATE_VERSION) {
		return td_error_set(err, TD_EUNSUPPORTED,
		    "%s: state format version %.0f is not supported; run `terraform state pull` "
		    "with a current Terraform and point tfdrift at that file",
		    name, v->valuedouble);
	}
	if (v->valuedouble > STATE_VERSION) {
		return td_error_set(err, TD_EUNSUPPORTED,
		    "%s: state format version %.0f is newer than this tfdrift understands (%d)",
		    name, v->valuedouble, STATE_VERSION);
	}
	return 0;
}

static int
top_member(tfs_state *st, scan *s, const char *key, size_t klen, res_ctx *rc, td_error *err)
{
	cJSON *v = NULL;
	bool first = true;
	const char *k2;
	size_t k2len;
	int r, rv = 0;

	if (key_is(key, klen, "resources")) {
		skip_ws(s);
		if (s->buf[s->pos] == 'n') {
			return skip_value(s, 0);
		}
		if (s->buf[s->pos] != '[') {
			if ((rv = skip_value(s, 0)) == 0) {
				rv = td_error_set(err, TD_EINVAL,
				    "%s: resources: expected an array", rc->name);
			}
			return rv;
		}
		snprintf(s->where, sizeof(s->where), "resources");
		while ((r = next_item(s, false, &first, &k2, &k2len)) == 1) {
			if ((rv = parse_resource(st, s, rc, err)) != 0) {
				return rv;
			}
			rc->ri++;
			snprintf(s->where, sizeof(s->where), "resources, after [%zu]", rc->ri - 1);
		}
		s->where[0] = '\0';
		return r;
	}
	if (!key_is(key, klen, "version") && !key_is(key, klen, "serial") &&
	    !key_is(key, klen, "lineage") && !key_is(key, klen, "terraform_version")) {
		/* outputs (may hold secrets), check_results, ...: never used */
		return skip_value(s, 0);
	}
	if ((rv = parse_value(s, &v)) != 0) {
		return rv;
	}
	if (key_is(key, klen, "version")) {
		rv = check_version(v, rc->name, err);
	} else if (key_is(key, klen, "serial")) {
		if (!cJSON_IsNull(v)) {
			/* Terraform's serial is a uint64: 2^64 and above cannot be
			 * one (and the cast would be undefined) */
			if (!cJSON_IsNumber(v) || !is_integer(v->valuedouble) ||
			    v->valuedouble < 0 || v->valuedouble >= 18446744073709551616.0) {
				rv = td_error_set(err, TD_EINVAL,
				    "%s: serial: expected a non-negative integer below 2^64",
				    rc->name);
			} else {
				st->serial = (uint64_t)v->valuedouble;
			}
		}
	} else if (!cJSON_IsNull(v)) {
		const char **out = key_is(key, klen, "lineage") ? &st->lineage
								: &st->terraform_version;
		if (!cJSON_IsString(v)) {
			rv = td_error_set(err, TD_EINVAL, "%s: %.*s: expected a string", rc->name,
			    (int)klen, key);
		} else if ((*out = arena_strdup(st, v->valuestring)) == NULL) {
			rv = td_error_set(err, TD_ENOMEM, "%s: out of memory", rc->name);
		}
	}
	cJSON_Delete(v);
	return rv;
}

static int
parse_text(tfs_state **out, const char *buf, size_t len, const char *name, bool release,
    td_error *err)
{
	scan s = { .buf = buf, .len = len, .name = name, .release = release, .err = err };
	res_ctx rc = { .name = name };
	tfs_state *st = NULL;
	bool first = true, have_version = false;
	const char *key = NULL;
	size_t klen = 0;
	int r, rv = 0;

	*out = NULL;
	if (len == 0) {
		return td_error_set(err, TD_EINVAL, "%s: the file is empty", name);
	}
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		return td_error_set(err, TD_ENOMEM, "%s: out of memory", name);
	}
	st->lineage = "";
	st->terraform_version = "";
	skip_ws(&s);
	if (s.pos >= len) {
		rv = td_error_set(err, TD_EINVAL, "%s: the file is empty", name);
		goto out;
	}
	if (buf[s.pos] != '{') {
		if ((rv = skip_value(&s, 0)) == 0) {
			rv = td_error_set(err, TD_EINVAL,
			    "%s: expected a JSON object at the top level", name);
		}
		goto out;
	}
	while ((r = next_item(&s, true, &first, &key, &klen)) == 1) {
		/* Terraform writes version first, so an old format is refused
		 * before its different layout is walked */
		if (key_is(key, klen, "version")) {
			have_version = true;
		}
		if ((rv = top_member(st, &s, key, klen, &rc, err)) != 0) {
			goto out;
		}
	}
	if (r < 0) {
		rv = r;
		goto out;
	}
	skip_ws(&s);
	if (s.pos < len) {
		rv = syntax_error(&s, "unexpected text after the JSON document");
		goto out;
	}
	if (!have_version) {
		rv = td_error_set(err, TD_EINVAL,
		    "%s: version: missing (is this a Terraform state file?)", name);
		goto out;
	}
	*out = st;
	st = NULL;
out:
	free(rc.print);
	tfs_free(st);
	return rv;
}

int
tfs_parse_buffer(tfs_state **out, const char *buf, size_t len, const char *name, td_error *err)
{
	return parse_text(out, buf, len, name, false, err);
}

/* Reads the whole file into an anonymous mapping (*out, *len, *cap; unmap
 * with munmap(*out, *cap)), so the parser can give the walked part back.
 * Reads until EOF rather than trusting st_size, so a file that grows while
 * being read is read whole or found broken by the parser. */
static int
read_file(const char *path, size_t max_size, char **out, size_t *len, size_t *mapcap, td_error *err)
{
	struct stat sb;
	char *buf = MAP_FAILED, *nb;
	size_t cap, n = 0, page = (size_t)sysconf(_SC_PAGESIZE);
	ssize_t r;
	int fd, rv = 0;

	*out = NULL;
	*len = 0;
	*mapcap = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		return td_error_set(err, TD_EIO, "%s: cannot open: %s", path, strerror(errno));
	}
	if (fstat(fd, &sb) != 0) {
		rv = td_error_set(err, TD_EIO, "%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rv = td_error_set(err, TD_EIO, "%s: not a regular file", path);
		goto out;
	}
	if (max_size != 0 && (size_t)sb.st_size > max_size) {
		rv = td_error_set(err, TD_ETOOBIG,
		    "%s: larger than state_loader.max_state_size (%zu bytes)", path, max_size);
		goto out;
	}
	/* st_size is a hint only (0 for some special files) */
	cap = ((size_t)sb.st_size + page) & ~(page - 1);
	if (cap < 4 * page) {
		cap = 4 * page;
	}
	/* cppcheck-suppress invalidFunctionArg ; fd -1 is what MAP_ANONYMOUS wants */
	buf = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		rv = td_error_set(err, TD_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		if (n + 1 >= cap) {
			nb = mremap(buf, cap, cap * 2, MREMAP_MAYMOVE);
			if (nb == MAP_FAILED) {
				rv = td_error_set(err, TD_ENOMEM, "%s: out of memory", path);
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			rv = td_error_set(err, TD_EIO, "%s: read failed: %s", path,
			    strerror(errno));
			goto out;
		}
		if (r == 0) {
			break;
		}
		n += (size_t)r;
		if (max_size != 0 && n > max_size) {
			rv = td_error_set(err, TD_ETOOBIG,
			    "%s: larger than state_loader.max_state_size (%zu bytes)", path,
			    max_size);
			goto out;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	*mapcap = cap;
	buf = MAP_FAILED;
out:
	if (buf != MAP_FAILED) {
		munmap(buf, cap);
	}
	close(fd);
	return rv;
}

int
tfs_parse_file(tfs_state **out, const char *path, size_t max_size, td_error *err)
{
	char *buf = NULL;
	size_t len, cap;
	int rv;

	*out = NULL;
	if ((rv = read_file(path, max_size, &buf, &len, &cap, err)) != 0) {
		return rv;
	}
	rv = parse_text(out, buf, len, path, true, err);
	/* the text may hold secrets: an anonymous mapping is zeroed when unmapped */
	munmap(buf, cap);
	return rv;
}

void
tfs_free(tfs_state *st)
{
	arena_block *b, *next;

	if (st == NULL) {
		return;
	}
	for (b = st->arena; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(st->inst);
	free(st);
}

uint64_t
tfs_serial(const tfs_state *st)
{
	return st->serial;
}

const char *
tfs_lineage(const tfs_state *st)
{
	return st->lineage;
}

const char *
tfs_terraform_version(const tfs_state *st)
{
	return st->terraform_version;
}

size_t
tfs_instance_count(const tfs_state *st)
{
	return st->n;
}

const tfs_instance *
tfs_instance_at(const tfs_state *st, size_t i)
{
	return i < st->n ? &st->inst[i] : NULL;
}

bool
tfs_instance_indexed(const tfs_instance *in)
{
	return in->managed && in->deposed == NULL;
}

size_t
tfs_redaction_count(const tfs_state *st)
{
	return st->redactions;
}

size_t
tfs_indexed_count(const tfs_state *st)
{
	return st->indexed;
}

cJSON *
tfs_instance_attributes(const tfs_instance *in)
{
	return cJSON_ParseWithLength(in->attributes_json, in->attributes_len);
}

size_t
tfs_memory_size(const tfs_state *st)
{
	return st->arena_bytes + st->cap * sizeof(*st->inst) + sizeof(*st);
}
