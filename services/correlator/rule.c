/* rule.c — the correlation engine (contract in rule.h). */
#include "rule.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "extract.h"
#include "tfdrift/error.h"
#include "tfdrift/id.h"
#include "tfdrift/redact.h"
#include "tfdrift/str.h"

/* User agent fragments of Terraform's own API calls:
 * "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.40.0 ..." */
static const char *const terraform_agents[] = { "Terraform/", "terraform-provider-" };

const char *const rule_skip_reasons[] = { "read_only", "failed", "terraform", "not_mapped",
	"ignored", "not_managed", "no_change", "no_identifier", "duplicate" };
const size_t rule_n_skip_reasons = sizeof(rule_skip_reasons) / sizeof(rule_skip_reasons[0]);
enum {
	SK_READ_ONLY,
	SK_FAILED,
	SK_TERRAFORM,
	SK_NOT_MAPPED,
	SK_IGNORED,
	SK_NOT_MANAGED,
	SK_NO_CHANGE,
	SK_NO_ID
};

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define SEV_LOW 2
#define SEV_MEDIUM 3
#define SEV_HIGH 4
#define SEV_CRITICAL 5
#define MAX_IDS 32

static bool
empty(const char *s)
{
	return s == NULL || s[0] == '\0';
}

/* ---- who -------------------------------------------------------------------- */

/* "AWSReservedSSO_AdministratorAccess_4b1c2d3e4f5a6b7c" -> "AdministratorAccess" */
static bool
sso_permission_set(const char *role, char *out, size_t len)
{
	const char *p = "AWSReservedSSO_", *last;

	if (strncmp(role, p, strlen(p)) != 0)
		return false;
	role += strlen(p);
	last = strrchr(role, '_');
	if (last == NULL || last == role)
		return false;
	snprintf(out, len, "%.*s", (int)(last - role), role);
	return true;
}

void
rule_resolve_who(const Tfdrift__V1__CloudEvent *ev, rule_who *w)
{
	const Tfdrift__V1__UserIdentity *id = ev->user_identity;
	const char *type;

	memset(w, 0, sizeof(*w));
	if (id == NULL)
		return;
	type = id->type != NULL ? id->type : "";
	if (strcmp(type, "Root") == 0) {
		w->root = true;
		snprintf(w->name, sizeof(w->name), "root");
	} else if (strcmp(type, "AWSService") == 0 || (empty(id->arn) && !empty(id->invoked_by))) {
		w->service = true;
		snprintf(w->name, sizeof(w->name), "%s", id->invoked_by ? id->invoked_by : "");
	} else if (strcmp(type, "AssumedRole") == 0) {
		const char *role = id->session_issuer_user_name;
		char tmp[256] = "";
		if (empty(role) && !empty(id->arn)) {
			/* arn:aws:sts::ACCT:assumed-role/ROLE/SESSION */
			const char *s = strstr(id->arn, ":assumed-role/");
			if (s != NULL) {
				s += strlen(":assumed-role/");
				snprintf(tmp, sizeof(tmp), "%.*s", (int)strcspn(s, "/"), s);
				role = tmp;
			}
		}
		snprintf(w->role, sizeof(w->role), "%s", role ? role : "");
		sso_permission_set(w->role, w->permission_set, sizeof(w->permission_set));
		snprintf(w->name, sizeof(w->name), "%s",
		    !empty(id->source_identity)    ? id->source_identity
			: !empty(id->session_name) ? id->session_name
						   : w->role);
	} else if (strcmp(type, "FederatedUser") == 0 || strcmp(type, "WebIdentityUser") == 0 ||
	    strcmp(type, "SAMLUser") == 0) {
		const char *pid = id->principal_id ? strchr(id->principal_id, ':') : NULL;
		snprintf(w->name, sizeof(w->name), "%s",
		    !empty(id->user_name) ? id->user_name
			: pid != NULL     ? pid + 1
					  : (id->principal_id ? id->principal_id : ""));
	} else if (!empty(id->user_name)) {
		snprintf(w->name, sizeof(w->name), "%s", id->user_name);
	} else {
		snprintf(w->name, sizeof(w->name), "%s", id->principal_id ? id->principal_id : "");
	}
}

/* ---- skipping ------------------------------------------------------------------- */

const char *
rule_skip_reason(const rule_env *env, const Tfdrift__V1__CloudEvent *ev)
{
	if (ev->read_only == TFDRIFT__V1__READ_ONLY__READ_ONLY_TRUE)
		return rule_skip_reasons[SK_READ_ONLY];
	if (!empty(ev->error_code))
		return rule_skip_reasons[SK_FAILED];
	for (size_t i = 0; !empty(ev->user_agent) && i < N(terraform_agents); i++)
		if (strstr(ev->user_agent, terraform_agents[i]) != NULL)
			return rule_skip_reasons[SK_TERRAFORM];
	if (env->cfg != NULL && ev->user_identity != NULL) {
		const Tfdrift__V1__UserIdentity *id = ev->user_identity;
		rule_who w;
		const char *names[6];
		rule_resolve_who(ev, &w);
		names[0] = id->arn ? id->arn : "";
		names[1] = id->session_name ? id->session_name : "";
		names[2] = w.name;
		names[3] = w.role;
		names[4] = id->session_issuer_arn ? id->session_issuer_arn : "";
		names[5] = NULL;
		if (rcfg_terraform_principal(env->cfg, names) != NULL)
			return rule_skip_reasons[SK_TERRAFORM];
	}
	return NULL;
}

