/* auth.c — see auth.h. */
#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "tfdrift/hex.h"
#include "tfdrift/secret.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define LINE_MAX_LEN 512

typedef struct token {
	char name[64];
	gw_role role;
	unsigned char digest[SHA256_DIGEST_LENGTH];
} token;

struct gw_auth {
	bool enabled;
	token *tokens;
	size_t n, cap;
};

static const char *const role_names[] = { "none", "viewer", "operator", "admin" };

const char *
gw_role_name(gw_role r)
{
	return (size_t)r < NELEM(role_names) ? role_names[r] : "none";
}

/* Parses "name:role:hex" (len bytes of s) into *t; a message in why. */
static int
parse_entry(const char *s, size_t len, token *t, char *why, size_t whylen)
{
	const char *c1 = memchr(s, ':', len);
	const char *c2 = c1 != NULL ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - s)) : NULL;
	if (c2 == NULL) {
		snprintf(why, whylen, "expected name:role:sha256hex");
		return TD_EINVAL;
	}
	size_t nlen = (size_t)(c1 - s), rlen = (size_t)(c2 - c1 - 1);
	const char *hex = c2 + 1;
	size_t hlen = len - (size_t)(hex - s);
	if (nlen == 0 || nlen >= sizeof(t->name)) {
		snprintf(why, whylen, "the name must be 1 to %zu bytes", sizeof(t->name) - 1);
		return TD_EINVAL;
	}
	for (size_t i = 0; i < nlen; i++) {
		if (!isalnum((unsigned char)s[i]) && strchr("-_.@", s[i]) == NULL) {
			snprintf(why, whylen, "the name may hold letters, digits and - _ . @ only");
			return TD_EINVAL;
		}
	}
	memcpy(t->name, s, nlen);
	t->name[nlen] = '\0';
	t->role = GW_ROLE_NONE;
	for (size_t r = 1; r < NELEM(role_names); r++) {
		if (strlen(role_names[r]) == rlen && memcmp(role_names[r], c1 + 1, rlen) == 0) {
			t->role = (gw_role)r;
		}
	}
	if (t->role == GW_ROLE_NONE) {
		snprintf(why, whylen, "role '%.*s' is not viewer, operator or admin",
		    (int)(rlen > 32 ? 32 : rlen), c1 + 1);
		return TD_EINVAL;
	}
	if (hlen != 2 * SHA256_DIGEST_LENGTH) {
		snprintf(why, whylen, "the hash must be 64 hex digits (sha256sum of the token)");
		return TD_EINVAL;
	}
	if (td_hex_decode(hex, SHA256_DIGEST_LENGTH, t->digest) != 0) {
		snprintf(why, whylen, "the hash must be 64 hex digits (sha256sum of the token)");
		return TD_EINVAL;
	}
	return 0;
}

static int
push(gw_auth *a, const token *t)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		token *p = realloc(a->tokens, cap * sizeof(*p));
		if (p == NULL) {
			return TD_ENOMEM;
		}
		a->tokens = p;
		a->cap = cap;
	}
	a->tokens[a->n++] = *t;
	return 0;
}

static int
load_file(gw_auth *a, const char *path, td_error *err)
{
	char line[LINE_MAX_LEN];
	int lineno = 0, rv = 0;
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return td_error_set(err, TD_EIO, "api_gateway.tokens_file: cannot open %s: %s",
		    path, strerror(errno));
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		size_t len = strlen(line);
		while (len > 0 && isspace((unsigned char)line[len - 1])) {
			line[--len] = '\0';
		}
		const char *s = line;
		while (isspace((unsigned char)*s)) {
			s++;
		}
		if (*s == '\0' || *s == '#') {
			continue;
		}
		token t;
		char why[128];
		if (parse_entry(s, strlen(s), &t, why, sizeof(why)) != 0) {
			rv = td_error_set(err, TD_EINVAL, "%s:%d: %s", path, lineno, why);
			goto out;
		}
		if (push(a, &t) != 0) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (ferror(f)) {
		rv = td_error_set(err, TD_EIO, "api_gateway.tokens_file: reading %s failed", path);
	}
out:
	fclose(f);
	return rv;
}

/* *out owned by caller. */
int
gw_auth_new(gw_auth **out, bool enabled, const char *const *entries, size_t n, const char *file,
    td_error *err)
{
	int rv = 0;
	*out = NULL;
	gw_auth *a = calloc(1, sizeof(*a));
	if (a == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	a->enabled = enabled;
	for (size_t i = 0; i < n; i++) {
		token t;
		char why[128];
		if (parse_entry(entries[i], strlen(entries[i]), &t, why, sizeof(why)) != 0) {
			rv = td_error_set(err, TD_EINVAL, "api_gateway.tokens[%zu]: %s", i, why);
			goto out;
		}
		if (push(a, &t) != 0) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (file != NULL && file[0] != '\0' && (rv = load_file(a, file, err)) != 0) {
		goto out;
	}
	*out = a;
	a = NULL;
out:
	gw_auth_free(a);
	return rv;
}

void
gw_auth_free(gw_auth *a)
{
	if (a == NULL) {
		return;
	}
	OPENSSL_cleanse(a->tokens, a->cap * sizeof(*a->tokens));
	free(a->tokens);
	free(a);
}

bool
gw_auth_enabled(const gw_auth *a)
{
	return a->enabled;
}

size_t
gw_auth_count(const gw_auth *a)
{
	return a->n;
}

int
gw_auth_check(const gw_auth *a, const char *secret, gw_identity *id)
{
	memset(id, 0, sizeof(*id));
	if (!a->enabled) {
		id->role = GW_ROLE_ADMIN;
		return 0;
	}
	if (secret == NULL || secret[0] == '\0') {
		return TD_ENOTFOUND;
	}
	unsigned char d[TD_SECRET_DIGEST_LEN];
	td_secret_digest(secret, strlen(secret), d);
	/* Every entry is compared in constant time, so timing tells nothing
	 * about how close a guess came. */
	const token *hit = NULL;
	for (size_t i = 0; i < a->n; i++) {
		if (td_secret_digest_equal(d, a->tokens[i].digest)) {
			hit = &a->tokens[i];
		}
	}
	if (hit == NULL) {
		return TD_EINVAL;
	}
	snprintf(id->name, sizeof(id->name), "%s", hit->name);
	id->role = hit->role;
	return 0;
}
