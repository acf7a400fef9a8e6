/* test_config.c — config.c against the real directive table: defaults, file
 * values, environment overrides, every kind of error with its place, the
 * generated docs being current, and misuse aborting.
 *
 * BOOL, DOUBLE and SIZE have no row in the real table yet; test_config_types.c
 * covers every type with a table of its own. */
#include <ctype.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tfdrift/config.h"
#include "tfdrift/log.h"

extern char **environ;

/* The tests set TFDRIFT_* themselves; anything inherited would change results. */
static void
clear_tfdrift_env(void)
{
	char name[256];
	bool again = true;

	while (again) {
		again = false;
		for (char **e = environ; e != NULL && *e != NULL; e++) {
			size_t n = strcspn(*e, "=");
			if (strncmp(*e, "TFDRIFT_", 8) == 0 && n < sizeof(name)) {
				memcpy(name, *e, n);
				name[n] = '\0';
				unsetenv(name);
				again = true; /* environ changed under us: rescan */
				break;
			}
		}
	}
}

static int
setup(void **state)
{
	(void)state;
	clear_tfdrift_env();
	return 0;
}

static int
teardown_env(void **state)
{
	(void)state;
	clear_tfdrift_env();
	return 0;
}

/* Loads yaml named "config.yaml" and asserts it fails with TD_EINVAL and
 * exactly the message want (or, when prefix is set, a message starting with it). */
static void
expect_error_at(const char *yaml, const char *want, bool prefix, int line)
{
	td_config *cfg = (td_config *)0x1;
	td_error err;
	int rv = td_config_load_string(&cfg, yaml, "config.yaml", &err);

	if (rv != TD_EINVAL || cfg != NULL || err.code != TD_EINVAL) {
		fail_msg("line %d: load returned %d (code %d, cfg %p): %s", line, rv, err.code,
		    (void *)cfg, err.msg);
	}
	if (prefix ? strncmp(err.msg, want, strlen(want)) != 0 : strcmp(err.msg, want) != 0) {
		fail_msg("line %d:\n  got  \"%s\"\n  want \"%s\"%s", line, err.msg, want,
		    prefix ? "..." : "");
	}
}
#define expect_error(yaml, want) expect_error_at((yaml), (want), false, __LINE__)
#define expect_error_prefix(yaml, want) expect_error_at((yaml), (want), true, __LINE__)

static td_config *
load_ok_at(const char *yaml, int line)
{
	td_config *cfg = NULL;
	td_error err;
	int rv = td_config_load_string(&cfg, yaml, "config.yaml", &err);

	if (rv != 0 || cfg == NULL) {
		fail_msg("line %d: load failed (%d): %s", line, rv, err.msg);
	}
	return cfg;
}
#define load_ok(yaml) load_ok_at((yaml), __LINE__)

/* ---- the table itself -------------------------------------------------------- */

static void
test_table_sane(void **state)
{
	char env_a[160], env_b[160];
	(void)state;

	for (size_t i = 0; td_config_directives[i].section != NULL; i++) {
		const td_config_directive *a = &td_config_directives[i];

		for (const char *p = a->section; *p; p++) {
			assert_true(
			    islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_');
		}
		for (const char *p = a->key; *p; p++) {
			if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
				*p == '_')) {
				fail_msg("%s.%s: keys are lower_snake_case", a->section, a->key);
			}
		}
		if (a->help == NULL || a->help[0] == '\0') {
			fail_msg("%s.%s has no help text", a->section, a->key);
		}
		if (a->type == TD_CFG_ENUM &&
		    (a->enum_values == NULL || a->enum_values[0] == '\0')) {
			fail_msg("%s.%s is an enum without values", a->section, a->key);
		}
		snprintf(env_a, sizeof(env_a), "%s_%s", a->section, a->key);
		for (size_t j = i + 1; td_config_directives[j].section != NULL; j++) {
			const td_config_directive *b = &td_config_directives[j];
			snprintf(env_b, sizeof(env_b), "%s_%s", b->section, b->key);
			/* equal env names would make one of the two impossible to override */
			if (strcmp(env_a, env_b) == 0) {
				fail_msg("%s.%s and %s.%s share the variable TFDRIFT_%s",
				    a->section, a->key, b->section, b->key, env_a);
			}
		}
	}
}

/* ---- defaults ------------------------------------------------------------------ */

