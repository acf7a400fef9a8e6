/* tfstate.c — Terraform state v4 (internal/states/statefile/version4.go). */
#include "tfstate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "redact.h"

#define STATE_VERSION 4

struct tfs_state {
	cJSON *root; /* owns every string the instances point to */
	uint64_t serial;
	const char *lineage;
	const char *terraform_version;
	tfs_instance *inst;
	char **addresses; /* one malloc'd address per instance */
	size_t n, cap;
	size_t indexed;
	size_t redactions; /* values replaced by REDACT_TEXT */
};

/* ---- a small growable string -------------------------------------------- */

typedef struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
} sbuf;

static void
sb_putn(sbuf *b, const char *s, size_t n)
{
	size_t ncap;
	char *np;

	if (b->failed) {
		return;
	}
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap * 2 : 64;
		while (ncap < b->len + n + 1) {
			ncap *= 2;
		}
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_puts(sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

/* Appends s in HCL quotes, as Terraform's addrs.StringKey prints it: \n \r \t
 * \" \\ escaped, a template introducer ${ or %{ doubled, other control
 * characters as \uXXXX. */
static void
sb_put_hcl_quoted(sbuf *b, const char *s)
{
	char u[8];

	sb_putn(b, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '\n': sb_puts(b, "\\n"); break;
		case '\r': sb_puts(b, "\\r"); break;
		case '\t': sb_puts(b, "\\t"); break;
		case '"': sb_puts(b, "\\\""); break;
		case '\\': sb_puts(b, "\\\\"); break;
		case '$':
		case '%':
			sb_putn(b, s, 1);
			if (s[1] == '{') {
				sb_putn(b, s, 1);
			}
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				snprintf(u, sizeof(u), "\\u%04x", c);
				sb_puts(b, u);
			} else {
				sb_putn(b, s, 1);
			}
		}
	}
	sb_putn(b, "\"", 1);
}

/* ---- helpers ---------------------------------------------------------------- */

static bool
is_integer(double d)
{
	return isfinite(d) && d == floor(d);
}

