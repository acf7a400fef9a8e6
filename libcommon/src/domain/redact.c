/* redact.c — sensitive_attributes paths and secret-looking names. */
#include "tfdrift/redact.h"

#include <string.h>
#include <strings.h>

/* Name fragments (matched case-insensitively anywhere in the name) that mark a
 * member as holding a secret: master_password, secret_string, auth_token,
 * private_key_pem, tunnel1_preshared_key, the AWS access key's `secret` and
 * `ses_smtp_password_v4`, an environment variable DB_PASSWORD, ... */
static const char *const secret_fragments[] = {
	"password",
	"passwd",
	"secret",
	"private_key",
	"privatekey",
	"token",
	"api_key",
	"apikey",
	"preshared_key",
	"pre_shared_key",
	"credential",
	"auth_string",
	"access_key",  /* azurerm_storage_account.primary_access_key, access_key */
	"secret_key",  /* (covered by "secret"; listed for the reader) */
	"primary_key", /* azurerm_cosmosdb_account.primary_key, ... */
	"secondary_key",
	"connection_string", /* azurerm_*.primary_connection_string */
	"shared_key",        /* azurerm_virtual_network_gateway_connection.shared_key */
	"master_key",
	"account_key",
	"passphrase",
	"kube_config", /* azurerm_kubernetes_cluster.kube_config_raw */
	"kubeconfig",
};

/* Name endings that only refer to a secret (where it lives, what it is
 * called), never hold one: secret_arn, kms_key_id, secret_name. */
static const char *const reference_suffixes[] = {
	"_arn",
	"_arns",
	"_id",
	"_ids",
	"_name",
	"_names",
	"_enabled",
	"_type",
	"_status",
	"_length",   /* password_length */
	"_required", /* password_reset_required */
	"_policy",   /* password_policy: a block of rules */
	"_validity", /* access_token_validity: a duration */
	"_validity_units",
	"_count",
};

/* The first letters of secret_fragments (a new fragment needs its letter
 * here): a name is read once per member of every instance, and most
 * positions in it start no fragment. */
static const bool fragment_start[256] = {
	['p'] = true,
	['s'] = true,
	['t'] = true,
	['a'] = true,
	['c'] = true,
	['m'] = true,
	['k'] = true,
};

/* Whether the lower-case text low (n bytes) holds one of the fragments.  A
 * plain loop: names are short and strcasestr's setup cost dominated the
 * parse of large states. */
static bool
has_fragment(const char *low, size_t n)
{
	size_t pos, i, fl;
	const char *f;

	for (pos = 0; pos < n; pos++) {
		if (!fragment_start[(unsigned char)low[pos]]) {
			continue;
		}
		for (i = 0; i < sizeof(secret_fragments) / sizeof(secret_fragments[0]); i++) {
			f = secret_fragments[i];
			if (f[0] != low[pos]) {
				continue;
			}
			fl = strlen(f);
			if (n - pos >= fl && memcmp(low + pos, f, fl) == 0) {
				return true;
			}
		}
	}
	return false;
}

