/* test_bus.c — envelopes, REQ/REP, PUB/SUB over real NNG sockets on 127.0.0.1.
 *
 * Waits for connections are bounded (WAIT_CAP_MS) and then asserted, so a
 * broken bus fails the test instead of hanging it; nothing asserts on speed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "tfdrift/bus.h"
#include "tfdrift/clock.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

enum {
	WAIT_CAP_MS = 30000,
	LONG_MS = 30000
};

#define TYPE_BATCH TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_CLOUD_EVENT_BATCH
#define TYPE_ACK TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ACK

/* Polls cond every 10 ms for at most WAIT_CAP_MS; the caller asserts cond after. */
#define WAIT_UNTIL(cond)                                                         \
	do {                                                                     \
		int64_t wait_t0_ = td_clock_mono_ms();                           \
		while (!(cond) && td_clock_mono_ms() - wait_t0_ < WAIT_CAP_MS) { \
			nng_msleep(10);                                          \
		}                                                                \
	} while (0)

/* ---- helpers -------------------------------------------------------------- */

/* A TCP URL on a port the kernel just handed out (bind to port 0). */
static void
free_url(char *buf, size_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &slen), 0);
	snprintf(buf, len, "tcp://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
	close(fd);
}

static uint64_t
counter(const char *name, const char *sock)
{
	char labels[128];

	snprintf(labels, sizeof(labels), "socket=\"%s\"", sock);
	return td_counter_value(td_counter_get(name, "test", labels));
}

static bool
payload_is(const td_envelope *env, const char *text)
{
	return env->payload.len == strlen(text) &&
	    memcmp(env->payload.data, text, env->payload.len) == 0;
}

/* Packs a hand-made envelope (fields the bus itself would never write); *out malloc'd. */
static void
pack_raw(int type, uint32_t schema, const char *msgid, const char *payload, uint8_t **out,
    size_t *len)
{
	Tfdrift__V1__Envelope env = TFDRIFT__V1__ENVELOPE__INIT;

	env.type = (Tfdrift__V1__MessageType)type;
	env.schema_version = schema;
	env.message_id = (char *)msgid;
	env.trace_id = (char *)"trace";
	env.payload.data = (uint8_t *)payload;
	env.payload.len = strlen(payload);
	*len = tfdrift__v1__envelope__get_packed_size(&env);
	*out = malloc(*len);
	assert_non_null(*out);
	tfdrift__v1__envelope__pack(&env, *out);
}

/* Unpacks the Ack inside an envelope; free with tfdrift__v1__ack__free_unpacked. */
static Tfdrift__V1__Ack *
ack_of(const td_envelope *env)
{
	assert_int_equal(env->type, TYPE_ACK);
	return tfdrift__v1__ack__unpack(NULL, env->payload.len, env->payload.data);
}

/* Echo handler: answers with the request's type and payload. */
struct echo {
	atomic_int calls;
	atomic_int active;
	atomic_int max_active;
	int delay_ms;
};

static int
echo_handler(void *arg, const td_envelope *req, td_bus_reply *reply)
{
	struct echo *e = arg;
	int now = atomic_fetch_add(&e->active, 1) + 1;
	int max = atomic_load(&e->max_active);

	while (now > max && !atomic_compare_exchange_weak(&e->max_active, &max, now)) {
	}
	atomic_fetch_add(&e->calls, 1);
	if (e->delay_ms > 0) {
		nng_msleep(e->delay_ms);
	}
	reply->type = (int)req->type;
	reply->len = req->payload.len;
	reply->payload = malloc(req->payload.len + 1);
	memcpy(reply->payload, req->payload.data, req->payload.len);
	atomic_fetch_sub(&e->active, 1);
	return 0;
}

static td_bus_rep *
start_rep(const char *name, const char *url, bool listen, int workers, td_bus_handler fn, void *arg)
{
	td_bus_rep_opts o = { .name = name,
		.url = url,
		.listen = listen,
		.workers = workers,
		.handler = fn,
		.arg = arg };
	td_bus_rep *r = NULL;
	td_error err;

	td_error_clear(&err);
	assert_int_equal(td_bus_rep_start(&r, &o, &err), 0);
	assert_non_null(r);
	return r;
}

static td_bus_req *
open_req(const char *name, const char *url, bool listen, int resend_ms)
{
	td_bus_req *q = NULL;
	td_error err;

	assert_int_equal(td_bus_req_open(&q, name, url, listen, resend_ms, &err), 0);
	return q;
}

/* ---- envelopes ---------------------------------------------------------------- */

static void
test_envelope_roundtrip(void **state)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	td_envelope *env = NULL;
	td_error err;
	char host[128];
	int64_t before = td_clock_now_ns();

	(void)state;
	assert_int_equal(td_bus_envelope_encode(TYPE_BATCH, (const uint8_t *)"abc", 3, "trace-1",
			     &buf, &len),
	    0);
	assert_int_equal(td_bus_envelope_decode(buf, len, &env, &err), 0);
	assert_int_equal(env->type, TYPE_BATCH);
	assert_int_equal(env->schema_version, TFDRIFT__V1__SCHEMA_VERSION__SCHEMA_VERSION_CURRENT);
	assert_int_equal(strlen(env->message_id), 32);
	assert_string_equal(env->trace_id, "trace-1");
	assert_true(env->produced_at_ns >= before);
	assert_true(payload_is(env, "abc"));
	gethostname(host, sizeof(host));
	assert_non_null(strstr(env->producer, host));
	assert_non_null(strchr(env->producer, '/'));
	td_bus_envelope_free(env);
	free(buf);

	/* no trace given: a fresh one; two messages never share an id */
	{
		td_envelope *a = NULL, *b = NULL;
		uint8_t *b1 = NULL, *b2 = NULL;
		size_t l1, l2;

		assert_int_equal(td_bus_envelope_encode(TYPE_ACK, NULL, 0, NULL, &b1, &l1), 0);
		assert_int_equal(td_bus_envelope_encode(TYPE_ACK, NULL, 0, NULL, &b2, &l2), 0);
		assert_int_equal(td_bus_envelope_decode(b1, l1, &a, &err), 0);
		assert_int_equal(td_bus_envelope_decode(b2, l2, &b, &err), 0);
		assert_int_equal(strlen(a->trace_id), 32);
		assert_string_not_equal(a->message_id, b->message_id);
		assert_string_not_equal(a->trace_id, b->trace_id);
		assert_int_equal(a->payload.len, 0);
		td_bus_envelope_free(a);
		td_bus_envelope_free(b);
		free(b1);
		free(b2);
	}

	assert_int_equal(td_bus_envelope_encode(0, NULL, 0, NULL, &buf, &len), TD_EINVAL);
	assert_int_equal(td_bus_envelope_encode(42, NULL, 0, NULL, &buf, &len), TD_EINVAL);
	assert_null(buf);
}

