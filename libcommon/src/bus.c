/* bus.c — protobuf envelopes over NNG (contract in tfdrift/bus.h).
 *
 * Every socket kind (REP, REQ, PUB, SUB) embeds a struct endpoint: the NNG
 * socket, its metric series, the connected-pipe set and the log rate limits.
 *
 * Threads: a REP server owns `workers` threads, each with its own context and
 * two aios (receive, send).  A SUB owns one receive thread.  A REQ owns no
 * thread: each td_bus_request runs on its caller's thread with its own context.
 * Pipe events arrive on NNG's threads and only touch the pipe set.
 *
 * Shutdown: NNG 1.5 may free a socket's protocol state while a context or aio
 * call on another thread is still inside it (nni_ctx_rele wakes nng_close
 * before it is done), so every close here first stops and waits for its own
 * operations (cancel under a lock that also guards starting them, join or
 * wait), and calls nng_close only when nothing of ours is inside NNG. */
#include "tfdrift/bus.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "tfdrift/bus_net.h"
#include "tfdrift/clock.h"
#include "tfdrift/id.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

enum {
	ID_BYTES = 16,                /* message and trace ids: 32 hex digits */
	RECONNECT_MIN_MS = 100,       /* redial backoff starts here ... */
	RECONNECT_MAX_MS = 5000,      /* ... and doubles up to here */
	LOG_INTERVAL_MS = 1000,       /* at most one repeated warning per socket per second */
	REPLY_SEND_TIMEOUT_MS = 5000, /* a REQ peer always reads; this only bounds a stop */
	STOP_LINGER_MS = 100,         /* lets a reply sent just before stop leave the host */
	ERROR_PAUSE_MS = 10,          /* after an unexpected receive error, not to spin */
	MAX_WORKERS = 1024,
};

/* Batches can be large; NNG's default 1 MiB limit would drop them silently. */
#define RECV_MAX_BYTES ((size_t)64 << 20)

/* ---- helpers shared by every socket kind ----------------------------------- */

struct log_limit {
	atomic_llong last_ms;
	atomic_ullong suppressed;
};

struct endpoint {
	char *name;
	bool inited; /* pipes_mtx is initialised */
	nng_socket sock;
	bool sock_open;
	td_counter *received;
	td_counter *sent;
	td_counter *decode_errors;
	td_gauge *peers_gauge;
	pthread_mutex_t pipes_mtx;
	uint32_t *pipes; /* ids of pipes that reached ADD_POST */
	size_t npipes, pipes_cap;
	atomic_int npeers;
	struct log_limit decode_log;
	struct log_limit error_log;
	td_bus_netset *net; /* the dialers or the listener (bus_net.c) */
};

/* NNG error -> TD_E*.  Unlisted codes are a failing dependency. */
static const struct {
	int nng;
	int td;
} nng_error_map[] = {
	{ NNG_ETIMEDOUT, TD_ETIMEDOUT },
	{ NNG_ECLOSED, TD_ECLOSED },
	{ NNG_ECANCELED, TD_ECLOSED },
	{ NNG_ENOMEM, TD_ENOMEM },
	{ NNG_EAGAIN, TD_EAGAIN },
	{ NNG_EINVAL, TD_EINVAL },
	{ NNG_EADDRINVAL, TD_EINVAL },
	{ NNG_ENOTSUP, TD_EUNSUPPORTED },
};

static int
map_nng_error(int rv)
{
	for (size_t i = 0; i < sizeof(nng_error_map) / sizeof(nng_error_map[0]); i++) {
		if (nng_error_map[i].nng == rv) {
			return nng_error_map[i].td;
		}
	}
	return TD_EDEPEND;
}

static bool
log_limit_pass(struct log_limit *l, uint64_t *suppressed)
{
	long long now = (long long)td_clock_mono_ms();
	long long last = atomic_load(&l->last_ms);

	if (now - last >= LOG_INTERVAL_MS &&
	    atomic_compare_exchange_strong(&l->last_ms, &last, now)) {
		*suppressed = atomic_exchange(&l->suppressed, 0);
		return true;
	}
	atomic_fetch_add(&l->suppressed, 1);
	return false;
}

static void
log_limit_init(struct log_limit *l)
{
	atomic_init(&l->last_ms, -(long long)LOG_INTERVAL_MS);
	atomic_init(&l->suppressed, 0);
}

/* Counts an undecodable message and warns, at most once a second per socket. */
static void
note_decode_error(struct endpoint *ep, const char *reason)
{
	uint64_t suppressed = 0;

	td_counter_inc(ep->decode_errors);
	if (log_limit_pass(&ep->decode_log, &suppressed)) {
		TD_WARN("bus message rejected", TD_KV_STR("socket", ep->name),
		    TD_KV_STR("reason", reason), TD_KV_UINT("suppressed", suppressed));
	}
}

/* Maps an NNG failure and, unless it is a timeout or a close, warns (rate-limited). */
static int
note_nng_error(struct endpoint *ep, const char *op, int rv)
{
	int td = map_nng_error(rv);
	uint64_t suppressed = 0;

	if (td != TD_ETIMEDOUT && td != TD_ECLOSED && log_limit_pass(&ep->error_log, &suppressed)) {
		TD_WARN("bus operation failed", TD_KV_STR("socket", ep->name), TD_KV_STR("op", op),
		    TD_KV_STR("error", nng_strerror(rv)), TD_KV_UINT("suppressed", suppressed));
	}
	return td;
}

/* Prometheus label text socket="<name>" with \, " and newline escaped; malloc'd, caller frees. */
static char *
socket_label(const char *name)
{
	size_t n = strlen(name);
	char *out = malloc(2 * n + sizeof("socket=\"\""));
	char *p = out;

	if (out == NULL) {
		return NULL;
	}
	p += sprintf(p, "socket=\"");
	for (const char *s = name; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"') {
			*p++ = '\\';
			*p++ = *s;
		} else if (*s == '\n') {
			*p++ = '\\';
			*p++ = 'n';
		} else {
			*p++ = *s;
		}
	}
	*p++ = '"';
	*p = '\0';
	return out;
}

