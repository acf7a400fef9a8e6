/* live.c — see live.h. */
#include "live.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/sha.h>
#include <wslay/wslay.h>

#include "gap.h"
#include "livefilter.h"
#include "tfdrift/alert_json.h"
#include "tfdrift/clock.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define CLOSE_SLOW 1008
#define CLOSE_GOING_AWAY 1001
/* A dropped WebSocket gets this long to take its close frame. */
#define CLOSE_GRACE_MS 2000
/* Messages handed to wslay at once (the rest wait in our queue). */
#define WSLAY_INFLIGHT 4

/* A message body shared by every client it is queued for. */
typedef struct msg {
	atomic_int refs;
	size_t len;
	char data[];
} msg;

typedef struct qnode {
	struct qnode *next;
	msg *m;
} qnode;

typedef struct client client;
struct client {
	client *next;
	gw_live *l;
	bool ws;
	char who[64];
	gw_filter f;
	qnode *head, *tail;
	size_t queued;
	bool dead; /* dropped: close (ws) or end (sse) */
	uint16_t close_code;
	int64_t dead_at_ms;
	/* WebSocket */
	int fd;
	struct MHD_UpgradeResponseHandle *urh;
	wslay_event_context_ptr ctx;
	char *pre; /* bytes MHD read past the handshake */
	size_t prelen, preoff;
	int64_t last_pong_ms;
	uint8_t hdr[16]; /* a frame header wslay handed over, not yet on the socket */
	size_t hdrlen;
	int pings_unanswered;
	bool close_queued;
	/* SSE */
	struct MHD_Connection *conn;
	size_t off; /* into head's message */
	bool suspended;
	bool ended;
};

struct gw_live {
	gw_live_opts o;
	pthread_mutex_t mu;
	client *clients;
	size_t nclients;
	int wake; /* eventfd */
	pthread_t thread;
	bool started;
	bool stopping;
	bool draining;
	int64_t next_ping_ms;
	td_counter *sent, *dropped;
	td_gauge *connected;
	gw_gap gap; /* committed ids seen (mu) */
	td_counter *catchups;
};

/* ---- messages -------------------------------------------------------------------------- */

/* A new message holding text (refs 1).  NULL when out of memory. */
static msg *
msg_new(const char *text, size_t len)
{
	msg *m = malloc(sizeof(*m) + len + 1);
	if (m == NULL) {
		return NULL;
	}
	atomic_init(&m->refs, 1);
	m->len = len;
	memcpy(m->data, text, len);
	m->data[len] = '\0';
	return m;
}

/* A new message holding root printed as JSON (refs 1); root is consumed
 * (deleted) either way.  NULL when out of memory. */
static msg *
msg_from_json(cJSON *root)
{
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	msg *m = text != NULL ? msg_new(text, strlen(text)) : NULL;
	free(text);
	return m;
}

static void
msg_unref(msg *m)
{
	if (m != NULL && atomic_fetch_sub(&m->refs, 1) == 1) {
		free(m);
	}
}

static void
q_clear(client *c)
{
	while (c->head != NULL) {
		qnode *n = c->head;
		c->head = n->next;
		msg_unref(n->m);
		free(n);
	}
	c->tail = NULL;
	c->queued = 0;
	c->off = 0;
}

static void
wake(gw_live *l)
{
	uint64_t one = 1;
	ssize_t n = write(l->wake, &one, sizeof(one));
	(void)n; /* a full counter already wakes the thread */
}

/* Marks c dropped with code; the queue is let go. */
static void
drop(client *c, uint16_t code, const char *why)
{
	if (c->dead) {
		return;
	}
	c->dead = true;
	c->close_code = code;
	c->dead_at_ms = td_clock_mono_ms();
	q_clear(c);
	if (code == CLOSE_SLOW) {
		td_counter_inc(c->l->dropped);
		TD_WARN("live client dropped", TD_KV_STR("why", why), TD_KV_STR("caller", c->who),
		    TD_KV_BOOL("websocket", c->ws));
	}
	if (!c->ws && c->suspended) {
		c->suspended = false;
		MHD_resume_connection(c->conn);
	}
}