static void
test_envelope_rejects(void **state)
{
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff };
	static const struct {
		int type;
		uint32_t schema;
		const char *msgid;
		int code;
		const char *words;
	} cases[] = {
		{ 0, 1, "id", TD_EPROTO, "no type" },
		{ 42, 1, "id", TD_EPROTO, "unknown type 42" },
		{ TYPE_BATCH, 99, "id", TD_EUNSUPPORTED, "schema_version 99" },
		{ TYPE_BATCH, 1, "", TD_EPROTO, "message_id" },
	};
	td_envelope *env = (td_envelope *)&env;
	td_error err;

	(void)state;
	assert_int_equal(td_bus_envelope_decode(garbage, sizeof(garbage), &env, &err), TD_EPROTO);
	assert_null(env);
	assert_non_null(strstr(err.msg, "does not decode"));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *buf;
		size_t len;

		pack_raw(cases[i].type, cases[i].schema, cases[i].msgid, "x", &buf, &len);
		td_error_clear(&err);
		assert_int_equal(td_bus_envelope_decode(buf, len, &env, &err), cases[i].code);
		assert_null(env);
		assert_non_null(strstr(err.msg, cases[i].words));
		free(buf);
	}
	/* an older (unversioned) sender is still understood */
	{
		uint8_t *buf;
		size_t len;

		pack_raw(TYPE_BATCH, 0, "id", "x", &buf, &len);
		assert_int_equal(td_bus_envelope_decode(buf, len, &env, &err), 0);
		td_bus_envelope_free(env);
		free(buf);
	}
}

static void
test_ack_encode(void **state)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	Tfdrift__V1__Ack *ack;

	(void)state;
	assert_int_equal(td_bus_ack_encode("m1", TFDRIFT__V1__ACK_STATUS__ACK_STATUS_RETRY, 3, 2, 1,
			     "busy", &buf, &len),
	    0);
	ack = tfdrift__v1__ack__unpack(NULL, len, buf);
	assert_non_null(ack);
	assert_string_equal(ack->message_id, "m1");
	assert_int_equal(ack->status, TFDRIFT__V1__ACK_STATUS__ACK_STATUS_RETRY);
	assert_int_equal(ack->accepted, 3);
	assert_int_equal(ack->duplicates, 2);
	assert_int_equal(ack->produced, 1);
	assert_string_equal(ack->error, "busy");
	tfdrift__v1__ack__free_unpacked(ack, NULL);
	free(buf);
	assert_int_equal(td_bus_ack_encode("m1", 0, 0, 0, 0, NULL, &buf, &len), TD_EINVAL);
	assert_int_equal(td_bus_ack_encode("m1", 77, 0, 0, 0, NULL, &buf, &len), TD_EINVAL);
}

/* ---- REQ/REP ------------------------------------------------------------------ */

static void
test_reqrep_roundtrip(void **state)
{
	char url[64];
	struct echo e = { 0 };
	td_bus_rep *rep;
	td_bus_req *req;
	td_envelope *reply = NULL;
	char labels[64];

	(void)state;
	free_url(url, sizeof(url));
	rep = start_rep("t.rt.rep", url, true, 2, echo_handler, &e);
	req = open_req("t.rt.req", url, false, 10000);
	assert_int_equal(td_bus_request(req, TYPE_BATCH, (const uint8_t *)"hello bus", 9,
			     "trace-rt", LONG_MS, &reply),
	    0);
	assert_int_equal(reply->type, TYPE_BATCH);
	assert_true(payload_is(reply, "hello bus"));
	assert_string_equal(reply->trace_id, "trace-rt");
	td_bus_envelope_free(reply);

	/* the REP counts its reply once NNG took it, which may be after it arrived */
	WAIT_UNTIL(td_bus_rep_peers(rep) == 1 && td_bus_req_peers(req) == 1 &&
	    counter("tfdrift_bus_messages_sent_total", "t.rt.rep") == 1);
	assert_int_equal(td_bus_rep_peers(rep), 1);
	assert_int_equal(td_bus_req_peers(req), 1);
	assert_int_equal(counter("tfdrift_bus_messages_received_total", "t.rt.rep"), 1);
	assert_int_equal(counter("tfdrift_bus_messages_sent_total", "t.rt.rep"), 1);
	assert_int_equal(counter("tfdrift_bus_messages_sent_total", "t.rt.req"), 1);
	assert_int_equal(counter("tfdrift_bus_messages_received_total", "t.rt.req"), 1);
	snprintf(labels, sizeof(labels), "socket=\"t.rt.req\"");
	assert_int_equal(td_histogram_count(
			     td_histogram_get("tfdrift_bus_request_seconds", "test", labels)),
	    1);
	snprintf(labels, sizeof(labels), "socket=\"t.rt.rep\"");
	assert_true(td_gauge_value(td_gauge_get("tfdrift_bus_peers", "test", labels)) == 1.0);

	td_bus_req_close(req);
	WAIT_UNTIL(td_bus_rep_peers(rep) == 0);
	assert_int_equal(td_bus_rep_peers(rep), 0);
	td_bus_rep_stop(rep);
}

/* Handler whose answer depends on the request: "ack" -> nothing (an Ack OK is
 * sent for it), "fail" -> TD_EINVAL (Ack RETRY); records the message_id. */
struct ack_state {
	pthread_mutex_t mtx;
	char last_id[64];
};

static int
ack_handler(void *arg, const td_envelope *req, td_bus_reply *reply)
{
	struct ack_state *s = arg;

	(void)reply;
	pthread_mutex_lock(&s->mtx);
	snprintf(s->last_id, sizeof(s->last_id), "%s", req->message_id);
	pthread_mutex_unlock(&s->mtx);
	return payload_is(req, "fail") ? TD_EINVAL : 0;
}

