/* store.c — generations of the resource index in Redis (hiredis, blocking). */
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include <cjson/cJSON.h>

#include "contain.h"
#include "tfdrift/hash.h"
#include "tfdrift/log.h"
#include "tfdrift/redis.h"
#include "tfdrift/redis_keys.h"
#include "tfdrift/scope.h"
#include "tfdrift/str.h"
#include "tfdrift/redis_batch.h"

/* Commands per pipeline round trip, and bytes after which a chunk is sent
 * early (attribute JSON can be large). */
#define CHUNK 512
#define CHUNK_BYTES (1u << 20)
#define SCAN_COUNT "1000"

typedef struct strvec {
	char **v;
	size_t n, cap;
} strvec;

struct store {
	redisContext *rc;
	char *host, *password, *prefix;
	int port, db, timeout_ms;
	int64_t grace_ms;
	char *holder;      /* this process's name for the write lease */
	int64_t lease_ms;  /* 0: no lease */
	strvec live;       /* keys of the generation `gen` points at, to retire next time */
	uint64_t live_gen; /* that generation; 0 none */
	bool full_sweep;   /* keys of unknown generations may exist: scan for them */
};

/* ---- small helpers ------------------------------------------------------- */

static void
sv_free(strvec *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++) {
		free(sv->v[i]);
	}
	free(sv->v);
	*sv = (strvec){ 0 };
}

/* Takes ownership of s (freed on failure too). */
static int
sv_push(strvec *sv, char *s)
{
	size_t ncap;
	char **nv;

	if (sv->n == sv->cap) {
		ncap = sv->cap ? sv->cap * 2 : 256;
		if ((nv = realloc(sv->v, ncap * sizeof(*nv))) == NULL) {
			free(s);
			return TD_ENOMEM;
		}
		sv->v = nv;
		sv->cap = ncap;
	}
	sv->v[sv->n++] = s;
	return 0;
}

/* The context is unusable from here on: a connection-level failure
 * (TD_EDEPEND: Redis is unavailable), or hiredis out of memory while
 * formatting or reading (TD_ENOMEM: our side, not Redis's). */
static int
conn_fail(store *s, const char *what, td_error *err)
{
	int code = s->rc != NULL && s->rc->err == REDIS_ERR_OOM ? TD_ENOMEM : TD_EDEPEND;

	td_error_set(err, code, "redis %s:%d: %s: %s", s->host, s->port, what,
	    s->rc != NULL && s->rc->err ? s->rc->errstr : "connection lost");
	if (s->rc != NULL) {
		redisFree(s->rc);
		s->rc = NULL;
	}
	s->full_sweep = true;
	return code;
}

/* Runs one command synchronously; *out owned by the caller (freeReplyObject).
 * A Redis error reply is TD_EINVAL with the reply's text (Redis is there but
 * refused it); TD_EDEPEND means Redis could not be reached. */
static int
command(store *s, redisReply **out, td_error *err, const char *what, int argc, const char **argv)
{
	redisReply *r;

	*out = NULL;
	if (s->rc == NULL) {
		td_error_set(err, TD_EDEPEND, "redis %s:%d: not connected", s->host, s->port);
		return TD_EDEPEND;
	}
	r = redisCommandArgv(s->rc, argc, argv, NULL);
	if (r == NULL) {
		return conn_fail(s, what, err);
	}
	if (r->type == REDIS_REPLY_ERROR) {
		/* Redis answered: it is there, but refused this command */
		td_error_set(err, TD_EINVAL, "redis %s:%d refused %s: %s", s->host, s->port, what,
		    r->str);
		freeReplyObject(r);
		return TD_EINVAL;
	}
	*out = r;
	return 0;
}

/* ---- pipelining ---------------------------------------------------------- */

typedef struct pipeline {
	store *s;
	size_t pending, bytes;
	const char *ident[CHUNK]; /* set for HSETNX: the identifier, for clash reports */
	size_t conflicts;
} pipeline;

