/* jsonw.h — a small JSON writer appending to one growing buffer.
 *
 * For the hot list and detail answers: no tree, no per-value allocation, one
 * buffer that doubles when full.  Strings are escaped per RFC 8259: '"', '\\'
 * and the control bytes below 0x20 (\b \f \n \r \t, the rest \u00XX); other
 * bytes, UTF-8 included, are copied as they are (PostgreSQL's text is UTF-8).
 * An allocation failure is sticky: later calls do nothing and
 * gw_jw_finish returns NULL.  Commas and structure are the caller's.
 *
 * gw_jw_raw is inline: a list page makes thousands of small appends, and a
 * call per append was a visible part of a request's CPU. */
#ifndef TFDRIFT_GW_JSONW_H
#define TFDRIFT_GW_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct gw_jw {
	char *buf; /* owned until gw_jw_finish */
	size_t len, cap;
	bool oom;
} gw_jw;

/* Starts with room for cap bytes (at least 64). */
void gw_jw_init(gw_jw *w, size_t cap);
/* Makes room for n more bytes and the final NUL; false once out of memory. */
bool gw_jw_grow(gw_jw *w, size_t n);

static inline bool
gw_jw_reserve(gw_jw *w, size_t n)
{
	return (!w->oom && w->len + n + 1 <= w->cap) || gw_jw_grow(w, n);
}

/* Appends n bytes as they are. */
static inline void
gw_jw_raw(gw_jw *w, const char *s, size_t n)
{
	if (gw_jw_reserve(w, n)) {
		memcpy(w->buf + w->len, s, n);
		w->len += n;
	}
}

/* Appends a NUL-terminated string as they are. */
void gw_jw_lit(gw_jw *w, const char *s);
/* Appends s as a quoted, escaped JSON string. */
void gw_jw_str(gw_jw *w, const char *s);
/* Appends v in decimal. */
void gw_jw_int(gw_jw *w, int64_t v);
/* Appends Unix microseconds as a quoted RFC 3339 UTC time with six
 * fraction digits, the same text as td_clock_format(us * 1000, 6). */
void gw_jw_time_us(gw_jw *w, int64_t us);
/* The NUL-terminated text (owned by the caller, free()), or NULL when out of
 * memory; w is empty afterwards. */
char *gw_jw_finish(gw_jw *w);
/* Frees what w holds (after an error). */
void gw_jw_free(gw_jw *w);

#endif