/* 1-based line and column of offset in buf. */
static void
line_col(const char *buf, size_t off, size_t len, int *line, int *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int
add_instance(tfs_state *st, const tfs_instance *in, char *address)
{
	size_t ncap;
	void *np;

	if (st->n == st->cap) {
		ncap = st->cap ? st->cap * 2 : 64;
		if ((np = realloc(st->inst, ncap * sizeof(*st->inst))) == NULL) {
			return TD_ENOMEM;
		}
		st->inst = np;
		if ((np = realloc(st->addresses, ncap * sizeof(*st->addresses))) == NULL) {
			return TD_ENOMEM;
		}
		st->addresses = np;
		st->cap = ncap;
	}
	st->inst[st->n] = *in;
	st->inst[st->n].address = address;
	st->addresses[st->n] = address;
	st->n++;
	if (tfs_instance_indexed(in)) {
		st->indexed++;
	}
	return 0;
}

/* Optional string member: absent or null gives "", another type is an error. */
static int
opt_string(const cJSON *obj, const char *key, const char **out, const char *name, const char *field,
    td_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = "";
	if (v == NULL || cJSON_IsNull(v)) {
		return 0;
	}
	if (!cJSON_IsString(v)) {
		return td_error_set(err, TD_EINVAL, "%s: %s%s: expected a string", name, field,
		    key);
	}
	*out = v->valuestring;
	return 0;
}

static int
req_string(const cJSON *obj, const char *key, const char **out, const char *name, const char *field,
    td_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = "";
	if (v == NULL || cJSON_IsNull(v)) {
		return td_error_set(err, TD_EINVAL, "%s: %s%s: missing", name, field, key);
	}
	if (!cJSON_IsString(v) || v->valuestring[0] == '\0') {
		return td_error_set(err, TD_EINVAL, "%s: %s%s: expected a non-empty string", name,
		    field, key);
	}
	*out = v->valuestring;
	return 0;
}

/* ---- top level -------------------------------------------------------------- */

static int
check_header(tfs_state *st, const char *name, td_error *err)
{
	const cJSON *v;

	if (!cJSON_IsObject(st->root)) {
		return td_error_set(err, TD_EINVAL, "%s: expected a JSON object at the top level",
		    name);
	}
	v = cJSON_GetObjectItemCaseSensitive(st->root, "version");
	if (v == NULL) {
		return td_error_set(err, TD_EINVAL,
		    "%s: version: missing (is this a Terraform state file?)", name);
	}
	if (!cJSON_IsNumber(v) || !is_integer(v->valuedouble)) {
		return td_error_set(err, TD_EINVAL, "%s: version: expected an integer", name);
	}
	if (v->valuedouble < STATE_VERSION) {
		return td_error_set(err, TD_EUNSUPPORTED,
		    "%s: state format version %.0f is not supported; run `terraform state pull` "
		    "with a current Terraform and point tfdrift at that file",
		    name, v->valuedouble);
	}
	if (v->valuedouble > STATE_VERSION) {
		return td_error_set(err, TD_EUNSUPPORTED,
		    "%s: state format version %.0f is newer than this tfdrift understands (%d)",
		    name, v->valuedouble, STATE_VERSION);
	}
	v = cJSON_GetObjectItemCaseSensitive(st->root, "serial");
	if (v != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsNumber(v) || !is_integer(v->valuedouble) || v->valuedouble < 0) {
			return td_error_set(err, TD_EINVAL,
			    "%s: serial: expected a non-negative integer", name);
		}
		st->serial = (uint64_t)v->valuedouble;
	}
	if (opt_string(st->root, "lineage", &st->lineage, name, "", err) != 0 ||
	    opt_string(st->root, "terraform_version", &st->terraform_version, name, "", err) != 0) {
		return TD_EINVAL;
	}
	return 0;
}

/* ---- one instance ------------------------------------------------------------ */

typedef struct res_ctx {
	const char *name; /* file name for messages */
	const char *module, *type, *rname, *provider;
	bool managed;
	size_t ri;
} res_ctx;

static int
build_address(const res_ctx *rc, const cJSON *key, char **out, const char *field, td_error *err)
{
	sbuf b = { 0 };
	char num[32];

	if (rc->module[0] != '\0') {
		sb_puts(&b, rc->module);
		sb_puts(&b, ".");
	}
	if (!rc->managed) {
		sb_puts(&b, "data.");
	}
	sb_puts(&b, rc->type);
	sb_puts(&b, ".");
	sb_puts(&b, rc->rname);
	if (key != NULL && !cJSON_IsNull(key)) {
		if (cJSON_IsNumber(key)) {
			if (!is_integer(key->valuedouble) || fabs(key->valuedouble) > 9.0e15) {
				free(b.p);
				return td_error_set(err, TD_EINVAL,
				    "%s: %sindex_key: expected an integer or a string", rc->name,
				    field);
			}
			snprintf(num, sizeof(num), "[%.0f]", key->valuedouble);
			sb_puts(&b, num);
		} else if (cJSON_IsString(key)) {
			sb_puts(&b, "[");
			sb_put_hcl_quoted(&b, key->valuestring);
			sb_puts(&b, "]");
		} else {
			free(b.p);
			return td_error_set(err, TD_EINVAL,
			    "%s: %sindex_key: expected an integer or a string", rc->name, field);
		}
	}
	if (b.failed) {
		free(b.p);
		return td_error_set(err, TD_ENOMEM, "%s: out of memory", rc->name);
	}
	*out = b.p;
	return 0;
}

/* Makes sure the instance has an `attributes` object the tree owns: the
 * legacy `attributes_flat` map stands in when there is none, and an instance
 * with neither gets an empty object (as Terraform reads it). */
