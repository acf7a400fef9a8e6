/* extract.c — request values vs state (contract in extract.h). */
#include "extract.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfdrift/error.h"
#include "tfdrift/redact.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void
change_free(change *c)
{
	free(c->attr);
	free(c->old_json);
	free(c->new_json);
	memset(c, 0, sizeof(*c));
}

void
extract_changes_free(changes *cs)
{
	for (size_t i = 0; i < cs->n; i++)
		change_free(&cs->v[i]);
	cs->n = 0;
}

/* ---- values ----------------------------------------------------------------------- */

/* AWS wraps many EC2 values: {"value": x}; S3 headers are lists of one: ["x"]. */
static const cJSON *
unwrap(const cJSON *v)
{
	const cJSON *in;

	if (cJSON_IsObject(v) && (in = cJSON_GetObjectItemCaseSensitive(v, "value")) != NULL &&
	    cJSON_GetArraySize(v) == 1)
		return in;
	if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 1 && cJSON_IsString(v->child))
		return v->child;
	return v;
}

/* Scalars as text for loose comparison ("30" == 30, "true" == true). */
static bool
scalar_text(const cJSON *v, char *buf, size_t len)
{
	if (cJSON_IsString(v))
		snprintf(buf, len, "%s", v->valuestring);
	else if (cJSON_IsNumber(v))
		snprintf(buf, len, "%.17g", v->valuedouble);
	else if (cJSON_IsBool(v))
		snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
	else if (cJSON_IsNull(v))
		buf[0] = '\0';
	else
		return false;
	return true;
}

static bool
values_equal(const cJSON *a, const cJSON *b)
{
	char x[1024], y[1024];

	if (a == NULL || b == NULL)
		return a == b;
	if (scalar_text(a, x, sizeof(x)) && scalar_text(b, y, sizeof(y)))
		return strcmp(x, y) == 0;
	return cJSON_Compare(a, b, true);
}

