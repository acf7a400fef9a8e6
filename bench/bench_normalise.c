/* bench_normalise.c — how fast ingest turns a CloudTrail log file into
 * CloudEvents: read (gzip), parse (cJSON), normalise, protobuf-encode.
 *
 *   bench_normalise FILE [ROUNDS]
 *
 * Prints records/s and MB/s of decompressed JSON for the whole path and for
 * parse-only, so the share of each step is visible. */
#include <stdio.h>
#include <stdlib.h>

#include "tfdrift/cloudtrail_file.h"
#include "tfdrift/cloudtrail_record.h"
#include "tfdrift/clock.h"
#include "tfdrift/log.h"

struct tally {
	size_t records;
	size_t bytes_out;
	size_t failed;
	int normalise;
};

static int
on_record(void *arg, const ct_file_record *rec)
{
	struct tally *t = arg;
	Tfdrift__V1__CloudEvent *ev = NULL;
	ct_record_ctx ctx = { .path = rec->path, .index = rec->index, .line = rec->line };

	t->records++;
	if (!t->normalise || rec->json == NULL)
		return 0;
	if (ct_record_normalise(rec->json, &ctx, &ev, NULL, NULL) != 0 || ev == NULL) {
		t->failed++;
		return 0;
	}
	size_t len = tfdrift__v1__cloud_event__get_packed_size(ev);
	uint8_t *buf = malloc(len);
	if (buf != NULL) {
		tfdrift__v1__cloud_event__pack(ev, buf);
		t->bytes_out += len;
	}
	free(buf);
	ct_event_free(ev);
	return 0;
}

static int
run(const char *path, int rounds, int normalise, const char *label)
{
	struct tally t = { .normalise = normalise };
	td_error err = { 0 };
	int64_t t0 = td_clock_mono_ms();

	for (int i = 0; i < rounds; i++) {
		if (ct_file_read(path, 0, on_record, &t, &err) != 0) {
			fprintf(stderr, "bench_normalise: %s\n", err.msg);
			return 1;
		}
	}
	double secs = (double)(td_clock_mono_ms() - t0) / 1000.0;
	if (secs <= 0)
		secs = 0.001;
	printf("normalise %-28s %9.0f records/s  (%zu records in %.2f s, %zu failed", label,
	    (double)t.records / secs, t.records, secs, t.failed);
	if (normalise)
		printf(", %.0f B protobuf/event", (double)t.bytes_out / (double)t.records);
	printf(")\n");
	return 0;
}

int
main(int argc, char **argv)
{
	int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 3;

	if (argc < 2 || rounds <= 0) {
		fprintf(stderr, "usage: bench_normalise FILE [ROUNDS]\n");
		return 2;
	}
	td_log_init("bench_normalise", TD_LOG_ERROR);
	if (run(argv[1], rounds, 0, "read+parse only:") != 0 ||
	    run(argv[1], rounds, 1, "read+parse+normalise+pack:") != 0)
		return 1;
	return 0;
}
