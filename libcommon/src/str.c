/* str.c — see str.h. */
#include "tfdrift/str.h"

#include <stdarg.h>
#include <stdio.h>

char *
td_str_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}
