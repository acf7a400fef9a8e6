/* test_persistence_migrations.c — the SQL embedded by scripts/embed-sql.sh
 * (services/persistence/build.mk links the generated table) is every file in
 * services/persistence/migrations, byte for byte, in version order. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/persistence/migrate.h"
#include "tfdrift/id.h"

#define DIR_PATH "services/persistence/migrations"

/* Reads path into a malloc'd NUL-terminated buffer (caller frees). */
static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
test_versions_ascend(void **state)
{
	(void)state;
	assert_true(ps_migrations_count >= 1);
	assert_int_equal(ps_migrations[0].version, 1);
	for (size_t i = 1; i < ps_migrations_count; i++) {
		assert_true(ps_migrations[i].version > ps_migrations[i - 1].version);
	}
}

static void
test_matches_files(void **state)
{
	(void)state;
	DIR *d = opendir(DIR_PATH);
	assert_non_null(d);
	size_t files = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".sql") != 0) {
			continue;
		}
		files++;
		int version = (int)strtol(e->d_name, NULL, 10);
		const ps_migration *m = NULL;
		for (size_t i = 0; i < ps_migrations_count; i++) {
			if (ps_migrations[i].version == version) {
				m = &ps_migrations[i];
			}
		}
		if (m == NULL) {
			fail_msg("%s is not embedded", e->d_name);
			break;
		}
		char name[256];
		const char *under = strchr(e->d_name, '_');
		if (under == NULL) {
			fail_msg("%s: no '_' in the name", e->d_name);
			break;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(e->d_name + len - 4 - (under + 1)),
		    under + 1);
		assert_string_equal(m->name, name);

		char path[512];
		snprintf(path, sizeof(path), "%s/%s", DIR_PATH, e->d_name);
		char *text = slurp(path);
		assert_string_equal(m->sql, text);
		free(text);
	}
	closedir(d);
	assert_int_equal(files, ps_migrations_count);
}

static void
test_init_schema(void **state)
{
	(void)state;
	const char *sql = ps_migrations[0].sql;
	static const char *const needed[] = {
		"CREATE TABLE alerts",
		"alert_key          text NOT NULL UNIQUE",
		"CREATE TABLE alert_status_history",
		"ON alerts (event_time DESC)",
		"ON alerts (severity_rank, detected_at)",
		"ON alerts (workspace, resource_address)",
		"'drift', 'unmanaged', 'deleted', 'modified'",
		"'info', 'low', 'medium', 'high', 'critical'",
		"'open', 'acknowledged', 'resolved', 'ignored'",
	};
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (strstr(sql, needed[i]) == NULL) {
			fail_msg("001_init.sql lacks \"%s\"", needed[i]);
		}
	}
	/* Non-ASCII and quotes survive embedding (the file has an em dash). */
	assert_non_null(strstr(sql, "001_init.sql \xe2\x80\x94 the drift history."));
}

static void
test_checksum_is_sha256_of_text(void **state)
{
	(void)state;
	/* ps_migrate records td_id_sha256_hex of the one-part text; it must be
	 * the plain SHA-256 so `sha256sum 001_init.sql` matches the database. */
	char sum[65];
	const char *parts[] = { "abc" };
	td_id_sha256_hex(sum, parts, 1);
	assert_string_equal(sum,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_versions_ascend),
		cmocka_unit_test(test_matches_files),
		cmocka_unit_test(test_init_schema),
		cmocka_unit_test(test_checksum_is_sha256_of_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
