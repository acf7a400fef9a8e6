/* error.h — error codes and a person-readable error record.
 *
 * Every libcommon function returns int: 0 on success or a negative TD_E* code.
 * Where a person will read the failure (config files, input records, CLI), the
 * caller also passes a td_error that receives the code and a message naming the
 * file, line, key or field at fault.  A NULL td_error is allowed everywhere. */
#ifndef TFDRIFT_ERROR_H
#define TFDRIFT_ERROR_H

#include <stddef.h>

enum {
	TD_OK = 0,
	TD_ENOMEM = -1,        /* out of memory */
	TD_EINVAL = -2,        /* invalid argument or input */
	TD_EIO = -3,           /* I/O or system call failed */
	TD_ENOTFOUND = -4,     /* no such thing */
	TD_ETIMEDOUT = -5,     /* deadline passed */
	TD_ECLOSED = -6,       /* the object is closing or closed */
	TD_EPROTO = -7,        /* malformed message on the wire */
	TD_ERANGE = -8,        /* value out of range */
	TD_EEXIST = -9,        /* already exists */
	TD_EAGAIN = -10,       /* temporary; try again */
	TD_EBUSY = -11,        /* resource busy or full */
	TD_ETOOBIG = -12,      /* input too large */
	TD_EUNSUPPORTED = -13, /* not supported (format version, feature) */
	TD_EDEPEND = -14,      /* a dependency (NNG, libpq, Redis, ...) failed */
};

typedef struct td_error {
	int code;
	char msg[512];
} td_error;

/* Records code and a printf-formatted message in err (if not NULL); returns code
 * so callers can write `return td_error_set(err, TD_EINVAL, "...")`. */
int td_error_set(td_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears err (code 0, empty message). */
void td_error_clear(td_error *err);

/* Static text for a TD_E* code. */
const char *td_strerror(int code);

#endif
