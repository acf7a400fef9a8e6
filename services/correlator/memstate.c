/* memstate.c — the resource index in memory (contract in memstate.h). */
#include "memstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcache.h"

struct memstate {
	lcache *idx;   /* identifier -> "ws\taddr\ttype" */
	lcache *attrs; /* "ws\x1faddr" -> JSON */
};

#define BIG 0 /* unbounded */
#define N_NAMES 9

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

/* Top-level attributes named by sensitive_attributes ([[{"type":"get_attr",
 * "value":"password"}], ...]) become "(sensitive)", as the state-loader
 * stores them. */
static void
redact(cJSON *attrs, const cJSON *sens)
{
	const cJSON *path;

	cJSON_ArrayForEach(path, sens)
	{
		const cJSON *step = cJSON_GetArrayItem(path, 0);
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(step, "value");
		if (cJSON_IsString(v) && cJSON_HasObjectItem(attrs, v->valuestring))
			cJSON_ReplaceItemInObjectCaseSensitive(attrs, v->valuestring,
			    cJSON_CreateString("(sensitive)"));
	}
}

/* module.x["k"].aws_instance.web[0] */
static int
instance_address(const cJSON *res, const cJSON *inst, char *out, size_t len)
{
	const cJSON *mod = cJSON_GetObjectItemCaseSensitive(res, "module");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(res, "type");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(res, "name");
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(inst, "index_key");
	int n;

	if (!cJSON_IsString(type) || !cJSON_IsString(name))
		return -1;
	n = snprintf(out, len, "%s%s%s.%s", cJSON_IsString(mod) ? mod->valuestring : "",
	    cJSON_IsString(mod) ? "." : "", type->valuestring, name->valuestring);
	if (cJSON_IsNumber(key))
		n += snprintf(out + n, len - (size_t)n, "[%d]", key->valueint);
	else if (cJSON_IsString(key))
		n += snprintf(out + n, len - (size_t)n, "[\"%s\"]", key->valuestring);
	return (size_t)n < len ? 0 : -1;
}

/* The identifiers of one instance: the names CloudTrail uses, plain and
 * scoped "<type>:<value>" (how the state-loader's index names sub-resources
 * such as an S3 bucket's policy). */
static int
add_instance(memstate *m, const char *ws, const char *addr, const char *type, cJSON *attrs)
{
	static const char *const names[] = { "id", "arn", "name", "bucket", "function_name",
		"identifier", "url", "key_id", "unique_id" };
	const char *ids[2 * N_NAMES + 1];
	char scoped[N_NAMES][600];
	size_t n = 0;
	char *json;
	int rv;

	for (size_t k = 0; k < N_NAMES; k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(attrs, names[k]);
		if (!cJSON_IsString(v) || v->valuestring[0] == '\0' ||
		    strcmp(v->valuestring, "(sensitive)") == 0)
			continue;
		snprintf(scoped[k], sizeof(scoped[k]), "%s:%s", type, v->valuestring);
		ids[n++] = scoped[k];
		ids[n++] = v->valuestring;
	}
	ids[n] = NULL;
	if ((json = cJSON_PrintUnformatted(attrs)) == NULL)
		return TD_ENOMEM;
	rv = memstate_add(m, ws, addr, type, ids, json);
	cJSON_free(json);
	return rv;
}

int
memstate_add_file(memstate *m, const char *spec, td_error *err)
{
	const char *eq = strchr(spec, '=');
	const char *path = eq ? eq + 1 : spec;
	char ws[256];
	FILE *f;
	char *buf = NULL;
	size_t len = 0;
	cJSON *root = NULL;
	const cJSON *res;
	int rv = 0;

	if (eq != NULL) {
		snprintf(ws, sizeof(ws), "%.*s", (int)(eq - spec), spec);
	} else {
		const char *base = strrchr(path, '/');
		base = base ? base + 1 : path;
		snprintf(ws, sizeof(ws), "%s", base);
		if (strlen(ws) > 8 && strcmp(ws + strlen(ws) - 8, ".tfstate") == 0)
			ws[strlen(ws) - 8] = '\0';
	}
	if ((f = fopen(path, "rb")) == NULL)
		return td_error_set(err, TD_EIO, "%s: cannot open", path);
	{
		size_t cap = 0, got;
		do {
			if (len + 65536 > cap) {
				char *nb = realloc(buf, cap = cap * 2 + 131072);
				if (nb == NULL) {
					fclose(f);
					free(buf);
					return td_error_set(err, TD_ENOMEM, "out of memory");
				}
				buf = nb;
			}
			got = fread(buf + len, 1, cap - len - 1, f);
			len += got;
		} while (got > 0);
		buf[len] = '\0';
	}
	fclose(f);
	root = cJSON_ParseWithLength(buf, len);
	free(buf);
	if (!cJSON_IsObject(root) ||
	    !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "resources"))) {
		cJSON_Delete(root);
		return td_error_set(err, TD_EINVAL, "%s: not a Terraform state (no resources[])",
		    path);
	}
	cJSON_ArrayForEach(res, cJSON_GetObjectItemCaseSensitive(root, "resources"))
	{
		const cJSON *mode = cJSON_GetObjectItemCaseSensitive(res, "mode");
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(res, "type");
		cJSON *inst;

		if (!cJSON_IsString(mode) || strcmp(mode->valuestring, "managed") != 0 ||
		    !cJSON_IsString(type))
			continue; /* data sources are not indexed */
		cJSON_ArrayForEach(inst, cJSON_GetObjectItemCaseSensitive(res, "instances"))
		{
			cJSON *attrs = cJSON_GetObjectItemCaseSensitive(inst, "attributes");
			char addr[512];

			if (!cJSON_IsObject(attrs) || cJSON_HasObjectItem(inst, "deposed") ||
			    instance_address(res, inst, addr, sizeof(addr)) != 0)
				continue;
			redact(attrs,
			    cJSON_GetObjectItemCaseSensitive(inst, "sensitive_attributes"));
			if ((rv = add_instance(m, ws, addr, type->valuestring, attrs)) != 0) {
				rv = td_error_set(err, rv, "out of memory");
				break;
			}
		}
	}
	cJSON_Delete(root);
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