static void
test_defaults(void **state)
{
	td_config *cfg = NULL;
	td_error err;
	const char *empty_inputs[] = { "", "# nothing but a comment\n", "---\n", "~\n", "\n\n" };
	(void)state;

	/* every default in the table parses, or this aborts */
	assert_int_equal(td_config_load(&cfg, NULL, &err), 0);
	assert_string_equal(td_config_str(cfg, "shared", "log_level"), "info");
	assert_string_equal(td_config_str(cfg, "shared", "data_dir"), "/var/lib/tfdrift");
	assert_int_equal(td_config_int(cfg, "shared", "shutdown_timeout"), 4000);
	assert_string_equal(td_config_str(cfg, "postgres", "dsn"), "");
	assert_string_equal(td_config_str(cfg, "redis", "host"), "127.0.0.1");
	assert_int_equal(td_config_int(cfg, "redis", "port"), 6379);
	assert_int_equal(td_config_int(cfg, "redis", "db"), 0);
	assert_string_equal(td_config_str(cfg, "redis", "key_prefix"), "tfdrift:");
	assert_int_equal(td_config_int(cfg, "bus", "resend_interval"), 30000);
	assert_int_equal(td_config_int(cfg, "bus", "request_timeout"), 0);
	assert_int_equal(td_config_list_len(cfg, "state_loader", "local_files"), 0);
	assert_string_equal(td_config_str(cfg, "notifier", "min_severity"), "medium");
	assert_string_equal(td_config_origin(cfg, "redis", "port"), "default");
	assert_string_equal(td_config_origin(cfg, "state_loader", "local_files"), "default");
	td_config_free(cfg);

	/* an empty path is "no file" too */
	assert_int_equal(td_config_load(&cfg, "", &err), 0);
	assert_int_equal(td_config_int(cfg, "redis", "port"), 6379);
	td_config_free(cfg);

	for (size_t i = 0; i < sizeof(empty_inputs) / sizeof(empty_inputs[0]); i++) {
		cfg = load_ok(empty_inputs[i]);
		assert_int_equal(td_config_int(cfg, "redis", "port"), 6379);
		assert_string_equal(td_config_origin(cfg, "redis", "port"), "default");
		td_config_free(cfg);
	}

	/* a section with no keys, or an empty mapping, keeps its defaults */
	cfg = load_ok("redis:\nbus: {}\n");
	assert_int_equal(td_config_int(cfg, "redis", "port"), 6379);
	td_config_free(cfg);

	td_config_free(NULL);
}

/* ---- values from the file -------------------------------------------------------- */

static void
test_file_values(void **state)
{
	td_config *cfg;
	(void)state;

	cfg = load_ok("# comment\n"
		      "shared:\n"
		      "  log_level: WARN\n"         /* 3: enum, any case */
		      "  data_dir: /srv/tfdrift\n"  /* 4: string */
		      "  shutdown_timeout: 250ms\n" /* 5: duration */
		      "redis:\n"
		      "  host: 'redis.internal'\n" /* 7 */
		      "  port: 6380\n"             /* 8: integer */
		      "  key_prefix: \"tf:\"\n"    /* 9 */
		      "  password:\n"              /* 10: YAML null -> empty string */
		      "bus:\n"
		      "  resend_interval: 2m\n"
		      "  request_timeout: 1500\n" /* bare number: ms */
		      "state_loader:\n"
		      "  local_files: [prod=a.tfstate, b.tfstate]\n"
		      "ingest:\n"
		      "  admin_port: 0\n");
	assert_string_equal(td_config_str(cfg, "shared", "log_level"), "warn");
	assert_string_equal(td_config_str(cfg, "shared", "data_dir"), "/srv/tfdrift");
	assert_int_equal(td_config_int(cfg, "shared", "shutdown_timeout"), 250);
	assert_string_equal(td_config_str(cfg, "redis", "host"), "redis.internal");
	assert_int_equal(td_config_int(cfg, "redis", "port"), 6380);
	assert_string_equal(td_config_str(cfg, "redis", "key_prefix"), "tf:");
	assert_string_equal(td_config_str(cfg, "redis", "password"), "");
	assert_int_equal(td_config_int(cfg, "bus", "resend_interval"), 120000);
	assert_int_equal(td_config_int(cfg, "bus", "request_timeout"), 1500);
	assert_int_equal(td_config_list_len(cfg, "state_loader", "local_files"), 2);
	assert_string_equal(td_config_list_item(cfg, "state_loader", "local_files", 0),
	    "prod=a.tfstate");
	assert_string_equal(td_config_list_item(cfg, "state_loader", "local_files", 1),
	    "b.tfstate");
	assert_int_equal(td_config_int(cfg, "ingest", "admin_port"), 0);
	assert_string_equal(td_config_origin(cfg, "shared", "log_level"), "file:3");
	assert_string_equal(td_config_origin(cfg, "redis", "port"), "file:8");
	assert_string_equal(td_config_origin(cfg, "redis", "password"), "file:10");
	assert_string_equal(td_config_origin(cfg, "redis", "db"), "default");
	/* keys not in the file keep their defaults */
	assert_int_equal(td_config_int(cfg, "redis", "db"), 0);
	td_config_free(cfg);

	/* every duration unit */
	{
		static const struct {
			const char *text;
			int64_t ms;
		} durs[] = {
			{ "0", 0 },
			{ "250ms", 250 },
			{ "5s", 5000 },
			{ "2m", 120000 },
			{ "1h", 3600000 },
			{ "1d", 86400000 },
			{ "90 s", 90000 },
		};
		char yaml[128];
		for (size_t i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
			snprintf(yaml, sizeof(yaml), "bus:\n  request_timeout: %s\n", durs[i].text);
			cfg = load_ok(yaml);
			assert_int_equal(td_config_int(cfg, "bus", "request_timeout"), durs[i].ms);
			td_config_free(cfg);
		}
	}
}