const char *
rule_prefilter(const rule_env *env, const Tfdrift__V1__CloudEvent *ev)
{
	const char *skip = rule_skip_reason(env, ev);

	if (skip != NULL)
		return skip;
	if (cat_find(env->catalog, ev->event_source, ev->event_name) == NULL)
		return rule_skip_reasons[SK_NOT_MAPPED];
	return NULL;
}

/* ---- identifiers ------------------------------------------------------------------ */

typedef struct ids {
	char *v[MAX_IDS];
	size_t n;
	bool oom;
} ids;

static int
add_id(void *arg, const char *value)
{
	ids *s = arg;

	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], value) == 0)
			return 0;
	if (s->n == MAX_IDS)
		return 1;
	if ((s->v[s->n] = strdup(value)) == NULL) {
		s->oom = true;
		return 1;
	}
	s->n++;
	return 0;
}

static void
ids_free(ids *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	s->n = 0;
}

static cJSON *
parse_obj(const char *text)
{
	cJSON *j;

	if (empty(text))
		return NULL;
	j = cJSON_Parse(text);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

/* ---- alerts ----------------------------------------------------------------------- */

void
rule_alerts_free(rule_alerts *a)
{
	for (size_t i = 0; i < a->n; i++)
		protobuf_c_message_free_unpacked(&a->items[i]->base, NULL);
	free(a->items);
	*a = (rule_alerts){ 0 };
}

static int
set_str(char **field, const char *s)
{
	if (empty(s))
		return 0;
	if ((*field = strdup(s)) == NULL)
		return TD_ENOMEM;
	return 0;
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

static int
fill_principal(Tfdrift__V1__DriftAlert *a, const Tfdrift__V1__CloudEvent *ev, const rule_who *w)
{
	const Tfdrift__V1__UserIdentity *id = ev->user_identity;
	Tfdrift__V1__Principal *p = malloc(sizeof(*p));

	if (p == NULL)
		return TD_ENOMEM;
	tfdrift__v1__principal__init(p);
	a->principal = p;
	p->root = w->root;
	if (set_str(&p->name, w->name) != 0 ||
	    set_str(&p->permission_set, w->permission_set) != 0 ||
	    set_str(&p->role_name, w->role) != 0)
		return TD_ENOMEM;
	if (id == NULL)
		return 0;
	if (set_str(&p->type, id->type) != 0 || set_str(&p->arn, id->arn) != 0 ||
	    set_str(&p->account_id, empty(id->account_id) ? ev->account_id : id->account_id) != 0 ||
	    set_str(&p->role_arn, id->session_issuer_arn) != 0 ||
	    set_str(&p->session_name, id->session_name) != 0 ||
	    set_str(&p->principal_id, id->principal_id) != 0 ||
	    set_str(&p->access_key_id, id->access_key_id) != 0 ||
	    set_str(&p->invoked_by, id->invoked_by) != 0)
		return TD_ENOMEM;
	return 0;
}

/* An HCL literal for a JSON value (caller frees). */
static char *
hcl_value(const char *json, bool policy)
{
	cJSON *v = cJSON_Parse(json);
	char *s = NULL;

	if (v == NULL)
		return strdup(json);
	if (policy && cJSON_IsObject(v))
		s = td_str_printf("jsonencode(%s)", json);
	else
		s = strdup(json);
	cJSON_Delete(v);
	return s;
}

typedef struct subject {
	const Tfdrift__V1__CloudEvent *ev;
	const cat_entry *e;
	const rule_who *who;
	const rule_match *m; /* NULL: unmanaged */
	const char *id;      /* the identifier (unmanaged) */
	const cJSON *tags;   /* state tags */
	const cJSON *req;    /* requestParameters, or the batch item (route53) */
	cat_kind kind;       /* the entry's, or the batch item's */
	bool upsert;         /* absent: unmanaged, as a create */
} subject;

/* "i-0f9e8d7c6b5a43210" -> "i_0f9e8d7c6b5a43210", a valid HCL name. */
static void
hcl_name(const char *id, char *out, size_t len)
{
	const char *slash = strrchr(id, '/'), *colon = strrchr(id, ':');
	const char *s = id;
	size_t o = 0;

	if (slash != NULL && slash[1] != '\0')
		s = slash + 1;
	else if (colon != NULL && colon[1] != '\0')
		s = colon + 1;
	if (!isalpha((unsigned char)*s) && o + 1 < len)
		out[o++] = 'r';
	for (; *s != '\0' && o + 1 < len; s++)
		out[o++] = isalnum((unsigned char)*s) ? *s : '_';
	out[o] = '\0';
}

static int
fill_texts(Tfdrift__V1__DriftAlert *a, const subject *s, const change *ch)
{
	const char *who = s->who->name[0] ? s->who->name : "an unknown principal";
	const char *ev = s->ev->event_name;

	switch (a->kind) {
	case TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_UNMANAGED: {
		char name[128];
		if (s->id == NULL)
			return TD_EINVAL;
		hcl_name(s->id, name, sizeof(name));
		a->summary = td_str_printf("%s created %s %s outside Terraform (by %s)", ev,
		    a->resource_type, s->id, who);
		a->recommended_fix = td_str_printf(
		    "Bring it under Terraform:\nimport {\n  to = %s.%s\n  id = \"%s\"\n}\nthen run "
		    "`terraform plan -generate-config-out=generated.tf` in the workspace that "
		    "should own it; or delete it if it should not exist.",
		    a->resource_type, name, s->id);
		break;
	}
	case TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DELETED:
		a->summary = td_str_printf("%s deleted %s in %s (by %s)", ev, s->m->address,
		    s->m->workspace, who);
		a->recommended_fix = td_str_printf(
		    "`terraform -chdir=%s apply -target='%s'` (workspace %s) recreates %s as the "
		    "HCL declares it; if the deletion was intended, remove its block from the HCL "
		    "(or `terraform state rm '%s'`).",
		    s->m->workspace, s->m->address, s->m->workspace, s->m->type, s->m->address);
		break;
	case TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DRIFT: {
		char *lit = ch->sensitive ? strdup("<the new secret>")
					  : hcl_value(ch->new_json, ch->policy);
		const char *dot = strchr(ch->attr, '.');
		if (lit == NULL)
			return TD_ENOMEM;
		a->summary = ch->sensitive
		    ? td_str_printf("%s changed %s.%s in %s (sensitive) (by %s)", ev, s->m->address,
			  ch->attr, s->m->workspace, who)
		    : td_str_printf("%s changed %s.%s in %s from %s to %s (by %s)", ev,
			  s->m->address, ch->attr, s->m->workspace, ch->old_json, ch->new_json,
			  who);
		if (dot != NULL)
			a->recommended_fix = td_str_printf(
			    "Revert: `terraform -chdir=%s apply -target='%s'` (workspace %s) puts "
			    "%s back to %s. Keep it: in %s set %.*s = merge(..., { %s = %s }).",
			    s->m->workspace, s->m->address, s->m->workspace, ch->attr, ch->old_json,
			    s->m->address, (int)(dot - ch->attr), ch->attr, dot + 1, lit);
		else
			a->recommended_fix = td_str_printf(
			    "Revert: `terraform -chdir=%s apply -target='%s'` (workspace %s) puts "
			    "%s back to %s. Keep it: in %s set %s = %s.",
			    s->m->workspace, s->m->address, s->m->workspace, ch->attr,
			    ch->sensitive ? "the value in state" : ch->old_json, s->m->address,
			    ch->attr, lit);
		free(lit);
		break;
	}
	default:
		a->summary = td_str_printf("%s on %s in %s (by %s)", ev, s->m->address,
		    s->m->workspace, who);
		a->recommended_fix = td_str_printf(
		    "Review: `terraform -chdir=%s plan -target='%s'` (workspace %s) shows what %s "
		    "changed; `terraform -chdir=%s apply -target='%s'` reverts it, or codify the "
		    "change in the HCL.",
		    s->m->workspace, s->m->address, s->m->workspace, ev, s->m->workspace,
		    s->m->address);
	}
	return a->summary != NULL && a->recommended_fix != NULL ? 0 : TD_ENOMEM;
}

/* Open to the world: 0.0.0.0/0 or ::/0 anywhere in the request. */
static bool
request_open(const Tfdrift__V1__CloudEvent *ev)
{
	const char *r = ev->request_parameters_json;

	return r != NULL && (strstr(r, "0.0.0.0/0") != NULL || strstr(r, "::/0") != NULL);
}

/* A policy or ACL made public: Principal "*" / {"AWS":"*"} with Allow, a
 * grant to AllUsers/AuthenticatedUsers, or a public access block switched off. */
static bool
request_public(const Tfdrift__V1__CloudEvent *ev)
{
	static const char *const marks[] = { "\"Principal\":\"*\"", "\"AWS\":\"*\"", "AllUsers",
		"AuthenticatedUsers", "\"BlockPublicAcls\":false", "\"BlockPublicPolicy\":false",
		"\"RestrictPublicBuckets\":false", "\"IgnorePublicAcls\":false", "public-read" };
	char *s, *o;
	bool hit = false;

	if (empty(ev->request_parameters_json) || (s = strdup(ev->request_parameters_json)) == NULL)
		return false;
	extract_url_decode(s);
	o = s;
	for (char *p = s; *p; p++)
		if (!isspace((unsigned char)*p) && *p != '\\')
			*o++ = *p;
	*o = '\0';
	for (size_t i = 0; !hit && i < N(marks); i++)
		hit = strstr(s, marks[i]) != NULL;
	free(s);
	return hit;
}

static int
severity_of(const subject *s, Tfdrift__V1__DriftKind kind, const char *attr)
{
	const cat_entry *e = s->e;
	int lvl;
	bool cond = true;
	rcfg_subject rs = { 0 };

	if (kind == TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DELETED)
		lvl = SEV_HIGH;
	else if (e->kind == CAT_TAG || e->kind == CAT_UNTAG)
		lvl = SEV_LOW;
	else
		lvl = SEV_MEDIUM;
	if (e->sev_cond == SEVC_OPEN)
		cond = request_open(s->ev);
	else if (e->sev_cond == SEVC_PUBLIC)
		cond = request_public(s->ev);
	if (e->severity != 0 && cond && (e->severity > lvl || e->sev_cond == SEVC_NONE))
		lvl = e->severity;
	if (s->m != NULL) {
		rs.workspace = s->m->workspace;
		rs.address = s->m->address;
		rs.type = s->m->type;
	} else {
		rs.type = e->types[0];
	}
	rs.event = s->ev->event_name;
	rs.principal = s->who->name;
	rs.attribute = attr;
	rs.tags = s->tags;
	return rcfg_severity(NULL, &rs, lvl);
}

static int
build_alert(const rule_env *env, const subject *s, Tfdrift__V1__DriftKind kind, const change *ch,
    int64_t now_ns, Tfdrift__V1__DriftAlert **out)
{
	const Tfdrift__V1__CloudEvent *ev = s->ev;
	Tfdrift__V1__DriftAlert *a = malloc(sizeof(*a));
	const char *parts[4];
	char key[65], unm[640];
	int rv = TD_ENOMEM;

	*out = NULL;
	if (a == NULL)
		return TD_ENOMEM;
	tfdrift__v1__drift_alert__init(a);
	a->kind = kind;
	{
		rcfg_subject rs = { 0 };
		int lvl = severity_of(s, kind, ch ? ch->attr : NULL);
		if (s->m != NULL) {
			rs.workspace = s->m->workspace;
			rs.address = s->m->address;
			rs.type = s->m->type;
		} else {
			rs.type = s->e->types[0];
		}
		rs.event = ev->event_name;
		rs.principal = s->who->name;
		rs.attribute = ch ? ch->attr : NULL;
		rs.tags = s->tags;
		a->severity = (Tfdrift__V1__Severity)rcfg_severity(env->cfg, &rs, lvl);
	}
	a->event_time_ns = ev->event_time_ns;
	a->detected_at_ns = now_ns;
	parts[0] = ev->event_id;
	parts[1] = s->m ? s->m->workspace : "";
	if (s->m == NULL)
		snprintf(unm, sizeof(unm), "%s/%s", s->e->types[0], s->id);
	parts[2] = s->m ? s->m->address : unm;
	parts[3] = ch ? ch->attr : "";
	td_id_sha256_hex(key, parts, 4);

	if (set_str(&a->alert_key, key) != 0 || set_str(&a->event_id, ev->event_id) != 0 ||
	    (s->m != NULL &&
		(set_str(&a->workspace, s->m->workspace) != 0 ||
		    set_str(&a->resource_address, s->m->address) != 0 ||
		    set_str(&a->resource_type, s->m->type) != 0)) ||
	    (s->m == NULL && set_str(&a->resource_type, s->e->types[0]) != 0) ||
	    fill_principal(a, ev, s->who) != 0 || set_str(&a->source_ip, ev->source_ip) != 0 ||
	    set_str(&a->user_agent, ev->user_agent) != 0 ||
	    set_str(&a->region, ev->aws_region) != 0 ||
	    set_str(&a->account_id, ev->account_id) != 0 ||
	    set_str(&a->event_name, ev->event_name) != 0 ||
	    set_str(&a->event_source, ev->event_source) != 0 ||
	    set_str(&a->service, s->e->service) != 0 ||
	    set_str(&a->falco_rule, ev->falco_rule) != 0 ||
	    set_str(&a->falco_priority, ev->falco_priority) != 0 ||
	    set_str(&a->raw_event_json, ev->raw_json) != 0)
		goto out;
	if (s->id != NULL) {
		a->identifiers = calloc(1, sizeof(*a->identifiers));
		if (a->identifiers == NULL)
			goto out;
		a->identifiers[0] = malloc(sizeof(**a->identifiers));
		if (a->identifiers[0] == NULL)
			goto out;
		tfdrift__v1__drift_alert__identifiers_entry__init(a->identifiers[0]);
		a->n_identifiers = 1;
		if (set_str(&a->identifiers[0]->key, "id") != 0 ||
		    set_str(&a->identifiers[0]->value, s->id) != 0)
			goto out;
	}
	if (ch != NULL) {
		Tfdrift__V1__AttributeChange *c = malloc(sizeof(*c));
		if (c == NULL || (a->changes = calloc(1, sizeof(*a->changes))) == NULL) {
			free(c);
			goto out;
		}
		tfdrift__v1__attribute_change__init(c);
		a->changes[0] = c;
		a->n_changes = 1;
		c->sensitive = ch->sensitive;
		if (set_str(&a->attribute, ch->attr) != 0 || set_str(&c->path, ch->attr) != 0 ||
		    set_str(&c->old_json, ch->old_json) != 0 ||
		    set_str(&c->new_json, ch->new_json) != 0)
			goto out;
	}
	if (fill_texts(a, s, ch) != 0)
		goto out;
	*out = a;
	a = NULL;
	rv = 0;
out:
	if (a != NULL)
		protobuf_c_message_free_unpacked(&a->base, NULL);
	return rv;
}

/* ---- evaluation ------------------------------------------------------------------- */

/* Re-points m at the sibling of the entry's preferred type with the same name
 * (aws_s3_bucket.assets -> aws_s3_bucket_policy.assets) when that exists. */
static int
prefer_type(const cat_entry *e, const rule_state *st, rule_match *m, char **attrs)
{
	char addr[sizeof(m->address)];
	const char *at;
	size_t tl = strlen(m->type);
	int rv;

	for (size_t i = 0; i < e->ntypes; i++)
		if (strcmp(e->types[i], m->type) == 0)
			return 0;
	/* the type segment of the address: "module.x.aws_s3_bucket.assets" */
	at = strstr(m->address, m->type);
	if (at == NULL || at[tl] != '.')
		return 0;
	for (size_t i = 0; i < e->ntypes; i++) {
		char *j = NULL;
		snprintf(addr, sizeof(addr), "%.*s%s%s", (int)(at - m->address), m->address,
		    e->types[i], at + tl);
		rv = st->attrs(st->arg, m->workspace, m->gen, addr, &j);
		if (rv == TD_ENOTFOUND)
			continue;
		if (rv != 0)
			return rv;
		free(*attrs);
		*attrs = j;
		snprintf(m->address, sizeof(m->address), "%s", addr);
		snprintf(m->type, sizeof(m->type), "%s", e->types[i]);
		return 0;
	}
	return 0;
}

static void result_skip(rule_result *res, int reason, const char *f, ...)
    __attribute__((format(printf, 3, 4)));
static void
result_skip(rule_result *res, int reason, const char *f, ...)
{
	va_list ap;

	res->skip = rule_skip_reasons[reason];
	va_start(ap, f);
	vsnprintf(res->reason, sizeof(res->reason), f, ap);
	va_end(ap);
}

static int
emit(const rule_env *env, const subject *s, Tfdrift__V1__DriftKind kind, const change *ch,
    int64_t now_ns, rule_alerts *out, size_t *ignored, const char **ign_name)
{
	Tfdrift__V1__DriftAlert *a;
	rcfg_subject rs = { 0 };
	const char *ign;
	int rv;

	if (s->m != NULL) {
		rs.workspace = s->m->workspace;
		rs.address = s->m->address;
		rs.type = s->m->type;
	} else {
		rs.type = s->e->types[0];
	}
	rs.event = s->ev->event_name;
	rs.principal = s->who->name;
	rs.attribute = ch ? ch->attr : NULL;
	rs.tags = s->tags;
	if ((ign = rcfg_ignored(env->cfg, &rs, false)) != NULL) {
		(*ignored)++;
		*ign_name = ign;
		return 0;
	}
	if ((rv = build_alert(env, s, kind, ch, now_ns, &a)) != 0)
		return rv;
	if ((rv = push_alert(out, a)) != 0)
		protobuf_c_message_free_unpacked(&a->base, NULL);
	return rv;
}

/* What the identifiers of one event came to. */
typedef struct tally {
	rule_match seen[MAX_IDS]; /* instances already compared (one alert set each) */
	size_t nseen;
	size_t managed; /* identifiers that named a managed instance */
	size_t ignored, nochange;
	const char *ign; /* the ignore rule that dropped an alert */
	bool miss;       /* the entry names attributes, the event gave none of them */
} tally;

/* How the entry treats a match of type (catalog TYPE:delete / TYPE:present). */
static cat_as
type_as(const cat_entry *e, const char *type)
{
	for (size_t i = 0; i < e->ntypes; i++)
		if (strcmp(e->types[i], type) == 0)
			return e->as[i];
	return CAT_AS_ENTRY;
}

/* Alerts about one managed resource.  Silence only when every value the
 * event sets equals the state; when the entry's extractors took nothing from
 * the event (a request form they do not know), a coarse MODIFIED alert and
 * t->miss. */
static int
managed(const rule_env *env, subject *s, char *attrs_json, int64_t now_ns, rule_alerts *out,
    tally *t)
{
	cJSON *state = parse_obj(attrs_json);
	changes cs = { .n = 0 };
	cat_as as = type_as(s->e, s->m->type);
	int rv = 0;

	s->tags = state ? cJSON_GetObjectItemCaseSensitive(state, "tags") : NULL;
	if (as == CAT_AS_PRESENT) {
		t->nochange++;
		goto out;
	}
	if (s->kind == CAT_DELETE || as == CAT_AS_DELETE) {
		rv = emit(env, s, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DELETED, NULL, now_ns, out,
		    &t->ignored, &t->ign);
		goto out;
	}
	if (s->e->nattrs > 0 && s->req != NULL && state != NULL &&
	    (rv = extract_diff(s->e, s->m->type, s->req, state, &cs)) != 0)
		goto out;
	if (cs.any_extractor && cs.values > 0) {
		if (cs.n == 0)
			t->nochange++;
		for (size_t i = 0; rv == 0 && i < cs.n; i++)
			rv = emit(env, s, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DRIFT, &cs.v[i],
			    now_ns, out, &t->ignored, &t->ign);
		goto out;
	}
	if (extract_applies(s->e, s->m->type))
		t->miss = true;
	rv = emit(env, s, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED, NULL, now_ns, out,
	    &t->ignored, &t->ign);
out:
	extract_changes_free(&cs);
	cJSON_Delete(state);
	return rv;
}

/* The skips decided before any lookup: read-only, failed or Terraform's
 * call, an event the catalog does not map, an ignore rule on the event and
 * principal.  True when ev is skipped (res says why); else *e is its entry
 * and *who who made the call. */
static bool
skipped_early(const rule_env *env, const Tfdrift__V1__CloudEvent *ev, rule_who *who,
    const cat_entry **e, rule_result *res)
{
	const char *ign;

	if ((res->skip = rule_skip_reason(env, ev)) != NULL) {
		snprintf(res->reason, sizeof(res->reason), "%s",
		    res->skip == rule_skip_reasons[SK_READ_ONLY] ? "a read-only call"
			: res->skip == rule_skip_reasons[SK_FAILED]
			? "a failed call (errorCode set)"
			: "Terraform's own call (user agent or a configured principal)");
		return true;
	}
	*e = cat_find(env->catalog, ev->event_source, ev->event_name);
	res->entry = *e;
	if (*e == NULL) {
		result_skip(res, SK_NOT_MAPPED, "%s %s is not in the catalog", ev->event_source,
		    ev->event_name);
		return true;
	}
	rule_resolve_who(ev, who);
	rcfg_subject rs = { .event = ev->event_name, .principal = who->name };
	if ((ign = rcfg_ignored(env->cfg, &rs, true)) != NULL) {
		result_skip(res, SK_IGNORED, "ignore rule '%s'", ign);
		return true;
	}
	return false;
}

/* The identifiers locator p names.  *resp is parsed when it needs the
 * response. */
static void
find_ids(const cat_path *p, const Tfdrift__V1__CloudEvent *ev, const cJSON *req, cJSON **resp,
    ids *found)
{
	if (p->where == CAT_RESOURCES) {
		for (size_t k = 0; k < ev->n_resources; k++)
			if (!empty(ev->resources[k]->arn) && add_id(found, ev->resources[k]->arn))
				break;
	} else if (p->where == CAT_RESP) {
		if (*resp == NULL)
			*resp = parse_obj(ev->response_elements_json);
		cat_path_strings(p, *resp, add_id, found);
	} else if (p->where == CAT_REQ) {
		cat_path_strings(p, req, add_id, found);
	}
}

/* The managed instance identifier id names.  Sub-resources are indexed
 * scoped, "<type>:<value>" (an S3 bucket's policy by the bucket's name): the
 * entry's types first, then id itself.  0, TD_ENOTFOUND or a lookup error. */
void
rule_event_scope(const Tfdrift__V1__CloudEvent *ev, rule_scope *scope)
{
	const Tfdrift__V1__UserIdentity *id = ev->user_identity;

	/* ev->account_id is userIdentity.accountId, else recipientAccountId */
	scope->account = "";
	if (!empty(ev->recipient_account_id))
		scope->account = ev->recipient_account_id;
	else if (!empty(ev->account_id))
		scope->account = ev->account_id;
	else if (id != NULL && !empty(id->account_id))
		scope->account = id->account_id;
	scope->region = !empty(ev->aws_region) ? ev->aws_region : "";
}

/* An ARN names where its resource lives (arn:PARTITION:SERVICE:REGION:ACCOUNT:…):
 * a 12-digit account and a region in it replace the event's in *sc (a topic
 * of eu-west-1 named by a call in us-east-1, another account's role); the
 * strings go into acc and reg. */
static void
arn_scope(const char *id, rule_scope *sc, char *acc, size_t alen, char *reg, size_t rlen)
{
	const char *f[5];
	size_t k = 0, n;

	if (strncmp(id, "arn:", 4) != 0)
		return;
	for (const char *p = id; *p != '\0' && k < 5; p++)
		if (*p == ':')
			f[k++] = p + 1;
	if (k < 5)
		return;
	n = (size_t)(f[4] - f[3] - 1);
	if (n == 12 && strspn(f[3], "0123456789") >= 12 && n < alen) {
		snprintf(acc, alen, "%.*s", (int)n, f[3]);
		sc->account = acc;
	}
	n = (size_t)(f[3] - f[2] - 1);
	if (n > 0 && n < rlen) {
		snprintf(reg, rlen, "%.*s", (int)n, f[2]);
		sc->region = reg;
	}
}

static int
lookup_id(const cat_entry *e, const Tfdrift__V1__CloudEvent *ev, const rule_state *st,
    const char *id, rule_match *m)
{
	int rv = TD_ENOTFOUND;
	char acc[16], reg[40];
	rule_scope sc;

	rule_event_scope(ev, &sc);
	arn_scope(id, &sc, acc, sizeof(acc), reg, sizeof(reg));
	memset(m, 0, sizeof(*m));
	for (size_t t = 0; rv == TD_ENOTFOUND && t < e->ntypes; t++) {
		char scoped[700];
		snprintf(scoped, sizeof(scoped), "%s:%s", e->types[t], id);
		rv = st->lookup(st->arg, &sc, scoped, m);
	}
	if (rv == TD_ENOTFOUND)
		rv = st->lookup(st->arg, &sc, id, m);
	return rv;
}

/* Records what one identifier came to, for `explain` (and the
 * alerts it raised: out->n - before). */
static void
decide(rule_result *res, const subject *s, const char *outcome, size_t before,
    const rule_alerts *out)
{
	rule_decision *d;

	if (res->ndec == RULE_MAX_DECISIONS)
		return;
	d = &res->dec[res->ndec++];
	snprintf(d->id, sizeof(d->id), "%.*s", (int)sizeof(d->id) - 1, s->id != NULL ? s->id : "");
	snprintf(d->workspace, sizeof(d->workspace), "%.*s", (int)sizeof(d->workspace) - 1,
	    s->m ? s->m->workspace : "");
	snprintf(d->address, sizeof(d->address), "%.*s", (int)sizeof(d->address) - 1,
	    s->m ? s->m->address : "");
	d->alerts = out->n - before;
	d->outcome = outcome;
	if (d->alerts > 0)
		switch (out->items[before]->kind) {
		case TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DRIFT: d->outcome = "drift"; break;
		case TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DELETED: d->outcome = "deleted"; break;
		case TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_UNMANAGED: d->outcome = "unmanaged"; break;
		default: d->outcome = "modified";
		}
}

/* One identifier the event names: an unmanaged alert for a create of
 * nothing known, else the managed instance's alerts (once per instance).
 * *hit: it named a managed instance (or raised an unmanaged alert). */
static int
on_identifier(const rule_env *env, subject *s, const rule_state *st, int64_t now_ns,
    rule_alerts *out, tally *t, rule_result *res, bool *hit)
{
	rule_match m;
	char *attrs = NULL;
	size_t k, before = out->n, ign0 = t->ignored;
	int rv = lookup_id(s->e, s->ev, st, s->id, &m);

	if (rv == TD_ENOTFOUND) {
		if (s->kind != CAT_CREATE && !s->upsert) {
			decide(res, s, "not_managed", before, out);
			return 0;
		}
		*hit = true;
		rv = emit(env, s, TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_UNMANAGED, NULL, now_ns, out,
		    &t->ignored, &t->ign);
		if (rv == 0)
			decide(res, s, t->ignored > ign0 ? "ignored" : "unmanaged", before, out);
		return rv;
	}
	if (rv != 0)
		return rv;
	*hit = true;
	rv = st->attrs(st->arg, m.workspace, m.gen, m.address, &attrs);
	if (rv != 0 && rv != TD_ENOTFOUND)
		return rv;
	if ((rv = prefer_type(s->e, st, &m, &attrs)) != 0) {
		free(attrs);
		return rv;
	}
	for (k = 0; k < t->nseen; k++)
		if (strcmp(t->seen[k].workspace, m.workspace) == 0 &&
		    strcmp(t->seen[k].address, m.address) == 0)
			break;
	if (k < t->nseen || k == MAX_IDS) {
		free(attrs);
		return 0;
	}
	t->seen[t->nseen++] = m;
	t->managed++;
	s->m = &t->seen[k];
	rv = managed(env, s, attrs, now_ns, out, t);
	free(attrs);
	if (rv == 0)
		decide(res, s, t->ignored > ign0 ? "ignored" : "no_change", before, out);
	return rv;
}

/* Why an event that matched the catalog raised what it raised. */
static void
explain_outcome(rule_result *res, const cat_entry *e, const char *first_id, const tally *t)
{
	if (res->alerts > 0) {
		snprintf(res->reason, sizeof(res->reason), "catalog %s:%d (%s %s, %s)", e->file,
		    e->line, e->service, e->event, cat_kind_name(e->kind));
	} else if (t->ignored > 0) {
		result_skip(res, SK_IGNORED, "ignore rule '%s'", t->ign);
	} else if (t->managed == 0) {
		result_skip(res, SK_NOT_MANAGED,
		    "catalog %s:%d matched; %s is in no loaded state and the call does not create it",
		    e->file, e->line, first_id);
	} else {
		result_skip(res, SK_NO_CHANGE,
		    "catalog %s:%d matched; every extracted value equals the state", e->file,
		    e->line);
	}
}

/* "www.Example.com." -> "www.example.com"; Route 53 writes '*' as \052. */
static void
r53_name(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = in; *p != '\0' && o + 1 < len; p++) {
		if (strncmp(p, "\\052", 4) == 0) {
			out[o++] = '*';
			p += 3;
		} else {
			out[o++] = (char)tolower((unsigned char)*p);
		}
	}
	if (o > 0 && out[o - 1] == '.')
		o--;
	out[o] = '\0';
}

/* Each change of a ChangeResourceRecordSets batch: its aws_route53_record by
 * ZONE_NAME_TYPE[_SETID] (the state id), CREATE/UPSERT of one no state holds
 * -> unmanaged, DELETE of a managed one -> deleted, UPSERT -> its values vs
 * the state (the entry's extractors, relative to resourceRecordSet). */
static int
r53_changes(const rule_env *env, subject *base, const rule_state *st, int64_t now_ns,
    rule_alerts *out, tally *t, rule_result *res, size_t *named, char *first, size_t flen)
{
	const cJSON *req = base->req, *ch;
	const char *zone = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(req, "hostedZoneId"))
	    ? cJSON_GetObjectItemCaseSensitive(req, "hostedZoneId")->valuestring
	    : NULL;
	const cJSON *batch = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(req,
								  "changeBatch"),
	    "changes");
	int rv = 0;

	if (zone == NULL)
		return 0;
	if (strncmp(zone, "/hostedzone/", 12) == 0)
		zone += 12;
	if (cJSON_IsObject(batch) && cJSON_GetObjectItemCaseSensitive(batch, "items") != NULL)
		batch = cJSON_GetObjectItemCaseSensitive(batch, "items");
	cJSON_ArrayForEach(ch, batch)
	{
		const cJSON *rrs = cJSON_GetObjectItemCaseSensitive(ch, "resourceRecordSet");
		const char *action = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(ch, "action"))
		    ? cJSON_GetObjectItemCaseSensitive(ch, "action")->valuestring
		    : "";
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(rrs, "name");
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(rrs, "type");
		const cJSON *set = cJSON_GetObjectItemCaseSensitive(rrs, "setIdentifier");
		char fqdn[300], id[600];
		subject s = *base;
		bool hit = false;

		if (!cJSON_IsString(name) || !cJSON_IsString(type))
			continue;
		r53_name(name->valuestring, fqdn, sizeof(fqdn));
		snprintf(id, sizeof(id), "%s_%s_%s%s%s", zone, fqdn, type->valuestring,
		    cJSON_IsString(set) ? "_" : "", cJSON_IsString(set) ? set->valuestring : "");
		if ((*named)++ == 0)
			snprintf(first, flen, "%.*s", (int)flen - 1, id);
		s.id = id;
		s.req = rrs;
		s.m = NULL;
		s.kind = strcmp(action, "DELETE") == 0 ? CAT_DELETE
		    : strcmp(action, "CREATE") == 0    ? CAT_CREATE
						       : CAT_MODIFY;
		s.upsert = strcmp(action, "UPSERT") == 0;
		if ((rv = on_identifier(env, &s, st, now_ns, out, t, res, &hit)) != 0)
			break;
	}
	return rv;
}

