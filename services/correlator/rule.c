/* rule.c — the starter correlation rule (contract in rule.h). */
#include "rule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tfdrift/error.h"
#include "tfdrift/id.h"

/* ---- data ----------------------------------------------------------------- */

/* Top-level keys of requestParameters / responseElements that name a resource. */
static const char *const identifier_keys[] = {
	"instanceId",
	"bucketName",
	"groupId",
	"roleName",
	"userName",
	"policyArn",
	"functionName",
	"dBInstanceIdentifier",
	"keyId",
	"queueUrl",
	"topicArn",
	"tableName",
	"name",
	"vpcId",
	"subnetId",
	"clusterName",
	"loadBalancerArn",
};

/* Lists of resources: object.array[].key (e.g. RunInstances' response). */
static const struct {
	const char *object, *array, *key;
} identifier_lists[] = {
	{ "instancesSet", "items", "instanceId" },
};

/* User agent fragments of Terraform's own API calls:
 * "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.40.0 ..." */
static const char *const terraform_agents[] = { "Terraform/", "terraform-provider-" };

const char *const rule_skip_reasons[] = { "read_only", "failed", "terraform" };
const size_t rule_n_skip_reasons = sizeof(rule_skip_reasons) / sizeof(rule_skip_reasons[0]);

static const struct {
	const char *prefix;
	Tfdrift__V1__DriftKind matched, unmatched;
} kind_prefixes[] = {
	{ "Delete", TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DELETED,
	    TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED },
	{ "Terminate", TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DELETED,
	    TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED },
	{ "Remove", TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DELETED,
	    TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED },
	{ "Create", TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED,
	    TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_UNMANAGED },
	{ "Run", TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED,
	    TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_UNMANAGED },
	{ "Put", TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED,
	    TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_UNMANAGED },
};

static const struct {
	Tfdrift__V1__DriftKind kind;
	Tfdrift__V1__Severity severity;
} kind_severity[] = {
	{ TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DELETED, TFDRIFT__V1__SEVERITY__SEVERITY_HIGH },
	{ TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_UNMANAGED, TFDRIFT__V1__SEVERITY__SEVERITY_MEDIUM },
	{ TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED, TFDRIFT__V1__SEVERITY__SEVERITY_MEDIUM },
	{ TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DRIFT, TFDRIFT__V1__SEVERITY__SEVERITY_MEDIUM },
};

/* Changes to identity and keys widen blast radius: one level higher. */
static const char *const sensitive_sources[] = { "iam.amazonaws.com", "kms.amazonaws.com" };

/* Summary and fix per kind and whether a managed resource matched.
 * Placeholders: {event} {address} {workspace} {type} {id} {who}. */
