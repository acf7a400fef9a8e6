/* admin.c — /healthz, /readyz and /metrics over libmicrohttpd.
 *
 * Threads: MHD runs an internal listening thread and one thread per
 * connection, so a slow scrape or check never holds up a kubelet probe and
 * concurrent scrapes are served in parallel.  The checks list is guarded by
 * checks_mu; request handlers only read it.  We open and bind the listening
 * socket ourselves so a bind failure can say why (address in use, no such
 * address) instead of MHD's bare NULL. */
#include "tfdrift/admin.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tfdrift/log.h"
#include "tfdrift/mhd_log.h"
#include "tfdrift/net.h"
#include "tfdrift/procmem.h"

#define CONNECTION_LIMIT 64
#define CONNECTION_LIMIT_PER_IP 16 /* one client cannot take every slot */
#define CONNECTION_TIMEOUT_S 10

typedef struct check {
	char *name;
	td_ready_fn fn;
	void *arg;
} check;

struct td_admin {
	struct MHD_Daemon *daemon;
	td_metrics *metrics;
	int port;
	pthread_mutex_t checks_mu;
	check *checks;
	size_t nchecks, capchecks;
	bool checks_done; /* td_admin_checks_done: every check is registered */
};

/* What a route handler hands back: status, content type and a malloc'd body
 * that the response takes over. */
typedef struct reply {
	unsigned status;
	const char *content_type;
	char *body;
	size_t len;
} reply;

typedef int (*route_fn)(td_admin *a, reply *r);

static const char JSON_TYPE[] = "application/json";
static const char METRICS_TYPE[] = "text/plain; version=0.0.4; charset=utf-8";

/* Copies text into r as the body; r->body is malloc'd (owned by r). */
static int
reply_text(reply *r, unsigned status, const char *type, const char *text)
{
	r->status = status;
	r->content_type = type;
	r->len = strlen(text);
	r->body = strdup(text);
	return r->body != NULL ? 0 : TD_ENOMEM;
}

static int
route_healthz(td_admin *a, reply *r)
{
	(void)a;
	return reply_text(r, MHD_HTTP_OK, JSON_TYPE, "{\"status\":\"ok\"}");
}

static int
route_readyz(td_admin *a, reply *r)
{
	int rv = TD_ENOMEM;
	bool ready = true;
	cJSON *root = NULL;
	cJSON *checks = cJSON_CreateObject();

	if (checks == NULL)
		goto out;
	pthread_mutex_lock(&a->checks_mu);
	if (!a->checks_done) {
		/* the server answers before the service has registered its checks:
		 * no checks must not read as ready */
		cJSON *c = cJSON_AddObjectToObject(checks, "starting");
		if (c == NULL || cJSON_AddBoolToObject(c, "ok", false) == NULL ||
		    cJSON_AddStringToObject(c, "reason",
			"starting: the readiness checks are not registered yet") == NULL) {
			pthread_mutex_unlock(&a->checks_mu);
			goto out;
		}
		ready = false;
	}
	for (size_t i = 0; i < a->nchecks; i++) {
		char why[256] = "";
		cJSON *c = cJSON_AddObjectToObject(checks, a->checks[i].name);
		int crv = a->checks[i].fn(a->checks[i].arg, why, sizeof(why));
		bool ok = crv == 0 || crv == TD_READY_NOTE;
		why[sizeof(why) - 1] = '\0';
		if (c == NULL || cJSON_AddBoolToObject(c, "ok", ok) == NULL ||
		    (!ok &&
			cJSON_AddStringToObject(c, "reason", why[0] != '\0' ? why : "not ready") ==
			    NULL) ||
		    (crv == TD_READY_NOTE && why[0] != '\0' &&
			cJSON_AddStringToObject(c, "note", why) == NULL)) {
			pthread_mutex_unlock(&a->checks_mu);
			goto out;
		}
		ready = ready && ok;
	}
	pthread_mutex_unlock(&a->checks_mu);
	if ((root = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(root, "status", ready ? "ready" : "not_ready") == NULL)
		goto out;
	cJSON_AddItemToObject(root, "checks", checks); /* root owns checks now */
	checks = NULL;
	if ((r->body = cJSON_PrintUnformatted(root)) == NULL)
		goto out;
	r->len = strlen(r->body);
	r->status = ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
	r->content_type = JSON_TYPE;
	rv = 0;
out:
	cJSON_Delete(checks);
	cJSON_Delete(root);
	return rv;
}

static int
route_metrics(td_admin *a, reply *r)
{
	int rv;

	td_procmem_sample(); /* the process's memory gauges, as of now */
	rv = td_metrics_render(a->metrics, &r->body, &r->len);
	if (rv == 0) {
		r->status = MHD_HTTP_OK;
		r->content_type = METRICS_TYPE;
	}
	return rv;
}

static const struct {
	const char *path;
	route_fn fn;
} routes[] = {
	{ "/healthz", route_healthz },
	{ "/readyz", route_readyz },
	{ "/metrics", route_metrics },
};

/* Counts the request as tfdrift_admin_requests_total{path,code}; path is a
 * known route or "other", so a scanner cannot grow the label set. */
static void
count_request(td_admin *a, const char *path, unsigned status)
{
	char labels[96];
	td_counter *c;

	snprintf(labels, sizeof(labels), "path=\"%s\",code=\"%u\"", path, status);
	if (td_metrics_counter(a->metrics, "tfdrift_admin_requests_total",
		"Requests served by the admin HTTP server, by route and status.", labels, &c) == 0)
		td_counter_inc(c);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	td_admin *a = cls;
	reply r = { 0 };
	const char *label = "other";
	struct MHD_Response *resp = NULL;
	enum MHD_Result ret = MHD_NO;
	bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	    strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(url, routes[i].path) == 0) {
			label = routes[i].path;
			if (get && routes[i].fn(a, &r) != 0)
				(void)reply_text(&r, MHD_HTTP_INTERNAL_SERVER_ERROR, JSON_TYPE,
				    "{\"error\":\"internal error\"}");
			break;
		}
	}
	if (!get)
		(void)reply_text(&r, MHD_HTTP_METHOD_NOT_ALLOWED, JSON_TYPE,
		    "{\"error\":\"method not allowed\"}");
	else if (r.status == 0)
		(void)reply_text(&r, MHD_HTTP_NOT_FOUND, JSON_TYPE, "{\"error\":\"not found\"}");
	if (r.body == NULL)
		goto out;

	/* MHD frees the body with free() once sent (MHD_RESPMEM_MUST_FREE). */
	resp = MHD_create_response_from_buffer(r.len, r.body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL)
		goto out;
	r.body = NULL;
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type) !=
		MHD_YES ||
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES)
		goto out;
	if (r.status == MHD_HTTP_METHOD_NOT_ALLOWED &&
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES)
		goto out;
	ret = MHD_queue_response(conn, r.status, resp);
	count_request(a, label, r.status);