static void
test_rep_default_and_retry_acks(void **state)
{
	char url[64];
	struct ack_state s = { .mtx = PTHREAD_MUTEX_INITIALIZER };
	td_bus_rep *rep;
	td_bus_req *req;
	td_envelope *reply = NULL;
	Tfdrift__V1__Ack *ack;

	(void)state;
	free_url(url, sizeof(url));
	rep = start_rep("t.ack.rep", url, true, 1, ack_handler, &s);
	req = open_req("t.ack.req", url, false, 10000);

	assert_int_equal(td_bus_request(req, TYPE_BATCH, (const uint8_t *)"ack", 3, NULL, LONG_MS,
			     &reply),
	    0);
	ack = ack_of(reply);
	assert_non_null(ack);
	assert_int_equal(ack->status, TFDRIFT__V1__ACK_STATUS__ACK_STATUS_OK);
	assert_string_equal(ack->message_id, s.last_id);
	tfdrift__v1__ack__free_unpacked(ack, NULL);
	td_bus_envelope_free(reply);

	assert_int_equal(td_bus_request(req, TYPE_BATCH, (const uint8_t *)"fail", 4, NULL, LONG_MS,
			     &reply),
	    0);
	ack = ack_of(reply);
	assert_non_null(ack);
	assert_int_equal(ack->status, TFDRIFT__V1__ACK_STATUS__ACK_STATUS_RETRY);
	assert_string_equal(ack->message_id, s.last_id);
	assert_string_equal(ack->error, td_strerror(TD_EINVAL));
	tfdrift__v1__ack__free_unpacked(ack, NULL);
	td_bus_envelope_free(reply);

	td_bus_req_close(req);
	td_bus_rep_stop(rep);
}

struct hammer {
	td_bus_req *req;
	int id;
	int ok;
};

enum {
	HAMMER_THREADS = 8,
	HAMMER_EACH = 25
};

static void *
hammer_main(void *arg)
{
	struct hammer *h = arg;

	for (int i = 0; i < HAMMER_EACH; i++) {
		char text[64];
		td_envelope *reply = NULL;
		int n = snprintf(text, sizeof(text), "thread %d request %d", h->id, i);

		if (td_bus_request(h->req, TYPE_BATCH, (const uint8_t *)text, (size_t)n, NULL,
			LONG_MS, &reply) == 0 &&
		    payload_is(reply, text)) {
			h->ok++;
		}
		td_bus_envelope_free(reply);
	}
	return NULL;
}

static void
test_concurrent_requests(void **state)
{
	char url[64];
	struct echo e = { .delay_ms = 2 };
	struct hammer h[HAMMER_THREADS];
	pthread_t t[HAMMER_THREADS];
	td_bus_rep *rep;
	td_bus_req *req;
	int ok = 0;

	(void)state;
	free_url(url, sizeof(url));
	rep = start_rep("t.conc.rep", url, true, 4, echo_handler, &e);
	/* a resend far beyond the test's run keeps the handler count exact */
	req = open_req("t.conc.req", url, false, 600000);
	for (int i = 0; i < HAMMER_THREADS; i++) {
		h[i] = (struct hammer){ .req = req, .id = i };
		assert_int_equal(pthread_create(&t[i], NULL, hammer_main, &h[i]), 0);
	}
	for (int i = 0; i < HAMMER_THREADS; i++) {
		pthread_join(t[i], NULL);
		ok += h[i].ok;
	}
	assert_int_equal(ok, HAMMER_THREADS * HAMMER_EACH);
	assert_int_equal(atomic_load(&e.calls), HAMMER_THREADS * HAMMER_EACH);
	/* the workers really ran side by side, and never more than 4 */
	assert_true(atomic_load(&e.max_active) >= 2);
	assert_true(atomic_load(&e.max_active) <= 4);
	td_bus_req_close(req);
	td_bus_rep_stop(rep);
}

static void
test_two_reps_share_work(void **state)
{
	char url[64];
	struct echo a = { 0 }, b = { 0 };
	td_bus_rep *ra, *rb;
	td_bus_req *req;

	(void)state;
	free_url(url, sizeof(url));
	req = open_req("t.spread.req", url, true, 10000);
	ra = start_rep("t.spread.a", url, false, 2, echo_handler, &a);
	rb = start_rep("t.spread.b", url, false, 2, echo_handler, &b);
	WAIT_UNTIL(td_bus_req_peers(req) == 2);
	assert_int_equal(td_bus_req_peers(req), 2);
	for (int i = 0; i < 20; i++) {
		td_envelope *reply = NULL;

		assert_int_equal(td_bus_request(req, TYPE_BATCH, (const uint8_t *)"w", 1, NULL,
				     LONG_MS, &reply),
		    0);
		td_bus_envelope_free(reply);
	}
	assert_int_equal(atomic_load(&a.calls) + atomic_load(&b.calls), 20);
	assert_true(atomic_load(&a.calls) > 0);
	assert_true(atomic_load(&b.calls) > 0);
	td_bus_rep_stop(ra);
	td_bus_rep_stop(rb);
	td_bus_req_close(req);
}

/* Shared by two REPs: the very first request is handed back (TD_ECLOSED). */
struct drop_first {
	atomic_bool dropped;
	atomic_int calls;
	pthread_mutex_t mtx;
	char ids[8][64];
};

static int
drop_first_handler(void *arg, const td_envelope *req, td_bus_reply *reply)
{
	struct drop_first *d = arg;
	int n = atomic_fetch_add(&d->calls, 1);

	if (n < 8) {
		pthread_mutex_lock(&d->mtx);
		snprintf(d->ids[n], sizeof(d->ids[n]), "%s", req->message_id);
		pthread_mutex_unlock(&d->mtx);
	}
	if (!atomic_exchange(&d->dropped, true)) {
		return TD_ECLOSED;
	}
	reply->type = (int)req->type;
	reply->len = req->payload.len;
	reply->payload = malloc(req->payload.len + 1);
	memcpy(reply->payload, req->payload.data, req->payload.len);
	return 0;
}

