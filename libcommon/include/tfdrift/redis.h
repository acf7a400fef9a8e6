/* redis.h — connecting to Redis the one way every program does (TCP or a
 * Unix socket, a timeout on connect and on every command, AUTH when a
 * password is set, SELECT when the database is not 0), and a small pool of
 * such connections for a process that serves many short requests (the
 * gateway).
 *
 * Threads: td_redis_connect has no state.  A pool may be used from any
 * number of threads; a connection taken from it belongs to the taker until
 * it is given back. */
#ifndef TFDRIFT_REDIS_H
#define TFDRIFT_REDIS_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#include "tfdrift/error.h"

typedef struct td_redis_opts {
	const char *host;     /* a name or address, or a socket path starting with '/' */
	int port;             /* ignored for a socket */
	const char *password; /* NULL or "" for none */
	int db;               /* SELECT db when not 0 */
	int timeout_ms;       /* connect and command timeout; <= 0 means 2000 */
} td_redis_opts;

/* Connects as o says.  *out is owned by the caller (redisFree).  Failure is
 * TD_EDEPEND with "redis HOST:PORT: why" in err (TD_ENOMEM when hiredis
 * could not allocate). */
int td_redis_connect(const td_redis_opts *o, redisContext **out, td_error *err);

/* A reply of c to a command, or NULL with err set ("redis: why") when the
 * command failed or Redis answered an error (the reply is freed then).
 * Owned by the caller (freeReplyObject).  After NULL, c->err tells whether
 * the connection itself broke. */
redisReply *td_redis_command(redisContext *c, td_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef struct td_redis_pool td_redis_pool;

/* A pool for o (copied) that keeps up to max_idle idle connections. */
int td_redis_pool_new(td_redis_pool **out, const td_redis_opts *o, size_t max_idle, td_error *err);
/* Closes the idle connections.  Every taken one must have been given back. */
void td_redis_pool_free(td_redis_pool *p);

/* An idle connection (one idle for a while is checked with PING first) or a
 * new one.  Give it back with td_redis_pool_put. */
int td_redis_pool_take(td_redis_pool *p, redisContext **out, td_error *err);
/* Gives c back: kept for the next taker unless it broke (c->err), a command
 * on it failed half way (broken true) or the pool is full, then closed. */
void td_redis_pool_put(td_redis_pool *p, redisContext *c, bool broken);

#endif
