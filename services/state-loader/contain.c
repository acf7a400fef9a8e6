/* contain.c — see contain.h.
 *
 * Two passes: the first collects every managed aws_vpc and aws_subnet by
 * its `id` (a subnet also keeps its `vpc_id`), sorted for bsearch; the
 * second walks every instance's attributes through the rule table. */
#include "contain.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tfdrift/error.h"

typedef enum {
	TO_SUBNET,
	TO_VPC,
	TO_SUBNET_LIST
} rule_kind;

/* Attributes that place a resource, strongest first: a resource in one
 * subnet nests in the subnet, one spread over several in their VPC. */
static const struct {
	const char *attr;
	rule_kind kind;
} rules[] = {
	{ "subnet_id", TO_SUBNET },
	{ "subnet_ids", TO_SUBNET_LIST },
	{ "subnets", TO_SUBNET_LIST },
	{ "vpc_id", TO_VPC },
};

/* Nested blocks (lists of one object) that are looked into as well. */
static const char *const blocks[] = { "vpc_config", "network_configuration", "subnet_mapping" };

typedef struct box {
	char *ws;     /* its workspace */
	char *id;     /* AWS id: vpc-..., subnet-... */
	char *node;   /* workspace:address */
	char *vpc_id; /* a subnet's VPC id; NULL for a VPC */
	bool is_vpc;
} box;

struct contain_boxes {
	box *v;
	size_t n, cap;
};

struct contain {
	contain_boxes *own; /* contain_build's table; NULL when borrowed */
	const box *boxes;   /* sorted by id */
	size_t nboxes;
	char ***parent; /* [state][instance] -> node id (points into boxes) */
	size_t *ninst;
	size_t n;
	size_t links;
};

static int
box_cmp(const void *a, const void *b)
{
	const box *x = a, *y = b;
	return strcmp(x->id, y->id);
}

static const box *
find_box(const contain *c, const char *id)
{
	box key = { .id = (char *)id };
	return c->nboxes != 0 ? bsearch(&key, c->boxes, c->nboxes, sizeof(box), box_cmp) : NULL;
}

static char *
node_id(const char *ws, const char *address)
{
	size_t n = strlen(ws) + strlen(address) + 2;
	char *s = malloc(n);
	if (s != NULL) {
		snprintf(s, n, "%s:%s", ws, address);
	}
	return s;
}

static const char *
str_attr(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) && v->valuestring[0] != '\0' ? v->valuestring : NULL;
}

/* Cheap test before parsing: could these attributes place the resource? */
static bool
may_place(const tfs_instance *in)
{
	return strstr(in->attributes_json, "vpc_id\"") != NULL ||
	    strstr(in->attributes_json, "subnet") != NULL;
}

/* The container of the object o by the rule table (and its nested blocks),
 * or NULL.  self: the node itself, never its own parent. */
static const box *
place(const contain *c, const cJSON *o, const char *self, int depth)
{
	for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
		const box *b = NULL;
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, rules[r].attr);
		if (rules[r].kind == TO_SUBNET_LIST) {
			const cJSON *first = cJSON_IsArray(v) ? cJSON_GetArrayItem(v, 0) : NULL;
			const box *s = NULL;
			if (first != NULL && cJSON_IsString(first)) {
				s = find_box(c, first->valuestring);
			}
			if (s != NULL && !s->is_vpc) {
				b = cJSON_GetArraySize(v) == 1 ? s
				    : s->vpc_id != NULL        ? find_box(c, s->vpc_id)
							       : NULL;
			}
		} else if (cJSON_IsString(v)) {
			b = find_box(c, v->valuestring);
			if (b != NULL && b->is_vpc != (rules[r].kind == TO_VPC)) {
				b = NULL;
			}
		}
		if (b != NULL && strcmp(b->node, self) != 0) {
			return b;
		}
	}
	for (size_t k = 0; depth == 0 && k < sizeof(blocks) / sizeof(blocks[0]); k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, blocks[k]);
		const cJSON *inner = cJSON_IsArray(v) ? cJSON_GetArrayItem(v, 0) : v;
		if (cJSON_IsObject(inner)) {
			const box *b = place(c, inner, self, depth + 1);
			if (b != NULL) {
				return b;
			}
		}
	}
	return NULL;
}

static void
box_free(box *b)
{
	free(b->ws);
	free(b->id);
	free(b->node);
	free(b->vpc_id);
}

int
contain_boxes_new(contain_boxes **out)
{
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? 0 : TD_ENOMEM;
}

void
contain_boxes_free(contain_boxes *b)
{
	if (b == NULL) {
		return;
	}
	for (size_t i = 0; i < b->n; i++) {
		box_free(&b->v[i]);
	}
	free(b->v);
	free(b);
}

size_t
contain_boxes_count(const contain_boxes *b)
{
	return b != NULL ? b->n : 0;
}

