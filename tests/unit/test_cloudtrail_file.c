/* test_cloudtrail_file.c — CloudTrail log files written to a temp directory. */
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
#include <zlib.h>

#include "tfdrift/cloudtrail_file.h"
#include "tfdrift/error.h"

#define REC(id) "{\"eventID\":\"" id "\",\"eventName\":\"RunInstances\"}"

typedef struct seen {
	size_t index, line;
	char what[160]; /* eventID of a record, or "!reason" of a rejected one */
} seen;

typedef struct collector {
	seen items[32];
	size_t n;
	size_t stop_after; /* 0: never */
} collector;

static char dir[64];

static int
collect(void *arg, const ct_file_record *rec)
{
	collector *c = arg;
	seen *s;

	assert_true(c->n < 32);
	s = &c->items[c->n++];
	s->index = rec->index;
	s->line = rec->line;
	if (rec->json != NULL) {
		const cJSON *id = cJSON_GetObjectItem(rec->json, "eventID");
		snprintf(s->what, sizeof(s->what), "%s",
		    cJSON_IsString(id) ? id->valuestring : "?");
	} else {
		assert_non_null(rec->reason);
		snprintf(s->what, sizeof(s->what), "!%s", rec->reason);
	}
	if (c->stop_after != 0 && c->n == c->stop_after)
		return 77;
	return 0;
}

