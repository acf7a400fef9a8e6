/* test_bus_net.c — bus_net.c: dial specs (lists, literals, names), the
 * system resolver on "localhost", and peers added and dropped as a name's
 * addresses change, with real NNG sockets on 127.0.0.1 and 127.0.0.2.  The
 * name's answers come from a resolver function the test controls (this
 * machine has no DNS server of ours to change records in); the sockets,
 * dialers and the refresh thread are the real ones.  The TLS reload test
 * makes its certificates with the openssl command line tool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tfdrift/bus.h"
#include "tfdrift/bus_net.h"
#include "tfdrift/clock.h"
#include "tfdrift/error.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

/* ---- a resolver whose answers the test sets ---------------------------------- */

static pthread_mutex_t answers_mu = PTHREAD_MUTEX_INITIALIZER;
static const char *answers[4]; /* NULL-terminated; answers[0] NULL = NXDOMAIN */
static int lookups;

static void
set_answers(const char *a, const char *b)
{
	pthread_mutex_lock(&answers_mu);
	answers[0] = a;
	answers[1] = b;
	answers[2] = NULL;
	pthread_mutex_unlock(&answers_mu);
}

static int
test_resolver(void *arg, const char *host, char ***addrs, size_t *n)
{
	size_t k = 0;

	(void)arg;
	*addrs = NULL;
	*n = 0;
	if (strcmp(host, "bus.example") == 0) {
		*addrs = calloc(3, sizeof(char *));
		(*addrs)[0] = strdup("10.0.0.2");
		(*addrs)[1] = strdup("10.0.0.1");
		(*addrs)[2] = strdup("fd00::1");
		*n = 3;
		return 0;
	}
	if (strcmp(host, "peers.test") != 0) {
		return TD_ENOTFOUND;
	}
	pthread_mutex_lock(&answers_mu);
	lookups++;
	while (answers[k] != NULL) {
		k++;
	}
	if (k > 0) {
		*addrs = calloc(k, sizeof(char *));
		for (size_t i = 0; i < k; i++) {
			(*addrs)[i] = strdup(answers[i]);
		}
		*n = k;
	}
	pthread_mutex_unlock(&answers_mu);
	return k > 0 ? 0 : TD_ENOTFOUND;
}

/* ---- expansion ------------------------------------------------------------------ */

static void
expect(const char *spec, bool strict, int rv_want, const char *const *urls, bool dyn_want)
{
	td_bus_target *t = NULL;
	td_error err = { 0 };
	size_t n = 0, i;
	bool dyn = false;
	int rv = td_bus_targets_expand(spec, test_resolver, NULL, strict, &t, &n, &dyn, &err);

	if (rv != rv_want) {
		fail_msg("%s: rv %d (%s), want %d", spec, rv, err.msg, rv_want);
	}
	if (rv != 0) {
		assert_true(strlen(err.msg) > 0);
		return;
	}
	if (urls == NULL) {
		fail_msg("%s: no expected targets given", spec);
		return;
	}
	for (i = 0; urls[i] != NULL; i++) {
		if (i >= n || strcmp(t[i].url, urls[i]) != 0) {
			fail_msg("%s: target %zu is %s, want %s", spec, i,
			    i < n ? t[i].url : "(none)", urls[i]);
		}
	}
	assert_int_equal(n, i);
	assert_int_equal(dyn, dyn_want);
	td_bus_targets_free(t, n);
}

static void
test_expand(void **state)
{
	(void)state;
	expect("tcp://127.0.0.1:7101", true, 0, (const char *[]){ "tcp://127.0.0.1:7101", NULL },
	    false);
	/* a list, commas and spaces, sorted, duplicates once */
	expect("tcp://127.0.0.2:1, tcp://127.0.0.1:1 tcp://127.0.0.2:1", true, 0,
	    (const char *[]){ "tcp://127.0.0.1:1", "tcp://127.0.0.2:1", NULL }, false);
	/* a name: every address, IPv6 in brackets, TLS scheme kept */
	expect("tls+tcp://bus.example:7104", true, 0,
	    (const char *[]){ "tls+tcp://10.0.0.1:7104", "tls+tcp://10.0.0.2:7104",
		"tls+tcp://[fd00::1]:7104", NULL },
	    true);
	expect("tcp://[::1]:7101", true, 0, (const char *[]){ "tcp://[::1]:7101", NULL }, false);
	expect("tcp://*:7101", true, 0, (const char *[]){ "tcp://*:7101", NULL }, false);
	expect("ipc:///tmp/x.sock,inproc://y", true, 0,
	    (const char *[]){ "inproc://y", "ipc:///tmp/x.sock", NULL }, false);
	/* a name that does not resolve: an error when strict, else nothing yet */
	expect("tcp://nowhere.test:1", true, TD_ENOTFOUND, NULL, false);
	expect("tcp://nowhere.test:1", false, 0, (const char *[]){ NULL }, true);
	/* malformed */
	expect("127.0.0.1:7101", true, TD_EINVAL, NULL, false);
	expect("tcp://127.0.0.1", true, TD_EINVAL, NULL, false);
	expect("tcp://127.0.0.1:70x1", true, TD_EINVAL, NULL, false);
	expect("tcp://[::1:7101", true, TD_EINVAL, NULL, false);
	expect(" , ", true, TD_EINVAL, NULL, false);
}