static void
test_list_forms(void **state)
{
	td_config *cfg;
	(void)state;

	/* block sequence */
	cfg = load_ok(
	    "state_loader:\n  local_files:\n    - prod/network=net.tfstate\n    - app.tfstate\n");
	assert_int_equal(td_config_list_len(cfg, "state_loader", "local_files"), 2);
	assert_string_equal(td_config_list_item(cfg, "state_loader", "local_files", 0),
	    "prod/network=net.tfstate");
	assert_string_equal(td_config_list_item(cfg, "state_loader", "local_files", 1),
	    "app.tfstate");
	assert_string_equal(td_config_origin(cfg, "state_loader", "local_files"), "file:2");
	td_config_free(cfg);

	/* comma-separated string: blanks trimmed, empty items dropped */
	cfg = load_ok("state_loader:\n  local_files: \" a.tfstate ,b=c.tfstate,, \"\n");
	assert_int_equal(td_config_list_len(cfg, "state_loader", "local_files"), 2);
	assert_string_equal(td_config_list_item(cfg, "state_loader", "local_files", 0),
	    "a.tfstate");
	assert_string_equal(td_config_list_item(cfg, "state_loader", "local_files", 1),
	    "b=c.tfstate");
	td_config_free(cfg);

	/* a single item without commas */
	cfg = load_ok("state_loader:\n  local_files: only.tfstate\n");
	assert_int_equal(td_config_list_len(cfg, "state_loader", "local_files"), 1);
	assert_string_equal(td_config_list_item(cfg, "state_loader", "local_files", 0),
	    "only.tfstate");
	td_config_free(cfg);

	/* empty forms */
	cfg = load_ok("state_loader:\n  local_files: []\n");
	assert_int_equal(td_config_list_len(cfg, "state_loader", "local_files"), 0);
	td_config_free(cfg);
	cfg = load_ok("state_loader:\n  local_files:\n");
	assert_int_equal(td_config_list_len(cfg, "state_loader", "local_files"), 0);
	td_config_free(cfg);

	/* a sequence item keeps its commas: only a scalar is split */
	cfg = load_ok("state_loader:\n  local_files: [\"a,b\"]\n");
	assert_int_equal(td_config_list_len(cfg, "state_loader", "local_files"), 1);
	assert_string_equal(td_config_list_item(cfg, "state_loader", "local_files", 0), "a,b");
	td_config_free(cfg);

	expect_error("state_loader:\n  local_files:\n    - a\n    - {x: 1}\n",
	    "config.yaml:4: state_loader.local_files: list item 2 is a mapping, expected a string");
	expect_error("state_loader:\n  local_files: {a: b}\n",
	    "config.yaml:2: state_loader.local_files: expected a list of strings or a comma-separated string, got a mapping");
}

/* ---- environment ----------------------------------------------------------------- */

