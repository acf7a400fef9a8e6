/* recv.h — receivers: an alert (or a group, or a status change) to a wire
 * format and over HTTP or SMTP.
 *
 * A receiver is a table of functions (like an NNG transport), one per
 * rt_type.  send never retries by itself: it reports the outcome (msg.h) and
 * the delivery engine decides when to try again.  Receivers hold no state:
 * rate limits, threads and retries live in the delivery engine and in
 * PostgreSQL.
 *
 * Threads: send runs on a delivery thread, with that thread's nt_http. */
#ifndef TFDRIFT_NOTIFIER_RECV_H
#define TFDRIFT_NOTIFIER_RECV_H

#include <stdbool.h>

#include "http.h"
#include "msg.h"
#include "routing.h"

typedef struct recv_ops {
	rt_type type;
	const char *name; /* "webhook", "slack_api", ... */
	/* Takes status changes (edits, resolves, or forwards them). */
	bool on_status;
	/* Replies in per-resource threads (the engine sets m->thread_id). */
	bool threads;
	void (*send)(const nt_msg *m, nt_http *h, nt_result *res);
} recv_ops;

/* The table for t; never NULL for a type routing.h knows. */
const recv_ops *recv_for(rt_type t);

extern const recv_ops recv_webhook_ops;
extern const recv_ops recv_slack_webhook_ops;
extern const recv_ops recv_slack_api_ops;
extern const recv_ops recv_pagerduty_ops;
extern const recv_ops recv_email_ops;
extern const recv_ops recv_teams_ops;

/* Standard Webhooks: "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>" where
 * key is the base64 after "whsec_".  TD_EINVAL for a secret that does not
 * decode. */
int recv_webhook_sign(const char *secret, const char *id, long long timestamp, const char *body,
    size_t len, char *out, size_t outlen);

/* Sets res from a JSON body: 0 with res->outcome NT_SENT, else an error in res. */
void recv_json_failed(nt_result *res, const char *what);

#endif
