/* test_admin.c — the admin HTTP server over real sockets (libcurl, 127.0.0.1). */
#include <curl/curl.h>
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tfdrift/version.h"
#include "tfdrift/admin.h"
#include "tfdrift/error.h"
#include "tfdrift/metrics.h"

typedef struct response {
	long status;
	char *body;
	size_t len;
	char content_type[128];
} response;

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	response *r = arg;
	char *p = realloc(r->body, r->len + size * n + 1);
	if (p == NULL)
		return 0;
	memcpy(p + r->len, data, size * n);
	r->len += size * n;
	p[r->len] = '\0';
	r->body = p;
	return size * n;
}

/* Sends method (GET when NULL) to 127.0.0.1:port/path; r->body is malloc'd
 * and owned by the caller (response_free). */
static int
http(int port, const char *method, const char *path, response *r)
{
	char url[256];
	const char *ct = NULL;
	CURL *c = curl_easy_init();
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	if (c == NULL)
		return -1;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (method != NULL && strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (method != NULL && strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
	else if (method != NULL)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL)
			snprintf(r->content_type, sizeof(r->content_type), "%s", ct);
	}
	curl_easy_cleanup(c);
	if (r->body == NULL)
		r->body = calloc(1, 1);
	return rc == CURLE_OK ? 0 : -1;
}

static void
response_free(response *r)
{
	free(r->body);
	r->body = NULL;
}

typedef struct fixture {
	td_metrics *m;
	td_admin *a;
	int port;
} fixture;

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	td_error err;

	if (f == NULL || td_metrics_new(&f->m) != 0)
		return -1;
	if (td_admin_start(&f->a, "127.0.0.1", 0, f->m, &err) != 0) {
		fprintf(stderr, "admin start: %s\n", err.msg);
		return -1;
	}
	f->port = td_admin_port(f->a);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	td_admin_stop(f->a);
	td_metrics_free(f->m);
	free(f);
	return 0;
}

static void
test_port_zero_picks_a_port(void **state)
{
	fixture *f = *state;
	assert_true(f->port > 0 && f->port <= 65535);
}

