/* json_check.c — see json_check.h.  A recursive-descent recogniser: it
 * builds nothing, and keeps the path of the value it is in (member names
 * and indexes, written out only for a message). */
#include "tfdrift/json_check.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 256
#define PATH_MAX_LEN 200

/* One step of the path: a member name (name; valid while its value is
 * walked: it lives in the object's frame) or an array element (idx). */
typedef struct seg {
	const char *name; /* NULL: [idx] */
	long idx;
} seg;

typedef struct jc {
	const unsigned char *s;
	size_t n, i;
	int depth;
	seg segs[MAX_DEPTH + 2]; /* the prefix, then one a level */
	int nseg;
	char path[PATH_MAX_LEN + 8]; /* written by path_render for a message */
	const char *whole;
	td_error *err;
	/* td_json_check_value: string faults go to fault() and the walk goes on */
	td_json_fault_fn fault;
	void *arg;
	const char *member; /* top-level member whose array elements are numbered */
	bool member_seen;   /* its first occurrence was met (a repeat is not numbered) */
	bool in_member;     /* the value being walked is that member's */
	long elem;          /* element of that array the walk is in; -1 outside */
	int elem_seg;       /* its step in segs */
} jc;

/* Length of the UTF-8 sequence at s[0..n) if it is one valid character
 * other than NUL, else 0. */