static int
pl_flush(pipeline *p, td_error *err)
{
	redisReply *r;
	size_t i;
	int rv = 0;

	for (i = 0; i < p->pending; i++) {
		if (redisGetReply(p->s->rc, (void **)&r) != REDIS_OK || r == NULL) {
			p->pending = 0;
			return conn_fail(p->s, "pipeline", err);
		}
		/* read every reply even after an error, so the stream stays in step */
		if (r->type == REDIS_REPLY_ERROR && rv == 0) {
			rv = td_error_set(err, TD_EINVAL,
			    "redis %s:%d refused a pipelined write: %s", p->s->host, p->s->port,
			    r->str);
		} else if (p->ident[i] != NULL && r->type == REDIS_REPLY_INTEGER &&
		    r->integer == 0) {
			p->conflicts++;
			TD_DEBUG("identifier already claimed by another instance",
			    TD_KV_STR("identifier", p->ident[i]));
		}
		freeReplyObject(r);
	}
	p->pending = 0;
	p->bytes = 0;
	return rv;
}

static int
pl_add(pipeline *p, int argc, const char **argv, const size_t *lens, const char *ident,
    td_error *err)
{
	int i;

	if (redisAppendCommandArgv(p->s->rc, argc, argv, lens) != REDIS_OK) {
		return conn_fail(p->s, "pipeline", err);
	}
	p->ident[p->pending++] = ident;
	for (i = 0; i < argc; i++) {
		p->bytes += lens[i];
	}
	if (p->pending == CHUNK || p->bytes >= CHUNK_BYTES) {
		return pl_flush(p, err);
	}
	return 0;
}

/* ---- batches: many fields or keys per command ------------------------------ */

/* The emit callback of a td_rbatch: the full command goes into the pipeline. */
static int
batch_emit(void *arg, int argc, const char **argv, const size_t *lens, td_error *err)
{
	return pl_add(arg, argc, argv, lens, NULL, err);
}

/* ---- identifiers claimed in this generation --------------------------------- */

/* An open-addressing set of index fields (identifiers scoped by account and
 * region, td_rkey_idx_field; owned by the set): the first instance to claim
 * a field keeps it, as HSETNX did, but decided here so the index can be
 * written with multi-field HSETs. */
typedef struct idset {
	const char **slot;
	size_t cap, n;
} idset;

static bool
idset_insert(idset *h, const char *id)
{
	size_t i = (size_t)td_hash_str(TD_HASH_INIT, id) & (h->cap - 1);

	while (h->slot[i] != NULL) {
		if (strcmp(h->slot[i], id) == 0) {
			return false;
		}
		i = (i + 1) & (h->cap - 1);
	}
	h->slot[i] = id;
	h->n++;
	return true;
}

static void
idset_free(idset *h)
{
	for (size_t i = 0; i < h->cap; i++) {
		free((char *)h->slot[i]);
	}
	free(h->slot);
	*h = (idset){ 0 };
}

/* 1: id newly claimed (the set keeps it); 0: claimed before (still the
 * caller's); TD_ENOMEM. */
static int
idset_claim(idset *h, const char *id)
{
	const char **old = h->slot;
	size_t oldcap = h->cap, i;

	if (2 * (h->n + 1) > h->cap) {
		h->cap = oldcap ? oldcap * 2 : 4096;
		if ((h->slot = calloc(h->cap, sizeof(*h->slot))) == NULL) {
			h->slot = old;
			h->cap = oldcap;
			return TD_ENOMEM;
		}
		h->n = 0;
		for (i = 0; i < oldcap; i++) {
			if (old[i] != NULL) {
				idset_insert(h, old[i]);
			}
		}
		free(old);
	}
	return idset_insert(h, id) ? 1 : 0;
}

/* ---- lifecycle ------------------------------------------------------------- */

int
store_new(store **out, const store_opts *o)
{
	store *s;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		return TD_ENOMEM;
	}
	s->host = strdup(o->host != NULL ? o->host : "127.0.0.1");
	s->password = strdup(o->password != NULL ? o->password : "");
	s->prefix = strdup(o->prefix != NULL ? o->prefix : "");
	s->holder = strdup(o->holder != NULL ? o->holder : "");
	s->lease_ms = o->lease_ms;
	if (s->host == NULL || s->password == NULL || s->prefix == NULL || s->holder == NULL) {
		store_free(s);
		return TD_ENOMEM;
	}
	s->port = o->port;
	s->db = o->db;
	s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 2000;
	s->grace_ms = o->grace_ms;
	s->full_sweep = true;
	*out = s;
	return 0;
}