static void
path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void
write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	path_of(path, sizeof(path), name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* text with its NULs (len bytes). */
static void
write_raw(const char *name, const char *text, size_t len)
{
	char path[256];
	FILE *f;

	path_of(path, sizeof(path), name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

static void
write_gz(const char *name, const char *text, size_t cut)
{
	char path[256];
	gzFile gz;

	path_of(path, sizeof(path), name);
	gz = gzopen(path, "wb");
	assert_non_null(gz);
	assert_true(gzputs(gz, text) > 0);
	gzclose(gz);
	if (cut > 0) {
		struct stat sb;
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(truncate(path, sb.st_size - (off_t)cut), 0);
	}
}

static int
read_named(const char *name, size_t max, collector *c, td_error *err)
{
	char path[256];

	path_of(path, sizeof(path), name);
	memset(c, 0, sizeof(*c));
	td_error_clear(err);
	return ct_file_read(path, max, collect, c, err);
}

static void
expect(const collector *c, size_t i, size_t index, size_t line, const char *what)
{
	assert_true(i < c->n);
	assert_int_equal(c->items[i].index, index);
	assert_int_equal(c->items[i].line, line);
	assert_string_equal(c->items[i].what, what);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_cloudtrail_file.XXXXXX");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- tests -------------------------------------------------------------------- */

static const char records_doc[] = "{\n  \"Records\": [\n    " REC("a") ",\n    " REC(
    "b") ",\n    " REC("c") "\n  ]\n}\n";

static void
records_array(void **state)
{
	collector c;
	td_error err;
	(void)state;

	write_file("records.json", records_doc);
	assert_int_equal(read_named("records.json", 0, &c, &err), 0);
	assert_int_equal(c.n, 3);
	expect(&c, 0, 0, 0, "a");
	expect(&c, 1, 1, 0, "b");
	expect(&c, 2, 2, 0, "c");
}

static void
gzip_records(void **state)
{
	collector c;
	td_error err;
	(void)state;

	write_gz("records.json.gz", records_doc, 0);
	assert_int_equal(read_named("records.json.gz", 0, &c, &err), 0);
	assert_int_equal(c.n, 3);
	expect(&c, 0, 0, 0, "a");
	expect(&c, 2, 2, 0, "c");
}

static void
json_lines(void **state)
{
	collector c;
	td_error err;
	(void)state;

	write_file("lines.json", REC("a") "\n\n" REC("b") "\r\n  " REC("c") "  \n");
	assert_int_equal(read_named("lines.json", 0, &c, &err), 0);
	assert_int_equal(c.n, 3);
	expect(&c, 0, 0, 1, "a");
	expect(&c, 1, 1, 3, "b");
	expect(&c, 2, 2, 4, "c");

	/* a single line is one record, not an error */
	write_file("one.json", REC("solo") "\n");
	assert_int_equal(read_named("one.json", 0, &c, &err), 0);
	assert_int_equal(c.n, 1);
	expect(&c, 0, 0, 1, "solo");

	/* gzip'd JSON Lines, and a line that is a whole Records document */
	write_gz("lines.json.gz", REC("x") "\n{\"Records\":[" REC("y") "," REC("z") "]}\n", 0);
	assert_int_equal(read_named("lines.json.gz", 0, &c, &err), 0);
	assert_int_equal(c.n, 3);
	expect(&c, 0, 0, 1, "x");
	expect(&c, 1, 1, 2, "y");
	expect(&c, 2, 2, 2, "z");
}

static void
one_bad_record_among_good(void **state)
{
	collector c;
	td_error err;
	(void)state;

	write_file("bad-line.json", REC("a") "\n{\"eventID\": oops}\n" REC("c") "\n[1]\n");
	assert_int_equal(read_named("bad-line.json", 0, &c, &err), 0);
	assert_int_equal(c.n, 4);
	expect(&c, 0, 0, 1, "a");
	expect(&c, 1, 1, 2, "!record 1 (line 2): not valid JSON (column 13)");
	expect(&c, 2, 2, 3, "c");
	expect(&c, 3, 3, 4, "!record 3 (line 4): expected a JSON object, got an array");

	/* the first line broken: still JSON Lines, still one rejection */
	write_file("bad-first.json", "{\"eventID\":\n" REC("b") "\n");
	assert_int_equal(read_named("bad-first.json", 0, &c, &err), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.items[0].what[0], '!');
	expect(&c, 1, 1, 2, "b");

	write_file("bad-element.json", "{\"Records\":[" REC("a") ",\"nope\"," REC("c") "]}");
	assert_int_equal(read_named("bad-element.json", 0, &c, &err), 0);
	assert_int_equal(c.n, 3);
	expect(&c, 1, 1, 0, "!record 1: expected a JSON object, got \"nope\"");
	expect(&c, 2, 2, 0, "c");
}

/* Every record read, one "INDEX LINE WHAT" line each. */
static void
expect_seen(const collector *c, const char *want)
{
	char got[2048];
	size_t len = 0;

	got[0] = '\0';
	for (size_t i = 0; i < c->n; i++) {
		int w = snprintf(got + len, sizeof(got) - len, "%zu %zu %s\n", c->items[i].index,
		    c->items[i].line, c->items[i].what);
		assert_true(w > 0 && (size_t)w < sizeof(got) - len);
		len += (size_t)w;
	}
	assert_string_equal(got, want);
}

/* Invalid UTF-8 or a NUL (raw or \u0000) in a record's strings: cJSON would
 * take them and PostgreSQL refuse the rows later, so the record is rejected
 * naming the field, and the others still go through. */
static const char bad_records_doc[] = "{\"Records\":[\n" REC(
    "a") ",\n"
	 "{\"eventID\":\"b\",\"userIdentity\":{\"arn\":\"arn:aws:iam::1:user/\xff\"}},\n" REC(
	     "c") ",\n"
		  "{\"eventID\":\"d\",\"requestParameters\":{\"tags\":[\"x\\u0000y\"]}},\n"
		  "\"\xc3\x28\"," REC("f") "]}\n";

/* JSON Lines: a raw NUL, a bad member name (an encoded surrogate), and a
 * line that is a Records document, which numbers its own elements. */
static const char bad_lines[] = REC("a") "\n"
					 "{\"eventID\":\"b\",\"eventName\":\"x\0y\"}\n"
					 "{\"eventID\":\"c\",\"\xed\xa0\x80\":1}\n"
					 "{\"Records\":[" REC(
					     "d") ",{\"eventID\":\"\xf8\"}]}\n" REC("f") "\n";

static void
bad_text_rejects_only_its_record(void **state)
{
	collector c;
	td_error err;
	(void)state;

	write_file("bad-text.json", bad_records_doc);
	assert_int_equal(read_named("bad-text.json", 0, &c, &err), 0);
	expect_seen(&c,
	    "0 0 a\n"
	    "1 0 !record 1: userIdentity.arn: the string is not valid UTF-8 (byte 115)\n"
	    "2 0 c\n"
	    "3 0 !record 3: requestParameters.tags[0]: the string contains a NUL (\\u0000)\n"
	    "4 0 !record 4: the string is not valid UTF-8 (byte 225)\n"
	    "5 0 f\n");

	write_raw("bad-lines.json", bad_lines, sizeof(bad_lines) - 1);
	assert_int_equal(read_named("bad-lines.json", 0, &c, &err), 0);
	expect_seen(&c,
	    "0 1 a\n"
	    "1 2 !record 1 (line 2): eventName: the string contains a NUL byte\n"
	    "2 3 !record 2 (line 3): a member name is not valid UTF-8 (byte 16)\n"
	    "3 4 d\n"
	    "4 4 !record 4 (line 4): eventID: the string is not valid UTF-8 (byte 67)\n"
	    "5 5 f\n");

	/* a document that is one record */
	write_file("one-bad.json", "{\"eventID\":\"a\",\"sourceIPAddress\":\"\\u0000\"}");
	assert_int_equal(read_named("one-bad.json", 0, &c, &err), 0);
	expect_seen(&c,
	    "0 1 !record 0 (line 1): sourceIPAddress: the string contains a NUL (\\u0000)\n");
}

static void
not_json_names_the_file(void **state)
{
	collector c;
	td_error err;
	char want[256];
	(void)state;

	write_file("notes.json", "these are not\nthe logs you are looking for\n");
	assert_int_equal(read_named("notes.json", 0, &c, &err), TD_EINVAL);
	snprintf(want, sizeof(want), "%s/notes.json:1: not valid JSON (column 1)", dir);
	assert_string_equal(err.msg, want);
	assert_int_equal(c.n, 0);

	/* a Records document broken on line 3 */
	write_file("broken.json", "{\"Records\":[\n" REC("a") ",\n  {\"eventID\": ]}\n");
	assert_int_equal(read_named("broken.json", 0, &c, &err), TD_EINVAL);
	snprintf(want, sizeof(want), "%s/broken.json:3:", dir);
	assert_non_null(strstr(err.msg, want));

	write_file("records-object.json", "{\"Records\":{\"a\":1}}");
	assert_int_equal(read_named("records-object.json", 0, &c, &err), TD_EINVAL);
	assert_non_null(strstr(err.msg, "Records: expected an array, got an object"));

	write_file("number.json", "42");
	assert_int_equal(read_named("number.json", 0, &c, &err), TD_EINVAL);
	assert_non_null(strstr(err.msg, "number.json:1: expected an object with a Records array"));

	/* empty: nothing to read, not an error */
	write_file("empty.json", "  \n");
	assert_int_equal(read_named("empty.json", 0, &c, &err), 0);
	assert_int_equal(c.n, 0);
}

static void
unreadable_and_too_big(void **state)
{
	collector c;
	td_error err;
	(void)state;

	assert_int_equal(read_named("missing.json", 0, &c, &err), TD_ENOTFOUND);
	assert_non_null(strstr(err.msg, "missing.json: No such file or directory"));

	write_file("big.json", records_doc);
	assert_int_equal(read_named("big.json", 16, &c, &err), TD_ETOOBIG);
	assert_non_null(strstr(err.msg, "big.json: larger than"));

	write_gz("cut.json.gz", records_doc, 12);
	assert_int_equal(read_named("cut.json.gz", 0, &c, &err), TD_EIO);
	assert_non_null(strstr(err.msg, "cut.json.gz"));
}

static void
callback_stops_reading(void **state)
{
	collector c;
	td_error err;
	char path[256];
	(void)state;

	write_file("stop.json", records_doc);
	path_of(path, sizeof(path), "stop.json");
	memset(&c, 0, sizeof(c));
	c.stop_after = 2;
	assert_int_equal(ct_file_read(path, 0, collect, &c, &err), 77);
	assert_int_equal(c.n, 2);
}

static void
lists_directories_sorted(void **state)
{
	char root[256], sub[300], subsub[340], path[400];
	char **files = NULL;
	size_t n = 0;
	td_error err;
	(void)state;

	path_of(root, sizeof(root), "tree");
	snprintf(sub, sizeof(sub), "%s/2024", root);
	snprintf(subsub, sizeof(subsub), "%s/05", sub);
	assert_int_equal(mkdir(root, 0700), 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(mkdir(subsub, 0700), 0);
	write_file("tree/b.json.gz", "");
	write_file("tree/a.json", "");
	write_file("tree/readme.txt", "");
	write_file("tree/c.json.bak", "");
	write_file("tree/2024/05/z.json", "");
	write_file("tree/2024/05/y.json.gz", "");

	/* a trailing slash does not double up */
	snprintf(path, sizeof(path), "%s/", root);
	td_error_clear(&err);
	assert_int_equal(ct_file_list(path, &files, &n, &err), 0);
	assert_int_equal(n, 4);
	snprintf(path, sizeof(path), "%s/2024/05/y.json.gz", root);
	assert_string_equal(files[0], path);
	snprintf(path, sizeof(path), "%s/2024/05/z.json", root);
	assert_string_equal(files[1], path);
	snprintf(path, sizeof(path), "%s/a.json", root);
	assert_string_equal(files[2], path);
	snprintf(path, sizeof(path), "%s/b.json.gz", root);
	assert_string_equal(files[3], path);
	ct_file_list_free(files, n);

	/* a file is itself, whatever its name */
	snprintf(path, sizeof(path), "%s/readme.txt", root);
	assert_int_equal(ct_file_list(path, &files, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(files[0], path);
	ct_file_list_free(files, n);

	snprintf(path, sizeof(path), "%s/nope", root);
	assert_int_equal(ct_file_list(path, &files, &n, &err), TD_ENOTFOUND);
	assert_non_null(strstr(err.msg, "nope: No such file or directory"));
	assert_null(files);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(records_array),
		cmocka_unit_test(gzip_records),
		cmocka_unit_test(json_lines),
		cmocka_unit_test(one_bad_record_among_good),
		cmocka_unit_test(bad_text_rejects_only_its_record),
		cmocka_unit_test(not_json_names_the_file),
		cmocka_unit_test(unreadable_and_too_big),
		cmocka_unit_test(callback_stops_reading),
		cmocka_unit_test(lists_directories_sorted),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