/* Queues m for c (a new reference).  Called with mu held. */
static void
enqueue(client *c, msg *m)
{
	if (c->dead || c->ended) {
		return;
	}
	if (c->queued >= c->l->o.queue_max) {
		drop(c, CLOSE_SLOW, "queue full: the client does not keep up");
		return;
	}
	qnode *n = malloc(sizeof(*n));
	if (n == NULL) {
		drop(c, CLOSE_SLOW, "out of memory");
		return;
	}
	atomic_fetch_add(&m->refs, 1);
	n->m = m;
	n->next = NULL;
	if (c->tail != NULL) {
		c->tail->next = n;
	} else {
		c->head = n;
	}
	c->tail = n;
	c->queued++;
	if (!c->ws && c->suspended) {
		c->suspended = false;
		MHD_resume_connection(c->conn);
	}
}

/* ---- filters ------------------------------------------------------------------------------ */

/* {"type":"hello","filter":{...}} for c (mu held). */
static void
send_hello(client *c)
{
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "type", "hello");
	cJSON_AddItemToObject(root, "filter", gw_filter_json(&c->f));
	msg *m = msg_from_json(root);
	if (m != NULL) {
		enqueue(c, m);
		msg_unref(m);
	}
}

/* ---- publishing --------------------------------------------------------------------------- */

/* {"type":"catchup","after_id":N,"reason":...} to every client (mu held):
 * alerts above N may not have reached this feed (gap.h). */
static void
send_catchup(gw_live *l, uint64_t after, const char *reason)
{
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "type", "catchup");
	cJSON_AddNumberToObject(root, "after_id", (double)after);
	cJSON_AddStringToObject(root, "reason", reason);
	msg *m = msg_from_json(root);
	if (m == NULL) {
		return;
	}
	for (client *c = l->clients; c != NULL; c = c->next) {
		enqueue(c, m);
	}
	msg_unref(m);
	td_counter_inc(l->catchups);
}

void
gw_live_publish_batch(gw_live *l, const Tfdrift__V1__AlertBatch *b)
{
	for (size_t i = 0; i < b->n_alerts; i++) {
		const Tfdrift__V1__DriftAlert *a = b->alerts[i];
		uint64_t after = 0;
		cJSON *root = cJSON_CreateObject();
		cJSON_AddStringToObject(root, "type", "alert");
		cJSON_AddItemToObject(root, "alert", td_alert_json_item(a));
		msg *m = msg_from_json(root);
		if (m == NULL) {
			TD_WARN("live feed: out of memory; an alert was not pushed");
			continue;
		}
		int k = (int)a->kind - 1;
		pthread_mutex_lock(&l->mu);
		if (gw_gap_observe(&l->gap, (uint64_t)a->id, &after)) {
			/* before the alert that revealed the gap */
			send_catchup(l, after, "gap in committed alert ids");
		}
		for (client *c = l->clients; c != NULL; c = c->next) {
			if (gw_filter_matches(&c->f, (int)a->severity, k, a->workspace)) {
				enqueue(c, m);
			}
		}
		pthread_mutex_unlock(&l->mu);
		msg_unref(m);
	}
	wake(l);
}

void
gw_live_committed(gw_live *l, uint64_t newest)
{
	uint64_t after = 0;
	pthread_mutex_lock(&l->mu);
	bool gap = gw_gap_committed(&l->gap, newest, &after);
	if (gap) {
		send_catchup(l, after, "committed alerts were not pushed");
	}
	pthread_mutex_unlock(&l->mu);
	if (gap) {
		TD_INFO("live feed: committed alerts were not pushed; clients told to catch up",
		    TD_KV_UINT("after_id", after), TD_KV_UINT("committed", newest));
		wake(l);
	}
}

void
gw_live_relinked(gw_live *l)
{
	pthread_mutex_lock(&l->mu);
	uint64_t after = gw_gap_relinked(&l->gap);
	send_catchup(l, after, "link to persistence re-established");
	pthread_mutex_unlock(&l->mu);
	TD_INFO("live feed: link to persistence re-established; clients told to catch up",
	    TD_KV_UINT("after_id", after));
	wake(l);
}