static void
test_dropped_request_is_resent(void **state)
{
	char url[64];
	struct drop_first d = { .mtx = PTHREAD_MUTEX_INITIALIZER };
	td_bus_rep *ra, *rb;
	td_bus_req *req;
	td_envelope *reply = NULL;

	(void)state;
	free_url(url, sizeof(url));
	req = open_req("t.drop.req", url, true, 200);
	ra = start_rep("t.drop.a", url, false, 1, drop_first_handler, &d);
	rb = start_rep("t.drop.b", url, false, 1, drop_first_handler, &d);
	WAIT_UNTIL(td_bus_req_peers(req) == 2);
	assert_int_equal(td_bus_request(req, TYPE_BATCH, (const uint8_t *)"again", 5, NULL, LONG_MS,
			     &reply),
	    0);
	assert_true(payload_is(reply, "again"));
	td_bus_envelope_free(reply);
	assert_true(atomic_load(&d.dropped));
	assert_true(atomic_load(&d.calls) >= 2);
	/* the answer is for the same message, resent by NNG */
	assert_string_equal(d.ids[0], d.ids[1]);
	td_bus_rep_stop(ra);
	td_bus_rep_stop(rb);
	td_bus_req_close(req);
}

/* A raw NNG REQ socket, to put bytes on the wire the bus would never send. */
static nng_socket
raw_req(const char *url)
{
	nng_socket s;

	assert_int_equal(nng_req0_open(&s), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, LONG_MS), 0);
	assert_int_equal(nng_dial(s, url, NULL, 0), 0);
	return s;
}

/* Sends bytes on a raw REQ and decodes the reply envelope (caller frees). */
static td_envelope *
raw_roundtrip(nng_socket s, const void *bytes, size_t len)
{
	td_envelope *env = NULL;
	td_error err;
	void *buf = NULL;
	size_t sz = 0;

	assert_int_equal(nng_send(s, (void *)bytes, len, 0), 0);
	assert_int_equal(nng_recv(s, &buf, &sz, NNG_FLAG_ALLOC), 0);
	assert_int_equal(td_bus_envelope_decode(buf, sz, &env, &err), 0);
	nng_free(buf, sz);
	return env;
}

static void
test_garbage_is_rejected(void **state)
{
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 'n', 'o', 't', ' ', 'p', 'b' };
	char url[64];
	struct echo e = { 0 };
	td_bus_rep *rep;
	td_envelope *env;
	Tfdrift__V1__Ack *ack;
	nng_socket raw;
	uint8_t *good;
	size_t goodlen;

	(void)state;
	free_url(url, sizeof(url));
	rep = start_rep("t.garbage", url, true, 2, echo_handler, &e);
	raw = raw_req(url);

	env = raw_roundtrip(raw, garbage, sizeof(garbage));
	ack = ack_of(env);
	assert_non_null(ack);
	assert_int_equal(ack->status, TFDRIFT__V1__ACK_STATUS__ACK_STATUS_REJECTED);
	assert_non_null(strstr(ack->error, "does not decode"));
	tfdrift__v1__ack__free_unpacked(ack, NULL);
	td_bus_envelope_free(env);
	assert_int_equal(counter("tfdrift_bus_decode_errors_total", "t.garbage"), 1);
	assert_int_equal(atomic_load(&e.calls), 0);

	/* still serving */
	assert_int_equal(td_bus_envelope_encode(TYPE_BATCH, (const uint8_t *)"good", 4, NULL, &good,
			     &goodlen),
	    0);
	env = raw_roundtrip(raw, good, goodlen);
	assert_true(payload_is(env, "good"));
	td_bus_envelope_free(env);
	free(good);
	assert_int_equal(counter("tfdrift_bus_decode_errors_total", "t.garbage"), 1);

	nng_close(raw);
	td_bus_rep_stop(rep);
}

static void
test_newer_schema_is_rejected(void **state)
{
	char url[64];
	struct echo e = { 0 };
	td_bus_rep *rep;
	td_envelope *env;
	Tfdrift__V1__Ack *ack;
	nng_socket raw;
	uint8_t *buf;
	size_t len;

	(void)state;
	free_url(url, sizeof(url));
	rep = start_rep("t.schema", url, true, 1, echo_handler, &e);
	raw = raw_req(url);
	pack_raw(TYPE_BATCH, 99, "0123", "from the future", &buf, &len);
	env = raw_roundtrip(raw, buf, len);
	ack = ack_of(env);
	assert_non_null(ack);
	assert_int_equal(ack->status, TFDRIFT__V1__ACK_STATUS__ACK_STATUS_REJECTED);
	assert_non_null(strstr(ack->error, "schema_version 99"));
	assert_non_null(strstr(ack->error, "newer"));
	tfdrift__v1__ack__free_unpacked(ack, NULL);
	td_bus_envelope_free(env);
	free(buf);
	assert_int_equal(counter("tfdrift_bus_decode_errors_total", "t.schema"), 1);
	assert_int_equal(atomic_load(&e.calls), 0);
	nng_close(raw);
	td_bus_rep_stop(rep);
}

static void
test_request_timeout_without_peer(void **state)
{
	char url[64];
	td_bus_req *dialer, *listener;
	td_envelope *reply = (td_envelope *)&reply;

	(void)state;
	free_url(url, sizeof(url));
	dialer = open_req("t.timeout.dial", url, false, 100);
	assert_int_equal(td_bus_request(dialer, TYPE_BATCH, (const uint8_t *)"x", 1, NULL, 300,
			     &reply),
	    TD_ETIMEDOUT);
	assert_null(reply);
	td_bus_req_close(dialer);

	free_url(url, sizeof(url));
	listener = open_req("t.timeout.listen", url, true, 100);
	assert_int_equal(td_bus_request(listener, TYPE_BATCH, (const uint8_t *)"x", 1, NULL, 300,
			     &reply),
	    TD_ETIMEDOUT);
	td_bus_req_close(listener);
}

/* A handler that holds its request until the test releases it. */
struct gate {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	bool entered;
	bool released;
	atomic_bool stop_returned;
	bool stop_returned_before_release;
};

static int
gate_handler(void *arg, const td_envelope *req, td_bus_reply *reply)
{
	struct gate *g = arg;

	pthread_mutex_lock(&g->mtx);
	g->entered = true;
	pthread_cond_broadcast(&g->cv);
	while (!g->released) {
		pthread_cond_wait(&g->cv, &g->mtx);
	}
	g->stop_returned_before_release = atomic_load(&g->stop_returned);
	pthread_mutex_unlock(&g->mtx);
	reply->type = (int)req->type;
	reply->len = req->payload.len;
	reply->payload = malloc(req->payload.len + 1);
	memcpy(reply->payload, req->payload.data, req->payload.len);
	return 0;
}

