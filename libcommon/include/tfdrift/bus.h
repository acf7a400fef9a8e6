/* bus.h — protobuf envelopes over NNG.
 *
 * Work that one of N replicas must do exactly once goes over REQ/REP with
 * contexts; broadcasts (state changed, alert committed) go over PUB/SUB.
 * Every message is a tfdrift.v1.Envelope (proto/tfdrift/v1/bus.proto) with a
 * type, schema version, message id, trace id and production time.
 *
 * Dialing never fails because the peer is absent: NNG keeps redialing in the
 * background (reconnect backoff 100 ms .. 5 s).  A message that does not
 * decode, or whose schema version is newer than ours, is counted in
 * tfdrift_bus_decode_errors_total{socket="<name>"} and logged; the receiver
 * goes on (a REP server answers it with an Ack REJECTED so the sender does not
 * resend it forever).
 *
 * Metrics per socket name: tfdrift_bus_messages_received_total,
 * tfdrift_bus_messages_sent_total, tfdrift_bus_decode_errors_total,
 * tfdrift_bus_peers (connected pipes), tfdrift_bus_request_seconds (REQ only).
 *
 * Threads: a REP server with a handler runs `workers` threads, each with its
 * own NNG context, and calls the handler on them (so up to `workers` requests
 * are in flight).  One with an async_handler starts no thread of its own: its
 * `workers` contexts are driven by NNG's callbacks, and each answer comes
 * later, from whichever thread calls td_bus_call_done.
 * A SUB runs one thread that calls its callback.  td_bus_request may be called
 * from any number of threads at once; each call uses its own context. */
#ifndef TFDRIFT_BUS_H
#define TFDRIFT_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tfdrift/error.h"
#include "tfdrift/v1/bus.pb-c.h"

/* An envelope as received: decoded and owned by the bus; valid during the callback. */
typedef Tfdrift__V1__Envelope td_envelope;

/* Encodes an envelope around payload into a malloc'd buffer (*out, *outlen;
 * owned by the caller).  trace_id NULL = a new one. */
int td_bus_envelope_encode(int type, const uint8_t *payload, size_t len, const char *trace_id,
    uint8_t **out, size_t *outlen);
/* Decodes and checks an envelope; *out is freed with td_bus_envelope_free.
 * TD_EPROTO for bytes that do not parse, an unknown type or no message_id;
 * TD_EUNSUPPORTED for a schema_version newer than this build. */
int td_bus_envelope_decode(const uint8_t *buf, size_t len, td_envelope **out, td_error *err);
void td_bus_envelope_free(td_envelope *env);

/* ---- REP: serve work ------------------------------------------------------ */

/* The handler's answer.  payload is malloc'd by the handler and freed by the
 * bus.  A handler that sets nothing (type 0) gets an Ack OK sent for it. */
typedef struct td_bus_reply {
	int type;
	uint8_t *payload;
	size_t len;
} td_bus_reply;

/* Returns 0 to send *reply.  TD_ECLOSED (shutting down) or TD_EAGAIN (cannot
 * finish now) sends no reply at all: the REQ side resends the request, to this
 * or another replica, so the work is handed back rather than lost. */
typedef int (*td_bus_handler)(void *arg, const td_envelope *req, td_bus_reply *reply);

/* One request to a REP server with an async_handler, from receipt to answer
 * (owned by the bus). */
typedef struct td_bus_call td_bus_call;

/* Called on one of NNG's I/O threads for each request; must not block (take a
 * lock for a moment, queue the work, return).  The request stays valid until
 * td_bus_call_done, which must be called exactly once per call, from any
 * thread, before or after the handler returns. */
typedef void (*td_bus_async_handler)(void *arg, td_bus_call *call);

/* The request the call carries (owned by the bus, valid until done). */
const td_envelope *td_bus_call_request(const td_bus_call *call);

