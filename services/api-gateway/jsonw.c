/* jsonw.c — see jsonw.h. */
#include "jsonw.h"

#include <stdlib.h>
#include <string.h>

void
gw_jw_init(gw_jw *w, size_t cap)
{
	w->cap = cap < 64 ? 64 : cap;
	w->len = 0;
	w->buf = malloc(w->cap);
	w->oom = w->buf == NULL;
}

/* Makes room for n more bytes plus the final NUL. */
static bool
reserve(gw_jw *w, size_t n)
{
	if (w->oom) {
		return false;
	}
	if (w->len + n + 1 <= w->cap) {
		return true;
	}
	size_t cap = w->cap;
	while (cap < w->len + n + 1) {
		cap *= 2;
	}
	char *p = realloc(w->buf, cap);
	if (p == NULL) {
		w->oom = true;
		return false;
	}
	w->buf = p;
	w->cap = cap;
	return true;
}

void
gw_jw_raw(gw_jw *w, const char *s, size_t n)
{
	if (reserve(w, n)) {
		memcpy(w->buf + w->len, s, n);
		w->len += n;
	}
}

void
gw_jw_lit(gw_jw *w, const char *s)
{
	gw_jw_raw(w, s, strlen(s));
}

void
gw_jw_str(gw_jw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(s);
	/* The worst case (every byte \u00XX) is 6n; reserve the common case and
	 * grow again only for bytes that need escaping. */
	if (!reserve(w, n + 2)) {
		return;
	}
	w->buf[w->len++] = '"';
	const unsigned char *p = (const unsigned char *)s;
	for (;;) {
		/* Copy the run of bytes that need no escape in one go. */
		const unsigned char *run = p;
		while (*p >= 0x20 && *p != '"' && *p != '\\') {
			p++;
		}
		gw_jw_raw(w, (const char *)run, (size_t)(p - run));
		if (*p == '\0') {
			break;
		}
		char esc[6] = { '\\', 0, 0, 0, 0, 0 };
		size_t elen = 2;
		switch (*p) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 0xf];
			elen = 6;
			break;
		}
		gw_jw_raw(w, esc, elen);
		p++;
	}
	gw_jw_raw(w, "\"", 1);
}

char *
gw_jw_finish(gw_jw *w)
{
	char *out = NULL;
	if (!w->oom && reserve(w, 0)) {
		w->buf[w->len] = '\0';
		out = w->buf;
		w->buf = NULL;
	}
	gw_jw_free(w);
	return out;
}

void
gw_jw_free(gw_jw *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}
