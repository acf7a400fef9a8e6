/* hex.h — hexadecimal digits, read and written in one place (token digests,
 * %XX in URIs, SigV4 hashes, bytes typed on a command line).
 *
 * Threads: no state. */
#ifndef TFDRIFT_HEX_H
#define TFDRIFT_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The value of one hex digit (either case), or -1 when c is not one. */
int td_hex_digit(int c);

/* Decodes the 2 * n digits at s into n bytes at out.  TD_EINVAL (out partly
 * written) when any of them is not a hex digit. */
int td_hex_decode(const char *s, size_t n, uint8_t *out);

/* Writes n bytes as 2 * n lower-case digits and a NUL at out (2 * n + 1
 * bytes of room). */
void td_hex_encode(const uint8_t *in, size_t n, char *out);

#endif