static void
pipe_event(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	struct endpoint *ep = arg;
	uint32_t id = (uint32_t)nng_pipe_id(pipe);

	pthread_mutex_lock(&ep->pipes_mtx);
	if (ev == NNG_PIPE_EV_ADD_POST) {
		if (ep->npipes == ep->pipes_cap) {
			size_t cap = ep->pipes_cap ? 2 * ep->pipes_cap : 8;
			uint32_t *grown = realloc(ep->pipes, cap * sizeof(*grown));
			if (grown != NULL) {
				ep->pipes = grown;
				ep->pipes_cap = cap;
			}
		}
		if (ep->npipes < ep->pipes_cap) {
			ep->pipes[ep->npipes++] = id;
		}
	} else {
		/* REM_POST also fires for pipes that never reached ADD_POST
		 * (e.g. a peer of the wrong protocol), so only known ids count. */
		for (size_t i = 0; i < ep->npipes; i++) {
			if (ep->pipes[i] == id) {
				ep->pipes[i] = ep->pipes[--ep->npipes];
				break;
			}
		}
	}
	atomic_store(&ep->npeers, (int)ep->npipes);
	td_gauge_set(ep->peers_gauge, (double)ep->npipes);
	pthread_mutex_unlock(&ep->pipes_mtx);
}

/* Sets up name and metrics; the socket is opened by endpoint_open. */
static int
endpoint_init(struct endpoint *ep, const char *name, td_error *err)
{
	char *labels = NULL;
	int rv = 0;

	pthread_mutex_init(&ep->pipes_mtx, NULL);
	ep->inited = true;
	atomic_init(&ep->npeers, 0);
	log_limit_init(&ep->decode_log);
	log_limit_init(&ep->error_log);
	if (name == NULL || name[0] == '\0') {
		return td_error_set(err, TD_EINVAL, "bus socket needs a name");
	}
	ep->name = strdup(name);
	labels = socket_label(name);
	if (ep->name == NULL || labels == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "bus socket %s: out of memory", name);
		goto out;
	}
	ep->received = td_counter_get("tfdrift_bus_messages_received_total",
	    "Messages received from the bus, per socket.", labels);
	ep->sent = td_counter_get("tfdrift_bus_messages_sent_total",
	    "Messages sent on the bus, per socket.", labels);
	ep->decode_errors = td_counter_get("tfdrift_bus_decode_errors_total",
	    "Bus messages that did not decode as a valid envelope, per socket.", labels);
	ep->peers_gauge = td_gauge_get("tfdrift_bus_peers", "Connected peers (pipes), per socket.",
	    labels);
out:
	free(labels);
	return rv;
}

/* Opens the socket with `opener` and sets the options every socket shares. */
static int
endpoint_open(struct endpoint *ep, int (*opener)(nng_socket *), td_error *err)
{
	int rv;

	if ((rv = opener(&ep->sock)) != 0) {
		return td_error_set(err, map_nng_error(rv), "bus socket %s: cannot open: %s",
		    ep->name, nng_strerror(rv));
	}
	ep->sock_open = true;
	if ((rv = nng_pipe_notify(ep->sock, NNG_PIPE_EV_ADD_POST, pipe_event, ep)) != 0 ||
	    (rv = nng_pipe_notify(ep->sock, NNG_PIPE_EV_REM_POST, pipe_event, ep)) != 0 ||
	    (rv = nng_socket_set_ms(ep->sock, NNG_OPT_RECONNMINT, RECONNECT_MIN_MS)) != 0 ||
	    (rv = nng_socket_set_ms(ep->sock, NNG_OPT_RECONNMAXT, RECONNECT_MAX_MS)) != 0 ||
	    (rv = nng_socket_set_size(ep->sock, NNG_OPT_RECVMAXSZ, RECV_MAX_BYTES)) != 0) {
		return td_error_set(err, map_nng_error(rv), "bus socket %s: cannot set options: %s",
		    ep->name, nng_strerror(rv));
	}
	return 0;
}

/* Listens on url, or dials every peer of a dial spec (a list and/or names
 * resolving to several addresses, bus_net.h) in the background (never fails
 * for an absent peer). */
static int
endpoint_connect(struct endpoint *ep, const char *url, bool listen, td_error *err)
{
	int rv;

	if (url == NULL || url[0] == '\0') {
		return td_error_set(err, TD_EINVAL, "bus socket %s: no url", ep->name);
	}
	rv = listen ? td_bus_netset_listen(&ep->net, ep->sock, ep->name, url, err)
		    : td_bus_netset_dial(&ep->net, ep->sock, ep->name, url, err);
	if (rv != 0) {
		return rv;
	}
	TD_DEBUG("bus socket ready", TD_KV_STR("socket", ep->name), TD_KV_STR("url", url),
	    TD_KV_BOOL("listen", listen));
	return 0;
}

static void
endpoint_close(struct endpoint *ep)
{
	/* before the socket: the resolver thread must not touch a closed one */
	td_bus_netset_stop(ep->net);
	ep->net = NULL;
	if (ep->sock_open) {
		nng_close(ep->sock);
		ep->sock_open = false;
	}
}

/* Frees what endpoint_init took; the socket must be closed (no more pipe events). */
static void
endpoint_fini(struct endpoint *ep)
{
	if (ep->inited) {
		pthread_mutex_destroy(&ep->pipes_mtx);
		ep->inited = false;
	}
	free(ep->pipes);
	ep->pipes = NULL;
	free(ep->name);
	ep->name = NULL;
}

/* ---- envelopes ------------------------------------------------------------- */

static pthread_once_t producer_once = PTHREAD_ONCE_INIT;
static char producer_text[256];

static void
producer_init(void)
{
	char host[128];

	if (gethostname(host, sizeof(host)) != 0) {
		snprintf(host, sizeof(host), "unknown");
	}
	host[sizeof(host) - 1] = '\0';
	snprintf(producer_text, sizeof(producer_text), "%s/%s/%ld", program_invocation_short_name,
	    host, (long)getpid());
}

