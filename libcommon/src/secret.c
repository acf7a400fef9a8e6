/* secret.c — constant-time comparison. */
#include "tfdrift/secret.h"

#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

bool
td_secret_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	/* volatile: the compiler may not stop at the first difference */
	const volatile unsigned char *x = a, *y = b;
	size_t n = alen < blen ? alen : blen;
	unsigned diff = alen == blen ? 0 : 1;

	for (size_t i = 0; i < n; i++) {
		diff |= (unsigned)(x[i] ^ y[i]);
	}
	return diff == 0;
}

void
td_secret_digest(const void *s, size_t n, unsigned char out[TD_SECRET_DIGEST_LEN])
{
	SHA256((const unsigned char *)s, n, out);
}

bool
td_secret_digest_equal(const unsigned char a[TD_SECRET_DIGEST_LEN],
    const unsigned char b[TD_SECRET_DIGEST_LEN])
{
	return CRYPTO_memcmp(a, b, TD_SECRET_DIGEST_LEN) == 0;
}

const char *
td_secret_bearer(const char *header)
{
	if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0) {
		return NULL;
	}
	header += 7;
	while (*header == ' ') {
		header++;
	}
	return header;
}