static void
gate_wait_entered(struct gate *g)
{
	pthread_mutex_lock(&g->mtx);
	while (!g->entered) {
		pthread_cond_wait(&g->cv, &g->mtx);
	}
	pthread_mutex_unlock(&g->mtx);
}

static void
gate_release(struct gate *g)
{
	pthread_mutex_lock(&g->mtx);
	g->released = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mtx);
}

struct pending {
	td_bus_req *req;
	int timeout_ms;
	int rv;
	bool payload_ok;
};

static void *
pending_main(void *arg)
{
	struct pending *p = arg;
	td_envelope *reply = NULL;

	p->rv = td_bus_request(p->req, TYPE_BATCH, (const uint8_t *)"held", 4, NULL, p->timeout_ms,
	    &reply);
	p->payload_ok = reply != NULL && payload_is(reply, "held");
	td_bus_envelope_free(reply);
	return NULL;
}

/* The log limiter: many bad messages in a burst give one or two lines, not one each. */
static void
test_decode_warnings_are_rate_limited(void **state)
{
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff };
	enum {
		BURST = 10
	};
	char url[64], path[] = "/tmp/test_bus_log_XXXXXX", line[1024];
	struct echo e = { 0 };
	td_bus_rep *rep;
	nng_socket raw;
	FILE *f;
	int fd, lines = 0;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	free_url(url, sizeof(url));
	rep = start_rep("t.ratelimit", url, true, 1, echo_handler, &e);
	raw = raw_req(url);
	td_log_set_fd(fd);
	for (int i = 0; i < BURST; i++) {
		td_envelope *env = raw_roundtrip(raw, garbage, sizeof(garbage));
		td_bus_envelope_free(env);
	}
	td_log_set_fd(-1);
	assert_int_equal(counter("tfdrift_bus_decode_errors_total", "t.ratelimit"), BURST);
	f = fdopen(fd, "r");
	assert_non_null(f);
	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "bus message rejected") != NULL &&
		    strstr(line, "t.ratelimit") != NULL) {
			lines++;
		}
	}
	fclose(f);
	assert_true(lines >= 1);
	assert_true(lines < BURST);
	nng_close(raw);
	td_bus_rep_stop(rep);
}

/* A peer that answers garbage: the request fails with TD_EPROTO and is counted. */
static void
test_garbage_reply_is_eproto(void **state)
{
	char url[64];
	struct pending p = { .timeout_ms = LONG_MS, .rv = 1 };
	nng_socket raw;
	pthread_t t;
	void *buf = NULL;
	size_t sz = 0;

	(void)state;
	free_url(url, sizeof(url));
	assert_int_equal(nng_rep0_open(&raw), 0);
	assert_int_equal(nng_socket_set_ms(raw, NNG_OPT_RECVTIMEO, LONG_MS), 0);
	assert_int_equal(nng_listen(raw, url, NULL, 0), 0);
	p.req = open_req("t.badreply.req", url, false, 600000);
	assert_int_equal(pthread_create(&t, NULL, pending_main, &p), 0);
	assert_int_equal(nng_recv(raw, &buf, &sz, NNG_FLAG_ALLOC), 0);
	nng_free(buf, sz);
	assert_int_equal(nng_send(raw, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11, 0), 0);
	pthread_join(t, NULL);
	assert_int_equal(p.rv, TD_EPROTO);
	assert_int_equal(counter("tfdrift_bus_decode_errors_total", "t.badreply.req"), 1);
	td_bus_req_close(p.req);
	nng_close(raw);
}

