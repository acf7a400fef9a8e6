/* redis_index.c — resource index lookups in Redis (contract in redis_index.h). */
#include "redis_index.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "lcache.h"
#include "tfdrift/attrs_codec.h"
#include "tfdrift/clock.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"
#include "tfdrift/redis.h"
#include "tfdrift/redis_keys.h"

/* At most one "no resource index" warning per minute. */
#define NOGEN_WARN_MS 60000

/* Why the local cache was dropped (tfdrift_correlator_cache_drops_total{reason}). */
enum {
	DROP_FULL,        /* a notice with full, or from a publisher without changed */
	DROP_WORKSPACES,  /* a notice naming the workspaces it switched */
	DROP_UNANNOUNCED, /* P gen moved to a generation no notice announced */
	DROP_EXPIRED,     /* a cached claim's generation is gone from Redis */
	DROP_KINDS
};
static const char *const drop_labels[DROP_KINDS] = {
	"reason=\"full\"",
	"reason=\"workspaces\"",
	"reason=\"unannounced\"",
	"reason=\"expired\"",
};

/* Local cache keys: a claim "i<US>account<US>region<US>identifier" -> the
 * first line of the P idx value ("" for none), attributes
 * "a<US>workspace<US>gen<US>address" -> JSON ("" for none). */
#define CKEY_CLAIM 'i'
#define CKEY_ATTRS 'a'
#define US "\x1f"

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

	uint64_t gen_known; /* the latest P gen announced or read; 0: none */
	uint64_t notices;   /* ridx_invalidate calls so far */
	int64_t gen_at_ms;  /* when P gen was last read */
	int64_t nogen_warned_ms;
	char gone_ws[256]; /* the last generation found gone (generation_gone) */
	uint64_t gone_gen;

	atomic_bool healthy;
	atomic_bool loaded;
	atomic_bool down_logged;

	lcache *cache; /* claims ("i" keys) and attributes ("a" keys), CKEY_* below */
	td_counter *drops[DROP_KINDS];
	td_counter *dropped; /* entries */

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
	for (int i = 0; i < DROP_KINDS; i++)
		r->drops[i] = td_counter_get("tfdrift_correlator_cache_drops_total",
		    "Drops of the local cache of index answers, by reason (full: everything, "
		    "workspaces: the claims of the workspaces a StateNotice names, unannounced: "
		    "everything after a generation no notice announced, expired: the claims of a "
		    "workspace whose generation was gone).",
		    drop_labels[i]);
	r->dropped = td_counter_get("tfdrift_correlator_cache_dropped_entries_total",
	    "Entries dropped from the local cache of index answers.", NULL);
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

/* What a drop by workspace compares: the names sorted (bsearch). */
typedef struct ws_set {
	const char **names;
	size_t n;
} ws_set;

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool
ws_in(const ws_set *set, const char *ws, size_t len)
{
	char name[256];
	const char *key = name;

	if (len >= sizeof(name))
		return true; /* longer than any name kept: drop rather than guess */
	memcpy(name, ws, len);
	name[len] = '\0';
	return bsearch(&key, set->names, set->n, sizeof(*set->names), cmp_name) != NULL;
}

/* lcache_pred: the claims that name a workspace of the set, every "not
 * found" claim (an identifier a changed workspace may hold now), and the
 * attributes of those workspaces (of their old generations: nothing asks
 * for them once their claims are gone). */
static bool
drop_ws(void *arg, const char *key, const char *val)
{
	const ws_set *set = arg;
	const char *end;

	if (key[0] == CKEY_CLAIM) {
		if (val[0] == '\0')
			return true;
		end = strchr(val, '\t');
		return ws_in(set, val, end != NULL ? (size_t)(end - val) : strlen(val));
	}
	if (key[0] == CKEY_ATTRS && key[1] == US[0]) {
		end = strchr(key + 2, US[0]);
		return ws_in(set, key + 2, end != NULL ? (size_t)(end - key - 2) : strlen(key + 2));
	}
	return true; /* not a key this file writes */
}

/* Drops the cached answers of the workspaces names (n of them, borrowed):
 * kind says why.  Everything when the set cannot be built. */
