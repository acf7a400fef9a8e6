/* server.c — see server.h.
 *
 * Threads: MHD's pool of `threads` threads calls on_request; gw_api_serve is
 * thread-safe.  We open the listening socket ourselves so a bind failure says
 * why (address in use, no such address) instead of MHD's bare NULL. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tfdrift/json_check.h"
#include "tfdrift/net.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"
#include "tfdrift/mhd_log.h"

#define MAX_ARGS 64
/* Longer request targets get a JSON 414 from us.  Each connection's buffer
 * (libmicrohttpd's memory pool, touched only as far as used) holds a target
 * several times that long, so the 414 is ours; only a request line or
 * headers beyond CONN_MEMORY get libmicrohttpd's own page. */
#define MAX_URI 16384
#define CONN_MEMORY (256 * 1024)

struct gw_server {
	struct MHD_Daemon *daemon;
	gw_api *api;
	gw_live *feed;
	gw_static *web;
	int port;
	size_t max_body;
	char **cors; /* allowed origins, owned */
	size_t ncors;
};

/* One request's state, from its headers to its completion. */
typedef struct req_ctx {
	char *body; /* NUL-terminated; owned */
	size_t len;
	bool too_big;
	bool started;   /* on_request saw the headers */
	size_t uri_len; /* the whole request target, query string included */
} req_ctx;

typedef struct args {
	gw_kv kv[MAX_ARGS];
	size_t n;
	bool overflow;
	char bad[160]; /* why a parameter was refused ("" if none) */
	char bad_param[72];
} args;

/* Every parameter must be UTF-8 without NULs: PostgreSQL refuses other text
 * (a 500 instead of a 400), and they are echoed in errors. */
static enum MHD_Result
collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size, const char *value,
    size_t value_size)
{
	args *a = cls;
	(void)kind;
	if (a->n == MAX_ARGS) {
		a->overflow = true;
		return MHD_NO;
	}
	if (!td_utf8_text_ok(key, key_size)) {
		snprintf(a->bad, sizeof(a->bad), "a parameter name is not valid UTF-8");
		return MHD_NO;
	}
	if (value != NULL && !td_utf8_text_ok(value, value_size)) {
		snprintf(a->bad_param, sizeof(a->bad_param), "%.64s", key);
		snprintf(a->bad, sizeof(a->bad), "%.64s: not valid UTF-8 text (or contains a NUL)",
		    key);
		return MHD_NO;
	}
	a->kv[a->n].key = key;
	a->kv[a->n].value = value;
	a->n++;
	return MHD_YES;
}

static double
mono_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Counts the request under its route and status. */
static void
observe(const char *route, unsigned status, double seconds)
{
	char labels[256];
	snprintf(labels, sizeof(labels), "route=\"%s\",code=\"%u\"", route, status);
	td_counter_inc(td_counter_get("tfdrift_gateway_requests_total",
	    "REST API requests by route pattern and HTTP status.", labels));
	snprintf(labels, sizeof(labels), "route=\"%s\"", route);
	td_histogram_observe(td_histogram_get("tfdrift_gateway_request_seconds",
				 "Time to answer a REST API request.", labels),
	    seconds);
}

/* The allowed origin to echo for this request's Origin, or NULL. */
static const char *
cors_origin(const gw_server *s, struct MHD_Connection *conn)
{
	const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
	if (origin == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < s->ncors; i++) {
		if (strcmp(s->cors[i], "*") == 0 || strcmp(s->cors[i], origin) == 0) {
			return origin;
		}
	}
	return NULL;
}

/* Headers every answer carries: JSON APIs need no scripts, frames or referrers. */
static void
add_common_headers(const gw_server *s, struct MHD_Connection *conn, struct MHD_Response *r)
{
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Content-Security-Policy",
	    "default-src 'none'; frame-ancestors 'none'");
	const char *origin = cors_origin(s, conn);
	if (origin != NULL) {
		MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
		MHD_add_response_header(r, "Vary", "Origin");
		MHD_add_response_header(r, "Access-Control-Allow-Headers",
		    "Authorization, Content-Type");
		MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, PATCH, OPTIONS");
		MHD_add_response_header(r, "Access-Control-Max-Age", "600");
	}
}

