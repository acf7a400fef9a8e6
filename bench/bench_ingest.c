/* bench_ingest.c — ingest's Falco HTTP path, in one process, printing figures.
 *
 *   bench_ingest ALERTS_JSONL [SECONDS]
 *
 *   1. cJSON_Parse alone over the alerts (the parse-only ceiling)
 *   2. falco_alert_parse (Falco JSON -> CloudEvent) and packing
 *   3. journal appends (fsync interval 100 ms, as configured by default)
 *   4. HTTP: the real receiver (libmicrohttpd) + journal + hand-off; 4 client
 *      threads on keep-alive connections (libcurl) post alerts as fast as 202s
 *      come back; alerts/s and the ratio to 1.
 *   5. HTTP at a paced 2,000 alerts/s from one connection: accept latency p50/p99.
 * Phases 1-3 are timed by the thread's CPU time (steady on a shared machine).
 * No correlator is connected: accepted alerts stay in the journal (a 4 GiB
 * bound), which is what "accept" means.  Asserts nothing. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tfdrift/cloudtrail_record.h"
#include "tfdrift/falco_alert.h"
#include "../services/ingest/falco_http.h"
#include "../services/ingest/forwarder.h"
#include "../services/ingest/handoff.h"
#include "../services/ingest/journal.h"
#include "tfdrift/clock.h"
#include "tfdrift/log.h"

static char **alerts;
static size_t nalerts;
static int port;
static int64_t deadline_ms;
static atomic_ulong posted;
static atomic_llong client_cpu_ns; /* the flood threads' own CPU */

static double
secs_since(int64_t t0_ns)
{
	return (double)(td_clock_now_ns() - t0_ns) / 1e9;
}

static int64_t cpu_now_ns(void);

/* This process's CPU time (all threads). */
static int64_t
process_cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
	    ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

/* This thread's CPU time: the single-thread phases are timed by it, so other
 * work on a shared machine does not change their figures. */
static int64_t
cpu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double
cpu_secs_since(int64_t t0_ns)
{
	return (double)(cpu_now_ns() - t0_ns) / 1e9;
}

