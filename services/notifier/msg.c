/* msg.c — alerts from PostgreSQL rows, and the text every receiver shares. */
#include "msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tfdrift/error.h"

const char msg_alert_columns[] =
    "a.id, a.severity, a.kind, a.workspace, a.resource_address, a.resource_type, a.attribute, "
    "a.changes::text, a.principal_name, a.principal_arn, a.event_name, a.service, "
    "coalesce(to_char(a.event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
    "to_char(a.detected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "a.recommended_fix, a.summary, a.status, coalesce(a.status_changed_by, ''), a.region, "
    "a.account_id, extract(epoch from a.committed_at)";

int
msg_alert_from_row(nt_alert *a, const PGresult *res, int row, int col)
{
	char **const fields[] = { &a->severity, &a->kind, &a->workspace, &a->address, &a->rtype,
		&a->attribute, &a->changes, &a->principal, &a->principal_arn, &a->event_name,
		&a->service, &a->event_time, &a->detected_at, &a->fix, &a->summary, &a->status,
		&a->status_by, &a->region, &a->account };
	size_t i;

	memset(a, 0, sizeof(*a));
	a->id = strtoll(PQgetvalue(res, row, col), NULL, 10);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if ((*fields[i] = strdup(PQgetvalue(res, row, col + 1 + (int)i))) == NULL) {
			msg_alert_clear(a);
			return TD_ENOMEM;
		}
	}
	a->committed_s = strtod(PQgetvalue(res, row, col + 1 + (int)i), NULL);
	return 0;
}

void
msg_alert_clear(nt_alert *a)
{
	char *const fields[] = { a->severity, a->kind, a->workspace, a->address, a->rtype,
		a->attribute, a->changes, a->principal, a->principal_arn, a->event_name, a->service,
		a->event_time, a->detected_at, a->fix, a->summary, a->status, a->status_by,
		a->region, a->account };

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		free(fields[i]);
	}
	memset(a, 0, sizeof(*a));
}

void
msg_alert_route_view(const nt_alert *a, rt_alert *out)
{
	memset(out, 0, sizeof(*out));
	out->f[RT_F_SEVERITY] = a->severity;
	out->f[RT_F_KIND] = a->kind;
	out->f[RT_F_WORKSPACE] = a->workspace;
	out->f[RT_F_SERVICE] = a->service;
	out->f[RT_F_RESOURCE_TYPE] = a->rtype;
	out->f[RT_F_RESOURCE_ADDRESS] = a->address;
	out->f[RT_F_EVENT_NAME] = a->event_name;
	out->f[RT_F_PRINCIPAL] = a->principal;
	out->rank = rt_rank(a->severity);
}

static const struct {
	const char *sev;
	const char *colour;
} colours[] = {
	{ "critical", "#b71c1c" },
	{ "high", "#e65100" },
	{ "medium", "#f9a825" },
	{ "low", "#1565c0" },
	{ "info", "#757575" },
};

const char *
msg_colour(const char *severity)
{
	for (size_t i = 0; i < sizeof(colours) / sizeof(colours[0]); i++) {
		if (severity != NULL && strcasecmp(severity, colours[i].sev) == 0) {
			return colours[i].colour;
		}
	}
	return "#757575";
}

void
msg_link(const nt_msg *m, const nt_alert *a, char *buf, size_t len)
{
	const char *base = m->ui_url != NULL ? m->ui_url : "";
	size_t bl = strlen(base);

	while (bl > 0 && base[bl - 1] == '/') {
		bl--;
	}
	snprintf(buf, len, "%.*s/drifts/%lld", (int)bl, base, (long long)a->id);
}

/* A JSON value as short text: strings without quotes. */
static void
value_text(const cJSON *v, char *buf, size_t len)
{
	char *s;

	if (v == NULL) {
		snprintf(buf, len, "(none)");
	} else if (cJSON_IsString(v)) {
		snprintf(buf, len, "%s", v->valuestring);
	} else if ((s = cJSON_PrintUnformatted(v)) != NULL) {
		snprintf(buf, len, "%s", s);
		free(s);
	} else {
		buf[0] = '\0';
	}
}