void
store_free(store *s)
{
	if (s == NULL) {
		return;
	}
	if (s->rc != NULL) {
		redisFree(s->rc);
	}
	sv_free(&s->live);
	if (s->password != NULL) {
		explicit_bzero(s->password, strlen(s->password));
	}
	free(s->host);
	free(s->password);
	free(s->prefix);
	free(s->holder);
	free(s);
}

bool
store_connected(const store *s)
{
	return s->rc != NULL;
}

int
store_connect(store *s, td_error *err)
{
	td_redis_opts o = { .host = s->host,
		.port = s->port,
		.password = s->password,
		.db = s->db,
		.timeout_ms = s->timeout_ms };
	int rv;

	if (s->rc != NULL) {
		return 0;
	}
	if ((rv = td_redis_connect(&o, &s->rc, err)) != 0) {
		s->full_sweep = true;
	}
	return rv;
}

int
store_current_generation(store *s, uint64_t *gen, td_error *err)
{
	redisReply *r = NULL;
	char *key = td_rkey_gen(s->prefix);
	const char *argv[2] = { "GET", key };
	int rv;

	*gen = 0;
	if (key == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	if ((rv = command(s, &r, err, "GET gen", 2, argv)) != 0) {
		goto out;
	}
	if (r->type == REDIS_REPLY_STRING) {
		*gen = strtoull(r->str, NULL, 10);
	}
out:
	freeReplyObject(r);
	free(key);
	return rv;
}

/* ---- writing a generation ------------------------------------------------ */

static int
write_workspace(pipeline *p, const char *idx_key, uint64_t gen, const store_workspace *w,
    strvec *keys, idset *claimed, td_rbatch *idx, td_rbatch *res_b, store_result *res,
    bool (*cancel)(void *), void *cancel_arg, td_error *err)
{
	const tfs_instance *in;
	const char *account, *region;
	char *value = NULL, *key = NULL;
	size_t i, k, vlen;
	int rv = 0, c;

	(void)idx_key;
	for (i = 0; (in = tfs_instance_at(w->state, i)) != NULL; i++) {
		if (!tfs_instance_indexed(in)) {
			continue;
		}
		if (cancel != NULL && p->pending == 0 && cancel(cancel_arg)) {
			rv = td_error_set(err, TD_ECLOSED, "stopping");
			goto out;
		}
		key = td_rkey_res(p->s->prefix, gen, w->name, in->address);
		if (key == NULL) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			goto out;
		}
		td_scope_of(w->scope, i, &account, &region);
		for (k = 0; k < in->n_identifiers; k++) {
			char *id = td_rkey_idx_field(account, region, in->identifiers[k]);
			if (id == NULL || (c = idset_claim(claimed, id)) < 0) {
				free(id);
				rv = td_error_set(err, TD_ENOMEM, "out of memory");
				goto out;
			}
			if (c == 0) {
				p->conflicts++;
				TD_DEBUG("identifier already claimed by another instance",
				    TD_KV_STR("identifier", id));
				free(id);
				continue;
			}
			if ((value = td_str_printf("%s\t%s\t%s", w->name, in->address, in->type)) ==
			    NULL) {
				rv = td_error_set(err, TD_ENOMEM, "out of memory");
				goto out;
			}
			vlen = strlen(value);
			rv = td_rbatch_add(idx, id, strlen(id), value, vlen, value, err);
			value = NULL;
			if (rv != 0) {
				goto out;
			}
		}
		/* counted as claims, conflicts included (as with HSETNX) */
		res->identifiers += in->n_identifiers;
		rv = sv_push(keys, key);
		if (rv != 0) {
			key = NULL;
			td_error_set(err, rv, "out of memory");
			goto out;
		}
		/* the key now belongs to keys; the batch borrows it */
		rv = td_rbatch_add(res_b, key, strlen(key), in->attributes_json, in->attributes_len,
		    NULL, err);
		key = NULL;
		if (rv != 0) {
			goto out;
		}
		res->resources++;
	}
out:
	free(value);
	free(key);
	return rv;
}

/* A resource address (what Terraform's `dependencies` name) and one current
 * instance of it: the graph's edges point at instances, the nodes' ids. */
