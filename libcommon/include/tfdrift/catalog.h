/* catalog.h — the mapping catalog: CloudTrail (eventSource, eventName) ->
 * Terraform types, where the identifiers are, what kind of change it is and
 * which request fields map to which Terraform attributes.
 *
 * The catalog is data: libcommon/src/domain/catalog/<service>.tsv, embedded
 * into the binary at build time (libcommon/build.mk) and parsed at start.  Format, one
 * entry a line, tab-separated, '#' comments:
 *
 *   @source ec2.amazonaws.com           (applies to the lines that follow)
 *   EVENT  KIND  TYPES  IDS  ATTRS  SEVERITY
 *
 *   KIND      create modify delete tag untag attach detach start stop
 *   TYPES     Terraform types, comma-separated, preferred first; TYPE:delete
 *             (a match of this type is deleted by the event: a rule revoked
 *             by its id, a policy attachment detached) or TYPE:present (a
 *             match means the state already has what the event does: an
 *             attachment resource for AttachRolePolicy -> no change)
 *   IDS       locators, comma-separated, tried in order:
 *               instanceId                     requestParameters.instanceId
 *               resp:groupId                   responseElements.groupId
 *               instancesSet.items[].instanceId  every element (several resources)
 *               arn                            every resources[].ARN
 *               {roleName}:{policyName}        a template over request paths
 *               route53:changes                each change of a ChangeResourceRecordSets
 *                                              batch, ZONE_NAME_TYPE[_SETID], its own
 *                                              kind by action (CREATE, UPSERT, DELETE)
 *             The first locator whose identifiers name a managed resource
 *             decides; later ones are tried when none did (PutRolePolicy: the
 *             aws_iam_role_policy, else the role).
 *   ATTRS     extractors, ';'-separated: PATH=ATTR[/XFORM][@TYPE] ('-' for none);
 *             ATTR is a Terraform path into the state's attributes
 *             ("instance_type", "metadata_options.0.http_tokens");
 *             @TYPE: only for matches of that type (a type with such
 *             extractors uses only those);
 *             XFORM: plain (default; unwraps {"value": x} and ["x"]), policy
 *             (URL-decoded JSON compared parsed), tags (tag list -> map vs
 *             `tags`, per key), tagset (the whole tag set replaced: removed
 *             keys too), sgadd/sgdel (security-group rules compared as sets;
 *             the ipPermissions form and the legacy top-level cidrIp form),
 *             secret (a sensitive value: changed whenever present), set (a
 *             list compared as a set), setadd/setdel (one value added to /
 *             removed from a set attribute), is:VALUE (the path's presence
 *             sets ATTR to VALUE: StopInstances -> instance_state stopped),
 *             clear (the attribute emptied), inline/inlinedel (an inline
 *             policy named by the request's policyName in a role's
 *             inline_policy), acl (a canned S3 ACL vs acl, or the grants AWS
 *             expands it to), grants (explicit S3 grants as a set)
 *   SEVERITY  '-' for the default by kind, or critical|high|medium|low, or
 *             open:LEVEL (LEVEL when the request opens 0.0.0.0/0 or ::/0),
 *             public:LEVEL (when a policy/ACL grants "*" or AllUsers)
 *
 * Lookups are by exact (source, name) in a hash table; names shared across
 * services (CreateAlias in lambda and kms) are separate entries.
 *
 * Threads: read-only after cat_load; any number of readers. */
#ifndef TFDRIFT_CATALOG_H
#define TFDRIFT_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "tfdrift/error.h"

typedef enum cat_kind {
	CAT_CREATE,
	CAT_MODIFY,
	CAT_DELETE,
	CAT_TAG,
	CAT_UNTAG,
	CAT_ATTACH,
	CAT_DETACH,
	CAT_START,
	CAT_STOP,
} cat_kind;

typedef enum cat_where {
	CAT_REQ,
	CAT_RESP,
	CAT_RESOURCES,
	CAT_R53_CHANGES
} cat_where;

typedef enum cat_xform {
	XF_PLAIN,
	XF_POLICY,
	XF_TAGS,
	XF_SGADD,
	XF_SGDEL,
	XF_SECRET,
	XF_SET,
	XF_SETADD,
	XF_SETDEL,
	XF_IS,
	XF_CLEAR,
	XF_TAGSET,
	XF_INLINE,
	XF_INLINEDEL,
	XF_ACL,
	XF_GRANTS,
} cat_xform;

/* How a match of one of an entry's types is treated. */
typedef enum cat_as {
	CAT_AS_ENTRY,   /* by the entry's kind */
	CAT_AS_DELETE,  /* deleted by the event */
	CAT_AS_PRESENT, /* the state already has what the event does */
} cat_as;

/* Severity levels as in alert.proto (2 low .. 5 critical); 0 = default. */
typedef enum cat_sev_cond {
	SEVC_NONE,
	SEVC_OPEN,
	SEVC_PUBLIC
} cat_sev_cond;

#define CAT_MAX_STEPS 8

typedef struct cat_path {
	cat_where where;
	const char *text;                /* as written, for messages */
	const char *tmpl;                /* non-NULL: a {path} template (request only) */
	const char *keys[CAT_MAX_STEPS]; /* steps; arr[i]: keys[i] is an array to expand */
	bool arr[CAT_MAX_STEPS];
	size_t n;
} cat_path;

typedef struct cat_attr {
	cat_path path;
	const char *attr; /* Terraform attribute path in the state's attributes */
	cat_xform xf;
	const char *arg;  /* XF_IS: the value */
	const char *type; /* non-NULL: only for matches of this type */
} cat_attr;

typedef struct cat_entry {
	const char *source, *event, *service; /* "ec2.amazonaws.com", "RunInstances", "ec2" */
	cat_kind kind;
	const char *types[8];
	cat_as as[8]; /* per type */
	size_t ntypes;
	cat_path ids[6];
	size_t nids;
	cat_attr attrs[32];
	size_t nattrs;
	int severity; /* 0: by kind */
	cat_sev_cond sev_cond;
	const char *file;
	int line;
} cat_entry;

typedef struct cat_catalog cat_catalog;

/* One source text: file name (for messages) and its contents. */
typedef struct cat_text {
	const char *name;
	const char *text;
} cat_text;

/* The catalog compiled into the binary (generated by libcommon/build.mk). */
extern const cat_text cat_embedded[];
extern const size_t cat_embedded_count;

/* Parses texts into *out (caller owns, cat_free).  TD_EINVAL with err naming
 * file:line and the column on a bad entry or a repeated (source, event). */
int cat_load(cat_catalog **out, const cat_text *texts, size_t n, td_error *err);
/* Loads the embedded catalog. */
int cat_load_embedded(cat_catalog **out, td_error *err);
void cat_free(cat_catalog *c);

/* The entry for (source, event), or NULL.  Borrowed from c. */
const cat_entry *cat_find(const cat_catalog *c, const char *source, const char *event);
size_t cat_count(const cat_catalog *c);
const cat_entry *cat_at(const cat_catalog *c, size_t i);

const char *cat_kind_name(cat_kind k);

/* Calls fn with every string (numbers rendered) found at path in root
 * (requestParameters or responseElements); templates are expanded.
 * Stops early and returns fn's non-zero result. */
typedef int (*cat_value_fn)(void *arg, const char *value);
int cat_path_strings(const cat_path *p, const cJSON *root, cat_value_fn fn, void *arg);
/* The first node at path (no template), or NULL.  Borrowed from root. */
const cJSON *cat_path_node(const cat_path *p, const cJSON *root);

#endif
