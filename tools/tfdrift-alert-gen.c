/* tfdrift-alert-gen — sends synthetic DriftAlerts to persistence, and listens
 * to what it publishes; for tests and benchmarks.
 *
 *   tfdrift-alert-gen send URL [--count N] [--batch B] [--in-flight K]
 *                     [--seed S] [--first I] [--bad I]... [--rate R] [--timeout MS]
 *                     [--resources R]
 *   tfdrift-alert-gen sub URL [--idle MS] [--max MS]
 *
 * send: dials URL (persistence.work_listen) with a tfdrift REQ socket and sends
 * alerts I..I+N-1 (default 0..N-1) as ALERT_BATCH requests of B alerts, K
 * requests in flight, each waiting for its Ack (the REQ socket resends after
 * 2 s and at once when the peer reconnects).  Alert i has alert_key
 * "k-S-i", event_id "ev-S-i" and fields varying with i; the same S and i
 * always give the same alert.  --bad I makes alert I one PostgreSQL refuses
 * (its workspace is not valid UTF-8).  --rate R paces requests to R alerts/s
 * (default: as fast as the Acks come).  --resources R: alert i is about
 * aws_instance.web[i % R] (default 50).  Prints one line:
 *   requests=.. ok=.. rejected=.. failed=.. accepted=.. duplicates=..
 *   produced=.. elapsed_ms=.. alerts_per_s=.. p50_ms=.. p99_ms=.. max_ms=..
 * Exit 0 when every request got an Ack OK.
 *
 * sub: subscribes to URL (persistence.alerts_pub_listen) and prints the
 * alert_key of every committed alert, one a line, until nothing arrived for
 * --idle MS (default 3000) after the first message, or --max MS passed. */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tfdrift/bus.h"
#include "tfdrift/clock.h"
#include "tfdrift/log.h"
#include "tfdrift/v1/alert.pb-c.h"

#define MAX_BAD 64

typedef struct gen {
	const char *url;
	long count, batch, first;
	int in_flight;
	long seed;
	long bad[MAX_BAD];
	int nbad;
	double rate;
	int timeout_ms;
	long resources;

	td_bus_req *req;
	atomic_long next; /* next request index */
	long nreq;
	int64_t t0_ms;
	double *lat_ms; /* per request */
	atomic_long ok, rejected, failed, accepted, duplicates, produced;
} gen;

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: tfdrift-alert-gen send URL [--count N] [--batch B] [--in-flight K]\n"
	    "                         [--seed S] [--first I] [--bad I]... [--rate R] "
	    "[--timeout MS] [--resources R]\n"
	    "       tfdrift-alert-gen sub URL [--idle MS] [--max MS]\n");
}

static long
num(const char *s)
{
	return strtol(s, NULL, 10);
}

static bool
is_bad(const gen *g, long i)
{
	for (int k = 0; k < g->nbad; k++) {
		if (g->bad[k] == i) {
			return true;
		}
	}
	return false;
}

static const char *const services[] = { "ec2", "s3", "iam", "rds", "lambda" };
static const char *const principals[] = { "alice", "bob", "carol", "deploy-bot" };

