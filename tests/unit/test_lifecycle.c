/* test_lifecycle.c — options, config errors, signals and stop hooks.
 *
 * td_app_init blocks signals and starts a thread, so each case runs in a
 * fork()ed child whose stdout, stderr and exit status the parent checks. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

#include <curl/curl.h>
#include <cmocka.h>

#include "tfdrift/version.h"
#include "tfdrift/lifecycle.h"
#include "tfdrift/log.h"

/* A hang guard for children, not a timing assertion: a child stuck because
 * of a bug dies of SIGALRM and the exit-status check fails. */
#define CHILD_GUARD_S 60

static const td_app_info info = {
	.name = "tfdrift-test",
	.section = "ingest",
	.summary = "lifecycle test process",
	.usage = "Commands:\n  replay FILE   send a file's events\n",
};

typedef struct child {
	pid_t pid;
	int out_fd, err_fd, note_fd; /* parent's ends */
	char out[16384], err[16384];
	size_t out_len, err_len;
	int status;
} child;

typedef int (*child_fn)(void *arg, int note_fd);

/* Forks a child running fn(arg, note_fd) with stdout and stderr on pipes;
 * fn's return value is the child's exit status.  note_fd is an extra pipe the
 * child writes progress marks to. */
static void
child_start(child *c, child_fn fn, void *arg)
{
	int out[2], err[2], note[2];

	memset(c, 0, sizeof(*c));
	assert_int_equal(pipe(out), 0);
	assert_int_equal(pipe(err), 0);
	assert_int_equal(pipe(note), 0);
	fflush(NULL);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		alarm(CHILD_GUARD_S);
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		close(out[0]);
		close(err[0]);
		close(note[0]);
		close(out[1]);
		close(err[1]);
		int rc = fn(arg, note[1]);
		fflush(NULL);
		/* exit, not _exit, so LeakSanitizer checks the child too */
		exit(rc);
	}
	close(out[1]);
	close(err[1]);
	close(note[1]);
	c->out_fd = out[0];
	c->err_fd = err[0];
	c->note_fd = note[0];
}

/* Reads one byte of progress from the child; returns it, or -1 at EOF. */
static int
child_note(child *c)
{
	char b;
	ssize_t n;
	do {
		n = read(c->note_fd, &b, 1);
	} while (n < 0 && errno == EINTR);
	return n == 1 ? b : -1;
}

/* Collects stdout and stderr until both close, then reaps the child. */
static void
child_finish(child *c)
{
	struct pollfd p[2] = { { .fd = c->out_fd, .events = POLLIN },
		{ .fd = c->err_fd, .events = POLLIN } };
	int open = 2;

	while (open > 0) {
		if (poll(p, 2, -1) < 0) {
			assert_int_equal(errno, EINTR);
			continue;
		}
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			char *buf = i == 0 ? c->out : c->err;
			size_t *len = i == 0 ? &c->out_len : &c->err_len;
			size_t room = sizeof(c->out) - 1 - *len;
			char scratch[512];
			ssize_t n = read(p[i].fd, room > 0 ? buf + *len : scratch,
			    room > 0 ? room : sizeof(scratch));
			if (n <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				open--;
			} else if (room > 0) {
				*len += (size_t)n;
				buf[*len] = '\0';
			}
		}
	}
	close(c->note_fd);
	assert_int_equal(waitpid(c->pid, &c->status, 0), c->pid);
}

static void
assert_exited(const child *c, int code)
{
	if (!WIFEXITED(c->status) || WEXITSTATUS(c->status) != code)
		fprintf(stderr, "child status 0x%x\nstdout:\n%s\nstderr:\n%s\n", c->status, c->out,
		    c->err);
	assert_true(WIFEXITED(c->status));
	assert_int_equal(WEXITSTATUS(c->status), code);
}

/* Runs td_app_init on a NULL-terminated argv; the child exits with the exit
 * code it returned, or 0 after printing td_app_argv() one per line. */
