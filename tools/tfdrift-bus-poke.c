/* tfdrift-bus-poke — puts raw bytes on a tfdrift bus socket, for tests.
 *
 *   tfdrift-bus-poke req URL DATA [--listen] [--timeout MS] [--go FILE]
 *   tfdrift-bus-poke pub URL DATA [--count N] [--timeout MS]
 *   tfdrift-bus-poke sub URL [--count N] [--timeout MS]
 *
 *   DATA is HEXBYTES ("0801..."), --garbage (bytes that are no protobuf),
 *   --newer-schema (a well-formed Envelope whose schema_version is newer than
 *   any receiver knows), --cloudtrail FILE (an Envelope holding a
 *   CloudEventBatch of FILE's records, normalised as ingest does: what ingest
 *   sends a correlator) or --state-notice GEN [--changed WS]... [--full] (an
 *   Envelope holding a StateNotice announcing generation GEN, naming the
 *   workspaces switched, full or not: what the state-loader publishes).
 *
 * req: a plain NNG REQ socket (no tfdrift envelope added) dials URL (or
 * listens on it with --listen, for REP sockets that dial, like the
 * correlator's), sends DATA once and prints the reply: its length and, if it
 * is an Envelope, its header and the Ack inside.  Resends are disabled so the
 * receiver sees the bytes exactly once.  With --go FILE it prints "connected"
 * once a peer is there and sends only when FILE exists, so several pokes can
 * send at the same moment.
 * pub: listens on URL as a PUB socket, waits for a subscriber to connect,
 * publishes DATA --count times (1) and lingers briefly so it is delivered.
 * sub: a plain NNG SUB socket (every topic) dials a publisher at URL, prints
 * "connected" once the pipe is up, then prints each message received until
 * --count (1) arrived or --timeout ms passed in all: "message N: LEN bytes",
 * the envelope header and, for a StateNotice, its fields, then "raw: " and
 * every byte (printable ASCII as is, the rest as \xNN), so a test can grep
 * the whole message for text that must not be there.
 *
 * Exit status: 0 done (a reply came back, the messages were published or
 * received), 1 error, 2 usage, 3 timeout (no reply, no subscriber, or fewer
 * messages than --count). */
#include <errno.h>
#include <getopt.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "tfdrift/bus.h"
#include "tfdrift/clock.h"
#include "tfdrift/cloudtrail_file.h"
#include "tfdrift/cloudtrail_record.h"
#include "tfdrift/hex.h"
#include "tfdrift/v1/bus.pb-c.h"
#include "tfdrift/v1/state.pb-c.h"

/* Not a protobuf: 0xff.. is a varint tag that never ends within 10 bytes. */
static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	'n', 'o', 't', ' ', 'p', 'r', 'o', 't', 'o', 'b', 'u', 'f', 0x00, 0x01 };

typedef struct poke {
	const char *mode;
	const char *url;
	uint8_t *data; /* owned */
	size_t len;
	bool listen;
	const char *go; /* send once this file exists */
	int count;
	int timeout_ms;
} poke;

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: tfdrift-bus-poke req URL DATA [--listen] [--timeout MS]\n"
	    "       tfdrift-bus-poke pub URL DATA [--count N] [--timeout MS]\n"
	    "       tfdrift-bus-poke sub URL [--count N] [--timeout MS]\n"
	    "DATA: HEXBYTES | --garbage | --newer-schema | --cloudtrail FILE\n"
	    "      | --state-notice GEN [--changed WS]... [--full]\n");
}

/* Decodes hex text into a malloc'd buffer (*out, owned by the caller). */
static int
parse_hex(const char *s, uint8_t **out, size_t *outlen)
{
	size_t n = strlen(s);
	if (n == 0 || n % 2 != 0) {
		return -1;
	}
	uint8_t *b = malloc(n / 2);
	if (b == NULL) {
		return -1;
	}
	if (td_hex_decode(s, n / 2, b) != 0) {
		free(b);
		return -1;
	}
	*out = b;
	*outlen = n / 2;
	return 0;
}

