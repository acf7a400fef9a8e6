/* recv_teams.c — a Microsoft Teams workflow webhook: one Adaptive Card per
 * message.  Workflows answer 202 Accepted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recv.h"

static void
fact(cJSON *facts, const char *title, const char *value)
{
	cJSON *f = cJSON_CreateObject();

	cJSON_AddStringToObject(f, "title", title);
	cJSON_AddStringToObject(f, "value", value != NULL && *value != '\0' ? value : "-");
	cJSON_AddItemToArray(facts, f);
}

static void
teams_send(const nt_msg *m, nt_http *h, nt_result *res)
{
	const nt_alert *a = &m->alerts[0];
	cJSON *root = cJSON_CreateObject(), *atts, *att, *card, *body, *tb, *fs, *facts, *acts,
	      *act;
	char title[400], change[400], link[512], head[500], *text = NULL;

	if (m->is_status) {
		res->outcome = NT_SKIP;
		cJSON_Delete(root);
		return;
	}
	msg_title(a, title, sizeof(title));
	msg_change_text(a, change, sizeof(change));
	msg_link(m, a, link, sizeof(link));
	if (m->n > 1) {
		snprintf(head, sizeof(head), "%s%zu drifts: %s", m->is_repeat ? "Still open: " : "",
		    m->n, title);
	} else {
		snprintf(head, sizeof(head), "%s%s", m->is_repeat ? "Still open: " : "", title);
	}
	cJSON_AddStringToObject(root, "type", "message");
	atts = cJSON_AddArrayToObject(root, "attachments");
	att = cJSON_CreateObject();
	cJSON_AddItemToArray(atts, att);
	cJSON_AddStringToObject(att, "contentType", "application/vnd.microsoft.card.adaptive");
	card = cJSON_AddObjectToObject(att, "content");
	cJSON_AddStringToObject(card, "$schema",
	    "http://adaptivecards.io/schemas/adaptive-card.json");
	cJSON_AddStringToObject(card, "type", "AdaptiveCard");
	cJSON_AddStringToObject(card, "version", "1.4");
	body = cJSON_AddArrayToObject(card, "body");
	tb = cJSON_CreateObject();
	cJSON_AddStringToObject(tb, "type", "TextBlock");
	cJSON_AddStringToObject(tb, "text", head);
	cJSON_AddStringToObject(tb, "weight", "Bolder");
	cJSON_AddStringToObject(tb, "size", "Medium");
	cJSON_AddStringToObject(tb, "wrap", "true");
	cJSON_AddStringToObject(tb, "color",
	    strcmp(a->severity, "critical") == 0 || strcmp(a->severity, "high") == 0 ? "Attention"
										     : "Warning");
	cJSON_ReplaceItemInObject(tb, "wrap", cJSON_CreateTrue());
	cJSON_AddItemToArray(body, tb);
	fs = cJSON_CreateObject();
	cJSON_AddStringToObject(fs, "type", "FactSet");
	facts = cJSON_AddArrayToObject(fs, "facts");
	fact(facts, "Resource", a->address);
	fact(facts, "Change", change);
	fact(facts, "Who", a->principal);
	fact(facts, "When", a->event_time);
	fact(facts, "Workspace", a->workspace);
	fact(facts, "Severity", a->severity);
	fact(facts, "Recommended fix", a->fix);
	cJSON_AddItemToArray(body, fs);
	acts = cJSON_AddArrayToObject(card, "actions");
	act = cJSON_CreateObject();
	cJSON_AddStringToObject(act, "type", "Action.OpenUrl");
	cJSON_AddStringToObject(act, "title", "Open in tfdrift");
	cJSON_AddStringToObject(act, "url", link);
	cJSON_AddItemToArray(acts, act);
	if ((text = cJSON_PrintUnformatted(root)) == NULL) {
		recv_json_failed(res, "out of memory");
		goto out;
	}
	const char *headers[] = { "Content-Type: application/json", NULL };
	http_post(h, m->rcv->url, headers, text, strlen(text), m->rcv->ca_file, res, NULL);
out:
	free(text);
	cJSON_Delete(root);
}

const recv_ops recv_teams_ops = {
	.type = RT_TEAMS,
	.name = "teams",
	.on_status = false,
	.send = teams_send,
};