typedef struct res_inst {
	char *resource;      /* module.network.aws_subnet.private */
	const char *address; /* module.network.aws_subnet.private[0]; borrowed */
} res_inst;

typedef struct res_map {
	res_inst *v;
	size_t n;
} res_map;

static int
res_cmp(const void *a, const void *b)
{
	const res_inst *x = a, *y = b;
	int c = strcmp(x->resource, y->resource);

	return c != 0 ? c : strcmp(x->address, y->address);
}

static void
res_map_free(res_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].resource);
	}
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

/* Every current instance of st under its resource address, sorted.  m owns
 * the resource strings (res_map_free). */
static int
res_map_build(res_map *m, const tfs_state *st)
{
	const tfs_instance *in;
	size_t n = tfs_instance_count(st);

	m->n = 0;
	if ((m->v = calloc(n ? n : 1, sizeof(*m->v))) == NULL) {
		return TD_ENOMEM;
	}
	for (size_t i = 0; (in = tfs_instance_at(st, i)) != NULL; i++) {
		if (in->deposed != NULL) {
			continue;
		}
		m->v[m->n].resource = td_str_printf("%s%s%s%s.%s", in->module,
		    in->module[0] ? "." : "", in->managed ? "" : "data.", in->type, in->name);
		if (m->v[m->n].resource == NULL) {
			res_map_free(m);
			return TD_ENOMEM;
		}
		m->v[m->n++].address = in->address;
	}
	qsort(m->v, m->n, sizeof(*m->v), res_cmp);
	return 0;
}

/* The instances of the resources in depends on, as a JSON array of instance
 * addresses (a dependency on `aws_subnet.a` with count 2 is an edge to
 * `aws_subnet.a[0]` and one to `aws_subnet.a[1]`); a dependency with no
 * instance in the state stays as written.  Owned by the caller. */
static char *
deps_json(const tfs_instance *in, const res_map *m, size_t *n_edges)
{
	cJSON *a = cJSON_CreateArray();
	char *out = NULL;
	bool ok = a != NULL;

	for (size_t k = 0; ok && k < in->n_dependencies; k++) {
		const char *dep = in->dependencies[k];
		size_t lo = 0, hi = m->n, found = 0;

		while (lo < hi) { /* the first entry not below dep */
			size_t mid = lo + (hi - lo) / 2;
			if (strcmp(m->v[mid].resource, dep) < 0) {
				lo = mid + 1;
			} else {
				hi = mid;
			}
		}
		for (; ok && lo < m->n && strcmp(m->v[lo].resource, dep) == 0; lo++, found++) {
			ok = cJSON_AddItemToArray(a, cJSON_CreateString(m->v[lo].address));
		}
		if (ok && found == 0) {
			ok = cJSON_AddItemToArray(a, cJSON_CreateString(dep));
		}
	}
	if (ok) {
		*n_edges = (size_t)cJSON_GetArraySize(a);
		out = cJSON_PrintUnformatted(a);
	}
	cJSON_Delete(a);
	return out;
}

/* The node JSON of an instance (docs/architecture.md); parent: its
 * container's node id (contain.h) or NULL.  Owned by the caller. */
static char *
node_json(const tfs_instance *in, const char *parent)
{
	cJSON *o = cJSON_CreateObject();
	char *out = NULL;
	bool ok = o != NULL;

	ok = ok && cJSON_AddStringToObject(o, "type", in->type) != NULL;
	ok = ok && cJSON_AddStringToObject(o, "name", in->name) != NULL;
	ok = ok && cJSON_AddStringToObject(o, "module", in->module) != NULL;
	ok = ok && cJSON_AddStringToObject(o, "mode", in->managed ? "managed" : "data") != NULL;
	ok = ok && cJSON_AddStringToObject(o, "provider", in->provider) != NULL;
	ok = ok && cJSON_AddBoolToObject(o, "tainted", in->tainted) != NULL;
	ok = ok && (parent == NULL || cJSON_AddStringToObject(o, "parent", parent) != NULL);
	if (ok) {
		out = cJSON_PrintUnformatted(o);
	}
	cJSON_Delete(o);
	return out;
}

/* Graph nodes (every current instance, data sources too) and dependency
 * edges of one workspace; the two keys are added to keys for retirement. */
