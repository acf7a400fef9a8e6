/* ingest_probe.c — see ingest_probe.h. */
#include "ingest_probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "tfdrift/error.h"

/* The fetch's bounds: /health must answer quickly whatever ingest does. */
#define METRICS_TIMEOUT_MS 1000
#define METRICS_MAX 1048576

typedef struct membuf {
	char *p;
	size_t len;
} membuf;

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	membuf *b = arg;
	size_t n = size * nmemb;
	if (b->len + n > METRICS_MAX) {
		return 0;
	}
	char *p = realloc(b->p, b->len + n + 1);
	if (p == NULL) {
		return 0;
	}
	memcpy(p + b->len, ptr, n);
	b->len += n;
	p[b->len] = '\0';
	b->p = p;
	return n;
}

int
gw_ingest_last_event(const char *url, double *secs, char *why, size_t whylen)
{
	membuf b = { 0 };
	int rv = TD_EDEPEND;
	CURL *h = curl_easy_init();
	if (h == NULL) {
		snprintf(why, whylen, "out of memory");
		return rv;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)METRICS_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	CURLcode cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		snprintf(why, whylen, "ingest metrics %s: %s", url, curl_easy_strerror(cc));
		goto out;
	}
	static const char name[] = "tfdrift_ingest_last_event_timestamp_seconds ";
	const char *at = b.p != NULL ? strstr(b.p, name) : NULL;
	while (at != NULL && at != b.p && at[-1] != '\n') {
		at = strstr(at + 1, name);
	}
	if (at == NULL) {
		snprintf(why, whylen, "ingest metrics %s: no %.*s", url, (int)sizeof(name) - 2,
		    name);
		goto out;
	}
	*secs = strtod(at + sizeof(name) - 1, NULL);
	rv = 0;
out:
	free(b.p);
	curl_easy_cleanup(h);
	return rv;
}