/* Pass 1 for one state: its VPCs and subnets, appended to b. */
static int
collect_boxes(contain_boxes *b, const char *name, const tfs_state *st)
{
	const tfs_instance *in;

	for (size_t i = 0; st != NULL && (in = tfs_instance_at(st, i)) != NULL; i++) {
		bool vpc = strcmp(in->type, "aws_vpc") == 0;
		if (in->deposed != NULL || !in->managed ||
		    (!vpc && strcmp(in->type, "aws_subnet") != 0)) {
			continue;
		}
		cJSON *a = cJSON_ParseWithLength(in->attributes_json, in->attributes_len);
		const char *id = a != NULL ? str_attr(a, "id") : NULL;
		const char *vpc_id = a != NULL ? str_attr(a, "vpc_id") : NULL;
		if (id == NULL) {
			cJSON_Delete(a);
			continue;
		}
		if (b->n == b->cap) {
			size_t nc = b->cap != 0 ? b->cap * 2 : 16;
			box *v = realloc(b->v, nc * sizeof(*v));
			if (v == NULL) {
				cJSON_Delete(a);
				return TD_ENOMEM;
			}
			b->v = v;
			b->cap = nc;
		}
		box *x = &b->v[b->n];
		x->ws = strdup(name);
		x->id = strdup(id);
		x->node = node_id(name, in->address);
		x->vpc_id = !vpc && vpc_id != NULL ? strdup(vpc_id) : NULL;
		x->is_vpc = vpc;
		cJSON_Delete(a);
		b->n++;
		if (x->ws == NULL || x->id == NULL || x->node == NULL ||
		    (!vpc && vpc_id != NULL && x->vpc_id == NULL)) {
			return TD_ENOMEM;
		}
	}
	return 0;
}

int
contain_boxes_set(contain_boxes *b, const char *name, const tfs_state *st)
{
	size_t i, m = 0;
	int rv;

	for (i = 0; i < b->n; i++) {
		if (strcmp(b->v[i].ws, name) == 0) {
			box_free(&b->v[i]);
		} else {
			b->v[m++] = b->v[i];
		}
	}
	b->n = m;
	rv = collect_boxes(b, name, st);
	if (b->n != 0) {
		qsort(b->v, b->n, sizeof(box), box_cmp);
	}
	return rv;
}

int
contain_place(contain **out, const contain_boxes *b, const char *const *names,
    const tfs_state *const *states, size_t n)
{
	contain *c = calloc(1, sizeof(*c));
	char *self = NULL;
	int rv = TD_ENOMEM;

	*out = NULL;
	if (c == NULL || (c->parent = calloc(n ? n : 1, sizeof(*c->parent))) == NULL ||
	    (c->ninst = calloc(n ? n : 1, sizeof(*c->ninst))) == NULL) {
		goto out;
	}
	c->n = n;
	c->boxes = b->v;
	c->nboxes = b->n;
	for (size_t w = 0; w < n; w++) {
		const tfs_instance *in;
		size_t count = states[w] != NULL ? tfs_instance_count(states[w]) : 0;
		c->ninst[w] = count;
		if (count == 0 || c->nboxes == 0) {
			continue;
		}
		if ((c->parent[w] = calloc(count, sizeof(char *))) == NULL) {
			rv = TD_ENOMEM;
			goto out;
		}
		for (size_t i = 0; (in = tfs_instance_at(states[w], i)) != NULL; i++) {
			if (in->deposed != NULL || !may_place(in)) {
				continue;
			}
			cJSON *a = cJSON_ParseWithLength(in->attributes_json, in->attributes_len);
			if (a == NULL) {
				continue; /* the parser wrote it; only memory can fail here */
			}
			if ((self = node_id(names[w], in->address)) == NULL) {
				cJSON_Delete(a);
				rv = TD_ENOMEM;
				goto out;
			}
			const box *in_box = place(c, a, self, 0);
			cJSON_Delete(a);
			free(self);
			self = NULL;
			if (in_box != NULL) {
				c->parent[w][i] = in_box->node; /* borrowed from the boxes */
				c->links++;
			}
		}
	}
	*out = c;
	c = NULL;
	rv = 0;
out:
	contain_free(c);
	return rv;
}

int
contain_build(contain **out, const char *const *names, const tfs_state *const *states, size_t n)
{
	contain_boxes *b = NULL;
	int rv;

	*out = NULL;
	if ((rv = contain_boxes_new(&b)) != 0) {
		return rv;
	}
	for (size_t w = 0; w < n; w++) {
		if ((rv = contain_boxes_set(b, names[w], states[w])) != 0) {
			contain_boxes_free(b);
			return rv;
		}
	}
	if ((rv = contain_place(out, b, names, states, n)) != 0) {
		contain_boxes_free(b);
		return rv;
	}
	(*out)->own = b;
	return 0;
}

const char *
contain_parent(const contain *c, size_t w, size_t i)
{
	if (c == NULL || w >= c->n || c->parent[w] == NULL || i >= c->ninst[w]) {
		return NULL;
	}
	return c->parent[w][i];
}

size_t
contain_count(const contain *c)
{
	return c != NULL ? c->links : 0;
}

void
contain_free(contain *c)
{
	if (c == NULL) {
		return;
	}
	contain_boxes_free(c->own);
	for (size_t w = 0; c->parent != NULL && w < c->n; w++) {
		free(c->parent[w]);
	}
	free(c->parent);
	free(c->ninst);
	free(c);
}