out:
	if (resp != NULL)
		MHD_destroy_response(resp);
	free(r.body);
	return ret;
}

int
td_admin_start(td_admin **out, const char *bind_addr, int port, td_metrics *metrics, td_error *err)
{
	int rv, fd = -1;
	bool v6 = false;
	td_admin *a = NULL;

	if (out == NULL)
		return td_error_set(err, TD_EINVAL, "admin: no output handle");
	*out = NULL;
	if ((rv = td_net_listen("admin", bind_addr, port, 64, &fd, &v6, err)) != 0)
		goto out;
	rv = td_error_set(err, TD_ENOMEM, "admin: out of memory");
	if ((a = calloc(1, sizeof(*a))) == NULL)
		goto out;
	if (pthread_mutex_init(&a->checks_mu, NULL) != 0) {
		free(a);
		a = NULL;
		rv = td_error_set(err, TD_EIO, "admin: mutex init failed");
		goto out;
	}
	a->metrics = metrics != NULL ? metrics : td_metrics_default();
	a->port = td_net_bound_port(fd);

	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	    MHD_USE_POLL | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
	a->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, a,
	    MHD_OPTION_EXTERNAL_LOGGER, td_mhd_log, (void *)"admin http server",
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)CONNECTION_LIMIT_PER_IP, MHD_OPTION_END);
	if (a->daemon == NULL) {
		rv = td_error_set(err, TD_EDEPEND,
		    "admin: libmicrohttpd could not start on %s port %d", bind_addr, a->port);
		goto out;
	}
	fd = -1; /* the daemon owns it now */
	*out = a;
	a = NULL;
	rv = 0;
out:
	if (fd >= 0)
		close(fd);
	if (a != NULL) {
		pthread_mutex_destroy(&a->checks_mu);
		free(a);
	}
	return rv;
}

void
td_admin_checks_done(td_admin *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->checks_mu);
	a->checks_done = true;
	pthread_mutex_unlock(&a->checks_mu);
}

int
td_admin_add_check(td_admin *a, const char *name, td_ready_fn fn, void *arg)
{
	int rv = TD_ENOMEM;
	char *copy = NULL;

	if (a == NULL || name == NULL || fn == NULL)
		return TD_EINVAL;
	if ((copy = strdup(name)) == NULL)
		return TD_ENOMEM;
	pthread_mutex_lock(&a->checks_mu);
	if (a->nchecks == a->capchecks) {
		size_t cap = a->capchecks != 0 ? a->capchecks * 2 : 8;
		check *c = realloc(a->checks, cap * sizeof(*c));
		if (c == NULL)
			goto out;
		a->checks = c;
		a->capchecks = cap;
	}
	a->checks[a->nchecks++] = (check){ .name = copy, .fn = fn, .arg = arg };
	copy = NULL;
	rv = 0;
out:
	pthread_mutex_unlock(&a->checks_mu);
	free(copy);
	return rv;
}

int
td_admin_port(const td_admin *a)
{
	return a != NULL ? a->port : -1;
}

void
td_admin_stop(td_admin *a)
{
	if (a == NULL)
		return;
	/* Joins every connection thread, so no handler still uses a below. */
	MHD_stop_daemon(a->daemon);
	for (size_t i = 0; i < a->nchecks; i++)
		free(a->checks[i].name);
	free(a->checks);
	pthread_mutex_destroy(&a->checks_mu);
	free(a);
}
