/* falco_grpc.h — the Falco gRPC output client (Falco up to 0.43).
 *
 * Every grpc call of ingest is in falco_grpc.c (grpc core C API, 1.51): the
 * C core API is not stable, so it is kept in one place.
 *
 * One thread: connect (unix:///path, host:port plaintext, TLS with a CA, or
 * mTLS with a client certificate and key), call /falco.version.service/version
 * and log Falco's version, then open the bidirectional
 * /falco.outputs.service/sub stream.  Falco answers only after a `request`
 * message and drains its queue once per request, so a request is sent when
 * the stream opens, once a drain is over (no alert for DRAIN_IDLE_MS) and
 * every poll interval.  The stream's receive window is large (a drain is a
 * burst of small messages), and the next message is asked for before the
 * current one is mapped.  Each response is decoded from the wire
 * (falco_response.c) and mapped (falco_alert_from_fields: the same mapping
 * as the HTTP receiver) into one arena that is emptied per message; the
 * CloudEvent is packed straight into the drain's CloudEventBatch, which is
 * journaled as one entry (at most PEND_MAX alerts).  While the journal is
 * full the thread waits and sends no request, so Falco keeps the alerts.
 * Alerts lacking fields are counted and logged (falco_missing.h).
 *
 * Keepalive pings keep an idle stream alive.  When the stream or the
 * connection fails, the error is logged (grpc status and details), and a new
 * channel and call are made after a jittered exponential backoff
 * (backoff_initial_ms x1.6 up to backoff_max_ms, +-20 %); a stream that
 * delivered alerts resets the backoff.
 *
 * Metrics: tfdrift_ingest_falco_grpc_connected (0/1),
 * tfdrift_ingest_falco_grpc_alerts_total, tfdrift_ingest_falco_grpc_reconnects_total,
 * tfdrift_ingest_falco_grpc_last_alert_age_seconds, and
 * tfdrift_ingest_falco_grpc_rejected_total for alerts that do not map. */
#ifndef TFDRIFT_INGEST_FALCO_GRPC_H
#define TFDRIFT_INGEST_FALCO_GRPC_H

#include <stdbool.h>

#include "handoff.h"
#include "tfdrift/error.h"

typedef struct falco_grpc falco_grpc;

typedef struct falco_grpc_opts {
	const char *target;   /* unix:///run/falco/falco.sock or host:port */
	const char *tls_ca;   /* PEM file; "" or NULL: plaintext */
	const char *tls_cert; /* PEM client certificate for mTLS; "" or NULL: none */
	const char *tls_key;
	int poll_interval_ms;
	int backoff_initial_ms;
	int backoff_max_ms;
	int keepalive_ms;
	bool insecure;   /* a network target without TLS is allowed (else refused) */
	int max_message; /* largest message accepted from Falco, bytes */
} falco_grpc_opts;

/* Starts the client thread.  *out owned by the caller (falco_grpc_stop); h
 * must outlive it.  Fails on unreadable certificate files (err names the
 * file) and on a network target without grpc_tls_ca unless insecure is set;
 * connection problems are retried, never fatal. */
int falco_grpc_start(falco_grpc **out, const falco_grpc_opts *opts, hand *h, td_error *err);

/* Stops the thread (cancelling the stream), frees c.  NULL is ignored. */
void falco_grpc_stop(falco_grpc *c);

#endif