static void
test_env_overrides(void **state)
{
	td_config *cfg;
	(void)state;

	setenv("TFDRIFT_REDIS_PORT", "6390", 1);
	setenv("TFDRIFT_API_GATEWAY_PORT", "18080", 1);
	setenv("TFDRIFT_POSTGRES_DSN", "postgresql://u:pw@db/tfdrift", 1);
	setenv("TFDRIFT_STATE_LOADER_LOCAL_FILES", "prod=a.tfstate, b.tfstate", 1);
	setenv("TFDRIFT_SHARED_SHUTDOWN_TIMEOUT", "9s", 1);
	setenv("TFDRIFT_REDIS_KEY_PREFIX", "", 1); /* set but empty still overrides */

	cfg = load_ok(
	    "redis:\n  port: 6380\n  host: h\n  key_prefix: file\nstate_loader:\n  local_files: [x]\n");
	assert_int_equal(td_config_int(cfg, "redis", "port"), 6390); /* env beats file */
	assert_string_equal(td_config_origin(cfg, "redis", "port"), "env:TFDRIFT_REDIS_PORT");
	assert_string_equal(td_config_str(cfg, "redis", "host"), "h"); /* file beats default */
	assert_string_equal(td_config_origin(cfg, "redis", "host"), "file:3");
	assert_string_equal(td_config_str(cfg, "redis", "key_prefix"), "");
	assert_int_equal(td_config_int(cfg, "api_gateway", "port"), 18080); /* env beats default */
	assert_string_equal(td_config_origin(cfg, "api_gateway", "port"),
	    "env:TFDRIFT_API_GATEWAY_PORT");
	assert_string_equal(td_config_str(cfg, "postgres", "dsn"), "postgresql://u:pw@db/tfdrift");
	assert_int_equal(td_config_list_len(cfg, "state_loader", "local_files"), 2);
	assert_string_equal(td_config_list_item(cfg, "state_loader", "local_files", 0),
	    "prod=a.tfstate");
	assert_string_equal(td_config_list_item(cfg, "state_loader", "local_files", 1),
	    "b.tfstate");
	assert_int_equal(td_config_int(cfg, "shared", "shutdown_timeout"), 9000);
	td_config_free(cfg);

	/* without a file at all */
	assert_int_equal(td_config_load(&cfg, NULL, NULL), 0);
	assert_int_equal(td_config_int(cfg, "redis", "port"), 6390);
	td_config_free(cfg);
	clear_tfdrift_env();

	/* env values are validated like file values, and named by variable */
	setenv("TFDRIFT_REDIS_PORT", "x", 1);
	expect_error("", "env TFDRIFT_REDIS_PORT: redis.port: expected an integer, got 'x'");
	setenv("TFDRIFT_REDIS_PORT", "65536", 1);
	expect_error("", "env TFDRIFT_REDIS_PORT: redis.port: 65536 is above the maximum 65535");
	setenv("TFDRIFT_REDIS_PORT", "", 1);
	expect_error("",
	    "env TFDRIFT_REDIS_PORT: redis.port: expected an integer, got an empty value");
	clear_tfdrift_env();
	setenv("TFDRIFT_SHARED_LOG_LEVEL", "loud", 1);
	expect_error("",
	    "env TFDRIFT_SHARED_LOG_LEVEL: shared.log_level: expected one of debug|info|warn|error, got 'loud'");
	clear_tfdrift_env();
	setenv("TFDRIFT_STATE_LOADER_POLL_INTERVAL", "10x", 1);
	expect_error_prefix("",
	    "env TFDRIFT_STATE_LOADER_POLL_INTERVAL: state_loader.poll_interval: expected a duration");
	clear_tfdrift_env();

	/* a file error is reported before an env error */
	setenv("TFDRIFT_REDIS_PORT", "x", 1);
	expect_error("redis:\n  db: 99\n", "config.yaml:2: redis.db: 99 is above the maximum 15");
	clear_tfdrift_env();
}

/* ---- errors ------------------------------------------------------------------------ */

