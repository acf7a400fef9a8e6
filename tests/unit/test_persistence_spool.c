/* test_persistence_spool.c — the on-disk spool (services/persistence/spool.c)
 * and the COPY text lines of rows.c: records survive a reopen byte for byte
 * and in order, a half-written segment is discarded, damage is detected, and
 * COPY escaping keeps tabs, newlines and backslashes inside their column. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../services/persistence/rows.h"
#include "../../services/persistence/spool.h"
#include "tfdrift/error.h"

typedef struct fixture {
	char dir[64];
} fixture;

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/td-spool-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void
append(ps_spool *s, const char *const *texts, size_t n, uint64_t alerts)
{
	ps_spool_rec recs[8];
	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++) {
		recs[i].data = (const uint8_t *)texts[i];
		recs[i].len = strlen(texts[i]);
	}
	td_error err = { 0 };
	assert_int_equal(ps_spool_append(s, recs, n, alerts, &err), 0);
}

static void
test_append_reopen_read_in_order(void **state)
{
	fixture *f = *state;
	ps_spool *s = NULL;
	td_error err = { 0 };
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/a/b", f->dir); /* parents are created */
	assert_int_equal(ps_spool_open(&s, sub, &err), 0);
	uint64_t seq;
	assert_int_equal(ps_spool_oldest(s, &seq), TD_ENOTFOUND);

	const char *first[] = { "one", "two\0hidden" };
	const char *second[] = { "three" };
	append(s, first, 2, 7);
	append(s, second, 1, 5);
	ps_spool_stats st;
	ps_spool_get_stats(s, &st);
	assert_int_equal(st.segments, 2);
	assert_int_equal(st.alerts, 12);
	assert_true(st.oldest_ms > 0);
	ps_spool_close(s);

	/* a crash mid-write leaves a tmp- file: discarded at open */
	char tmp[160];
	snprintf(tmp, sizeof(tmp), "%s/tmp-00000000000000000099", sub);
	FILE *fp = fopen(tmp, "w");
	assert_non_null(fp);
	fputs("half", fp);
	fclose(fp);

	assert_int_equal(ps_spool_open(&s, sub, &err), 0);
	assert_int_not_equal(access(tmp, F_OK), 0);
	ps_spool_get_stats(s, &st);
	assert_int_equal(st.segments, 2);
	assert_int_equal(st.alerts, 12);

	assert_int_equal(ps_spool_oldest(s, &seq), 0);
	ps_spool_rec *recs = NULL;
	size_t n = 0;
	int corrupt = -1;
	assert_int_equal(ps_spool_read(s, seq, &recs, &n, &corrupt, &err), 0);
	assert_int_equal(corrupt, 0);
	assert_int_equal(n, 2);
	assert_int_equal(recs[0].len, 3);
	assert_memory_equal(recs[0].data, "one", 3);
	assert_int_equal(recs[1].len, 3); /* strlen stopped at the NUL */
	free(recs);
	assert_int_equal(ps_spool_remove(s, seq), 0);

	uint64_t next;
	assert_int_equal(ps_spool_oldest(s, &next), 0);
	assert_true(next > seq);
	assert_int_equal(ps_spool_read(s, next, &recs, &n, &corrupt, &err), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(recs[0].data, "three", 5);
	free(recs);
	assert_int_equal(ps_spool_remove(s, next), 0);
	assert_int_equal(ps_spool_oldest(s, &seq), TD_ENOTFOUND);
	ps_spool_get_stats(s, &st);
	assert_int_equal(st.alerts, 0);
	assert_int_equal(st.oldest_ms, 0);

	/* new segments continue after the old numbers */
	append(s, second, 1, 1);
	assert_int_equal(ps_spool_oldest(s, &seq), 0);
	assert_true(seq > next);
	ps_spool_close(s);
}

static void
test_damage_is_detected(void **state)
{
	fixture *f = *state;
	ps_spool *s = NULL;
	td_error err = { 0 };
	assert_int_equal(ps_spool_open(&s, f->dir, &err), 0);
	const char *texts[] = { "first record", "second record" };
	append(s, texts, 2, 2);
	uint64_t seq;
	assert_int_equal(ps_spool_oldest(s, &seq), 0);

	/* flip a byte of the second record's payload */
	char cmd[256];
	snprintf(cmd, sizeof(cmd),
	    "f=$(ls '%s'/*.spool) && printf 'X' | dd of=\"$f\" bs=1 seek=30 conv=notrunc 2>/dev/null",
	    f->dir);
	assert_int_equal(system(cmd), 0);

	ps_spool_rec *recs = NULL;
	size_t n = 0;
	int corrupt = 0;
	assert_int_equal(ps_spool_read(s, seq, &recs, &n, &corrupt, &err), 0);
	assert_int_equal(corrupt, 1);
	assert_int_equal(n, 1); /* the records before the damage */
	assert_memory_equal(recs[0].data, "first record", 12);
	free(recs);
	ps_spool_close(s);
}