/* An Envelope with schema_version 99 around a few payload bytes; the buffer is
 * malloc'd and owned by the caller. */
static int
newer_schema(uint8_t **out, size_t *outlen)
{
	Tfdrift__V1__Envelope env = TFDRIFT__V1__ENVELOPE__INIT;
	static uint8_t payload[] = { 0x0a, 0x00 };
	env.type = TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_CLOUD_EVENT_BATCH;
	env.schema_version = 99;
	env.message_id = "0123456789abcdef0123456789abcdef";
	env.trace_id = "fedcba9876543210fedcba9876543210";
	env.producer = "tfdrift-bus-poke";
	env.payload.data = payload;
	env.payload.len = sizeof(payload);
	size_t n = tfdrift__v1__envelope__get_packed_size(&env);
	uint8_t *b = malloc(n);
	if (b == NULL) {
		return -1;
	}
	tfdrift__v1__envelope__pack(&env, b);
	*out = b;
	*outlen = n;
	return 0;
}

typedef struct ct_batch {
	Tfdrift__V1__CloudEvent **events;
	size_t n, cap;
	int bad;
} ct_batch;

static int
on_record(void *arg, const ct_file_record *rec)
{
	ct_batch *b = arg;
	ct_record_ctx ctx = { .path = rec->path, .index = rec->index, .line = rec->line };
	Tfdrift__V1__CloudEvent *ev = NULL;
	td_error err;

	td_error_clear(&err);
	if (rec->json == NULL || ct_record_normalise(rec->json, &ctx, &ev, NULL, &err) != 0) {
		fprintf(stderr, "tfdrift-bus-poke: %s\n",
		    rec->json == NULL ? rec->reason : err.msg);
		b->bad++;
		return 0;
	}
	if (ev == NULL) {
		return 0; /* skipped, as ingest skips it */
	}
	if (b->n == b->cap) {
		size_t nc = b->cap ? 2 * b->cap : 16;
		Tfdrift__V1__CloudEvent **v = realloc(b->events, nc * sizeof(*v));
		if (v == NULL) {
			ct_event_free(ev);
			return TD_ENOMEM;
		}
		b->events = v;
		b->cap = nc;
	}
	b->events[b->n++] = ev;
	return 0;
}

/* An Envelope with a CloudEventBatch of the records of path. */
static int
cloudtrail_batch(const char *path, uint8_t **out, size_t *outlen)
{
	Tfdrift__V1__CloudEventBatch batch = TFDRIFT__V1__CLOUD_EVENT_BATCH__INIT;
	ct_batch b = { 0 };
	uint8_t *payload = NULL;
	td_error err;
	int rv;

	td_error_clear(&err);
	rv = ct_file_read(path, 0, on_record, &b, &err);
	if (rv != 0 || b.bad > 0 || b.n == 0) {
		fprintf(stderr, "tfdrift-bus-poke: %s: %s\n", path,
		    rv != 0 ? err.msg : "no usable record");
		rv = -1;
		goto out;
	}
	batch.events = b.events;
	batch.n_events = b.n;
	size_t len = tfdrift__v1__cloud_event_batch__get_packed_size(&batch);
	if ((payload = malloc(len + 1)) == NULL) {
		rv = -1;
		goto out;
	}
	tfdrift__v1__cloud_event_batch__pack(&batch, payload);
	rv = td_bus_envelope_encode(TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_CLOUD_EVENT_BATCH,
	    payload, len, NULL, out, outlen);
out:
	free(payload);
	for (size_t i = 0; i < b.n; i++) {
		ct_event_free(b.events[i]);
	}
	free(b.events);
	return rv == 0 ? 0 : -1;
}

/* --state-notice: the StateNotice asked for. */
#define MAX_CHANGED 64
typedef struct notice_spec {
	bool set;
	uint64_t generation;
	char *changed[MAX_CHANGED]; /* borrowed from argv */
	size_t n_changed;
	bool full;
} notice_spec;