void
extract_url_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
			char h[3] = { s[1], s[2], 0 };
			*o++ = (char)strtol(h, NULL, 16);
			s += 2;
		} else if (*s == '+') {
			*o++ = ' ';
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* A policy document given as an object, a JSON string or a URL-encoded JSON
 * string, parsed.  Caller owns the result. */
static cJSON *
policy_value(const cJSON *v)
{
	char *s;
	cJSON *j;

	if (cJSON_IsObject(v) || cJSON_IsArray(v))
		return cJSON_Duplicate(v, true);
	if (!cJSON_IsString(v))
		return NULL;
	if ((s = strdup(v->valuestring)) == NULL)
		return NULL;
	if (s[0] == '%')
		extract_url_decode(s);
	j = cJSON_Parse(s);
	free(s);
	return j;
}

/* One tag {key,value} / {Key,Value} (or a bare key) into m. */
static void
tag_pair(cJSON *m, const cJSON *el, bool keys_only)
{
	const cJSON *k, *val;

	if (cJSON_IsString(el)) {
		cJSON_AddNullToObject(m, el->valuestring);
		return;
	}
	/* {key,value}, {Key,Value}, KMS's {TagKey,TagValue} */
	k = cJSON_GetObjectItemCaseSensitive(el, "key");
	if (k == NULL)
		k = cJSON_GetObjectItemCaseSensitive(el, "Key");
	if (k == NULL)
		k = cJSON_GetObjectItemCaseSensitive(el, "TagKey");
	val = cJSON_GetObjectItemCaseSensitive(el, "value");
	if (val == NULL)
		val = cJSON_GetObjectItemCaseSensitive(el, "Value");
	if (val == NULL)
		val = cJSON_GetObjectItemCaseSensitive(el, "TagValue");
	if (!cJSON_IsString(k))
		return;
	if (cJSON_IsString(val) && !keys_only)
		cJSON_AddStringToObject(m, k->valuestring, val->valuestring);
	else
		cJSON_AddNullToObject(m, k->valuestring);
}

/* Tags given as tagSet.items[] {key,value}, [{Key,Value}], one {Key,Value}
 * (S3's XML-derived TagSet.Tag with a single tag), or a map -> map. */
static cJSON *
tags_value(const cJSON *v, bool keys_only)
{
	cJSON *m = cJSON_CreateObject();
	const cJSON *el;

	if (m == NULL)
		return NULL;
	if (cJSON_IsObject(v) && cJSON_GetObjectItemCaseSensitive(v, "items") != NULL)
		v = cJSON_GetObjectItemCaseSensitive(v, "items");
	if (cJSON_IsObject(v) &&
	    (cJSON_GetObjectItemCaseSensitive(v, "Key") != NULL ||
		cJSON_GetObjectItemCaseSensitive(v, "key") != NULL ||
		cJSON_GetObjectItemCaseSensitive(v, "TagKey") != NULL)) {
		tag_pair(m, v, keys_only);
		return m;
	}
	if (cJSON_IsObject(v) && !keys_only) {
		cJSON_ArrayForEach(el, v)
		{
			if (cJSON_IsString(el))
				cJSON_AddStringToObject(m, el->string, el->valuestring);
		}
		return m;
	}
	cJSON_ArrayForEach(el, v)
	{
		tag_pair(m, el, keys_only);
	}
	return m;
}

/* ---- security-group rules as sets ------------------------------------------------ */

/* "proto|from|to|source" per source of each permission, into a JSON array of
 * strings; Terraform's ingress blocks likewise. */
static void
sg_add(cJSON *set, const char *proto, double from, double to, const char *src)
{
	char buf[512];

	if (strcmp(proto, "-1") == 0 || strcmp(proto, "all") == 0)
		from = to = 0;
	snprintf(buf, sizeof(buf), "%s|%.0f|%.0f|%s", proto, from, to, src);
	cJSON_AddItemToArray(set, cJSON_CreateString(buf));
}

static double
num(const cJSON *v)
{
	if (cJSON_IsNumber(v))
		return v->valuedouble;
	if (cJSON_IsString(v))
		return strtod(v->valuestring, NULL);
	return 0;
}

static cJSON *
sg_request_set(const cJSON *perms)
{
	static const struct {
		const char *list, *key;
	} srcs[] = { { "ipRanges", "cidrIp" }, { "ipv6Ranges", "cidrIpv6" },
		{ "groups", "groupId" }, { "prefixListIds", "prefixListId" } };
	cJSON *set = cJSON_CreateArray();
	const cJSON *p;

	if (cJSON_IsObject(perms))
		perms = cJSON_GetObjectItemCaseSensitive(perms, "items");
	cJSON_ArrayForEach(p, perms)
	{
		const cJSON *proto = cJSON_GetObjectItemCaseSensitive(p, "ipProtocol");
		double from = num(cJSON_GetObjectItemCaseSensitive(p, "fromPort"));
		double to = num(cJSON_GetObjectItemCaseSensitive(p, "toPort"));
		for (size_t i = 0; i < N(srcs); i++) {
			const cJSON *l = cJSON_GetObjectItemCaseSensitive(p, srcs[i].list), *el;
			if (cJSON_IsObject(l))
				l = cJSON_GetObjectItemCaseSensitive(l, "items");
			cJSON_ArrayForEach(el, l)
			{
				const cJSON *s = cJSON_GetObjectItemCaseSensitive(el, srcs[i].key);
				if (cJSON_IsString(s) && cJSON_IsString(proto))
					sg_add(set, proto->valuestring, from, to, s->valuestring);
			}
		}
	}
	return set;
}

static cJSON *
sg_state_set(const cJSON *blocks)
{
	static const char *const lists[] = { "cidr_blocks", "ipv6_cidr_blocks", "security_groups",
		"prefix_list_ids" };
	cJSON *set = cJSON_CreateArray();
	const cJSON *b;

	cJSON_ArrayForEach(b, blocks)
	{
		const cJSON *proto = cJSON_GetObjectItemCaseSensitive(b, "protocol");
		double from = num(cJSON_GetObjectItemCaseSensitive(b, "from_port"));
		double to = num(cJSON_GetObjectItemCaseSensitive(b, "to_port"));
		for (size_t i = 0; i < N(lists); i++) {
			const cJSON *l = cJSON_GetObjectItemCaseSensitive(b, lists[i]), *el;
			cJSON_ArrayForEach(el, l)
			{
				if (cJSON_IsString(el) && cJSON_IsString(proto))
					sg_add(set, proto->valuestring, from, to, el->valuestring);
			}
		}
	}
	return set;
}

static bool
set_has(const cJSON *set, const char *s)
{
	const cJSON *el;

	cJSON_ArrayForEach(el, set)
	{
		if (strcmp(el->valuestring, s) == 0)
			return true;
	}
	return false;
}

/* ---- attribute diffs ---------------------------------------------------------------- */

static int
add_change(changes *cs, const char *attr, const cJSON *old, const cJSON *nw, bool sensitive,
    bool policy)
{
	change *c;

	if (cs->n == EXTRACT_MAX_CHANGES)
		return 0;
	for (size_t i = 0; i < cs->n; i++)
		if (strcmp(cs->v[i].attr, attr) == 0)
			return 0; /* two request fields for one attribute: the first tells */
	c = &cs->v[cs->n];
	c->attr = strdup(attr);
	c->old_json = sensitive ? strdup("\"" REDACT_TEXT "\"")
	    : old != NULL       ? cJSON_PrintUnformatted(old)
				: strdup("null");
	c->new_json = sensitive ? strdup("\"" REDACT_TEXT "\"")
	    : nw != NULL        ? cJSON_PrintUnformatted(nw)
				: strdup("null");
	c->sensitive = sensitive;
	c->policy = policy;
	cs->n++;
	if (c->attr == NULL || c->old_json == NULL || c->new_json == NULL)
		return TD_ENOMEM;
	return 0;
}

static bool
is_redacted(const cJSON *v)
{
	return cJSON_IsString(v) && strcmp(v->valuestring, REDACT_TEXT) == 0;
}

static int
diff_tags(const cat_attr *a, const cJSON *node, const cJSON *state_tags, bool untag, changes *cs)
{
	cJSON *want = tags_value(node, untag);
	const cJSON *t;
	char path[320];
	int rv = 0;

	if (want == NULL)
		return TD_ENOMEM;
	cs->values += (size_t)cJSON_GetArraySize(want);
	cJSON_ArrayForEach(t, want)
	{
		const cJSON *old = cJSON_GetObjectItemCaseSensitive(state_tags, t->string);
		if (untag) {
			if (old == NULL)
				continue;
			snprintf(path, sizeof(path), "%s.%s", a->attr, t->string);
			if ((rv = add_change(cs, path, old, NULL, false, false)) != 0)
				break;
		} else if (!values_equal(old, t)) {
			snprintf(path, sizeof(path), "%s.%s", a->attr, t->string);
			if ((rv = add_change(cs, path, old, t, false, false)) != 0)
				break;
		}
	}
	cJSON_Delete(want);
	return rv;
}

/* A state attribute by Terraform path: "instance_type",
 * "metadata_options.0.http_tokens" (blocks are lists in state). */
static const cJSON *
state_get(const cJSON *state, const char *path)
{
	const cJSON *cur = state;
	char key[128];

	while (cur != NULL && *path != '\0') {
		size_t l = strcspn(path, ".");
		snprintf(key, sizeof(key), "%.*s", (int)(l < sizeof(key) ? l : sizeof(key) - 1),
		    path);
		if (cJSON_IsArray(cur) && key[0] >= '0' && key[0] <= '9')
			cur = cJSON_GetArrayItem(cur, (int)strtol(key, NULL, 10));
		else
			cur = cJSON_GetObjectItemCaseSensitive(cur, key);
		path += l;
		if (*path == '.')
			path++;
	}
	return cur;
}

/* The legacy top-level form (boto3 CidrIp=...): ipProtocol, fromPort, toPort
 * and cidrIp on requestParameters, ipPermissions empty. */
static void
sg_legacy(cJSON *set, const cJSON *root)
{
	const cJSON *proto = cJSON_GetObjectItemCaseSensitive(root, "ipProtocol");
	const cJSON *cidr = cJSON_GetObjectItemCaseSensitive(root, "cidrIp");

	if (!cJSON_IsString(proto) || !cJSON_IsString(cidr))
		return;
	sg_add(set, proto->valuestring, num(cJSON_GetObjectItemCaseSensitive(root, "fromPort")),
	    num(cJSON_GetObjectItemCaseSensitive(root, "toPort")), cidr->valuestring);
}

static int
diff_sg(const cat_attr *a, const cJSON *node, const cJSON *root, const cJSON *state_val,
    changes *cs)
{
	cJSON *req = sg_request_set(node), *st = sg_state_set(state_val), *nw, *el;
	bool differs = false;
	int rv = 0;

	if (req == NULL || st == NULL) {
		rv = TD_ENOMEM;
		goto out;
	}
	sg_legacy(req, root);
	nw = cJSON_Duplicate(st, true);
	if (nw == NULL) {
		rv = TD_ENOMEM;
		goto out;
	}
	cs->values += (size_t)cJSON_GetArraySize(req);
	cJSON_ArrayForEach(el, req)
	{
		bool have = set_has(st, el->valuestring);
		if (a->xf == XF_SGADD && !have) {
			cJSON_AddItemToArray(nw, cJSON_CreateString(el->valuestring));
			differs = true;
		} else if (a->xf == XF_SGDEL && have) {
			int idx = 0;
			cJSON *x;
			cJSON_ArrayForEach(x, nw)
			{
				if (strcmp(x->valuestring, el->valuestring) == 0)
					break;
				idx++;
			}
			cJSON_DeleteItemFromArray(nw, idx);
			differs = true;
		}
	}
	if (differs)
		rv = add_change(cs, a->attr, st, nw, false, false);
	cJSON_Delete(nw);
out:
	cJSON_Delete(req);
	cJSON_Delete(st);
	return rv;
}

/* ---- sets ---------------------------------------------------------------------------- */

static int
set_collect(void *arg, const char *value)
{
	cJSON *set = arg;

	if (!set_has(set, value))
		cJSON_AddItemToArray(set, cJSON_CreateString(value));
	return 0;
}

/* The strings of v (a scalar, a list of scalars, an {"items":[...]} list) as a
 * set (a JSON array, no repeats); NULL when out of memory. */
static cJSON *
str_set(const cJSON *v)
{
	cJSON *set = cJSON_CreateArray();
	const cJSON *el;
	char buf[1024];

	if (set == NULL)
		return NULL;
	if (cJSON_IsObject(v) && cJSON_GetObjectItemCaseSensitive(v, "items") != NULL)
		v = cJSON_GetObjectItemCaseSensitive(v, "items");
	if (!cJSON_IsArray(v)) {
		if (v != NULL && !cJSON_IsNull(v) && scalar_text(v, buf, sizeof(buf)))
			set_collect(set, buf);
		return set;
	}
	cJSON_ArrayForEach(el, v)
	{
		const cJSON *x = unwrap(el);
		if (scalar_text(x, buf, sizeof(buf)) && !cJSON_IsNull(x))
			set_collect(set, buf);
	}
	return set;
}

static bool
sets_equal(const cJSON *a, const cJSON *b)
{
	const cJSON *el;

	if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
		return false;
	cJSON_ArrayForEach(el, a)
	{
		if (!set_has(b, el->valuestring))
			return false;
	}
	return true;
}

/* XF_SET: the request's values (every one a path with [] steps names) as a
 * set vs the state's list. */
static int
diff_set(const cat_attr *a, const cJSON *node, const cJSON *req, const cJSON *old, changes *cs)
{
	cJSON *nw, *ov = str_set(old);
	int rv = 0;
	bool multi = false;

	for (size_t i = 0; i < a->path.n; i++)
		multi = multi || a->path.arr[i];
	if (multi) {
		nw = cJSON_CreateArray();
		if (nw != NULL)
			cat_path_strings(&a->path, req, set_collect, nw);
	} else {
		nw = str_set(node);
	}
	if (nw == NULL || ov == NULL) {
		rv = TD_ENOMEM;
	} else {
		cs->values++;
		if (!sets_equal(nw, ov))
			rv = add_change(cs, a->attr, old != NULL ? ov : NULL, nw, false, false);
	}
	cJSON_Delete(nw);
	cJSON_Delete(ov);
	return rv;
}

/* XF_SETADD / XF_SETDEL: one value added to or removed from the state's set. */
static int
diff_setone(const cat_attr *a, const cJSON *node, const cJSON *old, changes *cs)
{
	cJSON *ov = str_set(old), *nw;
	char buf[1024];
	int rv = 0;

	if (ov == NULL)
		return TD_ENOMEM;
	if (!scalar_text(unwrap(node), buf, sizeof(buf)) || buf[0] == '\0') {
		cJSON_Delete(ov);
		return 0;
	}
	cs->values++;
	if (set_has(ov, buf) == (a->xf == XF_SETADD)) {
		cJSON_Delete(ov);
		return 0; /* already there / already gone */
	}
	nw = cJSON_Duplicate(ov, true);
	if (nw == NULL) {
		rv = TD_ENOMEM;
	} else {
		if (a->xf == XF_SETADD) {
			cJSON_AddItemToArray(nw, cJSON_CreateString(buf));
		} else {
			int idx = 0;
			const cJSON *x;
			cJSON_ArrayForEach(x, nw)
			{
				if (strcmp(x->valuestring, buf) == 0)
					break;
				idx++;
			}
			cJSON_DeleteItemFromArray(nw, idx);
		}
		rv = add_change(cs, a->attr, ov, nw, false, false);
	}
	cJSON_Delete(nw);
	cJSON_Delete(ov);
	return rv;
}

/* ---- tags as a whole set ------------------------------------------------------------ */

/* XF_TAGSET: the request's tag set replaces the resource's: changed and added
 * keys, and the keys it no longer has. */
static int
diff_tagset(const cat_attr *a, const cJSON *node, const cJSON *state_tags, changes *cs)
{
	cJSON *want = tags_value(node, false);
	const cJSON *t;
	char path[320];
	int rv = 0;

	if (want == NULL)
		return TD_ENOMEM;
	cs->values++;
	cJSON_ArrayForEach(t, want)
	{
		const cJSON *old = cJSON_GetObjectItemCaseSensitive(state_tags, t->string);
		if (rv == 0 && !values_equal(old, t)) {
			snprintf(path, sizeof(path), "%s.%s", a->attr, t->string);
			rv = add_change(cs, path, old, t, false, false);
		}
	}
	cJSON_ArrayForEach(t, state_tags)
	{
		if (rv == 0 && cJSON_GetObjectItemCaseSensitive(want, t->string) == NULL) {
			snprintf(path, sizeof(path), "%s.%s", a->attr, t->string);
			rv = add_change(cs, path, t, NULL, false, false);
		}
	}
	cJSON_Delete(want);
	return rv;
}

/* ---- inline policies ----------------------------------------------------------------- */

/* The state's inline_policy list without empty placeholders, with the policy
 * named name replaced by doc (NULL: removed).  *found tells whether it was
 * there, *same whether its document equals doc. */
static cJSON *
inline_list(const cJSON *old, const char *name, const cJSON *doc, bool *found, bool *same)
{
	cJSON *out = cJSON_CreateArray(), *o;
	const cJSON *el;

	*found = *same = false;
	if (out == NULL)
		return NULL;
	cJSON_ArrayForEach(el, old)
	{
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(el, "name");
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(el, "policy");
		if (!cJSON_IsString(n) || n->valuestring[0] == '\0')
			continue;
		if (strcmp(n->valuestring, name) == 0) {
			cJSON *pv = policy_value(p);
			*found = true;
			*same = doc != NULL && pv != NULL && cJSON_Compare(pv, doc, true);
			cJSON_Delete(pv);
			continue;
		}
		cJSON_AddItemToArray(out, cJSON_Duplicate(el, true));
	}
	if (doc != NULL && (o = cJSON_CreateObject()) != NULL) {
		char *text = cJSON_PrintUnformatted(doc);
		cJSON_AddStringToObject(o, "name", name);
		cJSON_AddStringToObject(o, "policy", text != NULL ? text : "");
		cJSON_free(text);
		cJSON_AddItemToArray(out, o);
	}
	return out;
}

/* XF_INLINE (PutRolePolicy on a role: the document at the path, the name in
 * the request's policyName) and XF_INLINEDEL (DeleteRolePolicy: the name at
 * the path). */
static int
diff_inline(const cat_attr *a, const cJSON *node, const cJSON *req, const cJSON *old, changes *cs)
{
	const cJSON *name = a->xf == XF_INLINE ? cJSON_GetObjectItemCaseSensitive(req, "policyName")
					       : unwrap(node);
	cJSON *doc = NULL, *nw;
	bool found, same;
	int rv = 0;

	if (!cJSON_IsString(name))
		return 0;
	if (a->xf == XF_INLINE && (doc = policy_value(node)) == NULL)
		return 0;
	cs->values++;
	nw = inline_list(old, name->valuestring, doc, &found, &same);
	if (nw == NULL)
		rv = TD_ENOMEM;
	else if (a->xf == XF_INLINE ? !same : found)
		rv = add_change(cs, a->attr, old, nw, false, false);
	cJSON_Delete(nw);
	cJSON_Delete(doc);
	return rv;
}

/* ---- S3 ACLs ---------------------------------------------------------------------------- */

static const char ALL_USERS[] = "http://acs.amazonaws.com/groups/global/AllUsers";
static const char AUTH_USERS[] = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
static const char LOG_DELIVERY[] = "http://acs.amazonaws.com/groups/s3/LogDelivery";

static void
grant_add(cJSON *set, const char *type, const char *who, const char *perm)
{
	char buf[600];

	snprintf(buf, sizeof(buf), "%s:%s:%s", type, who, perm);
	set_collect(set, buf);
}

static const char *
str_of(const cJSON *o, const char *k1, const char *k2)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k1);

	if (!cJSON_IsString(v) && k2 != NULL)
		v = cJSON_GetObjectItemCaseSensitive(o, k2);
	return cJSON_IsString(v) ? v->valuestring : "";
}

