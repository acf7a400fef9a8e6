/* http.c — libcurl for the receivers (contract in http.h). */
#include "http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "tfdrift/error.h"

#define MAX_BODY (1 << 20)

struct nt_http {
	CURL *curl;
	int64_t timeout_ms;
	char *body;
	size_t len, cap;
	int64_t retry_after_ms;
	const atomic_bool *abort;
};

int
http_new(nt_http **out, int64_t timeout_ms, const atomic_bool *abort)
{
	nt_http *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (h == NULL || (h->curl = curl_easy_init()) == NULL) {
		free(h);
		return TD_ENOMEM;
	}
	h->timeout_ms = timeout_ms;
	h->abort = abort;
	*out = h;
	return 0;
}

void
http_free(nt_http *h)
{
	if (h == NULL) {
		return;
	}
	curl_easy_cleanup(h->curl);
	free(h->body);
	free(h);
}

static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	const nt_http *h = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return h->abort != NULL && atomic_load(h->abort) ? 1 : 0;
}

CURL *
http_curl(nt_http *h)
{
	curl_easy_reset(h->curl);
	if (h->abort != NULL) {
		curl_easy_setopt(h->curl, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h->curl, CURLOPT_XFERINFODATA, h);
	}
	return h->curl;
}

int64_t
http_timeout_ms(const nt_http *h)
{
	return h->timeout_ms;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	nt_http *h = arg;
	size_t add = size * n;

	if (h->len + add + 1 > h->cap) {
		size_t cap = h->cap == 0 ? 4096 : h->cap;
		while (cap < h->len + add + 1) {
			cap *= 2;
		}
		if (cap > MAX_BODY) {
			return add; /* keep reading, stop storing */
		}
		char *nb = realloc(h->body, cap);
		if (nb == NULL) {
			return 0;
		}
		h->body = nb;
		h->cap = cap;
	}
	memcpy(h->body + h->len, p, add);
	h->len += add;
	h->body[h->len] = '\0';
	return add;
}

int64_t
http_retry_after_ms(const char *v)
{
	char *end;
	long long s;

	while (v != NULL && isspace((unsigned char)*v)) {
		v++;
	}
	if (v == NULL || *v == '\0') {
		return 0;
	}
	s = strtoll(v, &end, 10);
	if (end != v && (*end == '\0' || isspace((unsigned char)*end))) {
		return s > 0 ? (s > 86400 ? 86400000 : (int64_t)s * 1000) : 0;
	}
	struct tm tm = { 0 };
	if (strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm) != NULL) {
		time_t at = timegm(&tm), now = time(NULL);
		return at > now ? (int64_t)(at - now) * 1000 : 0;
	}
	return 0;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	nt_http *h = arg;
	size_t len = size * n;
	char val[128];

	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		size_t vl = len - 12 < sizeof(val) - 1 ? len - 12 : sizeof(val) - 1;
		memcpy(val, p + 12, vl);
		val[vl] = '\0';
		val[strcspn(val, "\r\n")] = '\0';
		h->retry_after_ms = http_retry_after_ms(val);
	}
	return len;
}

void
http_redact(const char *url, char *buf, size_t len)
{
	const char *sep = url != NULL ? strstr(url, "://") : NULL;
	const char *host, *at;
	size_t hl;

	if (sep == NULL) {
		snprintf(buf, len, "(url)");
		return;
	}
	host = sep + 3;
	hl = strcspn(host, "/?#");
	/* user:password@ is dropped too */
	if ((at = memchr(host, '@', hl)) != NULL) {
		hl -= (size_t)(at + 1 - host);
		host = at + 1;
	}
	snprintf(buf, len, "%.*s://%.*s%s", (int)(sep - url), url, (int)hl, host,
	    host[hl] != '\0' ? "/..." : "");
}

void
http_post(nt_http *h, const char *url, const char *const *headers, const char *body, size_t len,
    const char *ca_file, nt_result *res, char **body_out)
{
	struct curl_slist *hl = NULL, *nl;
	CURL *c = http_curl(h);
	char errbuf[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode cc;

	h->len = 0;
	h->retry_after_ms = 0;
	if (h->body != NULL) {
		h->body[0] = '\0';
	}
	if (body_out != NULL) {
		*body_out = NULL;
	}
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
		if ((nl = curl_slist_append(hl, headers[i])) == NULL) {
			res->outcome = NT_RETRY;
			snprintf(res->error, sizeof(res->error), "out of memory");
			goto out;
		}
		hl = nl;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)h->timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "tfdrift-notifier");
	if (ca_file != NULL) {
		curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
	}
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	res->http_status = (int)status;
	res->retry_after_ms = h->retry_after_ms;
	snprintf(res->answer, sizeof(res->answer), "%s", h->body != NULL ? h->body : "");
	if (cc != CURLE_OK) {
		char red[160];
		http_redact(url, red, sizeof(red));
		res->outcome = NT_RETRY;
		/* curl's message may quote the URL: name the host only */
		snprintf(res->error, sizeof(res->error), "%s: %s", red, curl_easy_strerror(cc));
	} else if (status >= 200 && status < 300) {
		res->outcome = NT_SENT;
	} else {
		res->outcome = status == 408 || status == 429 || status >= 500 ? NT_RETRY
									       : NT_PERMANENT;
		snprintf(res->error, sizeof(res->error), "HTTP %ld: %.200s", status,
		    h->body != NULL ? h->body : "");
		res->error[strcspn(res->error, "\r\n")] = '\0';
	}
	if (body_out != NULL && h->body != NULL) {
		*body_out = strdup(h->body);
	}
out:
	curl_slist_free_all(hl);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
}