static bool
message_type_known(int type)
{
	return type != TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_UNSPECIFIED &&
	    protobuf_c_enum_descriptor_get_value(&tfdrift__v1__message_type__descriptor, type) !=
	    NULL;
}

/* Fills env; the ids are written into msgid/trace (owned by the caller) and the
 * envelope borrows payload, so env lives no longer than those. */
static int
envelope_fill(Tfdrift__V1__Envelope *env, int type, const uint8_t *payload, size_t len,
    const char *trace_id, char msgid[2 * ID_BYTES + 1], char trace[2 * ID_BYTES + 1])
{
	if (!message_type_known(type) || (payload == NULL && len != 0)) {
		return TD_EINVAL;
	}
	pthread_once(&producer_once, producer_init);
	tfdrift__v1__envelope__init(env);
	env->type = (Tfdrift__V1__MessageType)type;
	env->schema_version = TFDRIFT__V1__SCHEMA_VERSION__SCHEMA_VERSION_CURRENT;
	env->message_id = td_id_random_hex(msgid, ID_BYTES);
	env->trace_id = (trace_id != NULL && trace_id[0] != '\0')
	    ? (char *)trace_id
	    : td_id_random_hex(trace, ID_BYTES);
	env->produced_at_ns = td_clock_now_ns();
	env->producer = producer_text;
	env->payload.data = (uint8_t *)payload;
	env->payload.len = len;
	return 0;
}

/* Encodes straight into a new NNG message (*out owned by the caller). */
static int
envelope_msg(int type, const uint8_t *payload, size_t len, const char *trace_id, nng_msg **out)
{
	Tfdrift__V1__Envelope env;
	char msgid[2 * ID_BYTES + 1], trace[2 * ID_BYTES + 1];
	nng_msg *msg = NULL;
	size_t size;
	int rv;

	*out = NULL;
	if ((rv = envelope_fill(&env, type, payload, len, trace_id, msgid, trace)) != 0) {
		return rv;
	}
	size = tfdrift__v1__envelope__get_packed_size(&env);
	if (nng_msg_alloc(&msg, size) != 0) {
		return TD_ENOMEM;
	}
	tfdrift__v1__envelope__pack(&env, nng_msg_body(msg));
	*out = msg;
	return 0;
}

int
td_bus_envelope_encode(int type, const uint8_t *payload, size_t len, const char *trace_id,
    uint8_t **out, size_t *outlen)
{
	Tfdrift__V1__Envelope env;
	char msgid[2 * ID_BYTES + 1], trace[2 * ID_BYTES + 1];
	uint8_t *buf;
	size_t size;
	int rv;

	if (out == NULL || outlen == NULL) {
		return TD_EINVAL;
	}
	*out = NULL;
	*outlen = 0;
	if ((rv = envelope_fill(&env, type, payload, len, trace_id, msgid, trace)) != 0) {
		return rv;
	}
	size = tfdrift__v1__envelope__get_packed_size(&env);
	if ((buf = malloc(size > 0 ? size : 1)) == NULL) {
		return TD_ENOMEM;
	}
	*outlen = tfdrift__v1__envelope__pack(&env, buf);
	*out = buf;
	return 0;
}

int
td_bus_envelope_decode(const uint8_t *buf, size_t len, td_envelope **out, td_error *err)
{
	Tfdrift__V1__Envelope *env;
	int rv = 0;

	if (out == NULL) {
		return td_error_set(err, TD_EINVAL, "envelope decode: no output");
	}
	*out = NULL;
	if (buf == NULL && len != 0) {
		return td_error_set(err, TD_EINVAL, "envelope decode: no buffer");
	}
	env = tfdrift__v1__envelope__unpack(NULL, len, buf);
	if (env == NULL) {
		return td_error_set(err, TD_EPROTO,
		    "message of %zu bytes does not decode as a tfdrift.v1.Envelope", len);
	}
	if (env->type == TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_UNSPECIFIED) {
		rv = td_error_set(err, TD_EPROTO, "envelope has no type");
	} else if (!message_type_known((int)env->type)) {
		rv = td_error_set(err, TD_EPROTO, "envelope has unknown type %d", (int)env->type);
	} else if (env->schema_version > TFDRIFT__V1__SCHEMA_VERSION__SCHEMA_VERSION_CURRENT) {
		rv = td_error_set(err, TD_EUNSUPPORTED,
		    "envelope schema_version %u is newer than this build understands (%d)",
		    env->schema_version, TFDRIFT__V1__SCHEMA_VERSION__SCHEMA_VERSION_CURRENT);
	} else if (env->message_id == NULL || env->message_id[0] == '\0') {
		rv = td_error_set(err, TD_EPROTO, "envelope has no message_id");
	}
	if (rv != 0) {
		tfdrift__v1__envelope__free_unpacked(env, NULL);
		return rv;
	}
	*out = env;
	return 0;
}

void
td_bus_envelope_free(td_envelope *env)
{
	if (env != NULL) {
		tfdrift__v1__envelope__free_unpacked(env, NULL);
	}
}

int
td_bus_ack_encode(const char *message_id, int status, uint32_t accepted, uint32_t duplicates,
    uint32_t produced, const char *error, uint8_t **out, size_t *outlen)
{
	Tfdrift__V1__Ack ack = TFDRIFT__V1__ACK__INIT;
	uint8_t *buf;
	size_t size;

	if (out == NULL || outlen == NULL) {
		return TD_EINVAL;
	}
	*out = NULL;
	*outlen = 0;
	if (status == TFDRIFT__V1__ACK_STATUS__ACK_STATUS_UNSPECIFIED ||
	    protobuf_c_enum_descriptor_get_value(&tfdrift__v1__ack_status__descriptor, status) ==
		NULL) {
		return TD_EINVAL;
	}
	ack.message_id = (char *)(message_id != NULL ? message_id : "");
	ack.status = (Tfdrift__V1__AckStatus)status;
	ack.accepted = accepted;
	ack.duplicates = duplicates;
	ack.produced = produced;
	ack.error = (char *)(error != NULL ? error : "");
	size = tfdrift__v1__ack__get_packed_size(&ack);
	if ((buf = malloc(size > 0 ? size : 1)) == NULL) {
		return TD_ENOMEM;
	}
	*outlen = tfdrift__v1__ack__pack(&ack, buf);
	*out = buf;
	return 0;
}