/* Packs request r (alerts first+r*batch ..) into *buf (malloc'd; caller frees). */
static int
build(const gen *g, long r, uint8_t **buf, size_t *len)
{
	long lo = g->first + r * g->batch;
	long hi = lo + g->batch;
	if (hi > g->first + g->count) {
		hi = g->first + g->count;
	}
	size_t n = (size_t)(hi - lo);
	Tfdrift__V1__DriftAlert *a = calloc(n, sizeof(*a));
	Tfdrift__V1__DriftAlert **p = calloc(n, sizeof(*p));
	Tfdrift__V1__Principal *pr = calloc(n, sizeof(*pr));
	Tfdrift__V1__AttributeChange *ch = calloc(n, sizeof(*ch));
	Tfdrift__V1__AttributeChange **chp = calloc(n, sizeof(*chp));
	char(*keys)[64] = calloc(n, sizeof(*keys));
	char(*eids)[64] = calloc(n, sizeof(*eids));
	char(*addrs)[64] = calloc(n, sizeof(*addrs));
	char(*news)[32] = calloc(n, sizeof(*news));
	int rv = -1;
	if (a == NULL || p == NULL || pr == NULL || ch == NULL || chp == NULL || keys == NULL ||
	    eids == NULL || addrs == NULL || news == NULL) {
		goto out;
	}
	int64_t now = td_clock_now_ns();
	for (size_t k = 0; k < n; k++) {
		long i = lo + (long)k;
		tfdrift__v1__drift_alert__init(&a[k]);
		tfdrift__v1__principal__init(&pr[k]);
		tfdrift__v1__attribute_change__init(&ch[k]);
		snprintf(keys[k], sizeof(keys[k]), "k-%ld-%ld", g->seed, i);
		snprintf(eids[k], sizeof(eids[k]), "ev-%ld-%ld", g->seed, i);
		snprintf(addrs[k], sizeof(addrs[k]), "aws_instance.web[%ld]", i % g->resources);
		snprintf(news[k], sizeof(news[k]), "\"t3.%ld\"", i % 7);
		a[k].alert_key = keys[k];
		a[k].event_id = eids[k];
		a[k].event_time_ns = now - (int64_t)(i % 3600) * 1000000000LL;
		a[k].detected_at_ns = now;
		a[k].workspace = is_bad(g, i) ? "bad-\xff\xfe-workspace" : "prod/app";
		a[k].resource_address = addrs[k];
		a[k].resource_type = "aws_instance";
		a[k].kind = i % 5 == 4 ? TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_UNMANAGED
				       : TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DRIFT;
		a[k].attribute = "instance_type";
		a[k].severity = (Tfdrift__V1__Severity)(1 + i % 5);
		pr[k].type = "AssumedRole";
		pr[k].name = (char *)principals[i % 4];
		pr[k].arn = "arn:aws:sts::123456789012:assumed-role/admin/x";
		a[k].principal = &pr[k];
		ch[k].path = "instance_type";
		ch[k].old_json = "\"t3.micro\"";
		ch[k].new_json = news[k];
		chp[k] = &ch[k];
		a[k].n_changes = 1;
		a[k].changes = &chp[k];
		a[k].service = (char *)services[i % 5];
		a[k].region = "eu-west-1";
		a[k].account_id = "123456789012";
		a[k].event_name = "ModifyInstanceAttribute";
		a[k].event_source = "ec2.amazonaws.com";
		a[k].source_ip = "203.0.113.7";
		a[k].raw_event_json = "{\"eventName\":\"ModifyInstanceAttribute\"}";
		p[k] = &a[k];
	}
	Tfdrift__V1__AlertBatch b = TFDRIFT__V1__ALERT_BATCH__INIT;
	b.n_alerts = n;
	b.alerts = p;
	*len = tfdrift__v1__alert_batch__get_packed_size(&b);
	if ((*buf = malloc(*len ? *len : 1)) == NULL) {
		goto out;
	}
	tfdrift__v1__alert_batch__pack(&b, *buf);
	rv = 0;
out:
	free(a);
	free(p);
	free(pr);
	free(ch);
	free(chp);
	free(keys);
	free(eids);
	free(addrs);
	free(news);
	return rv;
}