static void
test_system_resolver(void **state)
{
	char **a = NULL;
	size_t n = 0;
	bool loopback = false;

	(void)state;
	assert_int_equal(td_bus_resolve_system(NULL, "localhost", &a, &n), 0);
	assert_true(n >= 1);
	for (size_t i = 0; i < n; i++) {
		loopback = loopback || strcmp(a[i], "127.0.0.1") == 0 || strcmp(a[i], "::1") == 0;
		free(a[i]);
	}
	free(a);
	assert_true(loopback);
	assert_int_equal(td_bus_resolve_system(NULL, "no-such-host.invalid", &a, &n), TD_ENOTFOUND);
}

/* ---- peers added and dropped ----------------------------------------------------- */

/* A port free on both 127.0.0.1 and 127.0.0.2. */
static int
free_port_both(void)
{
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_in a = { .sin_family = AF_INET };
		socklen_t len = sizeof(a);
		int s1 = socket(AF_INET, SOCK_STREAM, 0), s2 = socket(AF_INET, SOCK_STREAM, 0);
		int port = 0;
		inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
		if (bind(s1, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		    getsockname(s1, (struct sockaddr *)&a, &len) == 0) {
			inet_pton(AF_INET, "127.0.0.2", &a.sin_addr);
			if (bind(s2, (struct sockaddr *)&a, sizeof(a)) == 0) {
				port = ntohs(a.sin_port);
			}
		}
		close(s1);
		close(s2);
		if (port != 0) {
			return port;
		}
	}
	return 0;
}

static bool
wait_peers(td_bus_sub *s, int want)
{
	int64_t deadline = td_clock_mono_ms() + 10000;

	while (td_clock_mono_ms() < deadline) {
		if (td_bus_sub_peers(s) == want) {
			return true;
		}
		usleep(20000);
	}
	return false;
}

/* Waits (at most 4 s) until the resolver has answered n more lookups. */
static void
wait_lookups(int n)
{
	pthread_mutex_lock(&answers_mu);
	int before = lookups;
	pthread_mutex_unlock(&answers_mu);
	for (int i = 0; i < 200; i++) {
		pthread_mutex_lock(&answers_mu);
		bool seen = lookups >= before + n;
		pthread_mutex_unlock(&answers_mu);
		if (seen) {
			break;
		}
		usleep(20000);
	}
	pthread_mutex_lock(&answers_mu);
	assert_true(lookups >= before + n);
	pthread_mutex_unlock(&answers_mu);
}

/* Lines of f (read from its start) that contain what. */
static int
count_in(FILE *f, const char *what)
{
	char line[2048];
	int n = 0;
	fflush(f);
	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		n += strstr(line, what) != NULL;
	}
	fseek(f, 0, SEEK_END);
	return n;
}

static void
on_msg(void *arg, const td_envelope *env)
{
	(void)arg;
	(void)env;
}

