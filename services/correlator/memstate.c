/* memstate.c — the resource index in memory (contract in memstate.h). */
#include "memstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfdrift/identifiers.h"
#include "tfdrift/redis_keys.h"
#include "tfdrift/scope.h"
#include "tfdrift/tfstate.h"
#include "lcache.h"

struct memstate {
	lcache *idx;   /* field -> claim "ws\taddr\ttype\tgen\torder" (as in P idx) */
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
memstate_add_in(memstate *m, const char *account, const char *region, const char *workspace,
    const char *address, const char *type, const char *const *identifiers, const char *attrs_json)
{
	char *val = NULL, *key = NULL, *old, *field;

	if (asprintf(&val, "%s\t%s\t%s\t%d\t0", workspace, address, type, MEMSTATE_GEN) < 0)
		return TD_ENOMEM;
	for (size_t i = 0; identifiers[i] != NULL; i++) {
		/* the field the state-loader writes (tfdrift/redis_keys.h) */
		if ((field = td_rkey_idx_field(account, region, identifiers[i])) == NULL) {
			free(val);
			return TD_ENOMEM;
		}
		if (lcache_get(m->idx, field, &old)) {
			free(old); /* first claim wins, as in the store */
		} else {
			lcache_put(m->idx, field, val);
		}
		free(field);
	}
	free(val);
	if (asprintf(&key, "%s\x1f%s", workspace, address) < 0)
		return TD_ENOMEM;
	lcache_put(m->attrs, key, attrs_json);
	free(key);
	return 0;
}

int
memstate_add(memstate *m, const char *workspace, const char *address, const char *type,
    const char *const *identifiers, const char *attrs_json)
{
	return memstate_add_in(m, "", "", workspace, address, type, identifiers, attrs_json);
}

/* The workspace a spec names: "NAME=PATH", or the file name of a bare PATH
 * without ".tfstate"; a "#account=…&region=…" suffix (a source's scope
 * options) is cut into opts. */
static int
spec_parts(const char *spec, char *ws, size_t len, char **path, char **opts)
{
	const char *eq = strchr(spec, '='), *hash = strrchr(spec, '#'), *p, *base;
	size_t n;

	if (hash != NULL && strchr(hash, '=') == NULL)
		hash = NULL; /* a '#' of the file name */

	/* "=" inside the options is not the workspace's */
	if (eq != NULL && hash != NULL && eq > hash)
		eq = NULL;
	p = eq != NULL ? eq + 1 : spec;
	*path = strndup(p, hash != NULL ? (size_t)(hash - p) : strlen(p));
	*opts = strdup(hash != NULL ? hash + 1 : "");
	if (*path == NULL || *opts == NULL)
		return TD_ENOMEM;
	if (eq != NULL) {
		snprintf(ws, len, "%.*s", (int)(eq - spec), spec);
		return 0;
	}
	base = strrchr(*path, '/');
	snprintf(ws, len, "%s", base ? base + 1 : *path);
	n = strlen(ws);
	if (n > 8 && strcmp(ws + n - 8, ".tfstate") == 0)
		ws[n - 8] = '\0';
	return 0;
}

/* account= and region= of "account=A&region=R" into the buffers; anything
 * else is an error naming the spec. */
static int
spec_scope(const char *spec, char *opts, char *account, char *region, size_t len, td_error *err)
{
	char *save = NULL;

	account[0] = region[0] = '\0';
	for (char *t = strtok_r(opts, "&", &save); t != NULL; t = strtok_r(NULL, "&", &save)) {
		if (strncmp(t, "account=", 8) == 0)
			snprintf(account, len, "%s", t + 8);
		else if (strncmp(t, "region=", 7) == 0)
			snprintf(region, len, "%s", t + 7);
		else
			return td_error_set(err, TD_EINVAL,
			    "--state %s: unknown option \"%s\" (account=, region=)", spec, t);
	}
	return 0;
}

int
memstate_add_file(memstate *m, const char *spec, td_error *err)
{
	char ws[256], account[64], region[64], *path = NULL, *opts = NULL;
	const char *ids[IDX_MAX + 1], *acc, *reg;
	const tfs_instance *in;
	tfs_state *st = NULL;
	td_scope *sc = NULL;
	int rv;

	if ((rv = spec_parts(spec, ws, sizeof(ws), &path, &opts)) != 0) {
		td_error_set(err, rv, "out of memory");
		goto out;
	}
	if ((rv = spec_scope(spec, opts, account, region, sizeof(account), err)) != 0)
		goto out;
	/* the state-loader's parser and scope: the same addresses, redactions,
	 * identifiers (identifiers.tsv) and fields as the Redis index the service
	 * reads */
	if ((rv = tfs_parse_file(&st, path, 0, err)) != 0)
		goto out;
	if ((rv = td_scope_build(&sc, st, account, region)) != 0) {
		td_error_set(err, rv, "out of memory");
		goto out;
	}
	for (size_t i = 0; (in = tfs_instance_at(st, i)) != NULL; i++) {
		size_t n = 0;

		if (!tfs_instance_indexed(in))
			continue;
		for (size_t k = 0; k < in->n_identifiers && n < IDX_MAX; k++)
			ids[n++] = in->identifiers[k];
		ids[n] = NULL;
		td_scope_of(sc, i, &acc, &reg);
		if ((rv = memstate_add_in(m, acc, reg, ws, in->address, in->type, ids,
			 in->attributes_json)) != 0) {
			rv = td_error_set(err, rv, "out of memory");
			break;
		}
	}
out:
	td_scope_free(sc);
	tfs_free(st);
	free(path);
	free(opts);
	return rv;
}

int
memstate_lookup(void *arg, const rule_scope *scope, const char *identifier, rule_match *m)
{
	memstate *ms = arg;
	char *v = NULL, stack[1024], *buf = stack;
	td_rkey_entry e;
	const char *fields[TD_RKEY_IDX_LOOKUPS];
	size_t need = td_rkey_idx_lookup_size(scope->account, scope->region, identifier), nf;
	bool found = false;

	if (need > sizeof(stack) && (buf = malloc(need)) == NULL)
		return TD_ENOMEM;
	nf = td_rkey_idx_lookup_fields(scope->account, scope->region, identifier, buf, need,
	    fields);
	/* most specific first, as the service's HMGET (redis_index.c) */
	for (size_t i = 0; i < nf && !found; i++)
		found = lcache_get(ms->idx, fields[i], &v);
	if (buf != stack)
		free(buf);
	if (!found)
		return TD_ENOTFOUND;
	/* the service's parser of the claims (redis_index.c) */
	if (!td_rkey_entry_parse(v, strlen(v), &e)) {
		free(v);
		return TD_ENOTFOUND;
	}
	snprintf(m->workspace, sizeof(m->workspace), "%.*s", (int)e.workspace_len, e.workspace);
	snprintf(m->address, sizeof(m->address), "%.*s", (int)e.address_len, e.address);
	snprintf(m->type, sizeof(m->type), "%.*s", (int)e.type_len, e.type);
	m->gen = e.gen;
	free(v);
	return 0;
}

int
memstate_attrs(void *arg, const char *workspace, uint64_t gen, const char *address, char **json)
{
	memstate *ms = arg;
	char *key = NULL;
	bool found;

	*json = NULL;
	if (gen != MEMSTATE_GEN)
		return TD_ENOTFOUND;
	if (asprintf(&key, "%s\x1f%s", workspace, address) < 0)
		return TD_ENOMEM;
	found = lcache_get(ms->attrs, key, json);
	free(key);
	return found ? 0 : TD_ENOTFOUND;
}
