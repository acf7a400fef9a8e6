/* redis_keys.c — see redis_keys.h. */
#include "tfdrift/redis_keys.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfdrift/str.h"

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
td_rkey_idx(const char *prefix, uint64_t gen)
{
	return td_str_printf("%s" TD_RKEY_GEN_PART "%" PRIu64 ":idx", prefix, gen);
}

char *
td_rkey_res(const char *prefix, uint64_t gen, const char *workspace, const char *address)
{
	return td_str_printf("%s" TD_RKEY_GEN_PART "%" PRIu64 ":res:%s:%s", prefix, gen, workspace,
	    address);
}

char *
td_rkey_nodes(const char *prefix, uint64_t gen, const char *workspace)
{
	return td_str_printf("%s" TD_RKEY_GEN_PART "%" PRIu64 ":nodes:%s", prefix, gen, workspace);
}

char *
td_rkey_edges(const char *prefix, uint64_t gen, const char *workspace)
{
	return td_str_printf("%s" TD_RKEY_GEN_PART "%" PRIu64 ":edges:%s", prefix, gen, workspace);
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
