/* fuzz_cloudtrail_file.c — a CloudTrail log file: the first input byte picks
 * the path, the rest is the file.
 *   byte & 3 == 0: ct_file_parse on the bytes as they are (a `.json` file:
 *                  one Records document or JSON Lines);
 *   byte & 3 == 1: the bytes are the file, read through ct_file_read (gzip
 *                  detected from the content: corrupt and truncated gzip);
 *   byte & 3 >= 2: the bytes are gzip-compressed first, then read through
 *                  ct_file_read (a well-formed `.json.gz`);
 *   byte & 4:      ct_file_read with a 64-byte cap (the too-big path).
 * Files are memfds, so nothing is left behind.
 * Every record the reader hands over is normalised as replay would
 * (libcommon/src/domain/cloudtrail_file.c, cloudtrail_record.c), after
 * checking that its strings and member names are all valid UTF-8 (the reader
 * rejects a record whose text PostgreSQL would refuse). */
#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "fuzz.h"
#include "tfdrift/cloudtrail_file.h"
#include "tfdrift/cloudtrail_record.h"
#include "tfdrift/error.h"
#include "tfdrift/json_check.h"
#include "tfdrift/log.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	td_log_set_level(TD_LOG_OFF);
	return 0;
}

/* Whether every string and member name under v is valid UTF-8. */
static bool
text_ok(const cJSON *v)
{
	if (v->string != NULL && !td_utf8_text_ok(v->string, strlen(v->string))) {
		return false;
	}
	if (cJSON_IsString(v) && !td_utf8_text_ok(v->valuestring, strlen(v->valuestring))) {
		return false;
	}
	for (const cJSON *c = v->child; c != NULL; c = c->next) {
		if (!text_ok(c)) {
			return false;
		}
	}
	return true;
}

static int
on_record(void *arg, const ct_file_record *rec)
{
	size_t *count = arg;
	(*count)++;
	if (rec->json == NULL) {
		if (rec->reason == NULL) {
			abort(); /* a rejected record always says why */
		}
		return 0;
	}
	if (!text_ok(rec->json)) {
		abort(); /* a record with text PostgreSQL refuses got through */
	}
	ct_record_ctx ctx = { .path = rec->path,
		.index = rec->index,
		.line = rec->line,
		.received_at_ns = 1 };
	Tfdrift__V1__CloudEvent *ev = NULL;
	td_error err = { 0 };
	if (ct_record_normalise(rec->json, &ctx, &ev, NULL, &err) == 0) {
		ct_event_free(ev);
	}
	return 0;
}

/* Writes data as it is to a memfd; its /proc path in path.  -1 on failure. */
static int
raw_memfd(const uint8_t *data, size_t size, char *path, size_t pathlen)
{
	int fd = memfd_create("fuzz-cloudtrail", 0);
	if (fd < 0) {
		return -1;
	}
	snprintf(path, pathlen, "/proc/self/fd/%d", fd);
	if (size > 0 && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Writes data gzip-compressed to a memfd; its /proc path in path.  -1 on failure. */
static int
gz_memfd(const uint8_t *data, size_t size, char *path, size_t pathlen)
{
	int fd = memfd_create("fuzz-cloudtrail", 0);
	if (fd < 0) {
		return -1;
	}
	snprintf(path, pathlen, "/proc/self/fd/%d", fd);
	int dup_fd = dup(fd);
	gzFile gz = dup_fd >= 0 ? gzdopen(dup_fd, "wb") : NULL;
	if (gz == NULL) {
		if (dup_fd >= 0) {
			close(dup_fd);
		}
		close(fd);
		return -1;
	}
	/* gzwrite takes an unsigned length; inputs are far smaller */
	if (size > 0 && gzwrite(gz, data, (unsigned)size) != (int)size) {
		gzclose(gz);
		close(fd);
		return -1;
	}
	if (gzclose(gz) != Z_OK) {
		close(fd);
		return -1;
	}
	return fd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 20) {
		return 0;
	}
	uint8_t mode = data[0];
	data++;
	size--;
	size_t count = 0;
	td_error err = { 0 };
	if ((mode & 3) == 0) {
		(void)ct_file_parse("fuzz.json", (const char *)data, size, on_record, &count, &err);
		return 0;
	}
	char path[64];
	int fd = (mode & 3) == 1 ? raw_memfd(data, size, path, sizeof(path))
				 : gz_memfd(data, size, path, sizeof(path));
	if (fd < 0) {
		return 0;
	}
	(void)ct_file_read(path, (mode & 4) ? 64 : 0, on_record, &count, &err);
	close(fd);
	return 0;
}