bool
redact_name_is_secret(const char *name)
{
	char low[128];
	size_t i, n, sl;
	bool hit = false;

	if (name == NULL) {
		return false;
	}
	n = strlen(name);
	if (n < sizeof(low)) {
		for (i = 0; i < n; i++) {
			unsigned char c = (unsigned char)name[i];
			low[i] = (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
		}
		hit = has_fragment(low, n);
	} else {
		for (i = 0; i < sizeof(secret_fragments) / sizeof(secret_fragments[0]); i++) {
			if (strcasestr(name, secret_fragments[i]) != NULL) {
				hit = true;
				break;
			}
		}
	}
	if (!hit) {
		return false;
	}
	for (i = 0; i < sizeof(reference_suffixes) / sizeof(reference_suffixes[0]); i++) {
		sl = strlen(reference_suffixes[i]);
		if (n > sl && strcasecmp(name + n - sl, reference_suffixes[i]) == 0) {
			return false;
		}
	}
	return true;
}

/* ---- rule 1: sensitive_attributes ---------------------------------------- */

static int
check_paths(const cJSON *paths, const char *where, td_error *err)
{
	const cJSON *path, *step, *type, *value;
	int i = 0, j;

	if (paths == NULL || cJSON_IsNull(paths)) {
		return 0;
	}
	if (!cJSON_IsArray(paths)) {
		return td_error_set(err, TD_EINVAL, "%s: expected an array of paths", where);
	}
	cJSON_ArrayForEach(path, paths)
	{
		if (!cJSON_IsArray(path)) {
			return td_error_set(err, TD_EINVAL, "%s[%d]: expected an array of steps",
			    where, i);
		}
		j = 0;
		cJSON_ArrayForEach(step, path)
		{
			if (!cJSON_IsObject(step)) {
				return td_error_set(err, TD_EINVAL,
				    "%s[%d][%d]: expected an object", where, i, j);
			}
			type = cJSON_GetObjectItemCaseSensitive(step, "type");
			value = cJSON_GetObjectItemCaseSensitive(step, "value");
			if (!cJSON_IsString(type) ||
			    (strcmp(type->valuestring, "get_attr") != 0 &&
				strcmp(type->valuestring, "index") != 0)) {
				return td_error_set(err, TD_EINVAL,
				    "%s[%d][%d].type: expected \"get_attr\" or \"index\"", where, i,
				    j);
			}
			if (strcmp(type->valuestring, "get_attr") == 0
				? !cJSON_IsString(value)
				: !cJSON_IsString(value) && !cJSON_IsNumber(value)) {
				return td_error_set(err, TD_EINVAL,
				    "%s[%d][%d].value: expected a %s", where, i, j,
				    strcmp(type->valuestring, "get_attr") == 0
					? "string"
					: "string or a number");
			}
			j++;
		}
		i++;
	}
	return 0;
}

/* Follows one step from node; NULL when the step leads nowhere. */
static cJSON *
follow(cJSON *node, const cJSON *step)
{
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(step, "value");
	double d;

	if (cJSON_IsString(value)) {
		/* get_attr on an object, or an index into a map (also an object) */
		return cJSON_IsObject(node)
		    ? cJSON_GetObjectItemCaseSensitive(node, value->valuestring)
		    : NULL;
	}
	d = value->valuedouble;
	if (!cJSON_IsArray(node) || !(d >= 0 && d < (double)cJSON_GetArraySize(node)) ||
	    d != (double)(int)d) {
		return NULL;
	}
	return cJSON_GetArrayItem(node, (int)d);
}

/* Replaces target (a child of parent) with the redaction text. */
static int
replace_node(cJSON *parent, cJSON *target)
{
	cJSON *r = cJSON_CreateString(REDACT_TEXT);

	if (r == NULL) {
		return TD_ENOMEM;
	}
	/* cJSON_ReplaceItemViaPointer keeps the position but not the member
	 * name; hand the name (and whether it is a constant) over */
	r->string = target->string;
	r->type |= target->type & cJSON_StringIsConst;
	target->string = NULL;
	if (!cJSON_ReplaceItemViaPointer(parent, target, r)) {
		target->string = r->string;
		r->string = NULL;
		cJSON_Delete(r);
		return TD_ENOMEM;
	}
	return 0;
}

static bool
is_redacted(const cJSON *node)
{
	return cJSON_IsString(node) && strcmp(node->valuestring, REDACT_TEXT) == 0;
}

static int
apply_paths(cJSON *attrs, const cJSON *paths, size_t *replaced)
{
	const cJSON *path, *step;
	cJSON *parent, *node;
	int rv;

	if (paths == NULL || cJSON_IsNull(paths)) {
		return 0;
	}
	cJSON_ArrayForEach(path, paths)
	{
		parent = NULL;
		node = attrs;
		cJSON_ArrayForEach(step, path)
		{
			parent = node;
			if ((node = follow(node, step)) == NULL) {
				break;
			}
		}
		/* An empty path would mean the whole object; Terraform never writes one. */
		if (node == NULL || parent == NULL || is_redacted(node)) {
			continue;
		}
		if ((rv = replace_node(parent, node)) != 0) {
			return rv;
		}
		(*replaced)++;
	}
	return 0;
}

/* ---- rule 2: names ---------------------------------------------------------- */

static int
apply_names(cJSON *node, bool secret, size_t *replaced)
{
	cJSON *child, *next;
	int rv;

	for (child = node->child; child != NULL; child = next) {
		/* replace_node frees child; remember where to go on */
		next = child->next;
		bool member = cJSON_IsObject(node);
		bool child_secret = member ? redact_name_is_secret(child->string) : secret;
		/* under a secret name every value goes: a string (not ""), a
		 * number, a boolean, and a map (an object member: a secret's key
		 * names and values together); a list is looked into below */
		bool scalar = (cJSON_IsString(child) && child->valuestring[0] != '\0') ||
		    cJSON_IsNumber(child) || cJSON_IsBool(child);
		if (child_secret && !is_redacted(child) &&
		    (scalar || (member && cJSON_IsObject(child)))) {
			if ((rv = replace_node(node, child)) != 0) {
				return rv;
			}
			(*replaced)++;
		} else if (cJSON_IsString(child)) {
			continue;
		} else if (cJSON_IsArray(child)) {
			/* a list under a secret name: its strings are secrets too */
			if ((rv = apply_names(child, child_secret, replaced)) != 0) {
				return rv;
			}
		} else if (cJSON_IsObject(child)) {
			/* a block: its own member names decide */
			if ((rv = apply_names(child, false, replaced)) != 0) {
				return rv;
			}
		}
	}
	return 0;
}

/* ---- rule 3: attributes secret by their resource type ------------------------------ */

/* Attributes whose providers mark them sensitive though their names say
 * nothing (a state written without sensitive_attributes, or by a provider
 * that forgot one, still has them redacted). */
static const struct {
	const char *type, *attr;
} type_secrets[] = {
	{ "random_password", "result" },
	{ "random_password", "bcrypt_hash" },
	{ "kubernetes_secret", "data" },
	{ "kubernetes_secret", "binary_data" },
	{ "kubernetes_secret_v1", "data" },
	{ "kubernetes_secret_v1", "binary_data" },
	{ "aws_ssm_parameter", "value" },
	{ "azurerm_key_vault_secret", "value" },
	{ "vault_generic_secret", "data" },
	{ "vault_generic_secret", "data_json" },
	{ "vault_kv_secret_v2", "data" },
	{ "vault_kv_secret_v2", "data_json" },
};

static int
apply_type(cJSON *attrs, const char *type, size_t *replaced)
{
	cJSON *v;
	int rv;

	if (type == NULL) {
		return 0;
	}
	for (size_t i = 0; i < sizeof(type_secrets) / sizeof(type_secrets[0]); i++) {
		if (strcmp(type_secrets[i].type, type) != 0) {
			continue;
		}
		v = cJSON_GetObjectItemCaseSensitive(attrs, type_secrets[i].attr);
		if (v == NULL || cJSON_IsNull(v) || is_redacted(v) ||
		    (cJSON_IsString(v) && v->valuestring[0] == '\0')) {
			continue;
		}
		if ((rv = replace_node(attrs, v)) != 0) {
			return rv;
		}
		(*replaced)++;
	}
	return 0;
}

int
redact_resource(cJSON *attrs, const char *type, const cJSON *sensitive_paths, const char *where,
    size_t *replaced, td_error *err)
{
	size_t n = 0, more = 0;
	int rv;

	if ((rv = redact_attributes(attrs, sensitive_paths, where, &n, err)) == 0 &&
	    (rv = apply_type(attrs, type, &more)) != 0) {
		td_error_set(err, rv, "%s: out of memory while redacting", where);
	}
	if (replaced != NULL) {
		*replaced = n + more;
	}
	return rv;
}

int
redact_attributes(cJSON *attrs, const cJSON *sensitive_paths, const char *where, size_t *replaced,
    td_error *err)
{
	size_t n = 0;
	int rv;

	if ((rv = check_paths(sensitive_paths, where, err)) != 0) {
		goto out;
	}
	if ((rv = apply_paths(attrs, sensitive_paths, &n)) != 0 ||
	    (rv = apply_names(attrs, false, &n)) != 0) {
		td_error_set(err, rv, "%s: out of memory while redacting", where);
		goto out;
	}
out:
	if (replaced != NULL) {
		*replaced = n;
	}
	return rv;
}
