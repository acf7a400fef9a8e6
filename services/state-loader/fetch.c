/* fetch.c — HTTP GET with libcurl for remote state sources. */
#include "fetch.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

typedef struct body {
	char *p;
	size_t len, cap, max;
	bool too_big;
} body;

typedef struct ctx {
	body b;
	fetch_resp *resp;
} ctx;

void
fetch_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t
on_data(char *data, size_t size, size_t n, void *arg)
{
	ctx *c = arg;
	size_t len = size * n, ncap;
	char *np;

	if (c->b.max != 0 && c->b.len + len > c->b.max) {
		c->b.too_big = true;
		return 0;
	}
	if (c->b.len + len + 1 > c->b.cap) {
		ncap = c->b.cap ? c->b.cap : 65536;
		while (ncap < c->b.len + len + 1) {
			ncap *= 2;
		}
		if ((np = realloc(c->b.p, ncap)) == NULL) {
			return 0;
		}
		c->b.p = np;
		c->b.cap = ncap;
	}
	memcpy(c->b.p + c->b.len, data, len);
	c->b.len += len;
	c->b.p[c->b.len] = '\0';
	return len;
}

/* Copies the value of header `name` (case-insensitive) from line into out. */
static void
header_value(const char *line, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name), i, j = 0;

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':') {
		return;
	}
	for (i = nl + 1; i < len && (line[i] == ' ' || line[i] == '\t'); i++) {
	}
	while (
	    len > i && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' ')) {
		len--;
	}
	for (; i < len && j + 1 < outlen; i++) {
		out[j++] = line[i];
	}
	out[j] = '\0';
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	ctx *c = arg;
	size_t len = size * n;
	char ra[32] = "", *end;
	long v;

	header_value(data, len, "etag", c->resp->etag, sizeof(c->resp->etag));
	header_value(data, len, "location", c->resp->location, sizeof(c->resp->location));
	header_value(data, len, "retry-after", ra, sizeof(ra));
	/* delta-seconds only; an HTTP-date leaves -1 (the caller backs off) */
	if (ra[0] != '\0') {
		v = strtol(ra, &end, 10);
		c->resp->retry_after = *end == '\0' && v >= 0 ? v : -1;
	}
	return len;
}

static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	const atomic_bool *cancel = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load(cancel) ? 1 : 0;
}

int
fetch_get(const fetch_req *req, fetch_resp *resp, td_error *err)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	char line[2048], errbuf[CURL_ERROR_SIZE] = "";
	ctx c = { .b = { .max = req->max_size }, .resp = resp };
	CURLcode cc;
	int rv = 0;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	if (h == NULL) {
		return td_error_set(err, TD_ENOMEM, "%s: out of memory", req->shown);
	}
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 30000L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &c);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	if (req->cancel != NULL) {
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)(uintptr_t)req->cancel);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	}
	if (req->user != NULL) {
		curl_easy_setopt(h, CURLOPT_USERNAME, req->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, req->password != NULL ? req->password : "");
	}
	if (req->sigv4 != NULL) {
		curl_easy_setopt(h, CURLOPT_AWS_SIGV4, req->sigv4);
	} else if (req->user != NULL) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
	}
	if (req->bearer != NULL) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", req->bearer);
		hdrs = curl_slist_append(hdrs, line);
		explicit_bzero(line, sizeof(line));
	}
	if (req->session_token != NULL) {
		snprintf(line, sizeof(line), "X-Amz-Security-Token: %s", req->session_token);
		hdrs = curl_slist_append(hdrs, line);
		explicit_bzero(line, sizeof(line));
	}
	for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
		hdrs = curl_slist_append(hdrs, req->headers[i]);
	}
	if (req->method != NULL) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	}
	if (req->etag != NULL && req->etag[0] != '\0') {
		snprintf(line, sizeof(line), "If-None-Match: %s", req->etag);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (hdrs != NULL) {
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	}
	if (req->ca_file != NULL && req->ca_file[0] != '\0') {
		curl_easy_setopt(h, CURLOPT_CAINFO, req->ca_file);
	}
	if (req->client_cert != NULL && req->client_cert[0] != '\0') {
		curl_easy_setopt(h, CURLOPT_SSLCERT, req->client_cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY,
		    req->client_key != NULL && req->client_key[0] ? req->client_key
								  : req->client_cert);
	}
	if (req->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		if (cc == CURLE_ABORTED_BY_CALLBACK && req->cancel != NULL &&
		    atomic_load(req->cancel)) {
			rv = td_error_set(err, TD_ECLOSED, "%s: cancelled", req->shown);
		} else if (c.b.too_big) {
			rv = td_error_set(err, TD_ETOOBIG,
			    "%s: larger than state_loader.max_state_size (%zu bytes)", req->shown,
			    req->max_size);
		} else {
			rv = td_error_set(err, TD_EIO, "%s: %s", req->shown,
			    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
		}
		free(c.b.p);
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	resp->body = c.b.p;
	resp->len = c.b.len;
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return rv;
}

char *
fetch_query_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s), j = 0;
	char *out = malloc(3 * n + 1);

	if (out == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			out[j++] = (char)c;
		} else {
			out[j++] = '%';
			out[j++] = hex[c >> 4];
			out[j++] = hex[c & 15];
		}
	}
	out[j] = '\0';
	return out;
}