void
gw_live_publish_state(gw_live *l, const Tfdrift__V1__StateNotice *n)
{
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "type", "state");
	cJSON *s = cJSON_AddObjectToObject(root, "state");
	cJSON_AddNumberToObject(s, "generation", (double)n->generation);
	td_json_add_time(s, "switched_at", n->switched_at_ns);
	cJSON_AddNumberToObject(s, "resource_count", n->resource_count);
	cJSON_AddStringToObject(s, "reason", n->reason);
	msg *m = msg_from_json(root);
	if (m == NULL) {
		return;
	}
	pthread_mutex_lock(&l->mu);
	for (client *c = l->clients; c != NULL; c = c->next) {
		if (c->f.workspace[0] == '\0' && c->f.min_rank == 0 && c->f.kinds == 0) {
			enqueue(c, m); /* state changes go to unfiltered clients */
		}
	}
	pthread_mutex_unlock(&l->mu);
	msg_unref(m);
	wake(l);
}

/* ---- WebSocket (wslay on the upgraded socket; the live thread) ---------------------------- */

static ssize_t
ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
	client *c = user;
	(void)flags;
	if (c->preoff < c->prelen) {
		size_t n = c->prelen - c->preoff < len ? c->prelen - c->preoff : len;
		memcpy(buf, c->pre + c->preoff, n);
		c->preoff += n;
		return (ssize_t)n;
	}
	ssize_t n;
	while ((n = recv(c->fd, buf, len, MSG_DONTWAIT)) < 0 && errno == EINTR) {
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return n;
}

