/* patch.c — the PATCH /api/v1/drifts/{id} body (patch.h). */
#include "patch.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const request_statuses[] = { "acknowledged", "resolved", "ignored", "reopened",
	"open" };

static int
invalid(gw_patch *p, const char *param, const char *msg)
{
	snprintf(p->param, sizeof(p->param), "%.64s", param);
	snprintf(p->msg, sizeof(p->msg), "%s", msg);
	return GW_PATCH_INVALID;
}

int
gw_patch_parse(const char *body, size_t len, gw_patch *p)
{
	cJSON *doc = NULL;
	int rv = GW_PATCH_OK;

	memset(p, 0, sizeof(*p));
	if (body == NULL || len == 0) {
		snprintf(p->msg, sizeof(p->msg),
		    "the body must be JSON: {\"status\":\"acknowledged\",\"note\":\"...\"}");
		return GW_PATCH_BAD_BODY;
	}
	doc = cJSON_ParseWithLength(body, len);
	if (doc == NULL || !cJSON_IsObject(doc)) {
		snprintf(p->msg, sizeof(p->msg), "the body is not a JSON object");
		rv = GW_PATCH_BAD_BODY;
		goto out;
	}
	const cJSON *it;
	cJSON_ArrayForEach(it, doc)
	{
		if (strcmp(it->string, "status") != 0 && strcmp(it->string, "note") != 0) {
			char msg[128];
			snprintf(msg, sizeof(msg), "%.64s: unknown member", it->string);
			rv = invalid(p, it->string, msg);
			goto out;
		}
	}
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(doc, "status");
	const cJSON *note = cJSON_GetObjectItemCaseSensitive(doc, "note");
	if (!cJSON_IsString(st)) {
		rv = invalid(p, "status",
		    "status: required, one of acknowledged, resolved, ignored, reopened");
		goto out;
	}
	for (size_t i = 0; i < NELEM(request_statuses); i++) {
		if (strcmp(st->valuestring, request_statuses[i]) == 0) {
			p->to = strcmp(request_statuses[i], "reopened") == 0 ? "open"
									     : request_statuses[i];
		}
	}
	if (p->to == NULL) {
		rv = invalid(p, "status",
		    "status: must be one of acknowledged, resolved, ignored, reopened");
		goto out;
	}
	if (note != NULL && !cJSON_IsNull(note)) {
		if (!cJSON_IsString(note) || strlen(note->valuestring) > GW_PATCH_NOTE_MAX) {
			p->to = NULL;
			rv = invalid(p, "note", "note: must be a string of at most 2000 bytes");
			goto out;
		}
		snprintf(p->note, sizeof(p->note), "%s", note->valuestring);
	}
out:
	cJSON_Delete(doc);
	return rv;
}