/* Answers the call: rv and *reply mean what a td_bus_handler's do (0 sends
 * *reply, or an Ack OK for type 0; TD_ECLOSED / TD_EAGAIN send nothing; another
 * error an Ack RETRY).  The bus takes reply->payload; reply may be NULL.  The
 * call's context then takes the next request, so call must not be used after. */
void td_bus_call_done(td_bus_call *call, int rv, td_bus_reply *reply);

typedef struct td_bus_rep_opts {
	const char *name; /* for logs and metric labels: "correlator.work" */
	const char *url;  /* tcp://host:port, ipc:///path, inproc://name */
	bool listen;      /* listen on url, else dial it */
	int workers;      /* contexts (requests in flight); >= 1 */
	/* exactly one of the two */
	td_bus_handler handler;             /* on `workers` threads of the bus's own */
	td_bus_async_handler async_handler; /* on NNG's threads; answers later */
	void *arg;
} td_bus_rep_opts;

typedef struct td_bus_rep td_bus_rep;

int td_bus_rep_start(td_bus_rep **out, const td_bus_rep_opts *opts, td_error *err);
/* Connected peers (pipes) right now. */
int td_bus_rep_peers(const td_bus_rep *r);
/* Stops taking requests, waits for handlers in progress to return (and, for
 * an async_handler, for every call taken to be done), closes the socket and
 * frees r.  NULL is ignored. */
void td_bus_rep_stop(td_bus_rep *r);

/* True once td_bus_rep_stop has begun on r (from any thread, while the stop
 * has not returned): health output and tests can see a stop in progress. */
bool td_bus_rep_stopping(td_bus_rep *r);

/* ---- REQ: ask for work ----------------------------------------------------- */

typedef struct td_bus_req td_bus_req;

/* resend_ms: how long NNG waits for a reply before resending; <= 0 means no
 * timed resend (a day).  Either way a request whose peer disconnects is resent
 * at once to another peer. */
int td_bus_req_open(td_bus_req **out, const char *name, const char *url, bool listen, int resend_ms,
    td_error *err);
int td_bus_req_peers(const td_bus_req *r);
/* Sends an envelope of `type` around payload and waits for the reply, up to
 * timeout_ms (<0: until td_bus_req_close).  On success *reply is owned by the
 * caller (td_bus_envelope_free).  TD_ETIMEDOUT, TD_ECLOSED, TD_EPROTO. */
int td_bus_request(td_bus_req *r, int type, const uint8_t *payload, size_t len,
    const char *trace_id, int timeout_ms, td_envelope **reply);
/* Cancels requests in flight (they return TD_ECLOSED), closes, frees.  */
void td_bus_req_close(td_bus_req *r);

/* ---- PUB/SUB: broadcast -------------------------------------------------- */

typedef struct td_bus_pub td_bus_pub;
typedef struct td_bus_sub td_bus_sub;

/* A publisher listens; subscribers dial it. */
int td_bus_pub_open(td_bus_pub **out, const char *name, const char *url, td_error *err);
int td_bus_publish(td_bus_pub *p, int type, const uint8_t *payload, size_t len,
    const char *trace_id);
int td_bus_pub_peers(const td_bus_pub *p);
void td_bus_pub_close(td_bus_pub *p);

/* Called on the subscriber's thread for each envelope that decodes. */
typedef void (*td_bus_sub_fn)(void *arg, const td_envelope *env);

int td_bus_sub_open(td_bus_sub **out, const char *name, const char *url, td_bus_sub_fn fn,
    void *arg, td_error *err);
int td_bus_sub_peers(const td_bus_sub *s);
void td_bus_sub_close(td_bus_sub *s);

/* Builds and encodes an Ack payload (not an envelope); *out owned by caller. */
int td_bus_ack_encode(const char *message_id, int status, uint32_t accepted, uint32_t duplicates,
    uint32_t produced, const char *error, uint8_t **out, size_t *outlen);

#endif