static ssize_t
ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
	client *c = user;
	/* wslay hands over a frame's header and its payload in two calls, the
	 * header flagged MORE.  The header is kept here (and reported written)
	 * and goes out with the payload in one sendmsg: one system call and
	 * one segment per message and client instead of two.  Until all of it
	 * is on the socket, no payload byte is reported written, so wslay
	 * calls again (on POLLOUT) and the order of bytes is kept. */
	if ((flags & WSLAY_MSG_MORE) && c->hdrlen == 0 && len <= sizeof(c->hdr)) {
		memcpy(c->hdr, data, len);
		c->hdrlen = len;
		return (ssize_t)len;
	}
	struct iovec iov[2] = {
		{ .iov_base = c->hdr, .iov_len = c->hdrlen },
		{ .iov_base = (void *)data, .iov_len = len },
	};
	struct msghdr mh = { .msg_iov = c->hdrlen > 0 ? iov : iov + 1,
		.msg_iovlen = c->hdrlen > 0 ? 2 : 1 };
	ssize_t n;
	while ((n = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL)) < 0 && errno == EINTR) {
	}
	if (n < 0) {
		wslay_event_set_error(ctx,
		    errno == EAGAIN || errno == EWOULDBLOCK ? WSLAY_ERR_WOULDBLOCK
							    : WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	if ((size_t)n < c->hdrlen) {
		/* part of the kept header went out: keep the rest for the retry */
		memmove(c->hdr, c->hdr + n, c->hdrlen - (size_t)n);
		c->hdrlen -= (size_t)n;
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	n -= (ssize_t)c->hdrlen;
	c->hdrlen = 0;
	if (n == 0 && len > 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	return n;
}

/* A client's message: a filter change. */
static void
ws_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
	client *c = user;
	(void)ctx;
	if (arg->opcode == WSLAY_PONG) {
		c->pings_unanswered = 0;
		c->last_pong_ms = td_clock_mono_ms();
		return;
	}
	if (arg->opcode != WSLAY_TEXT_FRAME) {
		return;
	}
	char why[160] = "";
	gw_filter f;
	(void)gw_filter_from_client_msg((const char *)arg->msg, arg->msg_length, &f, why,
	    sizeof(why));
	if (why[0] != '\0') {
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "type", "error");
		cJSON_AddStringToObject(e, "message", why);
		msg *m = msg_from_json(e);
		if (m != NULL) {
			enqueue(c, m);
			msg_unref(m);
		}
		return;
	}
	c->f = f;
	send_hello(c);
}

static const struct wslay_event_callbacks ws_callbacks = {
	.recv_callback = ws_recv,
	.send_callback = ws_send,
	.on_msg_recv_callback = ws_on_msg,
};

static void
client_free(client *c)
{
	q_clear(c);
	if (c->ctx != NULL) {
		wslay_event_context_free(c->ctx);
	}
	if (c->urh != NULL) {
		MHD_upgrade_action(c->urh, MHD_UPGRADE_ACTION_CLOSE);
	}
	free(c->pre);
	free(c);
}

/* Hands queued messages to wslay, a few at a time (mu held). */
static void
ws_refill(client *c)
{
	while (!c->dead && c->head != NULL &&
	    wslay_event_get_queued_msg_count(c->ctx) < WSLAY_INFLIGHT) {
		qnode *n = c->head;
		struct wslay_event_msg wm = { .opcode = WSLAY_TEXT_FRAME,
			.msg = (const uint8_t *)n->m->data,
			.msg_length = n->m->len };
		if (wslay_event_queue_msg(c->ctx, &wm) != 0) {
			drop(c, CLOSE_SLOW, "wslay queue refused");
			return;
		}
		td_counter_inc(c->l->sent);
		c->head = n->next;
		if (c->head == NULL) {
			c->tail = NULL;
		}
		c->queued--;
		msg_unref(n->m);
		free(n);
	}
	bool closing = c->dead || (c->l->draining && c->head == NULL);
	if (closing && !c->close_queued) {
		uint16_t code = c->dead ? c->close_code : CLOSE_GOING_AWAY;
		const char *reason = code == CLOSE_SLOW ? "too slow" : "server stopping";
		wslay_event_queue_close(c->ctx, code, (const uint8_t *)reason, strlen(reason));
		c->close_queued = true;
		if (!c->dead) {
			c->dead = true;
			c->dead_at_ms = td_clock_mono_ms();
		}
	}
}

/* True when c is finished and should be removed (mu held). */
static bool
ws_service(client *c, short revents, int64_t now)
{
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		if (wslay_event_recv(c->ctx) != 0) {
			return true;
		}
	}
	ws_refill(c);
	if (wslay_event_want_write(c->ctx) && wslay_event_send(c->ctx) != 0) {
		return true;
	}
	if (c->dead && now - c->dead_at_ms > CLOSE_GRACE_MS) {
		return true;
	}
	if (c->close_queued && !wslay_event_want_write(c->ctx) &&
	    wslay_event_get_close_sent(c->ctx)) {
		/* our close is out: half-close so the client sees the end */
		shutdown(c->fd, SHUT_WR);
		return wslay_event_get_close_received(c->ctx) || c->preoff >= c->prelen;
	}
	return !wslay_event_want_read(c->ctx) && !wslay_event_want_write(c->ctx);
}

static void
ping_all(gw_live *l, int64_t now)
{
	static const char ping_text[] = ": ping\n\n";
	msg *ping = msg_new(ping_text, sizeof(ping_text) - 1);
	for (client *c = l->clients; c != NULL; c = c->next) {
		if (c->ws && !c->dead) {
			if (c->pings_unanswered >= 2) {
				TD_INFO("live client did not answer pings; closing",
				    TD_KV_STR("caller", c->who));
				c->dead = true;
				c->close_queued = true; /* it cannot read one anyway */
				c->dead_at_ms = now - CLOSE_GRACE_MS - 1;
				continue;
			}
			struct wslay_event_msg wm = { .opcode = WSLAY_PING,
				.msg = NULL,
				.msg_length = 0 };
			wslay_event_queue_msg(c->ctx, &wm);
			c->pings_unanswered++;
		} else if (!c->ws && ping != NULL) {
			enqueue(c, ping);
		}
	}
	msg_unref(ping);
}