static int
child_init(void *arg, int note_fd)
{
	char **argv = arg;
	int argc = 0, code = -1;
	td_app *app = NULL;

	(void)note_fd;
	while (argv[argc] != NULL)
		argc++;
	if (td_app_init(&app, &info, argc, argv, &code) != 0) {
		if (app != NULL)
			return 99;
		return code;
	}
	if (code != 0)
		return 98;
	printf("level=%s\n", td_log_level_name(td_log_get_level()));
	printf("argc=%d\n", td_app_argc(app));
	for (int i = 0; i < td_app_argc(app); i++)
		printf("arg=%s\n", td_app_argv(app)[i]);
	fflush(stdout);
	td_app_free(app);
	return 0;
}

/* Writes text into a fresh temporary file; returns its malloc'd path. */
static char *
write_temp(const char *text)
{
	char *path = strdup("/tmp/tfdrift-lifecycle-XXXXXX");
	assert_non_null(path);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
test_version(void **state)
{
	(void)state;
	child c;
	char *argv[] = { "tfdrift-test", "--version", NULL };
	char *argv_short[] = { "tfdrift-test", "-V", NULL };

	child_start(&c, child_init, argv);
	child_finish(&c);
	assert_exited(&c, 0);
	assert_string_equal(c.out, "tfdrift-test " TD_VERSION " (" TD_GITREV ")\n");
	assert_string_equal(c.err, "");

	child_start(&c, child_init, argv_short);
	child_finish(&c);
	assert_exited(&c, 0);
	assert_string_equal(c.out, "tfdrift-test " TD_VERSION " (" TD_GITREV ")\n");
}

static void
test_help(void **state)
{
	(void)state;
	child c;
	char *argv[] = { "tfdrift-test", "--help", NULL };

	child_start(&c, child_init, argv);
	child_finish(&c);
	assert_exited(&c, 0);
	assert_non_null(strstr(c.out, "tfdrift-test - lifecycle test process"));
	assert_non_null(strstr(c.out, "Usage: tfdrift-test [OPTIONS]"));
	assert_non_null(strstr(c.out, "--config FILE"));
	assert_non_null(strstr(c.out, "--debug"));
	assert_non_null(strstr(c.out, "--version"));
	assert_non_null(strstr(c.out, "`ingest` section"));
	assert_non_null(strstr(c.out, "TFDRIFT_<SECTION>_<KEY>"));
	assert_non_null(strstr(c.out, "TFDRIFT_INGEST_ADMIN_BIND"));
	assert_non_null(strstr(c.out, "replay FILE   send a file's events\n"));
	assert_string_equal(c.err, "");
}

static void
test_usage_errors(void **state)
{
	(void)state;
	child c;
	char *unknown_long[] = { "tfdrift-test", "--bogus", NULL };
	char *unknown_short[] = { "tfdrift-test", "-q", NULL };
	char *missing[] = { "tfdrift-test", "--config", NULL };

	child_start(&c, child_init, unknown_long);
	child_finish(&c);
	assert_exited(&c, 2);
	assert_non_null(strstr(c.err, "tfdrift-test: unknown option '--bogus'"));
	assert_non_null(strstr(c.err, "Usage: tfdrift-test"));
	assert_string_equal(c.out, "");

	child_start(&c, child_init, unknown_short);
	child_finish(&c);
	assert_exited(&c, 2);
	assert_non_null(strstr(c.err, "unknown option '-q'"));

	child_start(&c, child_init, missing);
	child_finish(&c);
	assert_exited(&c, 2);
	assert_non_null(strstr(c.err, "option '--config' needs an argument"));
	assert_non_null(strstr(c.err, "Usage: tfdrift-test"));
}

static void
test_config_error_exits_2(void **state)
{
	(void)state;
	child c;
	char want[512];
	char *path = write_temp(
	    "shared:\n  log_level: info\ningest:\n  admin_port: 0\n  colour: blue\n");
	char *argv[] = { "tfdrift-test", "--config", path, NULL };

	child_start(&c, child_init, argv);
	child_finish(&c);
	assert_exited(&c, 2);
	snprintf(want, sizeof(want), "tfdrift-test: %s:5: ", path);
	assert_ptr_equal(strstr(c.err, want), c.err); /* the message leads with name, file:line */
	assert_non_null(strstr(c.err, "colour"));
	assert_string_equal(c.out, "");

	/* the same file through $TFDRIFT_CONFIG */
	char *argv_env[] = { "tfdrift-test", NULL };
	setenv("TFDRIFT_CONFIG", path, 1);
	child_start(&c, child_init, argv_env);
	unsetenv("TFDRIFT_CONFIG");
	child_finish(&c);
	assert_exited(&c, 2);
	assert_non_null(strstr(c.err, want));

	/* a missing file */
	char *argv_missing[] = { "tfdrift-test", "-c", "/nonexistent/tfdrift.yaml", NULL };
	child_start(&c, child_init, argv_missing);
	child_finish(&c);
	assert_exited(&c, 2);
	assert_non_null(strstr(c.err, "/nonexistent/tfdrift.yaml"));

	unlink(path);
	free(path);
}

static void
test_argv_after_options_preserved(void **state)
{
	(void)state;
	child c;
	char *path = write_temp("shared:\n  log_level: warn\n");
	char *argv[] = { "tfdrift-test", "--config", path, "replay", "events.json", "--print", "-c",
		"x", NULL };
	char *argv_debug[] = { "tfdrift-test", "-d", "-c", path, NULL };

	child_start(&c, child_init, argv);
	child_finish(&c);
	assert_exited(&c, 0);
	/* the level came from the file; the subcommand kept its own options */
	assert_string_equal(c.out,
	    "level=warn\nargc=5\narg=replay\narg=events.json\narg=--print\n"
	    "arg=-c\narg=x\n");

	child_start(&c, child_init, argv_debug);
	child_finish(&c);
	assert_exited(&c, 0);
	assert_non_null(strstr(c.out, "level=debug\nargc=0\n"));

	unlink(path);
	free(path);
}

/* Stop hooks write their tag to the note pipe, so the parent sees the order. */
typedef struct hook_arg {
	int fd;
	char tag;
} hook_arg;

static void
hook(void *arg)
{
	hook_arg *h = arg;
	if (write(h->fd, &h->tag, 1) != 1)
		abort();
}

/* Waits in td_app_wait for a signal; exit status 0 if it returned normally
 * with td_app_stopping() true. */
static int
child_wait_for_signal(void *arg, int note_fd)
{
	char *argv[] = { "tfdrift-test", NULL };
	td_app *app = NULL;
	int code = 0, rc = 0;
	hook_arg a = { note_fd, 'a' }, b = { note_fd, 'b' }, late = { note_fd, 'L' };

	(void)arg;
	if (td_app_init(&app, &info, 1, argv, &code) != 0)
		return 90 + code;
	td_app_on_stop(app, hook, &a);
	td_app_on_stop(app, hook, &b);
	if (td_app_stopping(app))
		rc = 80;
	if (write(note_fd, "R", 1) != 1) /* ready: the parent may signal now */
		abort();
	if (td_app_wait(app, -1) != 0)
		rc = 81;
	if (!td_app_stopping(app))
		rc = 82;
	/* a hook added after the stop runs at once */
	td_app_on_stop(app, hook, &late);
	td_app_free(app);
	return rc;
}

static void
test_sigterm_stops_gracefully(void **state)
{
	(void)state;
	child c;
	int sigs[] = { SIGTERM, SIGINT };

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		child_start(&c, child_wait_for_signal, NULL);
		assert_int_equal(child_note(&c), 'R');
		assert_int_equal(kill(c.pid, sigs[i]), 0);
		assert_int_equal(child_note(&c), 'a');
		assert_int_equal(child_note(&c), 'b');
		assert_int_equal(child_note(&c), 'L');
		assert_int_equal(child_note(&c), -1);
		child_finish(&c);
		assert_exited(&c, 0);
		assert_non_null(strstr(c.out, "\"msg\":\"stop requested\""));
		assert_non_null(strstr(c.out, sigs[i] == SIGTERM ? "\"SIGTERM\"" : "\"SIGINT\""));
		assert_non_null(strstr(c.out, "\"service\":\"tfdrift-test\""));
	}
}