/* One grantee as "Type:ID-or-URI-or-email". */
static void
grantee_key(const cJSON *g, char *type, size_t tl, char *who, size_t wl)
{
	const char *t = str_of(g, "xsi:type", "type");
	const char *id = str_of(g, "ID", "id");
	const char *uri = str_of(g, "URI", "uri");
	const char *mail = str_of(g, "EmailAddress", "email_address");

	snprintf(type, tl, "%s", t);
	snprintf(who, wl, "%s", uri[0] ? uri : id[0] ? id : mail);
}

/* Grants as a set of "Type:who:PERMISSION": the request's
 * AccessControlList.Grant (a list, or one object), aws_s3_bucket_acl's
 * access_control_policy.0.grant (grantee block + permission), or
 * aws_s3_bucket's grant (type/id/uri + permissions list).  groups_only: only
 * Group grantees (a canned ACL grants the owner FULL_CONTROL and groups). */
static cJSON *
grant_set(const cJSON *v, bool groups_only)
{
	cJSON *set = cJSON_CreateArray();
	const cJSON *g;
	char type[64], who[512];

	if (set == NULL)
		return NULL;
	if (cJSON_IsObject(v) && (cJSON_GetObjectItemCaseSensitive(v, "Grantee") != NULL)) {
		const cJSON *ge = cJSON_GetObjectItemCaseSensitive(v, "Grantee");
		grantee_key(ge, type, sizeof(type), who, sizeof(who));
		if (!groups_only || strcmp(type, "Group") == 0)
			grant_add(set, type, who, str_of(v, "Permission", NULL));
		return set;
	}
	cJSON_ArrayForEach(g, v)
	{
		const cJSON *ge = cJSON_GetObjectItemCaseSensitive(g, "Grantee");
		const cJSON *perms = cJSON_GetObjectItemCaseSensitive(g, "permissions"), *p;
		if (ge == NULL && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(g, "grantee")))
			ge = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(g, "grantee"), 0);
		grantee_key(ge != NULL ? ge : g, type, sizeof(type), who, sizeof(who));
		if (groups_only && strcmp(type, "Group") != 0)
			continue;
		if (cJSON_IsArray(perms)) {
			cJSON_ArrayForEach(p, perms)
			{
				if (cJSON_IsString(p))
					grant_add(set, type, who, p->valuestring);
			}
		} else {
			grant_add(set, type, who, str_of(g, "Permission", "permission"));
		}
	}
	return set;
}

