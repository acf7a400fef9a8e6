/* recv.c — the receiver table and the log receiver. */
#include "recv.h"

#include <stdio.h>

#include "tfdrift/log.h"

static void
log_send(const nt_msg *m, nt_http *h, nt_result *res)
{
	(void)h;
	for (size_t i = 0; i < m->n; i++) {
		const nt_alert *a = &m->alerts[i];
		if (m->is_status) {
			TD_INFO("drift status changed", TD_KV_INT("id", a->id),
			    TD_KV_STR("status", m->st.to), TD_KV_STR("by", m->st.by));
		} else {
			TD_INFO("drift alert", TD_KV_INT("id", a->id),
			    TD_KV_STR("severity", a->severity), TD_KV_STR("kind", a->kind),
			    TD_KV_STR("workspace", a->workspace), TD_KV_STR("address", a->address),
			    TD_KV_STR("event", a->event_name), TD_KV_STR("principal", a->principal),
			    TD_KV_STR("summary", a->summary));
		}
	}
	res->outcome = NT_SENT;
	snprintf(res->answer, sizeof(res->answer), "logged");
}

static const recv_ops recv_log_ops = {
	.type = RT_LOG,
	.name = "log",
	.on_status = false,
	.send = log_send,
};

static const recv_ops *const table[] = { &recv_webhook_ops, &recv_slack_webhook_ops,
	&recv_slack_api_ops, &recv_pagerduty_ops, &recv_email_ops, &recv_teams_ops, &recv_log_ops };

const recv_ops *
recv_for(rt_type t)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (table[i]->type == t) {
			return table[i];
		}
	}
	return &recv_log_ops;
}

void
recv_json_failed(nt_result *res, const char *what)
{
	res->outcome = NT_RETRY;
	snprintf(res->error, sizeof(res->error), "%s", what);
}
