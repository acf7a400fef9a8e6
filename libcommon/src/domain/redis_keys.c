/* redis_keys.c — see redis_keys.h. */
#include "tfdrift/redis_keys.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfdrift/str.h"

/* P g:<gen>:<kind>:<workspace>, a key of one workspace's generation. */
static char *
gen_key(const char *prefix, uint64_t gen, const char *kind, const char *workspace)
{
	return td_str_printf("%s" TD_RKEY_GEN_PART "%" PRIu64 ":%s:%s", prefix, gen, kind,
	    workspace);
}

char *
td_rkey_gen(const char *prefix)
{
	return td_str_printf("%sgen", prefix);
}

char *
td_rkey_gen_seq(const char *prefix)
{
	return td_str_printf("%sgen_seq", prefix);
}

char *
td_rkey_writer(const char *prefix)
{
	return td_str_printf("%swriter", prefix);
}

char *
td_rkey_workspaces(const char *prefix)
{
	return td_str_printf("%sworkspaces", prefix);
}

char *
td_rkey_wsgen(const char *prefix)
{
	return td_str_printf("%swsgen", prefix);
}

char *
td_rkey_idx(const char *prefix)
{
	return td_str_printf("%sidx", prefix);
}

char *
td_rkey_res(const char *prefix, uint64_t gen, const char *workspace)
{
	return gen_key(prefix, gen, "res", workspace);
}

char *
td_rkey_ids(const char *prefix, uint64_t gen, const char *workspace)
{
	return gen_key(prefix, gen, "ids", workspace);
}

bool
td_rkey_entry_parse(const char *s, size_t len, td_rkey_entry *e)
{
	const char *nl = memchr(s, '\n', len), *p[4], *end;
	size_t n = nl != NULL ? (size_t)(nl - s) : len, i, k = 0;
	uint64_t g = 0;

	for (i = 0; i < n && k < 4; i++) {
		if (s[i] == '\t') {
			p[k++] = s + i;
		}
	}
	if (k < 3) {
		return false;
	}
	/* the generation: up to the fourth tab, or the end of the line */
	end = k == 4 ? p[3] : s + n;
	if (end == p[2] + 1) {
		return false;
	}
	for (const char *c = p[2] + 1; c < end; c++) {
		if (*c < '0' || *c > '9' || g > (UINT64_MAX - (uint64_t)(*c - '0')) / 10) {
			return false; /* not a digit, or more than a uint64_t holds */
		}
		g = g * 10 + (uint64_t)(*c - '0');
	}
	e->workspace = s;
	e->workspace_len = (size_t)(p[0] - s);
	e->address = p[0] + 1;
	e->address_len = (size_t)(p[1] - p[0] - 1);
	e->type = p[1] + 1;
	e->type_len = (size_t)(p[2] - p[1] - 1);
	e->gen = g;
	return e->address_len > 0 && g > 0;
}

char *
td_rkey_nodes(const char *prefix, uint64_t gen, const char *workspace)
{
	return gen_key(prefix, gen, "nodes", workspace);
}

char *
td_rkey_edges(const char *prefix, uint64_t gen, const char *workspace)
{
	return gen_key(prefix, gen, "edges", workspace);
}

char *
td_rkey_event(const char *prefix, const char *event_id)
{
	return td_str_printf("%sev:%s", prefix, event_id);
}

size_t
td_rkey_idx_field_into(char *buf, size_t len, const char *account, const char *region,
    const char *identifier)
{
	int n;

	if (account == NULL || account[0] == '\0') {
		n = snprintf(buf, len, "%s", identifier);
	} else {
		n = snprintf(buf, len, "@%s:%s:%s", account, region != NULL ? region : "",
		    identifier);
	}
	return n < 0 ? 0 : (size_t)n;
}

char *
td_rkey_idx_field(const char *account, const char *region, const char *identifier)
{
	size_t n = td_rkey_idx_field_into(NULL, 0, account, region, identifier);
	char *s = malloc(n + 1);

	if (s != NULL) {
		td_rkey_idx_field_into(s, n + 1, account, region, identifier);
	}
	return s;
}

size_t
td_rkey_idx_lookup_size(const char *account, const char *region, const char *identifier)
{
	size_t a = account != NULL ? strlen(account) : 0, r = region != NULL ? strlen(region) : 0;
	size_t id = strlen(identifier) + 1;

	/* "@a:r:id", "@a::id", "id" */
	return (a > 0 ? (a + r + 3 + id) + (a + 3 + id) : 0) + id;
}

/* "@account:region:identifier" (or the identifier alone when account is "")
 * at p, NUL-terminated; returns the byte after it. */
static char *
put_field(char *p, const char *account, size_t alen, const char *region, size_t rlen,
    const char *identifier, size_t idlen)
{
	if (alen > 0) {
		*p++ = '@';
		memcpy(p, account, alen);
		p += alen;
		*p++ = ':';
		memcpy(p, region, rlen);
		p += rlen;
		*p++ = ':';
	}
	memcpy(p, identifier, idlen + 1);
	return p + idlen + 1;
}

size_t
td_rkey_idx_lookup_fields(const char *account, const char *region, const char *identifier,
    char *buf, size_t len, const char **out)
{
	size_t alen = account != NULL ? strlen(account) : 0;
	size_t rlen = region != NULL ? strlen(region) : 0, idlen = strlen(identifier), n = 0;
	char *p = buf;

	if (td_rkey_idx_lookup_size(account, region, identifier) > len) {
		return 0;
	}
	if (alen > 0 && rlen > 0) {
		out[n++] = p;
		p = put_field(p, account, alen, region, rlen, identifier, idlen);
	}
	if (alen > 0) {
		out[n++] = p;
		p = put_field(p, account, alen, "", 0, identifier, idlen);
	}
	out[n++] = p;
	put_field(p, "", 0, "", 0, identifier, idlen);
	return n;
}