/* The group grants a canned bucket ACL stands for (the owner's FULL_CONTROL
 * aside); false for a name S3 does not know. */
static bool
canned_groups(const char *acl, cJSON *set)
{
	if (strcmp(acl, "private") == 0 || strcmp(acl, "bucket-owner-read") == 0 ||
	    strcmp(acl, "bucket-owner-full-control") == 0)
		return true;
	if (strcmp(acl, "public-read") == 0 || strcmp(acl, "public-read-write") == 0) {
		grant_add(set, "Group", ALL_USERS, "READ");
		if (acl[11] == '-')
			grant_add(set, "Group", ALL_USERS, "WRITE");
		return true;
	}
	if (strcmp(acl, "authenticated-read") == 0) {
		grant_add(set, "Group", AUTH_USERS, "READ");
		return true;
	}
	if (strcmp(acl, "log-delivery-write") == 0) {
		grant_add(set, "Group", LOG_DELIVERY, "WRITE");
		grant_add(set, "Group", LOG_DELIVERY, "READ_ACP");
		return true;
	}
	return false;
}

/* The state's grant list: aws_s3_bucket_acl or aws_s3_bucket shape. */
static const cJSON *
state_grants(const cJSON *state, const char **attr)
{
	const cJSON *g = state_get(state, "access_control_policy.0.grant");

	*attr = "access_control_policy.0.grant";
	if (cJSON_GetArraySize(g) > 0)
		return g;
	*attr = "grant";
	g = state_get(state, "grant");
	return cJSON_GetArraySize(g) > 0 ? g : NULL;
}

