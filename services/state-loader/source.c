/* source.c — state_loader.sources entries (the source URIs). */
#include "source.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fetch.h"
#include "tfdrift/hex.h"
#include "tfdrift/scope.h"

#define KEY "state_loader.sources"

const char *
src_kind_name(src_kind k)
{
	switch (k) {
	case SRC_FILE: return "file";
	case SRC_HTTP: return "http";
	case SRC_S3: return "s3";
	case SRC_HCP: return "hcp";
	}
	return "?";
}

void
src_spec_free(src_spec *s)
{
	if (s == NULL) {
		return;
	}
	if (s->password != NULL) {
		explicit_bzero(s->password, strlen(s->password));
	}
	if (s->token != NULL) {
		explicit_bzero(s->token, strlen(s->token));
	}
	free(s->name);
	free(s->path);
	free(s->url);
	free(s->shown);
	free(s->user);
	free(s->password);
	free(s->region);
	free(s->token);
	free(s->org);
	free(s->workspace);
	free(s->ca_file);
	free(s->client_cert);
	free(s->client_key);
	free(s->bucket_url);
	free(s->bucket);
	free(s->key);
	free(s->ws_prefix);
	free(s->scope_account);
	free(s->scope_region);
	*s = (src_spec){ 0 };
}

/* %XX-decodes n bytes of s into a new string. */
static char *
decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t i, j = 0;

	if (out == NULL) {
		return NULL;
	}
	for (i = 0; i < n; i++) {
		uint8_t byte;
		if (s[i] == '%' && i + 2 < n && td_hex_decode(s + i + 1, 1, &byte) == 0) {
			out[j++] = (char)byte;
			i += 2;
		} else {
			out[j++] = s[i];
		}
	}
	out[j] = '\0';
	return out;
}

/* Finds option `name` in "a=1&b=2" (n bytes); *val malloc'd (decoded) or NULL. */
static int
option(const char *opts, size_t n, const char *name, char **val)
{
	size_t nl = strlen(name);
	const char *p = opts, *end = opts + n, *amp;

	*val = NULL;
	while (p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL) {
			amp = end;
		}
		if ((size_t)(amp - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
			free(*val);
			if ((*val = decode(p + nl + 1, (size_t)(amp - p - nl - 1))) == NULL) {
				return TD_ENOMEM;
			}
		}
		p = amp + 1;
	}
	return 0;
}

/* Every option name in opts must be one of known (NULL-terminated). */
static int
check_options(const char *entry, const char *opts, size_t n, const char *const *known,
    td_error *err)
{
	const char *p = opts, *end = opts + n, *amp, *eq;
	size_t i;

	while (p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL) {
			amp = end;
		}
		eq = memchr(p, '=', (size_t)(amp - p));
		for (i = 0; known[i] != NULL; i++) {
			if (eq != NULL && strlen(known[i]) == (size_t)(eq - p) &&
			    memcmp(p, known[i], (size_t)(eq - p)) == 0) {
				break;
			}
		}
		if (known[i] == NULL && amp > p) {
			return td_error_set(err, TD_EINVAL, KEY ": \"%s\": unknown option \"%.*s\"",
			    entry, (int)(amp - p), p);
		}
		p = amp + 1;
	}
	return 0;
}

