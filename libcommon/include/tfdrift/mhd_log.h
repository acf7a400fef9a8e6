/* mhd_log.h — libmicrohttpd's error messages as log lines, rate-limited.
 *
 * Every HTTP server (admin, ingest's Falco receiver, the api-gateway) hands
 * td_mhd_log to MHD_OPTION_EXTERNAL_LOGGER with its name as the argument.  A
 * flood of refused connections makes libmicrohttpd report each one; at most
 * one line a second is written per process, the next one saying how many
 * were suppressed, so an attack cannot fill the disk through the log.
 *
 * Threads: any thread (libmicrohttpd's); the rate limit is under a mutex. */
#ifndef TFDRIFT_MHD_LOG_H
#define TFDRIFT_MHD_LOG_H

#include <stdarg.h>

/* cls: the server's name (a static string), e.g. "admin http server". */
void td_mhd_log(void *cls, const char *fmt, va_list ap);

#endif