static void
sleep_until_ms(int64_t at)
{
	int64_t now = td_clock_mono_ms();
	if (at > now) {
		struct timespec ts = { (at - now) / 1000, (long)((at - now) % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
}

static void *
sender(void *arg)
{
	gen *g = arg;
	for (;;) {
		long r = atomic_fetch_add(&g->next, 1);
		if (r >= g->nreq) {
			break;
		}
		if (g->rate > 0) {
			sleep_until_ms(
			    g->t0_ms + (int64_t)((double)(r * g->batch) * 1000.0 / g->rate));
		}
		uint8_t *buf = NULL;
		size_t len = 0;
		if (build(g, r, &buf, &len) != 0) {
			atomic_fetch_add(&g->failed, 1);
			continue;
		}
		int64_t t0 = td_clock_mono_ms();
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		td_envelope *reply = NULL;
		int rv = td_bus_request(g->req, TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ALERT_BATCH,
		    buf, len, NULL, g->timeout_ms, &reply);
		clock_gettime(CLOCK_MONOTONIC, &b);
		(void)t0;
		g->lat_ms[r] = (double)(b.tv_sec - a.tv_sec) * 1e3 +
		    (double)(b.tv_nsec - a.tv_nsec) / 1e6;
		free(buf);
		Tfdrift__V1__Ack *ack = NULL;
		if (rv == 0 && reply->type == TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ACK) {
			ack = tfdrift__v1__ack__unpack(NULL, reply->payload.len,
			    reply->payload.data);
		}
		if (ack == NULL) {
			atomic_fetch_add(&g->failed, 1);
		} else if (ack->status == TFDRIFT__V1__ACK_STATUS__ACK_STATUS_OK) {
			atomic_fetch_add(&g->ok, 1);
			atomic_fetch_add(&g->accepted, (long)ack->accepted);
			atomic_fetch_add(&g->duplicates, (long)ack->duplicates);
			atomic_fetch_add(&g->produced, (long)ack->produced);
			if (ack->error != NULL && *ack->error != '\0') {
				fprintf(stderr, "ack note: %s\n", ack->error);
			}
		} else {
			atomic_fetch_add(&g->rejected, 1);
			fprintf(stderr, "rejected: %s\n", ack->error != NULL ? ack->error : "");
		}
		tfdrift__v1__ack__free_unpacked(ack, NULL);
		td_bus_envelope_free(reply);
	}
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int
run_send(gen *g)
{
	td_error err = { 0 };
	int rv = 1;
	pthread_t *th = NULL;
	g->nreq = (g->count + g->batch - 1) / g->batch;
	g->lat_ms = calloc((size_t)(g->nreq ? g->nreq : 1), sizeof(double));
	th = calloc((size_t)g->in_flight, sizeof(*th));
	if (g->lat_ms == NULL || th == NULL) {
		goto out;
	}
	if (td_bus_req_open(&g->req, "alert-gen", g->url, false, 2000, &err) != 0) {
		fprintf(stderr, "tfdrift-alert-gen: %s\n", err.msg);
		goto out;
	}
	g->t0_ms = td_clock_mono_ms();
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int started = 0;
	for (; started < g->in_flight; started++) {
		if (pthread_create(&th[started], NULL, sender, g) != 0) {
			break;
		}
	}
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	qsort(g->lat_ms, (size_t)g->nreq, sizeof(double), cmp_double);
	double p50 = g->nreq ? g->lat_ms[(g->nreq - 1) / 2] : 0;
	double p99 = g->nreq ? g->lat_ms[(long)((double)(g->nreq - 1) * 0.99)] : 0;
	double mx = g->nreq ? g->lat_ms[g->nreq - 1] : 0;
	printf("requests=%ld ok=%ld rejected=%ld failed=%ld accepted=%ld duplicates=%ld "
	       "produced=%ld elapsed_ms=%.0f alerts_per_s=%.0f p50_ms=%.2f p99_ms=%.2f "
	       "max_ms=%.2f\n",
	    g->nreq, atomic_load(&g->ok), atomic_load(&g->rejected), atomic_load(&g->failed),
	    atomic_load(&g->accepted), atomic_load(&g->duplicates), atomic_load(&g->produced), ms,
	    ms > 0 ? (double)g->count * 1000.0 / ms : 0, p50, p99, mx);
	rv = atomic_load(&g->ok) == g->nreq ? 0 : 1;
out:
	td_bus_req_close(g->req);
	free(th);
	free(g->lat_ms);
	return rv;
}

typedef struct sub_state {
	pthread_mutex_t mu;
	int64_t last_ms;
	long seen;
} sub_state;

static void
on_alerts(void *arg, const td_envelope *env)
{
	sub_state *s = arg;
	if (env->type != TFDRIFT__V1__MESSAGE_TYPE__MESSAGE_TYPE_ALERT_COMMITTED) {
		return;
	}
	Tfdrift__V1__AlertBatch *b = tfdrift__v1__alert_batch__unpack(NULL, env->payload.len,
	    env->payload.data);
	if (b == NULL) {
		return;
	}
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < b->n_alerts; i++) {
		printf("%s\n", b->alerts[i]->alert_key);
	}
	fflush(stdout);
	s->seen += (long)b->n_alerts;
	s->last_ms = td_clock_mono_ms();
	pthread_mutex_unlock(&s->mu);
	tfdrift__v1__alert_batch__free_unpacked(b, NULL);
}

static int
run_sub(const char *url, int idle_ms, int max_ms)
{
	sub_state s = { .last_ms = 0 };
	td_bus_sub *sub = NULL;
	td_error err = { 0 };
	pthread_mutex_init(&s.mu, NULL);
	if (td_bus_sub_open(&sub, "alert-gen.sub", url, on_alerts, &s, &err) != 0) {
		fprintf(stderr, "tfdrift-alert-gen: %s\n", err.msg);
		return 1;
	}
	int64_t start = td_clock_mono_ms();
	for (;;) {
		struct timespec ts = { 0, 50 * 1000000L };
		nanosleep(&ts, NULL);
		int64_t now = td_clock_mono_ms();
		pthread_mutex_lock(&s.mu);
		int64_t last = s.last_ms;
		pthread_mutex_unlock(&s.mu);
		if (last != 0 && now - last >= idle_ms) {
			break;
		}
		if (max_ms > 0 && now - start >= max_ms) {
			break;
		}
	}
	td_bus_sub_close(sub);
	pthread_mutex_destroy(&s.mu);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "batch", required_argument, NULL, 'b' },
		{ "in-flight", required_argument, NULL, 'k' },
		{ "seed", required_argument, NULL, 's' },
		{ "first", required_argument, NULL, 'f' },
		{ "bad", required_argument, NULL, 'x' },
		{ "rate", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "idle", required_argument, NULL, 'i' },
		{ "max", required_argument, NULL, 'm' },
		{ "resources", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	gen g = { .count = 1000,
		.batch = 100,
		.in_flight = 4,
		.seed = 1,
		.timeout_ms = 120000,
		.resources = 50 };
	int idle = 3000, maxms = 0, c;
	td_log_init("tfdrift-alert-gen", TD_LOG_WARN);
	td_log_set_fd(2);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': g.count = num(optarg); break;
		case 'b': g.batch = num(optarg); break;
		case 'k': g.in_flight = (int)num(optarg); break;
		case 's': g.seed = num(optarg); break;
		case 'f': g.first = num(optarg); break;
		case 'x':
			if (g.nbad < MAX_BAD) {
				g.bad[g.nbad++] = num(optarg);
			}
			break;
		case 'r': g.rate = strtod(optarg, NULL); break;
		case 't': g.timeout_ms = (int)num(optarg); break;
		case 'i': idle = (int)num(optarg); break;
		case 'm': maxms = (int)num(optarg); break;
		case 'R': g.resources = num(optarg) > 0 ? num(optarg) : 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 2 || g.count < 1 || g.batch < 1 || g.in_flight < 1) {
		usage(stderr);
		return 2;
	}
	g.url = argv[optind + 1];
	if (strcmp(argv[optind], "send") == 0) {
		return run_send(&g);
	}
	if (strcmp(argv[optind], "sub") == 0) {
		return run_sub(g.url, idle, maxms);
	}
	usage(stderr);
	return 2;
}
