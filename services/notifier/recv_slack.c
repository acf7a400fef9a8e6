/* recv_slack.c — Slack: an incoming webhook (Block Kit), and the Web API
 * with a bot token (chat.postMessage, replies in a resource's thread,
 * chat.update when the alert's status changes).
 *
 * The Web API answers HTTP 200 with {"ok":false,"error":"..."} for most
 * failures; "ratelimited" and Slack's own faults are retried, anything else
 * (a bad token, an unknown channel) is permanent.  HTTP 429 carries
 * Retry-After, which the engine honours. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recv.h"

#define MAX_LISTED 10

static const char *const transient_errors[] = { "ratelimited", "rate_limited", "internal_error",
	"fatal_error", "service_unavailable", "request_timeout" };

static const struct {
	const char *status;
	const char *emoji;
} status_emoji[] = {
	{ "acknowledged", ":eyes:" },
	{ "resolved", ":white_check_mark:" },
	{ "ignored", ":no_entry_sign:" },
	{ "open", ":rotating_light:" },
};

static const char *
emoji_of(const char *status)
{
	for (size_t i = 0; i < sizeof(status_emoji) / sizeof(status_emoji[0]); i++) {
		if (status != NULL && strcmp(status, status_emoji[i].status) == 0) {
			return status_emoji[i].emoji;
		}
	}
	return "";
}

static void
add_field(cJSON *fields, const char *label, const char *value)
{
	char buf[600];
	cJSON *f = cJSON_CreateObject();

	snprintf(buf, sizeof(buf), "*%s*\n%s", label,
	    value != NULL && *value != '\0' ? value : "-");
	cJSON_AddStringToObject(f, "type", "mrkdwn");
	cJSON_AddStringToObject(f, "text", buf);
	cJSON_AddItemToArray(fields, f);
}

static cJSON *
section_text(const char *text)
{
	cJSON *b = cJSON_CreateObject(), *t;

	cJSON_AddStringToObject(b, "type", "section");
	t = cJSON_AddObjectToObject(b, "text");
	cJSON_AddStringToObject(t, "type", "mrkdwn");
	cJSON_AddStringToObject(t, "text", text);
	return b;
}

/* Block Kit blocks for m: the first alert in full, the others listed. */
static cJSON *
blocks_for(const nt_msg *m)
{
	const nt_alert *a = &m->alerts[0];
	cJSON *blocks = cJSON_CreateArray(), *b, *fields;
	char title[400], change[400], link[512], who[300], buf[2048];

	msg_title(a, title, sizeof(title));
	msg_change_text(a, change, sizeof(change));
	msg_link(m, a, link, sizeof(link));
	if (m->is_status) {
		snprintf(buf, sizeof(buf), "%s *%s* by %s%s%s\n<%s|%s>", emoji_of(m->st.to),
		    m->st.to, m->st.by != NULL && *m->st.by != '\0' ? m->st.by : "someone",
		    m->st.note != NULL && *m->st.note != '\0' ? ": " : "",
		    m->st.note != NULL ? m->st.note : "", link, title);
		cJSON_AddItemToArray(blocks, section_text(buf));
	} else if (m->n > 1) {
		snprintf(buf, sizeof(buf), "*%zu drifts* on <%s|%s> (%s)", m->n, link, a->address,
		    a->workspace);
		cJSON_AddItemToArray(blocks, section_text(buf));
	} else {
		snprintf(buf, sizeof(buf), "*<%s|%s>*", link, title);
		cJSON_AddItemToArray(blocks, section_text(buf));
	}
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "type", "section");
	fields = cJSON_AddArrayToObject(b, "fields");
	add_field(fields, "Resource", a->address);
	add_field(fields, "Change", change);
	snprintf(who, sizeof(who), "%s",
	    a->principal != NULL && *a->principal != '\0' ? a->principal : a->principal_arn);
	add_field(fields, "Who", who);
	add_field(fields, "When",
	    a->event_time != NULL && *a->event_time != '\0' ? a->event_time : a->detected_at);
	add_field(fields, "Workspace", a->workspace);
	add_field(fields, "Severity", a->severity);
	cJSON_AddItemToArray(blocks, b);
	for (size_t i = 1; i < m->n && i < MAX_LISTED; i++) {
		char t2[400], c2[400], l2[512];
		msg_title(&m->alerts[i], t2, sizeof(t2));
		msg_change_text(&m->alerts[i], c2, sizeof(c2));
		msg_link(m, &m->alerts[i], l2, sizeof(l2));
		snprintf(buf, sizeof(buf), "<%s|%s> %s", l2, t2, c2);
		cJSON_AddItemToArray(blocks, section_text(buf));
	}
	if (m->n > MAX_LISTED) {
		snprintf(buf, sizeof(buf), "... and %zu more", m->n - MAX_LISTED);
		cJSON_AddItemToArray(blocks, section_text(buf));
	}
	if (a->fix != NULL && *a->fix != '\0') {
		snprintf(buf, sizeof(buf), "*Recommended fix*\n```%s```", a->fix);
		cJSON_AddItemToArray(blocks, section_text(buf));
	}
	return blocks;
}