/* An Envelope with the StateNotice of spec (*out malloc'd, owned by the
 * caller). */
static int
state_notice(notice_spec *spec, uint8_t **out, size_t *outlen)
{
	Tfdrift__V1__StateNotice n = TFDRIFT__V1__STATE_NOTICE__INIT;
	uint8_t *payload;
	size_t len;
	int rv;

	n.generation = spec->generation;
	n.switched_at_ns = td_clock_now_ns();
	n.reason = "tfdrift-bus-poke";
	n.changed = spec->changed;
	n.n_changed = spec->n_changed;
	n.full = spec->full;
	len = tfdrift__v1__state_notice__get_packed_size(&n);
	if ((payload = malloc(len + 1)) == NULL) {
		return -1;
	}
	tfdrift__v1__state_notice__pack(&n, payload);
	rv = td_bus_envelope_encode(TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_STATE_NOTICE, payload,
	    len, NULL, out, outlen);
	free(payload);
	return rv == 0 ? 0 : -1;
}

static const char *
enum_name(const ProtobufCEnumDescriptor *d, int v)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
	return ev ? ev->name : "?";
}

/* Prints what a reply holds. */
static void
describe_reply(const uint8_t *buf, size_t len)
{
	printf("reply: %zu bytes\n", len);
	Tfdrift__V1__Envelope *env = tfdrift__v1__envelope__unpack(NULL, len, buf);
	if (env == NULL) {
		printf("envelope: does not decode\n");
		return;
	}
	printf("envelope: type=%s schema_version=%u message_id=%s producer=%s\n",
	    enum_name(&tfdrift__v1__message_type__descriptor, env->type), env->schema_version,
	    env->message_id, env->producer);
	if (env->type == TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ACK) {
		Tfdrift__V1__Ack *ack = tfdrift__v1__ack__unpack(NULL, env->payload.len,
		    env->payload.data);
		if (ack == NULL) {
			printf("ack: does not decode\n");
		} else {
			printf(
			    "ack: status=%s accepted=%u duplicates=%u produced=%u error=\"%s\"\n",
			    enum_name(&tfdrift__v1__ack_status__descriptor, ack->status),
			    ack->accepted, ack->duplicates, ack->produced, ack->error);
			tfdrift__v1__ack__free_unpacked(ack, NULL);
		}
	}
	tfdrift__v1__envelope__free_unpacked(env, NULL);
}

static void
on_pipe(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	(void)pipe;
	(void)ev;
	atomic_fetch_add((atomic_int *)arg, 1);
}

/* --go: waits for a peer (*peers counts them), says "connected", then waits
 * for p->go to exist.
 * 0, or 3 when the timeout passed first. */
static int
wait_go(atomic_int *peers, const poke *p)
{
	nng_time deadline = nng_clock() + (nng_time)p->timeout_ms;

	while (atomic_load(peers) == 0) {
		if (nng_clock() >= deadline) {
			fprintf(stderr, "tfdrift-bus-poke: no peer within %d ms\n", p->timeout_ms);
			return 3;
		}
		nng_msleep(5);
	}
	printf("connected\n");
	fflush(stdout);
	while (access(p->go, F_OK) != 0) {
		if (nng_clock() >= deadline) {
			fprintf(stderr, "tfdrift-bus-poke: %s did not appear within %d ms\n", p->go,
			    p->timeout_ms);
			return 3;
		}
		nng_msleep(1);
	}
	return 0;
}

