/* falco_http.c — POST /api/v1/falco/events and POST / (see falco_http.h). */
#include "falco_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "tfdrift/cloudtrail_record.h"
#include "tfdrift/falco_alert.h"
#include "falco_missing.h"
#include "tfdrift/clock.h"
#include "tfdrift/file.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"
#include "tfdrift/mhd_log.h"
#include "tfdrift/secret.h"

/* Results, each a labelled counter. */
enum result {
	R_ACCEPTED,
	R_DROPPED,
	R_BAD_REQUEST,
	R_TOO_LARGE,
	R_BUSY,
	R_UNAUTHORIZED,
	R_NOT_FOUND,
	R_ERROR,
	R_COUNT
};

static const char *const result_labels[R_COUNT] = {
	"result=\"accepted\"",
	"result=\"dropped\"",
	"result=\"bad_request\"",
	"result=\"too_large\"",
	"result=\"busy\"",
	"result=\"unauthorized\"",
	"result=\"not_found\"",
	"result=\"error\"",
};

struct falco_http {
	struct MHD_Daemon *daemon;
	hand *hand;
	bool have_token;
	unsigned char token_digest[TD_SECRET_DIGEST_LEN]; /* SHA-256 of ingest.http_token */
	bool mtls;
	size_t max_body;
	int port;
	char *cert, *key, *ca; /* PEM text, kept while the daemon runs */
	td_counter *results[R_COUNT];
	falco_missing *missing; /* alerts lacking fields: counted and logged */
	td_counter *dropped_source;
	pthread_mutex_t log_mu;
	int64_t cert_log_ms; /* rate limit of the client certificate refusal line */
	uint64_t cert_suppressed;
};

/* Per-request state: the body as it arrives. */
typedef struct request {
	char *body;
	size_t len, cap;
	bool too_large;
} request;

static enum MHD_Result
send_json(struct MHD_Connection *conn, unsigned status, cJSON *body, bool retry_after)
{
	char *text = cJSON_PrintUnformatted(body);
	struct MHD_Response *resp;
	enum MHD_Result ret;

	cJSON_Delete(body);
	if (text == NULL)
		return MHD_NO;
	/* MHD frees text with free() once sent */
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return MHD_NO;
	}
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (retry_after)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
send_error(falco_http *s, struct MHD_Connection *conn, enum result r, unsigned status,
    const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	const char *colon;

	td_counter_inc(s->results[r]);
	cJSON_AddStringToObject(o, "error", msg);
	/* messages from falco_alert_parse start with the field: "output_fields.ct.id: ..." */
	if (status == MHD_HTTP_BAD_REQUEST && (colon = strstr(msg, ": ")) != NULL) {
		char field[128];
		size_t n = (size_t)(colon - msg);
		if (n < sizeof(field)) {
			memcpy(field, msg, n);
			field[n] = '\0';
			cJSON_AddStringToObject(o, "field", field);
		}
	}
	return send_json(conn, status, o, status == MHD_HTTP_SERVICE_UNAVAILABLE);
}

static bool
token_ok(const falco_http *s, struct MHD_Connection *conn)
{
	const char *h;

	unsigned char d[TD_SECRET_DIGEST_LEN];

	if (!s->have_token)
		return true;
	h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if ((h = td_secret_bearer(h)) == NULL)
		return false;
	/* digests of equal length: no early exit, no length told by timing */
	td_secret_digest(h, strlen(h), d);
	return td_secret_digest_equal(d, s->token_digest);
}

/* NULL when the client's certificate is good (or mTLS is off), else why not.
 * libmicrohttpd only requests a client certificate, so the check is here. */
static const char *
client_cert_problem(const falco_http *s, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	unsigned status = 0;

	if (!s->mtls)
		return NULL;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		return "no TLS session";
	if (gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &status) == NULL)
		return "the client sent no certificate";
	if (gnutls_certificate_verify_peers2((gnutls_session_t)ci->tls_session, &status) != 0 ||
	    status != 0)
		return "the client certificate is not signed by ingest.http_tls_ca (or expired)";
	return NULL;
}

/* One line per second at most: a misconfigured Falco retries every alert. */
static void
log_cert_refusal(falco_http *s, const char *why)
{
	int64_t now = td_clock_mono_ms();
	bool say = false;
	uint64_t quiet = 0;

	pthread_mutex_lock(&s->log_mu);
	if (now - s->cert_log_ms >= 1000 || s->cert_log_ms == 0) {
		say = true;
		quiet = s->cert_suppressed;
		s->cert_suppressed = 0;
		s->cert_log_ms = now;
	} else {
		s->cert_suppressed++;
	}
	pthread_mutex_unlock(&s->log_mu);
	if (say)
		TD_WARN("falco http receiver: client certificate refused (mTLS)",
		    TD_KV_STR("reason", why), TD_KV_INT("suppressed", quiet));
}