/* XF_ACL: a canned ACL (x-amz-acl, ["private"]) vs the state's acl, or, when
 * the state holds grants instead, vs the group grants AWS expands it to. */
static int
diff_acl(const cat_attr *a, const cJSON *node, const cJSON *state, changes *cs)
{
	const cJSON *nw = unwrap(node), *old = state_get(state, a->attr), *grants;
	const char *gattr;
	cJSON *want, *have;
	int rv = 0;

	if (!cJSON_IsString(nw) || nw->valuestring[0] == '\0')
		return 0;
	if (cJSON_IsString(old) && old->valuestring[0] != '\0') {
		cs->values++;
		return values_equal(nw, old) ? 0 : add_change(cs, a->attr, old, nw, false, false);
	}
	if ((grants = state_grants(state, &gattr)) == NULL)
		return 0; /* nothing in the state to compare with: coarse */
	want = cJSON_CreateArray();
	have = grant_set(grants, true);
	if (want == NULL || have == NULL) {
		rv = TD_ENOMEM;
	} else if (canned_groups(nw->valuestring, want)) {
		cs->values++;
		if (!sets_equal(want, have))
			rv = add_change(cs, gattr, have, want, false, false);
	}
	cJSON_Delete(want);
	cJSON_Delete(have);
	return rv;
}

