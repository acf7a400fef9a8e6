/* test_journal.c — the ingest journal on a real temporary directory: append,
 * read back, release, restart, bounds, and corrupt / torn records. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../services/ingest/journal.h"
#include "tfdrift/error.h"
#include "tfdrift/metrics.h"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tfdrift-jrn.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static jrn *
open_j(uint64_t max, uint64_t seg, jrn_fsync fs)
{
	jrn_opts o = { .dir = dir,
		.max_bytes = max,
		.segment_bytes = seg,
		.fsync = fs,
		.fsync_interval_ms = 10 };
	td_error err;
	jrn *j = NULL;

	td_error_clear(&err);
	assert_int_equal(jrn_open(&j, &o, &err), 0);
	return j;
}

static void
payload(char *buf, size_t len, uint64_t i)
{
	snprintf(buf, len, "event-%06llu-payload", (unsigned long long)i);
}

static size_t
count_segments(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "seg-", 4) == 0)
			n++;
	closedir(d);
	return n;
}

/* The path of the only (or lowest-numbered) non-empty segment file. */
static void
first_segment(char *path, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char best[256] = "";

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		char p[512];
		if (strncmp(de->d_name, "seg-", 4) != 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (stat(p, &st) == 0 && st.st_size > 0 &&
		    (best[0] == '\0' || strcmp(de->d_name, best) < 0))
			snprintf(best, sizeof(best), "%s", de->d_name);
	}
	closedir(d);
	assert_true(best[0] != '\0');
	snprintf(path, len, "%s/%s", dir, best);
}

static void
append_read_release(void **state)
{
	jrn *j = open_j(1 << 20, 4096, JRN_FSYNC_ALWAYS);
	uint64_t seq[5];
	char buf[64];
	uint8_t *data;
	size_t len;

	(void)state;
	for (uint64_t i = 0; i < 5; i++) {
		payload(buf, sizeof(buf), i);
		assert_int_equal(jrn_append(j, (const uint8_t *)buf, strlen(buf), &seq[i]), 0);
		if (i > 0)
			assert_true(seq[i] > seq[i - 1]);
	}
	assert_int_equal(jrn_pending(j), 5);
	assert_int_equal(jrn_read(j, seq[3], &data, &len), 0);
	payload(buf, sizeof(buf), 3);
	assert_int_equal(len, strlen(buf));
	assert_memory_equal(data, buf, len);
	free(data);
	assert_int_equal(jrn_release(j, seq[3]), 0);
	assert_int_equal(jrn_release(j, seq[3]), TD_ENOTFOUND);
	assert_int_equal(jrn_read(j, seq[3], &data, &len), TD_ENOTFOUND);
	assert_int_equal(jrn_pending(j), 4);
	jrn_close(j);
}

static void
restart_resends_only_unreleased_segments(void **state)
{
	/* small segments: 10 entries of ~44 bytes each fill several */
	jrn *j = open_j(1 << 20, 128, JRN_FSYNC_OFF);
	uint64_t seq[10], *rec = NULL;
	size_t n = 0;
	char buf[64];

	(void)state;
	for (uint64_t i = 0; i < 10; i++) {
		payload(buf, sizeof(buf), i);
		assert_int_equal(jrn_append(j, (const uint8_t *)buf, strlen(buf), &seq[i]), 0);
	}
	/* release the first six: whole segments among them are deleted */
	for (int i = 0; i < 6; i++)
		assert_int_equal(jrn_release(j, seq[i]), 0);
	jrn_close(j);

	j = open_j(1 << 20, 128, JRN_FSYNC_OFF);
	assert_int_equal(jrn_recovered(j, &rec, &n), 0);
	/* every unreleased entry is back; released ones only if they shared a
	 * segment with an unreleased one (at-least-once) */
	assert_true(n >= 4 && n <= 10);
	for (int i = 6; i < 10; i++) {
		int found = 0;
		for (size_t k = 0; k < n; k++)
			found |= rec[k] == seq[i];
		assert_true(found);
	}
	assert_true(n < 10); /* released whole segments did not come back */
	for (size_t k = 0; k < n; k++) {
		uint8_t *data;
		size_t len;
		assert_int_equal(jrn_read(j, rec[k], &data, &len), 0);
		assert_true(len > 0 && memcmp(data, "event-", 6) == 0);
		free(data);
	}
	/* new appends get higher sequence numbers than anything recovered */
	{
		uint64_t s;
		assert_int_equal(jrn_append(j, (const uint8_t *)"x", 1, &s), 0);
		assert_true(s > seq[9]);
	}
	free(rec);
	jrn_close(j);
}