static int
instance_attributes(cJSON *inst, const res_ctx *rc, const char *field, cJSON **out, td_error *err)
{
	cJSON *a = cJSON_GetObjectItemCaseSensitive(inst, "attributes");
	cJSON *flat;

	if (a != NULL && !cJSON_IsNull(a)) {
		if (!cJSON_IsObject(a)) {
			return td_error_set(err, TD_EINVAL, "%s: %sattributes: expected an object",
			    rc->name, field);
		}
		*out = a;
		return 0;
	}
	flat = cJSON_GetObjectItemCaseSensitive(inst, "attributes_flat");
	if (flat != NULL && !cJSON_IsNull(flat)) {
		if (!cJSON_IsObject(flat)) {
			return td_error_set(err, TD_EINVAL,
			    "%s: %sattributes_flat: expected an object", rc->name, field);
		}
		a = cJSON_DetachItemViaPointer(inst, flat);
	} else {
		a = cJSON_CreateObject();
	}
	if (a == NULL) {
		return td_error_set(err, TD_ENOMEM, "%s: out of memory", rc->name);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(inst, "attributes");
	if (!cJSON_AddItemToObject(inst, "attributes", a)) {
		cJSON_Delete(a);
		return td_error_set(err, TD_ENOMEM, "%s: out of memory", rc->name);
	}
	*out = a;
	return 0;
}

static int
parse_instance(tfs_state *st, const res_ctx *rc, cJSON *inst, size_t ii, td_error *err)
{
	char field[96], where[512];
	const cJSON *v, *dep;
	tfs_instance in = { 0 };
	cJSON *attrs = NULL;
	char *address = NULL;
	const char *status, *deposed;
	size_t replaced = 0;
	int rv, k;

	snprintf(field, sizeof(field), "resources[%zu].instances[%zu].", rc->ri, ii);
	if (!cJSON_IsObject(inst)) {
		field[strlen(field) - 1] = '\0';
		return td_error_set(err, TD_EINVAL, "%s: %s: expected an object", rc->name, field);
	}
	if ((rv = opt_string(inst, "status", &status, rc->name, field, err)) != 0 ||
	    (rv = opt_string(inst, "deposed", &deposed, rc->name, field, err)) != 0) {
		return rv;
	}
	if (status[0] != '\0' && strcmp(status, "tainted") != 0) {
		return td_error_set(err, TD_EINVAL, "%s: %sstatus: unknown status \"%s\"", rc->name,
		    field, status);
	}
	v = cJSON_GetObjectItemCaseSensitive(inst, "dependencies");
	if (v != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsArray(v)) {
			return td_error_set(err, TD_EINVAL, "%s: %sdependencies: expected an array",
			    rc->name, field);
		}
		k = 0;
		cJSON_ArrayForEach(dep, v)
		{
			if (!cJSON_IsString(dep)) {
				return td_error_set(err, TD_EINVAL,
				    "%s: %sdependencies[%d]: expected a string", rc->name, field,
				    k);
			}
			k++;
		}
		in.dependencies = v;
	}
	if ((rv = instance_attributes(inst, rc, field, &attrs, err)) != 0) {
		return rv;
	}
	snprintf(where, sizeof(where), "%s: %ssensitive_attributes", rc->name, field);
	if ((rv = redact_attributes(attrs,
		 cJSON_GetObjectItemCaseSensitive(inst, "sensitive_attributes"), where, &replaced,
		 err)) != 0) {
		return rv;
	}
	st->redactions += replaced;
	/* `private` is provider-internal (and may hold secrets); never needed */
	cJSON_DeleteItemFromObjectCaseSensitive(inst, "private");
	if ((rv = build_address(rc, cJSON_GetObjectItemCaseSensitive(inst, "index_key"), &address,
		 field, err)) != 0) {
		return rv;
	}
	in.module = rc->module;
	in.type = rc->type;
	in.name = rc->rname;
	in.provider = rc->provider;
	in.managed = rc->managed;
	in.tainted = status[0] != '\0';
	in.deposed = deposed[0] != '\0' ? deposed : NULL;
	in.attributes = attrs;
	in.resource_index = rc->ri;
	in.instance_index = ii;
	if ((rv = add_instance(st, &in, address)) != 0) {
		free(address);
		return td_error_set(err, rv, "%s: out of memory", rc->name);
	}
	return 0;
}

