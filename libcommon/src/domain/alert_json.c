/* alert_json.c — see alert_json.h. */
#include "tfdrift/alert_json.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tfdrift/clock.h"
#include "tfdrift/severity.h"

void
td_json_add_time(cJSON *o, const char *name, int64_t ns)
{
	char ts[64];

	if (ns == 0) {
		cJSON_AddNullToObject(o, name);
		return;
	}
	td_clock_format(ns, 6, ts, sizeof(ts));
	cJSON_AddStringToObject(o, name, ts);
}

/* Where the call came from: the fields both shapes carry. */
static void
add_origin(cJSON *o, const Tfdrift__V1__DriftAlert *a)
{
	cJSON_AddStringToObject(o, "source_ip", a->source_ip);
	cJSON_AddStringToObject(o, "user_agent", a->user_agent);
	cJSON_AddStringToObject(o, "region", a->region);
	cJSON_AddStringToObject(o, "account_id", a->account_id);
}

static const char *
or_text(const char *name, const char *none)
{
	return name != NULL ? name : none;
}

cJSON *
td_alert_json_item(const Tfdrift__V1__DriftAlert *a)
{
	cJSON *o = cJSON_CreateObject(), *p;
	const Tfdrift__V1__Principal *pr = a->principal;

	if (o == NULL) {
		return NULL;
	}
	cJSON_AddNumberToObject(o, "id", (double)a->id);
	cJSON_AddStringToObject(o, "alert_key", a->alert_key);
	cJSON_AddStringToObject(o, "event_id", a->event_id);
	td_json_add_time(o, "event_time", a->event_time_ns);
	td_json_add_time(o, "detected_at", a->detected_at_ns);
	cJSON_AddStringToObject(o, "workspace", a->workspace);
	cJSON_AddStringToObject(o, "resource_address", a->resource_address);
	cJSON_AddStringToObject(o, "resource_type", a->resource_type);
	cJSON_AddStringToObject(o, "kind", or_text(td_kind_name((int)a->kind), ""));
	cJSON_AddStringToObject(o, "attribute", a->attribute);
	cJSON_AddStringToObject(o, "severity", or_text(td_severity_name((int)a->severity), ""));
	cJSON_AddStringToObject(o, "status", a->status[0] ? a->status : "open");
	p = cJSON_AddObjectToObject(o, "principal");
	cJSON_AddStringToObject(p, "type", pr != NULL ? pr->type : "");
	cJSON_AddStringToObject(p, "arn", pr != NULL ? pr->arn : "");
	cJSON_AddStringToObject(p, "name", pr != NULL ? pr->name : "");
	cJSON_AddStringToObject(p, "account_id", pr != NULL ? pr->account_id : "");
	add_origin(o, a);
	cJSON_AddStringToObject(o, "event_name", a->event_name);
	cJSON_AddStringToObject(o, "event_source", a->event_source);
	cJSON_AddStringToObject(o, "service", a->service);
	cJSON_AddStringToObject(o, "summary", a->summary);
	td_json_add_time(o, "committed_at", a->committed_at_ns);
	return o;
}

/* The principal as explain shows it: only the parts that are set. */
static void
add_who(cJSON *o, const Tfdrift__V1__Principal *pr)
{
	cJSON *p = cJSON_AddObjectToObject(o, "who");

	cJSON_AddStringToObject(p, "name", pr->name);
	cJSON_AddStringToObject(p, "type", pr->type);
	if (pr->role_name[0]) {
		cJSON_AddStringToObject(p, "role", pr->role_name);
	}
	if (pr->session_name[0]) {
		cJSON_AddStringToObject(p, "session", pr->session_name);
	}
	if (pr->permission_set[0]) {
		cJSON_AddStringToObject(p, "permission_set", pr->permission_set);
	}
	if (pr->root) {
		cJSON_AddBoolToObject(p, "root", true);
	}
	if (pr->invoked_by[0]) {
		cJSON_AddStringToObject(p, "invoked_by", pr->invoked_by);
	}
}

cJSON *
td_alert_json_explain(const Tfdrift__V1__DriftAlert *a)
{
	cJSON *o = cJSON_CreateObject(), *ch;

	if (o == NULL) {
		return NULL;
	}
	cJSON_AddStringToObject(o, "kind", or_text(td_kind_name((int)a->kind), "unspecified"));
	cJSON_AddStringToObject(o, "severity",
	    or_text(td_severity_name((int)a->severity), "unspecified"));
	cJSON_AddStringToObject(o, "workspace", a->workspace);
	cJSON_AddStringToObject(o, "address", a->resource_address);
	cJSON_AddStringToObject(o, "type", a->resource_type);
	cJSON_AddStringToObject(o, "attribute", a->attribute);
	ch = cJSON_AddArrayToObject(o, "changes");
	for (size_t i = 0; i < a->n_changes; i++) {
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "path", a->changes[i]->path);
		cJSON_AddItemToObject(c, "old", cJSON_Parse(a->changes[i]->old_json));
		cJSON_AddItemToObject(c, "new", cJSON_Parse(a->changes[i]->new_json));
		cJSON_AddBoolToObject(c, "sensitive", a->changes[i]->sensitive);
		cJSON_AddItemToArray(ch, c);
	}
	for (size_t i = 0; i < a->n_identifiers; i++) {
		if (strcmp(a->identifiers[i]->key, "id") == 0) {
			cJSON_AddStringToObject(o, "id", a->identifiers[i]->value);
		}
	}
	if (a->principal != NULL) {
		add_who(o, a->principal);
	}
	add_origin(o, a);
	cJSON_AddStringToObject(o, "summary", a->summary);
	cJSON_AddStringToObject(o, "fix", a->recommended_fix);
	cJSON_AddStringToObject(o, "alert_key", a->alert_key);
	return o;
}
