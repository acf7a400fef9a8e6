/* jsonw.h — a small JSON writer appending to one growing buffer.
 *
 * For the hot list and detail answers: no tree, no per-value allocation, one
 * buffer that doubles when full.  Strings are escaped per RFC 8259: '"', '\\'
 * and the control bytes below 0x20 (\b \f \n \r \t, the rest \u00XX); other
 * bytes, UTF-8 included, are copied as they are (PostgreSQL's text is UTF-8).
 * An allocation failure is sticky: later calls do nothing and
 * gw_jw_finish returns NULL.  Commas and structure are the caller's. */
#ifndef TFDRIFT_GW_JSONW_H
#define TFDRIFT_GW_JSONW_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gw_jw {
	char *buf; /* owned until gw_jw_finish */
	size_t len, cap;
	bool oom;
} gw_jw;

/* Starts with room for cap bytes (at least 64). */
void gw_jw_init(gw_jw *w, size_t cap);
/* Appends n bytes as they are. */
void gw_jw_raw(gw_jw *w, const char *s, size_t n);
/* Appends a NUL-terminated string as they are. */
void gw_jw_lit(gw_jw *w, const char *s);
/* Appends s as a quoted, escaped JSON string. */
void gw_jw_str(gw_jw *w, const char *s);
/* The NUL-terminated text (owned by the caller, free()), or NULL when out of
 * memory; w is empty afterwards. */
char *gw_jw_finish(gw_jw *w);
/* Frees what w holds (after an error). */
void gw_jw_free(gw_jw *w);

#endif
