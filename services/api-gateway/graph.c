/* graph.c — see graph.h. */
#include "graph.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "tfdrift/attrs_codec.h"
#include "tfdrift/redis.h"
#include "tfdrift/redis_keys.h"

/* Workspaces a walk or a search takes (the rest are not read; a cursor
 * naming a higher index is refused). */
#define MAX_WORKSPACES 65536

/* Idle Redis connections kept for the next request (the HTTP threads seldom
 * read the graph all at once). */
#define POOL_IDLE 8

struct gw_graph {
	td_redis_pool *pool;
	char *prefix;
};

/* *out owned by caller. */
int
gw_graph_new(gw_graph **out, const gw_graph_opts *o, td_error *err)
{
	*out = NULL;
	gw_graph *g = calloc(1, sizeof(*g));
	if (g == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	td_redis_opts ro = { .host = o->host,
		.port = o->port,
		.password = o->password,
		.db = o->db,
		.timeout_ms = o->timeout_ms };
	int rv = td_redis_pool_new(&g->pool, &ro, POOL_IDLE, err);
	if (rv != 0) {
		free(g);
		return rv;
	}
	if ((g->prefix = strdup(o->prefix != NULL ? o->prefix : "")) == NULL) {
		gw_graph_free(g);
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	*out = g;
	return 0;
}

void
gw_graph_free(gw_graph *g)
{
	if (g == NULL) {
		return;
	}
	td_redis_pool_free(g->pool);
	free(g->prefix);
	free(g);
}

/* A pooled connection, *out given back with release. */
static int
dial(gw_graph *g, redisContext **out, td_error *err)
{
	return td_redis_pool_take(g->pool, out, err);
}

static void
release(gw_graph *g, redisContext *c)
{
	td_redis_pool_put(g->pool, c, false);
}

/* The current generation; 0 when state-loader has written none. */
static int
current_gen(gw_graph *g, redisContext *c, uint64_t *gen, td_error *err)
{
	char *key = td_rkey_gen(g->prefix);
	redisReply *r = key != NULL ? td_redis_command(c, err, "GET %s", key) : NULL;
	*gen = 0;
	if (key == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	free(key);
	if (r == NULL) {
		return TD_EDEPEND;
	}
	if (r->type == REDIS_REPLY_STRING) {
		*gen = strtoull(r->str, NULL, 10);
	}
	freeReplyObject(r);
	return 0;
}

int
gw_graph_ping(gw_graph *g, uint64_t *generation, td_error *err)
{
	redisContext *c = NULL;
	int rv = dial(g, &c, err);
	if (rv == 0) {
		rv = current_gen(g, c, generation, err);
	}
	release(g, c);
	return rv;
}

static int
by_name(const void *a, const void *b)
{
	const cJSON *x = *(cJSON *const *)a, *y = *(cJSON *const *)b;
	return strcmp(cJSON_GetObjectItemCaseSensitive(x, "name")->valuestring,
	    cJSON_GetObjectItemCaseSensitive(y, "name")->valuestring);
}

/* *out owned by caller. */
int
gw_graph_workspaces(gw_graph *g, cJSON **out, td_error *err)
{
	redisContext *c = NULL;
	redisReply *r = NULL;
	cJSON **items = NULL;
	cJSON *arr = NULL;
	int rv;
	*out = NULL;
	if ((rv = dial(g, &c, err)) != 0) {
		goto out;
	}
	char *key = td_rkey_workspaces(g->prefix);
	if (key == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	r = td_redis_command(c, err, "HGETALL %s", key);
	free(key);
	if (r == NULL) {
		rv = TD_EDEPEND;
		goto out;
	}
	size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements / 2 : 0;
	items = calloc(n + 1, sizeof(*items));
	arr = cJSON_CreateArray();
	if (items == NULL || arr == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const redisReply *k = r->element[2 * i], *v = r->element[2 * i + 1];
		cJSON *o = v->type == REDIS_REPLY_STRING ? cJSON_Parse(v->str) : NULL;
		if (o == NULL || !cJSON_IsObject(o)) {
			/* state-loader writes objects; anything else is shown, not trusted */
			cJSON_Delete(o);
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "last_error",
			    "unreadable workspace record in Redis");
		}
		cJSON_DeleteItemFromObjectCaseSensitive(o, "name");
		cJSON_AddItemToObject(o, "name",
		    cJSON_CreateString(k->type == REDIS_REPLY_STRING ? k->str : ""));
		items[i] = o;
	}
	qsort(items, n, sizeof(*items), by_name);
	for (size_t i = 0; i < n; i++) {
		cJSON_AddItemToArray(arr, items[i]);
		items[i] = NULL;
	}
	*out = arr;
	arr = NULL;
out:
	if (items != NULL) {
		for (size_t i = 0; r != NULL && i < r->elements / 2; i++) {
			cJSON_Delete(items[i]);
		}
	}
	free(items);
	cJSON_Delete(arr);
	if (r != NULL) {
		freeReplyObject(r);
	}
	release(g, c);
	return rv;
}

/* The workspaces of P wsgen and each one's generation, sorted by name (a
 * stable order, so a cursor's workspace index means the same workspace on
 * every page while none is added or removed).  A workspace with no
 * generation (never loaded) has nothing to read and is not listed. */
typedef struct ws_gens {
	char **names; /* NULL-terminated (n or more: free them all) */
	uint64_t *gens;
	size_t n;
} ws_gens;

static void
ws_gens_free(ws_gens *w)
{
	for (size_t i = 0; w->names != NULL && w->names[i] != NULL; i++) {
		free(w->names[i]);
	}
	free(w->names);
	free(w->gens);
	memset(w, 0, sizeof(*w));
}

typedef struct ws_gen_pair {
	char *name;
	uint64_t gen;
} ws_gen_pair;

static int
by_pair_name(const void *a, const void *b)
{
	return strcmp(((const ws_gen_pair *)a)->name, ((const ws_gen_pair *)b)->name);
}

/* A generation as P wsgen holds it: digits, not 0; else 0. */
static uint64_t
parse_gen(const redisReply *v)
{
	char *end = NULL;
	uint64_t g;
	if (v->type != REDIS_REPLY_STRING || !isdigit((unsigned char)v->str[0])) {
		return 0;
	}
	g = strtoull(v->str, &end, 10);
	return *end == '\0' ? g : 0;
}

/* *w owned by the caller (ws_gens_free, also on failure). */
static int
read_ws_gens(gw_graph *g, redisContext *c, ws_gens *w, td_error *err)
{
	char *key = td_rkey_wsgen(g->prefix);
	redisReply *r = key != NULL ? td_redis_command(c, err, "HGETALL %s", key) : NULL;
	ws_gen_pair *v = NULL;
	size_t cnt, n = 0;
	int rv = 0;
	memset(w, 0, sizeof(*w));
	if (key == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	free(key);
	if (r == NULL) {
		return TD_EDEPEND;
	}
	cnt = r->type == REDIS_REPLY_ARRAY ? r->elements / 2 : 0;
	if (cnt > MAX_WORKSPACES) {
		cnt = MAX_WORKSPACES;
	}
	v = calloc(cnt + 1, sizeof(*v));
	w->names = calloc(cnt + 1, sizeof(*w->names));
	w->gens = calloc(cnt + 1, sizeof(*w->gens));
	if (v == NULL || w->names == NULL || w->gens == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < cnt; i++) {
		const redisReply *k = r->element[2 * i];
		uint64_t gen = parse_gen(r->element[2 * i + 1]);
		if (k->type != REDIS_REPLY_STRING || gen == 0) {
			continue; /* the state-loader writes neither */
		}
		v[n].gen = gen;
		if ((v[n++].name = strdup(k->str)) == NULL) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (n > 1) {
		qsort(v, n, sizeof(*v), by_pair_name);
	}
	for (size_t i = 0; i < n; i++) {
		w->names[i] = v[i].name;
		w->gens[i] = v[i].gen;
		v[i].name = NULL;
	}
	w->n = n;
out:
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i].name);
	}
	free(v);
	freeReplyObject(r);
	return rv;
}

/* The generation of one workspace (HGET P wsgen); 0 when it has none. */
static int
one_ws_gen(gw_graph *g, redisContext *c, const char *ws, uint64_t *gen, td_error *err)
{
	char *key = td_rkey_wsgen(g->prefix);
	redisReply *r = key != NULL ? td_redis_command(c, err, "HGET %s %s", key, ws) : NULL;
	*gen = 0;
	if (key == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	free(key);
	if (r == NULL) {
		return TD_EDEPEND;
	}
	*gen = parse_gen(r);
	freeReplyObject(r);
	return 0;
}

/* *w: the workspace name alone, when it has a generation (n 0 when not
 * loaded: nothing in it).  *w owned by the caller (ws_gens_free). */
static int
read_one_ws_gen(gw_graph *g, redisContext *c, const char *name, ws_gens *w, td_error *err)
{
	memset(w, 0, sizeof(*w));
	w->names = calloc(2, sizeof(*w->names));
	w->gens = calloc(1, sizeof(*w->gens));
	if (w->names == NULL || w->gens == NULL || (w->names[0] = strdup(name)) == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	int rv = one_ws_gen(g, c, name, &w->gens[0], err);
	w->n = rv == 0 && w->gens[0] != 0 ? 1 : 0;
	return rv;
}

/* HGET P g:<gen>:res:<ws> address for each workspace of w, pipelined (one
 * round trip whatever their number); rep[i] owned by the caller. */
static int
hget_res_all(gw_graph *g, redisContext *c, const ws_gens *w, const char *address, redisReply **rep,
    td_error *err)
{
	size_t sent = 0;
	int rv = 0;
	for (size_t i = 0; i < w->n; i++) {
		char *key = td_rkey_res(g->prefix, w->gens[i], w->names[i]);
		if (key == NULL) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			break;
		}
		int ok = redisAppendCommand(c, "HGET %s %s", key, address);
		free(key);
		if (ok != REDIS_OK) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			break;
		}
		sent++;
	}
	/* every reply sent is read, so the connection stays in step */
	for (size_t i = 0; i < sent; i++) {
		void *one = NULL;
		if (redisGetReply(c, &one) != REDIS_OK) {
			return td_error_set(err, TD_EDEPEND, "redis: %s",
			    c->errstr[0] ? c->errstr : "connection lost");
		}
		rep[i] = one;
		if (rep[i]->type == REDIS_REPLY_ERROR && rv == 0) {
			rv = td_error_set(err, TD_EDEPEND, "redis: %s", rep[i]->str);
		}
	}
	return rv;
}

/* *attrs and *found_ws owned by caller. */
int
gw_graph_resource(gw_graph *g, const char *workspace, const char *address, cJSON **attrs,
    char **found_ws, td_error *err)
{
	redisContext *c = NULL;
	redisReply **rep = NULL;
	ws_gens w = { 0 };
	uint64_t gen = 0;
	bool broken = false;
	int rv;
	*attrs = NULL;
	*found_ws = NULL;
	if ((rv = dial(g, &c, err)) != 0 || (rv = current_gen(g, c, &gen, err)) != 0) {
		goto out;
	}
	if (gen == 0) {
		rv = td_error_set(err, TD_ENOTFOUND, "no state has been loaded");
		goto out;
	}
	/* the workspaces to look in, each at its own generation */
	if ((rv = workspace != NULL ? read_one_ws_gen(g, c, workspace, &w, err)
				    : read_ws_gens(g, c, &w, err)) != 0) {
		goto out;
	}
	if ((rep = calloc(w.n + 1, sizeof(*rep))) == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	if ((rv = hget_res_all(g, c, &w, address, rep, err)) != 0) {
		broken = rv == TD_EDEPEND;
		goto out;
	}
	for (size_t i = 0; i < w.n; i++) {
		if (rep[i] == NULL || rep[i]->type != REDIS_REPLY_STRING) {
			continue;
		}
		if (*attrs != NULL) {
			rv = td_error_set(err, TD_EEXIST,
			    "workspace: %s exists in more than one workspace; name one", address);
			goto out;
		}
		/* stored packed (tfdrift/attrs_codec.h) */
		char *json = NULL;
		rv = td_attrs_unpack(rep[i]->str, rep[i]->len, &json, NULL);
		if (rv == TD_ENOMEM) {
			rv = td_error_set(err, rv, "out of memory");
			goto out;
		}
		*attrs = rv == 0 ? cJSON_Parse(json) : NULL;
		free(json);
		if (*attrs == NULL) {
			rv = td_error_set(err, TD_EDEPEND,
			    "redis: unreadable attributes of %s in workspace %s (generation %" PRIu64
			    ")",
			    address, w.names[i], w.gens[i]);
			goto out;
		}
		if ((*found_ws = strdup(w.names[i])) == NULL) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (*attrs == NULL) {
		rv = td_error_set(err, TD_ENOTFOUND, "no resource %s%s%s", address,
		    workspace != NULL ? " in workspace " : "", workspace != NULL ? workspace : "");
	}
out:
	if (rv != 0) {
		cJSON_Delete(*attrs);
		*attrs = NULL;
		free(*found_ws);
		*found_ws = NULL;
	}
	for (size_t i = 0; rep != NULL && i < w.n; i++) {
		if (rep[i] != NULL) {
			freeReplyObject(rep[i]);
		}
	}
	free(rep);
	ws_gens_free(&w);
	if (c != NULL) {
		td_redis_pool_put(g->pool, c, broken);
	}
	return rv;
}

void
gw_address_parts(const char *address, char *type, size_t tlen, char *module, size_t mlen)
{
	const char *p = address, *mod_end = address;
	type[0] = '\0';
	module[0] = '\0';
	/* "module.NAME[key]." repeated, then optionally "data.", then TYPE.NAME */
	while (strncmp(p, "module.", 7) == 0) {
		const char *q = p + 7;
		q += strcspn(q, ".[");
		if (*q == '[') {
			const char *close = strchr(q, ']');
			if (close == NULL) {
				return;
			}
			q = close + 1;
		}
		if (*q != '.') {
			return;
		}
		mod_end = q;
		p = q + 1;
	}
	if (mod_end != address) {
		snprintf(module, mlen, "%.*s", (int)(mod_end - address), address);
	}
	if (strncmp(p, "data.", 5) == 0) {
		p += 5;
	}
	size_t n = strcspn(p, ".");
	if (p[n] == '.') {
		snprintf(type, tlen, "%.*s", (int)n, p);
	}
}

/* Appends s to buf with Redis glob metacharacters escaped. */
static void
glob_escape(char *buf, size_t len, const char *s)
{
	size_t o = strlen(buf);
	for (; *s != '\0' && o + 3 < len; s++) {
		if (strchr("*?[]\\", *s) != NULL) {
			buf[o++] = '\\';
		}
		buf[o++] = *s;
	}
	buf[o] = '\0';
}

static int
page_push(gw_graph_page *p, size_t *cap, const char *ws, const char *addr)
{
	if (p->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		gw_graph_node *v = realloc(p->nodes, nc * sizeof(*v));
		if (v == NULL) {
			return TD_ENOMEM;
		}
		p->nodes = v;
		*cap = nc;
	}
	char type[128], module[512];
	gw_address_parts(addr, type, sizeof(type), module, sizeof(module));
	gw_graph_node *nd = &p->nodes[p->n];
	nd->workspace = strdup(ws);
	nd->address = strdup(addr);
	nd->type = strdup(type);
	nd->module = strdup(module);
	nd->parent = NULL;
	p->n++;
	if (nd->workspace == NULL || nd->address == NULL || nd->type == NULL ||
	    nd->module == NULL) {
		return TD_ENOMEM;
	}
	return 0;
}

static int
add_edge(cJSON *edges, const char *ws, const char *src, const char *dst)
{
	char id[2048];
	snprintf(id, sizeof(id), "%s:%s->%s:%s", ws, src, ws, dst);
	char s[1024], d[1024];
	snprintf(s, sizeof(s), "%s:%s", ws, src);
	snprintf(d, sizeof(d), "%s:%s", ws, dst);
	cJSON *e = cJSON_CreateObject();
	cJSON *data = cJSON_AddObjectToObject(e, "data");
	if (data == NULL || cJSON_AddStringToObject(data, "id", id) == NULL ||
	    cJSON_AddStringToObject(data, "source", s) == NULL ||
	    cJSON_AddStringToObject(data, "target", d) == NULL) {
		cJSON_Delete(e);
		return TD_ENOMEM;
	}
	cJSON_AddItemToArray(edges, e);
	return 0;
}

static bool
on_page(const gw_graph_page *p, const char *ws, const char *addr)
{
	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->nodes[i].workspace, ws) == 0 &&
		    strcmp(p->nodes[i].address, addr) == 0) {
			return true;
		}
	}
	return false;
}

/* Targets in v: a JSON array of strings, or newline-separated. */
static int
add_targets(cJSON *edges, const char *ws, const char *src, const char *v)
{
	int rv = 0;
	cJSON *arr = v[0] == '[' ? cJSON_Parse(v) : NULL;
	if (arr != NULL) {
		const cJSON *t;
		cJSON_ArrayForEach(t, arr)
		{
			if (cJSON_IsString(t) && rv == 0) {
				rv = add_edge(edges, ws, src, t->valuestring);
			}
		}
		cJSON_Delete(arr);
		return rv;
	}
	char one[1024];
	for (const char *p = v; *p != '\0' && rv == 0;) {
		size_t n = strcspn(p, "\n");
		if (n > 0 && n < sizeof(one)) {
			snprintf(one, sizeof(one), "%.*s", (int)n, p);
			rv = add_edge(edges, ws, src, one);
		}
		p += n;
		if (*p == '\n') {
			p++;
		}
	}
	return rv;
}

/* The edges of ws (in key) whose source is on the page. */
static int
read_edges_at(redisContext *c, const char *key, const char *ws, gw_graph_page *p, td_error *err)
{
	redisReply *t = td_redis_command(c, err, "TYPE %s", key);
	if (t == NULL) {
		return TD_EDEPEND;
	}
	char type[16];
	snprintf(type, sizeof(type), "%s", t->type == REDIS_REPLY_STATUS ? t->str : "none");
	freeReplyObject(t);
	int rv = 0;
	if (strcmp(type, "hash") == 0) {
		for (size_t i = 0; i < p->n && rv == 0; i++) {
			if (strcmp(p->nodes[i].workspace, ws) != 0) {
				continue;
			}
			redisReply *r = td_redis_command(c, err, "HGET %s %s", key,
			    p->nodes[i].address);
			if (r == NULL) {
				return TD_EDEPEND;
			}
			if (r->type == REDIS_REPLY_STRING) {
				rv = add_targets(p->edges, ws, p->nodes[i].address, r->str);
			}
			freeReplyObject(r);
		}
		return rv;
	}
	redisReply *r = NULL;
	if (strcmp(type, "set") == 0) {
		r = td_redis_command(c, err, "SMEMBERS %s", key);
	} else if (strcmp(type, "list") == 0) {
		r = td_redis_command(c, err, "LRANGE %s 0 -1", key);
	} else if (strcmp(type, "zset") == 0) {
		r = td_redis_command(c, err, "ZRANGE %s 0 -1", key);
	} else {
		return 0; /* no edges written (yet) */
	}
	if (r == NULL) {
		return TD_EDEPEND;
	}
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && rv == 0; i++) {
		const redisReply *m = r->element[i];
		const char *tab = m->type == REDIS_REPLY_STRING ? strchr(m->str, '\t') : NULL;
		if (tab == NULL) {
			continue;
		}
		char src[1024];
		snprintf(src, sizeof(src), "%.*s", (int)(tab - m->str), m->str);
		if (on_page(p, ws, src)) {
			rv = add_edge(p->edges, ws, src, tab + 1);
		}
	}
	freeReplyObject(r);
	return rv;
}

