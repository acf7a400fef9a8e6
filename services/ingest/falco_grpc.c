/* falco_grpc.c — every grpc core call of ingest (see falco_grpc.h). */
#include "falco_grpc.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "tfdrift/cloudtrail_record.h"
#include "falco/outputs.pb-c.h"
#include "falco/version.pb-c.h"
#include "tfdrift/falco_alert.h"
#include "falco_missing.h"
#include "tfdrift/falco_response.h"
#include "tfdrift/clock.h"
#include "tfdrift/file.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

/* How often the loop wakes to check for a stop and the poll interval. */
#define TICK_MS 50
/* A drain is over when no alert came for this long: then the alerts of the
 * drain go to the journal as one entry and the next request is sent. */
#define DRAIN_IDLE_MS 2
/* At most this many alerts per journal entry. */
#define PEND_MAX 512
#define VERSION_DEADLINE_MS 5000
/* The sub stream's receive window (HTTP/2 flow control). */
#define STREAM_WINDOW_BYTES (4 * 1024 * 1024)
/* A stream that lived this long counts as healthy: the backoff starts over. */
#define HEALTHY_MS 10000

/* Tags: what completed on the queue. */
enum tag {
	T_START = 1,
	T_STATUS,
	T_SEND,
	T_RECV,
	T_VERSION
};

/* Unpacking a response allocates for every map entry and string; all of it
 * comes from this arena and goes at once when the response has been mapped
 * (a few bump allocations instead of ~50 malloc/free pairs per alert). */
typedef struct arena_chunk {
	struct arena_chunk *next;
	size_t cap, used;
	max_align_t data[];
} arena_chunk;

#define ARENA_CHUNK_BYTES ((size_t)64 * 1024)

typedef struct arena {
	arena_chunk *head; /* the chunk allocations come from; its next are older ones */
} arena;

struct falco_grpc {
	hand *hand;
	falco_grpc_opts o;
	char *target, *ca, *cert, *key; /* PEM text */
	pthread_t thread;
	bool started;
	atomic_bool stopping;
	td_gauge *g_connected, *g_age;
	td_counter *c_alerts, *c_reconnects, *c_rejected;
	int64_t last_alert_ms; /* monotonic; 0 none yet */
	/* alerts of the current drain not yet journaled, already encoded as a
	 * CloudEventBatch (each event packed as it is mapped, then freed) */
	uint8_t *pend;
	size_t pend_len, pend_cap, npend;
	arena arena;            /* the current response's memory (client thread only) */
	falco_missing *missing; /* alerts lacking fields: counted and logged */
};

static void *
arena_alloc(void *data, size_t n)
{
	arena *a = data;
	arena_chunk *c = a->head;
	size_t units = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t);

	if (c == NULL || c->cap - c->used < units) {
		size_t cap = ARENA_CHUNK_BYTES / sizeof(max_align_t);
		if (cap < units)
			cap = units;
		c = malloc(sizeof(*c) + cap * sizeof(max_align_t));
		if (c == NULL)
			return NULL;
		c->cap = cap;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	c->used += units;
	return &c->data[c->used - units];
}

static void
arena_free(void *data, void *p)
{
	(void)data; /* everything goes in arena_reset */
	(void)p;
}

/* Forgets every allocation; keeps one chunk for the next response. */
static void
arena_reset(arena *a)
{
	arena_chunk *keep = a->head;

	if (keep == NULL)
		return;
	while (keep->next != NULL) {
		arena_chunk *old = keep->next;
		keep->next = old->next;
		free(old);
	}
	keep->used = 0;
}

static void
arena_destroy(arena *a)
{
	arena_reset(a);
	free(a->head);
	a->head = NULL;
}

static void *
tagp(enum tag t)
{
	return (void *)(intptr_t)t;
}