static int
parse_resource(tfs_state *st, cJSON *res, size_t ri, const char *name, td_error *err)
{
	char field[64];
	res_ctx rc = { .name = name, .ri = ri };
	const char *mode;
	cJSON *insts, *inst;
	size_t ii = 0;
	int rv;

	snprintf(field, sizeof(field), "resources[%zu].", ri);
	if (!cJSON_IsObject(res)) {
		return td_error_set(err, TD_EINVAL, "%s: resources[%zu]: expected an object", name,
		    ri);
	}
	if ((rv = opt_string(res, "module", &rc.module, name, field, err)) != 0 ||
	    (rv = req_string(res, "mode", &mode, name, field, err)) != 0 ||
	    (rv = req_string(res, "type", &rc.type, name, field, err)) != 0 ||
	    (rv = req_string(res, "name", &rc.rname, name, field, err)) != 0 ||
	    (rv = opt_string(res, "provider", &rc.provider, name, field, err)) != 0) {
		return rv;
	}
	if (strcmp(mode, "managed") == 0) {
		rc.managed = true;
	} else if (strcmp(mode, "data") != 0) {
		return td_error_set(err, TD_EINVAL,
		    "%s: %smode: expected \"managed\" or \"data\", got \"%s\"", name, field, mode);
	}
	insts = cJSON_GetObjectItemCaseSensitive(res, "instances");
	if (insts == NULL || cJSON_IsNull(insts)) {
		return 0;
	}
	if (!cJSON_IsArray(insts)) {
		return td_error_set(err, TD_EINVAL, "%s: %sinstances: expected an array", name,
		    field);
	}
	cJSON_ArrayForEach(inst, insts)
	{
		if ((rv = parse_instance(st, &rc, inst, ii++, err)) != 0) {
			return rv;
		}
	}
	return 0;
}

/* ---- public ---------------------------------------------------------------- */

int
tfs_parse_buffer(tfs_state **out, const char *buf, size_t len, const char *name, td_error *err)
{
	tfs_state *st = NULL;
	const char *end = NULL;
	cJSON *resources, *res;
	size_t ri = 0;
	int rv = 0, line, col;

	*out = NULL;
	if (len == 0) {
		rv = td_error_set(err, TD_EINVAL, "%s: the file is empty", name);
		goto out;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "%s: out of memory", name);
		goto out;
	}
	st->lineage = "";
	st->terraform_version = "";
	st->root = cJSON_ParseWithLengthOpts(buf, len, &end, false);
	if (st->root == NULL) {
		line_col(buf, end != NULL ? (size_t)(end - buf) : 0, len, &line, &col);
		rv = td_error_set(err, TD_EINVAL, "%s:%d:%d: invalid JSON", name, line, col);
		goto out;
	}
	while (end < buf + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) {
		end++;
	}
	if (end < buf + len) {
		line_col(buf, (size_t)(end - buf), len, &line, &col);
		rv = td_error_set(err, TD_EINVAL,
		    "%s:%d:%d: unexpected text after the JSON document", name, line, col);
		goto out;
	}
	if ((rv = check_header(st, name, err)) != 0) {
		goto out;
	}
	/* never used by tfdrift; outputs may hold secrets, so drop them at once */
	cJSON_DeleteItemFromObjectCaseSensitive(st->root, "outputs");
	cJSON_DeleteItemFromObjectCaseSensitive(st->root, "check_results");
	resources = cJSON_GetObjectItemCaseSensitive(st->root, "resources");
	if (resources != NULL && !cJSON_IsNull(resources)) {
		if (!cJSON_IsArray(resources)) {
			rv = td_error_set(err, TD_EINVAL, "%s: resources: expected an array", name);
			goto out;
		}
		cJSON_ArrayForEach(res, resources)
		{
			if ((rv = parse_resource(st, res, ri++, name, err)) != 0) {
				goto out;
			}
		}
	}
	*out = st;
	st = NULL;
