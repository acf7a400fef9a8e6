/* driver.c — runs a fuzz harness over its corpus without libFuzzer, so
 * `make test` replays every corpus file (the seeds and every input that once
 * found a bug) with any compiler.
 *
 *   test_fuzz_NAME              every file under tests/fuzz/corpus/NAME/
 *   test_fuzz_NAME PATH...      these files / directories
 *
 * A crash, a sanitizer report or a leak ends the process (non-zero); a clean
 * run prints one cmocka-style summary line that tests/run.sh counts. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Weak default so harnesses without an initializer link. */
__attribute__((weak)) int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Feeds one file; 0, or -1 when it cannot be read. */
static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	int rv = 0;
	for (;;) {
		if (len == cap) {
			size_t ncap = cap == 0 ? 4096 : cap * 2;
			uint8_t *nb = realloc(buf, ncap);
			if (nb == NULL) {
				fprintf(stderr, "%s: out of memory\n", path);
				rv = -1;
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		if (n == 0) {
			break;
		}
		len += n;
	}
	if (ferror(f)) {
		fprintf(stderr, "%s: read error\n", path);
		rv = -1;
		goto out;
	}
	/* an exact-size copy, so ASan sees reads past the input's end */
	uint8_t *exact = malloc(len > 0 ? len : 1);
	if (exact == NULL) {
		rv = -1;
		goto out;
	}
	if (len > 0) {
		memcpy(exact, buf, len);
	}
	(void)LLVMFuzzerTestOneInput(exact, len);
	free(exact);
out:
	free(buf);
	fclose(f);
	return rv;
}

/* Feeds path (a file, or every regular file of a directory in name order);
 * adds the number of inputs to *n.  -1 on a read error. */
static int
run_path(const char *path, size_t *n)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*n)++;
		return run_file(path);
	}
	DIR *d = opendir(path);
	if (d == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t count = 0, cap = 0;
	int rv = 0;
	const struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.') {
			continue;
		}
		if (count == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			char **nn = realloc(names, cap * sizeof(*names));
			if (nn == NULL) {
				rv = -1;
				goto out;
			}
			names = nn;
		}
		size_t l = strlen(path) + strlen(e->d_name) + 2;
		if ((names[count] = malloc(l)) == NULL) {
			rv = -1;
			goto out;
		}
		snprintf(names[count], l, "%s/%s", path, e->d_name);
		count++;
	}
	if (count > 0) {
		qsort(names, count, sizeof(*names), cmp_str);
	}
	for (size_t i = 0; i < count && rv == 0; i++) {
		struct stat fs;
		if (stat(names[i], &fs) == 0 && S_ISREG(fs.st_mode)) {
			(*n)++;
			rv = run_file(names[i]);
		}
	}
out:
	for (size_t i = 0; i < count; i++) {
		free(names[i]);
	}
	free(names);
	closedir(d);
	return rv;
}

int
main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	base = base != NULL ? base + 1 : argv[0];
	const char *name = strncmp(base, "test_fuzz_", 10) == 0 ? base + 10 : base;
	char dflt[512];
	size_t n = 0;
	int rv = 0;

	(void)LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		for (int i = 1; i < argc && rv == 0; i++) {
			rv = run_path(argv[i], &n);
		}
	} else {
		snprintf(dflt, sizeof(dflt), "tests/fuzz/corpus/%s", name);
		rv = run_path(dflt, &n);
	}
	if (rv != 0 || n == 0) {
		printf("[  FAILED  ] 1 test(s), fuzz corpus of %s: %s\n", name,
		    n == 0 ? "no inputs" : "unreadable input");
		return 1;
	}
	printf("fuzz regression %s: %zu inputs replayed\n", name, n);
	printf("[  PASSED  ] 1 test(s).\n");
	return 0;
}
