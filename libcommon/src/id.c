/* id.c — random hex identifiers (getrandom) and SHA-256 keys (OpenSSL EVP).
 *
 * Both functions abort when the system cannot deliver: an identifier that is
 * not random, or a key that is not the hash, would silently break dedupe and
 * idempotency downstream, which is worse than a crash that a supervisor restarts. */
#include "tfdrift/id.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "tfdrift/log.h"

static const char hexdigits[] = "0123456789abcdef";

static void
to_hex(char *out, const unsigned char *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdigits[in[i] >> 4];
		out[2 * i + 1] = hexdigits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* buf is the caller's, at least 2*nbytes+1 chars; nbytes above 32 is clamped to 32. */
char *
td_id_random_hex(char *buf, size_t nbytes)
{
	unsigned char raw[32];
	size_t got = 0;

	if (nbytes > sizeof(raw)) {
		nbytes = sizeof(raw);
	}
	while (got < nbytes) {
		ssize_t n = getrandom(raw + got, nbytes - got, 0);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			TD_ERROR("getrandom failed", TD_KV_STR("error", strerror(errno)));
			abort();
		}
		got += (size_t)n;
	}
	to_hex(buf, raw, nbytes);
	return buf;
}

/* buf is the caller's, at least 65 chars.  NULL parts hash as empty strings. */
char *
td_id_sha256_hex(char *buf, const char *const *parts, size_t nparts)
{
	static const unsigned char sep = 0x1f;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;

	for (size_t i = 0; ok && i < nparts; i++) {
		const char *p = parts[i] != NULL ? parts[i] : "";
		if (i > 0) {
			ok = EVP_DigestUpdate(ctx, &sep, 1) == 1;
		}
		ok = ok && EVP_DigestUpdate(ctx, p, strlen(p)) == 1;
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		TD_ERROR("SHA-256 failed");
		abort();
	}
	to_hex(buf, md, mdlen);
	return buf;
}