static size_t
discard(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

static CURL *
client(struct curl_slist **hdr)
{
	CURL *c = curl_easy_init();
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/falco/events", port);
	*hdr = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	return c;
}

static void *
flood(void *arg)
{
	struct curl_slist *hdr;
	CURL *c = client(&hdr);
	size_t i = (size_t)(uintptr_t)arg;

	while (td_clock_mono_ms() < deadline_ms) {
		long code = 0;
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, alerts[i % nalerts]);
		if (curl_easy_perform(c) == CURLE_OK &&
		    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 202)
			atomic_fetch_add(&posted, 1);
		i += 7;
	}
	atomic_fetch_add(&client_cpu_ns, cpu_now_ns());
	curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	return NULL;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int
load(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL)
		return -1;
	while ((n = getline(&line, &cap, f)) > 0) {
		char **g = realloc(alerts, (nalerts + 1) * sizeof(*g));
		if (g == NULL)
			break;
		alerts = g;
		while (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		alerts[nalerts++] = strdup(line);
	}
	free(line);
	fclose(f);
	return nalerts > 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	int secs = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 3;
	char dir[] = "/tmp/bench-ingest.XXXXXX";
	double parse_rate, t;
	int64_t t0;
	jrn *j = NULL;
	fwd *f = NULL;
	hand *h = NULL;
	falco_http *srv = NULL;
	td_error err;
	size_t done = 0;

	if (argc < 2 || load(argv[1]) != 0) {
		fprintf(stderr, "usage: bench_ingest ALERTS_JSONL [SECONDS]\n");
		return 2;
	}
	td_log_init("bench_ingest", TD_LOG_ERROR);
	td_error_clear(&err);

	/* 1. parse only */
	t0 = cpu_now_ns();
	for (done = 0; cpu_secs_since(t0) < 1.0; done++)
		cJSON_Delete(cJSON_Parse(alerts[done % nalerts]));
	parse_rate = (double)done / cpu_secs_since(t0);
	printf("ingest: cJSON_Parse alone            %10.0f alerts/s (per CPU-second, 1 thread)\n",
	    parse_rate);

	/* 2. Falco JSON -> CloudEvent -> packed */
	t0 = cpu_now_ns();
	for (done = 0; cpu_secs_since(t0) < 1.0; done++) {
		Tfdrift__V1__CloudEvent *ev = NULL;
		const char *a = alerts[done % nalerts];
		if (falco_alert_parse(a, strlen(a),
			TFDRIFT__V1__EVENT_ORIGIN__EVENT_ORIGIN_FALCO_HTTP, "bench", &ev, NULL, 0,
			&err) == 0) {
			uint8_t buf[16384];
			if (tfdrift__v1__cloud_event__get_packed_size(ev) <= sizeof(buf))
				tfdrift__v1__cloud_event__pack(ev, buf);
		}
		ct_event_free(ev);
	}
	t = (double)done / cpu_secs_since(t0);
	printf(
	    "ingest: falco_alert_parse + pack     %10.0f alerts/s (%.0f%% of parse-only; %.1f us "
	    "CPU per alert)\n",
	    t, 100.0 * t / parse_rate, 1e6 / t);

	if (mkdtemp(dir) == NULL)
		return 1;
	{
		jrn_opts jo = { .dir = dir,
			.max_bytes = 4ULL << 30,
			.segment_bytes = 64 << 20,
			.fsync = JRN_FSYNC_INTERVAL,
			.fsync_interval_ms = 100 };
		fwd_opts fo = { .work_url = "tcp://127.0.0.1:0", .resend_ms = 30000 };
		falco_http_opts ho = { .bind = "127.0.0.1",
			.port = 0,
			.max_body = 1 << 20,
			.threads = 2 };
		uint64_t seq;

		if (jrn_open(&j, &jo, &err) != 0 || fwd_open(&f, &fo, &err) != 0) {
			fprintf(stderr, "bench_ingest: %s\n", err.msg);
			return 1;
		}
		/* 3. journal appends */
		t0 = td_clock_now_ns();
		for (done = 0; secs_since(t0) < 1.0; done++)
			if (jrn_append(j, (const uint8_t *)alerts[done % nalerts],
				strlen(alerts[done % nalerts]), &seq) == 0)
				(void)jrn_release(j, seq);
		printf(
		    "ingest: journal append+release       %10.0f records/s (fsync every 100 ms)\n",
		    (double)done / secs_since(t0));

		if (hand_open(&h, j, f, 1, 100, &err) != 0 ||
		    falco_http_start(&srv, &ho, h, &err) != 0) {
			fprintf(stderr, "bench_ingest: %s\n", err.msg);
			return 1;
		}
		port = falco_http_port(srv);
	}

	/* 4. HTTP flood, 4 keep-alive connections */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	{
		pthread_t th[4];
		int64_t p0 = process_cpu_ns(), main0 = cpu_now_ns(), server;
		unsigned long n;

		deadline_ms = td_clock_mono_ms() + (int64_t)secs * 1000;
		t0 = td_clock_now_ns();
		for (int i = 0; i < 4; i++)
			pthread_create(&th[i], NULL, flood, (void *)(uintptr_t)i);
		for (int i = 0; i < 4; i++)
			pthread_join(th[i], NULL);
		n = atomic_load(&posted);
		t = (double)n / secs_since(t0);
		/* the receiver's threads: the process less the clients and this one */
		server = process_cpu_ns() - p0 - atomic_load(&client_cpu_ns) -
		    (cpu_now_ns() - main0);
		printf(
		    "ingest: HTTP POST -> 202 (journaled) %10.0f alerts/s, 4 keep-alive connections "
		    "(%.0f%% of parse-only)\n",
		    t, 100.0 * t / parse_rate);
		if (n > 0)
			printf(
			    "ingest: HTTP receiver CPU per alert    %10.1f us (libcurl clients: %.1f us; "
			    "same process, same 2 cores)\n",
			    (double)server / 1e3 / (double)n,
			    (double)atomic_load(&client_cpu_ns) / 1e3 / (double)n);
	}

	/* 5. paced 2,000/s: accept latency */
	{
		struct curl_slist *hdr;
		CURL *c = client(&hdr);
		size_t n = (size_t)secs * 2000;
		double *lat = calloc(n, sizeof(*lat));
		int64_t start = td_clock_now_ns();

		for (size_t i = 0; i < n; i++) {
			int64_t due = start + (int64_t)i * 500000, now;
			while ((now = td_clock_now_ns()) < due) {
				struct timespec ts = { 0, due - now };
				nanosleep(&ts, NULL);
			}
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, alerts[i % nalerts]);
			t0 = td_clock_now_ns();
			(void)curl_easy_perform(c);
			lat[i] = secs_since(t0) * 1000.0;
		}
		qsort(lat, n, sizeof(*lat), cmp_d);
		printf(
		    "ingest: HTTP accept latency at 2000 alerts/s: p50 %.2f ms, p99 %.2f ms, max "
		    "%.2f ms\n",
		    lat[n / 2], lat[n * 99 / 100], lat[n - 1]);
		free(lat);
		curl_easy_cleanup(c);
		curl_slist_free_all(hdr);
	}
	curl_global_cleanup();
	falco_http_stop(srv);
	hand_close(h);
	fwd_close(f);
	jrn_close(j);
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_ingest: could not remove %s\n", dir);
	}
	for (size_t i = 0; i < nalerts; i++)
		free(alerts[i]);
	free(alerts);
	return 0;
}