static void
test_unknown_section(void **state)
{
	(void)state;
	expect_error_prefix("foo:\n  bar: 1\n",
	    "config.yaml:1: unknown section 'foo' (sections: shared, postgres, redis, bus, ingest, state_loader, correlator, persistence, api_gateway, notifier");
	expect_error_prefix("redis:\n  port: 1\n\nRedis:\n  port: 2\n",
	    "config.yaml:4: unknown section 'Redis' (sections: ");
	expect_error("redis: {}\nbus: {}\nredis: {}\n",
	    "config.yaml:3: duplicate section 'redis' (first at line 1)");
	expect_error("- redis\n",
	    "config.yaml:1: expected a mapping of sections at the top level, got a sequence");
	expect_error("just text\n",
	    "config.yaml:1: expected a mapping of sections at the top level, got a scalar");
	expect_error("redis: 5\n",
	    "config.yaml:1: redis: expected a mapping of keys, got a scalar");
	expect_error("shared: {}\nredis:\n  - a\n",
	    "config.yaml:3: redis: expected a mapping of keys, got a sequence");
	expect_error("[a]: 1\n", "config.yaml:1: expected a section name, got a sequence");
	expect_error("redis:\n  port: 1\n---\nredis:\n  port: 2\n",
	    "config.yaml:3: only one YAML document is allowed");
}

static void
test_unknown_key(void **state)
{
	(void)state;
	expect_error_prefix("ingest:\n  admin_port: 9101\n  colour: blue\n",
	    "config.yaml:3: ingest.colour: unknown key (ingest has: admin_bind, admin_port, ");
	expect_error_prefix("redis:\n  host: a\n  prot: 1\n",
	    "config.yaml:3: redis.prot: unknown key (redis has: host, port, password, db, key_prefix, timeout");
	/* a key of another section is unknown here */
	expect_error_prefix("redis:\n  dsn: x\n",
	    "config.yaml:2: redis.dsn: unknown key (redis has: ");
	expect_error("redis:\n  port: 1\n  host: a\n  port: 2\n",
	    "config.yaml:4: redis.port: duplicate key (first at line 2)");
	expect_error("redis:\n  ? [a]\n  : 1\n",
	    "config.yaml:2: redis: expected a key name, got a sequence");
}

static void
test_wrong_type(void **state)
{
	(void)state;
	expect_error("shared:\n  log_level: info\n\nredis:\n  port: abc\n",
	    "config.yaml:5: redis.port: expected an integer, got 'abc'");
	expect_error("redis:\n\n\n  port: abc\n",
	    "config.yaml:4: redis.port: expected an integer, got 'abc'");
	expect_error("redis:\n  port: 63.79\n",
	    "config.yaml:2: redis.port: expected an integer, got '63.79'");
	expect_error("redis:\n  port: 0x10\n",
	    "config.yaml:2: redis.port: expected an integer, got '0x10'");
	expect_error("redis:\n  port:\n",
	    "config.yaml:2: redis.port: expected an integer, got an empty value");
	expect_error("redis:\n  port: ~\n",
	    "config.yaml:2: redis.port: expected an integer, got an empty value");
	expect_error("redis:\n  port: [1, 2]\n",
	    "config.yaml:2: redis.port: expected an integer, got a sequence");
	expect_error("redis:\n  host: {a: 1}\n",
	    "config.yaml:2: redis.host: expected a string, got a mapping");
	expect_error("redis:\n  port: 99999999999999999999999\n",
	    "config.yaml:2: redis.port: '99999999999999999999999' is out of range");
	/* the line is the value's when it is not on the key's line */
	expect_error("redis:\n  port:\n    abc\n",
	    "config.yaml:3: redis.port: expected an integer, got 'abc'");
}

static void
test_out_of_range(void **state)
{
	(void)state;
	expect_error(
	    "shared:\n  log_level: info\nredis:\n  port: 6379\n\ningest:\n  admin_port: 70000\n",
	    "config.yaml:7: ingest.admin_port: 70000 is above the maximum 65535");
	expect_error("redis:\n  port: 0\n", "config.yaml:2: redis.port: 0 is below the minimum 1");
	expect_error("redis:\n  port: -1\n",
	    "config.yaml:2: redis.port: -1 is below the minimum 1");
	expect_error("redis:\n  db: 16\n", "config.yaml:2: redis.db: 16 is above the maximum 15");
	/* durations are compared in ms and the bound is shown in the best unit */
	expect_error("shared:\n  shutdown_timeout: 11m\n",
	    "config.yaml:2: shared.shutdown_timeout: 11m is above the maximum 10m");
	expect_error("redis:\n  timeout: 5ms\n",
	    "config.yaml:2: redis.timeout: 5ms is below the minimum 10ms");
	expect_error("bus:\n  resend_interval: 2h\n",
	    "config.yaml:2: bus.resend_interval: 2h is above the maximum 1h");
	expect_error("state_loader:\n  poll_interval: 999\n",
	    "config.yaml:2: state_loader.poll_interval: 999 is below the minimum 1s");
	/* the bounds themselves are allowed */
	td_config_free(
	    load_ok("redis:\n  port: 65535\n  db: 15\nshared:\n  shutdown_timeout: 10m\n"));
	td_config_free(load_ok("redis:\n  port: 1\n  timeout: 10ms\n"));
}

