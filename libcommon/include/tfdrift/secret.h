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

#endif