static void
bounded_then_room_after_release(void **state)
{
	/* each record: 24-byte header + 20 bytes; 64-byte segments hold one */
	jrn *j = open_j(200, 64, JRN_FSYNC_OFF);
	uint64_t seq[8];
	char buf[64];
	int accepted = 0, rv = 0;

	(void)state;
	while (accepted < 8) {
		payload(buf, sizeof(buf), (uint64_t)accepted);
		rv = jrn_append(j, (const uint8_t *)buf, 20, &seq[accepted]);
		if (rv != 0)
			break;
		accepted++;
	}
	assert_int_equal(rv, TD_EBUSY);
	assert_true(accepted >= 3 && accepted <= 4);
	assert_true(jrn_bytes(j) <= 200);
	assert_int_equal(jrn_append(j, (const uint8_t *)buf, 300, &seq[7]), TD_ETOOBIG);
	/* releasing the oldest frees its segment, and there is room again */
	assert_int_equal(jrn_release(j, seq[0]), 0);
	assert_int_equal(jrn_append(j, (const uint8_t *)buf, 20, &seq[7]), 0);
	assert_true(jrn_bytes(j) <= 200);
	jrn_close(j);
}

static void
fully_released_journal_leaves_no_data(void **state)
{
	jrn *j = open_j(1 << 20, 100, JRN_FSYNC_INTERVAL);
	uint64_t seq[20], *rec = NULL;
	size_t n = 99;
	char buf[64];

	(void)state;
	for (uint64_t i = 0; i < 20; i++) {
		payload(buf, sizeof(buf), i);
		assert_int_equal(jrn_append(j, (const uint8_t *)buf, strlen(buf), &seq[i]), 0);
	}
	for (int i = 19; i >= 0; i--)
		assert_int_equal(jrn_release(j, seq[i]), 0);
	assert_int_equal(jrn_pending(j), 0);
	assert_true(count_segments() <= 1); /* only the active one */
	jrn_close(j);
	/* a clean close leaves no fully released segment behind */
	assert_int_equal(count_segments(), 0);
	j = open_j(1 << 20, 100, JRN_FSYNC_INTERVAL);
	assert_int_equal(jrn_recovered(j, &rec, &n), 0);
	assert_int_equal(n, 0);
	free(rec);
	jrn_close(j);
}

static uint64_t
corrupt_count(void)
{
	char *text = NULL, *p;
	size_t len = 0;
	uint64_t v = 0;

	assert_int_equal(td_metrics_render(td_metrics_default(), &text, &len), 0);
	p = strstr(text, "\ntfdrift_ingest_journal_corrupt_records_total ");
	if (p != NULL)
		v = strtoull(p + strlen("\ntfdrift_ingest_journal_corrupt_records_total "), NULL,
		    10);
	free(text);
	return v;
}

/* Writes the journal's 3 entries, closes, then lets damage() change the file. */
static void
corrupt_case(void (*damage)(const char *path, off_t size), size_t want_recovered)
{
	jrn *j = open_j(1 << 20, 1 << 20, JRN_FSYNC_ALWAYS);
	uint64_t seq, *rec = NULL, before;
	size_t n = 0;
	char path[600], buf[64];
	struct stat st;

	for (uint64_t i = 0; i < 3; i++) {
		payload(buf, sizeof(buf), i);
		assert_int_equal(jrn_append(j, (const uint8_t *)buf, strlen(buf), &seq), 0);
	}
	jrn_close(j);
	first_segment(path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	damage(path, st.st_size);
	before = corrupt_count();
	j = open_j(1 << 20, 1 << 20, JRN_FSYNC_ALWAYS);
	assert_int_equal(jrn_recovered(j, &rec, &n), 0);
	assert_int_equal(n, want_recovered);
	assert_int_equal(corrupt_count(), before + 1);
	for (size_t k = 0; k < n; k++) {
		uint8_t *data;
		size_t len;
		assert_int_equal(jrn_read(j, rec[k], &data, &len), 0);
		payload(buf, sizeof(buf), k);
		assert_int_equal(len, strlen(buf));
		assert_memory_equal(data, buf, len);
		free(data);
	}
	/* the journal goes on: append, close, reopen — no corruption again */
	assert_int_equal(jrn_append(j, (const uint8_t *)"after", 5, &seq), 0);
	jrn_close(j);
	free(rec);
	rec = NULL;
	j = open_j(1 << 20, 1 << 20, JRN_FSYNC_ALWAYS);
	assert_int_equal(jrn_recovered(j, &rec, &n), 0);
	assert_int_equal(n, want_recovered + 1);
	assert_int_equal(corrupt_count(), before + 1);
	free(rec);
	jrn_close(j);
}

static void
torn_tail(const char *path, off_t size)
{
	/* a power loss in the middle of the last record */
	assert_int_equal(truncate(path, size - 7), 0);
}

static void
flipped_byte(const char *path, off_t size)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, size - 3), 1);
	b ^= 0x5a;
	assert_int_equal(pwrite(fd, &b, 1, size - 3), 1);
	close(fd);
}