static void *
live_main(void *arg)
{
	gw_live *l = arg;
	struct pollfd *pfd = NULL;
	client **who = NULL;
	size_t cap = 0;
	pthread_mutex_lock(&l->mu);
	while (!l->stopping) {
		size_t n = 1;
		if (pfd == NULL || who == NULL || cap < l->nclients + 1) {
			cap = l->nclients + 64;
			free(pfd);
			free(who);
			pfd = calloc(cap, sizeof(*pfd));
			who = calloc(cap, sizeof(*who));
			if (pfd == NULL || who == NULL) {
				TD_ERROR("live feed: out of memory");
				break;
			}
		}
		pfd[0] = (struct pollfd){ .fd = l->wake, .events = POLLIN };
		for (client *c = l->clients; c != NULL; c = c->next) {
			if (!c->ws) {
				continue;
			}
			ws_refill(c);
			pfd[n] = (struct pollfd){ .fd = c->fd,
				.events = (short)(POLLIN |
				    (wslay_event_want_write(c->ctx) ? POLLOUT : 0)) };
			who[n++] = c;
		}
		int64_t now = td_clock_mono_ms();
		int timeout = (int)(l->next_ping_ms - now);
		if (timeout < 0) {
			timeout = 0;
		}
		if (timeout > 250) {
			timeout = 250; /* dropped clients' grace is checked this often */
		}
		pthread_mutex_unlock(&l->mu);
		int pr = poll(pfd, n, timeout);
		pthread_mutex_lock(&l->mu);
		if (pr < 0 && errno != EINTR) {
			TD_ERROR("live feed: poll failed", TD_KV_STR("error", strerror(errno)));
			break;
		}
		if (pfd[0].revents & POLLIN) {
			uint64_t v;
			ssize_t r = read(l->wake, &v, sizeof(v));
			(void)r;
		}
		now = td_clock_mono_ms();
		bool ping = now >= l->next_ping_ms;
		if (ping) {
			ping_all(l, now);
			l->next_ping_ms = now + l->o.ping_ms;
		}
		/* Clients registered since the poll have no slot; they are served next round. */
		for (size_t i = 1; i < n; i++) {
			client *c = who[i];
			bool done = ws_service(c, pfd[i].revents, now);
			if (!done) {
				continue;
			}
			for (client **pp = &l->clients; *pp != NULL; pp = &(*pp)->next) {
				if (*pp == c) {
					*pp = c->next;
					break;
				}
			}
			l->nclients--;
			td_gauge_set(l->connected, (double)l->nclients);
			client_free(c);
		}
		/* SSE clients are removed by MHD's completion; nothing here. */
	}
	pthread_mutex_unlock(&l->mu);
	free(pfd);
	free(who);
	return NULL;
}

/* Adds c to the list (mu held). */
static void
add_client(gw_live *l, client *c)
{
	c->next = l->clients;
	l->clients = c;
	l->nclients++;
	td_gauge_set(l->connected, (double)l->nclients);
}

typedef struct upgrade_ctx {
	gw_live *l;
	client *c;
} upgrade_ctx;

/* MHD hands over the socket (an MHD thread). */
static void
on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
    size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	client *c = cls;
	gw_live *l = c->l;
	(void)conn;
	(void)con_cls;
	c->fd = sock;
	c->urh = urh;
	if (extra_in_size > 0 && (c->pre = malloc(extra_in_size)) != NULL) {
		memcpy(c->pre, extra_in, extra_in_size);
		c->prelen = extra_in_size;
	}
	int fl = fcntl(sock, F_GETFL);
	if (fl >= 0) {
		(void)fcntl(sock, F_SETFL, fl | O_NONBLOCK);
	}
	if (l->o.sndbuf > 0) {
		(void)setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &l->o.sndbuf, sizeof(l->o.sndbuf));
	}
	/* Each message is one small frame written when it is committed: no
	 * Nagle delay behind the previous frame's ACK (MHD may have left the
	 * socket corked or with Nagle on from the handshake). */
	int one = 1, zero = 0;
	(void)setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(sock, IPPROTO_TCP, TCP_CORK, &zero, sizeof(zero));
	if (wslay_event_context_server_init(&c->ctx, &ws_callbacks, c) != 0) {
		client_free(c);
		return;
	}
	wslay_event_config_set_max_recv_msg_length(c->ctx, GW_CLIENT_MSG_MAX);
	c->last_pong_ms = td_clock_mono_ms();
	pthread_mutex_lock(&l->mu);
	if (l->draining || l->stopping) {
		pthread_mutex_unlock(&l->mu);
		client_free(c);
		return;
	}
	add_client(l, c);
	send_hello(c);
	/* once unlocked, the live thread may drop and free c at any time */
	char who[sizeof(c->who)];
	memcpy(who, c->who, sizeof(who));
	pthread_mutex_unlock(&l->mu);
	wake(l);
	TD_INFO("websocket client connected", TD_KV_STR("caller", who));
}

