/* redis.c — see redis.h. */
#include "tfdrift/redis.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tfdrift/clock.h"

/* An idle connection older than this is PINGed before it is handed out, so
 * one that Redis (or a restart of it) closed is replaced, not failed on. */
#define CHECK_AFTER_MS 2000

int
td_redis_connect(const td_redis_opts *o, redisContext **out, td_error *err)
{
	int ms = o->timeout_ms > 0 ? o->timeout_ms : 2000;
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	redisContext *c;
	redisReply *r;

	*out = NULL;
	c = o->host[0] == '/' ? redisConnectUnixWithTimeout(o->host, tv)
			      : redisConnectWithTimeout(o->host, o->port, tv);
	if (c == NULL) {
		return td_error_set(err, TD_ENOMEM, "redis: out of memory");
	}
	if (c->err) {
		td_error_set(err, TD_EDEPEND, "redis %s:%d: %s", o->host, o->port, c->errstr);
		redisFree(c);
		return TD_EDEPEND;
	}
	redisSetTimeout(c, tv);
	if (o->password != NULL && o->password[0] != '\0') {
		if ((r = td_redis_command(c, err, "AUTH %s", o->password)) == NULL) {
			redisFree(c);
			return TD_EDEPEND;
		}
		freeReplyObject(r);
	}
	if (o->db != 0) {
		if ((r = td_redis_command(c, err, "SELECT %d", o->db)) == NULL) {
			redisFree(c);
			return TD_EDEPEND;
		}
		freeReplyObject(r);
	}
	*out = c;
	return 0;
}

redisReply *
td_redis_command(redisContext *c, td_error *err, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (r == NULL) {
		td_error_set(err, TD_EDEPEND, "redis: %s",
		    c->errstr[0] != '\0' ? c->errstr : "connection lost");
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		td_error_set(err, TD_EDEPEND, "redis: %.200s", r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* ---- pool ------------------------------------------------------------------- */

typedef struct idle {
	redisContext *c;
	int64_t since_ms; /* td_clock_mono_ms */
} idle;

struct td_redis_pool {
	td_redis_opts o; /* strings below */
	char *host, *password;
	pthread_mutex_t mu;
	idle *idle; /* a stack: the most recently used on top */
	size_t nidle, max_idle;
};

int
td_redis_pool_new(td_redis_pool **out, const td_redis_opts *o, size_t max_idle, td_error *err)
{
	td_redis_pool *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	p->o = *o;
	p->host = strdup(o->host);
	p->password = strdup(o->password != NULL ? o->password : "");
	p->max_idle = max_idle > 0 ? max_idle : 1;
	p->idle = calloc(p->max_idle, sizeof(*p->idle));
	if (p->host == NULL || p->password == NULL || p->idle == NULL) {
		free(p->host);
		free(p->password);
		free(p->idle);
		free(p);
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	p->o.host = p->host;
	p->o.password = p->password;
	pthread_mutex_init(&p->mu, NULL);
	*out = p;
	return 0;
}

void
td_redis_pool_free(td_redis_pool *p)
{
	if (p == NULL) {
		return;
	}
	for (size_t i = 0; i < p->nidle; i++) {
		redisFree(p->idle[i].c);
	}
	pthread_mutex_destroy(&p->mu);
	free(p->idle);
	free(p->host);
	free(p->password);
	free(p);
}

/* Whether a connection idle since since_ms still answers. */
static bool
alive(redisContext *c, int64_t since_ms)
{
	redisReply *r;
	bool ok;

	if (td_clock_mono_ms() - since_ms < CHECK_AFTER_MS) {
		return true;
	}
	r = redisCommand(c, "PING");
	ok = r != NULL && r->type != REDIS_REPLY_ERROR && c->err == 0;
	if (r != NULL) {
		freeReplyObject(r);
	}
	return ok;
}

int
td_redis_pool_take(td_redis_pool *p, redisContext **out, td_error *err)
{
	for (;;) {
		idle it = { 0 };

		pthread_mutex_lock(&p->mu);
		if (p->nidle > 0) {
			it = p->idle[--p->nidle];
		}
		pthread_mutex_unlock(&p->mu);
		if (it.c == NULL) {
			return td_redis_connect(&p->o, out, err);
		}
		if (alive(it.c, it.since_ms)) {
			*out = it.c;
			return 0;
		}
		redisFree(it.c); /* closed while idle: try the next one */
	}
}

void
td_redis_pool_put(td_redis_pool *p, redisContext *c, bool broken)
{
	if (c == NULL) {
		return;
	}
	if (!broken && c->err == 0) {
		pthread_mutex_lock(&p->mu);
		if (p->nidle < p->max_idle) {
			p->idle[p->nidle++] = (idle){ .c = c, .since_ms = td_clock_mono_ms() };
			c = NULL;
		}
		pthread_mutex_unlock(&p->mu);
	}
	if (c != NULL) {
		redisFree(c);
	}
}
