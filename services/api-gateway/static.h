/* static.h — the web UI's build output served from a directory at `/`.
 *
 * GET and HEAD only; no token (the UI's own API calls carry one).  A path
 * names a file under the root; its Content-Type comes from its extension
 * (a table), unknown extensions are application/octet-stream.  Paths with a
 * "." or ".." segment, a backslash, a control byte or a '%' left after the
 * server's one decoding (a double-encoded "%252e%252e") are refused with
 * 400; a file reached through a symlink that leaves the root is 404, as is a
 * name that is not a regular file.  "/" and any missing path outside
 * assets/ whose last segment has no extension ("/drifts/42") or one no file
 * type has ("/resources/aws_instance.web[0]", a Terraform address) is a
 * client-side route and gets the root's index.html (the SPA fallback); a
 * missing file with a known extension, or anything missing under assets/,
 * is 404.  Validators: a strong ETag (size and mtime) and Last-Modified;
 * If-None-Match wins over If-Modified-Since, either answers 304.
 * Cache-Control: index.html "no-cache" (always revalidated, so a new build
 * shows at once); files under assets/ (content-hashed names from the
 * bundler) "public, max-age=31536000, immutable"; others "public,
 * max-age=300".
 *
 * Threads: gw_static_resolve may run on any number of threads at once. */
#ifndef TFDRIFT_GW_STATIC_H
#define TFDRIFT_GW_STATIC_H

#include <stdint.h>

#include "tfdrift/error.h"

typedef struct gw_static gw_static;

typedef struct gw_static_file {
	unsigned status;           /* 200, 304, 400 or 404 */
	int fd;                    /* 200: an open fd owned by the caller; else -1 */
	uint64_t size;             /* 200: bytes */
	const char *ctype;         /* 200/304: static string */
	const char *cache_control; /* 200/304: static string */
	char etag[64];             /* 200/304 */
	char last_modified[40];    /* 200/304: IMF-fixdate */
	const char *why;           /* 400/404: a short reason for the error body */
} gw_static_file;

/* Opens root (must be a directory).  *out owned by caller. */
int gw_static_new(gw_static **out, const char *root, td_error *err);
void gw_static_free(gw_static *st);

/* Resolves a decoded request path (no query string) with the request's
 * If-None-Match and If-Modified-Since (either NULL).  Always fills *f. */
void gw_static_resolve(const gw_static *st, const char *path, const char *if_none_match,
    const char *if_modified_since, gw_static_file *f);

/* The Content-Type for a file name by its extension (exposed for tests). */
const char *gw_static_ctype(const char *name);

#endif
