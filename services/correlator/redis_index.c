/* redis_index.c — resource index lookups in Redis (contract in redis_index.h). */
#include "redis_index.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "lcache.h"
#include "tfdrift/clock.h"
#include "tfdrift/log.h"
#include "tfdrift/redis.h"
#include "tfdrift/redis_keys.h"

/* At most one "no resource index" warning per minute. */
#define NOGEN_WARN_MS 60000

struct ridx_conn {
	ridx *r;
	redisContext *ctx; /* NULL until (re)connected */
	bool busy;
};

struct ridx {
	char *host, *password, *prefix;
	int port, db, timeout_ms;

	pthread_mutex_t mu; /* pool and generation cache */
	pthread_cond_t freed;
	ridx_conn *conns;
	int nconns;

	char gen[32]; /* "" = none cached */
	int64_t gen_at_ms;
	int64_t nogen_warned_ms;

	atomic_bool healthy;
	atomic_bool loaded;
	atomic_bool down_logged;

	lcache *cache; /* identifier/attribute answers of the current generation */

	pthread_t probe;
	bool probe_started;
	bool stopping;        /* under mu */
	pthread_cond_t wake;  /* probe's sleep */
	ridx_conn probe_conn; /* the probe's own connection */
};

/* ---- connections -------------------------------------------------------------- */

static void
set_health(ridx *r, bool ok, const char *why)
{
	bool was = atomic_exchange(&r->healthy, ok);

	if (ok && !was) {
		TD_INFO("redis reachable", TD_KV_STR("host", r->host), TD_KV_INT("port", r->port));
		atomic_store(&r->down_logged, false);
	} else if (!ok && !atomic_exchange(&r->down_logged, true)) {
		TD_WARN("redis unreachable; events are handed back until it returns",
		    TD_KV_STR("host", r->host), TD_KV_INT("port", r->port),
		    TD_KV_STR("error", why));
	}
}

static void
conn_reset(ridx_conn *c)
{
	if (c->ctx != NULL)
		redisFree(c->ctx);
	c->ctx = NULL;
}

/* A reply of the expected shape, else NULL with the connection reset and the
 * index marked unhealthy.  The reply is owned by the caller (freeReplyObject). */
static redisReply *
checked(ridx_conn *c, redisReply *rep)
{
	const char *why = NULL;

	if (rep == NULL)
		why = c->ctx->errstr[0] ? c->ctx->errstr : "connection lost";
	else if (rep->type == REDIS_REPLY_ERROR)
		why = rep->str;
	if (why == NULL) {
		set_health(c->r, true, NULL);
		return rep;
	}
	set_health(c->r, false, why);
	if (rep != NULL)
		freeReplyObject(rep);
	conn_reset(c);
	return NULL;
}

static int
conn_ensure(ridx_conn *c)
{
	ridx *r = c->r;
	td_redis_opts o = { .host = r->host,
		.port = r->port,
		.password = r->password,
		.db = r->db,
		.timeout_ms = r->timeout_ms };
	td_error err;

	if (c->ctx != NULL)
		return 0;
	td_error_clear(&err);
	if (td_redis_connect(&o, &c->ctx, &err) != 0) {
		set_health(r, false, err.msg);
		return TD_EDEPEND;
	}
	return 0;
}

/* ---- probe ---------------------------------------------------------------------- */