static void
test_bad_enum(void **state)
{
	(void)state;
	expect_error("shared:\n  log_level: loud\n",
	    "config.yaml:2: shared.log_level: expected one of debug|info|warn|error, got 'loud'");
	expect_error("notifier:\n  min_severity: severe\n",
	    "config.yaml:2: notifier.min_severity: expected one of info|low|medium|high|critical, got 'severe'");
	expect_error("shared:\n  log_level: ''\n",
	    "config.yaml:2: shared.log_level: expected one of debug|info|warn|error, got an empty value");
	/* a prefix of a word is not the word */
	expect_error("shared:\n  log_level: inf\n",
	    "config.yaml:2: shared.log_level: expected one of debug|info|warn|error, got 'inf'");
}

static void
test_bad_duration(void **state)
{
	static const char *const bad[] = { "5x", "-5s", "1.5s", "s", "5 sec", "5S", "1h30m", "ms5",
		"5ms ms" };
	char yaml[128], want[256];
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml),
		    "shared:\n  data_dir: /x\n  shutdown_timeout: \"%s\"\n", bad[i]);
		snprintf(want, sizeof(want),
		    "config.yaml:3: shared.shutdown_timeout: expected a duration (250ms, 5s, 2m, 1h, 7d, or a number of ms), got '%s'",
		    bad[i]);
		expect_error(yaml, want);
	}
	expect_error("bus:\n  request_timeout: 99999999999999999999d\n",
	    "config.yaml:2: bus.request_timeout: '99999999999999999999d' is out of range");
	expect_error("bus:\n  request_timeout: 9999999999999999d\n",
	    "config.yaml:2: bus.request_timeout: '9999999999999999d' is out of range");
}

static void
test_yaml_syntax(void **state)
{
	(void)state;
	expect_error("redis:\n  port: 1\n bad: [\n",
	    "config.yaml:3:2: YAML syntax error: did not find expected key (while parsing a block mapping at line 1)");
	expect_error("redis:\n  port: [1\n",
	    "config.yaml:3:1: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 2)");
	expect_error("redis:\n  host: \"abc\n",
	    "config.yaml:3:1: YAML syntax error: found unexpected end of stream (while scanning a quoted scalar at line 2)");
	expect_error("redis:\n\tport: 1\n",
	    "config.yaml:2:1: YAML syntax error: found character that cannot start any token (while scanning for the next token at line 2) (YAML does not allow tabs for indentation)");
	expect_error("key: value: x\n",
	    "config.yaml:1:11: YAML syntax error: mapping values are not allowed in this context");
	expect_error("redis:\n  host: a\xff"
		     "b\n",
	    "config.yaml:2: YAML reader error at byte 16: invalid leading UTF-8 octet");
}

/* ---- files ------------------------------------------------------------------------- */

static void
test_load_file(void **state)
{
	char path[] = "/tmp/tfdrift-test-config-XXXXXX";
	int fd = mkstemp(path);
	static const char body[] = "redis:\n  port: 6381\nbus:\n  request_timeout: 5s\n";
	static const char bad[] = "redis:\n  port: 6381\n  port: 6382\n";
	td_config *cfg = NULL;
	td_error err;
	char want[256];
	(void)state;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, body, sizeof(body) - 1), (ssize_t)(sizeof(body) - 1));
	assert_int_equal(td_config_load(&cfg, path, &err), 0);
	assert_int_equal(td_config_int(cfg, "redis", "port"), 6381);
	assert_int_equal(td_config_int(cfg, "bus", "request_timeout"), 5000);
	assert_string_equal(td_config_origin(cfg, "redis", "port"), "file:2");
	td_config_free(cfg);

	/* messages name the file as given */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(pwrite(fd, bad, sizeof(bad) - 1, 0), (ssize_t)(sizeof(bad) - 1));
	assert_int_equal(td_config_load(&cfg, path, &err), TD_EINVAL);
	assert_null(cfg);
	snprintf(want, sizeof(want), "%s:3: redis.port: duplicate key (first at line 2)", path);
	assert_string_equal(err.msg, want);

	/* an empty file is all defaults */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(td_config_load(&cfg, path, &err), 0);
	assert_int_equal(td_config_int(cfg, "redis", "port"), 6379);
	td_config_free(cfg);
	close(fd);
	unlink(path);

	/* unreadable: TD_EIO with the path and the system's reason */
	assert_int_equal(td_config_load(&cfg, "/nonexistent/tfdrift.yaml", &err), TD_EIO);
	assert_null(cfg);
	assert_int_equal(err.code, TD_EIO);
	assert_string_equal(err.msg,
	    "/nonexistent/tfdrift.yaml: cannot open: No such file or directory");
	assert_int_equal(td_config_load(&cfg, "/tmp", &err), TD_EIO);
	assert_string_equal(err.msg, "/tmp: cannot read: Is a directory");
	/* a NULL td_error is allowed */
	assert_int_equal(td_config_load(&cfg, "/nonexistent/tfdrift.yaml", NULL), TD_EIO);
	assert_int_equal(td_config_load_string(&cfg, "foo: {}\n", NULL, NULL), TD_EINVAL);
}

