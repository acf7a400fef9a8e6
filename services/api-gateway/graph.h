/* graph.h — reads of state-loader's Redis layout (docs/redis-keys.md):
 * `workspaces`, `gen`, `wsgen` (each workspace's own generation) and, per
 * workspace at its generation, `g:<gen>:res:<workspace>` (address ->
 * attributes), `g:<gen>:nodes:<workspace>` and `g:<gen>:edges:<workspace>`.
 *
 * Each call takes a connection from a small pool (libcommon's
 * td_redis_pool: a few idle connections kept, one idle for a while PINGed
 * before use) and gives it back, so any number of HTTP threads may call at
 * once and a request does not pay for connect, AUTH and SELECT.
 *
 * Graph pages walk the workspaces of `wsgen` (by name) and each one's nodes
 * hash with HSCAN: the cursor is "<that workspace's generation>.<workspace
 * index>.<HSCAN cursor>", so a page is about limit nodes (HSCAN returns
 * batches) and never the whole state.  When the workspace the cursor resumes
 * in has switched meanwhile (or a workspace was added or removed before it,
 * so the index names another one: generations are never reused), the walk
 * ends: the stale cursor is refused with TD_ERANGE.  Other workspaces
 * switching do not disturb it.  A walk of one workspace (filter.workspace)
 * reads that workspace's generation alone (its cursors' index is 0).
 *
 * Edges: the edges hash (field: source; value: JSON array of targets, or
 * newline-separated targets); a set, list or sorted set of
 * "source\ttarget" members is read too.  A page carries the edges whose
 * source is on it; a target is what state-loader recorded (Terraform's
 * dependencies name resources, so for count/for_each it lacks the index). */
#ifndef TFDRIFT_GW_GRAPH_H
#define TFDRIFT_GW_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "tfdrift/error.h"

typedef struct gw_graph gw_graph;

typedef struct gw_graph_opts {
	const char *host;
	int port;
	const char *password; /* "" for none */
	int db;
	const char *prefix;
	int timeout_ms;
} gw_graph_opts;

typedef struct gw_graph_filter {
	const char *workspace; /* NULL: every workspace */
	const char *type;      /* NULL: any */
	const char *module;    /* "module.net" prefix, NULL: any */
	const char *cursor;    /* NULL: first page */
	int limit;
} gw_graph_filter;

/* One node of a page; strings owned by the page. */
typedef struct gw_graph_node {
	char *workspace, *address, *type, *module;
	char *parent; /* the containing node's id ("ws:address"), NULL when none */
} gw_graph_node;

typedef struct gw_graph_page {
	gw_graph_node *nodes;
	size_t n;
	cJSON *edges;         /* array of {"data":{"id","source","target"}} */
	char next_cursor[64]; /* "" when done */
	/* P gen when the page was read: the latest switch of any workspace (0:
	 * nothing loaded).  Each workspace has its own generation; the cursor
	 * carries the one of the workspace it resumes in. */
	uint64_t generation;
} gw_graph_page;

/* Copies opts.  *out owned by caller. */
int gw_graph_new(gw_graph **out, const gw_graph_opts *opts, td_error *err);
void gw_graph_free(gw_graph *g);

/* *generation: P gen, the generation of the latest switch of any workspace
 * (0 while nothing is loaded).  TD_EDEPEND when Redis cannot be reached
 * (err says why). */
int gw_graph_ping(gw_graph *g, uint64_t *generation, td_error *err);

/* *out: a JSON array of {"name":..., <the workspace's JSON>}, sorted by name;
 * owned by caller. */
int gw_graph_workspaces(gw_graph *g, cJSON **out, td_error *err);

/* The attributes of address in workspace, at its current generation (NULL:
 * search every workspace, one pipelined HGET each; TD_EEXIST when it is in
 * more than one).  *attrs (parsed JSON) and *found_ws owned by the caller.
 * TD_ENOTFOUND when absent. */
int gw_graph_resource(gw_graph *g, const char *workspace, const char *address, cJSON **attrs,
    char **found_ws, td_error *err);

/* One page of nodes.  TD_EINVAL for a malformed cursor, TD_ERANGE for one
 * whose workspace switched to another generation since.  Release with
 * gw_graph_page_free. */
int gw_graph_page_read(gw_graph *g, const gw_graph_filter *f, gw_graph_page *page, td_error *err);
void gw_graph_page_free(gw_graph_page *page);

/* The resource type and module of a Terraform address
 * ("module.a.module.b.aws_instance.web[0]" -> "aws_instance", "module.a.module.b").
 * Writes "" when there is none. */
void gw_address_parts(const char *address, char *type, size_t tlen, char *module, size_t mlen);

#endif
