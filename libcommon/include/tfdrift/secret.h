/* secret.h — comparing secrets (bearer tokens, token digests) in time that
 * does not depend on where they first differ.
 *
 * Threads: no state. */
#ifndef TFDRIFT_SECRET_H
#define TFDRIFT_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* Whether a (alen bytes) equals b (blen bytes).  Every byte of the shorter
 * is compared whatever matched before; only the lengths can be told apart by
 * timing. */
bool td_secret_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Bearer tokens are compared as SHA-256 digests: both sides have the same
 * length whatever was sent, so timing tells neither where a guess went wrong
 * nor how long the token is. */
#define TD_SECRET_DIGEST_LEN 32

/* out = SHA-256 of s[0..n). */
void td_secret_digest(const void *s, size_t n, unsigned char out[TD_SECRET_DIGEST_LEN]);

/* The token of an Authorization header value "Bearer TOKEN": the scheme in
 * any case (RFC 9110 11.1: schemes are case-insensitive), then one or more
 * spaces, then the token (the rest of the value, as it is).  Points into
 * header; NULL when header is NULL or another scheme ("Basic ...",
 * "Bearerabc", "Bearer" alone). */
const char *td_secret_bearer(const char *header);

/* Whether two digests are equal (CRYPTO_memcmp: constant time). */
bool td_secret_digest_equal(const unsigned char a[TD_SECRET_DIGEST_LEN],
    const unsigned char b[TD_SECRET_DIGEST_LEN]);

#endif