/* A maximum size: an append that would pass it is refused and nothing of it
 * is written; a removal makes room again; a reopen counts what is there. */
static void
test_max_bytes(void **state)
{
	fixture *f = *state;
	ps_spool *s = NULL;
	td_error err = { 0 };
	assert_int_equal(ps_spool_open(&s, f->dir, &err), 0);
	/* each record costs 8 header bytes + its length: "0123456789" = 18 */
	ps_spool_set_max(s, 40);
	const char *one[] = { "0123456789" };
	append(s, one, 1, 1);
	append(s, one, 1, 1);
	ps_spool_stats st;
	ps_spool_get_stats(s, &st);
	assert_int_equal(st.bytes, 36);
	assert_int_equal(st.max_bytes, 40);
	assert_false(st.full);

	ps_spool_rec rec = { (const uint8_t *)one[0], 10 };
	assert_int_equal(ps_spool_append(s, &rec, 1, 1, &err), TD_EBUSY);
	assert_non_null(strstr(err.msg, "spool full: 36 of 40 bytes"));
	ps_spool_get_stats(s, &st);
	assert_true(st.full);
	assert_int_equal(st.segments, 2);
	assert_int_equal(st.bytes, 36);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "test $(ls '%s' | wc -l) -eq 2", f->dir);
	assert_int_equal(system(cmd), 0); /* no tmp- file left, no third segment */

	uint64_t seq;
	assert_int_equal(ps_spool_oldest(s, &seq), 0);
	assert_int_equal(ps_spool_remove(s, seq), 0);
	ps_spool_get_stats(s, &st);
	assert_false(st.full);
	assert_int_equal(st.bytes, 18);
	assert_int_equal(ps_spool_append(s, &rec, 1, 1, &err), 0);
	ps_spool_close(s);

	/* reopened: the segments on disk count against the limit */
	assert_int_equal(ps_spool_open(&s, f->dir, &err), 0);
	ps_spool_set_max(s, 40);
	assert_int_equal(ps_spool_append(s, &rec, 1, 1, &err), TD_EBUSY);
	ps_spool_set_max(s, 0); /* no limit */
	assert_int_equal(ps_spool_append(s, &rec, 1, 1, &err), 0);
	ps_spool_close(s);
}

static void
test_copy_line_escapes(void **state)
{
	(void)state;
	Tfdrift__V1__DriftAlert a = TFDRIFT__V1__DRIFT_ALERT__INIT;
	a.alert_key = "key\twith\ttabs";
	a.event_id = "line1\nline2\\end";
	a.kind = TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DRIFT;
	a.severity = TFDRIFT__V1__SEVERITY__SEVERITY_HIGH;
	ps_row r;
	td_error err = { 0 };
	assert_int_equal(ps_row_build(&r, &a, 0, &err), 0);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	assert_int_equal(ps_row_copy_line(&r, 42, &buf, &len, &cap), 0);
	assert_true(len > 0 && buf[len - 1] == '\n');
	/* one line, 31 columns (seq + PS_ROW_COLS) */
	size_t tabs = 0, nl = 0;
	for (size_t i = 0; i < len; i++) {
		tabs += buf[i] == '\t';
		nl += buf[i] == '\n';
	}
	assert_int_equal(nl, 1);
	assert_int_equal(tabs, PS_ROW_COLS);
	buf[len] = '\0';
	assert_non_null(strstr(buf, "42\tkey\\twith\\ttabs\tline1\\nline2\\\\end\t"));
	/* event_time 0 is NULL */
	assert_non_null(strstr(buf, "\t\\N\t"));
	free(buf);
	ps_row_free(&r);

	/* the statements name every column */
	assert_non_null(strstr(ps_copy_table_sql(), "raw_event jsonb"));
	assert_non_null(strstr(ps_copy_from_sql(), "COPY ps_in (seq, alert_key"));
	assert_non_null(strstr(ps_copy_insert_sql(), "COALESCE(detected_at, now())"));
	assert_non_null(strstr(ps_copy_insert_sql(), "ON CONFLICT (alert_key) DO NOTHING"));
}

static void
test_invalid_row(void **state)
{
	(void)state;
	Tfdrift__V1__DriftAlert a = TFDRIFT__V1__DRIFT_ALERT__INIT;
	a.alert_key = "k";
	a.severity = TFDRIFT__V1__SEVERITY__SEVERITY_HIGH;
	ps_row r;
	td_error err = { 0 };
	assert_int_equal(ps_row_build(&r, &a, 5, &err), TD_EINVAL);
	assert_non_null(strstr(err.msg, "alerts[5].kind"));
	ps_row_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_reopen_read_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damage_is_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_bytes, setup, teardown),
		cmocka_unit_test(test_copy_line_escapes),
		cmocka_unit_test(test_invalid_row),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