static void
drop_workspaces(ridx *r, const char *const *names, size_t n, int kind)
{
	ws_set set = { .names = calloc(n + 1, sizeof(*set.names)), .n = n };
	size_t gone;

	if (set.names == NULL) {
		gone = lcache_size(r->cache);
		lcache_clear(r->cache);
		kind = DROP_FULL;
	} else {
		memcpy(set.names, names, n * sizeof(*names));
		qsort(set.names, n, sizeof(*set.names), cmp_name);
		gone = lcache_drop_if(r->cache, drop_ws, &set);
		free(set.names);
	}
	td_counter_inc(r->drops[kind]);
	td_counter_add(r->dropped, gone);
}

static void
drop_all(ridx *r, int kind)
{
	size_t gone = lcache_size(r->cache);

	lcache_clear(r->cache);
	td_counter_inc(r->drops[kind]);
	td_counter_add(r->dropped, gone);
}

void
ridx_invalidate(ridx *r, uint64_t generation, const char *const *changed, size_t n_changed,
    bool full)
{
	bool missed;

	pthread_mutex_lock(&r->mu);
	/* each switch takes one generation (P gen_seq): this round's are the
	 * n_changed below generation at most, so one above them all that the
	 * correlator did not know is a switch whose notice it missed; with no
	 * changed, a generation not known yet is a switch too (a state-loader
	 * older than per-workspace generations).  gen_known 0: nothing read
	 * yet, nothing cached */
	missed = r->gen_known != 0 && generation > r->gen_known &&
	    generation - r->gen_known > n_changed;
	/* a generation announced is not "unannounced" when the poll reads it;
	 * the poll reads P gen at the next lookup (a correlator waiting for its
	 * first index finds it at once) */
	if (generation > r->gen_known)
		r->gen_known = generation;
	r->gen_at_ms = 0;
	r->notices++;
	pthread_mutex_unlock(&r->mu);
	if (full || missed)
		drop_all(r, full || n_changed == 0 ? DROP_FULL : DROP_UNANNOUNCED);
	else if (n_changed > 0)
		drop_workspaces(r, changed, n_changed, DROP_WORKSPACES);
	/* else statuses only (a failed load): nothing cached is wrong */
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

/* Whether an index exists: P gen, read at most every RIDX_GEN_TTL_MS.
 * TD_EAGAIN when there is none.  A P gen that differs from the generation
 * the last notice announced (or the last read) means a switch whose notice
 * this correlator missed: every cached answer goes. */
static int
check_gen(ridx_conn *c)
{
	ridx *r = c->r;
	int64_t now = td_clock_mono_ms();
	uint64_t notices, g, was = 0;
	bool unannounced = false;
	redisReply *rep;
	char *gkey;
	int rv;

	pthread_mutex_lock(&r->mu);
	if (r->gen_known != 0 && now - r->gen_at_ms < RIDX_GEN_TTL_MS) {
		pthread_mutex_unlock(&r->mu);
		return 0;
	}
	notices = r->notices;
	pthread_mutex_unlock(&r->mu);

	if ((rv = conn_ensure(c)) != 0)
		return rv;
	if ((gkey = td_rkey_gen(r->prefix)) == NULL)
		return TD_ENOMEM;
	rep = checked(c, redisCommand(c->ctx, "GET %s", gkey));
	free(gkey);
	if (rep == NULL)
		return TD_EDEPEND;
	g = rep->type == REDIS_REPLY_STRING ? strtoull(rep->str, NULL, 10) : 0;
	freeReplyObject(rep);
	pthread_mutex_lock(&r->mu);
	if (g == 0) {
		bool warn = r->nogen_warned_ms == 0 || now - r->nogen_warned_ms >= NOGEN_WARN_MS;

		if (warn)
			r->nogen_warned_ms = now;
		unannounced = r->gen_known != 0; /* the index is gone (Redis emptied) */
		r->gen_known = 0;
		pthread_mutex_unlock(&r->mu);
		atomic_store(&r->loaded, false);
		if (unannounced)
			drop_all(r, DROP_UNANNOUNCED);
		if (warn)
			TD_WARN(
			    "no resource index in redis yet (has state-loader run?); events are handed back",
			    TD_KV_STR("key_prefix", r->prefix));
		return TD_EAGAIN;
	}
	/* a notice taken meanwhile knows better than this read */
	if (r->notices == notices && g != r->gen_known) {
		was = r->gen_known;
		unannounced = was != 0;
		r->gen_known = g;
	}
	r->gen_at_ms = now;
	pthread_mutex_unlock(&r->mu);
	atomic_store(&r->loaded, true);
	if (unannounced) {
		TD_INFO("the resource index switched without a notice reaching this correlator; "
			"local cache dropped",
		    TD_KV_UINT("generation", g), TD_KV_UINT("known", was));
		drop_all(r, DROP_UNANNOUNCED);
	}
	return 0;
}

/* The first claim of a P idx value -> m.  False when it is malformed. */
static bool
parse_claim(const char *s, size_t len, rule_match *m)
{
	td_rkey_entry e;

	if (!td_rkey_entry_parse(s, len, &e))
		return false;
	snprintf(m->workspace, sizeof(m->workspace), "%.*s", (int)e.workspace_len, e.workspace);
	snprintf(m->address, sizeof(m->address), "%.*s", (int)e.address_len, e.address);
	snprintf(m->type, sizeof(m->type), "%.*s", (int)e.type_len, e.type);
	m->gen = e.gen;
	return true;
}

int
ridx_lookup(void *arg, const rule_scope *scope, const char *identifier, rule_match *m)
{
	ridx_conn *c = arg;
	char *key = NULL, ckey[700], *hit, stack[1024], *buf = stack, *line = NULL;
	const char *argv[2 + TD_RKEY_IDX_LOOKUPS], *fields[TD_RKEY_IDX_LOOKUPS], *nl;
	size_t lens[2 + TD_RKEY_IDX_LOOKUPS], nf = 0, i, need, at = 0;
	const redisReply *found = NULL;
	redisReply *rep = NULL;
	uint64_t epoch;
	int rv, n;

	if ((rv = check_gen(c)) != 0)
		return rv;
	n = snprintf(ckey, sizeof(ckey), "%c" US "%s" US "%s" US "%s", CKEY_CLAIM, scope->account,
	    scope->region, identifier);
	if (n < 0 || (size_t)n >= sizeof(ckey))
		ckey[0] = '\0'; /* too long to cache without clashing */
	if (ckey[0] != '\0' && lcache_get(c->r->cache, ckey, &hit)) {
		rv = hit[0] != '\0' && parse_claim(hit, strlen(hit), m) ? 0 : TD_ENOTFOUND;
		free(hit);
		return rv;
	}
	if ((rv = conn_ensure(c)) != 0)
		return rv;
	/* before asking: an answer read before a switch is not cached after its notice */
	epoch = lcache_epoch(c->r->cache);
	/* the scoped fields and the unscoped one in one HMGET: one round trip */
	key = td_rkey_idx(c->r->prefix);
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
			found = rep->element[i], at = i;
	if (found != NULL && parse_claim(found->str, found->len, m)) {
		rv = 0;
		/* the first line (the claim that answers) is all a lookup reads */
		nl = memchr(found->str, '\n', found->len);
		line = strndup(found->str, nl != NULL ? (size_t)(nl - found->str) : found->len);
		if (ckey[0] != '\0' && line != NULL)
			lcache_put_at(c->r->cache, epoch, ckey, line);
	} else if (found != NULL) {
		TD_WARN("malformed resource index entry (want "
			"workspace\\taddress\\ttype\\tgeneration\\torder lines)",
		    TD_KV_STR("key", key), TD_KV_STR("field", fields[at]),
		    TD_KV_STR("identifier", identifier));
	} else if (rep->type == REDIS_REPLY_ARRAY && ckey[0] != '\0') {
		lcache_put_at(c->r->cache, epoch, ckey, "");
	}
out:
	if (rep != NULL)
		freeReplyObject(rep);
	if (buf != stack)
		free(buf);
	free(line);
	free(key);
	return rv;
}

/* The attributes' hash of a claim's generation is gone (its grace expired):
 * the claim was cached before a switch whose notice did not come.  Drops
 * the workspace's cached answers, reads P gen at the next lookup and says
 * true: ask again.  The same generation gone twice in a row is not a stale
 * cache but an index that claims what it does not hold: false (warned). */
static bool
generation_gone(ridx *r, const char *workspace, uint64_t gen)
{
	bool again;

	pthread_mutex_lock(&r->mu);
	again = gen != r->gone_gen || strcmp(workspace, r->gone_ws) != 0;
	r->gone_gen = gen;
	snprintf(r->gone_ws, sizeof(r->gone_ws), "%s", workspace);
	r->gen_at_ms = 0;
	pthread_mutex_unlock(&r->mu);
	if (!again) {
		TD_WARN("the resource index claims resources of a generation that is not in redis; "
			"its attributes are taken as unknown",
		    TD_KV_STR("workspace", workspace), TD_KV_UINT("generation", gen));
		return false;
	}
	TD_INFO("a cached resource index answer names a generation no longer in redis; "
		"the workspace's cached answers are dropped",
	    TD_KV_STR("workspace", workspace), TD_KV_UINT("generation", gen));
	drop_workspaces(r, &workspace, 1, DROP_EXPIRED);
	return true;
}

int
ridx_attrs(void *arg, const char *workspace, uint64_t gen, const char *address, char **json)
{
	ridx_conn *c = arg;
	char ckey[1024], *key = NULL, *hit;
	redisReply *rep = NULL;
	uint64_t epoch;
	int rv, n;

	*json = NULL;
	n = snprintf(ckey, sizeof(ckey), "%c" US "%s" US "%" PRIu64 US "%s", CKEY_ATTRS, workspace,
	    gen, address);
	if (n < 0 || (size_t)n >= sizeof(ckey))
		ckey[0] = '\0'; /* too long to cache without clashing */
	if (ckey[0] != '\0' && lcache_get(c->r->cache, ckey, &hit)) {
		if (hit[0] == '\0') {
			free(hit);
			return TD_ENOTFOUND;
		}
		*json = hit;
		return 0;
	}
	if ((rv = conn_ensure(c)) != 0)
		return rv;
	epoch = lcache_epoch(c->r->cache);
	if ((key = td_rkey_res(c->r->prefix, gen, workspace)) == NULL)
		return TD_ENOMEM;
	rep = checked(c, redisCommand(c->ctx, "HGET %s %s", key, address));
	if (rep == NULL) {
		rv = TD_EDEPEND;
		goto out;
	}
	if (rep->type == REDIS_REPLY_STRING) {
		/* stored packed (tfdrift/attrs_codec.h); cached unpacked */
		rv = td_attrs_unpack(rep->str, rep->len, json, NULL);
		if (rv == TD_EPROTO) {
			TD_WARN("unreadable attributes in the resource index (neither JSON nor "
				"zlib); taken as unknown",
			    TD_KV_STR("key", key), TD_KV_STR("field", address));
			if (ckey[0] != '\0')
				lcache_put_at(c->r->cache, epoch, ckey, "");
			rv = TD_ENOTFOUND;
		} else if (rv == 0 && ckey[0] != '\0') {
			lcache_put_at(c->r->cache, epoch, ckey, *json);
		}
		goto out;
	}
	/* absent: is the generation there at all?  A claim's own address always
	 * is in it, so a hash gone means the claim is stale: ask again */
	freeReplyObject(rep);
	rep = checked(c, redisCommand(c->ctx, "EXISTS %s", key));
	if (rep == NULL) {
		rv = TD_EDEPEND;
		goto out;
	}
	if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 0 &&
	    generation_gone(c->r, workspace, gen)) {
		rv = TD_EAGAIN;
		goto out;
	}
	if (ckey[0] != '\0')
		lcache_put_at(c->r->cache, epoch, ckey, "");
	rv = TD_ENOTFOUND;
out:
	if (rep != NULL)
		freeReplyObject(rep);
	free(key);
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