static void
garbage_appended(const char *path, off_t size)
{
	FILE *f = fopen(path, "ab");
	(void)size;
	assert_non_null(f);
	fputs("\x01garbage that is no record header at all", f);
	fclose(f);
}

static void
corrupt_tail_record_is_skipped(void **state)
{
	(void)state;
	corrupt_case(torn_tail, 2);
}

static void
checksum_mismatch_is_skipped(void **state)
{
	(void)state;
	corrupt_case(flipped_byte, 2);
}

static void
garbage_after_records_is_skipped(void **state)
{
	(void)state;
	corrupt_case(garbage_appended, 3);
}

static void
fsync_names(void **state)
{
	jrn_fsync f;

	(void)state;
	assert_int_equal(jrn_fsync_parse("always", &f), 0);
	assert_int_equal(f, JRN_FSYNC_ALWAYS);
	assert_int_equal(jrn_fsync_parse("interval", &f), 0);
	assert_int_equal(f, JRN_FSYNC_INTERVAL);
	assert_int_equal(jrn_fsync_parse("off", &f), 0);
	assert_int_equal(f, JRN_FSYNC_OFF);
	assert_int_equal(jrn_fsync_parse("sometimes", &f), TD_EINVAL);
}

static void
unusable_directory_is_an_error(void **state)
{
	jrn_opts o = { .dir = "/proc/tfdrift-no-such-dir/journal",
		.max_bytes = 4096,
		.segment_bytes = 4096 };
	td_error err;
	jrn *j = NULL;

	(void)state;
	td_error_clear(&err);
	assert_int_equal(jrn_open(&j, &o, &err), TD_EIO);
	assert_null(j);
	assert_non_null(strstr(err.msg, "/proc/tfdrift-no-such-dir"));
}

/* Readiness: writable while the directory and the active segment are there;
 * not once the directory is gone, nor after a new empty directory replaces it
 * (the open segment is unlinked: appends would go where no restart finds
 * them); a full journal is still writable (it pushes back). */
static void
check_reports_an_unusable_directory(void **state)
{
	char why[256] = "", cmd[128];
	uint64_t seq;
	jrn *j = open_j(4096, 1024, JRN_FSYNC_OFF);

	(void)state;
	assert_int_equal(jrn_check(j, why, sizeof(why)), 0);
	while (jrn_append(j, (const uint8_t *)"0123456789abcdef", 16, &seq) == 0)
		;
	assert_int_equal(jrn_append(j, (const uint8_t *)"x", 1, &seq), TD_EBUSY);
	assert_int_equal(jrn_check(j, why, sizeof(why)), 0);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(jrn_check(j, why, sizeof(why)), TD_EIO);
	assert_non_null(strstr(why, "journal directory"));
	assert_non_null(strstr(why, "No such file or directory"));

	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(jrn_check(j, why, sizeof(why)), TD_EIO);
	assert_non_null(strstr(why, "active segment"));
	jrn_close(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(append_read_release, setup, teardown),
		cmocka_unit_test_setup_teardown(restart_resends_only_unreleased_segments, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(bounded_then_room_after_release, setup, teardown),
		cmocka_unit_test_setup_teardown(fully_released_journal_leaves_no_data, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(corrupt_tail_record_is_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(checksum_mismatch_is_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(garbage_after_records_is_skipped, setup, teardown),
		cmocka_unit_test(fsync_names),
		cmocka_unit_test(unusable_directory_is_an_error),
		cmocka_unit_test_setup_teardown(check_reports_an_unusable_directory, setup,
		    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