static void
test_peers_follow_the_name(void **state)
{
	td_bus_net_opts o = { .resolve_interval_ms = 100, .resolver = test_resolver };
	td_bus_pub *p1 = NULL, *p2 = NULL;
	td_bus_sub *sub = NULL;
	td_error err = { 0 };
	char url[64], spec[64];
	int port = free_port_both();

	(void)state;
	assert_true(port > 0);
	assert_int_equal(td_bus_net_configure(&o, &err), 0);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	assert_int_equal(td_bus_pub_open(&p1, "test.pub1", url, &err), 0);
	snprintf(url, sizeof(url), "tcp://127.0.0.2:%d", port);
	assert_int_equal(td_bus_pub_open(&p2, "test.pub2", url, &err), 0);

	set_answers("127.0.0.1", NULL);
	snprintf(spec, sizeof(spec), "tcp://peers.test:%d", port);
	assert_int_equal(td_bus_sub_open(&sub, "test.sub", spec, on_msg, NULL, &err), 0);
	assert_true(wait_peers(sub, 1));

	/* a second address appears: dialed */
	set_answers("127.0.0.1", "127.0.0.2");
	assert_true(wait_peers(sub, 2));

	/* the first goes away: its dialer and pipe are closed */
	set_answers("127.0.0.2", NULL);
	assert_true(wait_peers(sub, 1));
	assert_int_equal(td_bus_pub_peers(p1), 0);
	assert_int_equal(td_bus_pub_peers(p2), 1);

	/* the name stops resolving: the peer it had is kept; the warning is
	 * logged once, not at every interval, and the gauge counts the name */
	FILE *log = tmpfile();
	assert_non_null(log);
	td_log_set_fd(fileno(log));
	set_answers(NULL, NULL);
	wait_lookups(4);
	assert_int_equal(td_bus_sub_peers(sub), 1);
	td_gauge *unres = td_gauge_get("tfdrift_bus_unresolved_names", "", "socket=\"test.sub\"");
	assert_true(td_gauge_value(unres) == 1.0);
	assert_int_equal(count_in(log, "does not resolve"), 1);

	/* it resolves again: logged once, the gauge back to 0 */
	td_log_set_level(TD_LOG_INFO);
	set_answers("127.0.0.2", NULL);
	wait_lookups(3);
	td_log_set_fd(-1);
	td_log_set_level(TD_LOG_WARN);
	assert_true(td_gauge_value(unres) == 0.0);
	assert_int_equal(count_in(log, "does not resolve"), 1);
	assert_int_equal(count_in(log, "resolves again"), 1);
	fclose(log);

	td_bus_sub_close(sub);
	td_bus_pub_close(p1);
	td_bus_pub_close(p2);
	td_bus_net_shutdown();
	o = (td_bus_net_opts){ 0 };
	assert_int_equal(td_bus_net_configure(&o, &err), 0);
}

/* A tls+tcp address without certificates configured is refused with a
 * message that names the keys. */
static void
test_tls_needs_certificates(void **state)
{
	td_bus_net_opts o = { 0 };
	td_bus_pub *p = NULL;
	td_error err = { 0 };

	(void)state;
	assert_int_equal(td_bus_net_configure(&o, &err), 0);
	assert_int_equal(td_bus_pub_open(&p, "test.tls", "tls+tcp://127.0.0.1:0", &err), TD_EINVAL);
	assert_non_null(strstr(err.msg, "bus.tls_ca"));
	o.tls_ca = "/nonexistent/ca.pem";
	o.tls_cert = "/nonexistent/cert.pem";
	o.tls_key = "/nonexistent/key.pem";
	assert_int_equal(td_bus_net_configure(&o, &err), TD_EIO);
	assert_non_null(strstr(err.msg, "/nonexistent/ca.pem"));
	o = (td_bus_net_opts){ 0 };
	assert_int_equal(td_bus_net_configure(&o, &err), 0);
}

/* ---- TLS files replaced one at a time --------------------------------------------- */

/* Runs a shell command built from fmt; its exit status. */
static int
sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* A CA and two key/certificate pairs "a" and "b" signed by it (for
 * peers.test and 127.0.0.1) in dir. */
static int
make_pki(const char *dir)
{
	int rv = sh("cd '%s' && openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
		    "-nodes -subj /CN=ca -days 2 -keyout ca.key -out ca.crt 2>/dev/null",
	    dir);
	for (const char *n = "a"; rv == 0 && n != NULL; n = n[0] == 'a' ? "b" : NULL) {
		rv = sh("cd '%s' && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
			"-nodes -subj /CN=%s -keyout %s.key -out %s.csr 2>/dev/null && "
			"printf 'subjectAltName=DNS:peers.test,IP:127.0.0.1\\n"
			"extendedKeyUsage=serverAuth,clientAuth\\n' >%s.ext && "
			"openssl x509 -req -in %s.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
			"-days 2 -extfile %s.ext -out %s.crt 2>/dev/null",
		    dir, n, n, n, n, n, n, n);
	}
	return rv;
}

