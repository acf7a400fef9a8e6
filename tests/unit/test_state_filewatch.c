/* test_state_filewatch.c — the state-loader's file watch (filewatch.c) on a
 * real directory: writing, replacing by rename and removing a file are seen
 * with the file's name; other files in the directory are told apart. */
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

#include "../../services/state-loader/filewatch.h"

typedef struct seen {
	int wd;
	char names[16][64];
	size_t n;
} seen;

static void
on_event(void *arg, int wd, const char *name)
{
	seen *s = arg;
	if (s->n < 16) {
		s->wd = wd;
		snprintf(s->names[s->n++], sizeof(s->names[0]), "%s", name ? name : "(overflow)");
	}
}

static bool
saw(const seen *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return true;
	return false;
}

static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_events(void **state)
{
	(void)state;
	char dir[] = "/tmp/td-filewatch-XXXXXX", path[256], other[256], tmp[256], shown[256];
	const char *base = NULL;
	seen s = { .wd = -2 };

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/prod.tfstate", dir);
	snprintf(other, sizeof(other), "%s/notes.txt", dir);
	snprintf(tmp, sizeof(tmp), "%s/.prod.tfstate.tmp", dir);
	put(path, "{}");
	int fd = filewatch_open();
	assert_true(fd >= 0);
	int wd = filewatch_add(fd, path, &base, shown, sizeof(shown));
	assert_true(wd >= 0);
	assert_string_equal(base, "prod.tfstate");
	assert_string_equal(shown, dir);

	/* nothing happened yet */
	filewatch_drain(fd, on_event, &s);
	assert_int_equal(s.n, 0);

	/* a write (inotify queues events within the system call: no waiting) */
	put(path, "{\"serial\":2}");
	filewatch_drain(fd, on_event, &s);
	assert_true(saw(&s, "prod.tfstate"));
	assert_int_equal(s.wd, wd);

	/* another file of the directory is named as itself */
	s.n = 0;
	put(other, "x");
	filewatch_drain(fd, on_event, &s);
	assert_true(saw(&s, "notes.txt"));
	assert_false(saw(&s, "prod.tfstate"));

	/* replaced by rename, as editors and Terraform do */
	s.n = 0;
	put(tmp, "{\"serial\":3}");
	assert_int_equal(rename(tmp, path), 0);
	filewatch_drain(fd, on_event, &s);
	assert_true(saw(&s, "prod.tfstate"));

	/* removed */
	s.n = 0;
	assert_int_equal(unlink(path), 0);
	filewatch_drain(fd, on_event, &s);
	assert_true(saw(&s, "prod.tfstate"));

	/* a file without a directory part watches "." */
	assert_int_equal(filewatch_add(fd, "bare.tfstate", &base, shown, sizeof(shown)) >= 0, 1);
	assert_string_equal(shown, ".");
	assert_string_equal(base, "bare.tfstate");
	/* a directory that does not exist is -1 (the caller polls) */
	assert_int_equal(filewatch_add(fd, "/nonexistent/dir/x.tfstate", &base, shown,
			     sizeof(shown)),
	    -1);
	/* no descriptor: nothing to read */
	filewatch_drain(-1, on_event, &s);

	close(fd);
	unlink(other);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