static size_t
utf8_char(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	uint32_t cp;
	size_t len;

	if (c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t k = 1; k < len; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3F);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

bool
td_utf8_text_ok(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		size_t k = utf8_char(u + i, n - i);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

/* Writes the path of the value being walked into j->path ("a.b[2].c", cut
 * at PATH_MAX_LEN with "..."); *elem_len gets its length up to the end of
 * the numbered element's step (all of it when that step was cut).  Returns
 * its length. */
static size_t
path_render(jc *j, size_t *elem_len)
{
	size_t len = 0;

	*elem_len = SIZE_MAX;
	j->path[0] = '\0';
	for (int k = 0; k < j->nseg && len < PATH_MAX_LEN; k++) {
		const seg *g = &j->segs[k];
		int w = g->name != NULL
		    ? snprintf(j->path + len, PATH_MAX_LEN + 1 - len, "%s%s", len > 0 ? "." : "",
			  g->name)
		    : snprintf(j->path + len, PATH_MAX_LEN + 1 - len, "[%ld]", g->idx);
		if (w < 0)
			w = 0;
		len = len + (size_t)w > PATH_MAX_LEN ? PATH_MAX_LEN : len + (size_t)w;
		if (k == j->elem_seg)
			*elem_len = len;
	}
	if (len == PATH_MAX_LEN)
		memcpy(j->path + PATH_MAX_LEN, "...", 4);
	if (*elem_len == SIZE_MAX)
		*elem_len = len;
	return len;
}

static int
fail(jc *j, const char *why)
{
	size_t elen;
	const char *where = path_render(j, &elen) > 0 ? j->path : j->whole;
	return td_error_set(j->err, TD_EINVAL, "%s: %s", where, why);
}

/* A fault in a string at byte at: fatal for td_json_check; for
 * td_json_check_value reported to fault() and the walk goes on (0) unless it
 * returns non-zero. */
static int
string_fault(jc *j, const char *why, size_t at)
{
	td_json_fault f;
	size_t elen, plen;

	if (j->fault == NULL)
		return fail(j, why);
	plen = path_render(j, &elen);
	f.field = j->path;
	if (j->elem >= 0) {
		f.field = j->path + elen;
		if (f.field[0] == '.')
			f.field++;
	}
	f.index = j->elem;
	f.path = plen > 0 ? j->path : j->whole;
	f.why = why;
	f.offset = at;
	return j->fault(j->arg, &f);
}

static int
syntax(jc *j)
{
	char why[96];
	if (j->i >= j->n)
		snprintf(why, sizeof(why), "not JSON: ends early (at byte %zu)", j->i);
	else
		snprintf(why, sizeof(why), "not JSON: unexpected byte 0x%02x at byte %zu",
		    j->s[j->i], j->i);
	return td_error_set(j->err, TD_EINVAL, "%s: %s", j->whole, why);
}

static void
skip_ws(jc *j)
{
	while (j->i < j->n &&
	    (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' || j->s[j->i] == '\r'))
		j->i++;
}

static int
hex4(jc *j, unsigned *out)
{
	unsigned v = 0;
	if (j->n - j->i < 4)
		return -1;
	for (int k = 0; k < 4; k++) {
		unsigned c = j->s[j->i + (size_t)k], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = (v << 4) | d;
	}
	j->i += 4;
	*out = v;
	return 0;
}

/* Appends the UTF-8 of cp to name (cap bytes incl. NUL) if it fits. */
static void
name_put(char *name, size_t cap, size_t *len, const unsigned char *bytes, size_t k)
{
	if (name == NULL || *len + k >= cap)
		return;
	memcpy(name + *len, bytes, k);
	*len += k;
	name[*len] = '\0';
}

/* A string at j->i (the opening quote).  A member name is decoded into name
 * (cap bytes, cut) when name is not NULL.  The message of a fault says
 * "member name" for names. */
static int
string(jc *j, char *name, size_t cap)
{
	size_t nlen = 0;
	const char *what = name != NULL ? "a member name" : "the string";
	char why[96];
	int rv;

	if (name != NULL && cap > 0)
		name[0] = '\0';
	j->i++; /* the quote */
	for (;;) {
		/* a run of printable ASCII, the usual text: nothing to check */
		size_t r = j->i;
		while (r < j->n && j->s[r] >= 0x20 && j->s[r] < 0x80 && j->s[r] != '"' &&
		    j->s[r] != '\\')
			r++;
		if (r > j->i && name != NULL && nlen + 1 < cap) {
			size_t k = r - j->i < cap - 1 - nlen ? r - j->i : cap - 1 - nlen;
			memcpy(name + nlen, j->s + j->i, k);
			nlen += k;
			name[nlen] = '\0';
		}
		j->i = r;
		if (j->i >= j->n)
			return syntax(j);
		unsigned c = j->s[j->i];
		if (c == '"') {
			j->i++;
			return 0;
		}
		if (c == '\\') {
			unsigned char e;
			j->i++;
			if (j->i >= j->n)
				return syntax(j);
			e = j->s[j->i++];
			if (e == 'u') {
				unsigned cp, lo;
				size_t at = j->i - 2;
				if (hex4(j, &cp) != 0)
					return syntax(j);
				if (cp == 0) {
					snprintf(why, sizeof(why), "%s contains a NUL (\\u0000)",
					    what);
					if ((rv = string_fault(j, why, at)) != 0)
						return rv;
					continue;
				}
				if (cp >= 0xDC00 && cp <= 0xDFFF) {
					snprintf(why, sizeof(why),
					    "%s has an unpaired surrogate escape", what);
					if ((rv = string_fault(j, why, at)) != 0)
						return rv;
					continue;
				}
				if (cp >= 0xD800 && cp <= 0xDBFF) {
					if (j->n - j->i < 6 || j->s[j->i] != '\\' ||
					    j->s[j->i + 1] != 'u') {
						snprintf(why, sizeof(why),
						    "%s has an unpaired surrogate escape", what);
						if ((rv = string_fault(j, why, at)) != 0)
							return rv;
						continue;
					}
					j->i += 2;
					if (hex4(j, &lo) != 0)
						return syntax(j);
					if (lo < 0xDC00 || lo > 0xDFFF) {
						snprintf(why, sizeof(why),
						    "%s has an unpaired surrogate escape", what);
						if ((rv = string_fault(j, why, at)) != 0)
							return rv;
						continue;
					}
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				}
				unsigned char b[4];
				size_t k;
				if (cp < 0x80) {
					b[0] = (unsigned char)cp;
					k = 1;
				} else if (cp < 0x800) {
					b[0] = (unsigned char)(0xC0 | (cp >> 6));
					b[1] = (unsigned char)(0x80 | (cp & 0x3F));
					k = 2;
				} else if (cp < 0x10000) {
					b[0] = (unsigned char)(0xE0 | (cp >> 12));
					b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
					b[2] = (unsigned char)(0x80 | (cp & 0x3F));
					k = 3;
				} else {
					b[0] = (unsigned char)(0xF0 | (cp >> 18));
					b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
					b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
					b[3] = (unsigned char)(0x80 | (cp & 0x3F));
					k = 4;
				}
				name_put(name, cap, &nlen, b, k);
				continue;
			}
			static const char esc[] = "\"\\/bfnrt";
			static const char val[] = "\"\\/\b\f\n\r\t";
			const char *p = e != '\0' ? strchr(esc, e) : NULL;
			if (p == NULL) {
				j->i--;
				return syntax(j);
			}
			unsigned char d = (unsigned char)val[p - esc];
			name_put(name, cap, &nlen, &d, 1);
			continue;
		}
		if (c == 0)
			snprintf(why, sizeof(why), "%s contains a NUL byte", what);
		else if (c < 0x20)
			snprintf(why, sizeof(why), "%s contains a raw control character (0x%02x)",
			    what, c);
		size_t k = c < 0x20 ? 0 : utf8_char(j->s + j->i, j->n - j->i);
		if (k == 0) {
			if (c >= 0x20)
				snprintf(why, sizeof(why), "%s is not valid UTF-8 (byte %zu)", what,
				    j->i);
			if ((rv = string_fault(j, why, j->i)) != 0)
				return rv;
			j->i++; /* the walk goes on from the next byte */
			continue;
		}
		name_put(name, cap, &nlen, j->s + j->i, k);
		j->i += k;
	}
}

static int
number(jc *j)
{
	const unsigned char *s = j->s;
	size_t n = j->n;

	if (j->i < n && s[j->i] == '-')
		j->i++;
	if (j->i >= n)
		return syntax(j);
	if (s[j->i] == '0') {
		j->i++;
	} else if (s[j->i] >= '1' && s[j->i] <= '9') {
		while (j->i < n && s[j->i] >= '0' && s[j->i] <= '9')
			j->i++;
	} else {
		return syntax(j);
	}
	if (j->i < n && s[j->i] == '.') {
		j->i++;
		if (j->i >= n || s[j->i] < '0' || s[j->i] > '9')
			return syntax(j);
		while (j->i < n && s[j->i] >= '0' && s[j->i] <= '9')
			j->i++;
	}
	if (j->i < n && (s[j->i] == 'e' || s[j->i] == 'E')) {
		j->i++;
		if (j->i < n && (s[j->i] == '+' || s[j->i] == '-'))
			j->i++;
		if (j->i >= n || s[j->i] < '0' || s[j->i] > '9')
			return syntax(j);
		while (j->i < n && s[j->i] >= '0' && s[j->i] <= '9')
			j->i++;
	}
	return 0;
}

static int
literal(jc *j, const char *word)
{
	size_t k = strlen(word);
	if (j->n - j->i < k || memcmp(j->s + j->i, word, k) != 0)
		return syntax(j);
	j->i += k;
	return 0;
}

/* Adds a step to the path (not past the room: a message cuts long paths
 * anyway); returns the previous depth to restore. */
static int
path_push(jc *j, const char *name, long idx)
{
	int old = j->nseg;

	if (old < (int)(sizeof(j->segs) / sizeof(j->segs[0]))) {
		j->segs[old] = (seg){ .name = name, .idx = idx };
		j->nseg = old + 1;
	}
	return old;
}

static void
path_pop(jc *j, int old)
{
	if (old < j->nseg)
		j->segs[old].name = NULL; /* it may point into a frame that returns */
	j->nseg = old;
}

static int value(jc *j);

/* After a member or an element: ',' (*more: another follows) or close (the
 * container ends); anything else is a syntax error. */
static int
after_item(jc *j, unsigned char close, bool *more)
{
	skip_ws(j);
	*more = j->i < j->n && j->s[j->i] == ',';
	if (*more || (j->i < j->n && j->s[j->i] == close)) {
		j->i++;
		return 0;
	}
	return syntax(j);
}

static int
object(jc *j)
{
	char name[128];
	bool more;
	int rv;

	j->i++; /* { */
	skip_ws(j);
	if (j->i < j->n && j->s[j->i] == '}') {
		j->i++;
		return 0;
	}
	for (;;) {
		skip_ws(j);
		if (j->i >= j->n || j->s[j->i] != '"')
			return syntax(j);
		if ((rv = string(j, name, sizeof(name))) != 0)
			return rv;
		skip_ws(j);
		if (j->i >= j->n || j->s[j->i] != ':')
			return syntax(j);
		j->i++;
		int old = path_push(j, name, 0);
		/* the first top-level member named j->member: its elements are numbered */
		j->in_member = j->member != NULL && !j->member_seen && j->depth == 1 &&
		    strcmp(name, j->member) == 0;
		j->member_seen = j->member_seen || j->in_member;
		rv = value(j);
		j->in_member = false;
		path_pop(j, old); /* a message was written at the fault */
		if (rv != 0)
			return rv;
		if ((rv = after_item(j, '}', &more)) != 0 || !more)
			return rv;
	}
}

static int
array(jc *j)
{
	bool numbered = j->in_member && j->depth == 2;
	long idx = 0;
	bool more;
	int rv;

	j->in_member = false;
	j->i++; /* [ */
	skip_ws(j);
	if (j->i < j->n && j->s[j->i] == ']') {
		j->i++;
		return 0;
	}
	int old = path_push(j, NULL, 0);
	for (;; idx++) {
		if (old < j->nseg)
			j->segs[old].idx = idx;
		if (numbered) {
			j->elem = idx;
			j->elem_seg = old;
		}
		rv = value(j);
		if (numbered)
			j->elem = -1;
		if (rv != 0)
			return rv;
		if ((rv = after_item(j, ']', &more)) != 0 || !more) {
			path_pop(j, old);
			return rv;
		}
	}
}

static int
value(jc *j)
{
	int rv;

	skip_ws(j);
	if (j->i >= j->n)
		return syntax(j);
	switch (j->s[j->i]) {
	case '{':
	case '[':
		if (++j->depth > MAX_DEPTH)
			return fail(j, "nested deeper than 256 levels");
		rv = j->s[j->i] == '{' ? object(j) : array(j);
		j->depth--;
		return rv;
	case '"': return string(j, NULL, 0);
	case 't': return literal(j, "true");
	case 'f': return literal(j, "false");
	case 'n': return literal(j, "null");
	default: return number(j);
	}
}

int
td_json_check(const char *text, size_t len, const char *prefix, const char *whole, td_error *err)
{
	jc j = { .s = (const unsigned char *)text,
		.n = len,
		.whole = whole,
		.err = err,
		.elem = -1 };
	int rv;

	if (prefix != NULL && prefix[0] != '\0')
		(void)path_push(&j, prefix, 0);
	if ((rv = value(&j)) != 0)
		return rv;
	skip_ws(&j);
	if (j.i < j.n) {
		char why[96];
		snprintf(why, sizeof(why), "not JSON: text after the value at byte %zu", j.i);
		return td_error_set(err, TD_EINVAL, "%s: %s", whole, why);
	}
	return 0;
}

int
td_json_check_value(const char *text, size_t len, const char *member, const char *whole,
    td_json_fault_fn fn, void *arg, size_t *end, td_error *err)
{
	jc j = { .s = (const unsigned char *)text,
		.n = len,
		.whole = whole,
		.err = err,
		.fault = fn,
		.arg = arg,
		.member = member,
		.elem = -1 };
	int rv = value(&j);

	*end = j.i;
	return rv;
}