static enum MHD_Result
queue(gw_server *s, struct MHD_Connection *conn, gw_response *resp)
{
	static const char oom_body[] =
	    "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
	struct MHD_Response *r;
	if (resp->body != NULL && resp->body_static) {
		r = MHD_create_response_from_buffer(strlen(resp->body), resp->body,
		    MHD_RESPMEM_PERSISTENT);
	} else if (resp->body != NULL) {
		r = MHD_create_response_from_buffer(strlen(resp->body), resp->body,
		    MHD_RESPMEM_MUST_FREE);
	} else if (resp->status == 204) {
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	} else {
		resp->status = 500;
		r = MHD_create_response_from_buffer(sizeof(oom_body) - 1, (void *)oom_body,
		    MHD_RESPMEM_PERSISTENT);
	}
	if (r == NULL) {
		if (!resp->body_static) {
			free(resp->body);
		}
		return MHD_NO;
	}
	if (resp->status != 204) {
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
		    resp->ctype != NULL ? resp->ctype : "application/json; charset=utf-8");
	}
	add_common_headers(s, conn, r);
	if (resp->allow[0] != '\0') {
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, resp->allow);
	}
	if (resp->cache != NULL) {
		MHD_add_response_header(r, "X-Cache", resp->cache);
	}
	if (resp->who.role != GW_ROLE_NONE) {
		/* the token's role, so the UI can say what its user may do */
		MHD_add_response_header(r, "X-Role", gw_role_name(resp->who.role));
	}
	if (resp->www_auth) {
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"tfdrift\"");
	}
	enum MHD_Result ret = MHD_queue_response(conn, resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Paths the API owns; with a web root everything else is the UI's. */
static bool
is_api_path(const char *url)
{
	return strncmp(url, "/api/", 5) == 0 || strcmp(url, "/api") == 0 ||
	    strcmp(url, "/openapi.json") == 0;
}

/* Answers a GET/HEAD for the web UI (MHD leaves the body out for HEAD). */
static enum MHD_Result
serve_static(gw_server *s, struct MHD_Connection *conn, const char *url, gw_response *resp)
{
	gw_static_file f;
	gw_static_resolve(s->web, url,
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH),
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MODIFIED_SINCE),
	    &f);
	resp->route = "static";
	resp->status = f.status;
	if (f.status != 200 && f.status != 304) {
		gw_api_error(resp, f.status, f.status == 404 ? "not_found" : "bad_request", f.why,
		    NULL);
		return queue(s, conn, resp);
	}
	struct MHD_Response *r;
	if (f.status == 200) {
		/* MHD owns fd from here, also when it fails. */
		r = MHD_create_response_from_fd64(f.size, f.fd);
	} else {
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if (r == NULL) {
		return MHD_NO;
	}
	if (f.status == 200) {
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, f.ctype);
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, f.etag);
	MHD_add_response_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, f.last_modified);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, f.cache_control);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Content-Security-Policy",
	    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
	    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
	enum MHD_Result ret = MHD_queue_response(conn, f.status, r);
	MHD_destroy_response(r);
	return ret;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the first call for a request, with the whole
 * request target; its result becomes the request's *con_cls. */