out:
	tfs_free(st);
	return rv;
}

/* Reads the whole file into a malloc'd buffer (*out, *len; owned by the
 * caller).  Reads until EOF rather than trusting st_size, so a file that
 * grows while being read is read whole or found broken by the parser. */
static int
read_file(const char *path, size_t max_size, char **out, size_t *len, td_error *err)
{
	struct stat sb;
	char *buf = NULL, *nb;
	size_t cap, n = 0;
	ssize_t r;
	int fd, rv = 0;

	*out = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		return td_error_set(err, TD_EIO, "%s: cannot open: %s", path, strerror(errno));
	}
	if (fstat(fd, &sb) != 0) {
		rv = td_error_set(err, TD_EIO, "%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rv = td_error_set(err, TD_EIO, "%s: not a regular file", path);
		goto out;
	}
	/* st_size is a hint only (0 for some special files) */
	cap = (size_t)sb.st_size + 1;
	if (cap < 4096) {
		cap = 4096;
	}
	if (max_size != 0 && cap > max_size + 1) {
		cap = max_size + 1;
	}
	if (cap < 2) {
		cap = 2;
	}
	if ((buf = malloc(cap)) == NULL) {
		rv = td_error_set(err, TD_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		if (n + 1 >= cap) {
			if ((nb = realloc(buf, cap * 2)) == NULL) {
				rv = td_error_set(err, TD_ENOMEM, "%s: out of memory", path);
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			rv = td_error_set(err, TD_EIO, "%s: read failed: %s", path,
			    strerror(errno));
			goto out;
		}
		if (r == 0) {
			break;
		}
		n += (size_t)r;
		if (max_size != 0 && n > max_size) {
			rv = td_error_set(err, TD_ETOOBIG,
			    "%s: larger than state_loader.max_state_size (%zu bytes)", path,
			    max_size);
			goto out;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rv;
}

int
tfs_parse_file(tfs_state **out, const char *path, size_t max_size, td_error *err)
{
	char *buf = NULL;
	size_t len;
	int rv;

	*out = NULL;
	if ((rv = read_file(path, max_size, &buf, &len, err)) != 0) {
		return rv;
	}
	rv = tfs_parse_buffer(out, buf, len, path, err);
	/* the text may hold secrets and doubles the memory; gone before returning */
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	return rv;
}

void
tfs_free(tfs_state *st)
{
	size_t i;

	if (st == NULL) {
		return;
	}
	for (i = 0; i < st->n; i++) {
		free(st->addresses[i]);
	}
	free(st->addresses);
	free(st->inst);
	cJSON_Delete(st->root);
	free(st);
}

uint64_t
tfs_serial(const tfs_state *st)
{
	return st->serial;
}

const char *
tfs_lineage(const tfs_state *st)
{
	return st->lineage;
}

const char *
tfs_terraform_version(const tfs_state *st)
{
	return st->terraform_version;
}

size_t
tfs_instance_count(const tfs_state *st)
{
	return st->n;
}

const tfs_instance *
tfs_instance_at(const tfs_state *st, size_t i)
{
	return i < st->n ? &st->inst[i] : NULL;
}

bool
tfs_instance_indexed(const tfs_instance *in)
{
	return in->managed && in->deposed == NULL;
}

size_t
tfs_redaction_count(const tfs_state *st)
{
	return st->redactions;
}

size_t
tfs_indexed_count(const tfs_state *st)
{
	return st->indexed;
}