/* ---- SSE (MHD's threads) -------------------------------------------------------------------- */

static ssize_t
sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	client *c = cls;
	gw_live *l = c->l;
	(void)pos;
	size_t out = 0;
	pthread_mutex_lock(&l->mu);
	while (c->head != NULL && out < max) {
		msg *m = c->head->m;
		/* "data: " + body + "\n\n" for JSON; pings are sent as they are */
		bool comment = m->data[0] == ':';
		size_t pre = comment ? 0 : 6, total = pre + m->len + (comment ? 0 : 2);
		if (c->off == 0 && total > max - out && out > 0) {
			break;
		}
		while (c->off < total && out < max) {
			size_t o = c->off;
			if (o < pre) {
				buf[out++] = "data: "[o];
			} else if (o < pre + m->len) {
				size_t k = pre + m->len - o < max - out ? pre + m->len - o
									: max - out;
				memcpy(buf + out, m->data + (o - pre), k);
				out += k;
				c->off += k - 1;
			} else {
				buf[out++] = '\n';
			}
			c->off++;
		}
		if (c->off == total) {
			qnode *n = c->head;
			c->head = n->next;
			if (c->head == NULL) {
				c->tail = NULL;
			}
			c->queued--;
			c->off = 0;
			if (!comment) {
				td_counter_inc(l->sent);
			}
			msg_unref(n->m);
			free(n);
		}
	}
	ssize_t rv = (ssize_t)out;
	if (out == 0) {
		if (c->dead || l->stopping || (l->draining && c->head == NULL)) {
			c->ended = true;
			rv = MHD_CONTENT_READER_END_OF_STREAM;
		} else {
			/* Nothing to send: MHD stops polling until enqueue resumes us. */
			c->suspended = true;
			MHD_suspend_connection(c->conn);
		}
	}
	pthread_mutex_unlock(&l->mu);
	return rv;
}

static void
sse_free(void *cls)
{
	client *c = cls;
	gw_live *l = c->l;
	pthread_mutex_lock(&l->mu);
	for (client **pp = &l->clients; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			l->nclients--;
			break;
		}
	}
	td_gauge_set(l->connected, (double)l->nclients);
	pthread_mutex_unlock(&l->mu);
	q_clear(c);
	free(c);
}

/* ---- requests ------------------------------------------------------------------------------- */

bool
gw_live_handles(const char *path)
{
	return strcmp(path, "/api/v1/ws") == 0 || strcmp(path, "/api/v1/stream") == 0;
}

static bool
header_has_token(const char *v, const char *token)
{
	size_t tl = strlen(token);
	for (const char *p = v; p != NULL && *p != '\0';) {
		while (*p == ' ' || *p == ',') {
			p++;
		}
		size_t len = strcspn(p, ",");
		size_t e = len;
		while (e > 0 && p[e - 1] == ' ') {
			e--;
		}
		if (e == tl && strncasecmp(p, token, tl) == 0) {
			return true;
		}
		p += len;
	}
	return false;
}

