/* live.h — the live feed: GET /api/v1/ws (WebSocket, RFC 6455, framed by
 * wslay on a socket libmicrohttpd hands over after the upgrade) and GET
 * /api/v1/stream (Server-Sent Events on a suspended MHD response).
 *
 * Every committed alert and state change is pushed as one JSON message:
 *   {"type":"hello","filter":{...}}                   first, once registered
 *   {"type":"alert","alert":{<a /drifts list item>}}   in commit order
 *   {"type":"state","state":{"generation":N,...}}
 *   {"type":"catchup","after_id":N,"reason":"..."}    alerts above N may have
 *                                                      been missed (gap.h)
 * A client filters with the query parameters min_severity, workspace and
 * kinds (comma list), and over the WebSocket by sending
 *   {"type":"filter","min_severity":"high","workspace":"prod/app","kinds":["drift"]}
 * which is answered with a hello carrying the new filter.
 *
 * Each client has its own queue of messages (shared, reference-counted
 * bodies).  A client whose queue passes queue_max is dropped: a WebSocket
 * gets close code 1008 after what was already being written, then its
 * socket is closed; an SSE stream ends.  Nobody else waits for it.  The
 * server pings every ping_ms (an SSE comment line for streams); a WebSocket
 * that has not answered two pings is cut (it could not read a close frame).
 *
 * Threads: publishing runs on the feed's SUB threads; one live thread runs
 * every WebSocket (poll over their sockets) and the pings; SSE bodies are
 * read by MHD's threads.  One mutex guards the client list and queues. */
#ifndef TFDRIFT_GW_LIVE_H
#define TFDRIFT_GW_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "api.h"
#include "tfdrift/error.h"
#include "tfdrift/v1/alert.pb-c.h"
#include "tfdrift/v1/state.pb-c.h"

typedef struct gw_live gw_live;

typedef struct gw_live_opts {
	size_t queue_max; /* messages queued per client before it is dropped */
	int ping_ms;      /* keepalive period */
	int sndbuf;       /* SO_SNDBUF of a WebSocket; 0 keeps the kernel's */
} gw_live_opts;

/* Starts the live thread.  *out owned by caller. */
int gw_live_new(gw_live **out, const gw_live_opts *opts, td_error *err);

/* Called by the feed (its SUB threads).  The batch/notice is borrowed. */
void gw_live_publish_batch(gw_live *l, const Tfdrift__V1__AlertBatch *b);
void gw_live_publish_state(gw_live *l, const Tfdrift__V1__StateNotice *n);

/* Called by the gap watch (gapwatch.h), any thread.  newest: the newest id
 * in the alerts table now; when one committed a check ago was never pushed,
 * every client gets a catch-up notice (gap.h).  gw_live_relinked: the link
 * to persistence came back after it was lost; every client gets one. */
void gw_live_committed(gw_live *l, uint64_t newest);
void gw_live_relinked(gw_live *l);

/* True for the feed's paths. */
bool gw_live_handles(const char *path);

/* Takes a request for a feed path on an MHD thread.  Returns true when it
 * answered (upgrade or stream queued; *ret is the MHD result); false with
 * resp filled (an error) otherwise. */
bool gw_live_serve(gw_live *l, gw_api *api, struct MHD_Connection *conn, const gw_request *req,
    gw_response *resp, enum MHD_Result *ret);

/* Connected clients now. */
size_t gw_live_clients(gw_live *l);

/* SIGTERM: no new clients; each gets what is queued, then a close (1001)
 * or the end of its stream; after grace_ms the WebSockets left are cut and
 * the live thread stops.  Call before the HTTP server stops. */
void gw_live_drain(gw_live *l, int64_t grace_ms);

/* Frees l; call after the HTTP server stopped (it ends the streams).  NULL
 * is ignored. */
void gw_live_free(gw_live *l);

#endif
