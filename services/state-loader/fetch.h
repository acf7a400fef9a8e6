/* fetch.h — one HTTP GET of a remote state (libcurl), for the http, s3 and
 * HCP Terraform sources.
 *
 * Conditional: with an etag from the previous answer the request carries
 * If-None-Match and an unchanged object costs one small 304.  S3 requests
 * are signed with AWS Signature V4 by libcurl (CURLOPT_AWS_SIGV4) from the
 * credentials given; a session token goes in X-Amz-Security-Token.
 *
 * Threads: one request at a time per caller; curl_global_init must have run
 * (fetch_global_init, once, before threads). */
#ifndef TFDRIFT_STATE_LOADER_FETCH_H
#define TFDRIFT_STATE_LOADER_FETCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "tfdrift/error.h"

typedef struct fetch_req {
	const char *method;         /* NULL: GET */
	const char *const *headers; /* extra "Name: value" lines, NULL-terminated, or NULL */
	const char *url;            /* what is fetched; also named in messages (without userinfo) */
	const char *shown;          /* the name used in messages (URL without secrets) */
	const char *user;           /* basic auth (NULL: none), or the AWS access key id */
	const char *password;       /* basic auth password, or the AWS secret key */
	const char *bearer;         /* Authorization: Bearer (HCP Terraform); NULL none */
	const char *sigv4;          /* "aws:amz:<region>:s3" to sign; NULL: no signing */
	const char *session_token;  /* X-Amz-Security-Token; NULL none */
	const char *etag;           /* If-None-Match; NULL none */
	const char *ca_file;        /* TLS: CA bundle; NULL system default */
	const char *client_cert, *client_key; /* TLS client certificate; NULL none */
	bool insecure;                        /* TLS: do not verify the server */
	size_t max_size;                      /* larger bodies are refused (0: no limit) */
	long timeout_ms;
	/* when it turns true the transfer is abandoned (TD_ECLOSED): a stop does
	 * not wait for a hanging server; NULL: never */
	const atomic_bool *cancel;
} fetch_req;

typedef struct fetch_resp {
	long status; /* HTTP status */
	char *body;  /* malloc'd (NUL-terminated), NULL when none; owned by the caller */
	size_t len;
	char etag[256];      /* ETag of a 200, "" if none */
	char location[1024]; /* Location of a redirect not followed, "" if none */
	long retry_after;    /* Retry-After in seconds (429, 503); -1 when none or a date */
} fetch_resp;

void fetch_global_init(void);

/* Performs the request (a GET unless req->method says otherwise).  Transport failures (DNS, connect, TLS, timeout, body
 * too big) are TD_EIO/TD_ETOOBIG with err naming req->shown; any HTTP status
 * is success: the caller decides what it means.  Free resp->body. */
int fetch_get(const fetch_req *req, fetch_resp *resp, td_error *err);

/* s percent-encoded as SigV4's canonical query wants it (every byte but
 * A-Z a-z 0-9 - _ . ~, hex upper case): curl signs the query as sent.  A new
 * string (free); NULL when out of memory. */
char *fetch_query_escape(const char *s);

#endif