static int
write_graph(pipeline *p, uint64_t gen, const store_workspace *w, const contain *cn, size_t wi,
    strvec *keys, td_rbatch *b, store_result *res, td_error *err)
{
	const tfs_instance *in;
	char *nodes_key = td_rkey_nodes(p->s->prefix, gen, w->name);
	char *edges_key = td_rkey_edges(p->s->prefix, gen, w->name);
	char *json = NULL;
	res_map rm = { 0 };
	size_t i, n_edges = 0;
	int rv = 0;

	if (nodes_key == NULL || edges_key == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	td_rbatch_start(b, "HSET", nodes_key);
	for (i = 0; (in = tfs_instance_at(w->state, i)) != NULL; i++) {
		if (in->deposed != NULL) {
			continue;
		}
		if ((json = node_json(in, contain_parent(cn, wi, i))) == NULL) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			goto out;
		}
		rv = td_rbatch_add(b, in->address, strlen(in->address), json, strlen(json), json,
		    err);
		json = NULL;
		if (rv != 0) {
			goto out;
		}
		res->nodes++;
	}
	if ((rv = td_rbatch_send(b, err)) != 0) {
		goto out;
	}
	if ((rv = res_map_build(&rm, w->state)) != 0) {
		td_error_set(err, rv, "out of memory");
		goto out;
	}
	td_rbatch_start(b, "HSET", edges_key);
	for (i = 0; (in = tfs_instance_at(w->state, i)) != NULL; i++) {
		if (in->deposed != NULL || in->n_dependencies == 0) {
			continue;
		}
		if ((json = deps_json(in, &rm, &n_edges)) == NULL) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			goto out;
		}
		rv = td_rbatch_add(b, in->address, strlen(in->address), json, strlen(json), json,
		    err);
		json = NULL;
		if (rv != 0) {
			goto out;
		}
		res->edges += n_edges;
	}
	if ((rv = td_rbatch_send(b, err)) != 0) {
		goto out;
	}
	rv = sv_push(keys, nodes_key);
	nodes_key = NULL;
	if (rv == 0) {
		rv = sv_push(keys, edges_key);
		edges_key = NULL;
	}
	if (rv != 0) {
		td_error_set(err, rv, "out of memory");
	}
out:
	td_rbatch_drop(b);
	res_map_free(&rm);
	free(json);
	free(nodes_key);
	free(edges_key);
	return rv;
}

/* ---- the write lease ------------------------------------------------------ */

/* KEYS[1] writer; ARGV holder, lease ms.  1 when held (taken or renewed),
 * else the holder's name. */
static const char lease_lua[] =
    "local v = redis.call('GET', KEYS[1]) "
    "if v == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end "
    "if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end "
    "return v";

int
store_lease(store *s, bool *held, char **other, td_error *err)
{
	char *key = NULL, ms[24];
	redisReply *r = NULL;
	int rv;

	*held = false;
	if (other != NULL) {
		*other = NULL;
	}
	if (s->lease_ms <= 0) {
		*held = true;
		return 0;
	}
	if ((rv = store_connect(s, err)) != 0) {
		return rv;
	}
	if ((key = td_rkey_writer(s->prefix)) == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	snprintf(ms, sizeof(ms), "%lld", (long long)s->lease_ms);
	{
		const char *argv[] = { "EVAL", lease_lua, "1", key, s->holder, ms };
		if ((rv = command(s, &r, err, "EVAL lease", 6, argv)) != 0) {
			goto out;
		}
	}
	if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
		*held = true;
	} else if (r->type == REDIS_REPLY_STRING) {
		if (other != NULL && (*other = strdup(r->str)) == NULL) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
		}
	} else {
		rv = td_error_set(err, TD_EPROTO, "redis: lease: unexpected reply");
	}
out:
	freeReplyObject(r);
	free(key);
	return rv;
}

/* KEYS writer, gen, workspaces; ARGV holder ("" when there is no lease), the
 * generation, then workspace name / status pairs.  Switches only while the
 * holder holds the lease: 1 switched, 0 not the holder. */
static const char switch_lua[] =
    "if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end "
    "redis.call('SET', KEYS[2], ARGV[2]) "
    "redis.call('DEL', KEYS[3]) "
    "for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end "
    "return 1";