/* Every value of a equals the same value of b. */
static void
assert_same_values(const td_config *a, const td_config *b)
{
	for (size_t i = 0; td_config_directives[i].section != NULL; i++) {
		const td_config_directive *d = &td_config_directives[i];
		const char *s = d->section, *k = d->key;

		switch (d->type) {
		case TD_CFG_STRING:
		case TD_CFG_ENUM:
			assert_string_equal(td_config_str(a, s, k), td_config_str(b, s, k));
			break;
		case TD_CFG_INT:
		case TD_CFG_DURATION:
		case TD_CFG_SIZE:
			assert_int_equal(td_config_int(a, s, k), td_config_int(b, s, k));
			break;
		case TD_CFG_BOOL:
			assert_int_equal(td_config_bool(a, s, k), td_config_bool(b, s, k));
			break;
		case TD_CFG_DOUBLE:
			assert_true(td_config_double(a, s, k) == td_config_double(b, s, k));
			break;
		case TD_CFG_STRLIST:
			assert_int_equal(td_config_list_len(a, s, k), td_config_list_len(b, s, k));
			for (size_t j = 0; j < td_config_list_len(a, s, k); j++) {
				assert_string_equal(td_config_list_item(a, s, k, j),
				    td_config_list_item(b, s, k, j));
			}
			break;
		}
	}
}

static void
test_example_loads(void **state)
{
	td_config *ex = NULL, *def = NULL;
	td_error err;
	(void)state;

	if (td_config_load(&ex, "config.example.yaml", &err) != 0) {
		fail_msg("config.example.yaml does not load: %s", err.msg);
	}
	assert_int_equal(td_config_load(&def, NULL, &err), 0);
	/* the example sets every value to its default */
	assert_same_values(ex, def);
	/* and really sets them: each key is in the file (secrets may be left out) */
	for (size_t i = 0; td_config_directives[i].section != NULL; i++) {
		const td_config_directive *d = &td_config_directives[i];
		const char *origin = td_config_origin(ex, d->section, d->key);
		if (!(d->flags & TD_CFG_F_SECRET) && strncmp(origin, "file:", 5) != 0) {
			fail_msg("%s.%s is missing from config.example.yaml: run `make docs`",
			    d->section, d->key);
		}
	}
	td_config_free(ex);
	td_config_free(def);
}

/* ---- generated docs are current ------------------------------------------------------ */

static char *
read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL) {
		return NULL;
	}
	/* getdelim with NUL reads the whole text file in one call */
	n = getdelim(&buf, &cap, '\0', f);
	fclose(f);
	*len = n < 0 ? 0 : (size_t)n;
	return buf;
}

static void
check_current(const char *path, int (*render)(FILE *))
{
	char *want = NULL, *have;
	size_t want_len = 0, have_len = 0;
	FILE *mem = open_memstream(&want, &want_len);

	assert_non_null(mem);
	assert_int_equal(render(mem), 0);
	fclose(mem);
	assert_non_null(want);
	have = read_whole(path, &have_len);
	if (have == NULL || want == NULL) {
		fail_msg("%s is missing: run `make docs`", path);
		return;
	}
	if (have_len != want_len || memcmp(have, want, want_len) != 0) {
		size_t i = 0, line = 1;
		while (i < have_len && i < want_len && have[i] == want[i]) {
			line += have[i++] == '\n';
		}
		fail_msg(
		    "%s is stale (first difference on line %zu): run `make docs` and commit the result",
		    path, line);
	}
	free(want);
	free(have);
}

