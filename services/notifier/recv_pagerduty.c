/* recv_pagerduty.c — PagerDuty Events API v2: "trigger" with a dedup_key per
 * resource (or per alert), "acknowledge" and "resolve" when the alert's
 * status changes; the same dedup_key every time, so a retry or a second
 * trigger updates the one incident.  PagerDuty answers 202; 400 is
 * permanent, 429 and 5xx are retried. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recv.h"

static const struct {
	const char *ours, *pd;
} severities[] = {
	{ "critical", "critical" },
	{ "high", "error" },
	{ "medium", "warning" },
	{ "low", "info" },
	{ "info", "info" },
};

static const char *
pd_severity(const char *s)
{
	for (size_t i = 0; i < sizeof(severities) / sizeof(severities[0]); i++) {
		if (s != NULL && strcmp(s, severities[i].ours) == 0) {
			return severities[i].pd;
		}
	}
	return "warning";
}

static const char *
action_for(const nt_msg *m)
{
	if (!m->is_status) {
		return "trigger";
	}
	if (strcmp(m->st.to, "resolved") == 0 || strcmp(m->st.to, "ignored") == 0) {
		return "resolve";
	}
	if (strcmp(m->st.to, "acknowledged") == 0) {
		return "acknowledge";
	}
	return "trigger"; /* reopened */
}

static void
pd_send(const nt_msg *m, nt_http *h, nt_result *res)
{
	const nt_alert *a = &m->alerts[0];
	const char *action = action_for(m);
	cJSON *root = cJSON_CreateObject(), *p, *d, *links, *l, *list;
	char title[400], change[400], link[512], *body = NULL;
	const char *dedup = m->is_status && m->prev_message_id != NULL &&
		*m->prev_message_id != '\0'
	    ? m->prev_message_id
	    : m->dedup_key;

	if (root == NULL) {
		recv_json_failed(res, "out of memory");
		return;
	}
	if (m->is_repeat) {
		/* the incident is open until resolved: PagerDuty re-notifies by itself */
		res->outcome = NT_SKIP;
		cJSON_Delete(root);
		return;
	}
	cJSON_AddStringToObject(root, "routing_key", m->rcv->secret);
	cJSON_AddStringToObject(root, "event_action", action);
	cJSON_AddStringToObject(root, "dedup_key", dedup);
	if (strcmp(action, "trigger") == 0) {
		msg_title(a, title, sizeof(title));
		msg_change_text(a, change, sizeof(change));
		msg_link(m, a, link, sizeof(link));
		p = cJSON_AddObjectToObject(root, "payload");
		cJSON_AddStringToObject(p, "summary", title);
		cJSON_AddStringToObject(p, "source", a->workspace);
		cJSON_AddStringToObject(p, "severity", pd_severity(a->severity));
		cJSON_AddStringToObject(p, "component", a->address);
		cJSON_AddStringToObject(p, "group", a->service);
		cJSON_AddStringToObject(p, "class", a->kind);
		d = cJSON_AddObjectToObject(p, "custom_details");
		cJSON_AddStringToObject(d, "change", change);
		cJSON_AddStringToObject(d, "principal", a->principal);
		cJSON_AddStringToObject(d, "event_name", a->event_name);
		cJSON_AddStringToObject(d, "event_time", a->event_time);
		cJSON_AddStringToObject(d, "recommended_fix", a->fix);
		cJSON_AddNumberToObject(d, "alerts", (double)m->n);
		list = cJSON_AddArrayToObject(d, "alert_ids");
		for (size_t i = 0; i < m->n; i++) {
			cJSON_AddItemToArray(list, cJSON_CreateNumber((double)m->alerts[i].id));
		}
		links = cJSON_AddArrayToObject(root, "links");
		l = cJSON_CreateObject();
		cJSON_AddStringToObject(l, "href", link);
		cJSON_AddStringToObject(l, "text", "Open in tfdrift");
		cJSON_AddItemToArray(links, l);
	}
	if ((body = cJSON_PrintUnformatted(root)) == NULL) {
		recv_json_failed(res, "out of memory");
		goto out;
	}
	const char *headers[] = { "Content-Type: application/json", NULL };
	http_post(h, m->rcv->url, headers, body, strlen(body), m->rcv->ca_file, res, NULL);
	if (res->outcome == NT_SENT) {
		snprintf(res->message_id, sizeof(res->message_id), "%s", dedup);
	}
out:
	if (body != NULL) {
		explicit_bzero(body, strlen(body));
	}
	free(body);
	cJSON_Delete(root);
}

const recv_ops recv_pagerduty_ops = {
	.type = RT_PAGERDUTY,
	.name = "pagerduty",
	.on_status = true,
	.send = pd_send,
};
