/* tfstate.h — a Terraform state file (format version 4), parsed and redacted.
 *
 * tfs_parse_* walk the JSON text with a small streaming scanner: only one
 * resource instance at a time is materialised as a cJSON object, checked,
 * redacted (redact.h), reduced to what tfdrift keeps (the redacted attributes
 * as compact JSON, its identifiers (identifiers.h), its dependencies) and freed.
 * What a parsed state keeps lives in an arena, smaller than the file, so a
 * state of hundreds of MB never has more than one parsed copy in memory;
 * tfs_parse_file also returns the pages of text already walked to the
 * system as it goes.  Outputs, check_results and each instance's `private`
 * are never kept.  A parsed state never holds a secret in clear text.
 *
 * Errors name the file and the JSON field, or the line, column and byte:
 *   "state.tfstate: resources[3].instances[0].attributes: expected an object"
 *   "state.tfstate:12:5: invalid JSON (byte 301, in resources[0].instances[0])"
 *
 * A parsed state is immutable and may be read from any thread. */
#ifndef TFDRIFT_TFSTATE_H
#define TFDRIFT_TFSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "tfdrift/error.h"

typedef struct tfs_state tfs_state;

/* One resource instance object (the current one or a deposed one).  Every
 * pointer is borrowed from the state and valid until tfs_free. */
typedef struct tfs_instance {
	const char *address;  /* module.a["x"].aws_instance.web[0], data.aws_ami.u */
	const char *module;   /* "" for the root module */
	const char *type;     /* aws_instance */
	const char *name;     /* web */
	const char *provider; /* provider["registry.terraform.io/hashicorp/aws"]; "" if absent */
	bool managed;         /* mode "managed"; false for "data" */
	bool tainted;         /* status "tainted" */
	const char *deposed;  /* deposed key, NULL for the current object */
	const char *attributes_json; /* a JSON object, compact; secrets already REDACT_TEXT */
	size_t attributes_len;
	const char *const *dependencies; /* resource addresses, n_dependencies of them */
	size_t n_dependencies;
	const char *const *identifiers; /* idx_identifiers of the redacted attributes */
	size_t n_identifiers;
	/* Where the object lives, as its own attributes say (scope.h): a managed
	 * instance's account from `arn` or `owner_id` (12 digits), its region
	 * from `arn` or `region`; data.aws_caller_identity's account_id and
	 * data.aws_region's region/name (the provider configuration); "" when
	 * they say nothing (and for every other data source). */
	const char *account;
	const char *region;
	size_t resource_index; /* position in resources[] */
	size_t instance_index; /* position in that resource's instances[] */
} tfs_instance;

/* Parses the file at path; `path` is also the name used in messages.  Files
 * larger than max_size bytes (0: no limit) are refused with TD_ETOOBIG.
 * On success *out is owned by the caller (tfs_free).  Errors: TD_EIO
 * (unreadable), TD_EINVAL (malformed), TD_EUNSUPPORTED (format version),
 * TD_ETOOBIG, TD_ENOMEM; err says which file and field. */
int tfs_parse_file(tfs_state **out, const char *path, size_t max_size, td_error *err);

/* Parses len bytes of JSON text; `name` stands for the file in messages.  The
 * buffer is only read.  *out owned by the caller (tfs_free). */
int tfs_parse_buffer(tfs_state **out, const char *buf, size_t len, const char *name, td_error *err);

void tfs_free(tfs_state *st);

uint64_t tfs_serial(const tfs_state *st);
const char *tfs_lineage(const tfs_state *st);           /* "" when absent; borrowed */
const char *tfs_terraform_version(const tfs_state *st); /* "" when absent; borrowed */

/* Every instance object in file order, data sources and deposed objects
 * included.  tfs_instance_at returns NULL past the end; borrowed. */
size_t tfs_instance_count(const tfs_state *st);
const tfs_instance *tfs_instance_at(const tfs_state *st, size_t i);

/* Instances that describe a live managed object: managed mode and not
 * deposed (tainted ones count: the object exists).  These are what the index
 * holds. */
bool tfs_instance_indexed(const tfs_instance *in);
size_t tfs_indexed_count(const tfs_state *st);

/* Values replaced by REDACT_TEXT while parsing (both redaction rules). */
size_t tfs_redaction_count(const tfs_state *st);

/* The instance's attributes parsed back into a tree (for tests and tools);
 * owned by the caller (cJSON_Delete); NULL when out of memory. */
cJSON *tfs_instance_attributes(const tfs_instance *in);

/* Bytes the state keeps in memory (its arena and instance table). */
size_t tfs_memory_size(const tfs_state *st);

#endif