/* The alert is complete in r: parse, journal, answer. */
static enum MHD_Result
handle_alert(falco_http *s, struct MHD_Connection *conn, request *r)
{
	Tfdrift__V1__CloudEvent *ev = NULL;
	Tfdrift__V1__CloudEventBatch batch = TFDRIFT__V1__CLOUD_EVENT_BATCH__INIT;
	const union MHD_ConnectionInfo *ci;
	char peer[64] = "", source[64];
	uint8_t *buf = NULL;
	size_t len;
	td_error err;
	enum MHD_Result ret;
	cJSON *o;
	int rv;

	td_error_clear(&err);
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && ci->client_addr != NULL && ci->client_addr->sa_family == AF_INET) {
		const struct sockaddr_in *sin =
		    (const struct sockaddr_in *)(const void *)ci->client_addr;
		char ip[INET_ADDRSTRLEN];
		if (inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip)) != NULL)
			snprintf(peer, sizeof(peer), "http:%s:%u", ip, ntohs(sin->sin_port));
	}
	rv = falco_alert_parse(r->body ? r->body : "", r->len,
	    TFDRIFT__V1__EVENT_ORIGIN__EVENT_ORIGIN_FALCO_HTTP, peer, &ev, source, sizeof(source),
	    &err);
	if (rv == FALCO_ALERT_OTHER_SOURCE) {
		td_counter_inc(s->dropped_source);
		td_counter_inc(s->results[R_DROPPED]);
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "status", "dropped");
		cJSON_AddStringToObject(o, "source", source);
		cJSON_AddStringToObject(o, "reason", "only source aws_cloudtrail becomes an event");
		return send_json(conn, MHD_HTTP_OK, o, false);
	}
	if (rv == TD_EINVAL) {
		TD_DEBUG("falco http: alert refused", TD_KV_STR("peer", peer),
		    TD_KV_STR("error", err.msg));
		return send_error(s, conn, R_BAD_REQUEST, MHD_HTTP_BAD_REQUEST, err.msg);
	}
	if (rv != 0)
		return send_error(s, conn, R_ERROR, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "out of memory");
	falco_missing_note(s->missing, ev);
	batch.n_events = 1;
	batch.events = &ev;
	len = tfdrift__v1__cloud_event_batch__get_packed_size(&batch);
	buf = malloc(len ? len : 1);
	if (buf == NULL) {
		ret = send_error(s, conn, R_ERROR, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		goto out;
	}
	tfdrift__v1__cloud_event_batch__pack(&batch, buf);
	rv = hand_submit(s->hand, buf, len, NULL, NULL);
	if (rv == TD_EBUSY || rv == TD_ECLOSED) {
		ret = send_error(s, conn, R_BUSY, MHD_HTTP_SERVICE_UNAVAILABLE,
		    rv == TD_EBUSY ? "journal full; retry later" : "ingest is stopping");
		goto out;
	}
	if (rv == TD_ETOOBIG) {
		ret = send_error(s, conn, R_TOO_LARGE, MHD_HTTP_CONTENT_TOO_LARGE,
		    "event larger than the journal");
		goto out;
	}
	if (rv != 0) {
		ret = send_error(s, conn, R_ERROR, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "the journal cannot take the event");
		goto out;
	}
	td_counter_inc(s->results[R_ACCEPTED]);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "status", "accepted");
	cJSON_AddStringToObject(o, "event_id", ev->event_id);
	if (ev->n_missing_fields > 0) {
		cJSON *m = cJSON_AddArrayToObject(o, "missing_fields");
		for (size_t i = 0; i < ev->n_missing_fields; i++)
			cJSON_AddItemToArray(m, cJSON_CreateString(ev->missing_fields[i]));
	}
	ret = send_json(conn, MHD_HTTP_ACCEPTED, o, false);
