/* recv_webhook.c — the generic webhook, per Standard Webhooks: headers
 * webhook-id (stable across retries), webhook-timestamp, webhook-signature;
 * the JSON body is components.schemas.NotificationWebhook in the gateway's
 * openapi.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/params.h>

#include "recv.h"
#include "tfdrift/error.h"

int
recv_webhook_sign(const char *secret, const char *id, long long timestamp, const char *body,
    size_t len, char *out, size_t outlen)
{
	unsigned char key[512], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char sig[128];
	const char *b64 = strncmp(secret, "whsec_", 6) == 0 ? secret + 6 : secret;
	size_t bl = strlen(b64);
	int kl, pad = 0;
	EVP_MAC *m = NULL;
	EVP_MAC_CTX *ctx = NULL;
	char prefix[256];
	int pl, rv = TD_EINVAL;

	if (bl == 0 || bl % 4 != 0 || bl / 4 * 3 > sizeof(key)) {
		return TD_EINVAL;
	}
	if ((kl = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)bl)) < 0) {
		return TD_EINVAL;
	}
	pad = (b64[bl - 1] == '=') + (bl > 1 && b64[bl - 2] == '=');
	kl -= pad;
	pl = snprintf(prefix, sizeof(prefix), "%s.%lld.", id, timestamp);
	if (pl < 0 || (size_t)pl >= sizeof(prefix)) {
		goto out;
	}
	OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
		OSSL_PARAM_construct_end() };
	size_t ml = 0;
	if ((m = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL || (ctx = EVP_MAC_CTX_new(m)) == NULL ||
	    !EVP_MAC_init(ctx, key, (size_t)kl, params) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)prefix, (size_t)pl) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)body, len) ||
	    !EVP_MAC_final(ctx, mac, &ml, sizeof(mac))) {
		rv = TD_EDEPEND;
		goto out;
	}
	maclen = (unsigned int)ml;
	EVP_EncodeBlock((unsigned char *)sig, mac, (int)maclen);
	snprintf(out, outlen, "v1,%s", sig);
	rv = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	explicit_bzero(key, sizeof(key));
	return rv;
}

static void
webhook_send(const nt_msg *m, nt_http *h, nt_result *res)
{
	cJSON *root = cJSON_CreateObject(), *data, *arr;
	char ts[32], idh[200], tsh[64], sigh[160], sig[128], iso[32];
	char *body = NULL;
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (root == NULL) {
		recv_json_failed(res, "out of memory");
		goto out;
	}
	cJSON_AddStringToObject(root, "type",
	    m->is_status ? "drift.status_changed"
			 : (m->is_repeat ? "drift.reminder" : "drift.detected"));
	cJSON_AddStringToObject(root, "timestamp", iso);
	data = cJSON_AddObjectToObject(root, "data");
	arr = cJSON_AddArrayToObject(data, "alerts");
	for (size_t i = 0; i < m->n; i++) {
		cJSON_AddItemToArray(arr, msg_alert_json(m, &m->alerts[i]));
	}
	if (m->is_status) {
		cJSON *st = cJSON_AddObjectToObject(data, "status");
		cJSON_AddStringToObject(st, "from", m->st.from);
		cJSON_AddStringToObject(st, "to", m->st.to);
		cJSON_AddStringToObject(st, "by", m->st.by);
		cJSON_AddStringToObject(st, "note", m->st.note);
		cJSON_AddStringToObject(st, "at", m->st.at);
	}
	if ((body = cJSON_PrintUnformatted(root)) == NULL) {
		recv_json_failed(res, "out of memory");
		goto out;
	}
	snprintf(ts, sizeof(ts), "%lld", (long long)now);
	if (recv_webhook_sign(m->rcv->secret, m->idem, (long long)now, body, strlen(body), sig,
		sizeof(sig)) != 0) {
		res->outcome = NT_PERMANENT;
		snprintf(res->error, sizeof(res->error), "the signing secret does not decode");
		goto out;
	}
	snprintf(idh, sizeof(idh), "webhook-id: %s", m->idem);
	snprintf(tsh, sizeof(tsh), "webhook-timestamp: %s", ts);
	snprintf(sigh, sizeof(sigh), "webhook-signature: %s", sig);
	const char *headers[] = { "Content-Type: application/json", idh, tsh, sigh, NULL };
	http_post(h, m->rcv->url, headers, body, strlen(body), m->rcv->ca_file, res, NULL);
	if (res->outcome == NT_SENT) {
		snprintf(res->message_id, sizeof(res->message_id), "%s", m->idem);
	}
out:
	free(body);
	cJSON_Delete(root);
}

const recv_ops recv_webhook_ops = {
	.type = RT_WEBHOOK,
	.name = "webhook",
	.on_status = true,
	.send = webhook_send,
};