static const struct {
	Tfdrift__V1__DriftKind kind;
	bool matched;
	const char *summary;
	const char *fix;
} texts[] = {
	{ TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED, true,
	    "{event} on {address} ({workspace}) by {who}",
	    "Review the change: run `terraform plan -target={address}` in {workspace}, then either "
	    "revert it with `terraform apply -target={address}` or codify it in the HCL." },
	{ TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DELETED, true,
	    "{event} deleted {address} ({workspace}) by {who}",
	    "If the deletion was not intended, recreate it with `terraform apply -target={address}` "
	    "in {workspace}; if it was, remove it from the HCL (or `terraform state rm {address}`)." },
	{ TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_UNMANAGED, false,
	    "{event} created {id} outside Terraform by {who}",
	    "Import it: add an `import` block (id = \"{id}\") and run `terraform plan "
	    "-generate-config-out=generated.tf`, or delete it if it should not exist." },
	{ TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED, false,
	    "{event} on {id} (not in any loaded Terraform state) by {who}",
	    "No Terraform resource matched {id}. If it should be managed, import it with an "
	    "`import` block; otherwise ignore or delete it." },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define AMAZONAWS ".amazonaws.com"

/* ---- decisions -------------------------------------------------------------- */

static bool
empty(const char *s)
{
	return s == NULL || s[0] == '\0';
}

static bool
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

const char *
rule_skip_reason(const Tfdrift__V1__CloudEvent *ev)
{
	if (ev->read_only == TFDRIFT__V1__READ_ONLY__READ_ONLY_TRUE)
		return rule_skip_reasons[0];
	if (!empty(ev->error_code))
		return rule_skip_reasons[1];
	for (size_t i = 0; !empty(ev->user_agent) && i < N(terraform_agents); i++)
		if (strstr(ev->user_agent, terraform_agents[i]) != NULL)
			return rule_skip_reasons[2];
	return NULL;
}

Tfdrift__V1__DriftKind
rule_kind(const char *event_name, bool matched)
{
	for (size_t i = 0; event_name != NULL && i < N(kind_prefixes); i++)
		if (starts_with(event_name, kind_prefixes[i].prefix))
			return matched ? kind_prefixes[i].matched : kind_prefixes[i].unmatched;
	return TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED;
}

Tfdrift__V1__Severity
rule_severity(Tfdrift__V1__DriftKind kind, const char *event_source)
{
	Tfdrift__V1__Severity s = TFDRIFT__V1__SEVERITY__SEVERITY_MEDIUM;

	for (size_t i = 0; i < N(kind_severity); i++)
		if (kind_severity[i].kind == kind)
			s = kind_severity[i].severity;
	for (size_t i = 0; event_source != NULL && i < N(sensitive_sources); i++)
		if (strcmp(event_source, sensitive_sources[i]) == 0 &&
		    s < TFDRIFT__V1__SEVERITY__SEVERITY_CRITICAL)
			s = (Tfdrift__V1__Severity)(s + 1);
	return s;
}

const char *
rule_principal_name(const Tfdrift__V1__CloudEvent *ev)
{
	const Tfdrift__V1__UserIdentity *id = ev->user_identity;

	if (id == NULL)
		return "";
	if (!empty(id->user_name))
		return id->user_name;
	if (!empty(id->type) && strcmp(id->type, "AssumedRole") == 0 && !empty(id->session_name))
		return id->session_name;
	return id->principal_id;
}

/* ---- identifiers ------------------------------------------------------------ */

void
rule_idents_free(rule_idents *ids)
{
	for (size_t i = 0; i < ids->n; i++)
		free(ids->items[i].value);
	free(ids->items);
	*ids = (rule_idents){ 0 };
}

/* Adds key=value unless value is already there; a second value under the same
 * key becomes "key.2", a third "key.3" (the map needs unique keys). */
static int
add_ident(rule_idents *ids, const char *key, const char *value)
{
	size_t same_key = 0;
	rule_ident *it;

	if (empty(value))
		return 0;
	for (size_t i = 0; i < ids->n; i++) {
		const char *k = ids->items[i].key;
		size_t kl = strlen(key);
		if (strcmp(ids->items[i].value, value) == 0)
			return 0;
		if (strncmp(k, key, kl) == 0 && (k[kl] == '\0' || k[kl] == '.'))
			same_key++;
	}
	if (ids->n == ids->cap) {
		size_t ncap = ids->cap ? ids->cap * 2 : 8;
		rule_ident *ni = realloc(ids->items, ncap * sizeof(*ni));
		if (ni == NULL)
			return TD_ENOMEM;
		ids->items = ni;
		ids->cap = ncap;
	}
	it = &ids->items[ids->n];
	if (same_key == 0)
		snprintf(it->key, sizeof(it->key), "%s", key);
	else
		snprintf(it->key, sizeof(it->key), "%s.%zu", key, same_key + 1);
	if ((it->value = strdup(value)) == NULL)
		return TD_ENOMEM;
	ids->n++;
	return 0;
}

static int
extract_from_json(const char *text, rule_idents *ids)
{
	cJSON *root;
	int rv = 0;

	if (empty(text))
		return 0;
	root = cJSON_Parse(text);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return 0;
	}
	for (size_t i = 0; rv == 0 && i < N(identifier_keys); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, identifier_keys[i]);
		if (cJSON_IsString(v))
			rv = add_ident(ids, identifier_keys[i], v->valuestring);
	}
	for (size_t i = 0; rv == 0 && i < N(identifier_lists); i++) {
		const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root,
		    identifier_lists[i].object);
		const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, identifier_lists[i].array);
		const cJSON *el;

		if (!cJSON_IsArray(arr))
			continue;
		cJSON_ArrayForEach(el, arr)
		{
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(el,
			    identifier_lists[i].key);
			if (cJSON_IsString(v) &&
			    (rv = add_ident(ids, identifier_lists[i].key, v->valuestring)) != 0)
				break;
		}
	}
	cJSON_Delete(root);
	return rv;
}