/* XF_GRANTS: explicit grants (AccessControlPolicy.AccessControlList.Grant)
 * as a set vs the state's. */
static int
diff_grants(const cJSON *node, const cJSON *state, changes *cs)
{
	const char *gattr;
	const cJSON *grants = state_grants(state, &gattr);
	cJSON *want = grant_set(node, false), *have = grant_set(grants, false);
	int rv = 0;

	if (want == NULL || have == NULL) {
		rv = TD_ENOMEM;
	} else if (grants != NULL && cJSON_GetArraySize(want) > 0) {
		cs->values++;
		if (!sets_equal(want, have))
			rv = add_change(cs, gattr, have, want, false, false);
	}
	cJSON_Delete(want);
	cJSON_Delete(have);
	return rv;
}

/* ---- the extractors ------------------------------------------------------------------- */

bool
extract_applies(const cat_entry *e, const char *type)
{
	for (size_t i = 0; i < e->nattrs; i++)
		if (e->attrs[i].type != NULL && strcmp(e->attrs[i].type, type) == 0)
			return true;
	for (size_t i = 0; i < e->nattrs; i++)
		if (e->attrs[i].type == NULL)
			return true;
	return false;
}

/* Whether a applies to a match of type: its own @TYPE, or none when type
 * has extractors of its own. */
