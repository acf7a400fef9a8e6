/* error.c — TD_E* codes and the person-readable td_error record. */
#include "tfdrift/error.h"

#include <stdarg.h>
#include <stdio.h>

/* Indexed by -code; keep in the order of the enum in error.h. */
static const char *const error_text[] = {
	[0] = "success",
	[-TD_ENOMEM] = "out of memory",
	[-TD_EINVAL] = "invalid argument or input",
	[-TD_EIO] = "I/O error",
	[-TD_ENOTFOUND] = "not found",
	[-TD_ETIMEDOUT] = "timed out",
	[-TD_ECLOSED] = "closed",
	[-TD_EPROTO] = "protocol error",
	[-TD_ERANGE] = "value out of range",
	[-TD_EEXIST] = "already exists",
	[-TD_EAGAIN] = "try again",
	[-TD_EBUSY] = "busy",
	[-TD_ETOOBIG] = "too large",
	[-TD_EUNSUPPORTED] = "not supported",
	[-TD_EDEPEND] = "dependency failed",
};

int
td_error_set(td_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL) {
		return code;
	}
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void
td_error_clear(td_error *err)
{
	if (err == NULL) {
		return;
	}
	err->code = 0;
	err->msg[0] = '\0';
}

const char *
td_strerror(int code)
{
	size_t i;

	if (code > 0) {
		return "unknown error";
	}
	i = (size_t) - (long)code;
	if (i >= sizeof(error_text) / sizeof(error_text[0]) || error_text[i] == NULL) {
		return "unknown error";
	}
	return error_text[i];
}
