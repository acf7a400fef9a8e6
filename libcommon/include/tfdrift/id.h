/* id.h — random identifiers. */
#ifndef TFDRIFT_ID_H
#define TFDRIFT_ID_H

#include <stddef.h>

/* Writes 2*nbytes hex digits of randomness (getrandom) and a NUL into buf,
 * which must hold 2*nbytes+1 chars.  nbytes <= 32.  Returns buf. */
char *td_id_random_hex(char *buf, size_t nbytes);

/* Hex SHA-256 of the parts joined by a 0x1f separator; buf holds 65 chars. */
char *td_id_sha256_hex(char *buf, const char *const *parts, size_t nparts);

#endif