/* Blocks forever after the first signal (as a service stuck in shutdown). */
static int
child_stuck(void *arg, int note_fd)
{
	char *argv[] = { "tfdrift-test", NULL };
	td_app *app = NULL;
	int code = 0;
	hook_arg a = { note_fd, 'a' };

	(void)arg;
	if (td_app_init(&app, &info, 1, argv, &code) != 0)
		return 90 + code;
	td_app_on_stop(app, hook, &a);
	if (write(note_fd, "R", 1) != 1)
		abort();
	td_app_wait(app, -1);
	for (;;)
		pause();
}

static void
test_second_signal_exits_1(void **state)
{
	(void)state;
	child c;

	child_start(&c, child_stuck, NULL);
	assert_int_equal(child_note(&c), 'R');
	assert_int_equal(kill(c.pid, SIGTERM), 0);
	assert_int_equal(child_note(&c), 'a');
	assert_int_equal(kill(c.pid, SIGINT), 0);
	child_finish(&c);
	assert_exited(&c, 1);
	assert_non_null(strstr(c.out, "second signal"));
}

/* td_app_request_stop from code: hooks run once, td_app_wait times out before. */
static int
child_request_stop(void *arg, int note_fd)
{
	char *argv[] = { "tfdrift-test", NULL };
	td_app *app = NULL;
	int code = 0;
	hook_arg a = { note_fd, 'a' };

	(void)arg;
	if (td_app_init(&app, &info, 1, argv, &code) != 0)
		return 90 + code;
	td_app_on_stop(app, hook, &a);
	if (td_app_wait(app, 0) != TD_ETIMEDOUT)
		return 10;
	if (td_app_wait(app, 20) != TD_ETIMEDOUT)
		return 11;
	td_app_request_stop(app);
	td_app_request_stop(app);
	if (td_app_wait(app, -1) != 0 || td_app_wait(app, 0) != 0 || !td_app_stopping(app))
		return 12;
	td_app_free(app);
	return 0;
}

