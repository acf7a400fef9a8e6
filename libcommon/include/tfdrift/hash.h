/* hash.h — 64-bit FNV-1a, the hash of tfdrift's in-memory tables (the
 * correlator's catalog and caches, the gateway's response cache and
 * statement table, the state-loader's identifier set) and of the ids ingest
 * makes up for Falco alerts without one (so its values must not change).
 *
 * Start from TD_HASH_INIT and chain: td_hash_str(td_hash_str(TD_HASH_INIT,
 * a), b).  Fast on short keys; not a defence against keys chosen to
 * collide.  Threads: no state. */
#ifndef TFDRIFT_HASH_H
#define TFDRIFT_HASH_H

#include <stddef.h>
#include <stdint.h>

#define TD_HASH_INIT 1469598103934665603ULL
#define TD_HASH_PRIME 1099511628211ULL

/* h continued over n bytes at p (p may be NULL when n is 0). */
static inline uint64_t
td_hash_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * TD_HASH_PRIME;
	return h;
}

/* h continued over the bytes of s, without its NUL. */
static inline uint64_t
td_hash_str(uint64_t h, const char *s)
{
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * TD_HASH_PRIME;
	return h;
}

#endif