/* One Lua script (atomic like MULTI/EXEC): check the lease, SET gen, DEL and
 * HSET workspaces.  TD_EBUSY when another state-loader holds the lease. */
static int
switch_generation(store *s, uint64_t gen, const store_workspace *ws, size_t n, td_error *err)
{
	char *gen_key = td_rkey_gen(s->prefix), *ws_key = td_rkey_workspaces(s->prefix);
	char *w_key = td_rkey_writer(s->prefix), genbuf[24];
	const char **argv = calloc(8 + 2 * n, sizeof(*argv));
	redisReply *r = NULL;
	size_t i;
	int rv = 0;

	if (gen_key == NULL || ws_key == NULL || w_key == NULL || argv == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(genbuf, sizeof(genbuf), "%" PRIu64, gen);
	argv[0] = "EVAL";
	argv[1] = switch_lua;
	argv[2] = "3";
	argv[3] = w_key;
	argv[4] = gen_key;
	argv[5] = ws_key;
	argv[6] = s->lease_ms > 0 ? s->holder : "";
	argv[7] = genbuf;
	for (i = 0; i < n; i++) {
		argv[8 + 2 * i] = ws[i].name;
		argv[9 + 2 * i] = ws[i].status_json;
	}
	if ((rv = command(s, &r, err, "switch", (int)(8 + 2 * n), argv)) != 0) {
		goto out;
	}
	if (r->type != REDIS_REPLY_INTEGER) {
		rv = td_error_set(err, TD_EPROTO,
		    "redis %s:%d: switch to generation %s: unexpected reply", s->host, s->port,
		    genbuf);
	} else if (r->integer != 1) {
		rv = td_error_set(err, TD_EBUSY,
		    "generation %s not switched: this state-loader (%s) no longer holds the write lease",
		    genbuf, s->holder);
	}
out:
	freeReplyObject(r);
	free(argv);
	free(w_key);
	free(gen_key);
	free(ws_key);
	return rv;
}

/* Gives each key the grace TTL, or unlinks it when there is no grace. */
static int
retire_keys(store *s, char *const *keys, size_t n, td_error *err)
{
	pipeline p = { .s = s };
	char ms[24];
	size_t i;
	int rv;

	snprintf(ms, sizeof(ms), "%lld", (long long)s->grace_ms);
	for (i = 0; i < n; i++) {
		const char *argv[] = { s->grace_ms > 0 ? "PEXPIRE" : "UNLINK", keys[i], ms };
		size_t lens[] = { strlen(argv[0]), strlen(keys[i]), strlen(ms) };
		if ((rv = pl_add(&p, s->grace_ms > 0 ? 3 : 2, argv, lens, NULL, err)) != 0) {
			return rv;
		}
	}
	return pl_flush(&p, err);
}

/* SCAN MATCH pattern: the prefix with glob characters escaped, then g:* (every
 * generation's keys, tfdrift/redis_keys.h) */
static char *
scan_pattern(const char *prefix)
{
	size_t n = strlen(prefix), i, j = 0;
	char *p = malloc(2 * n + sizeof(TD_RKEY_GEN_PART "*"));

	if (p == NULL) {
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (strchr("*?[]\\", prefix[i]) != NULL) {
			p[j++] = '\\';
		}
		p[j++] = prefix[i];
	}
	memcpy(p + j, TD_RKEY_GEN_PART "*", sizeof(TD_RKEY_GEN_PART "*"));
	return p;
}

/* Among keys[], the ones of a generation other than keep and without a TTL. */
static int
retire_scanned(store *s, redisReply *keys, uint64_t keep, td_error *err)
{
	size_t plen = strlen(s->prefix), i, m, nc = 0;
	char **cand = calloc(keys->elements + 1, sizeof(*cand));
	redisReply *r;
	char *end;
	uint64_t g;
	int rv = 0;

	if (cand == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	for (i = 0; i < keys->elements; i++) {
		const char *k = keys->element[i]->str;
		if (keys->element[i]->type != REDIS_REPLY_STRING ||
		    strlen(k) < plen + strlen(TD_RKEY_GEN_PART)) {
			continue;
		}
		g = strtoull(k + plen + strlen(TD_RKEY_GEN_PART), &end, 10);
		if (*end == ':' && g != keep) {
			cand[nc++] = keys->element[i]->str;
		}
	}
	/* PTTL first: a key that already has a TTL keeps it (no endless extension) */
	for (i = 0; i < nc; i++) {
		if (redisAppendCommand(s->rc, "PTTL %s", cand[i]) != REDIS_OK) {
			rv = conn_fail(s, "sweep", err);
			goto out;
		}
	}
	for (i = 0; i < nc; i++) {
		if (redisGetReply(s->rc, (void **)&r) != REDIS_OK || r == NULL) {
			rv = conn_fail(s, "sweep", err);
			goto out;
		}
		if (r->type != REDIS_REPLY_INTEGER || r->integer != -1) {
			cand[i] = NULL;
		}
		freeReplyObject(r);
	}
	for (i = 0, m = 0; i < nc; i++) {
		if (cand[i] != NULL) {
			cand[m++] = cand[i];
		}
	}
	rv = retire_keys(s, cand, m, err);
out:
	free(cand);
	return rv;
}

static int
sweep(store *s, uint64_t keep, bool (*cancel)(void *), void *cancel_arg, td_error *err)
{
	char *pattern = scan_pattern(s->prefix);
	char cursor[32] = "0";
	redisReply *r = NULL;
	int rv = 0;

	if (pattern == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	do {
		const char *argv[] = { "SCAN", cursor, "MATCH", pattern, "COUNT", SCAN_COUNT };
		if ((rv = command(s, &r, err, "SCAN", 6, argv)) != 0) {
			goto out;
		}
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			rv = td_error_set(err, TD_EPROTO, "redis: unexpected SCAN reply");
			goto out;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		if ((rv = retire_scanned(s, r->element[1], keep, err)) != 0) {
			goto out;
		}
		freeReplyObject(r);
		r = NULL;
		if (cancel != NULL && cancel(cancel_arg)) {
			rv = td_error_set(err, TD_ECLOSED, "stopping");
			goto out;
		}
	} while (strcmp(cursor, "0") != 0);
out:
	freeReplyObject(r);
	free(pattern);
	return rv;
}

/* After a switch to gen: the previous generation's keys get the grace TTL
 * (or every other generation's, after a failure); *keys (gen's) become the
 * live set, taken from the caller.  Housekeeping: a failure is logged and
 * the next switch scans instead. */
static void
retire_previous(store *s, uint64_t gen, strvec *keys, bool (*cancel)(void *), void *cancel_arg)
{
	td_error serr = { 0 };
	int srv = 0;

	if (s->full_sweep) {
		srv = sweep(s, gen, cancel, cancel_arg, &serr);
	} else if (s->live.n > 0 && s->live_gen != gen) {
		srv = retire_keys(s, s->live.v, s->live.n, &serr);
	}
	s->full_sweep = srv != 0;
	if (srv != 0 && srv != TD_ECLOSED) {
		TD_WARN("old generation not retired; will scan for it after the next switch",
		    TD_KV_STR("error", serr.msg));
	}
	sv_free(&s->live);
	s->live = *keys;
	s->live_gen = gen;
	*keys = (strvec){ 0 };
}

/* The containment of every loaded workspace (contain.h).  *out owned by the caller. */
static int
build_contain(const store_workspace *ws, size_t n, contain **out)
{
	const char **names = calloc(n ? n : 1, sizeof(*names));
	const tfs_state **states = calloc(n ? n : 1, sizeof(*states));
	int rv = TD_ENOMEM;

	if (names != NULL && states != NULL) {
		for (size_t i = 0; i < n; i++) {
			names[i] = ws[i].name;
			states[i] = ws[i].state;
		}
		rv = contain_build(out, names, states, n);
	}
	free(names);
	free(states);
	return rv;
}

int
store_write_generation(store *s, const store_workspace *ws, size_t n, bool (*cancel)(void *),
    void *cancel_arg, store_result *res, td_error *err)
{
	contain *cn = NULL; /* which node sits in which (graph parents) */
	pipeline *p = NULL;
	td_rbatch *bt[3] = { NULL, NULL, NULL }; /* idx HSET, res MSET, graph HSETs */
	idset claimed = { 0 };
	strvec keys = { 0 };
	redisReply *r = NULL;
	char *seq_key = NULL, *idx_key = NULL;
	uint64_t gen;
	size_t i;
	int rv;

	*res = (store_result){ 0 };
	if ((rv = store_connect(s, err)) != 0) {
		return rv;
	}
	seq_key = td_rkey_gen_seq(s->prefix);
	p = calloc(1, sizeof(*p));
	if (p != NULL) {
		p->s = s;
		for (i = 0; i < 3; i++) {
			if (td_rbatch_new(&bt[i], batch_emit, p) != 0) {
				break;
			}
		}
	}
	if (seq_key == NULL || p == NULL || bt[0] == NULL || bt[1] == NULL || bt[2] == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	if ((rv = build_contain(ws, n, &cn)) != 0) {
		td_error_set(err, rv, "out of memory");
		goto out;
	}
	{
		const char *argv[] = { "INCR", seq_key };
		if ((rv = command(s, &r, err, "INCR gen_seq", 2, argv)) != 0) {
			goto out;
		}
	}
	if (r->type != REDIS_REPLY_INTEGER || r->integer <= 0) {
		rv = td_error_set(err, TD_EPROTO, "redis: INCR %s: unexpected reply", seq_key);
		goto out;
	}
	gen = (uint64_t)r->integer;
	if (gen <= s->live_gen) {
		/* gen_seq went back (Redis restarted empty): keep generations
		 * increasing, so a new one never reuses the names of the keys
		 * about to be retired */
		char by[24];
		const char *argv[] = { "INCRBY", seq_key, by };
		snprintf(by, sizeof(by), "%" PRIu64, s->live_gen - gen + 1);
		freeReplyObject(r);
		r = NULL;
		if ((rv = command(s, &r, err, "INCRBY gen_seq", 3, argv)) != 0) {
			goto out;
		}
		if (r->type != REDIS_REPLY_INTEGER || (uint64_t)r->integer <= s->live_gen) {
			rv = td_error_set(err, TD_EPROTO, "redis: INCRBY %s: unexpected reply",
			    seq_key);
			goto out;
		}
		gen = (uint64_t)r->integer;
	}
	/* from here a failure leaves keys of an unswitched generation behind */
	s->full_sweep = true;
	idx_key = td_rkey_idx(s->prefix, gen);
	if (idx_key == NULL || sv_push(&keys, td_str_printf("%s", idx_key)) != 0 ||
	    keys.v[0] == NULL) {
		td_error_set(err, TD_ENOMEM, "out of memory");
		rv = TD_ENOMEM;
		goto out;
	}
	td_rbatch_start(bt[0], "HSET", idx_key);
	td_rbatch_start(bt[1], "MSET", NULL);
	for (i = 0; i < n; i++) {
		if (ws[i].state != NULL &&
		    ((rv = write_workspace(p, idx_key, gen, &ws[i], &keys, &claimed, bt[0], bt[1],
			  res, cancel, cancel_arg, err)) != 0 ||
			(rv = write_graph(p, gen, &ws[i], cn, i, &keys, bt[2], res, err)) != 0)) {
			goto out;
		}
	}
	if ((rv = td_rbatch_send(bt[0], err)) != 0 || (rv = td_rbatch_send(bt[1], err)) != 0 ||
	    (rv = pl_flush(p, err)) != 0) {
		goto out;
	}
	if ((rv = switch_generation(s, gen, ws, n, err)) != 0) {
		if (rv == TD_EBUSY) {
			/* fenced off: the writer's sweep does not know these keys */
			td_error rerr = { 0 };
			(void)retire_keys(s, keys.v, keys.n, &rerr);
		}
		goto out;
	}
	res->generation = gen;
	res->conflicts = p->conflicts;
	retire_previous(s, gen, &keys, cancel, cancel_arg);
out:
	if (rv != 0 && p != NULL && p->pending > 0 && s->rc != NULL) {
		/* replies still owed on this connection: drop it rather than resync */
		conn_fail(s, "abandoned pipeline", NULL);
	}
	freeReplyObject(r);
	sv_free(&keys);
	free(seq_key);
	free(idx_key);
	free(p);
	for (i = 0; i < 3; i++) {
		td_rbatch_free(bt[i]);
	}
	idset_free(&claimed);
	contain_free(cn);
	return rv;
}