static bool
attr_applies(const cat_entry *e, const cat_attr *a, const char *type)
{
	if (a->type != NULL)
		return strcmp(a->type, type) == 0;
	for (size_t i = 0; i < e->nattrs; i++)
		if (e->attrs[i].type != NULL && strcmp(e->attrs[i].type, type) == 0)
			return false;
	return true;
}

/* Empty: null, "", {}, []. */
static bool
is_empty(const cJSON *v)
{
	return v == NULL || cJSON_IsNull(v) || (cJSON_IsString(v) && v->valuestring[0] == '\0') ||
	    ((cJSON_IsObject(v) || cJSON_IsArray(v)) && cJSON_GetArraySize(v) == 0);
}

static int
diff_one(const cat_entry *e, const cat_attr *a, const cJSON *node, const cJSON *req,
    const cJSON *state, changes *cs)
{
	const cJSON *old = state_get(state, a->attr);
	int rv = 0;

	switch (a->xf) {
	case XF_TAGS: {
		/* provider default_tags are in tags_all only */
		const cJSON *all = state_get(state, "tags_all");
		return diff_tags(a, node, cJSON_GetArraySize(all) > 0 ? all : old,
		    e->kind == CAT_UNTAG, cs);
	}
	case XF_TAGSET: {
		const cJSON *all = state_get(state, "tags_all");
		return diff_tagset(a, node, cJSON_GetArraySize(all) > 0 ? all : old, cs);
	}
	case XF_SGADD:
	case XF_SGDEL: return diff_sg(a, node, req, old, cs);
	case XF_SET: return diff_set(a, node, req, old, cs);
	case XF_SETADD:
	case XF_SETDEL: return diff_setone(a, node, old, cs);
	case XF_INLINE:
	case XF_INLINEDEL: return diff_inline(a, node, req, old, cs);
	case XF_ACL: return diff_acl(a, node, state, cs);
	case XF_GRANTS: return diff_grants(node, state, cs);
	case XF_IS: {
		cJSON *nw;
		if (old == NULL)
			return 0; /* the state does not say: coarse */
		cs->values++;
		if ((nw = cJSON_CreateString(a->arg)) == NULL)
			return TD_ENOMEM;
		if (!values_equal(nw, old))
			rv = add_change(cs, a->attr, old, nw, false, false);
		cJSON_Delete(nw);
		return rv;
	}
	case XF_CLEAR:
		cs->values++;
		return is_empty(old) ? 0 : add_change(cs, a->attr, old, NULL, false, false);
	case XF_SECRET: cs->values++; return add_change(cs, a->attr, old, node, true, false);
	case XF_POLICY: {
		cJSON *nw = policy_value(node), *ov = policy_value(old);
		cs->values += nw != NULL;
		if (is_redacted(old))
			rv = add_change(cs, a->attr, old, node, true, false);
		else if (nw != NULL && (ov == NULL || !cJSON_Compare(nw, ov, true)))
			rv = add_change(cs, a->attr, ov, nw, false, true);
		cJSON_Delete(nw);
		cJSON_Delete(ov);
		return rv;
	}
	default: {
		const cJSON *nw = unwrap(node);
		if (cJSON_IsNull(nw) || cJSON_IsObject(nw) || cJSON_IsArray(nw))
			return 0; /* not a value of this form */
		cs->values++;
		if (is_redacted(old))
			rv = add_change(cs, a->attr, old, nw, true, false);
		else if (!values_equal(nw, old))
			rv = add_change(cs, a->attr, old, nw, false, false);
		return rv;
	}
	}
}

int
extract_diff(const cat_entry *e, const char *type, const cJSON *req, const cJSON *state,
    changes *cs)
{
	int rv = 0;

	for (size_t i = 0; rv == 0 && i < e->nattrs; i++) {
		const cat_attr *a = &e->attrs[i];
		const cJSON *node = cat_path_node(&a->path, req);
		/* the legacy security-group form may come without ipPermissions */
		bool legacy = node == NULL && (a->xf == XF_SGADD || a->xf == XF_SGDEL) &&
		    cJSON_GetObjectItemCaseSensitive(req, "ipProtocol") != NULL;

		if (!attr_applies(e, a, type) || (node == NULL && !legacy))
			continue;
		cs->any_extractor = true;
		rv = diff_one(e, a, node, req, state, cs);
	}
	return rv;
}