bool
gw_live_serve(gw_live *l, gw_api *api, struct MHD_Connection *conn, const gw_request *req,
    gw_response *resp, enum MHD_Result *ret)
{
	bool ws = strcmp(req->path, "/api/v1/ws") == 0;
	resp->route = ws ? "/api/v1/ws" : "/api/v1/stream";
	if (strcmp(req->method, "GET") != 0) {
		snprintf(resp->allow, sizeof(resp->allow), "GET");
		gw_api_error(resp, 405, "method_not_allowed", "use GET", NULL);
		return false;
	}
	gw_identity who;
	if (gw_api_auth_feed(api, req, &who, resp) != 0) {
		return false;
	}
	gw_filter f = { 0 };
	char why[160];
	for (size_t i = 0; i < req->nargs; i++) {
		const char *k = req->args[i].key, *v = req->args[i].value;
		if (v == NULL || v[0] == '\0') {
			snprintf(why, sizeof(why), "%.64s: empty value", k);
			gw_api_error(resp, 400, "invalid_parameter", why, k);
			return false;
		}
		if (gw_filter_set(&f, k, v, why, sizeof(why)) != 0) {
			char param[64];
			gw_query_error_param(why, param, sizeof(param));
			gw_api_error(resp, 400, "invalid_parameter", why, param);
			return false;
		}
	}
	pthread_mutex_lock(&l->mu);
	bool closing = l->draining || l->stopping;
	pthread_mutex_unlock(&l->mu);
	if (closing) {
		gw_api_error(resp, 503, "unavailable", "the server is stopping", NULL);
		return false;
	}
	client *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		gw_api_error(resp, 500, "internal", "out of memory", NULL);
		return false;
	}
	c->l = l;
	c->ws = ws;
	c->f = f;
	c->fd = -1;
	snprintf(c->who, sizeof(c->who), "%s", who.name);
	struct MHD_Response *r = NULL;
	if (ws) {
		const char *up = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Upgrade");
		const char *cn = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Connection");
		const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    "Sec-WebSocket-Key");
		const char *ver = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    "Sec-WebSocket-Version");
		if (up == NULL || strcasecmp(up, "websocket") != 0 || cn == NULL ||
		    !header_has_token(cn, "upgrade") || key == NULL || strlen(key) > 64) {
			free(c);
			gw_api_error(resp, 400, "bad_request",
			    "a WebSocket handshake (Upgrade: websocket) is expected here", NULL);
			return false;
		}
		if (ver == NULL || strcmp(ver, "13") != 0) {
			free(c);
			gw_api_error(resp, 426, "upgrade_required",
			    "Sec-WebSocket-Version must be 13", NULL);
			return false;
		}
		char buf[128];
		unsigned char d[SHA_DIGEST_LENGTH];
		snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);
		SHA1((const unsigned char *)buf, strlen(buf), d);
		char accept[64];
		static const char b64[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t o = 0;
		for (size_t i = 0; i < sizeof(d); i += 3) {
			uint32_t v = (uint32_t)d[i] << 16;
			size_t have = sizeof(d) - i < 3 ? sizeof(d) - i : 3;
			if (have > 1) {
				v |= (uint32_t)d[i + 1] << 8;
			}
			if (have > 2) {
				v |= d[i + 2];
			}
			accept[o++] = b64[(v >> 18) & 63];
			accept[o++] = b64[(v >> 12) & 63];
			accept[o++] = (char)(have > 1 ? b64[(v >> 6) & 63] : '=');
			accept[o++] = (char)(have > 2 ? b64[v & 63] : '=');
		}
		accept[o] = '\0';
		r = MHD_create_response_for_upgrade(on_upgrade, c);
		if (r == NULL) {
			free(c);
			gw_api_error(resp, 500, "internal", "cannot create the upgrade", NULL);
			return false;
		}
		MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "websocket");
		MHD_add_response_header(r, "Sec-WebSocket-Accept", accept);
		*ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
		MHD_destroy_response(r);
		return true;
	}
	c->conn = conn;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sse_read, c, sse_free);
	if (r == NULL) {
		free(c);
		gw_api_error(resp, 500, "internal", "out of memory", NULL);
		return false;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	pthread_mutex_lock(&l->mu);
	add_client(l, c);
	send_hello(c);
	c->suspended = false;
	pthread_mutex_unlock(&l->mu);
	*ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return true;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

/* *out owned by caller. */
int
gw_live_new(gw_live **out, const gw_live_opts *o, td_error *err)
{
	*out = NULL;
	gw_live *l = calloc(1, sizeof(*l));
	if (l == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	l->o = *o;
	if (l->o.ping_ms <= 0) {
		l->o.ping_ms = 30000;
	}
	pthread_mutex_init(&l->mu, NULL);
	l->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->wake < 0) {
		int e = errno;
		pthread_mutex_destroy(&l->mu);
		free(l);
		return td_error_set(err, TD_EIO, "live feed: eventfd: %s", strerror(e));
	}
	l->sent = td_counter_get("tfdrift_gateway_live_messages_total",
	    "Messages handed to live-feed clients (WebSocket and SSE).", NULL);
	l->catchups = td_counter_get("tfdrift_gateway_live_catchups_total",
	    "Catch-up notices sent to live clients (a gap in committed alert ids, committed "
	    "alerts not pushed, or the link to persistence re-established).",
	    NULL);
	l->dropped = td_counter_get("tfdrift_gateway_live_dropped_total",
	    "Live-feed clients disconnected because they did not keep up.", NULL);
	l->connected = td_gauge_get("tfdrift_gateway_live_clients",
	    "Live-feed clients connected now.", NULL);
	l->next_ping_ms = td_clock_mono_ms() + l->o.ping_ms;
	if (pthread_create(&l->thread, NULL, live_main, l) != 0) {
		close(l->wake);
		pthread_mutex_destroy(&l->mu);
		free(l);
		return td_error_set(err, TD_EIO, "live feed: cannot start its thread");
	}
	l->started = true;
	*out = l;
	return 0;
}

size_t
gw_live_clients(gw_live *l)
{
	pthread_mutex_lock(&l->mu);
	size_t n = l->nclients;
	pthread_mutex_unlock(&l->mu);
	return n;
}

/* Stops the thread and cuts the WebSockets left. */
static void
stop_thread(gw_live *l)
{
	pthread_mutex_lock(&l->mu);
	bool was = l->stopping;
	l->stopping = true;
	pthread_mutex_unlock(&l->mu);
	wake(l);
	if (!was && l->started) {
		pthread_join(l->thread, NULL);
	}
	pthread_mutex_lock(&l->mu);
	client **pp = &l->clients;
	while (*pp != NULL) {
		client *c = *pp;
		if (c->ws) {
			*pp = c->next;
			l->nclients--;
			client_free(c);
		} else {
			/* a stream ends at its next read */
			if (c->suspended) {
				c->suspended = false;
				MHD_resume_connection(c->conn);
			}
			pp = &c->next;
		}
	}
	pthread_mutex_unlock(&l->mu);
}

void
gw_live_drain(gw_live *l, int64_t grace_ms)
{
	if (l == NULL) {
		return;
	}
	pthread_mutex_lock(&l->mu);
	l->draining = true;
	for (client *c = l->clients; c != NULL; c = c->next) {
		if (!c->ws && c->suspended) {
			c->suspended = false;
			MHD_resume_connection(c->conn);
		}
	}
	pthread_mutex_unlock(&l->mu);
	wake(l);
	int64_t until = td_clock_mono_ms() + grace_ms;
	while (td_clock_mono_ms() < until && gw_live_clients(l) > 0) {
		usleep(20000);
		wake(l);
	}
	TD_INFO("live feed drained", TD_KV_UINT("left", gw_live_clients(l)));
	stop_thread(l);
}

void
gw_live_free(gw_live *l)
{
	if (l == NULL) {
		return;
	}
	stop_thread(l);
	/* MHD has freed its streams by now (the server stops first). */
	while (l->clients != NULL) {
		client *c = l->clients;
		l->clients = c->next;
		client_free(c);
	}
	close(l->wake);
	pthread_mutex_destroy(&l->mu);
	free(l);
}