/* Waits (at most 4 s) until the log has n lines containing what. */
static bool
wait_logged(FILE *log, const char *what, int n)
{
	for (int i = 0; i < 200; i++) {
		if (count_in(log, what) >= n) {
			return true;
		}
		usleep(20000);
	}
	return false;
}

/* A key replaced before its certificate (two renames, as a rotation does
 * it) is not loaded with the old certificate: it is refused as not a pair,
 * once, with the connections left as they are; when the certificate lands
 * the pair is loaded once, the listener restarted and the peer back.  A
 * mismatched pair at start is an error naming both files. */
static void
test_tls_reload_waits_for_the_pair(void **state)
{
	td_bus_net_opts o = { .resolve_interval_ms = 100, .resolver = test_resolver };
	char dir[] = "/tmp/test_bus_net.XXXXXX", ca[128], crt[128], key[128], bkey[128], url[64];
	td_bus_pub *pub = NULL;
	td_bus_sub *sub = NULL;
	td_error err = { 0 };
	int port = free_port_both();

	(void)state;
	if (sh("openssl version >/dev/null 2>&1") != 0) {
		skip();
	}
	assert_true(port > 0);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(make_pki(dir), 0);
	assert_int_equal(sh("cd '%s' && cp a.crt bus.crt && cp a.key bus.key", dir), 0);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(crt, sizeof(crt), "%s/bus.crt", dir);
	snprintf(key, sizeof(key), "%s/bus.key", dir);
	snprintf(bkey, sizeof(bkey), "%s/b.key", dir);

	o.tls_ca = ca;
	o.tls_cert = crt;
	o.tls_key = bkey;
	assert_int_equal(td_bus_net_configure(&o, &err), TD_EINVAL);
	assert_non_null(strstr(err.msg, "bus.tls_key"));
	assert_non_null(strstr(err.msg, bkey));
	assert_non_null(strstr(err.msg, crt));
	o.tls_key = key;
	assert_int_equal(td_bus_net_configure(&o, &err), 0);

	set_answers("127.0.0.1", NULL);
	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", port);
	assert_int_equal(td_bus_pub_open(&pub, "test.tlspub", url, &err), 0);
	snprintf(url, sizeof(url), "tls+tcp://peers.test:%d", port);
	assert_int_equal(td_bus_sub_open(&sub, "test.tlssub", url, on_msg, NULL, &err), 0);
	assert_true(wait_peers(sub, 1));

	FILE *log = tmpfile();
	assert_non_null(log);
	td_log_set_fd(fileno(log));
	td_log_set_level(TD_LOG_INFO);

	/* the new key lands first: refused once, nothing reloaded or restarted */
	assert_int_equal(sh("cd '%s' && cp b.key bus.key.new && mv bus.key.new bus.key", dir), 0);
	assert_true(wait_logged(log, "do not match", 1));
	wait_lookups(4);
	assert_int_equal(count_in(log, "do not match"), 1);
	assert_int_equal(count_in(log, "certificates reloaded"), 0);
	assert_int_equal(count_in(log, "listener restarted"), 0);
	assert_int_equal(td_bus_sub_peers(sub), 1);

	/* then its certificate: one reload, the listener restarted, the peer back */
	assert_int_equal(sh("cd '%s' && cp b.crt bus.crt.new && mv bus.crt.new bus.crt", dir), 0);
	assert_true(wait_logged(log, "listener restarted", 1));
	wait_lookups(4);
	assert_true(wait_peers(sub, 1));
	assert_int_equal(td_bus_pub_peers(pub), 1);
	assert_int_equal(count_in(log, "certificates reloaded"), 1);
	assert_int_equal(count_in(log, "listener restarted"), 1);
	assert_int_equal(count_in(log, "refused"), 0);
	td_log_set_fd(-1);
	td_log_set_level(TD_LOG_WARN);
	fclose(log);

	td_bus_sub_close(sub);
	td_bus_pub_close(pub);
	td_bus_net_shutdown();
	o = (td_bus_net_opts){ 0 };
	assert_int_equal(td_bus_net_configure(&o, &err), 0);
	assert_int_equal(sh("rm -rf '%s'", dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_system_resolver),
		cmocka_unit_test(test_peers_follow_the_name),
		cmocka_unit_test(test_tls_needs_certificates),
		cmocka_unit_test(test_tls_reload_waits_for_the_pair),
	};
	td_log_init("test_bus_net", TD_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
