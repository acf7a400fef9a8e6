/* fuzz_ws_frames.c — bytes a WebSocket client sends to the gateway's live
 * feed, after the handshake: wslay's server-side framing (masking,
 * fragmentation, control frames, close codes, UTF-8 of text frames, the
 * message size cap the gateway sets) and each text message through the
 * gateway's filter parser (services/api-gateway/livefilter.c), as
 * live.c's ws_on_msg does.  The first input byte sets how many bytes each
 * read returns (1..256), so frames split at every point are tried. */
#include <sys/types.h>

#include <wslay/wslay.h>

#include "../../services/api-gateway/livefilter.h"
#include "fuzz.h"
#include "tfdrift/error.h"
#include "tfdrift/log.h"

typedef struct feed {
	const uint8_t *p;
	size_t left, chunk;
	size_t msgs;
} feed;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	td_log_set_level(TD_LOG_OFF);
	return 0;
}

static ssize_t
on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
	feed *f = user;
	(void)flags;
	if (f->left == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	size_t n = len < f->chunk ? len : f->chunk;
	n = n < f->left ? n : f->left;
	memcpy(buf, f->p, n);
	f->p += n;
	f->left -= n;
	return (ssize_t)n;
}

static ssize_t
on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
	(void)ctx;
	(void)data;
	(void)flags;
	(void)user;
	return (ssize_t)len; /* the client reads everything */
}

static void
on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
	feed *f = user;
	(void)ctx;
	f->msgs++;
	if (arg->opcode != WSLAY_TEXT_FRAME) {
		return;
	}
	gw_filter flt;
	char why[160] = "";
	if (gw_filter_from_client_msg((const char *)arg->msg, arg->msg_length, &flt, why,
		sizeof(why)) != 0) {
		if (why[0] == '\0') {
			abort(); /* the client is always told why */
		}
		return;
	}
	cJSON *j = gw_filter_json(&flt);
	char *text = cJSON_PrintUnformatted(j);
	free(text);
	cJSON_Delete(j);
	(void)gw_filter_matches(&flt, 3, 0, "prod/app");
}

static const struct wslay_event_callbacks callbacks = {
	.recv_callback = on_recv,
	.send_callback = on_send,
	.on_msg_recv_callback = on_msg,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1) {
		return 0;
	}
	feed f = { .p = data + 1, .left = size - 1, .chunk = (size_t)data[0] + 1 };
	wslay_event_context_ptr ctx = NULL;
	if (wslay_event_context_server_init(&ctx, &callbacks, &f) != 0) {
		return 0;
	}
	wslay_event_config_set_max_recv_msg_length(ctx, GW_CLIENT_MSG_MAX);
	/* read until the input is used up or wslay gives up on the client */
	while (f.left > 0 && wslay_event_want_read(ctx)) {
		size_t before = f.left;
		if (wslay_event_recv(ctx) != 0 || f.left == before) {
			break;
		}
		if (wslay_event_want_write(ctx) && wslay_event_send(ctx) != 0) {
			break;
		}
	}
	if (wslay_event_want_write(ctx)) {
		(void)wslay_event_send(ctx);
	}
	wslay_event_context_free(ctx);
	return 0;
}