/* An envelope holding an Ack; *out owned by the caller. */
static int
ack_msg(const char *message_id, int status, const char *error, const char *trace_id, nng_msg **out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rv;

	if ((rv = td_bus_ack_encode(message_id, status, 0, 0, 0, error, &buf, &len)) != 0) {
		return rv;
	}
	rv = envelope_msg(TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ACK, buf, len, trace_id, out);
	free(buf);
	return rv;
}

/* ---- REP ---------------------------------------------------------------------- */

/* One NNG context: with a handler, a thread of its own that serves it; with an
 * async_handler, driven by its aios' callbacks (and then it is the call). */
struct td_bus_call {
	struct td_bus_rep *rep;
	pthread_t thread;
	bool started;
	nng_ctx ctx;
	nng_aio *recv_aio;
	nng_aio *send_aio;
	td_envelope *req; /* async: the request being answered */
	bool pausing;     /* async: send_aio sleeps after a receive error */
};
typedef struct td_bus_call rep_worker;

struct td_bus_rep {
	struct endpoint ep;
	td_bus_handler handler;
	td_bus_async_handler async_handler;
	void *arg;
	pthread_mutex_t mtx; /* orders `stopping` against starting a receive */
	pthread_cond_t idle; /* async: `busy` fell */
	bool stopping;
	int busy; /* async: contexts not yet ended by a stop */
	atomic_llong last_reply_ms;
	int nworkers;
	rep_worker *workers;
};

/* Builds the reply message for req from a handler's rv and reply (into *out;
 * NULL when nothing is to be sent). */
static void
rep_answer(struct td_bus_rep *r, const td_envelope *req, int rv, const td_bus_reply *reply,
    nng_msg **out)
{
	*out = NULL;
	if (rv == TD_ECLOSED || rv == TD_EAGAIN) {
		/* No reply: the REQ side resends, to us or another replica. */
		return;
	}
	if (rv < 0) {
		TD_DEBUG("bus handler failed", TD_KV_STR("socket", r->ep.name),
		    TD_KV_STR("message_id", req->message_id), TD_KV_STR("error", td_strerror(rv)));
		rv = ack_msg(req->message_id, TFDRIFT__V1__ACK_STATUS__ACK_STATUS_RETRY,
		    td_strerror(rv), req->trace_id, out);
	} else if (reply == NULL || reply->type == 0) {
		rv = ack_msg(req->message_id, TFDRIFT__V1__ACK_STATUS__ACK_STATUS_OK, NULL,
		    req->trace_id, out);
	} else {
		rv = envelope_msg(reply->type, reply->payload, reply->len, req->trace_id, out);
		if (rv != 0) {
			TD_ERROR("bus handler reply cannot be encoded",
			    TD_KV_STR("socket", r->ep.name), TD_KV_INT("type", reply->type),
			    TD_KV_STR("error", td_strerror(rv)));
			rv = ack_msg(req->message_id, TFDRIFT__V1__ACK_STATUS__ACK_STATUS_RETRY,
			    "reply could not be encoded", req->trace_id, out);
		}
	}
	if (rv != 0) {
		*out = NULL;
	}
}

/* Decodes a received request into *req; on failure builds the REJECTED Ack
 * into *out (NULL if even that failed), so the sender stops resending what can
 * never succeed.  Takes msg. */
static int
rep_decode(struct td_bus_rep *r, nng_msg *msg, td_envelope **req, nng_msg **out)
{
	td_error err;
	int rv;

	td_error_clear(&err);
	*out = NULL;
	td_counter_inc(r->ep.received);
	rv = td_bus_envelope_decode(nng_msg_body(msg), nng_msg_len(msg), req, &err);
	nng_msg_free(msg);
	if (rv != 0) {
		note_decode_error(&r->ep, err.msg);
		if (ack_msg("", TFDRIFT__V1__ACK_STATUS__ACK_STATUS_REJECTED, err.msg, NULL, out) !=
		    0) {
			*out = NULL;
		}
	}
	return rv;
}

/* Starts sending msg as the reply of the worker's current request; takes msg. */
static void
rep_start_send(rep_worker *w, nng_msg *msg)
{
	nng_aio_set_msg(w->send_aio, msg);
	nng_aio_set_timeout(w->send_aio, REPLY_SEND_TIMEOUT_MS);
	nng_ctx_send(w->ctx, w->send_aio);
}

/* Accounts for a finished send of the worker's reply (frees it if unsent). */
static void
rep_send_done(rep_worker *w)
{
	struct td_bus_rep *r = w->rep;
	int rv = nng_aio_result(w->send_aio);

	if (rv != 0) {
		nng_msg_free(nng_aio_get_msg(w->send_aio));
		note_nng_error(&r->ep, "send reply", rv);
		return;
	}
	td_counter_inc(r->ep.sent);
	atomic_store(&r->last_reply_ms, (long long)td_clock_mono_ms());
}

/* Sends msg as the reply of the worker's current request; takes msg. */
static void
rep_send(rep_worker *w, nng_msg *msg)
{
	rep_start_send(w, msg);
	nng_aio_wait(w->send_aio);
	rep_send_done(w);
}

/* Decodes one request, runs the handler and answers; takes msg. */
static void
rep_serve(rep_worker *w, nng_msg *msg)
{
	struct td_bus_rep *r = w->rep;
	td_envelope *req = NULL;
	td_bus_reply reply = { 0 };
	nng_msg *out = NULL;

	if (rep_decode(r, msg, &req, &out) == 0) {
		rep_answer(r, req, r->handler(r->arg, req, &reply), &reply, &out);
	}
	if (out != NULL) {
		rep_send(w, out);
	}
	free(reply.payload);
	td_bus_envelope_free(req);
}