/* {"text": fallback, "attachments": [{"color", "blocks"}]} plus extra. */
static cJSON *
message_for(const nt_msg *m)
{
	cJSON *root = cJSON_CreateObject(), *atts, *att;
	char title[400], text[600];

	msg_title(&m->alerts[0], title, sizeof(title));
	if (m->is_status) {
		snprintf(text, sizeof(text), "%s %s by %s: %s", emoji_of(m->st.to), m->st.to,
		    m->st.by, title);
	} else if (m->n > 1) {
		snprintf(text, sizeof(text), "%s%zu drifts: %s", m->is_repeat ? "Still open: " : "",
		    m->n, title);
	} else {
		snprintf(text, sizeof(text), "%s%s", m->is_repeat ? "Still open: " : "", title);
	}
	cJSON_AddStringToObject(root, "text", text);
	atts = cJSON_AddArrayToObject(root, "attachments");
	att = cJSON_CreateObject();
	cJSON_AddStringToObject(att, "color",
	    m->is_status && m->st.to != NULL && strcmp(m->st.to, "open") != 0
		? "#2e7d32"
		: msg_colour(m->alerts[0].severity));
	cJSON_AddItemToObject(att, "blocks", blocks_for(m));
	cJSON_AddItemToArray(atts, att);
	return root;
}

static void
post_json(nt_http *h, const char *url, const char *auth, cJSON *root, const char *ca,
    nt_result *res, char **answer)
{
	char *body = cJSON_PrintUnformatted(root);
	const char *headers[] = { "Content-Type: application/json; charset=utf-8", auth, NULL };

	if (body == NULL) {
		recv_json_failed(res, "out of memory");
		return;
	}
	http_post(h, url, headers, body, strlen(body), ca, res, answer);
	free(body);
}

static void
slack_webhook_send(const nt_msg *m, nt_http *h, nt_result *res)
{
	cJSON *root;

	if (m->is_status) {
		res->outcome = NT_SKIP;
		return;
	}
	if ((root = message_for(m)) == NULL) {
		recv_json_failed(res, "out of memory");
		return;
	}
	post_json(h, m->rcv->url, NULL, root, NULL, res, NULL);
	cJSON_Delete(root);
}

/* Reads {"ok":..,"error":..,"channel":..,"ts":..} into res. */
static void
read_api_answer(const char *answer, nt_result *res)
{
	cJSON *j = answer != NULL ? cJSON_Parse(answer) : NULL;
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(j, "ok");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
	const cJSON *ch = cJSON_GetObjectItemCaseSensitive(j, "channel");
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(j, "ts");

	if (res->outcome != NT_SENT) {
		goto out;
	}
	if (j == NULL) {
		recv_json_failed(res, "Slack answered with something that is not JSON");
		goto out;
	}
	if (!cJSON_IsTrue(ok)) {
		const char *err = cJSON_IsString(e) ? e->valuestring : "unknown_error";
		res->outcome = NT_PERMANENT;
		for (size_t i = 0; i < sizeof(transient_errors) / sizeof(transient_errors[0]);
		     i++) {
			if (strcmp(err, transient_errors[i]) == 0) {
				res->outcome = NT_RETRY;
			}
		}
		snprintf(res->error, sizeof(res->error), "Slack: %s", err);
		goto out;
	}
	if (cJSON_IsString(ch) && cJSON_IsString(ts)) {
		snprintf(res->message_id, sizeof(res->message_id), "%s/%s", ch->valuestring,
		    ts->valuestring);
	}
out:
	cJSON_Delete(j);
}

static void
slack_api_send(const nt_msg *m, nt_http *h, nt_result *res)
{
	cJSON *root = NULL;
	char url[600], auth[600], chan[64] = "", *answer = NULL;
	const char *ts = NULL;
	const char *target = m->is_status ? m->prev_message_id : m->thread_id;

	if (m->is_status && (target == NULL || strchr(target, '/') == NULL)) {
		res->outcome = NT_SKIP;
		return;
	}
	if ((root = message_for(m)) == NULL) {
		recv_json_failed(res, "out of memory");
		return;
	}
	if (target != NULL && strchr(target, '/') != NULL) {
		size_t cl = (size_t)(strchr(target, '/') - target);
		snprintf(chan, sizeof(chan), "%.*s",
		    (int)(cl < sizeof(chan) ? cl : sizeof(chan) - 1), target);
		ts = target + cl + 1;
	}
	cJSON_AddStringToObject(root, "channel", chan[0] != '\0' ? chan : m->rcv->channel);
	if (m->is_status) {
		cJSON_AddStringToObject(root, "ts", ts);
	} else if (ts != NULL) {
		cJSON_AddStringToObject(root, "thread_ts", ts);
	}
	snprintf(url, sizeof(url), "%s/%s", m->rcv->url,
	    m->is_status ? "chat.update" : "chat.postMessage");
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", m->rcv->secret);
	post_json(h, url, auth, root, m->rcv->ca_file, res, &answer);
	explicit_bzero(auth, sizeof(auth));
	read_api_answer(answer, res);
	if (m->is_status && res->outcome == NT_SENT) {
		snprintf(res->message_id, sizeof(res->message_id), "%s", m->prev_message_id);
	}
	free(answer);
	cJSON_Delete(root);
}

const recv_ops recv_slack_webhook_ops = {
	.type = RT_SLACK_WEBHOOK,
	.name = "slack_webhook",
	.on_status = false,
	.send = slack_webhook_send,
};

const recv_ops recv_slack_api_ops = {
	.type = RT_SLACK_API,
	.name = "slack_api",
	.on_status = true,
	.threads = true,
	.send = slack_api_send,
};