static int
do_req(const poke *p)
{
	nng_socket s = NNG_SOCKET_INITIALIZER;
	atomic_int peers = 0;
	char *reply = NULL;
	size_t rlen = 0;
	int rv, code = 1;

	if ((rv = nng_req0_open(&s)) != 0) {
		fprintf(stderr, "tfdrift-bus-poke: req socket: %s\n", nng_strerror(rv));
		return 1;
	}
	/* one copy only: a resend would be counted twice by the receiver */
	if ((rv = nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, 3600000)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, p->timeout_ms)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, p->timeout_ms)) != 0) {
		fprintf(stderr, "tfdrift-bus-poke: options: %s\n", nng_strerror(rv));
		goto out;
	}
	/* counted from before the first pipe can come up */
	if ((rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, on_pipe, &peers)) != 0) {
		fprintf(stderr, "tfdrift-bus-poke: options: %s\n", nng_strerror(rv));
		goto out;
	}
	rv = p->listen ? nng_listen(s, p->url, NULL, 0)
		       : nng_dial(s, p->url, NULL, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		fprintf(stderr, "tfdrift-bus-poke: %s %s: %s\n", p->listen ? "listen" : "dial",
		    p->url, nng_strerror(rv));
		goto out;
	}
	if (p->go != NULL && (code = wait_go(&peers, p)) != 0) {
		goto out;
	}
	/* REQ holds the message until a peer is there, up to the send timeout */
	if ((rv = nng_send(s, p->data, p->len, 0)) != 0) {
		fprintf(stderr, "tfdrift-bus-poke: send: %s\n", nng_strerror(rv));
		code = rv == NNG_ETIMEDOUT ? 3 : 1;
		goto out;
	}
	printf("sent: %zu bytes\n", p->len);
	if ((rv = nng_recv(s, &reply, &rlen, NNG_FLAG_ALLOC)) != 0) {
		fprintf(stderr, "tfdrift-bus-poke: no reply: %s\n", nng_strerror(rv));
		code = rv == NNG_ETIMEDOUT ? 3 : 1;
		goto out;
	}
	describe_reply((const uint8_t *)reply, rlen);
	code = 0;
out:
	if (reply != NULL) {
		nng_free(reply, rlen);
	}
	nng_close(s);
	return code;
}

static int
do_pub(const poke *p)
{
	nng_socket s = NNG_SOCKET_INITIALIZER;
	atomic_int peers = 0;
	int rv, code = 1;

	if ((rv = nng_pub0_open(&s)) != 0) {
		fprintf(stderr, "tfdrift-bus-poke: pub socket: %s\n", nng_strerror(rv));
		return 1;
	}
	if ((rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, on_pipe, &peers)) != 0 ||
	    (rv = nng_listen(s, p->url, NULL, 0)) != 0) {
		fprintf(stderr, "tfdrift-bus-poke: listen %s: %s\n", p->url, nng_strerror(rv));
		goto out;
	}
	for (int waited = 0; atomic_load(&peers) == 0; waited += 20) {
		if (waited >= p->timeout_ms) {
			fprintf(stderr, "tfdrift-bus-poke: no subscriber within %d ms\n",
			    p->timeout_ms);
			code = 3;
			goto out;
		}
		nng_msleep(20);
	}
	/* the subscriber's side of the pipe starts a moment after ours */
	nng_msleep(300);
	for (int i = 0; i < p->count; i++) {
		if ((rv = nng_send(s, p->data, p->len, 0)) != 0) {
			fprintf(stderr, "tfdrift-bus-poke: publish: %s\n", nng_strerror(rv));
			goto out;
		}
	}
	printf("published: %d x %zu bytes to %d subscriber(s)\n", p->count, p->len,
	    atomic_load(&peers));
	/* PUB sends asynchronously; closing at once could drop the message */
	nng_msleep(500);
	code = 0;
out:
	nng_close(s);
	return code;
}