static void *
rep_worker_main(void *arg)
{
	rep_worker *w = arg;
	struct td_bus_rep *r = w->rep;
	int rv;

	for (;;) {
		/* Under the lock, so td_bus_rep_stop either sees this receive
		 * and cancels it, or we see `stopping` and never start it. */
		pthread_mutex_lock(&r->mtx);
		if (r->stopping) {
			pthread_mutex_unlock(&r->mtx);
			break;
		}
		nng_ctx_recv(w->ctx, w->recv_aio);
		pthread_mutex_unlock(&r->mtx);

		nng_aio_wait(w->recv_aio);
		rv = nng_aio_result(w->recv_aio);
		if (rv == NNG_ECANCELED || rv == NNG_ECLOSED) {
			continue; /* the loop head sees `stopping` */
		}
		if (rv != 0) {
			note_nng_error(&r->ep, "receive", rv);
			nng_msleep(ERROR_PAUSE_MS);
			continue;
		}
		rep_serve(w, nng_aio_get_msg(w->recv_aio));
	}
	return NULL;
}

/* ---- REP, async: each context a chain of callbacks --------------------------------
 *
 * receive -> (decode, async_handler ... td_bus_call_done) -> send -> receive ...
 * A context is busy from its start until a stop ends it; the chain ends only in
 * async_next, under mtx, so td_bus_rep_stop either sees the receive started
 * (and cancels it) or the context sees `stopping` and never starts one. */

static void
async_next(rep_worker *w)
{
	struct td_bus_rep *r = w->rep;

	pthread_mutex_lock(&r->mtx);
	if (r->stopping) {
		r->busy--;
		pthread_cond_broadcast(&r->idle);
	} else {
		nng_ctx_recv(w->ctx, w->recv_aio);
	}
	pthread_mutex_unlock(&r->mtx);
}

static void
async_recv_cb(void *arg)
{
	rep_worker *w = arg;
	struct td_bus_rep *r = w->rep;
	nng_msg *out = NULL;
	int rv = nng_aio_result(w->recv_aio);

	if (rv == NNG_ECANCELED || rv == NNG_ECLOSED) {
		async_next(w); /* sees `stopping` */
		return;
	}
	if (rv != 0) {
		note_nng_error(&r->ep, "receive", rv);
		w->pausing = true;
		nng_sleep_aio(ERROR_PAUSE_MS, w->send_aio);
		return;
	}
	if (rep_decode(r, nng_aio_get_msg(w->recv_aio), &w->req, &out) != 0) {
		w->req = NULL;
		if (out != NULL) {
			rep_start_send(w, out); /* its callback goes on */
		} else {
			async_next(w);
		}
		return;
	}
	r->async_handler(r->arg, w);
}

static void
async_send_cb(void *arg)
{
	rep_worker *w = arg;

	/* send_aio also carries the pause after a receive error */
	if (w->pausing) {
		w->pausing = false;
	} else {
		rep_send_done(w);
	}
	async_next(w);
}

const td_envelope *
td_bus_call_request(const td_bus_call *call)
{
	return call->req;
}

void
td_bus_call_done(td_bus_call *call, int rv, td_bus_reply *reply)
{
	nng_msg *out = NULL;

	rep_answer(call->rep, call->req, rv, reply, &out);
	if (reply != NULL) {
		free(reply->payload);
		reply->payload = NULL;
	}
	td_bus_envelope_free(call->req);
	call->req = NULL;
	if (out != NULL) {
		rep_start_send(call, out); /* its callback goes on */
	} else {
		async_next(call);
	}
}

int
td_bus_rep_start(td_bus_rep **out, const td_bus_rep_opts *opts, td_error *err)
{
	td_bus_rep *r = NULL;
	int rv;

	if (out == NULL || opts == NULL) {
		return td_error_set(err, TD_EINVAL, "td_bus_rep_start: missing argument");
	}
	*out = NULL;
	if ((opts->handler == NULL) == (opts->async_handler == NULL) || opts->workers < 1 ||
	    opts->workers > MAX_WORKERS) {
		return td_error_set(err, TD_EINVAL,
		    "bus socket %s: needs one handler (sync or async) and 1..%d workers (got %d)",
		    opts->name ? opts->name : "(unnamed)", MAX_WORKERS, opts->workers);
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		return td_error_set(err, TD_ENOMEM, "bus: out of memory");
	}
	pthread_mutex_init(&r->mtx, NULL);
	pthread_cond_init(&r->idle, NULL);
	atomic_init(&r->last_reply_ms, 0);
	r->handler = opts->handler;
	r->async_handler = opts->async_handler;
	r->arg = opts->arg;
	if ((rv = endpoint_init(&r->ep, opts->name, err)) != 0 ||
	    (rv = endpoint_open(&r->ep, nng_rep0_open, err)) != 0) {
		goto out;
	}
	if ((r->workers = calloc((size_t)opts->workers, sizeof(*r->workers))) == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "bus socket %s: out of memory", r->ep.name);
		goto out;
	}
	r->nworkers = opts->workers;
	for (int i = 0; i < r->nworkers; i++) {
		rep_worker *w = &r->workers[i];
		bool async = r->async_handler != NULL;
		int nrv;

		w->rep = r;
		/* Contexts need no close of their own: closing the socket closes them. */
		if ((nrv = nng_ctx_open(&w->ctx, r->ep.sock)) != 0 ||
		    (nrv = nng_aio_alloc(&w->recv_aio, async ? async_recv_cb : NULL, w)) != 0 ||
		    (nrv = nng_aio_alloc(&w->send_aio, async ? async_send_cb : NULL, w)) != 0) {
			rv = td_error_set(err, map_nng_error(nrv),
			    "bus socket %s: cannot set up worker: %s", r->ep.name,
			    nng_strerror(nrv));
			goto out;
		}
	}
	for (int i = 0; i < r->nworkers; i++) {
		rep_worker *w = &r->workers[i];

		if (r->async_handler != NULL) {
			pthread_mutex_lock(&r->mtx);
			r->busy++;
			nng_ctx_recv(w->ctx, w->recv_aio);
			pthread_mutex_unlock(&r->mtx);
			continue;
		}
		int prv = pthread_create(&w->thread, NULL, rep_worker_main, w);
		if (prv != 0) {
			rv = td_error_set(err, TD_EIO,
			    "bus socket %s: cannot start worker thread: %s", r->ep.name,
			    strerror(prv));
			goto out;
		}
		w->started = true;
	}
	if ((rv = endpoint_connect(&r->ep, opts->url, opts->listen, err)) != 0) {
		goto out;
	}
	*out = r;
