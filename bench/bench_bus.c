/* bench_bus.c — request/reply speed of the bus (NNG REQ/REP over loopback TCP,
 * protobuf envelopes), the path every event takes twice.
 *
 * Prints: sequential round-trip latency (p50/p99) and throughput with many
 * requests in flight, for single events and for batches of events shaped like
 * CloudTrail records (~1.9 KB each). */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tfdrift/bus.h"
#include "tfdrift/clock.h"
#include "tfdrift/log.h"
#include "tfdrift/v1/event.pb-c.h"

static int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port = -1;

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* Echo handler: decodes the batch (as a correlator would) and acks it. */
static int
handle(void *arg, const td_envelope *req, td_bus_reply *reply)
{
	Tfdrift__V1__CloudEventBatch *b;
	uint32_t n;

	(void)arg;
	b = tfdrift__v1__cloud_event_batch__unpack(NULL, req->payload.len, req->payload.data);
	if (b == NULL)
		return TD_EPROTO;
	n = (uint32_t)b->n_events;
	tfdrift__v1__cloud_event_batch__free_unpacked(b, NULL);
	reply->type = TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ACK;
	return td_bus_ack_encode(req->message_id, TFDRIFT__V1__ACK_STATUS__ACK_STATUS_OK, n, 0, 0,
	    NULL, &reply->payload, &reply->len);
}

/* Builds an encoded CloudEventBatch of n events (~1.9 KB each); caller frees *out. */
static int
make_batch(size_t n, uint8_t **out, size_t *len)
{
	static char req_json[1400];
	Tfdrift__V1__CloudEvent *evs = calloc(n, sizeof(*evs));
	Tfdrift__V1__CloudEvent **ptrs = calloc(n, sizeof(*ptrs));
	Tfdrift__V1__CloudEventBatch b = TFDRIFT__V1__CLOUD_EVENT_BATCH__INIT;
	int rv = TD_ENOMEM;

	if (evs == NULL || ptrs == NULL)
		goto out;
	memset(req_json, 'x', sizeof(req_json) - 1);
	for (size_t i = 0; i < n; i++) {
		tfdrift__v1__cloud_event__init(&evs[i]);
		evs[i].event_id = "3f0c2a4e-8b7d-4f5e-9a1b-2c3d4e5f6a7b";
		evs[i].event_source = "ec2.amazonaws.com";
		evs[i].event_name = "ModifyInstanceAttribute";
		evs[i].aws_region = "eu-west-1";
		evs[i].user_agent = "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.debian.12";
		evs[i].request_parameters_json = req_json;
		ptrs[i] = &evs[i];
	}
	b.n_events = n;
	b.events = ptrs;
	*len = tfdrift__v1__cloud_event_batch__get_packed_size(&b);
	*out = malloc(*len);
	if (*out == NULL)
		goto out;
	tfdrift__v1__cloud_event_batch__pack(&b, *out);
	rv = 0;
out:
	free(evs);
	free(ptrs);
	return rv;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

struct load {
	td_bus_req *req;
	const uint8_t *payload;
	size_t len;
	int count;
	int failures;
};

static void *
load_thread(void *p)
{
	struct load *l = p;

	for (int i = 0; i < l->count; i++) {
		td_envelope *rep = NULL;
		if (td_bus_request(l->req,
			TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_CLOUD_EVENT_BATCH, l->payload,
			l->len, NULL, 10000, &rep) != 0)
			l->failures++;
		td_bus_envelope_free(rep);
	}
	return NULL;
}

static void
throughput(td_bus_req *req, size_t batch, int threads, int per_thread)
{
	uint8_t *payload = NULL;
	size_t len = 0;
	pthread_t tid[64];
	struct load l[64];
	int64_t t0, t1;
	int failures = 0;

	if (make_batch(batch, &payload, &len) != 0)
		return;
	t0 = td_clock_mono_ms();
	for (int i = 0; i < threads; i++) {
		l[i] = (struct load){ .req = req,
			.payload = payload,
			.len = len,
			.count = per_thread };
		pthread_create(&tid[i], NULL, load_thread, &l[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		failures += l[i].failures;
	}
	t1 = td_clock_mono_ms();
	double secs = (double)(t1 - t0) / 1000.0;
	double reqs = (double)threads * per_thread;
	printf("bus throughput: batch=%-4zu in_flight=%-3d %8.0f requests/s %9.0f events/s "
	       "%6.1f MB/s (failures %d)\n",
	    batch, threads, reqs / secs, reqs * (double)batch / secs,
	    reqs * (double)len / secs / 1e6, failures);
	free(payload);
}

int
main(void)
{
	char url[64];
	td_bus_rep *rep = NULL;
	td_bus_req *req = NULL;
	uint8_t *payload = NULL;
	size_t len = 0;
	enum {
		N = 5000
	};
	static int64_t lat_us[N];
	int rv = 1;

	td_log_init("bench_bus", TD_LOG_WARN);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", free_port());
	td_bus_rep_opts o = { .name = "bench.rep",
		.url = url,
		.listen = true,
		.workers = 8,
		.handler = handle };
	if (td_bus_rep_start(&rep, &o, NULL) != 0 ||
	    td_bus_req_open(&req, "bench.req", url, false, 30000, NULL) != 0) {
		fprintf(stderr, "bench_bus: cannot open sockets\n");
		goto out;
	}
	while (td_bus_req_peers(req) == 0)
		usleep(1000);

	if (make_batch(1, &payload, &len) != 0)
		goto out;
	for (int i = 0; i < N; i++) {
		td_envelope *r = NULL;
		int64_t t0 = td_clock_now_ns();
		if (td_bus_request(req, TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_CLOUD_EVENT_BATCH,
			payload, len, NULL, 10000, &r) != 0) {
			fprintf(stderr, "bench_bus: request failed\n");
			goto out;
		}
		lat_us[i] = (td_clock_now_ns() - t0) / 1000;
		td_bus_envelope_free(r);
	}
	qsort(lat_us, N, sizeof(lat_us[0]), cmp_i64);
	printf("bus round trip (1 event, %zu B, sequential): p50 %lld us, p99 %lld us\n", len,
	    (long long)lat_us[N / 2], (long long)lat_us[N * 99 / 100]);

	throughput(req, 1, 1, 5000);
	throughput(req, 1, 32, 500);
	throughput(req, 10, 32, 300);
	throughput(req, 100, 16, 60);
	rv = 0;
out:
	free(payload);
	td_bus_req_close(req);
	td_bus_rep_stop(rep);
	return rv;
}
