/* json_check.h — strict checks of JSON text from outside, before a parser
 * that is lenient (cJSON takes trailing bytes, invalid UTF-8 and NULs inside
 * strings) sees it.
 *
 * Threads: no state. */
#ifndef TFDRIFT_JSON_CHECK_H
#define TFDRIFT_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "tfdrift/error.h"

/* Whether s[0..n) is valid UTF-8 (shortest forms, no surrogates, at most
 * U+10FFFF) without a NUL byte. */
bool td_utf8_text_ok(const char *s, size_t n);

/* Checks that text[0..len) is exactly one JSON value (RFC 8259) with nothing
 * but whitespace after it, nested at most 256 deep, whose strings (member
 * names too) are valid UTF-8 without a NUL (raw or \u0000), raw control
 * characters or unpaired surrogate escapes.  0 if so; otherwise TD_EINVAL and
 * err says "PATH: why", PATH naming the value at fault: member names joined
 * by '.', array elements as [i], after prefix ("output_fields.ct.id",
 * "x.items[2]"); a syntax error, or a fault outside any member, names
 * whole ("body"). */
int td_json_check(const char *text, size_t len, const char *prefix, const char *whole,
    td_error *err);

#endif