int
rule_extract_identifiers(const Tfdrift__V1__CloudEvent *ev, rule_idents *ids)
{
	int rv;

	if ((rv = extract_from_json(ev->request_parameters_json, ids)) != 0 ||
	    (rv = extract_from_json(ev->response_elements_json, ids)) != 0)
		goto out;
	for (size_t i = 0; i < ev->n_resources; i++)
		if ((rv = add_ident(ids, "arn", ev->resources[i]->arn)) != 0)
			goto out;
out:
	if (rv != 0)
		rule_idents_free(ids);
	return rv;
}

/* ---- alerts ----------------------------------------------------------------- */

void
rule_alerts_free(rule_alerts *a)
{
	for (size_t i = 0; i < a->n; i++)
		protobuf_c_message_free_unpacked(&a->items[i]->base, NULL);
	free(a->items);
	*a = (rule_alerts){ 0 };
}

/* Sets a message string field to a malloc'd copy; "" keeps the default. */
static int
set_str(char **field, const char *s)
{
	if (empty(s))
		return 0;
	if ((*field = strdup(s)) == NULL)
		return TD_ENOMEM;
	return 0;
}

typedef struct text_vars {
	const char *event, *address, *workspace, *type, *id, *who;
} text_vars;

/* Expands {name} placeholders of tmpl; the result is malloc'd (caller owns). */
static char *
expand(const char *tmpl, const text_vars *v)
{
	const struct {
		const char *name;
		const char *value;
	} vars[] = {
		{ "{event}", v->event },
		{ "{address}", v->address },
		{ "{workspace}", v->workspace },
		{ "{type}", v->type },
		{ "{id}", v->id },
		{ "{who}", v->who },
	};
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (f == NULL)
		return NULL;
	for (const char *p = tmpl; *p != '\0';) {
		size_t i;
		for (i = 0; i < N(vars); i++) {
			if (starts_with(p, vars[i].name)) {
				fputs(vars[i].value != NULL ? vars[i].value : "", f);
				p += strlen(vars[i].name);
				break;
			}
		}
		if (i == N(vars))
			fputc(*p++, f);
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static int
fill_principal(Tfdrift__V1__DriftAlert *a, const Tfdrift__V1__CloudEvent *ev)
{
	const Tfdrift__V1__UserIdentity *id = ev->user_identity;
	Tfdrift__V1__Principal *p = malloc(sizeof(*p));
	int rv = 0;

	if (p == NULL)
		return TD_ENOMEM;
	tfdrift__v1__principal__init(p);
	a->principal = p;
	if (id == NULL)
		return 0;
	if ((rv = set_str(&p->type, id->type)) != 0 || (rv = set_str(&p->arn, id->arn)) != 0 ||
	    (rv = set_str(&p->name, rule_principal_name(ev))) != 0 ||
	    (rv = set_str(&p->account_id,
		 empty(id->account_id) ? ev->account_id : id->account_id)) != 0 ||
	    (rv = set_str(&p->role_arn, id->session_issuer_arn)) != 0 ||
	    (rv = set_str(&p->session_name, id->session_name)) != 0 ||
	    (rv = set_str(&p->principal_id, id->principal_id)) != 0 ||
	    (rv = set_str(&p->access_key_id, id->access_key_id)) != 0)
		return rv;
	return 0;
}

/* Length of key without a ".N" suffix added by add_ident. */
static size_t
base_len(const char *key)
{
	const char *dot = strrchr(key, '.');

	if (dot == NULL || dot[1] == '\0' || strspn(dot + 1, "0123456789") != strlen(dot + 1))
		return strlen(key);
	return (size_t)(dot - key);
}

/* Key of identifier i in an alert about group grp: the plain key ("instanceId")
 * when no other identifier of the group shares it, else the numbered one. */
static int
group_key(const rule_idents *ids, const int *group, int grp, size_t i, char **out)
{
	const char *key = ids->items[i].key;
	size_t bl = base_len(key);

	for (size_t k = 0; grp >= 0 && k < ids->n; k++) {
		if (k != i && group[k] == grp && base_len(ids->items[k].key) == bl &&
		    strncmp(ids->items[k].key, key, bl) == 0)
			return set_str(out, key);
	}
	if (grp < 0)
		return set_str(out, key);
	if ((*out = strndup(key, bl)) == NULL)
		return TD_ENOMEM;
	return 0;
}

/* Copies the identifiers whose group is grp (or all when grp < 0) into the map. */
static int
fill_identifiers(Tfdrift__V1__DriftAlert *a, const rule_idents *ids, const int *group, int grp)
{
	if (ids->n == 0)
		return 0;
	a->identifiers = calloc(ids->n, sizeof(*a->identifiers));
	if (a->identifiers == NULL)
		return TD_ENOMEM;
	for (size_t i = 0; i < ids->n; i++) {
		Tfdrift__V1__DriftAlert__IdentifiersEntry *e;

		if (grp >= 0 && group[i] != grp)
			continue;
		if ((e = malloc(sizeof(*e))) == NULL)
			return TD_ENOMEM;
		tfdrift__v1__drift_alert__identifiers_entry__init(e);
		a->identifiers[a->n_identifiers++] = e;
		if (group_key(ids, group, grp, i, &e->key) != 0 ||
		    set_str(&e->value, ids->items[i].value) != 0)
			return TD_ENOMEM;
	}
	return 0;
}

static int
fill_texts(Tfdrift__V1__DriftAlert *a, const Tfdrift__V1__CloudEvent *ev, const rule_match *m,
    const char *first_id)
{
	const char *who = rule_principal_name(ev);
	text_vars v = {
		.event = ev->event_name,
		.address = m ? m->address : "",
		.workspace = m ? m->workspace : "",
		.type = m ? m->type : "",
		.id = first_id != NULL ? first_id : "an unidentified resource",
		.who = empty(who) ? "an unknown principal" : who,
	};
	size_t row = 0;

	for (size_t i = 0; i < N(texts); i++)
		if (texts[i].kind == a->kind && texts[i].matched == (m != NULL))
			row = i;
	if ((a->summary = expand(texts[row].summary, &v)) == NULL ||
	    (a->recommended_fix = expand(texts[row].fix, &v)) == NULL)
		return TD_ENOMEM;
	return 0;
}

/* One alert about m (NULL: no managed resource matched); identifiers are those
 * of group grp (all when grp < 0).  *out owned by the caller. */
static int
build_alert(const Tfdrift__V1__CloudEvent *ev, const rule_match *m, const rule_idents *ids,
    const int *group, int grp, int64_t now_ns, Tfdrift__V1__DriftAlert **out)
{
	Tfdrift__V1__DriftAlert *a = malloc(sizeof(*a));
	const char *first_id = NULL;
	char key[65];
	const char *parts[4];
	size_t slen;
	int rv = TD_ENOMEM;

	*out = NULL;
	if (a == NULL)
		return TD_ENOMEM;
	tfdrift__v1__drift_alert__init(a);
	a->kind = rule_kind(ev->event_name, m != NULL);
	a->severity = rule_severity(a->kind, ev->event_source);
	a->event_time_ns = ev->event_time_ns;
	a->detected_at_ns = now_ns;
	for (size_t i = 0; first_id == NULL && i < ids->n; i++)
		if (grp < 0 || group[i] == grp)
			first_id = ids->items[i].value;

	parts[0] = ev->event_id;
	parts[1] = m ? m->workspace : "";
	parts[2] = m ? m->address : "";
	parts[3] = ""; /* attribute: this rule speaks of whole resources */
	td_id_sha256_hex(key, parts, 4);

	if (set_str(&a->alert_key, key) != 0 || set_str(&a->event_id, ev->event_id) != 0 ||
	    (m != NULL &&
		(set_str(&a->workspace, m->workspace) != 0 ||
		    set_str(&a->resource_address, m->address) != 0 ||
		    set_str(&a->resource_type, m->type) != 0)) ||
	    fill_identifiers(a, ids, group, grp) != 0 || fill_principal(a, ev) != 0 ||
	    set_str(&a->source_ip, ev->source_ip) != 0 ||
	    set_str(&a->user_agent, ev->user_agent) != 0 ||
	    set_str(&a->region, ev->aws_region) != 0 ||
	    set_str(&a->account_id, ev->account_id) != 0 ||
	    set_str(&a->event_name, ev->event_name) != 0 ||
	    set_str(&a->event_source, ev->event_source) != 0 ||
	    set_str(&a->falco_rule, ev->falco_rule) != 0 ||
	    set_str(&a->falco_priority, ev->falco_priority) != 0 ||
	    set_str(&a->raw_event_json, ev->raw_json) != 0 || fill_texts(a, ev, m, first_id) != 0)
		goto out;
	/* "ec2.amazonaws.com" -> "ec2" */
	slen = strlen(ev->event_source);
	if (slen > strlen(AMAZONAWS) &&
	    strcmp(ev->event_source + slen - strlen(AMAZONAWS), AMAZONAWS) == 0)
		a->service = strndup(ev->event_source, slen - strlen(AMAZONAWS));
	else if (slen > 0)
		a->service = strdup(ev->event_source);
	if (slen > 0 && a->service == NULL) {
		a->service = (char *)protobuf_c_empty_string;
		goto out;
	}
	*out = a;
	a = NULL;
	rv = 0;
out:
	if (a != NULL)
		protobuf_c_message_free_unpacked(&a->base, NULL);
	return rv;
}

static int
push_alert(rule_alerts *out, Tfdrift__V1__DriftAlert *a)
{
	if (out->n == out->cap) {
		size_t ncap = out->cap ? out->cap * 2 : 16;
		Tfdrift__V1__DriftAlert **ni = realloc(out->items, ncap * sizeof(*ni));
		if (ni == NULL)
			return TD_ENOMEM;
		out->items = ni;
		out->cap = ncap;
	}
	out->items[out->n++] = a;
	return 0;
}

int
rule_evaluate(const Tfdrift__V1__CloudEvent *ev, rule_lookup_fn lookup, void *arg, int64_t now_ns,
    rule_alerts *out, const char **skip_reason)
{
	rule_idents ids = { 0 };
	rule_match *groups = NULL; /* one per distinct matched resource */
	int *group = NULL;         /* per identifier: its group, or -1 */
	size_t ngroups = 0, first_new = out->n;
	int rv;

	*skip_reason = rule_skip_reason(ev);
	if (*skip_reason != NULL)
		return 0;
	if ((rv = rule_extract_identifiers(ev, &ids)) != 0)
		return rv;
	if (ids.n > 0) {
		groups = calloc(ids.n, sizeof(*groups));
		group = calloc(ids.n, sizeof(*group));
		if (groups == NULL || group == NULL) {
			rv = TD_ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < ids.n; i++) {
		rule_match m;
		size_t g;

		memset(&m, 0, sizeof(m));
		group[i] = -1;
		rv = lookup(arg, ids.items[i].value, &m);
		if (rv == TD_ENOTFOUND)
			continue;
		if (rv != 0)
			goto out;
		for (g = 0; g < ngroups; g++)
			if (strcmp(groups[g].workspace, m.workspace) == 0 &&
			    strcmp(groups[g].address, m.address) == 0)
				break;
		if (g == ngroups)
			groups[ngroups++] = m;
		group[i] = (int)g;
	}
	rv = 0;
	for (size_t g = 0; rv == 0 && g < ngroups; g++) {
		Tfdrift__V1__DriftAlert *a;
		if ((rv = build_alert(ev, &groups[g], &ids, group, (int)g, now_ns, &a)) == 0 &&
		    (rv = push_alert(out, a)) != 0)
			protobuf_c_message_free_unpacked(&a->base, NULL);
	}
	if (rv == 0 && ngroups == 0) {
		Tfdrift__V1__DriftAlert *a;
		if ((rv = build_alert(ev, NULL, &ids, group, -1, now_ns, &a)) == 0 &&
		    (rv = push_alert(out, a)) != 0)
			protobuf_c_message_free_unpacked(&a->base, NULL);
	}
out:
	if (rv != 0) {
		/* nothing half-done stays behind */
		while (out->n > first_new)
			protobuf_c_message_free_unpacked(&out->items[--out->n]->base, NULL);
	}
	free(groups);
	free(group);
	rule_idents_free(&ids);
	return rv;
}