static gpr_timespec
after_ms(int64_t ms)
{
	return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

static int
read_pem(const char *path, char **out, td_error *err)
{
	*out = NULL;
	if (path == NULL || path[0] == '\0')
		return 0;
	return td_file_read(path, 0, out, NULL, err);
}

/* A byte buffer holding msg packed; owned by the caller (grpc_byte_buffer_destroy). */
static grpc_byte_buffer *
pack_buffer(const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	grpc_slice s = grpc_slice_malloc(len);
	grpc_byte_buffer *bb;

	protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
	bb = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	return bb;
}

/* The bytes of bb in one malloc'd buffer (*len); owned by the caller. */
static uint8_t *
buffer_bytes(grpc_byte_buffer *bb, size_t *len)
{
	grpc_byte_buffer_reader rd;
	grpc_slice s;
	uint8_t *out;

	*len = 0;
	if (!grpc_byte_buffer_reader_init(&rd, bb))
		return NULL;
	s = grpc_byte_buffer_reader_readall(&rd);
	grpc_byte_buffer_reader_destroy(&rd);
	*len = GRPC_SLICE_LENGTH(s);
	out = malloc(*len ? *len : 1);
	if (out != NULL && *len > 0)
		memcpy(out, GRPC_SLICE_START_PTR(s), *len);
	grpc_slice_unref(s);
	return out;
}

static grpc_arg
int_arg(const char *key, int v)
{
	grpc_arg a;

	memset(&a, 0, sizeof(a));
	a.type = GRPC_ARG_INTEGER;
	a.key = (char *)key; /* grpc does not write through it */
	a.value.integer = v;
	return a;
}

static grpc_channel *
make_channel(falco_grpc *c)
{
	grpc_channel_credentials *creds;
	grpc_arg args[8];
	grpc_channel_args ca;
	grpc_channel *ch;
	int n = 0;

	if (c->ca != NULL) {
		grpc_ssl_pem_key_cert_pair pair = { .private_key = c->key, .cert_chain = c->cert };
		creds = grpc_ssl_credentials_create(c->ca, c->cert != NULL ? &pair : NULL, NULL,
		    NULL);
	} else {
		creds = grpc_insecure_credentials_create();
	}
	args[n++] = int_arg(GRPC_ARG_KEEPALIVE_TIME_MS, c->o.keepalive_ms);
	args[n++] = int_arg(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
	args[n++] = int_arg(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
	/* a quiet stream needs pings without data, else they stop after two */
	args[n++] = int_arg(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
	/* a message larger than this fails the stream (logged, reconnected)
	 * instead of being buffered whole */
	args[n++] = int_arg(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, c->o.max_message);
	/* a drain is a burst of many small messages: a large stream window lets
	 * Falco write it without waiting for window updates */
	args[n++] = int_arg(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, STREAM_WINDOW_BYTES);
	args[n++] = int_arg(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, c->o.backoff_initial_ms);
	args[n++] = int_arg(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, c->o.backoff_max_ms);
	ca = (grpc_channel_args){ .num_args = (size_t)n, .args = args };
	ch = grpc_channel_create(c->target, creds, &ca);
	grpc_channel_credentials_release(creds);
	return ch;
}

/* Waits for tag `want` on cq (other tags are ignored: none are outstanding). */
static bool
wait_tag(grpc_completion_queue *cq, enum tag want, gpr_timespec deadline)
{
	for (;;) {
		grpc_event ev = grpc_completion_queue_next(cq, deadline, NULL);
		if (ev.type == GRPC_QUEUE_TIMEOUT || ev.type == GRPC_QUEUE_SHUTDOWN)
			return false;
		if (ev.tag == tagp(want))
			return ev.success != 0;
	}
}

static void
log_status(const char *what, const falco_grpc *c, grpc_status_code st, grpc_slice details,
    const char *error_string)
{
	char *d = grpc_slice_to_c_string(details);
	TD_WARN(what, TD_KV_STR("target", c->target), TD_KV_INT("grpc_status", st),
	    TD_KV_STR("details", d ? d : ""), TD_KV_STR("error", error_string ? error_string : ""));
	gpr_free(d);
}

/* /falco.version.service/version; true when Falco answered. */
static bool
call_version(falco_grpc *c, grpc_channel *ch, grpc_completion_queue *cq)
{
	Falco__Version__Request req = FALCO__VERSION__REQUEST__INIT;
	grpc_byte_buffer *out = pack_buffer(&req.base), *in = NULL;
	grpc_metadata_array md_init, md_trail;
	grpc_status_code st = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice();
	const char *error_string = NULL;
	grpc_op ops[6];
	grpc_call *call;
	bool ok = false;

	grpc_metadata_array_init(&md_init);
	grpc_metadata_array_init(&md_trail);
	call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
	    grpc_slice_from_static_string("/falco.version.service/version"), NULL,
	    after_ms(VERSION_DEADLINE_MS), NULL);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = out;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &md_init;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &in;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &md_trail;
	ops[5].data.recv_status_on_client.status = &st;
	ops[5].data.recv_status_on_client.status_details = &details;
	ops[5].data.recv_status_on_client.error_string = &error_string;
	if (grpc_call_start_batch(call, ops, 6, tagp(T_VERSION), NULL) == GRPC_CALL_OK)
		(void)wait_tag(cq, T_VERSION, gpr_inf_future(GPR_CLOCK_REALTIME));
	if (st == GRPC_STATUS_OK && in != NULL) {
		size_t len;
		uint8_t *bytes = buffer_bytes(in, &len);
		Falco__Version__Response *v = bytes
		    ? falco__version__response__unpack(NULL, len, bytes)
		    : NULL;
		if (v != NULL) {
			TD_INFO("connected to Falco", TD_KV_STR("target", c->target),
			    TD_KV_STR("falco_version", v->version),
			    TD_KV_STR("engine_version", v->engine_version));
			falco__version__response__free_unpacked(v, NULL);
			ok = true;
		}
		free(bytes);
	}
	if (!ok)
		log_status(
		    "falco grpc: version call failed (check the target, TLS certificates and that Falco's grpc output is enabled)",
		    c, st, details, error_string);
	if (in != NULL)
		grpc_byte_buffer_destroy(in);
	grpc_byte_buffer_destroy(out);
	grpc_slice_unref(details);
	gpr_free((void *)error_string);
	grpc_metadata_array_destroy(&md_init);
	grpc_metadata_array_destroy(&md_trail);
	grpc_call_unref(call);
	return ok;
}

/* Journals the pending alerts as one entry (waiting while the journal is
 * full: Falco gets no request meanwhile).  false on a stop. */
static bool
flush_pending(falco_grpc *c)
{
	bool keep_going = true;
	int rv;

	if (c->npend == 0)
		return true;
	while ((rv = hand_submit(c->hand, c->pend, c->pend_len, NULL, NULL)) == TD_EBUSY) {
		if (atomic_load(&c->stopping) || hand_wait_space(c->hand, 200) == TD_ECLOSED)
			break;
	}
	if (rv == TD_ECLOSED || (rv == TD_EBUSY && atomic_load(&c->stopping)))
		keep_going = false;
	else if (rv != 0)
		TD_ERROR("falco grpc: the journal cannot take alerts",
		    TD_KV_STR("error", td_strerror(rv)), TD_KV_UINT("alerts", c->npend));
	c->npend = 0;
	c->pend_len = 0;
	return keep_going;
}

/* Appends ev to the pending batch as CloudEventBatch field 1 (tag, length,
 * the event), so the batch is never held as structs.  TD_ENOMEM. */
static int
pend_event(falco_grpc *c, const Tfdrift__V1__CloudEvent *ev)
{
	size_t len = tfdrift__v1__cloud_event__get_packed_size(ev);
	size_t need = c->pend_len + 1 + 10 + len;
	uint8_t *p;

	if (need > c->pend_cap) {
		size_t cap = c->pend_cap ? c->pend_cap : 256 * 1024;
		uint8_t *np;
		while (cap < need)
			cap *= 2;
		np = realloc(c->pend, cap);
		if (np == NULL)
			return TD_ENOMEM;
		c->pend = np;
		c->pend_cap = cap;
	}
	p = c->pend + c->pend_len;
	*p++ = 0x0a; /* field 1, length-delimited */
	for (size_t v = len;; v >>= 7) {
		if (v < 0x80) {
			*p++ = (uint8_t)v;
			break;
		}
		*p++ = (uint8_t)(v | 0x80);
	}
	p += tfdrift__v1__cloud_event__pack(ev, p);
	c->pend_len = (size_t)(p - c->pend);
	c->npend++;
	return 0;
}

/* Maps one alert (a: the arena's) and adds it to the drain's pending alerts.
 * false on a stop. */
static bool
take_alert(falco_grpc *c, const falco_alert_fields *a, ProtobufCAllocator *alloc)
{
	Tfdrift__V1__CloudEvent *ev = NULL;
	td_error err;
	bool keep_going = true;
	int rv;

	td_error_clear(&err);
	td_counter_inc(c->c_alerts);
	c->last_alert_ms = td_clock_mono_ms();
	rv = falco_alert_from_fields(a, TFDRIFT__V1__EVENT_ORIGIN__EVENT_ORIGIN_FALCO_GRPC,
	    c->target, alloc, &ev, &err);
	if (rv != 0) {
		td_counter_inc(c->c_rejected);
		if (rv != FALCO_ALERT_OTHER_SOURCE)
			TD_WARN("falco grpc: alert does not map to a CloudEvent; dropped",
			    TD_KV_STR("rule", a->rule), TD_KV_STR("error", err.msg));
		return true;
	}
	falco_missing_note(c->missing, ev);
	if (pend_event(c, ev) != 0)
		TD_ERROR("falco grpc: out of memory; alert dropped", TD_KV_STR("rule", a->rule));
	/* ev is the arena's: it goes with the response */
	if (c->npend == PEND_MAX)
		keep_going = flush_pending(c);
	return keep_going;
}

/* Decodes a received message (falco_response.c, into the arena) and maps it.
 * false on a stop. */
static bool
take_message(falco_grpc *c, grpc_byte_buffer *bb)
{
	ProtobufCAllocator alloc;
	grpc_byte_buffer_reader rd;
	falco_alert_fields a;
	grpc_slice s = grpc_empty_slice();
	bool keep_going = true;
	int rv = TD_EINVAL;

	alloc.alloc = arena_alloc;
	alloc.free = arena_free;
	alloc.allocator_data = &c->arena;
	/* one contiguous slice (a reference when the message came in one) */
	if (grpc_byte_buffer_reader_init(&rd, bb)) {
		s = grpc_byte_buffer_reader_readall(&rd);
		grpc_byte_buffer_reader_destroy(&rd);
		rv = falco_response_decode(GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s), &alloc,
		    &a);
	}
	if (rv != 0) {
		td_counter_inc(c->c_rejected);
		TD_WARN("falco grpc: a response does not decode",
		    TD_KV_UINT("bytes", GRPC_SLICE_LENGTH(s)), TD_KV_STR("error", td_strerror(rv)));
	} else {
		keep_going = take_alert(c, &a, &alloc);
	}
	grpc_slice_unref(s);
	arena_reset(&c->arena);
	return keep_going;
}

/* One sub stream (a call of falco.outputs.service/sub) and where it is.
 * Operations in flight: start (initial metadata), status (the call's end),
 * send (a request), recv (the next message).  Phase: ending (no new
 * operations: the stream is over, or failed), cancelled (grpc_call_cancel
 * sent), draining (messages arrived since the last request: Falco is
 * writing its queue). */
typedef struct stream {
	grpc_call *call;
	grpc_metadata_array md_init, md_trail;
	grpc_status_code st;
	grpc_slice details;
	const char *error_string;
	grpc_byte_buffer *send_bb, *recv_bb;
	bool start_busy, status_done, send_busy, recv_busy;
	bool ending, cancelled, draining, connected, got_alerts;
	int64_t last_request; /* monotonic ms; 0: ask at once */
} stream;

/* Starts the call: initial metadata, and the status that ends it. */
static void
stream_open(stream *s, grpc_channel *ch, grpc_completion_queue *cq)
{
	grpc_op op[2];

	*s = (stream){ .st = GRPC_STATUS_UNKNOWN, .details = grpc_empty_slice() };
	grpc_metadata_array_init(&s->md_init);
	grpc_metadata_array_init(&s->md_trail);
	s->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
	    grpc_slice_from_static_string("/falco.outputs.service/sub"), NULL,
	    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	memset(op, 0, sizeof(op));
	op[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	op[1].op = GRPC_OP_RECV_INITIAL_METADATA;
	op[1].data.recv_initial_metadata.recv_initial_metadata = &s->md_init;
	s->start_busy = grpc_call_start_batch(s->call, op, 2, tagp(T_START), NULL) == GRPC_CALL_OK;
	memset(op, 0, sizeof(op));
	op[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	op[0].data.recv_status_on_client.trailing_metadata = &s->md_trail;
	op[0].data.recv_status_on_client.status = &s->st;
	op[0].data.recv_status_on_client.status_details = &s->details;
	op[0].data.recv_status_on_client.error_string = &s->error_string;
	if (grpc_call_start_batch(s->call, op, 1, tagp(T_STATUS), NULL) != GRPC_CALL_OK)
		s->status_done = true;
}

static bool
stream_busy(const stream *s)
{
	return !s->status_done || s->send_busy || s->recv_busy || s->start_busy;
}

static void
stream_cancel(stream *s)
{
	if (!s->cancelled) {
		grpc_call_cancel(s->call, NULL);
		s->cancelled = true;
	}
}

/* A request starts a drain: at once, after each drain, on the interval. */
static void
stream_request(falco_grpc *c, stream *s, int64_t now)
{
	Falco__Outputs__Request req = FALCO__OUTPUTS__REQUEST__INIT;
	grpc_op op[1];

	if (s->ending || s->cancelled || s->send_busy ||
	    (s->last_request != 0 && now - s->last_request < c->o.poll_interval_ms))
		return;
	s->send_bb = pack_buffer(&req.base);
	memset(op, 0, sizeof(op));
	op[0].op = GRPC_OP_SEND_MESSAGE;
	op[0].data.send_message.send_message = s->send_bb;
	if (grpc_call_start_batch(s->call, op, 1, tagp(T_SEND), NULL) == GRPC_CALL_OK) {
		s->send_busy = true;
		s->last_request = now;
	} else {
		grpc_byte_buffer_destroy(s->send_bb);
		s->send_bb = NULL;
	}
}

/* Asks for the next message; false when the call takes no more operations. */
static bool
stream_recv(stream *s)
{
	grpc_op op[1];

	memset(op, 0, sizeof(op));
	op[0].op = GRPC_OP_RECV_MESSAGE;
	op[0].data.recv_message.recv_message = &s->recv_bb;
	s->recv_busy = grpc_call_start_batch(s->call, op, 1, tagp(T_RECV), NULL) == GRPC_CALL_OK;
	return s->recv_busy;
}

/* A message arrived (or the stream ended: got NULL). */
static void
stream_on_message(falco_grpc *c, stream *s, bool success)
{
	grpc_byte_buffer *got = s->recv_bb;

	s->recv_busy = false;
	s->recv_bb = NULL;
	if (!success || got == NULL) {
		s->ending = true; /* end of stream: the status follows */
		return;
	}
	/* ask for the next message first: it can arrive while this one is mapped */
	if (!s->ending && !s->cancelled)
		stream_recv(s);
	s->got_alerts = true;
	if (!take_message(c, got))
		stream_cancel(s);
	grpc_byte_buffer_destroy(got);
	/* the next request once this drain is over */
	s->draining = true;
}

/* One completed operation. */
static void
stream_on_event(falco_grpc *c, stream *s, const grpc_event *ev)
{
	switch ((enum tag)(intptr_t)ev->tag) {
	case T_START:
		s->start_busy = false;
		if (ev->success && !s->connected) {
			s->connected = true;
			td_gauge_set(c->g_connected, 1);
		}
		break;
	case T_STATUS:
		s->status_done = true;
		s->ending = true;
		break;
	case T_SEND:
		s->send_busy = false;
		grpc_byte_buffer_destroy(s->send_bb);
		s->send_bb = NULL;
		if (!ev->success)
			s->ending = true;
		break;
	case T_RECV: stream_on_message(c, s, ev->success != 0); break;
	default: break;
	}
}

/* After the last operation completed: what is pending goes to the journal,
 * the end is logged, the call freed. */
static void
stream_close(falco_grpc *c, stream *s)
{
	flush_pending(c);
	td_gauge_set(c->g_connected, 0);
	if (!atomic_load(&c->stopping))
		log_status("falco grpc: the sub stream ended; reconnecting", c, s->st, s->details,
		    s->error_string);
	grpc_slice_unref(s->details);
	gpr_free((void *)s->error_string);
	grpc_metadata_array_destroy(&s->md_init);
	grpc_metadata_array_destroy(&s->md_trail);
	grpc_call_unref(s->call);
}

/* One sub stream on ch until it ends or a stop.  true if alerts arrived. */
static bool
run_stream(falco_grpc *c, grpc_channel *ch, grpc_completion_queue *cq)
{
	stream s;

	stream_open(&s, ch, cq);
	while (stream_busy(&s)) {
		int64_t now = td_clock_mono_ms();
		grpc_event ev;

		if (!s.ending && atomic_load(&c->stopping))
			stream_cancel(&s);
		td_gauge_set(c->g_age,
		    c->last_alert_ms ? (double)(now - c->last_alert_ms) / 1000.0 : -1.0);
		stream_request(c, &s, now);
		if (!s.ending && !s.recv_busy && !stream_recv(&s))
			s.ending = true;
		ev = grpc_completion_queue_next(cq, after_ms(s.draining ? DRAIN_IDLE_MS : TICK_MS),
		    NULL);
		if (ev.type == GRPC_QUEUE_TIMEOUT && s.draining) {
			/* Falco wrote its whole queue: journal it, ask for the next */
			s.draining = false;
			if (!flush_pending(c))
				stream_cancel(&s);
			s.last_request = 0;
		}
		if (ev.type == GRPC_OP_COMPLETE)
			stream_on_event(c, &s, &ev);
	}
	stream_close(c, &s);
	return s.got_alerts;
}

static void
drain_and_destroy(grpc_completion_queue *cq)
{
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
	    GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
}

/* Sleeps ms in ticks; false if a stop came. */
static bool
pause_ms(falco_grpc *c, int64_t ms)
{
	int64_t end = td_clock_mono_ms() + ms;
	while (td_clock_mono_ms() < end) {
		struct timespec t = { 0, TICK_MS * 1000000L };
		if (atomic_load(&c->stopping))
			return false;
		nanosleep(&t, NULL);
	}
	return !atomic_load(&c->stopping);
}

static void *
client_thread(void *arg)
{
	falco_grpc *c = arg;
	double backoff = c->o.backoff_initial_ms;
	unsigned seed = (unsigned)td_clock_now_ns();
	bool first = true;

	while (!atomic_load(&c->stopping)) {
		grpc_channel *ch = make_channel(c);
		grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
		int64_t t0 = td_clock_mono_ms();
		bool healthy = false;

		if (!first)
			td_counter_inc(c->c_reconnects);
		first = false;
		if (call_version(c, ch, cq))
			healthy = run_stream(c, ch, cq) || td_clock_mono_ms() - t0 >= HEALTHY_MS;
		drain_and_destroy(cq);
		grpc_channel_destroy(ch);
		if (healthy)
			backoff = c->o.backoff_initial_ms;
		{
			/* +-20 % jitter so many ingests do not reconnect in step */
			double jitter = 0.8 + 0.4 * ((double)rand_r(&seed) / (double)RAND_MAX);
			int64_t wait = (int64_t)(backoff * jitter);
			TD_INFO("falco grpc: reconnecting after a pause",
			    TD_KV_STR("target", c->target), TD_KV_INT("pause_ms", wait));
			if (!pause_ms(c, wait))
				break;
		}
		backoff *= 1.6;
		if (backoff > c->o.backoff_max_ms)
			backoff = c->o.backoff_max_ms;
	}
	return NULL;
}

int
falco_grpc_start(falco_grpc **out, const falco_grpc_opts *o, hand *h, td_error *err)
{
	falco_grpc *c;
	int rv;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return td_error_set(err, TD_ENOMEM, "out of memory");
	c->hand = h;
	c->o = *o;
	atomic_init(&c->stopping, false);
	c->target = strdup(o->target);
	if (c->target == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rv = read_pem(o->tls_ca, &c->ca, err)) != 0 ||
	    (rv = read_pem(o->tls_cert, &c->cert, err)) != 0 ||
	    (rv = read_pem(o->tls_key, &c->key, err)) != 0)
		goto fail;
	if ((c->cert == NULL) != (c->key == NULL)) {
		rv = td_error_set(err, TD_EINVAL,
		    "ingest.grpc_tls_cert and ingest.grpc_tls_key go together");
		goto fail;
	}
	if (c->cert != NULL && c->ca == NULL) {
		rv = td_error_set(err, TD_EINVAL, "ingest.grpc_tls_cert needs ingest.grpc_tls_ca");
		goto fail;
	}
	if (c->ca == NULL && strncmp(o->target, "unix:", 5) != 0 &&
	    strncmp(o->target, "unix-abstract:", 14) != 0) {
		if (!o->insecure) {
			rv = td_error_set(err, TD_EINVAL,
			    "ingest.grpc_target: '%s' is a network address and ingest.grpc_tls_ca is "
			    "empty: set grpc_tls_ca (and grpc_tls_cert/key; Falco requires mTLS on "
			    "network addresses), use a unix:// socket, or set ingest.grpc_insecure: "
			    "true to accept plaintext",
			    o->target);
			goto fail;
		}
		TD_WARN("falco grpc: plaintext over the network (ingest.grpc_insecure is true): "
			"alerts can be read and forged on the way",
		    TD_KV_STR("target", o->target));
	}
	c->g_connected = td_gauge_get("tfdrift_ingest_falco_grpc_connected",
	    "1 while the Falco gRPC sub stream is open.", NULL);
	c->g_age = td_gauge_get("tfdrift_ingest_falco_grpc_last_alert_age_seconds",
	    "Seconds since the last alert came over gRPC; -1 before the first.", NULL);
	c->c_alerts = td_counter_get("tfdrift_ingest_falco_grpc_alerts_total",
	    "Alerts received on the Falco gRPC stream.", NULL);
	c->c_reconnects = td_counter_get("tfdrift_ingest_falco_grpc_reconnects_total",
	    "New Falco gRPC connections after a failure.", NULL);
	c->c_rejected = td_counter_get("tfdrift_ingest_falco_grpc_rejected_total",
	    "gRPC alerts dropped: not aws_cloudtrail, or not mappable to a CloudEvent.", NULL);
	td_gauge_set(c->g_age, -1);
	if (falco_missing_open(&c->missing, "grpc") != 0) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto fail;
	}
	grpc_init();
	if (pthread_create(&c->thread, NULL, client_thread, c) != 0) {
		grpc_shutdown();
		rv = td_error_set(err, TD_EIO, "cannot start the falco grpc thread");
		goto fail;
	}
	c->started = true;
	*out = c;
	return 0;
fail:
	falco_grpc_stop(c);
	return rv;
}

void
falco_grpc_stop(falco_grpc *c)
{
	if (c == NULL)
		return;
	atomic_store(&c->stopping, true);
	if (c->started) {
		pthread_join(c->thread, NULL);
		grpc_shutdown();
	}
	arena_destroy(&c->arena);
	falco_missing_close(c->missing);
	free(c->pend);
	free(c->target);
	free(c->ca);
	free(c->cert);
	free(c->key);
	free(c);
}
