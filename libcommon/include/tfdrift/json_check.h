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

/* A fault in a string found by td_json_check_value. */
typedef struct td_json_fault {
	long index;        /* element of the member's array it is in; -1 outside */
	const char *path;  /* as td_json_check names it: "Records[3].userIdentity.arn" */
	const char *field; /* the path inside that element ("userIdentity.arn"; "" for
			    * the element itself); when index is -1, the path from the
			    * top ("" for the top value itself) */
	const char *why;   /* "the string is not valid UTF-8 (byte 812)" */
	size_t offset;     /* byte of text where it is */
} td_json_fault;

/* Return 0 to go on; anything else stops the check and is returned. */
typedef int (*td_json_fault_fn)(void *arg, const td_json_fault *f);

/* Checks the one JSON value at the start of text[0..len) (after whitespace)
 * as td_json_check does, without looking past it: *end gets the offset just
 * past the value.  A fault in a string or member name (invalid UTF-8, a NUL,
 * a raw control character, an unpaired surrogate escape) does not stop the
 * check: fn gets each one, numbered by the element it is in of the array that
 * is the value of the top-level member `member` (its first occurrence; NULL:
 * none), and the walk goes on.  A syntax or nesting fault stops it: TD_EINVAL,
 * err as td_json_check says it, *end at the fault. */
int td_json_check_value(const char *text, size_t len, const char *member, const char *whole,
    td_json_fault_fn fn, void *arg, size_t *end, td_error *err);

#endif