static void *
uri_seen(void *cls, const char *uri, struct MHD_Connection *conn)
{
	(void)cls;
	(void)conn;
	req_ctx *rc = calloc(1, sizeof(*rc));
	if (rc != NULL) {
		rc->uri_len = uri != NULL ? strlen(uri) : 0;
	}
	return rc;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	req_ctx *rc = *con_cls;
	if (rc != NULL) {
		free(rc->body);
		free(rc);
		*con_cls = NULL;
	}
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	gw_server *s = cls;
	req_ctx *rc = *con_cls;
	(void)version;
	if (rc == NULL) {
		return MHD_NO; /* uri_seen made it; NULL means it ran out of memory */
	}
	if (!rc->started) {
		rc->started = true;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		/* Bodies are kept up to max_body; past it the rest is read and
		 * dropped so the 413 can still be sent on this connection. */
		if (!rc->too_big && rc->len + *upload_data_size > s->max_body) {
			rc->too_big = true;
			free(rc->body);
			rc->body = NULL;
			rc->len = 0;
		}
		if (!rc->too_big) {
			char *p = realloc(rc->body, rc->len + *upload_data_size + 1);
			if (p == NULL) {
				return MHD_NO;
			}
			memcpy(p + rc->len, upload_data, *upload_data_size);
			rc->len += *upload_data_size;
			p[rc->len] = '\0';
			rc->body = p;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}

	double t0 = mono_seconds();
	args a = { .n = 0 };
	gw_response resp;
	memset(&resp, 0, sizeof(resp));
	resp.route = "unmatched";
	MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &a);
	gw_request req = {
		.method = method,
		.path = url,
		.args = a.kv,
		.nargs = a.n,
		.body = rc->body,
		.body_len = rc->len,
		.authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_AUTHORIZATION),
	};
	if (rc->too_big) {
		char msg[96];
		snprintf(msg, sizeof(msg), "the request body is larger than %zu bytes",
		    s->max_body);
		gw_api_error(&resp, 413, "payload_too_large", msg, NULL);
	} else if (rc->uri_len > MAX_URI) {
		char msg[96];
		snprintf(msg, sizeof(msg), "the request URI is longer than %d bytes", MAX_URI);
		gw_api_error(&resp, 414, "uri_too_long", msg, NULL);
	} else if (a.overflow) {
		gw_api_error(&resp, 400, "bad_request", "too many query parameters", NULL);
	} else if (a.bad[0] != '\0') {
		gw_api_error(&resp, 400, "invalid_parameter", a.bad,
		    a.bad_param[0] != '\0' ? a.bad_param : NULL);
	} else if (strcmp(method, "OPTIONS") == 0) {
		resp.status = 204; /* a CORS preflight: the headers are the answer */
	} else if (s->web != NULL && !is_api_path(url)) {
		enum MHD_Result ret;
		if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
			ret = serve_static(s, conn, url, &resp);
		} else {
			gw_api_error(&resp, 405, "method_not_allowed",
			    "the web UI's files answer GET and HEAD only", NULL);
			snprintf(resp.allow, sizeof(resp.allow), "GET, HEAD");
			resp.route = "static";
			ret = queue(s, conn, &resp);
		}
		observe(resp.route, resp.status, mono_seconds() - t0);
		return ret;
	} else if (s->feed != NULL && gw_live_handles(url)) {
		enum MHD_Result fr;
		if (gw_live_serve(s->feed, s->api, conn, &req, &resp, &fr)) {
			observe(resp.route, 200, mono_seconds() - t0);
			return fr;
		}
	} else {
		gw_api_serve(s->api, &req, &resp);
	}
	enum MHD_Result ret = queue(s, conn, &resp);

	double took = mono_seconds() - t0;
	observe(resp.route, resp.status, took);
	TD_DEBUG("request", TD_KV_STR("method", method), TD_KV_STR("path", url),
	    TD_KV_UINT("status", resp.status), TD_KV_STR("caller", resp.who.name),
	    TD_KV_DBL("seconds", took));
	return ret;
}

/* *out owned by caller. */
int
gw_server_start(gw_server **out, const gw_server_opts *o, td_error *err)
{
	int fd = -1;
	bool v6 = false;
	int rv;
	*out = NULL;
	gw_server *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	s->api = o->api;
	s->feed = o->live;
	s->web = o->web;
	s->max_body = o->max_body;
	if (o->ncors > 0) {
		if ((s->cors = calloc(o->ncors, sizeof(*s->cors))) == NULL) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			goto fail;
		}
		for (size_t i = 0; i < o->ncors; i++, s->ncors++) {
			if ((s->cors[i] = strdup(o->cors_origins[i])) == NULL) {
				rv = td_error_set(err, TD_ENOMEM, "out of memory");
				goto fail;
			}
		}
	}
	if ((rv = td_net_listen("api_gateway.bind", o->bind, o->port, 128, &fd, &v6, err)) != 0) {
		goto fail;
	}
	s->port = td_net_bound_port(fd);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC |
	    MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE | MHD_ALLOW_SUSPEND_RESUME |
	    (v6 ? MHD_USE_IPv6 : 0);
	s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
	    MHD_OPTION_EXTERNAL_LOGGER, td_mhd_log, (void *)"http server", MHD_OPTION_LISTEN_SOCKET,
	    (MHD_socket)fd, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->threads,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->timeout_s, MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, NULL, MHD_OPTION_URI_LOG_CALLBACK, uri_seen, NULL,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)o->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)o->max_connections_per_ip, MHD_OPTION_END);
	if (s->daemon == NULL) {
		rv = td_error_set(err, TD_EDEPEND,
		    "api: libmicrohttpd could not start on %s port %d", o->bind, s->port);
		goto fail;
	}
	*out = s;
	return 0;

fail:
	if (fd >= 0) {
		close(fd);
	}
	for (size_t i = 0; i < s->ncors; i++) {
		free(s->cors[i]);
	}
	free(s->cors);
	free(s);
	return rv;
}

int
gw_server_port(const gw_server *s)
{
	return s->port;
}

void
gw_server_stop(gw_server *s)
{
	if (s == NULL) {
		return;
	}
	/* Stop accepting first; MHD_stop_daemon then lets handlers that are
	 * running return before it closes the connections. */
	MHD_socket fd = MHD_quiesce_daemon(s->daemon);
	MHD_stop_daemon(s->daemon);
	if (fd != MHD_INVALID_SOCKET) {
		close(fd);
	}
	for (size_t i = 0; i < s->ncors; i++) {
		free(s->cors[i]);
	}
	free(s->cors);
	free(s);
}