int
rule_evaluate(const rule_env *env, const Tfdrift__V1__CloudEvent *ev, const rule_state *st,
    int64_t now_ns, rule_alerts *out, rule_result *res)
{
	const cat_entry *e = NULL;
	cJSON *req = NULL, *resp = NULL;
	rule_who who;
	tally t = { .nseen = 0 };
	size_t first_new = out->n, named = 0;
	char first[256] = "";
	bool hit = false;
	int rv = 0;

	/* the header only: dec[] (16 KB) is valid as far as ndec says */
	res->skip = NULL;
	res->entry = NULL;
	res->reason[0] = '\0';
	res->alerts = res->precise = res->coarse = res->ndec = 0;
	res->miss = false;
	if (skipped_early(env, ev, &who, &e, res))
		return 0;
	req = parse_obj(ev->request_parameters_json);
	/* locators in order; the first whose identifiers name a managed resource
	 * (or raise an unmanaged alert) decides */
	for (size_t li = 0; rv == 0 && !hit && li < e->nids; li++) {
		subject base = { .ev = ev, .e = e, .who = &who, .req = req, .kind = e->kind };
		ids found = { .n = 0 };
		if (e->ids[li].where == CAT_R53_CHANGES) {
			rv = r53_changes(env, &base, st, now_ns, out, &t, res, &named, first,
			    sizeof(first));
			break;
		}
		find_ids(&e->ids[li], ev, req, &resp, &found);
		if (found.oom)
			rv = TD_ENOMEM;
		if (found.n > 0 && named++ == 0)
			snprintf(first, sizeof(first), "%.*s", (int)sizeof(first) - 1, found.v[0]);
		if (found.n > 0)
			res->ndec = 0; /* a later locator decides: only its decisions count */
		for (size_t i = 0; rv == 0 && i < found.n; i++) {
			subject s = base;
			s.id = found.v[i];
			rv = on_identifier(env, &s, st, now_ns, out, &t, res, &hit);
		}
		ids_free(&found);
	}
	if (rv != 0)
		goto out;
	if (named == 0) {
		result_skip(res, SK_NO_ID,
		    "%s:%d matched, but none of its identifier paths is in the event", e->file,
		    e->line);
		goto out;
	}
	res->alerts = out->n - first_new;
	for (size_t i = first_new; i < out->n; i++) {
		if (out->items[i]->kind == TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DRIFT)
			res->precise++;
		else if (out->items[i]->kind == TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED)
			res->coarse++;
	}
	res->miss = t.miss;
	explain_outcome(res, e, first, &t);
out:
	if (rv != 0) {
		while (out->n > first_new)
			protobuf_c_message_free_unpacked(&out->items[--out->n]->base, NULL);
		res->alerts = res->precise = res->coarse = res->ndec = 0;
	}
	cJSON_Delete(req);
	cJSON_Delete(resp);
	return rv;
}
