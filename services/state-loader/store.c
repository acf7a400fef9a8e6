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
#include "tfdrift/attrs_codec.h"
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

struct store {
	redisContext *rc;
	char *host, *password, *prefix;
	int port, db, timeout_ms;
	int64_t grace_ms;
	char *holder;     /* this process's name for the write lease */
	int64_t lease_ms; /* 0: no lease */
	uint64_t max_gen; /* the highest generation allocated by this store */
	bool hold_gen;    /* switches leave P gen alone (store_hold_generation) */
	bool full_sweep;  /* keys of unknown generations may exist: scan for them */
};

/* ---- small helpers ------------------------------------------------------- */

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
	size_t conflicts; /* identifiers two instances of the workspace claim */
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
		}
		freeReplyObject(r);
	}
	p->pending = 0;
	p->bytes = 0;
	return rv;
}

static int
pl_add(pipeline *p, int argc, const char **argv, const size_t *lens, td_error *err)
{
	int i;

	if (redisAppendCommandArgv(p->s->rc, argc, argv, lens) != REDIS_OK) {
		return conn_fail(p->s, "pipeline", err);
	}
	p->pending++;
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
	return pl_add(arg, argc, argv, lens, err);
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

/* ---- writing a workspace's generation ------------------------------------- */

/* A workspace's claims: field -> "address\ttype", for the switch script's
 * arguments.  Owns both. */
typedef struct claims {
	char **field, **value;
	size_t n, cap;
} claims;

static void
claims_free(claims *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->field[i]);
		free(c->value[i]);
	}
	free(c->field);
	free(c->value);
	*c = (claims){ 0 };
}

/* Takes field and value (freed on failure too). */
static int
claims_add(claims *c, char *field, char *value)
{
	if (field == NULL || value == NULL) {
		goto fail;
	}
	if (c->n == c->cap) {
		size_t nc = c->cap != 0 ? c->cap * 2 : 256;
		char **f = realloc(c->field, nc * sizeof(*f)), **v;
		if (f == NULL) {
			goto fail;
		}
		c->field = f;
		if ((v = realloc(c->value, nc * sizeof(*v))) == NULL) {
			goto fail;
		}
		c->value = v;
		c->cap = nc;
	}
	c->field[c->n] = field;
	c->value[c->n++] = value;
	return 0;
fail:
	free(field);
	free(value);
	return TD_ENOMEM;
}

/* The workspace's res hash (address -> attributes, attrs_codec.h). */
static int
write_resources(pipeline *p, uint64_t gen, const store_workspace *w, td_rbatch *b,
    store_result *res, bool (*cancel)(void *), void *cancel_arg, td_error *err)
{
	const tfs_instance *in;
	char *res_key = td_rkey_res(p->s->prefix, gen, w->name);
	char *value = NULL;
	size_t i, vlen;
	int rv = 0;

	if (res_key == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	td_rbatch_start(b, "HSET", res_key);
	for (i = 0; (in = tfs_instance_at(w->state, i)) != NULL; i++) {
		if (!tfs_instance_indexed(in)) {
			continue;
		}
		if (cancel != NULL && p->pending == 0 && cancel(cancel_arg)) {
			rv = td_error_set(err, TD_ECLOSED, "stopping");
			goto out;
		}
		if (td_attrs_pack(in->attributes_json, in->attributes_len, &value, &vlen) != 0) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			goto out;
		}
		rv = td_rbatch_add(b, in->address, strlen(in->address), value, vlen, value, err);
		value = NULL;
		if (rv != 0) {
			goto out;
		}
		res->resources++;
		res->attr_bytes += in->attributes_len;
		res->attr_stored += vlen;
	}
	rv = td_rbatch_send(b, err);
out:
	td_rbatch_drop(b);
	free(value);
	free(res_key);
	return rv;
}

/* The index fields the workspace's instances claim, into *c: the first
 * instance in file order keeps a field two of them hold (counted as a
 * conflict).  An identifier or address with a newline or tab (they separate
 * claims and their parts) is left out. */
