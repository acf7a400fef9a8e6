/* secret.c — constant-time comparison. */
#include "tfdrift/secret.h"

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