/* A secret named by an *_env option, from the environment. */
static int
secret_from_env(const char *entry, const char *var, char **out, td_error *err)
{
	const char *v = getenv(var);

	if (v == NULL || v[0] == '\0') {
		return td_error_set(err, TD_EINVAL,
		    KEY ": \"%s\": environment variable %s is not set", entry, var);
	}
	if ((*out = strdup(v)) == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	return 0;
}

static int
parse_http(const char *entry, const char *uri, src_spec *s, td_error *err)
{
	static const char *const known[] = { "ca", "cert", "key", "insecure", "user",
		"password_env", "account", "region", NULL };
	const char *hash = strchr(uri, '#'), *scheme_end = strstr(uri, "://"), *host, *at, *slash;
	size_t ulen = hash != NULL ? (size_t)(hash - uri) : strlen(uri);
	size_t olen = hash != NULL ? strlen(hash + 1) : 0;
	const char *opts = hash != NULL ? hash + 1 : "";
	char *insecure = NULL, *penv = NULL, *user = NULL;
	int rv;

	s->kind = SRC_HTTP;
	if ((rv = check_options(entry, opts, olen, known, err)) != 0) {
		return rv;
	}
	host = scheme_end + 3;
	slash = memchr(host, '/', ulen - (size_t)(host - uri));
	at = memchr(host, '@', (size_t)((slash != NULL ? slash : uri + ulen) - host));
	if (at != NULL) {
		const char *colon = memchr(host, ':', (size_t)(at - host));
		s->user = decode(host, (size_t)((colon != NULL ? colon : at) - host));
		s->password = colon != NULL ? decode(colon + 1, (size_t)(at - colon - 1)) : NULL;
		if (s->user == NULL) {
			return td_error_set(err, TD_ENOMEM, "out of memory");
		}
		/* the URL handed to curl and shown carries no userinfo */
		if (asprintf(&s->url, "%.*s%.*s", (int)(host - uri), uri,
			(int)(ulen - (size_t)(at + 1 - uri)), at + 1) < 0) {
			s->url = NULL;
		}
	} else {
		s->url = strndup(uri, ulen);
	}
	s->shown = s->url != NULL ? strdup(s->url) : NULL;
	if (s->url == NULL || s->shown == NULL || option(opts, olen, "ca", &s->ca_file) != 0 ||
	    option(opts, olen, "cert", &s->client_cert) != 0 ||
	    option(opts, olen, "key", &s->client_key) != 0 ||
	    option(opts, olen, "insecure", &insecure) != 0 ||
	    option(opts, olen, "user", &user) != 0 ||
	    option(opts, olen, "password_env", &penv) != 0) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	s->insecure = insecure != NULL && strcmp(insecure, "0") != 0;
	if (user != NULL) {
		free(s->user);
		s->user = user;
		user = NULL;
	}
	if (penv != NULL) {
		free(s->password);
		s->password = NULL;
		if ((rv = secret_from_env(entry, penv, &s->password, err)) != 0) {
			goto out;
		}
	}
out:
	free(insecure);
	free(penv);
	free(user);
	return rv;
}

static int
parse_s3(const char *entry, const char *uri, src_spec *s, td_error *err)
{
	static const char *const known[] = { "region", "workspace", "workspace_prefix", "endpoint",
		"ca", "insecure", "max_keys", NULL };
	const char *bucket = uri + 5, *slash = strchr(bucket, '/'), *q;
	char *region = NULL, *ws = NULL, *prefix = NULL, *endpoint = NULL, *insecure = NULL;
	char *key = NULL, *full = NULL, *maxk = NULL, *end;
	size_t olen;
	int rv = 0;

	s->kind = SRC_S3;
	q = strchr(bucket, '?');
	olen = q != NULL ? strlen(q + 1) : 0;
	if (slash == NULL || slash == bucket || (q != NULL && q < slash) || slash[1] == '\0' ||
	    slash + 1 == q) {
		return td_error_set(err, TD_EINVAL,
		    KEY ": \"%s\": expected s3://BUCKET/KEY[?region=...&workspace=...]", entry);
	}
	if ((rv = check_options(entry, q != NULL ? q + 1 : "", olen, known, err)) != 0) {
		return rv;
	}
	if (option(q != NULL ? q + 1 : "", olen, "region", &region) != 0 ||
	    option(q != NULL ? q + 1 : "", olen, "workspace", &ws) != 0 ||
	    option(q != NULL ? q + 1 : "", olen, "workspace_prefix", &prefix) != 0 ||
	    option(q != NULL ? q + 1 : "", olen, "endpoint", &endpoint) != 0 ||
	    option(q != NULL ? q + 1 : "", olen, "ca", &s->ca_file) != 0 ||
	    option(q != NULL ? q + 1 : "", olen, "insecure", &insecure) != 0 ||
	    option(q != NULL ? q + 1 : "", olen, "max_keys", &maxk) != 0) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	s->insecure = insecure != NULL && strcmp(insecure, "0") != 0;
	if (maxk != NULL) {
		long v = strtol(maxk, &end, 10);
		if (maxk[0] == '\0' || *end != '\0' || v < 1 || v > 1000) {
			rv = td_error_set(err, TD_EINVAL,
			    KEY ": \"%s\": max_keys: \"%s\" is not in 1..1000", entry, maxk);
			goto out;
		}
		s->max_keys = (int)v;
	}
	if (region == NULL || region[0] == '\0') {
		free(region);
		const char *env = getenv("AWS_REGION");
		if (env == NULL || env[0] == '\0') {
			env = getenv("AWS_DEFAULT_REGION");
		}
		region = strdup(env != NULL && env[0] != '\0' ? env : "us-east-1");
	}
	key = strndup(slash + 1, (size_t)((q != NULL ? q : slash + strlen(slash)) - slash - 1));
	if (key == NULL || region == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	s->discover = ws != NULL && strcmp(ws, "*") == 0;
	if ((s->key = strdup(key)) == NULL ||
	    (s->ws_prefix = strdup(prefix != NULL ? prefix : "env:")) == NULL ||
	    (s->bucket = strndup(bucket, (size_t)(slash - bucket))) == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	/* Terraform's s3 backend: non-default workspaces live under the prefix */
	if (ws != NULL && ws[0] != '\0' && strcmp(ws, "default") != 0 && !s->discover) {
		if (asprintf(&full, "%s/%s/%s", prefix != NULL ? prefix : "env:", ws, key) < 0) {
			full = NULL;
		}
	} else {
		full = strdup(key);
	}
	if (full == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	if (endpoint != NULL && endpoint[0] != '\0') {
		size_t el = strlen(endpoint);
		while (el > 0 && endpoint[el - 1] == '/') {
			el--;
		}
		rv = asprintf(&s->bucket_url, "%.*s/%.*s", (int)el, endpoint, (int)(slash - bucket),
		    bucket);
	} else {
		rv = asprintf(&s->bucket_url, "https://%.*s.s3.%s.amazonaws.com",
		    (int)(slash - bucket), bucket, region);
	}
	if (rv >= 0) {
		rv = asprintf(&s->url, "%s/%s", s->bucket_url, full);
	}
	if (rv < 0) {
		s->url = NULL;
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	rv = 0;
	if (asprintf(&s->shown, "s3://%.*s/%s", (int)(slash - bucket), bucket, full) < 0) {
		s->shown = NULL;
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	s->region = region;
	region = NULL;
out:
	free(region);
	free(ws);
	free(prefix);
	free(endpoint);
	free(insecure);
	free(maxk);
	free(key);
	free(full);
	return rv;
}

static int
parse_hcp(const char *entry, const char *uri, src_spec *s, td_error *err)
{
	static const char *const known[] = { "host", "token_env", "scheme", "ca", "insecure",
		NULL };
	const char *org = uri + 6, *slash = strchr(org, '/'), *q = strchr(org, '?');
	size_t olen = q != NULL ? strlen(q + 1) : 0;
	char *host = NULL, *tenv = NULL, *scheme = NULL, *insecure = NULL;
	int rv;

	s->kind = SRC_HCP;
	if (slash == NULL || slash == org || slash[1] == '\0' || slash + 1 == q ||
	    (q != NULL && q < slash)) {
		return td_error_set(err, TD_EINVAL,
		    KEY ": \"%s\": expected hcp://ORGANIZATION/WORKSPACE[?host=...]", entry);
	}
	if ((rv = check_options(entry, q != NULL ? q + 1 : "", olen, known, err)) != 0) {
		return rv;
	}
	if (option(q != NULL ? q + 1 : "", olen, "host", &host) != 0 ||
	    option(q != NULL ? q + 1 : "", olen, "token_env", &tenv) != 0 ||
	    option(q != NULL ? q + 1 : "", olen, "scheme", &scheme) != 0 ||
	    option(q != NULL ? q + 1 : "", olen, "ca", &s->ca_file) != 0 ||
	    option(q != NULL ? q + 1 : "", olen, "insecure", &insecure) != 0 ||
	    (s->org = strndup(org, (size_t)(slash - org))) == NULL ||
	    (s->workspace = strndup(slash + 1,
		 q != NULL ? (size_t)(q - slash - 1) : strlen(slash + 1))) == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	s->insecure = insecure != NULL && strcmp(insecure, "0") != 0;
	if ((rv = secret_from_env(entry, tenv != NULL ? tenv : "TFE_TOKEN", &s->token, err)) != 0) {
		goto out;
	}
	if (asprintf(&s->url, "%s://%s", scheme != NULL ? scheme : "https",
		host != NULL ? host : "app.terraform.io") < 0 ||
	    asprintf(&s->shown, "hcp://%s/%s", s->org, s->workspace) < 0) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
out:
	free(host);
	free(tenv);
	free(scheme);
	free(insecure);
	return rv;
}

char *
src_s3_list_url(const src_spec *s, const char *token)
{
	char *url = NULL, *prefix = NULL, *etok = NULL, *pfx = NULL, keys[32] = "";

	/* ListObjectsV2 of "<prefix>/"; the parameters in sorted order and
	 * percent-encoded, so the signed query is canonical as sent */
	if (asprintf(&pfx, "%s/", s->ws_prefix) < 0) {
		return NULL;
	}
	prefix = fetch_query_escape(pfx);
	etok = token != NULL ? fetch_query_escape(token) : NULL;
	if (s->max_keys > 0) {
		snprintf(keys, sizeof(keys), "&max-keys=%d", s->max_keys);
	}
	if (prefix == NULL || (token != NULL && etok == NULL) ||
	    asprintf(&url, "%s?%s%s%slist-type=2%s&prefix=%s", s->bucket_url,
		etok != NULL ? "continuation-token=" : "", etok != NULL ? etok : "",
		etok != NULL ? "&" : "", keys, prefix) < 0) {
		url = NULL;
	}
	free(pfx);
	free(prefix);
	free(etok);
	return url;
}

/* The ASCII character of a numeric character reference at t (before b):
 * "&#34;" or "&#x22;" (MinIO writes ETags so); *len its length.  0 when
 * there is none, or it is not printable ASCII. */
static char
xml_char_ref(const char *t, const char *b, size_t *len)
{
	const char *p = t + 2;
	bool hex = p < b && (*p == 'x' || *p == 'X');
	unsigned long v = 0;
	int digits = 0;

	if (b - t < 4 || t[1] != '#') {
		return 0;
	}
	for (p += hex ? 1 : 0; p < b && *p != ';' && digits < 6; p++, digits++) {
		int d = *p >= '0' && *p <= '9'      ? *p - '0'
		    : hex && *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
		    : hex && *p >= 'A' && *p <= 'F' ? *p - 'A' + 10
						    : -1;
		if (d < 0) {
			return 0;
		}
		v = v * (hex ? 16 : 10) + (unsigned long)d;
	}
	if (p >= b || *p != ';' || digits == 0 || v < 0x20 || v > 0x7E) {
		return 0;
	}
	*len = (size_t)(p - t) + 1;
	return (char)v;
}

/* Copies the XML text a..b into out (outlen bytes, cut), the five entities
 * and ASCII character references decoded; false when it did not fit. */
static bool
xml_text(const char *a, const char *b, char *out, size_t outlen)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = { { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' },
		{ "&apos;", '\'' } };
	const char *t;
	size_t j = 0, rl = 0;
	char rc;

	for (t = a; t < b && j + 1 < outlen; t++) {
		size_t e;
		for (e = 0; *t == '&' && e < sizeof(ents) / sizeof(ents[0]); e++) {
			size_t el = strlen(ents[e].ent);
			if ((size_t)(b - t) >= el && strncmp(t, ents[e].ent, el) == 0) {
				break;
			}
		}
		if (*t == '&' && e < sizeof(ents) / sizeof(ents[0])) {
			out[j++] = ents[e].c;
			t += strlen(ents[e].ent) - 1;
		} else if (*t == '&' && (rc = xml_char_ref(t, b, &rl)) != 0) {
			out[j++] = rc;
			t += rl - 1;
		} else {
			out[j++] = *t;
		}
	}
	out[j] = '\0';
	return t == b;
}

bool
src_s3_next_token(const char *xml, char *out, size_t outlen)
{
	const char *a, *b;

	out[0] = '\0';
	if ((a = strstr(xml, "<IsTruncated>")) == NULL || strncmp(a + 13, "true", 4) != 0 ||
	    (a = strstr(xml, "<NextContinuationToken>")) == NULL ||
	    (b = strstr(a, "</NextContinuationToken>")) == NULL) {
		return false;
	}
	/* the five XML entities are the only escapes a token can carry */
	return xml_text(a + 23, b, out, outlen) && out[0] != '\0';
}

/* The text of element <name> inside xml[0..end): a and b bound it; false
 * when there is none. */
static bool
xml_element(const char *xml, const char *end, const char *name, const char **a, const char **b)
{
	char open[32], close[32];
	size_t ol = (size_t)snprintf(open, sizeof(open), "<%s>", name);
	size_t cl = (size_t)snprintf(close, sizeof(close), "</%s>", name);

	if ((*a = memmem(xml, (size_t)(end - xml), open, ol)) == NULL) {
		return false;
	}
	*a += ol;
	*b = memmem(*a, (size_t)(end - *a), close, cl);
	return *b != NULL;
}

void
src_s3_workspaces(const src_spec *s, const char *xml, src_ws_fn fn, void *arg)
{
	size_t pl = strlen(s->ws_prefix), kl = strlen(s->key);
	const char *p = xml, *c, *end, *a, *b, *ws, *slash;
	char name[512], etag[256];

	/* one <Contents> element per object: its Key, and its ETag */
	while ((c = strstr(p, "<Contents>")) != NULL && (end = strstr(c, "</Contents>")) != NULL) {
		p = end + 11;
		if (!xml_element(c, end, "Key", &a, &b)) {
			continue;
		}
		/* <prefix>/<ws>/<key> */
		if ((size_t)(b - a) <= pl + 1 + kl || strncmp(a, s->ws_prefix, pl) != 0 ||
		    a[pl] != '/') {
			continue;
		}
		ws = a + pl + 1;
		slash = memchr(ws, '/', (size_t)(b - ws));
		if (slash == NULL || slash == ws || (size_t)(b - slash - 1) != kl ||
		    strncmp(slash + 1, s->key, kl) != 0 || (size_t)(slash - ws) >= sizeof(name)) {
			continue;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(slash - ws), ws);
		if (strpbrk(name, "\t\n\r&<>") != NULL) {
			continue;
		}
		if (!xml_element(c, end, "ETag", &a, &b) || !xml_text(a, b, etag, sizeof(etag))) {
			etag[0] = '\0';
		}
		fn(arg, name, etag);
	}
}

int
src_s3_child(const src_spec *parent, const char *workspace, src_spec *out, td_error *err)
{
	*out = (src_spec){ .kind = SRC_S3,
		.insecure = parent->insecure,
		.max_keys = parent->max_keys };
	if (asprintf(&out->name, "%s/%s", parent->name, workspace) < 0) {
		out->name = NULL;
	}
	if (asprintf(&out->url, "%s/%s/%s/%s", parent->bucket_url, parent->ws_prefix, workspace,
		parent->key) < 0) {
		out->url = NULL;
	}
	if (asprintf(&out->shown, "s3://%s/%s/%s/%s", parent->bucket, parent->ws_prefix, workspace,
		parent->key) < 0) {
		out->shown = NULL;
	}
	out->region = strdup(parent->region);
	out->bucket_url = strdup(parent->bucket_url);
	out->bucket = strdup(parent->bucket);
	out->key = strdup(parent->key);
	out->ws_prefix = strdup(parent->ws_prefix);
	out->ca_file = parent->ca_file != NULL ? strdup(parent->ca_file) : NULL;
	out->scope_account = parent->scope_account != NULL ? strdup(parent->scope_account) : NULL;
	out->scope_region = parent->scope_region != NULL ? strdup(parent->scope_region) : NULL;
	if (out->name == NULL || out->url == NULL || out->shown == NULL || out->region == NULL ||
	    out->bucket_url == NULL || out->bucket == NULL || out->key == NULL ||
	    out->ws_prefix == NULL || (parent->ca_file != NULL && out->ca_file == NULL) ||
	    (parent->scope_account != NULL && out->scope_account == NULL) ||
	    (parent->scope_region != NULL && out->scope_region == NULL)) {
		src_spec_free(out);
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	return 0;
}

/* The scope options of any source, in the URI's fragment: account=
 * (12 digits) and region= (the resources', not the bucket's: s3's region is
 * in the query), for states that carry no ARN (tfdrift/scope.h).  Only
 * http(s) has other options there; for the others the fragment is cut from
 * the URI (*base, malloc'd, NULL when there is none). */
static int
parse_scope(const char *entry, const char *uri, bool http, src_spec *s, char **base, td_error *err)
{
	static const char *const known[] = { "account", "region", NULL };
	const char *hash = strchr(uri, '#');
	size_t olen = hash != NULL ? strlen(hash + 1) : 0;
	int rv;

	*base = NULL;
	if (hash == NULL) {
		return 0;
	}
	if (!http && (rv = check_options(entry, hash + 1, olen, known, err)) != 0) {
		return rv;
	}
	if (option(hash + 1, olen, "account", &s->scope_account) != 0 ||
	    option(hash + 1, olen, "region", &s->scope_region) != 0 ||
	    (!http && (*base = strndup(uri, (size_t)(hash - uri))) == NULL)) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	if (s->scope_account != NULL && !td_scope_valid_account(s->scope_account)) {
		return td_error_set(err, TD_EINVAL,
		    KEY ": \"%s\": account \"%s\": expected a 12-digit AWS account id", entry,
		    s->scope_account);
	}
	if (s->scope_region != NULL && !td_scope_valid_region(s->scope_region)) {
		return td_error_set(err, TD_EINVAL,
		    KEY ": \"%s\": region \"%s\": expected an AWS region such as eu-west-1", entry,
		    s->scope_region);
	}
	return 0;
}

/* Whether an option called name[0..n) holds a secret ("password", "token",
 * "secret", ...; not "*_env", which names a variable). */
static bool
secret_option(const char *name, size_t n)
{
	static const char *const words[] = { "password", "passwd", "token", "secret", "signature",
		"credential", NULL };
	char low[64];
	size_t m = n < sizeof(low) ? n : sizeof(low) - 1;

	for (size_t i = 0; i < m; i++) {
		low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
	}
	low[m] = '\0';
	if (m >= 4 && m == n && memcmp(name + n - 4, "_env", 4) == 0) {
		return false;
	}
	for (int i = 0; words[i] != NULL; i++) {
		if (strstr(low, words[i]) != NULL) {
			return true;
		}
	}
	return false;
}

char *
src_redact(const char *text)
{
	size_t n = strlen(text), o = 0;
	/* each byte becomes at most itself, or a run becomes "***" */
	char *out = malloc(n + 3 * (n / 2 + 1) + 1);

	if (out == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < n;) {
		if (i + 3 <= n && memcmp(text + i, "://", 3) == 0) {
			size_t a = i + 3, end = a, at = SIZE_MAX;
			while (end < n && strchr("/?#&", text[end]) == NULL) {
				if (text[end] == '@') {
					at = end;
				}
				end++;
			}
			memcpy(out + o, "://", 3);
			o += 3;
			if (at != SIZE_MAX) {
				const char *colon = memchr(text + a, ':', at - a);
				if (colon != NULL) {
					size_t ul = (size_t)(colon - (text + a));
					memcpy(out + o, text + a, ul);
					o += ul;
					memcpy(out + o, ":***", 4);
					o += 4;
				} else {
					memcpy(out + o, "***", 3);
					o += 3;
				}
				i = at; /* the '@' is copied next */
			} else {
				i = a;
			}
			continue;
		}
		if (text[i] == '?' || text[i] == '#' || text[i] == '&') {
			out[o++] = text[i++];
			size_t name = i;
			while (i < n && strchr("=&#", text[i]) == NULL) {
				out[o++] = text[i++];
			}
			if (i < n && text[i] == '=' && secret_option(text + name, i - name)) {
				out[o++] = text[i++];
				while (i < n && text[i] != '&' && text[i] != '#') {
					i++;
				}
				memcpy(out + o, "***", 3);
				o += 3;
			}
			continue;
		}
		out[o++] = text[i++];
	}
	out[o] = '\0';
	return out;
}

int
src_parse(const char *raw_entry, src_spec *out, td_error *err)
{
	const char *eq = strchr(raw_entry, '='), *uri;
	/* messages show the entry with its credentials replaced by *** */
	char *redacted = src_redact(raw_entry);
	const char *entry = redacted != NULL ? redacted : "(the entry)";
	char *base = NULL;
	int rv = 0;

	*out = (src_spec){ 0 };
	if (eq == NULL || eq == raw_entry) {
		rv = td_error_set(err, TD_EINVAL,
		    KEY ": \"%s\": expected NAME=URI (file://, http(s)://, s3://, hcp://)", entry);
		goto out;
	}
	if ((out->name = strndup(raw_entry, (size_t)(eq - raw_entry))) == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	if (strpbrk(out->name, "\t\n\r") != NULL) {
		rv = td_error_set(err, TD_EINVAL,
		    KEY ": \"%s\": the workspace name may not hold a tab or newline", entry);
		goto out;
	}
	uri = eq + 1;
	if ((rv = parse_scope(entry, uri,
		 strncmp(uri, "http://", 7) == 0 || strncmp(uri, "https://", 8) == 0, out, &base,
		 err)) != 0) {
		goto out;
	}
	if (base != NULL) {
		uri = base;
	}
	if (strncmp(uri, "file://", 7) == 0) {
		out->kind = SRC_FILE;
		if (uri[7] == '\0') {
			rv = td_error_set(err, TD_EINVAL, KEY ": \"%s\": no path", entry);
		} else if ((out->path = decode(uri + 7, strlen(uri + 7))) == NULL ||
		    (out->shown = strdup(out->path)) == NULL) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
		}
	} else if (strncmp(uri, "http://", 7) == 0 || strncmp(uri, "https://", 8) == 0) {
		rv = parse_http(entry, uri, out, err);
	} else if (strncmp(uri, "s3://", 5) == 0) {
		rv = parse_s3(entry, uri, out, err);
	} else if (strncmp(uri, "hcp://", 6) == 0) {
		rv = parse_hcp(entry, uri, out, err);
	} else {
		rv = td_error_set(err, TD_EINVAL,
		    KEY ": \"%s\": unknown scheme (file://, http(s)://, s3://, hcp://)", entry);
	}
out:
	free(base);
	if (rv != 0) {
		src_spec_free(out);
	}
	free(redacted);
	return rv;
}
