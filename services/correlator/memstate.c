/* memstate.c — the resource index in memory (contract in memstate.h). */
#include "memstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfdrift/identifiers.h"
#include "tfdrift/tfstate.h"
#include "lcache.h"

struct memstate {
	lcache *idx;   /* identifier -> "ws\taddr\ttype" */
	lcache *attrs; /* "ws\x1faddr" -> JSON */
};

#define BIG 0 /* unbounded */

int
memstate_new(memstate **out)
{
	memstate *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (m == NULL || (m->idx = lcache_new(BIG)) == NULL ||
	    (m->attrs = lcache_new(BIG)) == NULL) {
		memstate_free(m);
		return TD_ENOMEM;
	}
	*out = m;
	return 0;
}

void
memstate_free(memstate *m)
{
	if (m == NULL)
		return;
	lcache_free(m->idx);
	lcache_free(m->attrs);
	free(m);
}

int
memstate_add(memstate *m, const char *workspace, const char *address, const char *type,
    const char *const *identifiers, const char *attrs_json)
{
	char *val = NULL, *key = NULL, *old;

	if (asprintf(&val, "%s\t%s\t%s", workspace, address, type) < 0)
		return TD_ENOMEM;
	for (size_t i = 0; identifiers[i] != NULL; i++) {
		if (lcache_get(m->idx, identifiers[i], &old)) {
			free(old); /* first claim wins, as HSETNX in the store */
			continue;
		}
		lcache_put(m->idx, identifiers[i], val);
	}
	free(val);
	if (asprintf(&key, "%s\x1f%s", workspace, address) < 0)
		return TD_ENOMEM;
	lcache_put(m->attrs, key, attrs_json);
	free(key);
	return 0;
}

/* The workspace a spec names: "NAME=PATH", or the file name of a bare PATH
 * without ".tfstate". */
static void
spec_workspace(const char *spec, char *ws, size_t len, const char **path)
{
	const char *eq = strchr(spec, '=');
	const char *base;
	size_t n;

	if (eq != NULL) {
		snprintf(ws, len, "%.*s", (int)(eq - spec), spec);
		*path = eq + 1;
		return;
	}
	*path = spec;
	base = strrchr(spec, '/');
	snprintf(ws, len, "%s", base ? base + 1 : spec);
	n = strlen(ws);
	if (n > 8 && strcmp(ws + n - 8, ".tfstate") == 0)
		ws[n - 8] = '\0';
}

int
memstate_add_file(memstate *m, const char *spec, td_error *err)
{
	char ws[256];
	const char *path;
	const char *ids[IDX_MAX + 1];
	const tfs_instance *in;
	tfs_state *st = NULL;
	int rv;

	spec_workspace(spec, ws, sizeof(ws), &path);
	/* the state-loader's parser: the same addresses, redactions and
	 * identifiers (identifiers.tsv) as the Redis index the service reads */
	if ((rv = tfs_parse_file(&st, path, 0, err)) != 0)
		return rv;
	for (size_t i = 0; (in = tfs_instance_at(st, i)) != NULL; i++) {
		size_t n = 0;

		if (!tfs_instance_indexed(in))
			continue;
		for (size_t k = 0; k < in->n_identifiers && n < IDX_MAX; k++)
			ids[n++] = in->identifiers[k];
		ids[n] = NULL;
		if ((rv = memstate_add(m, ws, in->address, in->type, ids, in->attributes_json)) !=
		    0) {
			rv = td_error_set(err, rv, "out of memory");
			break;
		}
	}
	tfs_free(st);
	return rv;
}

int
memstate_lookup(void *arg, const char *identifier, rule_match *m)
{
	memstate *ms = arg;
	char *v, *t1, *t2;

	if (!lcache_get(ms->idx, identifier, &v))
		return TD_ENOTFOUND;
	t1 = strchr(v, '\t');
	t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
	if (t2 == NULL) {
		free(v);
		return TD_ENOTFOUND;
	}
	snprintf(m->workspace, sizeof(m->workspace), "%.*s", (int)(t1 - v), v);
	snprintf(m->address, sizeof(m->address), "%.*s", (int)(t2 - t1 - 1), t1 + 1);
	snprintf(m->type, sizeof(m->type), "%s", t2 + 1);
	free(v);
	return 0;
}

int
memstate_attrs(void *arg, const char *workspace, const char *address, char **json)
{
	memstate *ms = arg;
	char *key = NULL;
	bool found;

	*json = NULL;
	if (asprintf(&key, "%s\x1f%s", workspace, address) < 0)
		return TD_ENOMEM;
	found = lcache_get(ms->attrs, key, json);
	free(key);
	return found ? 0 : TD_ENOTFOUND;
}