static void
test_req_close_cancels_waiting_request(void **state)
{
	char url[64];
	struct gate g = { .mtx = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	struct pending p = { .timeout_ms = -1, .rv = 1 };
	td_bus_rep *rep;
	pthread_t t;

	(void)state;
	free_url(url, sizeof(url));
	rep = start_rep("t.cancel.rep", url, true, 1, gate_handler, &g);
	p.req = open_req("t.cancel.req", url, false, 600000);
	assert_int_equal(pthread_create(&t, NULL, pending_main, &p), 0);
	gate_wait_entered(&g); /* the request is now waiting for its reply */
	td_bus_req_close(p.req);
	pthread_join(t, NULL);
	assert_int_equal(p.rv, TD_ECLOSED);
	gate_release(&g);
	td_bus_rep_stop(rep);
}

struct stopper {
	td_bus_rep *rep;
	struct gate *g;
	atomic_int tid;
};

static void *
stopper_main(void *arg)
{
	struct stopper *s = arg;

	atomic_store(&s->tid, (int)gettid());
	td_bus_rep_stop(s->rep);
	atomic_store(&s->g->stop_returned, true);
	return NULL;
}

/* Whether thread tid of this process is asleep (state S: blocked). */
static bool
thread_sleeps(int tid)
{
	char path[64], buf[256];
	FILE *f;
	char *p;
	bool sleeping = false;

	if (tid <= 0) {
		return false;
	}
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	if ((f = fopen(path, "r")) == NULL) {
		return false;
	}
	if (fgets(buf, sizeof(buf), f) != NULL && (p = strrchr(buf, ')')) != NULL) {
		sleeping = p[1] == ' ' && p[2] == 'S';
	}
	fclose(f);
	return sleeping;
}

static void
test_rep_stop_finishes_handler(void **state)
{
	char url[64];
	struct gate g = { .mtx = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	struct pending p = { .timeout_ms = LONG_MS, .rv = 1 };
	struct stopper s = { .g = &g };
	pthread_t tp, ts;

	(void)state;
	free_url(url, sizeof(url));
	s.rep = start_rep("t.stop.rep", url, true, 2, gate_handler, &g);
	p.req = open_req("t.stop.req", url, false, 600000);
	assert_int_equal(pthread_create(&tp, NULL, pending_main, &p), 0);
	gate_wait_entered(&g);
	assert_int_equal(pthread_create(&ts, NULL, stopper_main, &s), 0);
	/* the stop has begun and its thread sleeps (waiting for the handler),
	 * or it returned at once: either shows before the handler is released */
	WAIT_UNTIL(atomic_load(&g.stop_returned) ||
	    (td_bus_rep_stopping(s.rep) && thread_sleeps(atomic_load(&s.tid))));
	assert_false(atomic_load(&g.stop_returned));
	gate_release(&g);
	pthread_join(tp, NULL);
	pthread_join(ts, NULL);
	assert_false(g.stop_returned_before_release);
	assert_int_equal(p.rv, 0);
	assert_true(p.payload_ok);
	td_bus_req_close(p.req);
}

/* ---- REP with an async handler --------------------------------------------------- */

/* Takes each call into a queue; an answerer thread (not the bus's) answers
 * them: the payload echoed, "fail" -> TD_EINVAL (Ack RETRY), "ack" -> NULL
 * reply (Ack OK), "drop" -> TD_EAGAIN (no reply). */
struct aq {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	td_bus_call *calls[64];
	int n;
	int pending; /* taken and not yet done */
	int max_pending;
	int total;
	bool hold; /* the answerer waits until released */
	bool quit;
	pthread_t answerer;
};

static void
aq_handler(void *arg, td_bus_call *call)
{
	struct aq *q = arg;

	pthread_mutex_lock(&q->mtx);
	assert_true(q->n < 64);
	q->calls[q->n++] = call;
	q->total++;
	if (++q->pending > q->max_pending) {
		q->max_pending = q->pending;
	}
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mtx);
}

static void
aq_answer(td_bus_call *call)
{
	const td_envelope *req = td_bus_call_request(call);
	td_bus_reply reply = { 0 };

	if (payload_is(req, "fail")) {
		td_bus_call_done(call, TD_EINVAL, &reply);
	} else if (payload_is(req, "ack")) {
		td_bus_call_done(call, 0, NULL);
	} else if (payload_is(req, "drop")) {
		td_bus_call_done(call, TD_EAGAIN, NULL);
	} else {
		reply.type = (int)req->type;
		reply.len = req->payload.len;
		reply.payload = malloc(req->payload.len + 1);
		memcpy(reply.payload, req->payload.data, req->payload.len);
		td_bus_call_done(call, 0, &reply);
	}
}

static void *
aq_main(void *arg)
{
	struct aq *q = arg;

	pthread_mutex_lock(&q->mtx);
	for (;;) {
		while (!q->quit && (q->n == 0 || q->hold)) {
			pthread_cond_wait(&q->cv, &q->mtx);
		}
		if (q->quit && q->n == 0) {
			break;
		}
		/* answer the oldest after a moment, so that calls pile up */
		td_bus_call *c = q->calls[0];
		memmove(&q->calls[0], &q->calls[1], (size_t)(q->n - 1) * sizeof(q->calls[0]));
		q->n--;
		pthread_mutex_unlock(&q->mtx);
		nng_msleep(2);
		pthread_mutex_lock(&q->mtx);
		q->pending--; /* before done: the next call may come at once */
		pthread_mutex_unlock(&q->mtx);
		aq_answer(c);
		pthread_mutex_lock(&q->mtx);
	}
	pthread_mutex_unlock(&q->mtx);
	return NULL;
}

static void
aq_start(struct aq *q)
{
	pthread_mutex_init(&q->mtx, NULL);
	pthread_cond_init(&q->cv, NULL);
	assert_int_equal(pthread_create(&q->answerer, NULL, aq_main, q), 0);
}

static void
aq_set_hold(struct aq *q, bool hold)
{
	pthread_mutex_lock(&q->mtx);
	q->hold = hold;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mtx);
}

static int
aq_queued(struct aq *q)
{
	int n;

	pthread_mutex_lock(&q->mtx);
	n = q->n;
	pthread_mutex_unlock(&q->mtx);
	return n;
}

static void
aq_stop(struct aq *q)
{
	pthread_mutex_lock(&q->mtx);
	q->quit = true;
	q->hold = false;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mtx);
	pthread_join(q->answerer, NULL);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mtx);
}

static td_bus_rep *
start_async_rep(const char *name, const char *url, int workers, struct aq *q)
{
	td_bus_rep_opts o = { .name = name,
		.url = url,
		.listen = true,
		.workers = workers,
		.async_handler = aq_handler,
		.arg = q };
	td_bus_rep *r = NULL;
	td_error err;

	td_error_clear(&err);
	assert_int_equal(td_bus_rep_start(&r, &o, &err), 0);
	return r;
}

/* This process's thread count. */
static int
threads_now(void)
{
	char line[256];
	int n = -1;
	FILE *f = fopen("/proc/self/status", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "Threads:", 8) == 0) {
			n = (int)strtol(line + 8, NULL, 10);
		}
	}
	fclose(f);
	return n;
}

static void
test_async_answers_from_another_thread(void **state)
{
	char url[64];
	struct aq q = { 0 };
	td_bus_rep *rep;
	td_bus_req *req;
	td_envelope *reply = NULL;
	Tfdrift__V1__Ack *ack;
	int before;

	(void)state;
	free_url(url, sizeof(url));
	aq_start(&q);
	{
		/* NNG starts its own threads with its first socket */
		nng_socket warm;

		assert_int_equal(nng_rep0_open(&warm), 0);
		nng_close(warm);
	}
	before = threads_now();
	/* 256 requests in flight, and not a thread for each */
	rep = start_async_rep("t.async.rep", url, 256, &q);
	assert_true(threads_now() - before < 8);
	req = open_req("t.async.req", url, false, 600000);

	assert_int_equal(td_bus_request(req, TYPE_BATCH, (const uint8_t *)"later", 5, "trace-as",
			     LONG_MS, &reply),
	    0);
	assert_int_equal(reply->type, TYPE_BATCH);
	assert_true(payload_is(reply, "later"));
	assert_string_equal(reply->trace_id, "trace-as");
	td_bus_envelope_free(reply);

	assert_int_equal(td_bus_request(req, TYPE_BATCH, (const uint8_t *)"ack", 3, NULL, LONG_MS,
			     &reply),
	    0);
	ack = ack_of(reply);
	assert_int_equal(ack->status, TFDRIFT__V1__ACK_STATUS__ACK_STATUS_OK);
	tfdrift__v1__ack__free_unpacked(ack, NULL);
	td_bus_envelope_free(reply);

	assert_int_equal(td_bus_request(req, TYPE_BATCH, (const uint8_t *)"fail", 4, NULL, LONG_MS,
			     &reply),
	    0);
	ack = ack_of(reply);
	assert_int_equal(ack->status, TFDRIFT__V1__ACK_STATUS__ACK_STATUS_RETRY);
	assert_string_equal(ack->error, td_strerror(TD_EINVAL));
	tfdrift__v1__ack__free_unpacked(ack, NULL);
	td_bus_envelope_free(reply);

	/* handed back: no reply at all, so the request times out */
	assert_int_equal(td_bus_request(req, TYPE_BATCH, (const uint8_t *)"drop", 4, NULL, 300,
			     &reply),
	    TD_ETIMEDOUT);
	assert_null(reply);
	/* and the context that dropped it serves again */
	assert_int_equal(td_bus_request(req, TYPE_BATCH, (const uint8_t *)"again", 5, NULL, LONG_MS,
			     &reply),
	    0);
	assert_true(payload_is(reply, "again"));
	td_bus_envelope_free(reply);
	WAIT_UNTIL(counter("tfdrift_bus_messages_sent_total", "t.async.rep") == 4);
	assert_int_equal(counter("tfdrift_bus_messages_received_total", "t.async.rep"), 5);
	assert_int_equal(counter("tfdrift_bus_messages_sent_total", "t.async.rep"), 4);

	td_bus_req_close(req);
	td_bus_rep_stop(rep);
	aq_stop(&q);
}