out:
	if (rv != 0) {
		td_bus_rep_stop(r);
	}
	return rv;
}

int
td_bus_rep_peers(const td_bus_rep *r)
{
	return r != NULL ? atomic_load(&r->ep.npeers) : 0;
}

bool
td_bus_rep_stopping(td_bus_rep *r)
{
	bool v;

	pthread_mutex_lock(&r->mtx);
	v = r->stopping;
	pthread_mutex_unlock(&r->mtx);
	return v;
}

void
td_bus_rep_stop(td_bus_rep *r)
{
	long long since;

	if (r == NULL) {
		return;
	}
	pthread_mutex_lock(&r->mtx);
	r->stopping = true;
	for (int i = 0; i < r->nworkers; i++) {
		if (r->workers[i].recv_aio != NULL) {
			nng_aio_cancel(r->workers[i].recv_aio);
		}
	}
	pthread_mutex_unlock(&r->mtx);

	/* Handlers in progress finish and send their replies first. */
	for (int i = 0; i < r->nworkers; i++) {
		if (r->workers[i].started) {
			pthread_join(r->workers[i].thread, NULL);
		}
	}
	pthread_mutex_lock(&r->mtx);
	while (r->busy > 0) {
		pthread_cond_wait(&r->idle, &r->mtx);
	}
	pthread_mutex_unlock(&r->mtx);
	/* A reply handed to NNG is written by its I/O threads; closing at once
	 * could cut it off (the REQ peer would then resend it elsewhere). */
	since = (long long)td_clock_mono_ms() - atomic_load(&r->last_reply_ms);
	if (since >= 0 && since < STOP_LINGER_MS) {
		nng_msleep((nng_duration)(STOP_LINGER_MS - since));
	}
	endpoint_close(&r->ep);
	for (int i = 0; i < r->nworkers; i++) {
		rep_worker *w = &r->workers[i];
		if (w->recv_aio != NULL) {
			nng_aio_free(w->recv_aio);
		}
		if (w->send_aio != NULL) {
			nng_aio_free(w->send_aio);
		}
	}
	free(r->workers);
	endpoint_fini(&r->ep);
	pthread_cond_destroy(&r->idle);
	pthread_mutex_destroy(&r->mtx);
	free(r);
}

/* ---- REQ ---------------------------------------------------------------------- */

/* One td_bus_request in progress, on its caller's stack. */
struct req_call {
	struct req_call *prev, *next;
	nng_aio *aio;
	bool aio_busy; /* an operation was started and not yet waited for */
};

/* NNG 1.5 must not see nng_close while a context call is running (it may
 * free the protocol's lock under it), so td_bus_req_close cancels the calls
 * registered here, waits until none is left, and only then closes. */
struct td_bus_req {
	struct endpoint ep;
	td_histogram *latency;
	nng_duration resend;
	pthread_mutex_t mtx; /* guards closing, calls, and starting an operation */
	pthread_cond_t idle; /* signalled when the last call leaves while closing */
	bool closing;
	struct req_call *calls;
};

int
td_bus_req_open(td_bus_req **out, const char *name, const char *url, bool listen, int resend_ms,
    td_error *err)
{
	td_bus_req *r = NULL;
	char *labels = NULL;
	int rv, nrv;

	if (out == NULL) {
		return td_error_set(err, TD_EINVAL, "td_bus_req_open: missing argument");
	}
	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		return td_error_set(err, TD_ENOMEM, "bus: out of memory");
	}
	pthread_mutex_init(&r->mtx, NULL);
	pthread_cond_init(&r->idle, NULL);
	/* NNG 1.5 resends a request at once when its peer's pipe goes away only
	 * if a resend time is set; with none it fails the request with
	 * ECONNRESET.  So "<= 0" (no timed resend) becomes a day, which keeps
	 * the resend-on-disconnect that hands a dead replica's work to another. */
	r->resend = resend_ms > 0 ? (nng_duration)resend_ms : (nng_duration)86400000;
	if ((rv = endpoint_init(&r->ep, name, err)) != 0 ||
	    (rv = endpoint_open(&r->ep, nng_req0_open, err)) != 0) {
		goto out;
	}
	if ((nrv = nng_socket_set_ms(r->ep.sock, NNG_OPT_REQ_RESENDTIME, r->resend)) != 0) {
		rv = td_error_set(err, map_nng_error(nrv),
		    "bus socket %s: cannot set resend time: %s", r->ep.name, nng_strerror(nrv));
		goto out;
	}
	if ((labels = socket_label(name)) == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "bus: out of memory");
		goto out;
	}
	r->latency = td_histogram_get("tfdrift_bus_request_seconds",
	    "Time from sending a request to receiving its reply, per socket.", labels);
	if ((rv = endpoint_connect(&r->ep, url, listen, err)) != 0) {
		goto out;
	}
	*out = r;
out:
	free(labels);
	if (rv != 0) {
		td_bus_req_close(r);
	}
	return rv;
}

int
td_bus_req_peers(const td_bus_req *r)
{
	return r != NULL ? atomic_load(&r->ep.npeers) : 0;
}

/* The remaining part of a timeout that started at start_ms; at least 1 ms so
 * NNG waits for a reply already on its way rather than polling. */
static nng_duration
remaining_ms(int timeout_ms, int64_t start_ms)
{
	int64_t left;

	if (timeout_ms < 0) {
		return NNG_DURATION_INFINITE;
	}
	left = (int64_t)timeout_ms - (td_clock_mono_ms() - start_ms);
	return left > 0 ? (nng_duration)left : 1;
}

