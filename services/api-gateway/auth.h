/* auth.h — API tokens and roles.
 *
 * A token entry is "name:role:sha256hex": the name identifies the caller
 * (recorded in the status history), the role is viewer (reads and the live
 * feed), operator (plus status changes) or admin (everything), and the hex
 * is the SHA-256 of the secret the client sends as "Authorization: Bearer
 * <secret>".  Only hashes are kept, so the config file and the mounted
 * secret never hold a usable token.
 *
 * Pure logic plus one file read at load time; a loaded gw_auth is immutable
 * and may be used from any thread. */
#ifndef TFDRIFT_GW_AUTH_H
#define TFDRIFT_GW_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "tfdrift/error.h"

typedef enum {
	GW_ROLE_NONE = 0, /* no or unknown token */
	GW_ROLE_VIEWER = 1,
	GW_ROLE_OPERATOR = 2,
	GW_ROLE_ADMIN = 3,
} gw_role;

typedef struct gw_auth gw_auth;

/* Who made a request.  name is "" for an anonymous caller (auth off). */
typedef struct gw_identity {
	char name[64];
	gw_role role;
} gw_identity;

/* enabled false: every caller is an anonymous admin.  entries[0..n) from the
 * config; file (NULL or "": none) adds one entry a line, '#' comments and
 * blank lines skipped.  A malformed entry fails with TD_EINVAL naming it
 * ("api_gateway.tokens[2]: ..." or "FILE:LINE: ...").  *out owned by caller. */
int gw_auth_new(gw_auth **out, bool enabled, const char *const *entries, size_t n, const char *file,
    td_error *err);
void gw_auth_free(gw_auth *a);

bool gw_auth_enabled(const gw_auth *a);
size_t gw_auth_count(const gw_auth *a);

/* Checks a presented secret (the bearer value, or the access_token query
 * parameter; NULL when none).  Fills *id; returns 0 for a known token (or
 * when auth is off), TD_ENOTFOUND when no token was given, TD_EINVAL when
 * the token is unknown. */
int gw_auth_check(const gw_auth *a, const char *secret, gw_identity *id);

/* "viewer" for GW_ROLE_VIEWER, ... ; "none" for GW_ROLE_NONE. */
const char *gw_role_name(gw_role r);

#endif