static void
test_async_in_flight_is_bounded(void **state)
{
	char url[64];
	struct aq q = { 0 };
	struct hammer h[HAMMER_THREADS];
	pthread_t t[HAMMER_THREADS];
	td_bus_rep *rep;
	td_bus_req *req;
	int ok = 0;

	(void)state;
	free_url(url, sizeof(url));
	aq_start(&q);
	rep = start_async_rep("t.asyncconc.rep", url, 4, &q);
	req = open_req("t.asyncconc.req", url, false, 600000);
	for (int i = 0; i < HAMMER_THREADS; i++) {
		h[i] = (struct hammer){ .req = req, .id = i };
		assert_int_equal(pthread_create(&t[i], NULL, hammer_main, &h[i]), 0);
	}
	for (int i = 0; i < HAMMER_THREADS; i++) {
		pthread_join(t[i], NULL);
		ok += h[i].ok;
	}
	assert_int_equal(ok, HAMMER_THREADS * HAMMER_EACH);
	assert_int_equal(q.total, HAMMER_THREADS * HAMMER_EACH);
	/* calls piled up while one thread answered them, never more than 4 */
	assert_true(q.max_pending >= 2);
	assert_true(q.max_pending <= 4);
	td_bus_req_close(req);
	td_bus_rep_stop(rep);
	aq_stop(&q);
}

static void
test_async_stop_waits_for_calls(void **state)
{
	char url[64];
	struct aq q = { 0 };
	struct gate g = { .mtx = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	struct pending p = { .timeout_ms = LONG_MS, .rv = 1 };
	struct stopper s = { .g = &g };
	pthread_t tp, ts;
	uint8_t *garbage = (uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff";
	nng_socket raw;
	td_envelope *env;
	Tfdrift__V1__Ack *ack;

	(void)state;
	free_url(url, sizeof(url));
	aq_start(&q);
	s.rep = start_async_rep("t.asyncstop.rep", url, 2, &q);

	/* garbage never reaches the handler: REJECTED, and serving goes on */
	raw = raw_req(url);
	env = raw_roundtrip(raw, garbage, 11);
	ack = ack_of(env);
	assert_int_equal(ack->status, TFDRIFT__V1__ACK_STATUS__ACK_STATUS_REJECTED);
	tfdrift__v1__ack__free_unpacked(ack, NULL);
	td_bus_envelope_free(env);
	nng_close(raw);
	assert_int_equal(counter("tfdrift_bus_decode_errors_total", "t.asyncstop.rep"), 1);

	/* a call taken and not answered holds the stop until it is answered */
	aq_set_hold(&q, true);
	p.req = open_req("t.asyncstop.req", url, false, 600000);
	assert_int_equal(pthread_create(&tp, NULL, pending_main, &p), 0);
	WAIT_UNTIL(aq_queued(&q) == 1);
	assert_int_equal(aq_queued(&q), 1);
	assert_int_equal(pthread_create(&ts, NULL, stopper_main, &s), 0);
	WAIT_UNTIL(atomic_load(&g.stop_returned) ||
	    (td_bus_rep_stopping(s.rep) && thread_sleeps(atomic_load(&s.tid))));
	assert_false(atomic_load(&g.stop_returned));
	aq_set_hold(&q, false);
	pthread_join(tp, NULL);
	pthread_join(ts, NULL);
	assert_true(atomic_load(&g.stop_returned));
	assert_int_equal(p.rv, 0);
	assert_true(p.payload_ok);
	assert_int_equal(q.total, 1);
	td_bus_req_close(p.req);
	aq_stop(&q);
}

/* ---- PUB/SUB ------------------------------------------------------------------ */

struct inbox {
	pthread_mutex_t mtx;
	int count;
	char first[64];
	char first_trace[64];
	int first_type;
};

static void
inbox_fn(void *arg, const td_envelope *env)
{
	struct inbox *in = arg;

	pthread_mutex_lock(&in->mtx);
	if (in->count++ == 0) {
		snprintf(in->first, sizeof(in->first), "%.*s", (int)env->payload.len,
		    (const char *)env->payload.data);
		snprintf(in->first_trace, sizeof(in->first_trace), "%s", env->trace_id);
		in->first_type = (int)env->type;
	}
	pthread_mutex_unlock(&in->mtx);
}

static int
inbox_count(struct inbox *in)
{
	int n;

	pthread_mutex_lock(&in->mtx);
	n = in->count;
	pthread_mutex_unlock(&in->mtx);
	return n;
}

static void
test_pubsub_two_subscribers(void **state)
{
	char url[64];
	struct inbox a = { .mtx = PTHREAD_MUTEX_INITIALIZER },
		     b = { .mtx = PTHREAD_MUTEX_INITIALIZER };
	td_bus_pub *pub = NULL;
	td_bus_sub *sa = NULL, *sb = NULL;
	td_error err;
	int64_t t0;

	(void)state;
	free_url(url, sizeof(url));
	assert_int_equal(td_bus_pub_open(&pub, "t.pub", url, &err), 0);
	assert_int_equal(td_bus_sub_open(&sa, "t.sub.a", url, inbox_fn, &a, &err), 0);
	assert_int_equal(td_bus_sub_open(&sb, "t.sub.b", url, inbox_fn, &b, &err), 0);
	WAIT_UNTIL(td_bus_pub_peers(pub) == 2);
	assert_int_equal(td_bus_pub_peers(pub), 2);
	/* PUB/SUB may drop while a pipe is still starting: publish until both heard */
	t0 = td_clock_mono_ms();
	while ((inbox_count(&a) == 0 || inbox_count(&b) == 0) &&
	    td_clock_mono_ms() - t0 < WAIT_CAP_MS) {
		assert_int_equal(td_bus_publish(pub,
				     TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_STATE_NOTICE,
				     (const uint8_t *)"state changed", 13, "trace-ps"),
		    0);
		nng_msleep(50);
	}
	assert_true(inbox_count(&a) >= 1);
	assert_true(inbox_count(&b) >= 1);
	assert_string_equal(a.first, "state changed");
	assert_string_equal(b.first, "state changed");
	assert_string_equal(a.first_trace, "trace-ps");
	assert_int_equal(a.first_type, TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_STATE_NOTICE);
	assert_int_equal(td_bus_sub_peers(sa), 1);
	assert_true(counter("tfdrift_bus_messages_sent_total", "t.pub") >= 1);
	assert_int_equal(counter("tfdrift_bus_messages_received_total", "t.sub.a"),
	    (uint64_t)inbox_count(&a));
	td_bus_sub_close(sa);
	td_bus_sub_close(sb);
	td_bus_pub_close(pub);
}

static void
count_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	atomic_fetch_add((atomic_int *)arg, ev == NNG_PIPE_EV_ADD_POST ? 1 : -1);
}

static void
test_sub_survives_garbage(void **state)
{
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff };
	char url[64];
	struct inbox in = { .mtx = PTHREAD_MUTEX_INITIALIZER };
	atomic_int raw_peers = 0;
	td_bus_sub *sub = NULL;
	nng_socket raw;
	td_error err;
	uint8_t *good;
	size_t goodlen;

	(void)state;
	free_url(url, sizeof(url));
	assert_int_equal(nng_pub0_open(&raw), 0);
	assert_int_equal(nng_pipe_notify(raw, NNG_PIPE_EV_ADD_POST, count_pipe, &raw_peers), 0);
	assert_int_equal(nng_pipe_notify(raw, NNG_PIPE_EV_REM_POST, count_pipe, &raw_peers), 0);
	assert_int_equal(nng_listen(raw, url, NULL, 0), 0);
	assert_int_equal(td_bus_sub_open(&sub, "t.sub.garbage", url, inbox_fn, &in, &err), 0);
	WAIT_UNTIL(atomic_load(&raw_peers) == 1 && td_bus_sub_peers(sub) == 1);
	assert_int_equal(atomic_load(&raw_peers), 1);

	assert_int_equal(nng_send(raw, (void *)garbage, sizeof(garbage), 0), 0);
	assert_int_equal(
	    td_bus_envelope_encode(TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ALERT_COMMITTED,
		(const uint8_t *)"after", 5, NULL, &good, &goodlen),
	    0);
	assert_int_equal(nng_send(raw, good, goodlen, 0), 0);
	free(good);
	WAIT_UNTIL(inbox_count(&in) >= 1);
	assert_int_equal(inbox_count(&in), 1);
	assert_string_equal(in.first, "after");
	/* one pipe delivers in order, so the garbage was counted before "after" */
	assert_int_equal(counter("tfdrift_bus_decode_errors_total", "t.sub.garbage"), 1);
	td_bus_sub_close(sub);
	nng_close(raw);
}