static int
req_enter(td_bus_req *r, struct req_call *c)
{
	pthread_mutex_lock(&r->mtx);
	if (r->closing) {
		pthread_mutex_unlock(&r->mtx);
		return TD_ECLOSED;
	}
	c->prev = NULL;
	c->next = r->calls;
	if (r->calls != NULL) {
		r->calls->prev = c;
	}
	r->calls = c;
	pthread_mutex_unlock(&r->mtx);
	return 0;
}

/* The last touch of r by a call: td_bus_req_close may free r right after. */
static void
req_leave(td_bus_req *r, struct req_call *c)
{
	pthread_mutex_lock(&r->mtx);
	if (c->prev != NULL) {
		c->prev->next = c->next;
	} else {
		r->calls = c->next;
	}
	if (c->next != NULL) {
		c->next->prev = c->prev;
	}
	if (r->calls == NULL && r->closing) {
		pthread_cond_broadcast(&r->idle);
	}
	pthread_mutex_unlock(&r->mtx);
}

/* Starts a send or receive on c->aio unless closing, under the lock, so that
 * td_bus_req_close either cancels the operation or it never starts. */
static int
req_start(td_bus_req *r, struct req_call *c, nng_ctx ctx, bool send)
{
	pthread_mutex_lock(&r->mtx);
	if (r->closing) {
		pthread_mutex_unlock(&r->mtx);
		return TD_ECLOSED;
	}
	c->aio_busy = true;
	if (send) {
		nng_ctx_send(ctx, c->aio);
	} else {
		nng_ctx_recv(ctx, c->aio);
	}
	pthread_mutex_unlock(&r->mtx);
	return 0;
}

/* Waits for the operation req_start began; NNG's result code. */
static int
req_finish(td_bus_req *r, struct req_call *c)
{
	nng_aio_wait(c->aio);
	pthread_mutex_lock(&r->mtx);
	c->aio_busy = false;
	pthread_mutex_unlock(&r->mtx);
	return nng_aio_result(c->aio);
}

/* On success *reply is owned by the caller; payload is borrowed. */
int
td_bus_request(td_bus_req *r, int type, const uint8_t *payload, size_t len, const char *trace_id,
    int timeout_ms, td_envelope **reply)
{
	struct req_call call = { 0 };
	nng_msg *msg = NULL;
	nng_ctx ctx;
	bool ctx_open = false;
	int64_t start_ms = td_clock_mono_ms();
	int64_t start_ns = td_clock_now_ns();
	td_error err;
	int rv, nrv;

	if (r == NULL || reply == NULL) {
		return TD_EINVAL;
	}
	*reply = NULL;
	if ((rv = req_enter(r, &call)) != 0) {
		return rv;
	}
	if ((rv = envelope_msg(type, payload, len, trace_id, &msg)) != 0) {
		goto out;
	}
	if ((nrv = nng_ctx_open(&ctx, r->ep.sock)) != 0) {
		rv = note_nng_error(&r->ep, "open context", nrv);
		goto out;
	}
	ctx_open = true;
	if ((nrv = nng_ctx_set_ms(ctx, NNG_OPT_REQ_RESENDTIME, r->resend)) != 0 ||
	    (nrv = nng_aio_alloc(&call.aio, NULL, NULL)) != 0) {
		rv = note_nng_error(&r->ep, "set up request", nrv);
		goto out;
	}

	/* The send completes only when a peer takes the request, so "no peer"
	 * is a send timeout; the receive gets what is left of the time. */
	nng_aio_set_msg(call.aio, msg);
	nng_aio_set_timeout(call.aio, remaining_ms(timeout_ms, start_ms));
	if ((rv = req_start(r, &call, ctx, true)) != 0) {
		nng_aio_set_msg(call.aio, NULL); /* never sent: msg is still ours */
		goto out;
	}
	if ((nrv = req_finish(r, &call)) != 0) {
		msg = nng_aio_get_msg(call.aio); /* a failed send leaves msg with us */
		nng_aio_set_msg(call.aio, NULL);
		rv = note_nng_error(&r->ep, "send request", nrv);
		goto out;
	}
	msg = NULL;
	td_counter_inc(r->ep.sent);

	nng_aio_set_timeout(call.aio, remaining_ms(timeout_ms, start_ms));
	if ((rv = req_start(r, &call, ctx, false)) != 0) {
		goto out;
	}
	if ((nrv = req_finish(r, &call)) != 0) {
		rv = note_nng_error(&r->ep, "receive reply", nrv);
		goto out;
	}
	msg = nng_aio_get_msg(call.aio);
	td_counter_inc(r->ep.received);
	td_histogram_observe(r->latency, (double)(td_clock_now_ns() - start_ns) / 1e9);
	td_error_clear(&err);
	if (td_bus_envelope_decode(nng_msg_body(msg), nng_msg_len(msg), reply, &err) != 0) {
		note_decode_error(&r->ep, err.msg);
		rv = TD_EPROTO;
		goto out;
	}
	rv = 0;
out:
	if (msg != NULL) {
		nng_msg_free(msg);
	}
	if (call.aio != NULL) {
		nng_aio_free(call.aio);
	}
	if (ctx_open) {
		nng_ctx_close(ctx);
	}
	req_leave(r, &call);
	return rv;
}

void
td_bus_req_close(td_bus_req *r)
{
	if (r == NULL) {
		return;
	}
	pthread_mutex_lock(&r->mtx);
	r->closing = true;
	/* Cancelled calls see NNG_ECANCELED and return TD_ECLOSED. */
	for (struct req_call *c = r->calls; c != NULL; c = c->next) {
		if (c->aio_busy) {
			nng_aio_cancel(c->aio);
		}
	}
	while (r->calls != NULL) {
		pthread_cond_wait(&r->idle, &r->mtx);
	}
	pthread_mutex_unlock(&r->mtx);
	endpoint_close(&r->ep);
	endpoint_fini(&r->ep);
	pthread_cond_destroy(&r->idle);
	pthread_mutex_destroy(&r->mtx);
	free(r);
}