static void
test_healthz(void **state)
{
	fixture *f = *state;
	response r;

	assert_int_equal(http(f->port, NULL, "/healthz", &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"status\":\"ok\"}");
	assert_string_equal(r.content_type, "application/json");
	response_free(&r);
	/* HEAD: same status, no body */
	assert_int_equal(http(f->port, "HEAD", "/healthz", &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 0);
	response_free(&r);
}

typedef struct flag_check {
	atomic_bool ok;
	const char *reason;
} flag_check;

static int
check_flag(void *arg, char *why, size_t whylen)
{
	flag_check *c = arg;
	if (atomic_load(&c->ok))
		return 0;
	snprintf(why, whylen, "%s", c->reason);
	return -1;
}

static void
test_readyz(void **state)
{
	fixture *f = *state;
	response r;
	flag_check redis = { .reason = "redis: connection refused \"127.0.0.1:6379\"" };
	flag_check pg = { .reason = "postgres down" };

	/* the server answers before the service has registered its checks:
	 * that is not ready, whatever the checks will say */
	assert_int_equal(http(f->port, NULL, "/readyz", &r), 0);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body,
	    "{\"status\":\"not_ready\",\"checks\":{\"starting\":{\"ok\":false,\"reason\":"
	    "\"starting: the readiness checks are not registered yet\"}}}");
	response_free(&r);

	atomic_init(&redis.ok, true);
	atomic_init(&pg.ok, true);
	assert_int_equal(td_admin_add_check(f->a, "redis", check_flag, &redis), 0);
	assert_int_equal(td_admin_add_check(f->a, "postgres", check_flag, &pg), 0);
	assert_int_equal(http(f->port, NULL, "/readyz", &r), 0);
	assert_int_equal(r.status, 503); /* still starting */
	response_free(&r);
	td_admin_checks_done(f->a);
	assert_int_equal(http(f->port, NULL, "/readyz", &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body,
	    "{\"status\":\"ready\",\"checks\":{\"redis\":{\"ok\":true},\"postgres\":{\"ok\":true}}}");
	assert_string_equal(r.content_type, "application/json");
	response_free(&r);

	atomic_store(&redis.ok, false);
	assert_int_equal(http(f->port, NULL, "/readyz", &r), 0);
	assert_int_equal(r.status, 503);
	/* the reason is JSON-escaped */
	assert_string_equal(r.body,
	    "{\"status\":\"not_ready\",\"checks\":{\"redis\":{\"ok\":false,\"reason\":"
	    "\"redis: connection refused \\\"127.0.0.1:6379\\\"\"},\"postgres\":{\"ok\":true}}}");
	response_free(&r);

	atomic_store(&redis.ok, true);
	assert_int_equal(http(f->port, NULL, "/readyz", &r), 0);
	assert_int_equal(r.status, 200);
	response_free(&r);
}

/* Ready with something to say: a degraded dependency the process works around. */
static int
check_note(void *arg, char *why, size_t whylen)
{
	flag_check *c = arg;
	if (atomic_load(&c->ok))
		return 0;
	snprintf(why, whylen, "%s", c->reason);
	return TD_READY_NOTE;
}

static void
test_readyz_note(void **state)
{
	fixture *f = *state;
	response r;
	flag_check pg = { .reason = "database down; spooling" };
	flag_check spool = { .reason = "spool full" };

	atomic_init(&pg.ok, false);
	atomic_init(&spool.ok, true);
	assert_int_equal(td_admin_add_check(f->a, "postgres", check_note, &pg), 0);
	assert_int_equal(td_admin_add_check(f->a, "spool", check_flag, &spool), 0);
	td_admin_checks_done(f->a);
	assert_int_equal(http(f->port, NULL, "/readyz", &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body,
	    "{\"status\":\"ready\",\"checks\":{\"postgres\":{\"ok\":true,\"note\":"
	    "\"database down; spooling\"},\"spool\":{\"ok\":true}}}");
	response_free(&r);

	/* a note never hides another check's failure */
	atomic_store(&spool.ok, false);
	assert_int_equal(http(f->port, NULL, "/readyz", &r), 0);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body,
	    "{\"status\":\"not_ready\",\"checks\":{\"postgres\":{\"ok\":true,\"note\":"
	    "\"database down; spooling\"},\"spool\":{\"ok\":false,\"reason\":\"spool full\"}}}");
	response_free(&r);

	/* back to plain ready: no note */
	atomic_store(&pg.ok, true);
	atomic_store(&spool.ok, true);
	assert_int_equal(http(f->port, NULL, "/readyz", &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body,
	    "{\"status\":\"ready\",\"checks\":{\"postgres\":{\"ok\":true},\"spool\":{\"ok\":true}}}");
	response_free(&r);
}

static void
test_metrics_route(void **state)
{
	fixture *f = *state;
	response r;
	td_counter *c = NULL;

	assert_int_equal(td_metrics_counter(f->m, "test_widgets_total", "Widgets.", "kind=\"blue\"",
			     &c),
	    0);
	td_counter_add(c, 7);
	assert_int_equal(http(f->port, NULL, "/healthz", &r), 0);
	response_free(&r);
	assert_int_equal(http(f->port, NULL, "/metrics", &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
	assert_non_null(strstr(r.body, "# TYPE test_widgets_total counter\n"));
	assert_non_null(strstr(r.body, "test_widgets_total{kind=\"blue\"} 7\n"));
	/* the earlier /healthz was counted in the served registry */
	assert_non_null(
	    strstr(r.body, "tfdrift_admin_requests_total{path=\"/healthz\",code=\"200\"} 1\n"));
	response_free(&r);
}

static void
test_not_found_and_method_not_allowed(void **state)
{
	fixture *f = *state;
	response r;
	static const char *const methods[] = { "POST", "PUT", "DELETE" };

	assert_int_equal(http(f->port, NULL, "/nope", &r), 0);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "{\"error\":\"not found\"}");
	assert_string_equal(r.content_type, "application/json");
	response_free(&r);
	assert_int_equal(http(f->port, NULL, "/healthz/extra", &r), 0);
	assert_int_equal(r.status, 404);
	response_free(&r);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		assert_int_equal(http(f->port, methods[i], "/healthz", &r), 0);
		assert_int_equal(r.status, 405);
		assert_string_equal(r.body, "{\"error\":\"method not allowed\"}");
		response_free(&r);
	}
	assert_int_equal(http(f->port, NULL, "/metrics", &r), 0);
	assert_non_null(
	    strstr(r.body, "tfdrift_admin_requests_total{path=\"other\",code=\"404\"} 2\n"));
	assert_non_null(
	    strstr(r.body, "tfdrift_admin_requests_total{path=\"/healthz\",code=\"405\"} 3\n"));
	response_free(&r);
}

#define SCRAPERS 4
#define SCRAPES 25

typedef struct scraper {
	int port;
	int ok;
} scraper;

static void *
scrape(void *arg)
{
	scraper *s = arg;
	for (int i = 0; i < SCRAPES; i++) {
		response r;
		if (http(s->port, NULL, "/metrics", &r) == 0 && r.status == 200 &&
		    strstr(r.body, "test_busy 1\n") != NULL)
			s->ok++;
		response_free(&r);
	}
	return NULL;
}

static void
test_concurrent_scrapes(void **state)
{
	fixture *f = *state;
	pthread_t t[SCRAPERS];
	scraper s[SCRAPERS];
	td_gauge *g = NULL;
	response r;
	char want[128];

	assert_int_equal(td_metrics_gauge(f->m, "test_busy", "Busy.", NULL, &g), 0);
	td_gauge_set(g, 1);
	for (int i = 0; i < SCRAPERS; i++) {
		s[i] = (scraper){ .port = f->port };
		assert_int_equal(pthread_create(&t[i], NULL, scrape, &s[i]), 0);
	}
	for (int i = 0; i < SCRAPERS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(s[i].ok, SCRAPES);
	}
	/* every scrape was counted exactly once (this one is counted after rendering) */
	assert_int_equal(http(f->port, NULL, "/metrics", &r), 0);
	snprintf(want, sizeof(want),
	    "tfdrift_admin_requests_total{path=\"/metrics\",code=\"200\"} %d\n",
	    SCRAPERS * SCRAPES);
	assert_non_null(strstr(r.body, want));
	response_free(&r);
}

static int
count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static void
test_bad_addresses(void **state)
{
	(void)state;
	td_admin *a = NULL, *b = NULL;
	td_error err;
	int before = count_fds();

	assert_int_equal(td_admin_start(&a, "not-an-address", 0, NULL, &err), TD_EINVAL);
	assert_null(a);
	assert_non_null(strstr(err.msg, "not-an-address"));
	assert_int_equal(td_admin_start(&a, "127.0.0.1", 70000, NULL, &err), TD_ERANGE);
	assert_int_equal(td_admin_start(&a, "127.0.0.1", -1, NULL, &err), TD_ERANGE);

	/* a port already taken is a clear error, not a crash */
	assert_int_equal(td_admin_start(&a, "127.0.0.1", 0, NULL, &err), 0);
	int port = td_admin_port(a);
	assert_int_equal(td_admin_start(&b, "127.0.0.1", port, NULL, &err), TD_EIO);
	assert_null(b);
	assert_non_null(strstr(err.msg, "127.0.0.1"));
	assert_non_null(strstr(err.msg, "in use"));
	/* NULL metrics serves the default registry */
	response r;
	assert_int_equal(http(port, NULL, "/metrics", &r), 0);
	assert_non_null(r.body);
	assert_non_null(strstr(r.body != NULL ? r.body : "",
	    "tfdrift_build_info{version=\"" TD_VERSION "\"} 1\n"));
	response_free(&r);
	td_admin_stop(a);
	td_admin_stop(NULL);
	/* stopping closed the listening socket and every connection */
	assert_int_equal(count_fds(), before);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_port_zero_picks_a_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_healthz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readyz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readyz_note, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_route, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_found_and_method_not_allowed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_scrapes, setup, teardown),
		cmocka_unit_test(test_bad_addresses),
	};
	int rv;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rv = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rv;
}