static void
test_bad_arguments(void **state)
{
	td_bus_rep_opts o = { .name = "t.bad",
		.url = "tcp://127.0.0.1:1",
		.listen = false,
		.workers = 0,
		.handler = echo_handler };
	td_bus_rep *rep = (td_bus_rep *)&rep;
	td_bus_pub *pub = (td_bus_pub *)&pub;
	td_error err;

	(void)state;
	td_error_clear(&err);
	assert_int_equal(td_bus_rep_start(&rep, &o, &err), TD_EINVAL);
	assert_null(rep);
	assert_non_null(strstr(err.msg, "workers"));
	o.workers = 1;
	o.url = "nonsense://where";
	assert_true(td_bus_rep_start(&rep, &o, &err) < 0);
	assert_non_null(strstr(err.msg, "nonsense://where"));
	/* one handler, not both and not none */
	o.url = "tcp://127.0.0.1:1";
	o.async_handler = aq_handler;
	assert_int_equal(td_bus_rep_start(&rep, &o, &err), TD_EINVAL);
	assert_non_null(strstr(err.msg, "one handler"));
	o.handler = NULL;
	o.async_handler = NULL;
	assert_int_equal(td_bus_rep_start(&rep, &o, &err), TD_EINVAL);
	assert_true(td_bus_pub_open(&pub, "t.bad.pub", "tcp://256.1.1.1:x", &err) < 0);
	assert_null(pub);
	td_bus_rep_stop(NULL);
	td_bus_req_close(NULL);
	td_bus_pub_close(NULL);
	td_bus_sub_close(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_envelope_roundtrip),
		cmocka_unit_test(test_envelope_rejects),
		cmocka_unit_test(test_ack_encode),
		cmocka_unit_test(test_reqrep_roundtrip),
		cmocka_unit_test(test_rep_default_and_retry_acks),
		cmocka_unit_test(test_concurrent_requests),
		cmocka_unit_test(test_two_reps_share_work),
		cmocka_unit_test(test_dropped_request_is_resent),
		cmocka_unit_test(test_garbage_is_rejected),
		cmocka_unit_test(test_newer_schema_is_rejected),
		cmocka_unit_test(test_decode_warnings_are_rate_limited),
		cmocka_unit_test(test_garbage_reply_is_eproto),
		cmocka_unit_test(test_request_timeout_without_peer),
		cmocka_unit_test(test_req_close_cancels_waiting_request),
		cmocka_unit_test(test_rep_stop_finishes_handler),
		cmocka_unit_test(test_async_answers_from_another_thread),
		cmocka_unit_test(test_async_in_flight_is_bounded),
		cmocka_unit_test(test_async_stop_waits_for_calls),
		cmocka_unit_test(test_pubsub_two_subscribers),
		cmocka_unit_test(test_sub_survives_garbage),
		cmocka_unit_test(test_bad_arguments),
	};

	td_log_init("test_bus", TD_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