out:
	free(buf);
	ct_event_free(ev);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	falco_http *s = cls;
	request *r = *con_cls;
	const char *why;

	(void)version;
	if (r == NULL) {
		/* first call: headers only */
		if (strcmp(url, "/api/v1/falco/events") != 0 && strcmp(url, "/") != 0)
			return send_error(s, conn, R_NOT_FOUND, MHD_HTTP_NOT_FOUND, "not found");
		if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
			return send_error(s, conn, R_NOT_FOUND, MHD_HTTP_METHOD_NOT_ALLOWED,
			    "use POST");
		if ((why = client_cert_problem(s, conn)) != NULL) {
			log_cert_refusal(s, why);
			return send_error(s, conn, R_UNAUTHORIZED, MHD_HTTP_UNAUTHORIZED,
			    "a client certificate signed by ingest.http_tls_ca is required");
		}
		if (!token_ok(s, conn))
			return send_error(s, conn, R_UNAUTHORIZED, MHD_HTTP_UNAUTHORIZED,
			    "missing or wrong bearer token");
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return MHD_NO;
		{
			const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
			    MHD_HTTP_HEADER_CONTENT_LENGTH);
			if (cl != NULL && strtoull(cl, NULL, 10) > s->max_body)
				r->too_large = true;
		}
		*con_cls = r;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		/* over the limit: read and discard the rest, answer 413 at the end */
		if (!r->too_large && r->len + *upload_data_size > s->max_body)
			r->too_large = true;
		if (!r->too_large) {
			if (r->len + *upload_data_size + 1 > r->cap) {
				size_t cap = r->cap ? r->cap : 4096;
				char *n;
				while (cap < r->len + *upload_data_size + 1)
					cap *= 2;
				n = realloc(r->body, cap);
				if (n == NULL)
					return MHD_NO;
				r->body = n;
				r->cap = cap;
			}
			memcpy(r->body + r->len, upload_data, *upload_data_size);
			r->len += *upload_data_size;
			r->body[r->len] = '\0';
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->too_large) {
		char msg[96];
		snprintf(msg, sizeof(msg), "body larger than %zu bytes (ingest.http_max_body)",
		    s->max_body);
		return send_error(s, conn, R_TOO_LARGE, MHD_HTTP_CONTENT_TOO_LARGE, msg);
	}
	return handle_alert(s, conn, r);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	request *r = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (r != NULL) {
		free(r->body);
		free(r);
		*con_cls = NULL;
	}
}

static bool
set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

int
falco_http_start(falco_http **out, const falco_http_opts *o, hand *h, td_error *err)
{
	struct sockaddr_in sin;
	falco_http *s;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *di;
	int rv;

	*out = NULL;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)o->port);
	if (inet_pton(AF_INET, o->bind, &sin.sin_addr) != 1)
		return td_error_set(err, TD_EINVAL, "ingest.http_bind: '%s' is not an IPv4 address",
		    o->bind);
	if (set(o->tls_cert) != set(o->tls_key))
		return td_error_set(err, TD_EINVAL,
		    "ingest.http_tls_cert and ingest.http_tls_key go together");
	if (set(o->tls_ca) && !set(o->tls_cert))
		return td_error_set(err, TD_EINVAL, "ingest.http_tls_ca needs http_tls_cert/key");
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return td_error_set(err, TD_ENOMEM, "out of memory");
	pthread_mutex_init(&s->log_mu, NULL);
	s->hand = h;
	s->max_body = o->max_body;
	if (set(o->token)) {
		s->have_token = true;
		td_secret_digest(o->token, strlen(o->token), s->token_digest);
	}
	for (int i = 0; i < R_COUNT; i++)
		s->results[i] = td_counter_get("tfdrift_ingest_falco_http_alerts_total",
		    "Falco alerts posted to the HTTP receiver, by outcome.", result_labels[i]);
	s->dropped_source = td_counter_get("tfdrift_ingest_falco_dropped_total",
	    "Falco alerts dropped because their source is not aws_cloudtrail.",
	    "reason=\"source\"");
	if (falco_missing_open(&s->missing, "http") != 0) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto fail;
	}
	if (set(o->tls_cert)) {
		if ((rv = td_file_read(o->tls_cert, 0, &s->cert, NULL, err)) != 0 ||
		    (rv = td_file_read(o->tls_key, 0, &s->key, NULL, err)) != 0 ||
		    (set(o->tls_ca) && (rv = td_file_read(o->tls_ca, 0, &s->ca, NULL, err)) != 0))
			goto fail;
		flags |= MHD_USE_TLS;
		s->mtls = s->ca != NULL;
	}
	s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
	    MHD_OPTION_EXTERNAL_LOGGER, td_mhd_log, (void *)"falco http server",
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin, MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned)(o->threads > 0 ? o->threads : 2), MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)(o->timeout_s > 0 ? o->timeout_s : 30), MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)(o->max_connections > 0 ? o->max_connections : 256),
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)o->max_connections_per_ip,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
	    s->cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, s->cert, MHD_OPTION_HTTPS_MEM_KEY,
	    s->key, s->ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, s->ca, MHD_OPTION_END);
	if (s->daemon == NULL) {
		rv = td_error_set(err, TD_EIO,
		    "falco http receiver: cannot listen on %s:%d (in use, or a bad TLS certificate/key)",
		    o->bind, o->port);
		goto fail;
	}
	di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di != NULL ? di->port : o->port;
	*out = s;
	return 0;
fail:
	falco_http_stop(s);
	return rv;
}

int
falco_http_port(const falco_http *s)
{
	return s->port;
}

void
falco_http_stop(falco_http *s)
{
	if (s == NULL)
		return;
	if (s->daemon != NULL)
		MHD_stop_daemon(s->daemon);
	free(s->cert);
	free(s->key);
	free(s->ca);
	falco_missing_close(s->missing);
	pthread_mutex_destroy(&s->log_mu);
	free(s);
}
