/* redis_keys.c — see redis_keys.h. */
#include "tfdrift/redis_keys.h"

#include <inttypes.h>

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