static int
read_edges(gw_graph *g, redisContext *c, uint64_t gen, const char *ws, gw_graph_page *p,
    td_error *err)
{
	char *key = td_rkey_edges(g->prefix, gen, ws);
	if (key == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	int rv = read_edges_at(c, key, ws, p, err);
	free(key);
	return rv;
}

static int
parse_cursor(const char *s, uint64_t *gen, unsigned long *ws, unsigned long long *scan)
{
	char *end = NULL;
	if (!isdigit((unsigned char)s[0])) {
		return TD_EINVAL;
	}
	*gen = strtoull(s, &end, 10);
	if (*end != '.' || !isdigit((unsigned char)end[1])) {
		return TD_EINVAL;
	}
	*ws = strtoul(end + 1, &end, 10);
	if (*end != '.' || !isdigit((unsigned char)end[1])) {
		return TD_EINVAL;
	}
	*scan = strtoull(end + 1, &end, 10);
	if (*end != '\0' || *gen == 0 || *ws > MAX_WORKSPACES) {
		return TD_EINVAL;
	}
	return 0;
}

/* Whether a node's module is the filter's module or inside it. */
static bool
module_matches(const char *module, const char *want)
{
	size_t n = strlen(want);
	return strncmp(module, want, n) == 0 &&
	    (module[n] == '\0' || module[n] == '.' || module[n] == '[');
}

/* Adds the nodes of one HSCAN batch (field, value pairs) that pass f. */
static int
take_nodes(gw_graph_page *page, size_t *cap, const char *ws, const redisReply *kv,
    const gw_graph_filter *f)
{
	for (size_t i = 0; i + 1 < kv->elements; i += 2) {
		const char *addr = kv->element[i]->str;
		char type[128], module[512];
		gw_address_parts(addr, type, sizeof(type), module, sizeof(module));
		cJSON *node = cJSON_Parse(kv->element[i + 1]->str);
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(node, "type");
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(node, "module");
		/* state-loader's own type and module win over parsing the address */
		if (cJSON_IsString(t) && t->valuestring[0] != '\0') {
			snprintf(type, sizeof(type), "%s", t->valuestring);
		}
		if (cJSON_IsString(m)) {
			snprintf(module, sizeof(module), "%s", m->valuestring);
		}
		if ((f->type != NULL && strcmp(type, f->type) != 0) ||
		    (f->module != NULL && !module_matches(module, f->module))) {
			cJSON_Delete(node);
			continue;
		}
		/* the container's node id, when state-loader found one (contain.h) */
		const cJSON *parent = cJSON_GetObjectItemCaseSensitive(node, "parent");
		char *pdup = cJSON_IsString(parent) ? strdup(parent->valuestring) : NULL;
		bool pfail = cJSON_IsString(parent) && pdup == NULL;
		cJSON_Delete(node);
		if (pfail || page_push(page, cap, ws, addr) != 0) {
			free(pdup);
			return TD_ENOMEM;
		}
		page->nodes[page->n - 1].parent = pdup;
		free(page->nodes[page->n - 1].type);
		free(page->nodes[page->n - 1].module);
		page->nodes[page->n - 1].type = strdup(type);
		page->nodes[page->n - 1].module = strdup(module);
		if (page->nodes[page->n - 1].type == NULL ||
		    page->nodes[page->n - 1].module == NULL) {
			return TD_ENOMEM;
		}
	}
	return 0;
}

/* page released with gw_graph_page_free (also on failure). */
int
gw_graph_page_read(gw_graph *g, const gw_graph_filter *f, gw_graph_page *page, td_error *err)
{
	redisContext *c = NULL;
	ws_gens w = { 0 };
	size_t cap = 0;
	uint64_t gen = 0;
	unsigned long wsi = 0;
	unsigned long long scan = 0;
	int rv;
	memset(page, 0, sizeof(*page));
	if ((page->edges = cJSON_CreateArray()) == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	if ((rv = dial(g, &c, err)) != 0 || (rv = current_gen(g, c, &gen, err)) != 0) {
		goto out;
	}
	page->generation = gen;
	/* one workspace asked for: its generation alone (a cursor's index is
	 * then 0), not the list of every workspace on every page */
	if (gen != 0 &&
	    (rv = f->workspace != NULL ? read_one_ws_gen(g, c, f->workspace, &w, err)
				       : read_ws_gens(g, c, &w, err)) != 0) {
		goto out;
	}
	if (f->cursor != NULL) {
		uint64_t cgen;
		if (parse_cursor(f->cursor, &cgen, &wsi, &scan) != 0) {
			rv = td_error_set(err, TD_EINVAL, "cursor: not a cursor this API returned");
			goto out;
		}
		/* generations are never reused: the workspace the walk stopped in
		 * is still at the same index and generation, or the walk is over */
		if (wsi >= w.n || w.gens[wsi] != cgen) {
			rv = td_error_set(err, TD_ERANGE,
			    "cursor: the state changed since this walk began; start again without it");
			goto out;
		}
	}
	if (w.n == 0) {
		goto out; /* nothing loaded: an empty graph */
	}
	char pat[1024] = "*";
	if (f->module != NULL) {
		pat[0] = '\0';
		glob_escape(pat, sizeof(pat), f->module);
		strncat(pat, "*", sizeof(pat) - strlen(pat) - 1);
	}
	while (wsi < w.n && page->n < (size_t)f->limit) {
		char *key = td_rkey_nodes(g->prefix, w.gens[wsi], w.names[wsi]);
		if (key == NULL) {
			rv = td_error_set(err, TD_ENOMEM, "out of memory");
			goto out;
		}
		redisReply *r = td_redis_command(c, err, "HSCAN %s %llu MATCH %s COUNT %d", key,
		    scan, pat, f->limit - (int)page->n);
		free(key);
		if (r == NULL) {
			rv = TD_EDEPEND;
			goto out;
		}
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			rv = td_error_set(err, TD_EDEPEND, "redis: unexpected HSCAN reply");
			goto out;
		}
		scan = strtoull(r->element[0]->str, NULL, 10);
		rv = take_nodes(page, &cap, w.names[wsi], r->element[1], f);
		freeReplyObject(r);
		if (rv != 0) {
			rv = td_error_set(err, rv, "out of memory");
			goto out;
		}
		if (scan == 0) {
			wsi++;
		}
	}
	/* the cursor carries the generation of the workspace it resumes in */
	if (wsi < w.n) {
		snprintf(page->next_cursor, sizeof(page->next_cursor), "%" PRIu64 ".%lu.%llu",
		    w.gens[wsi], wsi, scan);
	}
	for (size_t i = 0; i < w.n && rv == 0; i++) {
		bool used = false;
		for (size_t k = 0; k < page->n && !used; k++) {
			used = strcmp(page->nodes[k].workspace, w.names[i]) == 0;
		}
		if (used) {
			rv = read_edges(g, c, w.gens[i], w.names[i], page, err);
		}
	}
out:
	ws_gens_free(&w);
	release(g, c);
	return rv;
}

void
gw_graph_page_free(gw_graph_page *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->nodes[i].workspace);
		free(p->nodes[i].address);
		free(p->nodes[i].type);
		free(p->nodes[i].module);
		free(p->nodes[i].parent);
	}
	free(p->nodes);
	cJSON_Delete(p->edges);
	memset(p, 0, sizeof(*p));
}
