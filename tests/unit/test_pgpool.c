/* test_pgpool.c — the libpq pool (libcommon/src/pgpool.c) without a
 * server: an unreachable database is reported, not waited on, and backoff
 * keeps callers from redialing on every request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>

#include "tfdrift/pgpool.h"
#include "tfdrift/error.h"
#include "tfdrift/log.h"

/* A port on 127.0.0.1 where nothing listens: bind one, then close it. */
static int
dead_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	close(s);
	return ntohs(a.sin_port);
}

static int states_up, states_down;

static void
on_state(void *arg, bool up)
{
	(void)arg;
	if (up) {
		states_up++;
	} else {
		states_down++;
	}
}

static void
test_unreachable(void **state)
{
	(void)state;
	char dsn[128];
	snprintf(dsn, sizeof(dsn), "host=127.0.0.1 port=%d dbname=none user=none", dead_port());
	td_pgpool_opts o = {
		.name = "test",
		.dsn = dsn,
		.connect_timeout_ms = 2000,
		.size = 2,
		.on_state = on_state,
	};
	td_pgpool *p = NULL;
	PGconn *c = NULL;
	td_error err = { 0 };
	assert_int_equal(td_pgpool_open(&p, &o, &err), 0);
	assert_false(td_pgpool_up(p));

	assert_int_equal(td_pgpool_acquire(p, 1000, &c), TD_EAGAIN);
	assert_null(c);
	assert_int_equal(states_down, 1);
	assert_int_equal(states_up, 0);
	char why[256];
	td_pgpool_last_error(p, why, sizeof(why));
	assert_non_null(strstr(why, "connect failed"));
	assert_null(strchr(why, '\n')); /* folded onto one line */
	assert_int_equal(td_pgpool_open_count(p), 0);

	/* Within the backoff the pool answers at once without dialing. */
	assert_int_equal(td_pgpool_acquire(p, 1000, &c), TD_EAGAIN);
	assert_int_equal(states_down, 1);

	/* The slot went back: both are free again. */
	td_pgpool_close(p);
}

static void
test_bad_size(void **state)
{
	(void)state;
	td_pgpool_opts o = { .name = "test", .dsn = "", .size = 0 };
	td_pgpool *p = NULL;
	td_error err = { 0 };
	assert_int_equal(td_pgpool_open(&p, &o, &err), TD_EINVAL);
	assert_null(p);
	assert_non_null(strstr(err.msg, "pool size"));
}

static void
test_one_line(void **state)
{
	(void)state;
	char s[] = "connection to server failed: Connection refused\n\tIs the server running?\n";
	size_t n = td_pgpool_one_line(s);
	assert_int_equal(n, strlen(s));
	assert_string_equal(s,
	    "connection to server failed: Connection refused Is the server running?");
	char e[] = "\n\n";
	td_pgpool_one_line(e);
	assert_string_equal(e, "");
}

static void
test_fault_classes(void **state)
{
	(void)state;
	char st[6] = "junk";
	/* No result at all is a connection problem: worth retrying. */
	assert_int_equal(td_pgpool_fault(NULL), TD_PG_FAULT_TRANSIENT);
	td_pgpool_sqlstate(NULL, st);
	assert_string_equal(st, "");
	/* A result without SQLSTATE (made locally) blames neither the row nor
	 * the setup. */
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
	assert_int_equal(td_pgpool_fault(r), TD_PG_FAULT_TRANSIENT);
	td_pgpool_sqlstate(r, st);
	assert_string_equal(st, "");
	PQclear(r);
	/* Real SQLSTATEs from a server: tests/integration/test_persistence*.sh. */
}

int
main(void)
{
	td_log_init("test_pgpool", TD_LOG_OFF);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_bad_size),
		cmocka_unit_test(test_one_line),
		cmocka_unit_test(test_fault_classes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
