/* falco_http.h — the Falco HTTP receiver (Falco 0.44+ http_output, or a
 * Falcosidekick webhook output).
 *
 *   POST /api/v1/falco/events   one Falco JSON alert per request
 *   POST /                      the same (Falcosidekick's webhook posts here)
 *
 * Answers (JSON bodies):
 *   202 {"status":"accepted","event_id":...}   the event is in the journal
 *   200 {"status":"dropped",...}               well-formed, source is not aws_cloudtrail
 *   400 {"error":...,"field":...}              the field that is wrong
 *   401                                        bearer token required and wrong or absent
 *   404 / 405                                  other paths / methods
 *   413                                        body over ingest.http_max_body
 *   503 (Retry-After: 1)                       journal full, or stopping
 *
 * TLS with ingest.http_tls_cert/key; with ingest.http_tls_ca every client must
 * present a certificate that CA signed (mTLS), else 401.
 *
 * Metrics: tfdrift_ingest_falco_http_alerts_total{result=...},
 * tfdrift_ingest_falco_missing_fields_total{field=...},
 * tfdrift_ingest_falco_dropped_total{reason="source"}.
 *
 * Threads: libmicrohttpd's thread pool runs the handlers. */
#ifndef TFDRIFT_INGEST_FALCO_HTTP_H
#define TFDRIFT_INGEST_FALCO_HTTP_H

#include <stddef.h>

#include "handoff.h"
#include "tfdrift/error.h"

typedef struct falco_http falco_http;

typedef struct falco_http_opts {
	const char *bind;
	int port;             /* 0: the caller does not start the receiver */
	const char *token;    /* "" or NULL: no token */
	const char *tls_cert; /* file paths; "" or NULL: plain HTTP */
	const char *tls_key;
	const char *tls_ca; /* "" or NULL: no client certificate asked for */
	size_t max_body;
	int threads;
	int max_connections;        /* at once, all clients */
	int max_connections_per_ip; /* at once from one address; 0: no limit */
	int timeout_s;              /* a connection idle this long is closed */
} falco_http_opts;

/* *out owned by the caller (falco_http_stop); h must outlive it.  err names
 * the address or file on failure. */
int falco_http_start(falco_http **out, const falco_http_opts *opts, hand *h, td_error *err);
/* The port it listens on. */
int falco_http_port(const falco_http *s);
/* Stops taking connections, waits for handlers, frees s.  NULL is ignored. */
void falco_http_stop(falco_http *s);

#endif
