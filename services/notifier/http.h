/* http.h — one libcurl handle per delivery thread, and how answers are read.
 *
 * A handle keeps its connections alive between sends to the same host.  URLs
 * are never logged whole: http_redact keeps scheme, host and port (a Slack
 * or Teams webhook URL is itself the secret).
 *
 * Threads: a handle belongs to one thread at a time. */
#ifndef TFDRIFT_NOTIFIER_HTTP_H
#define TFDRIFT_NOTIFIER_HTTP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "msg.h"

typedef struct nt_http nt_http;

/* *out owned by the caller (http_free).  abort (may be NULL, borrowed): once
 * true, transfers in progress stop at once (a stop past its grace). */
int http_new(nt_http **out, int64_t timeout_ms, const atomic_bool *abort);
void http_free(nt_http *h);

/* POSTs body (len bytes) to url with headers (NULL-terminated "Name: value")
 * and sets res: http_status, retry_after_ms, answer (the body's start),
 * outcome by status (2xx sent; 408, 429, 5xx and transport errors retry;
 * other 4xx permanent) and error.  *body_out (may be NULL) receives the whole
 * answer, owned by the caller.  ca_file: an extra CA bundle or NULL. */
void http_post(nt_http *h, const char *url, const char *const *headers, const char *body,
    size_t len, const char *ca_file, nt_result *res, char **body_out);

/* The handle, reset (with the abort flag applied), for other protocols
 * (SMTP).  Borrowed. */
CURL *http_curl(nt_http *h);
int64_t http_timeout_ms(const nt_http *h);

/* "scheme://host:port/..." of url into buf. */
void http_redact(const char *url, char *buf, size_t len);

/* Milliseconds from a Retry-After value (seconds or an HTTP date); 0 if none. */
int64_t http_retry_after_ms(const char *value);

#endif