static void *
probe_main(void *arg)
{
	ridx *r = arg;

	pthread_mutex_lock(&r->mu);
	while (!r->stopping) {
		struct timespec until;
		redisReply *rep;

		pthread_mutex_unlock(&r->mu);
		if (conn_ensure(&r->probe_conn) == 0) {
			rep = checked(&r->probe_conn, redisCommand(r->probe_conn.ctx, "PING"));
			if (rep != NULL)
				freeReplyObject(rep);
		}
		pthread_mutex_lock(&r->mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += RIDX_PROBE_MS / 1000;
		until.tv_nsec += (RIDX_PROBE_MS % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (!r->stopping)
			pthread_cond_timedwait(&r->wake, &r->mu, &until);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* ---- pool --------------------------------------------------------------------- */

int
ridx_open(ridx **out, const ridx_opts *o, td_error *err)
{
	ridx *r;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return td_error_set(err, TD_ENOMEM, "out of memory");
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->freed, NULL);
	pthread_cond_init(&r->wake, NULL);
	atomic_init(&r->healthy, false);
	atomic_init(&r->loaded, false);
	atomic_init(&r->down_logged, false);
	r->port = o->port;
	r->db = o->db;
	r->timeout_ms = o->timeout_ms;
	r->nconns = o->conns > 0 ? o->conns : 1;
	r->host = strdup(o->host);
	r->password = strdup(o->password ? o->password : "");
	r->prefix = strdup(o->prefix ? o->prefix : "");
	r->conns = calloc((size_t)r->nconns, sizeof(*r->conns));
	r->cache = lcache_new(RIDX_CACHE_ENTRIES);
	if (r->cache == NULL || r->host == NULL || r->password == NULL || r->prefix == NULL ||
	    r->conns == NULL) {
		ridx_close(r);
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	for (int i = 0; i < r->nconns; i++)
		r->conns[i].r = r;
	r->probe_conn.r = r;
	if (pthread_create(&r->probe, NULL, probe_main, r) != 0) {
		ridx_close(r);
		return td_error_set(err, TD_EIO, "cannot start the redis probe thread");
	}
	r->probe_started = true;
	*out = r;
	return 0;
}

void
ridx_close(ridx *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->stopping = true;
	pthread_cond_broadcast(&r->wake);
	pthread_mutex_unlock(&r->mu);
	if (r->probe_started)
		pthread_join(r->probe, NULL);
	conn_reset(&r->probe_conn);
	for (int i = 0; r->conns != NULL && i < r->nconns; i++)
		conn_reset(&r->conns[i]);
	free(r->conns);
	lcache_free(r->cache);
	free(r->host);
	free(r->password);
	free(r->prefix);
	pthread_cond_destroy(&r->wake);
	pthread_cond_destroy(&r->freed);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

ridx_conn *
ridx_acquire(ridx *r)
{
	ridx_conn *c = NULL;

	pthread_mutex_lock(&r->mu);
	while (c == NULL) {
		for (int i = 0; i < r->nconns && c == NULL; i++)
			if (!r->conns[i].busy)
				c = &r->conns[i];
		if (c == NULL)
			pthread_cond_wait(&r->freed, &r->mu);
	}
	c->busy = true;
	pthread_mutex_unlock(&r->mu);
	return c;
}

void
ridx_release(ridx *r, ridx_conn *c)
{
	pthread_mutex_lock(&r->mu);
	c->busy = false;
	pthread_cond_signal(&r->freed);
	pthread_mutex_unlock(&r->mu);
}

void
ridx_invalidate(ridx *r)
{
	pthread_mutex_lock(&r->mu);
	r->gen[0] = '\0';
	pthread_mutex_unlock(&r->mu);
	lcache_clear(r->cache);
}

bool
ridx_healthy(const ridx *r)
{
	return atomic_load(&r->healthy);
}

bool
ridx_loaded(const ridx *r)
{
	return atomic_load(&r->loaded);
}

/* ---- lookups ------------------------------------------------------------------ */

/* The current generation into gen (cached).  TD_EAGAIN when there is none. */
static int
current_gen(ridx_conn *c, char *gen, size_t len)
{
	ridx *r = c->r;
	int64_t now = td_clock_mono_ms();
	redisReply *rep;
	int rv;

	pthread_mutex_lock(&r->mu);
	if (r->gen[0] != '\0' && now - r->gen_at_ms < RIDX_GEN_TTL_MS) {
		snprintf(gen, len, "%s", r->gen);
		pthread_mutex_unlock(&r->mu);
		return 0;
	}
	pthread_mutex_unlock(&r->mu);

	if ((rv = conn_ensure(c)) != 0)
		return rv;
	char *gkey = td_rkey_gen(r->prefix);
	if (gkey == NULL)
		return TD_ENOMEM;
	rep = checked(c, redisCommand(c->ctx, "GET %s", gkey));
	free(gkey);
	if (rep == NULL)
		return TD_EDEPEND;
	if (rep->type != REDIS_REPLY_STRING || rep->len == 0 || rep->len >= len) {
		bool warn;

		freeReplyObject(rep);
		atomic_store(&r->loaded, false);
		pthread_mutex_lock(&r->mu);
		warn = r->nogen_warned_ms == 0 || now - r->nogen_warned_ms >= NOGEN_WARN_MS;
		if (warn)
			r->nogen_warned_ms = now;
		pthread_mutex_unlock(&r->mu);
		if (warn)
			TD_WARN(
			    "no resource index in redis yet (has state-loader run?); events are handed back",
			    TD_KV_STR("key_prefix", r->prefix));
		return TD_EAGAIN;
	}
	snprintf(gen, len, "%.*s", (int)rep->len, rep->str);
	freeReplyObject(rep);
	atomic_store(&r->loaded, true);
	pthread_mutex_lock(&r->mu);
	if (strcmp(r->gen, gen) != 0)
		lcache_clear(r->cache); /* a new generation without (or before) its notice */
	snprintf(r->gen, sizeof(r->gen), "%s", gen);
	r->gen_at_ms = now;
	pthread_mutex_unlock(&r->mu);
	return 0;
}

/* "workspace\taddress\ttype" -> m.  False when the value is malformed. */
static bool
parse_entry(const char *s, size_t len, rule_match *m)
{
	const char *t1 = memchr(s, '\t', len);
	const char *t2 = t1 ? memchr(t1 + 1, '\t', len - (size_t)(t1 + 1 - s)) : NULL;

	if (t1 == NULL || t2 == NULL)
		return false;
	snprintf(m->workspace, sizeof(m->workspace), "%.*s", (int)(t1 - s), s);
	snprintf(m->address, sizeof(m->address), "%.*s", (int)(t2 - t1 - 1), t1 + 1);
	snprintf(m->type, sizeof(m->type), "%.*s", (int)(len - (size_t)(t2 + 1 - s)), t2 + 1);
	return m->address[0] != '\0';
}

int
ridx_lookup(void *arg, const rule_scope *scope, const char *identifier, rule_match *m)
{
	ridx_conn *c = arg;
	char gen[32], *key = NULL, ckey[700], *hit, stack[1024], *buf = stack;
	const char *argv[2 + TD_RKEY_IDX_LOOKUPS], *fields[TD_RKEY_IDX_LOOKUPS];
	size_t lens[2 + TD_RKEY_IDX_LOOKUPS], nf = 0, i, need;
	const redisReply *found = NULL;
	redisReply *rep = NULL;
	int rv, n;

	if ((rv = current_gen(c, gen, sizeof(gen))) != 0)
		return rv;
	n = snprintf(ckey, sizeof(ckey), "i\x1f%s\x1f%s\x1f%s", scope->account, scope->region,
	    identifier);
	if (n < 0 || (size_t)n >= sizeof(ckey))
		ckey[0] = '\0'; /* too long to cache without clashing */
	if (ckey[0] != '\0' && lcache_get(c->r->cache, ckey, &hit)) {
		rv = hit[0] != '\0' && parse_entry(hit, strlen(hit), m) ? 0 : TD_ENOTFOUND;
		free(hit);
		return rv;
	}
	if ((rv = conn_ensure(c)) != 0)
		return rv;
	/* the scoped fields and the unscoped one in one HMGET: one round trip */
	key = td_rkey_idx(c->r->prefix, strtoull(gen, NULL, 10));
	need = td_rkey_idx_lookup_size(scope->account, scope->region, identifier);
	if (need > sizeof(stack))
		buf = malloc(need);
	if (key == NULL || buf == NULL ||
	    (nf = td_rkey_idx_lookup_fields(scope->account, scope->region, identifier, buf, need,
		 fields)) == 0) {
		rv = TD_ENOMEM;
		goto out;
	}
	argv[0] = "HMGET";
	argv[1] = key;
	for (i = 0; i < 2 + nf; i++) {
		if (i >= 2)
			argv[i] = fields[i - 2];
		lens[i] = strlen(argv[i]);
	}
	rep = checked(c, redisCommandArgv(c->ctx, (int)(2 + nf), argv, lens));
	if (rep == NULL) {
		rv = TD_EDEPEND;
		goto out;
	}
	rv = TD_ENOTFOUND;
	for (i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements && found == NULL; i++)
		if (rep->element[i]->type == REDIS_REPLY_STRING)
			found = rep->element[i];
	if (found != NULL && parse_entry(found->str, found->len, m)) {
		rv = 0;
		if (ckey[0] != '\0')
			lcache_put(c->r->cache, ckey, found->str);
	} else if (found != NULL) {
		TD_WARN("malformed resource index entry", TD_KV_STR("key", key),
		    TD_KV_STR("identifier", identifier));
	} else if (rep->type == REDIS_REPLY_ARRAY && ckey[0] != '\0') {
		lcache_put(c->r->cache, ckey, "");
	}
out:
	if (rep != NULL)
		freeReplyObject(rep);
	if (buf != stack)
		free(buf);
	free(key);
	return rv;
}

int
ridx_attrs(void *arg, const char *workspace, const char *address, char **json)
{
	ridx_conn *c = arg;
	char gen[32], ckey[1024], *key = NULL, *hit;
	redisReply *rep;
	int rv;

	*json = NULL;
	if ((rv = current_gen(c, gen, sizeof(gen))) != 0)
		return rv;
	snprintf(ckey, sizeof(ckey), "a\x1f%s\x1f%s", workspace, address);
	if (lcache_get(c->r->cache, ckey, &hit)) {
		if (hit[0] == '\0') {
			free(hit);
			return TD_ENOTFOUND;
		}
		*json = hit;
		return 0;
	}
	if ((rv = conn_ensure(c)) != 0)
		return rv;
	if ((key = td_rkey_res(c->r->prefix, strtoull(gen, NULL, 10), workspace, address)) == NULL)
		return TD_ENOMEM;
	rep = checked(c, redisCommand(c->ctx, "GET %s", key));
	free(key);
	if (rep == NULL)
		return TD_EDEPEND;
	if (rep->type == REDIS_REPLY_STRING) {
		lcache_put(c->r->cache, ckey, rep->str);
		*json = strndup(rep->str, rep->len);
		rv = *json != NULL ? 0 : TD_ENOMEM;
	} else {
		lcache_put(c->r->cache, ckey, "");
		rv = TD_ENOTFOUND;
	}
	freeReplyObject(rep);
	return rv;
}

/* ---- eventID dedupe ------------------------------------------------------------ */

/* The commands of the dedupe keys (<prefix>ev:<eventID>). */
typedef enum ev_cmd {
	EV_GET,     /* GET key */
	EV_CLAIM,   /* SET key owner NX PX ttl */
	EV_RELEASE, /* DEL key if it holds owner (a script: compare and delete at once) */
	EV_DONE,    /* SET key done EX ttl */
} ev_cmd;

static const char release_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
    "return 0";

static int
append(ridx_conn *c, ev_cmd cmd, const char *key, const char *owner, int ttl)
{
	switch (cmd) {
	case EV_GET: return redisAppendCommand(c->ctx, "GET %s", key);
	case EV_CLAIM: return redisAppendCommand(c->ctx, "SET %s %s NX PX %d", key, owner, ttl);
	case EV_RELEASE:
		return redisAppendCommand(c->ctx, "EVAL %s 1 %s %s", release_script, key, owner);
	case EV_DONE: return redisAppendCommand(c->ctx, "SET %s done EX %d", key, ttl);
	}
	return REDIS_ERR;
}

/* Sends cmd for each event id where want is NULL or want[i], pipelined, and
 * reads the replies into rep[i] (owned by the caller; NULL where not sent). */
static int
pipeline(ridx_conn *c, ev_cmd cmd, char *const *event_ids, size_t n, const bool *want,
    const char *owner, int ttl, redisReply **rep)
{
	size_t sent = 0;

	for (size_t i = 0; i < n; i++) {
		char *key;
		int ok;

		rep[i] = NULL;
		if (want != NULL && !want[i])
			continue;
		if ((key = td_rkey_event(c->r->prefix, event_ids[i])) == NULL)
			return TD_ENOMEM;
		ok = append(c, cmd, key, owner, ttl);
		free(key);
		if (ok != REDIS_OK)
			return TD_ENOMEM;
		sent++;
	}
	for (size_t i = 0; i < n && sent > 0; i++) {
		void *r = NULL;

		if (want != NULL && !want[i])
			continue;
		if (redisGetReply(c->ctx, &r) != REDIS_OK) {
			checked(c, NULL);
			return TD_EDEPEND;
		}
		sent--;
		if ((rep[i] = checked(c, r)) == NULL)
			return TD_EDEPEND; /* connection reset: the remaining replies are gone too */
	}
	return 0;
}

static void
free_replies(redisReply **rep, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (rep[i] != NULL)
			freeReplyObject(rep[i]);
}

static bool
is_string(const redisReply *r, const char *s)
{
	return r != NULL && r->type == REDIS_REPLY_STRING && strcmp(r->str, s) == 0;
}

int
ridx_dedupe_check(ridx_conn *c, char *const *event_ids, size_t n, bool *done)
{
	redisReply **rep;
	int rv;

	for (size_t i = 0; i < n; i++)
		done[i] = false;
	if (n == 0)
		return 0;
	if ((rv = conn_ensure(c)) != 0)
		return rv;
	if ((rep = calloc(n, sizeof(*rep))) == NULL)
		return TD_ENOMEM;
	rv = pipeline(c, EV_GET, event_ids, n, NULL, NULL, 0, rep);
	for (size_t i = 0; rv == 0 && i < n; i++)
		done[i] = is_string(rep[i], "done");
	free_replies(rep, n);
	free(rep);
	return rv;
}

int
ridx_dedupe_claim(ridx_conn *c, char *const *event_ids, size_t n, const char *owner, int ttl_ms,
    ridx_claim *claim)
{
	redisReply **rep;
	bool *lost = NULL;
	size_t nlost = 0;
	int rv;

	if (n == 0)
		return 0;
	if ((rv = conn_ensure(c)) != 0)
		return rv;
	rep = calloc(n, sizeof(*rep));
	lost = calloc(n, sizeof(*lost));
	if (rep == NULL || lost == NULL) {
		rv = TD_ENOMEM;
		goto out;
	}
	/* SET NX answers OK (ours now) or nil (someone holds the key) */
	if ((rv = pipeline(c, EV_CLAIM, event_ids, n, NULL, owner, ttl_ms, rep)) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		claim[i] = RIDX_CLAIM_OURS;
		if (rep[i]->type != REDIS_REPLY_STATUS) {
			lost[i] = true;
			nlost++;
		}
	}
	free_replies(rep, n);
	if (nlost == 0)
		goto out;
	/* who holds it: this replica (a resent request), "done" (finished
	 * meanwhile) or another replica; a key gone by now (expired) is taken as
	 * another's too, so the batch comes back later rather than racing */
	if ((rv = pipeline(c, EV_GET, event_ids, n, lost, NULL, 0, rep)) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (!lost[i])
			continue;
		if (is_string(rep[i], owner))
			claim[i] = RIDX_CLAIM_OURS;
		else if (is_string(rep[i], "done"))
			claim[i] = RIDX_CLAIM_DONE;
		else
			claim[i] = RIDX_CLAIM_OTHER;
	}
	free_replies(rep, n);
out:
	free(lost);
	free(rep);
	return rv;
}

/* cmd for every event, the replies only checked. */
static int
pipeline_all(ridx_conn *c, ev_cmd cmd, char *const *event_ids, size_t n, const char *owner, int ttl)
{
	redisReply **rep;
	int rv;

	if (n == 0)
		return 0;
	if ((rv = conn_ensure(c)) != 0)
		return rv;
	if ((rep = calloc(n, sizeof(*rep))) == NULL)
		return TD_ENOMEM;
	rv = pipeline(c, cmd, event_ids, n, NULL, owner, ttl, rep);
	free_replies(rep, n);
	free(rep);
	return rv;
}

int
ridx_dedupe_release(ridx_conn *c, char *const *event_ids, size_t n, const char *owner)
{
	return pipeline_all(c, EV_RELEASE, event_ids, n, owner, 0);
}

int
ridx_dedupe_done(ridx_conn *c, char *const *event_ids, size_t n, int ttl_s)
{
	return pipeline_all(c, EV_DONE, event_ids, n, NULL, ttl_s);
}