static void
test_request_stop(void **state)
{
	(void)state;
	child c;

	child_start(&c, child_request_stop, NULL);
	assert_int_equal(child_note(&c), 'a');
	assert_int_equal(child_note(&c), -1); /* once only */
	child_finish(&c);
	assert_exited(&c, 0);
}

static size_t
discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

/* Starts the admin server from the config and fetches /healthz from it. */
static int
child_admin(void *arg, int note_fd)
{
	char *argv[] = { "tfdrift-test", "-c", arg, NULL };
	td_app *app = NULL;
	int code = 0, rc = 0;
	td_error err;
	long status = 0;
	char url[128];

	(void)note_fd;
	if (td_app_init(&app, &info, 3, argv, &code) != 0)
		return 90 + code;
	if (td_app_start_admin(app, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		rc = 20;
		goto out;
	}
	if (td_app_start_admin(app, &err) != TD_EEXIST) {
		rc = 21;
		goto out;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", td_admin_port(td_app_admin(app)));
	CURL *cu = curl_easy_init();
	curl_easy_setopt(cu, CURLOPT_URL, url);
	curl_easy_setopt(cu, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, discard);
	if (curl_easy_perform(cu) != CURLE_OK)
		rc = 22;
	curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(cu);
	if (rc == 0 && status != 200)
		rc = 23;
out:
	td_app_free(app);
	return rc;
}

static void
test_start_admin(void **state)
{
	(void)state;
	child c;
	char *path = write_temp("ingest:\n  admin_bind: 127.0.0.1\n  admin_port: 0\n");

	child_start(&c, child_admin, path);
	child_finish(&c);
	assert_exited(&c, 0);
	assert_non_null(strstr(c.out, "\"msg\":\"admin server listening\""));
	unlink(path);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_config_error_exits_2),
		cmocka_unit_test(test_argv_after_options_preserved),
		cmocka_unit_test(test_sigterm_stops_gracefully),
		cmocka_unit_test(test_second_signal_exits_1),
		cmocka_unit_test(test_request_stop),
		cmocka_unit_test(test_start_admin),
	};
	unsetenv("TFDRIFT_CONFIG");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
