/* source.h — where a workspace's state comes from: state_loader.sources.
 *
 * Each entry is NAME=URI (NAME is the workspace shown in alerts):
 *   file:///srv/states/prod.tfstate
 *   http://user:pass@host:8080/state/prod#ca=/etc/ca.pem&insecure=1
 *       Terraform's http backend: GET the address; 204 or 404 is an empty
 *       state.  Basic auth from the userinfo, or user=U&password_env=VAR in
 *       the fragment (the fragment is never sent); TLS options ca=FILE,
 *       cert=FILE, key=FILE, insecure=1.
 *   s3://bucket/path/to/key?region=eu-west-1&workspace=staging
 *       &workspace_prefix=env:&endpoint=http://127.0.0.1:4568&max_keys=1000
 *       Terraform's s3 backend: the object key, or <prefix>/<workspace>/<key>
 *       for a workspace other than default (prefix env: by default);
 *       workspace=* discovers every workspace under the prefix (each becomes
 *       the workspace NAME/<workspace>; NAME itself is the default one; the
 *       listing is paged with continuation tokens, max_keys keys a page).  With
 *       endpoint the request goes there, path style (S3-compatible stores);
 *       else to https://bucket.s3.<region>.amazonaws.com.  Signed with SigV4;
 *       credentials: aws_credentials (aws_credentials.h).
 *   hcp://organization/workspace?host=app.terraform.io&token_env=TFE_TOKEN
 *       HCP Terraform / Terraform Enterprise: the workspace's current state
 *       version, downloaded with the API token from the named environment
 *       variable (default TFE_TOKEN).
 * Any source may end in a fragment #account=123456789012&region=eu-west-1 (for
 * http(s), among its other fragment options): the account and region of the
 * state's resources, for states that carry no ARN (tfdrift/scope.h; what the
 * state itself says wins).  A '#' in a file path is written %23.
 * Secrets are never kept in `shown`, the text used in logs and status. */
#ifndef TFDRIFT_STATE_LOADER_SOURCE_H
#define TFDRIFT_STATE_LOADER_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include "tfdrift/error.h"

typedef enum src_kind {
	SRC_FILE,
	SRC_HTTP,
	SRC_S3,
	SRC_HCP
} src_kind;

typedef struct src_spec {
	src_kind kind;
	char *name;            /* workspace */
	char *path;            /* SRC_FILE */
	char *url;             /* SRC_HTTP, SRC_S3: what is fetched; SRC_HCP: the API base */
	char *shown;           /* for logs and status: the URL without secrets */
	char *user, *password; /* SRC_HTTP basic auth; NULL none */
	char *region;          /* SRC_S3 */
	char *token;           /* SRC_HCP API token */
	char *org, *workspace; /* SRC_HCP */
	char *ca_file, *client_cert, *client_key;
	bool insecure;
	/* SRC_S3 with workspace=*: this source loads the default workspace's key
	 * and discovers the others under the prefix (src_s3_workspaces) */
	bool discover;
	char *bucket_url; /* https://bucket.s3.region.amazonaws.com or endpoint/bucket */
	char *bucket, *key, *ws_prefix;
	int max_keys; /* ListObjectsV2 page size (max_keys=N, 1..1000); 0: the store's default */
	char *scope_account; /* #account=: the resources' account; NULL none */
	char *scope_region;  /* #region=: the resources' region; NULL none */
} src_spec;

/* text (a source entry, a URL) with credentials replaced by ***: the
 * password of any userinfo ("https://ci:***@host", or "***@host" when
 * there is no user name) and the value of any option (after ?, # or &) whose name says
 * password, token, secret, signature or credential (not *_env, which names an
 * environment variable).  Caller frees; NULL when out of memory. */
char *src_redact(const char *text);

/* The S3 ListObjectsV2 URL that lists the workspace prefix of a discovering
 * source: the first page (token NULL) or the one a NextContinuationToken
 * names (malloc'd, or NULL when out of memory). */
char *src_s3_list_url(const src_spec *s, const char *token);

/* When a ListObjectsV2 answer is truncated (IsTruncated true), copies its
 * NextContinuationToken (XML entities decoded) into out and returns true. */
bool src_s3_next_token(const char *xml, char *out, size_t outlen);

/* A workspace a listing names, and its object's ETag (entities decoded:
 * "\"9b2c...\""; "" when the listing gives none). */
typedef void (*src_ws_fn)(void *arg, const char *workspace, const char *etag);

/* The workspaces named by a ListObjectsV2 answer: keys of the form
 * <prefix>/<workspace>/<key>.  Calls fn for each one, in order (a key is
 * listed once, so each workspace is named once). */
void src_s3_workspaces(const src_spec *s, const char *xml, src_ws_fn fn, void *arg);

/* The spec of one discovered workspace: named NAME/<workspace>, fetching
 * <prefix>/<workspace>/<key>.  *out owned by the caller (src_spec_free). */
int src_s3_child(const src_spec *parent, const char *workspace, src_spec *out, td_error *err);

/* Parses one state_loader.sources entry.  TD_EINVAL names the entry and
 * what is wrong ("state_loader.sources: \"x\": unknown scheme").  On success
 * *out owns its strings (src_spec_free). */
int src_parse(const char *entry, src_spec *out, td_error *err);
void src_spec_free(src_spec *s);

/* "file", "http", "s3", "hcp". */
const char *src_kind_name(src_kind k);

#endif