static void
test_reference_current(void **state)
{
	(void)state;
	check_current("docs/configuration.md", td_config_write_reference);
}

static void
test_example_current(void **state)
{
	(void)state;
	check_current("config.example.yaml", td_config_write_example);
}

static void
test_reference_content(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	(void)state;

	assert_int_equal(td_config_write_reference(mem), 0);
	fclose(mem);
	assert_non_null(strstr(text, "\n## `redis`\n"));
	assert_non_null(strstr(text,
	    "| `port` | integer | `6379` | 1 to 65535 | `TFDRIFT_REDIS_PORT` | Redis TCP port. |\n"));
	assert_non_null(strstr(text,
	    "| `log_level` | enum | `info` | `debug`, `info`, `warn`, `error` | `TFDRIFT_SHARED_LOG_LEVEL` |"));
	assert_non_null(strstr(text,
	    "| `shutdown_timeout` | duration | `4s` | 0 to 10m | `TFDRIFT_SHARED_SHUTDOWN_TIMEOUT` |"));
	assert_non_null(strstr(text,
	    "| `dsn` | string | *(empty)* | — | `TFDRIFT_POSTGRES_DSN` | **Secret.** "));
	assert_non_null(strstr(text, "`TFDRIFT_API_GATEWAY_PORT`"));
	free(text);
}

/* ---- misuse aborts ------------------------------------------------------------------- */

/* Runs fn in a child and asserts it died of SIGABRT after logging an error. */
static void
expect_abort(void (*fn)(const td_config *), const td_config *cfg)
{
	int fds[2], status;
	pid_t pid;
	char buf[1024] = "";
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGABRT, SIG_DFL);
		close(fds[0]);
		td_log_set_fd(fds[1]);
		fn(cfg);
		_exit(0); /* not reached when fn aborts */
	}
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) {
		fail_msg("child did not abort (status 0x%x)", status);
	}
	assert_non_null(strstr(buf, "\"level\":\"error\""));
	assert_non_null(strstr(buf, "\"msg\":\"config "));
}

static void
read_unknown_key(const td_config *cfg)
{
	(void)td_config_str(cfg, "redis", "no_such_key");
}

static void
read_unknown_section(const td_config *cfg)
{
	(void)td_config_int(cfg, "nope", "port");
}

static void
read_int_as_str(const td_config *cfg)
{
	(void)td_config_str(cfg, "redis", "port");
}

static void
read_str_as_int(const td_config *cfg)
{
	(void)td_config_int(cfg, "redis", "host");
}

static void
read_str_as_bool(const td_config *cfg)
{
	(void)td_config_bool(cfg, "redis", "host");
}

static void
read_list_as_str(const td_config *cfg)
{
	(void)td_config_str(cfg, "state_loader", "local_files");
}

static void
read_str_as_list(const td_config *cfg)
{
	(void)td_config_list_len(cfg, "redis", "host");
}

static void
read_list_past_end(const td_config *cfg)
{
	(void)td_config_list_item(cfg, "state_loader", "local_files", 0);
}

static void
test_misuse_aborts(void **state)
{
	td_config *cfg = NULL;
	(void)state;

	assert_int_equal(td_config_load(&cfg, NULL, NULL), 0);
	expect_abort(read_unknown_key, cfg);
	expect_abort(read_unknown_section, cfg);
	expect_abort(read_int_as_str, cfg);
	expect_abort(read_str_as_int, cfg);
	expect_abort(read_str_as_bool, cfg);
	expect_abort(read_list_as_str, cfg);
	expect_abort(read_str_as_list, cfg);
	expect_abort(read_list_past_end, cfg);
	td_config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_sane),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_file_values),
		cmocka_unit_test(test_list_forms),
		cmocka_unit_test_teardown(test_env_overrides, teardown_env),
		cmocka_unit_test(test_unknown_section),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_bad_enum),
		cmocka_unit_test(test_bad_duration),
		cmocka_unit_test(test_yaml_syntax),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_example_loads),
		cmocka_unit_test(test_reference_current),
		cmocka_unit_test(test_example_current),
		cmocka_unit_test(test_reference_content),
		cmocka_unit_test(test_misuse_aborts),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