static int
collect_claims(pipeline *p, const store_workspace *w, claims *c, store_result *res, td_error *err)
{
	const tfs_instance *in;
	const char *account, *region;
	idset claimed = { 0 };
	size_t i, k;
	int rv = 0, r;

	for (i = 0; (in = tfs_instance_at(w->state, i)) != NULL; i++) {
		if (!tfs_instance_indexed(in)) {
			continue;
		}
		if (strpbrk(in->address, "\t\n") != NULL) {
			TD_DEBUG("address holds a tab or newline: not indexed",
			    TD_KV_STR("workspace", w->name), TD_KV_STR("address", in->address));
			continue;
		}
		td_scope_of(w->scope, i, &account, &region);
		for (k = 0; k < in->n_identifiers; k++) {
			char *id;
			if (strpbrk(in->identifiers[k], "\t\n") != NULL) {
				continue;
			}
			if ((id = td_rkey_idx_field(account, region, in->identifiers[k])) == NULL ||
			    (r = idset_claim(&claimed, id)) < 0) {
				free(id);
				rv = td_error_set(err, TD_ENOMEM, "out of memory");
				goto out;
			}
			/* counted as claims, conflicts included (as with HSETNX) */
			res->identifiers++;
			if (r == 0) {
				p->conflicts++;
				TD_DEBUG("identifier already claimed by another instance",
				    TD_KV_STR("workspace", w->name), TD_KV_STR("identifier", id));
				free(id);
				continue;
			}
			/* id belongs to the set; the claims take a copy */
			if (claims_add(c, strdup(id),
				td_str_printf("%s\t%s", in->address, in->type)) != 0) {
				rv = td_error_set(err, TD_ENOMEM, "out of memory");
				goto out;
			}
		}
	}
out:
	idset_free(&claimed);
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
 * edges of one workspace. */
static int
write_graph(pipeline *p, uint64_t gen, const store_workspace *w, td_rbatch *b, store_result *res,
    td_error *err)
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
		if ((json = node_json(in, contain_parent(w->parents, 0, i))) == NULL) {
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
	rv = td_rbatch_send(b, err);
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

/* KEYS[1] writer; ARGV holder.  Deletes the lease only when it is ours. */
static const char release_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
    "return 0";

int
store_release_lease(store *s, td_error *err)
{
	char *key = NULL;
	redisReply *r = NULL;
	int rv;

	if (s->lease_ms <= 0 || s->rc == NULL) {
		return 0;
	}
	if ((key = td_rkey_writer(s->prefix)) == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	{
		const char *argv[] = { "EVAL", release_lua, "1", key, s->holder };
		rv = command(s, &r, err, "EVAL release", 5, argv);
	}
	freeReplyObject(r);
	free(key);
	return rv;
}

/* The switch of one workspace, atomic (one script).
 * KEYS writer, idx, wsgen, workspaces, gen.
 * ARGV holder ("" when there is no lease), workspace, mode ("w" switch to
 * generation, "r" remove the workspace, "s" status only), generation,
 * order, status JSON ("" removes the record), key prefix, "1" to set P gen
 * to the generation ("0" during a first load: readers wait for it), then the
 * workspace's claims as field / "address\ttype" pairs (mode "w").  The
 * fields are kept in P g:<gen>:ids:<ws>, one string of lines, so the next
 * switch knows which to drop.
 * Replies {1, previous generation or "", moved, conflicts}, or {0} when
 * this state-loader does not hold the lease.
 * moved counts fields whose answering workspace changed from another
 * workspace to another (cached answers of other workspaces are wrong);
 * conflicts counts this workspace's claims that another one's precede. */
static const char switch_lua[] =
    "local holder, ws, mode, gen, ord, status, P, setgen = "
    "ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8] "
    "if holder ~= '' and redis.call('GET', KEYS[1]) ~= holder then return {0} end "
    "if mode == 's' then "
    "  if status ~= '' then redis.call('HSET', KEYS[4], ws, status) end "
    "  return {1, '', 0, 0} "
    "end "
    "local ordn = tonumber(ord) "
    "local old = redis.call('HGET', KEYS[3], ws) "
    "local oldf = {} "
    "if old then "
    "  local k = redis.call('GET', P .. 'g:' .. old .. ':ids:' .. ws) "
    "  if k then for f in string.gmatch(k, '[^\\n]+') do oldf[f] = true end end "
    "end "
    "local moved, conflicts = 0, 0 "
    "local function head(v) return string.match(v, '^[^\\t\\n]*') end "
    "local function put(f, line) "
    "  local cur = redis.call('HGET', KEYS[2], f) "
    "  if not cur then "
    "    if line then redis.call('HSET', KEYS[2], f, line) end "
    "    return "
    "  end "
    "  if not string.find(cur, '\\n', 1, true) and head(cur) == ws then "
    "    if line then redis.call('HSET', KEYS[2], f, line) else redis.call('HDEL', KEYS[2], f) end "
    "    return "
    "  end "
    "  local out, placed = {}, false "
    "  for l in string.gmatch(cur, '[^\\n]+') do "
    "    local lws = head(l) "
    "    if lws ~= ws then "
    "      if line and not placed then "
    "        local lo = tonumber(string.match(l, '\\t(%d+)$')) or 4294967295 "
    "        if ordn < lo or (ordn == lo and ws < lws) then out[#out + 1] = line placed = true end "
    "      end "
    "      out[#out + 1] = l "
    "    end "
    "  end "
    "  if line and not placed then out[#out + 1] = line end "
    "  if #out == 0 then redis.call('HDEL', KEYS[2], f) return end "
    "  local v = table.concat(out, '\\n') "
    "  redis.call('HSET', KEYS[2], f, v) "
    "  if line and out[1] ~= line then conflicts = conflicts + 1 end "
    "  if head(cur) ~= ws and head(v) ~= head(cur) then moved = moved + 1 end "
    "end "
    "if mode == 'w' then "
    "  local fields = {} "
    "  for i = 9, #ARGV, 2 do "
    "    oldf[ARGV[i]] = nil "
    "    fields[#fields + 1] = ARGV[i] "
    "    put(ARGV[i], ws .. '\\t' .. ARGV[i + 1] .. '\\t' .. gen .. '\\t' .. ord) "
    "  end "
    "  if #fields > 0 then "
    "    redis.call('SET', P .. 'g:' .. gen .. ':ids:' .. ws, table.concat(fields, '\\n')) "
    "  end "
    "end "
    "for f in pairs(oldf) do put(f, nil) end "
    "if mode == 'w' then redis.call('HSET', KEYS[3], ws, gen) else redis.call('HDEL', KEYS[3], ws) end "
    "if setgen == '1' then redis.call('SET', KEYS[5], gen) end "
    "if status ~= '' then redis.call('HSET', KEYS[4], ws, status) else redis.call('HDEL', KEYS[4], ws) end "
    "return {1, old or '', moved, conflicts}";

/* Runs switch_lua for w.  *previous: the workspace's generation before (0
 * none).  TD_EBUSY when another state-loader holds the lease. */
static int
switch_workspace(store *s, const store_workspace *w, const char *mode, uint64_t gen,
    const claims *cl, uint64_t *previous, store_result *res, td_error *err)
{
	char *gen_key = td_rkey_gen(s->prefix), *ws_key = td_rkey_workspaces(s->prefix);
	char *w_key = td_rkey_writer(s->prefix), *idx_key = td_rkey_idx(s->prefix);
	char *wsgen_key = td_rkey_wsgen(s->prefix), genbuf[24], ordbuf[24];
	const char **argv = NULL;
	redisReply *r = NULL;
	int rv = 0;

	*previous = 0;
	if (gen_key == NULL || ws_key == NULL || w_key == NULL || idx_key == NULL ||
	    wsgen_key == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(genbuf, sizeof(genbuf), "%" PRIu64, gen);
	snprintf(ordbuf, sizeof(ordbuf), "%u", w->order);
	{
		const char *fixed[] = { "EVAL", switch_lua, "5", w_key, idx_key, wsgen_key, ws_key,
			gen_key, s->lease_ms > 0 ? s->holder : "", w->name, mode, genbuf, ordbuf,
			w->status_json != NULL ? w->status_json : "", s->prefix,
			s->hold_gen ? "0" : "1" };
		size_t nf = sizeof(fixed) / sizeof(fixed[0]), nc = cl != NULL ? cl->n : 0;
		if ((argv = calloc(nf + 2 * nc, sizeof(*argv))) == NULL) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			goto out;
		}
		memcpy(argv, fixed, sizeof(fixed));
		for (size_t i = 0; i < nc; i++) {
			argv[nf + 2 * i] = cl->field[i];
			argv[nf + 2 * i + 1] = cl->value[i];
		}
		if ((rv = command(s, &r, err, "switch", (int)(nf + 2 * nc), argv)) != 0) {
			goto out;
		}
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER ||
	    (r->element[0]->integer == 1 &&
		(r->elements != 4 || r->element[1]->type != REDIS_REPLY_STRING ||
		    r->element[2]->type != REDIS_REPLY_INTEGER ||
		    r->element[3]->type != REDIS_REPLY_INTEGER))) {
		rv = td_error_set(err, TD_EPROTO,
		    "redis %s:%d: switch of workspace %s: unexpected reply", s->host, s->port,
		    w->name);
	} else if (r->element[0]->integer != 1) {
		rv = td_error_set(err, TD_EBUSY,
		    "workspace %s not switched: this state-loader (%s) no longer holds the write lease",
		    w->name, s->holder);
	} else {
		*previous = strtoull(r->element[1]->str, NULL, 10);
		res->moved += (size_t)r->element[2]->integer;
		res->conflicts += (size_t)r->element[3]->integer;
	}
out:
	freeReplyObject(r);
	free(argv);
	free(w_key);
	free(gen_key);
	free(ws_key);
	free(idx_key);
	free(wsgen_key);
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
		if ((rv = pl_add(&p, s->grace_ms > 0 ? 3 : 2, argv, lens, err)) != 0) {
			return rv;
		}
	}
	return pl_flush(&p, err);
}

/* Retires the four keys of workspace ws's generation gen. */
static int
retire_generation(store *s, uint64_t gen, const char *ws, td_error *err)
{
	char *keys[4] = { td_rkey_res(s->prefix, gen, ws), td_rkey_ids(s->prefix, gen, ws),
		td_rkey_nodes(s->prefix, gen, ws), td_rkey_edges(s->prefix, gen, ws) };
	int rv;

	if (keys[0] == NULL || keys[1] == NULL || keys[2] == NULL || keys[3] == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
	} else {
		rv = retire_keys(s, keys, 4, err);
	}
	for (size_t i = 0; i < 4; i++) {
		free(keys[i]);
	}
	return rv;
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

/* The generations P wsgen points at, sorted (the live ones). */
typedef struct genset {
	uint64_t *v;
	size_t n;
} genset;

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool
genset_has(const genset *g, uint64_t gen)
{
	return g->n != 0 && bsearch(&gen, g->v, g->n, sizeof(*g->v), u64_cmp) != NULL;
}

/* Among keys[], the ones of a generation no workspace points at and
 * without a TTL get the grace TTL. */
static int
retire_scanned(store *s, redisReply *keys, const genset *live, td_error *err)
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
		if (*end == ':' && !genset_has(live, g)) {
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

/* Reads P wsgen: *names and *gens (n each, owned by the caller: free each
 * name, then both arrays). */
static int
read_wsgen(store *s, char ***names, uint64_t **gens, size_t *n, td_error *err)
{
	char *key = td_rkey_wsgen(s->prefix);
	const char *argv[] = { "HGETALL", key };
	redisReply *r = NULL;
	size_t i, m;
	int rv;

	*names = NULL;
	*gens = NULL;
	*n = 0;
	if (key == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	if ((rv = command(s, &r, err, "HGETALL wsgen", 2, argv)) != 0) {
		goto out;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
		rv = td_error_set(err, TD_EPROTO, "redis: HGETALL %s: unexpected reply", key);
		goto out;
	}
	m = r->elements / 2;
	*names = calloc(m + 1, sizeof(**names));
	*gens = calloc(m + 1, sizeof(**gens));
	if (*names == NULL || *gens == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < m; i++) {
		if (r->element[2 * i]->type != REDIS_REPLY_STRING ||
		    r->element[2 * i + 1]->type != REDIS_REPLY_STRING) {
			continue;
		}
		if (((*names)[*n] = strdup(r->element[2 * i]->str)) == NULL) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			goto out;
		}
		(*gens)[(*n)++] = strtoull(r->element[2 * i + 1]->str, NULL, 10);
	}
out:
	if (rv != 0 && *names != NULL) {
		for (i = 0; i < *n; i++) {
			free((*names)[i]);
		}
		free(*names);
		free(*gens);
		*names = NULL;
		*gens = NULL;
		*n = 0;
	}
	freeReplyObject(r);
	free(key);
	return rv;
}

int
store_workspaces(store *s, char ***names, size_t *n, td_error *err)
{
	uint64_t *gens = NULL;
	int rv;

	*names = NULL;
	*n = 0;
	if ((rv = store_connect(s, err)) != 0) {
		return rv;
	}
	rv = read_wsgen(s, names, &gens, n, err);
	free(gens);
	return rv;
}

/* Every key of a generation no workspace points at (leftovers of a crash or
 * of a failed write) gets the grace TTL. */
static int
sweep(store *s, bool (*cancel)(void *), void *cancel_arg, td_error *err)
{
	char *pattern = scan_pattern(s->prefix);
	char cursor[32] = "0", **names = NULL;
	genset live = { 0 };
	redisReply *r = NULL;
	size_t i;
	int rv = 0;

	if (pattern == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	if ((rv = read_wsgen(s, &names, &live.v, &live.n, err)) != 0) {
		goto out;
	}
	if (live.n != 0) {
		qsort(live.v, live.n, sizeof(*live.v), u64_cmp);
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
		if ((rv = retire_scanned(s, r->element[1], &live, err)) != 0) {
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
	for (i = 0; names != NULL && i < live.n; i++) {
		free(names[i]);
	}
	free(names);
	free(live.v);
	freeReplyObject(r);
	free(pattern);
	return rv;
}

int
store_sweep(store *s, bool (*cancel)(void *), void *cancel_arg, td_error *err)
{
	int rv;

	if (!s->full_sweep) {
		return 0;
	}
	if ((rv = store_connect(s, err)) != 0) {
		return rv;
	}
	if ((rv = sweep(s, cancel, cancel_arg, err)) == 0) {
		s->full_sweep = false;
	}
	return rv;
}

/* A new generation from P gen_seq, above every one this store has seen (if
 * gen_seq went back, Redis restarted empty: generations keep increasing, so
 * a new one never reuses the names of keys about to be retired). */
static int
next_generation(store *s, uint64_t *gen, td_error *err)
{
	char *seq_key = td_rkey_gen_seq(s->prefix), by[24];
	redisReply *r = NULL;
	int rv;

	*gen = 0;
	if (seq_key == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
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
	if ((uint64_t)r->integer <= s->max_gen) {
		const char *argv[] = { "INCRBY", seq_key, by };
		snprintf(by, sizeof(by), "%" PRIu64, s->max_gen - (uint64_t)r->integer + 1);
		freeReplyObject(r);
		r = NULL;
		if ((rv = command(s, &r, err, "INCRBY gen_seq", 3, argv)) != 0) {
			goto out;
		}
		if (r->type != REDIS_REPLY_INTEGER || (uint64_t)r->integer <= s->max_gen) {
			rv = td_error_set(err, TD_EPROTO, "redis: INCRBY %s: unexpected reply",
			    seq_key);
			goto out;
		}
	}
	*gen = (uint64_t)r->integer;
	s->max_gen = *gen;
out:
	freeReplyObject(r);
	free(seq_key);
	return rv;
}

int
store_switch_workspace(store *s, const store_workspace *w, bool (*cancel)(void *), void *cancel_arg,
    store_result *res, td_error *err)
{
	pipeline *p = NULL;
	td_rbatch *b = NULL;
	claims cl = { 0 };
	uint64_t gen, previous = 0;
	bool swept = false; /* no leftovers were known before this write */
	const char *mode = w->state != NULL ? "w" : "r";
	int rv;

	*res = (store_result){ 0 };
	if ((rv = store_connect(s, err)) != 0) {
		return rv;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->s = s, td_rbatch_new(&b, batch_emit, p)) != 0) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	if ((rv = next_generation(s, &gen, err)) != 0) {
		goto out;
	}
	if (w->state != NULL) {
		/* from here a failure leaves keys of an unswitched generation behind */
		swept = !s->full_sweep;
		s->full_sweep = true;
		if ((rv = write_resources(p, gen, w, b, res, cancel, cancel_arg, err)) != 0 ||
		    (rv = write_graph(p, gen, w, b, res, err)) != 0 ||
		    (rv = pl_flush(p, err)) != 0 ||
		    (rv = collect_claims(p, w, &cl, res, err)) != 0) {
			goto out;
		}
	}
	if ((rv = switch_workspace(s, w, mode, gen, &cl, &previous, res, err)) != 0) {
		if (rv == TD_EBUSY && w->state != NULL) {
			/* fenced off: the writer's sweep does not know these keys */
			td_error rerr = { 0 };
			(void)retire_generation(s, gen, w->name, &rerr);
		}
		goto out;
	}
	res->generation = gen;
	res->previous = previous;
	if (swept) {
		s->full_sweep = false; /* nothing was left behind after all */
	}
	res->conflicts += p->conflicts;
	if (previous != 0) {
		td_error rerr = { 0 };
		if (retire_generation(s, previous, w->name, &rerr) != 0) {
			s->full_sweep = true;
			TD_WARN("old generation of a workspace not retired; will scan for it",
			    TD_KV_STR("workspace", w->name), TD_KV_STR("error", rerr.msg));
		}
	}
out:
	if (rv != 0 && p != NULL && p->pending > 0 && s->rc != NULL) {
		/* replies still owed on this connection: drop it rather than resync */
		conn_fail(s, "abandoned pipeline", NULL);
	}
	td_rbatch_free(b);
	claims_free(&cl);
	free(p);
	return rv;
}

void
store_hold_generation(store *s, bool hold)
{
	s->hold_gen = hold;
}

/* KEYS writer, gen; ARGV holder ("" without a lease), generation. */
static const char publish_lua[] =
    "if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end "
    "redis.call('SET', KEYS[2], ARGV[2]) return 1";

int
store_publish_generation(store *s, uint64_t *gen, td_error *err)
{
	char *w_key = td_rkey_writer(s->prefix), *gen_key = td_rkey_gen(s->prefix), genbuf[24];
	redisReply *r = NULL;
	int rv;

	if (w_key == NULL || gen_key == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	if ((rv = store_connect(s, err)) != 0 ||
	    (*gen == 0 && (rv = next_generation(s, gen, err)) != 0)) {
		goto out;
	}
	snprintf(genbuf, sizeof(genbuf), "%" PRIu64, *gen);
	{
		const char *argv[] = { "EVAL", publish_lua, "2", w_key, gen_key,
			s->lease_ms > 0 ? s->holder : "", genbuf };
		if ((rv = command(s, &r, err, "publish gen", 7, argv)) != 0) {
			goto out;
		}
	}
	if (r->type != REDIS_REPLY_INTEGER) {
		rv = td_error_set(err, TD_EPROTO,
		    "redis %s:%d: publish generation: unexpected reply", s->host, s->port);
	} else if (r->integer != 1) {
		rv = td_error_set(err, TD_EBUSY,
		    "generation %s not published: this state-loader (%s) no longer holds the write lease",
		    genbuf, s->holder);
	}
out:
	freeReplyObject(r);
	free(w_key);
	free(gen_key);
	return rv;
}

int
store_set_status(store *s, const char *name, const char *status_json, td_error *err)
{
	store_workspace w = { .name = name, .status_json = status_json };
	store_result res = { 0 };
	uint64_t previous;
	int rv;

	if ((rv = store_connect(s, err)) != 0) {
		return rv;
	}
	return switch_workspace(s, &w, "s", 0, NULL, &previous, &res, err);
}