/* ---- PUB ---------------------------------------------------------------------- */

struct td_bus_pub {
	struct endpoint ep;
};

int
td_bus_pub_open(td_bus_pub **out, const char *name, const char *url, td_error *err)
{
	td_bus_pub *p;
	int rv;

	if (out == NULL) {
		return td_error_set(err, TD_EINVAL, "td_bus_pub_open: missing argument");
	}
	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		return td_error_set(err, TD_ENOMEM, "bus: out of memory");
	}
	if ((rv = endpoint_init(&p->ep, name, err)) != 0 ||
	    (rv = endpoint_open(&p->ep, nng_pub0_open, err)) != 0 ||
	    (rv = endpoint_connect(&p->ep, url, true, err)) != 0) {
		td_bus_pub_close(p);
		return rv;
	}
	*out = p;
	return 0;
}

/* Borrows payload. */
int
td_bus_publish(td_bus_pub *p, int type, const uint8_t *payload, size_t len, const char *trace_id)
{
	nng_msg *msg = NULL;
	int rv;

	if (p == NULL) {
		return TD_EINVAL;
	}
	if ((rv = envelope_msg(type, payload, len, trace_id, &msg)) != 0) {
		return rv;
	}
	/* PUB drops for slow subscribers instead of blocking; NONBLOCK makes sure. */
	if ((rv = nng_sendmsg(p->ep.sock, msg, NNG_FLAG_NONBLOCK)) != 0) {
		nng_msg_free(msg);
		return note_nng_error(&p->ep, "publish", rv);
	}
	td_counter_inc(p->ep.sent);
	return 0;
}

int
td_bus_pub_peers(const td_bus_pub *p)
{
	return p != NULL ? atomic_load(&p->ep.npeers) : 0;
}

void
td_bus_pub_close(td_bus_pub *p)
{
	if (p == NULL) {
		return;
	}
	endpoint_close(&p->ep);
	endpoint_fini(&p->ep);
	free(p);
}

/* ---- SUB ---------------------------------------------------------------------- */

struct td_bus_sub {
	struct endpoint ep;
	td_bus_sub_fn fn;
	void *arg;
	pthread_t thread;
	bool started;
	nng_aio *aio;
	pthread_mutex_t mtx; /* orders `closing` against starting a receive */
	bool closing;
};

static void *
sub_main(void *arg)
{
	td_bus_sub *s = arg;
	td_envelope *env;
	nng_msg *msg;
	td_error err;
	int rv;

	for (;;) {
		pthread_mutex_lock(&s->mtx);
		if (s->closing) {
			pthread_mutex_unlock(&s->mtx);
			break;
		}
		nng_recv_aio(s->ep.sock, s->aio);
		pthread_mutex_unlock(&s->mtx);

		nng_aio_wait(s->aio);
		if ((rv = nng_aio_result(s->aio)) != 0) {
			if (rv != NNG_ECANCELED && rv != NNG_ECLOSED) {
				note_nng_error(&s->ep, "receive", rv);
				nng_msleep(ERROR_PAUSE_MS);
			}
			continue; /* the loop head sees `closing` */
		}
		msg = nng_aio_get_msg(s->aio);
		td_counter_inc(s->ep.received);
		td_error_clear(&err);
		rv = td_bus_envelope_decode(nng_msg_body(msg), nng_msg_len(msg), &env, &err);
		nng_msg_free(msg);
		if (rv != 0) {
			note_decode_error(&s->ep, err.msg);
			continue;
		}
		s->fn(s->arg, env);
		td_bus_envelope_free(env);
	}
	return NULL;
}

int
td_bus_sub_open(td_bus_sub **out, const char *name, const char *url, td_bus_sub_fn fn, void *arg,
    td_error *err)
{
	td_bus_sub *s = NULL;
	int rv, nrv;

	if (out == NULL || fn == NULL) {
		return td_error_set(err, TD_EINVAL, "td_bus_sub_open: missing argument");
	}
	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		return td_error_set(err, TD_ENOMEM, "bus: out of memory");
	}
	pthread_mutex_init(&s->mtx, NULL);
	s->fn = fn;
	s->arg = arg;
	if ((rv = endpoint_init(&s->ep, name, err)) != 0 ||
	    (rv = endpoint_open(&s->ep, nng_sub0_open, err)) != 0) {
		goto out;
	}
	if ((nrv = nng_socket_set(s->ep.sock, NNG_OPT_SUB_SUBSCRIBE, "", 0)) != 0 ||
	    (nrv = nng_aio_alloc(&s->aio, NULL, NULL)) != 0) {
		rv = td_error_set(err, map_nng_error(nrv), "bus socket %s: cannot subscribe: %s",
		    s->ep.name, nng_strerror(nrv));
		goto out;
	}
	if ((nrv = pthread_create(&s->thread, NULL, sub_main, s)) != 0) {
		rv = td_error_set(err, TD_EIO, "bus socket %s: cannot start thread: %s", s->ep.name,
		    strerror(nrv));
		goto out;
	}
	s->started = true;
	if ((rv = endpoint_connect(&s->ep, url, false, err)) != 0) {
		goto out;
	}
	*out = s;
out:
	if (rv != 0) {
		td_bus_sub_close(s);
	}
	return rv;
}

int
td_bus_sub_peers(const td_bus_sub *s)
{
	return s != NULL ? atomic_load(&s->ep.npeers) : 0;
}

void
td_bus_sub_close(td_bus_sub *s)
{
	if (s == NULL) {
		return;
	}
	pthread_mutex_lock(&s->mtx);
	s->closing = true;
	if (s->aio != NULL) {
		nng_aio_cancel(s->aio);
	}
	pthread_mutex_unlock(&s->mtx);
	/* A callback in progress finishes first. */
	if (s->started) {
		pthread_join(s->thread, NULL);
	}
	endpoint_close(&s->ep);
	if (s->aio != NULL) {
		nng_aio_free(s->aio);
	}
	endpoint_fini(&s->ep);
	pthread_mutex_destroy(&s->mtx);
	free(s);
}
