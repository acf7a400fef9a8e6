/* tfstate.h — a Terraform state file (format version 4), parsed and redacted.
 *
 * tfs_parse_* read the JSON once into a cJSON tree (the raw text is freed as
 * soon as the tree exists), check the fields tfdrift relies on, drop what it
 * never uses (outputs, check_results, each instance's `private`), and redact
 * every secret in the instances' attributes (redact.h) before returning: a
 * parsed state never holds a secret in clear text.
 *
 * Errors name the file and the JSON field:
 *   "state.tfstate: resources[3].instances[0].attributes: expected an object"
 *   "state.tfstate:12:5: invalid JSON"
 *
 * A parsed state is immutable and may be read from any thread. */
#ifndef TFDRIFT_STATE_LOADER_TFSTATE_H
#define TFDRIFT_STATE_LOADER_TFSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "tfdrift/error.h"

typedef struct tfs_state tfs_state;

/* One resource instance object (the current one or a deposed one).  Every
 * pointer is borrowed from the state and valid until tfs_free. */
typedef struct tfs_instance {
	const char *address;     /* module.a["x"].aws_instance.web[0], data.aws_ami.u */
	const char *module;      /* "" for the root module */
	const char *type;        /* aws_instance */
	const char *name;        /* web */
	const char *provider;    /* provider["registry.terraform.io/hashicorp/aws"]; "" if absent */
	bool managed;            /* mode "managed"; false for "data" */
	bool tainted;            /* status "tainted" */
	const char *deposed;     /* deposed key, NULL for the current object */
	const cJSON *attributes; /* an object; secrets already REDACT_TEXT */
	const cJSON *dependencies; /* array of address strings, or NULL */
	size_t resource_index;     /* position in resources[] */
	size_t instance_index;     /* position in that resource's instances[] */
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

#endif