/* Prints a StateNotice's fields. */
static void
describe_notice(const uint8_t *buf, size_t len)
{
	Tfdrift__V1__StateNotice *n = tfdrift__v1__state_notice__unpack(NULL, len, buf);

	if (n == NULL) {
		printf("state_notice: does not decode\n");
		return;
	}
	printf("state_notice: generation=%llu reason=\"%s\" resources=%u workspaces=%zu full=%s "
	       "changed=",
	    (unsigned long long)n->generation, n->reason, n->resource_count, n->n_workspaces,
	    n->full ? "true" : "false");
	for (size_t i = 0; i < n->n_changed; i++) {
		printf("%s\"%s\"", i > 0 ? "," : "", n->changed[i]);
	}
	printf("\n");
	for (size_t i = 0; i < n->n_workspaces; i++) {
		const Tfdrift__V1__WorkspaceStatus *w = n->workspaces[i];
		printf("workspace: name=\"%s\" source=%s serial=%llu lineage=\"%s\" resources=%u "
		       "last_error=\"%s\"\n",
		    w->name, w->source, (unsigned long long)w->serial, w->lineage,
		    w->resource_count, w->last_error);
	}
	tfdrift__v1__state_notice__free_unpacked(n, NULL);
}

/* Prints one received message: header, decoded payload, raw bytes. */
static void
describe_message(int nth, const uint8_t *buf, size_t len)
{
	Tfdrift__V1__Envelope *env = tfdrift__v1__envelope__unpack(NULL, len, buf);

	printf("message %d: %zu bytes\n", nth, len);
	if (env == NULL) {
		printf("envelope: does not decode\n");
	} else {
		printf("envelope: type=%s schema_version=%u message_id=%s producer=%s\n",
		    enum_name(&tfdrift__v1__message_type__descriptor, env->type),
		    env->schema_version, env->message_id, env->producer);
		if (env->type == TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_STATE_NOTICE) {
			describe_notice(env->payload.data, env->payload.len);
		}
		tfdrift__v1__envelope__free_unpacked(env, NULL);
	}
	fputs("raw: ", stdout);
	for (size_t i = 0; i < len; i++) {
		if (buf[i] >= 0x20 && buf[i] < 0x7f && buf[i] != '\\') {
			putchar(buf[i]);
		} else {
			printf("\\x%02x", buf[i]);
		}
	}
	putchar('\n');
	fflush(stdout);
}

