/* livefilter.c — see livefilter.h. */
#include "livefilter.h"

#include <stdio.h>
#include <string.h>

#include "query.h"
#include "tfdrift/error.h"
#include "tfdrift/severity.h"

bool
gw_filter_matches(const gw_filter *f, int rank, int kind_idx, const char *workspace)
{
	if (f->min_rank > 0 && rank < f->min_rank) {
		return false;
	}
	if (f->kinds != 0 && (kind_idx < 0 || (f->kinds & (1u << kind_idx)) == 0)) {
		return false;
	}
	return f->workspace[0] == '\0' || strcmp(f->workspace, workspace) == 0;
}

static int
kind_index(const char *s, size_t len)
{
	for (size_t i = 0; i < td_kind_count; i++) {
		if (strlen(td_kind_names[i]) == len && memcmp(td_kind_names[i], s, len) == 0) {
			return (int)i;
		}
	}
	return -1;
}

/* Sets one filter field from text; a message naming it on failure. */
int
gw_filter_set(gw_filter *f, const char *key, const char *v, char *why, size_t whylen)
{
	if (strcmp(key, "min_severity") == 0) {
		int r = gw_severity_rank(v);
		if (r < 0) {
			snprintf(why, whylen,
			    "min_severity: '%.32s' is not one of info, low, medium, high, critical",
			    v);
			return TD_EINVAL;
		}
		f->min_rank = r;
	} else if (strcmp(key, "workspace") == 0) {
		if (strlen(v) >= sizeof(f->workspace)) {
			snprintf(why, whylen, "workspace: longer than %d bytes",
			    GW_FILTER_WS_MAX - 1);
			return TD_EINVAL;
		}
		snprintf(f->workspace, sizeof(f->workspace), "%s", v);
	} else if (strcmp(key, "kinds") == 0) {
		unsigned mask = 0;
		for (const char *p = v;;) {
			size_t len = strcspn(p, ",");
			int k = kind_index(p, len);
			if (k < 0) {
				snprintf(why, whylen,
				    "kinds: '%.*s' is not one of drift, unmanaged, deleted, modified",
				    (int)(len > 32 ? 32 : len), p);
				return TD_EINVAL;
			}
			mask |= 1u << k;
			if (p[len] == '\0') {
				break;
			}
			p += len + 1;
		}
		f->kinds = mask;
	} else if (strcmp(key, "access_token") != 0) {
		snprintf(why, whylen, "%.64s: unknown parameter", key);
		return TD_EINVAL;
	}
	return 0;
}

cJSON *
gw_filter_json(const gw_filter *f)
{
	cJSON *o = cJSON_CreateObject();
	if (f->min_rank > 0) {
		cJSON_AddStringToObject(o, "min_severity", td_severity_names[f->min_rank - 1]);
	} else {
		cJSON_AddNullToObject(o, "min_severity");
	}
	if (f->workspace[0] != '\0') {
		cJSON_AddStringToObject(o, "workspace", f->workspace);
	} else {
		cJSON_AddNullToObject(o, "workspace");
	}
	cJSON *k = cJSON_AddArrayToObject(o, "kinds");
	for (size_t i = 0; i < td_kind_count; i++) {
		if (f->kinds & (1u << i)) {
			cJSON_AddItemToArray(k, cJSON_CreateString(td_kind_names[i]));
		}
	}
	return o;
}

int
gw_filter_from_client_msg(const char *msg, size_t len, gw_filter *f, char *why, size_t whylen)
{
	cJSON *j = len <= GW_CLIENT_MSG_MAX ? cJSON_ParseWithLength(msg, len) : NULL;
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");

	memset(f, 0, sizeof(*f));
	why[0] = '\0';
	if (!cJSON_IsObject(j) || !cJSON_IsString(type) ||
	    strcmp(type->valuestring, "filter") != 0) {
		snprintf(why, whylen, "expected {\"type\":\"filter\",...}");
	} else {
		const cJSON *it;
		cJSON_ArrayForEach(it, j)
		{
			if (why[0] != '\0' || strcmp(it->string, "type") == 0 || cJSON_IsNull(it)) {
				continue;
			}
			char val[GW_FILTER_WS_MAX * 2] = "";
			if (cJSON_IsString(it)) {
				snprintf(val, sizeof(val), "%s", it->valuestring);
			} else if (cJSON_IsArray(it)) {
				const cJSON *e;
				cJSON_ArrayForEach(e, it)
				{
					size_t l = strlen(val);
					snprintf(val + l, sizeof(val) - l, "%s%s", l ? "," : "",
					    cJSON_IsString(e) ? e->valuestring : "?");
				}
			}
			if (strcmp(it->string, "access_token") == 0 || val[0] == '\0') {
				if (strcmp(it->string, "kinds") != 0 || !cJSON_IsArray(it)) {
					snprintf(why, whylen, "%.64s: not a filter field",
					    it->string);
				}
				continue;
			}
			(void)gw_filter_set(f, it->string, val, why, whylen);
		}
	}
	cJSON_Delete(j);
	if (why[0] != '\0') {
		memset(f, 0, sizeof(*f));
		return TD_EINVAL;
	}
	return 0;
}