void
msg_change_text(const nt_alert *a, char *buf, size_t len)
{
	cJSON *arr = a->changes != NULL ? cJSON_Parse(a->changes) : NULL;
	const cJSON *c = cJSON_GetArrayItem(arr, 0);
	char o[160], n[160];

	buf[0] = '\0';
	if (c != NULL) {
		const cJSON *path = cJSON_GetObjectItemCaseSensitive(c, "path");
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "sensitive"))) {
			snprintf(o, sizeof(o), "(sensitive)");
			snprintf(n, sizeof(n), "(sensitive)");
		} else {
			value_text(cJSON_GetObjectItemCaseSensitive(c, "old"), o, sizeof(o));
			value_text(cJSON_GetObjectItemCaseSensitive(c, "new"), n, sizeof(n));
		}
		snprintf(buf, len, "%s: %s \xe2\x86\x92 %s",
		    cJSON_IsString(path) ? path->valuestring : a->attribute, o, n);
	}
	cJSON_Delete(arr);
}

void
msg_title(const nt_alert *a, char *buf, size_t len)
{
	char sev[16];
	size_t i;

	for (i = 0; i + 1 < sizeof(sev) && a->severity != NULL && a->severity[i] != '\0'; i++) {
		sev[i] = (char)(a->severity[i] >= 'a' && a->severity[i] <= 'z' ? a->severity[i] - 32
									       : a->severity[i]);
	}
	sev[i] = '\0';
	snprintf(buf, len, "[%s] %s: %s (%s)", sev, a->kind, a->address, a->workspace);
}

cJSON *
msg_alert_json(const nt_msg *m, const nt_alert *a)
{
	cJSON *o = cJSON_CreateObject(), *pr, *ch;
	char link[512];

	if (o == NULL) {
		return NULL;
	}
	msg_link(m, a, link, sizeof(link));
	cJSON_AddNumberToObject(o, "id", (double)a->id);
	cJSON_AddStringToObject(o, "url", link);
	cJSON_AddStringToObject(o, "severity", a->severity);
	cJSON_AddStringToObject(o, "kind", a->kind);
	cJSON_AddStringToObject(o, "status", a->status);
	cJSON_AddStringToObject(o, "workspace", a->workspace);
	cJSON_AddStringToObject(o, "resource_address", a->address);
	cJSON_AddStringToObject(o, "resource_type", a->rtype);
	cJSON_AddStringToObject(o, "attribute", a->attribute);
	ch = a->changes != NULL ? cJSON_Parse(a->changes) : NULL;
	cJSON_AddItemToObject(o, "changes", ch != NULL ? ch : cJSON_CreateArray());
	pr = cJSON_AddObjectToObject(o, "principal");
	if (pr != NULL) {
		cJSON_AddStringToObject(pr, "name", a->principal);
		cJSON_AddStringToObject(pr, "arn", a->principal_arn);
	}
	cJSON_AddStringToObject(o, "event_name", a->event_name);
	cJSON_AddStringToObject(o, "service", a->service);
	cJSON_AddStringToObject(o, "region", a->region);
	cJSON_AddStringToObject(o, "account_id", a->account);
	cJSON_AddStringToObject(o, "event_time", a->event_time);
	cJSON_AddStringToObject(o, "detected_at", a->detected_at);
	cJSON_AddStringToObject(o, "recommended_fix", a->fix);
	cJSON_AddStringToObject(o, "summary", a->summary);
	return o;
}

void
msg_sample_alert(nt_alert *a)
{
	memset(a, 0, sizeof(*a));
	a->id = 0;
	a->severity = (char *)"high";
	a->kind = (char *)"drift";
	a->workspace = (char *)"example/prod";
	a->address = (char *)"aws_security_group.web";
	a->rtype = (char *)"aws_security_group";
	a->attribute = (char *)"ingress";
	a->changes = (char *)"[{\"path\":\"ingress.0.cidr_blocks\",\"old\":[\"10.0.0.0/8\"],"
			     "\"new\":[\"0.0.0.0/0\"],\"sensitive\":false}]";
	a->principal = (char *)"alice";
	a->principal_arn = (char *)"arn:aws:iam::123456789012:user/alice";
	a->event_name = (char *)"AuthorizeSecurityGroupIngress";
	a->service = (char *)"ec2";
	a->event_time = (char *)"2026-01-01T00:00:00Z";
	a->detected_at = (char *)"2026-01-01T00:00:01Z";
	a->fix = (char *)"terraform apply -target=aws_security_group.web";
	a->summary = (char *)"Sample drift sent by tfdrift-notifier test";
	a->status = (char *)"open";
	a->status_by = (char *)"";
	a->region = (char *)"eu-west-1";
	a->account = (char *)"123456789012";
}
