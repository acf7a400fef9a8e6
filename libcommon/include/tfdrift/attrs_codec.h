/* attrs_codec.h — how an instance's attributes JSON is stored in Redis (the
 * values of P g:<gen>:res:<workspace>, docs/redis-keys.md).
 *
 * Attributes are most of the index's bytes (a few KB per instance, with
 * policy documents and user data much more), and JSON compresses well, so
 * the state-loader stores a value of TD_ATTRS_MIN_PACK bytes or more as a
 * zlib stream (RFC 1950) when that is smaller, and smaller ones as they are.
 * The first byte tells them apart: attributes are a JSON object, so plain
 * text starts with '{'; a zlib stream starts with 0x78 (deflate, 32 KB
 * window), which is no JSON.  Readers call td_attrs_unpack on every value.
 *
 * Threads: no state. */
#ifndef TFDRIFT_ATTRS_CODEC_H
#define TFDRIFT_ATTRS_CODEC_H

#include <stddef.h>

#define TD_ATTRS_MIN_PACK 128
/* An unpacked value larger than this is refused (a corrupt or hostile
 * stream cannot make a reader allocate without bound). */
#define TD_ATTRS_MAX_JSON (64u << 20)

/* The stored form of json (len bytes): *out (malloc'd, owned by the caller)
 * and *outlen.  The compressed form when it is shorter, else a copy.
 * TD_ENOMEM. */
int td_attrs_pack(const char *json, size_t len, char **out, size_t *outlen);

/* The JSON text of a stored value (len bytes): *json (malloc'd,
 * NUL-terminated, owned by the caller) and *jsonlen (may be NULL).
 * TD_EPROTO when the value is neither JSON object text nor a whole zlib
 * stream (or unpacks to more than TD_ATTRS_MAX_JSON), TD_ENOMEM. */
int td_attrs_unpack(const char *val, size_t len, char **json, size_t *jsonlen);

#endif
