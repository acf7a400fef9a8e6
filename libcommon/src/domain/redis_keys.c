/* redis_keys.c — see redis_keys.h. */
#include "tfdrift/redis_keys.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static char *key(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
key(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

char *
td_rkey_gen(const char *prefix)
{
	return key("%sgen", prefix);
}

char *
td_rkey_gen_seq(const char *prefix)
{
	return key("%sgen_seq", prefix);
}

char *
td_rkey_workspaces(const char *prefix)
{
	return key("%sworkspaces", prefix);
}

char *
td_rkey_idx(const char *prefix, uint64_t gen)
{
	return key("%s" TD_RKEY_GEN_PART "%" PRIu64 ":idx", prefix, gen);
}

char *
td_rkey_res(const char *prefix, uint64_t gen, const char *workspace, const char *address)
{
	return key("%s" TD_RKEY_GEN_PART "%" PRIu64 ":res:%s:%s", prefix, gen, workspace, address);
}

char *
td_rkey_nodes(const char *prefix, uint64_t gen, const char *workspace)
{
	return key("%s" TD_RKEY_GEN_PART "%" PRIu64 ":nodes:%s", prefix, gen, workspace);
}

char *
td_rkey_edges(const char *prefix, uint64_t gen, const char *workspace)
{
	return key("%s" TD_RKEY_GEN_PART "%" PRIu64 ":edges:%s", prefix, gen, workspace);
}

char *
td_rkey_event(const char *prefix, const char *event_id)
{
	return key("%sev:%s", prefix, event_id);
}
