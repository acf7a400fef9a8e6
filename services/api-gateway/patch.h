/* patch.h — the body of PATCH /api/v1/drifts/{id}: {"status": ..., "note": ...}.
 *
 * Pure logic (no database): the JSON body to the requested status change.
 * status is one of acknowledged, resolved, ignored, reopened (or open, the
 * schema's word for reopened); note is optional, a string of at most
 * GW_PATCH_NOTE_MAX bytes, or null.  Any other member is refused. */
#ifndef TFDRIFT_GW_PATCH_H
#define TFDRIFT_GW_PATCH_H

#include <stddef.h>

#define GW_PATCH_NOTE_MAX 2000

enum {
	GW_PATCH_OK = 0,
	GW_PATCH_BAD_BODY = 1, /* empty, not JSON or not an object: 400 bad_request */
	GW_PATCH_INVALID = 2,  /* a member is wrong: 400 invalid_parameter naming it */
};

typedef struct gw_patch {
	const char *to;                   /* a schema status (static) */
	char note[GW_PATCH_NOTE_MAX + 1]; /* "" when absent */
	char msg[160];                    /* why, when not GW_PATCH_OK */
	char param[72];                   /* the member named by msg; "" for BAD_BODY */
} gw_patch;

/* Parses body (len bytes, need not be NUL-terminated) into *p.  Returns
 * GW_PATCH_OK, GW_PATCH_BAD_BODY or GW_PATCH_INVALID (p->msg, p->param). */
int gw_patch_parse(const char *body, size_t len, gw_patch *p);

#endif