static int
do_sub(const poke *p)
{
	nng_socket s = NNG_SOCKET_INITIALIZER;
	nng_time deadline = nng_clock() + (nng_time)p->timeout_ms;
	atomic_int peers = 0;
	bool said = false;
	char *msg = NULL;
	size_t len = 0;
	int rv, got = 0, code = 1;

	if ((rv = nng_sub0_open(&s)) != 0) {
		fprintf(stderr, "tfdrift-bus-poke: sub socket: %s\n", nng_strerror(rv));
		return 1;
	}
	/* short receive timeouts: "connected" is printed between them */
	if ((rv = nng_socket_set(s, NNG_OPT_SUB_SUBSCRIBE, "", 0)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 50)) != 0 ||
	    (rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, on_pipe, &peers)) != 0 ||
	    (rv = nng_dial(s, p->url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		fprintf(stderr, "tfdrift-bus-poke: dial %s: %s\n", p->url, nng_strerror(rv));
		goto out;
	}
	while (got < p->count) {
		if (!said && atomic_load(&peers) > 0) {
			printf("connected\n");
			fflush(stdout);
			said = true;
		}
		rv = nng_recv(s, &msg, &len, NNG_FLAG_ALLOC);
		if (rv == 0) {
			describe_message(++got, (const uint8_t *)msg, len);
			nng_free(msg, len);
			continue;
		}
		if (rv != NNG_ETIMEDOUT) {
			fprintf(stderr, "tfdrift-bus-poke: receive: %s\n", nng_strerror(rv));
			goto out;
		}
		if (nng_clock() >= deadline) {
			fprintf(stderr, "tfdrift-bus-poke: %d of %d message(s) within %d ms\n", got,
			    p->count, p->timeout_ms);
			code = 3;
			goto out;
		}
	}
	code = 0;
out:
	nng_close(s);
	return code;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", no_argument, NULL, 'l' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "garbage", no_argument, NULL, 'g' },
		{ "newer-schema", no_argument, NULL, 's' },
		{ "cloudtrail", required_argument, NULL, 'c' },
		{ "go", required_argument, NULL, 'G' },
		{ "state-notice", required_argument, NULL, 'N' },
		{ "changed", required_argument, NULL, 'C' },
		{ "full", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	poke p = { .count = 1, .timeout_ms = 10000 };
	notice_spec ns = { 0 };
	int ch, code = 2;
	char *end;

	while ((ch = getopt_long(argc, argv, "ln:t:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'l': p.listen = true; break;
		case 'n':
			p.count = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || p.count < 1 || p.count > 1000000) {
				fprintf(stderr,
				    "tfdrift-bus-poke: --count: '%s' is not in 1..1000000\n",
				    optarg);
				goto out;
			}
			break;
		case 't':
			p.timeout_ms = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || p.timeout_ms < 1) {
				fprintf(stderr,
				    "tfdrift-bus-poke: --timeout: '%s' is not a number of ms\n",
				    optarg);
				goto out;
			}
			break;
		case 'g':
			free(p.data);
			p.len = sizeof(garbage);
			if ((p.data = malloc(p.len)) == NULL) {
				goto out;
			}
			memcpy(p.data, garbage, p.len);
			break;
		case 's':
			free(p.data);
			p.data = NULL;
			if (newer_schema(&p.data, &p.len) != 0) {
				goto out;
			}
			break;
		case 'c':
			free(p.data);
			p.data = NULL;
			if (cloudtrail_batch(optarg, &p.data, &p.len) != 0) {
				goto out;
			}
			break;
		case 'G': p.go = optarg; break;
		case 'N':
			ns.set = true;
			ns.generation = strtoull(optarg, &end, 10);
			if (*end != '\0' || optarg[0] < '0' || optarg[0] > '9') {
				fprintf(stderr,
				    "tfdrift-bus-poke: --state-notice: '%s' is not a generation\n",
				    optarg);
				goto out;
			}
			break;
		case 'C':
			if (ns.n_changed == MAX_CHANGED) {
				fprintf(stderr, "tfdrift-bus-poke: --changed: more than %d\n",
				    MAX_CHANGED);
				goto out;
			}
			ns.changed[ns.n_changed++] = optarg;
			break;
		case 'F': ns.full = true; break;
		case 'h':
			usage(stdout);
			code = 0;
			goto out;
		default: usage(stderr); goto out;
		}
	}
	if ((ns.n_changed > 0 || ns.full) && !ns.set) {
		fprintf(stderr, "tfdrift-bus-poke: --changed and --full go with --state-notice\n");
		goto out;
	}
	if (ns.set) {
		free(p.data);
		p.data = NULL;
		if (state_notice(&ns, &p.data, &p.len) != 0) {
			goto out;
		}
	}
	if (argc - optind < 2) {
		usage(stderr);
		goto out;
	}
	p.mode = argv[optind];
	p.url = argv[optind + 1];
	if (argc - optind == 3) {
		free(p.data);
		p.data = NULL;
		if (parse_hex(argv[optind + 2], &p.data, &p.len) != 0) {
			fprintf(stderr,
			    "tfdrift-bus-poke: '%s' is not an even number of hex digits\n",
			    argv[optind + 2]);
			goto out;
		}
	} else if (argc - optind != 2 || (p.data == NULL && strcmp(p.mode, "sub") != 0)) {
		usage(stderr);
		goto out;
	}

	if (strcmp(p.mode, "sub") == 0 && !p.listen && p.data == NULL) {
		code = do_sub(&p);
	} else if (strcmp(p.mode, "req") == 0) {
		code = do_req(&p);
	} else if (strcmp(p.mode, "pub") == 0 && !p.listen) {
		code = do_pub(&p);
	} else {
		usage(stderr);
	}
out:
	free(p.data);
	return code;
}
