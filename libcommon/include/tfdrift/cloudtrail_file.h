/* cloudtrail_file.h — reading CloudTrail log files.
 *
 * A file is `.json` or `.json.gz` (zlib reads both; compression is detected
 * from the content, not the name) and holds either one JSON document
 * `{"Records":[...]}` as CloudTrail writes it to S3, or one JSON record per line
 * (JSON Lines, as `jq -c '.Records[]'` produces; a line may itself be a
 * `{"Records":[...]}` document).  A document without "Records" is one record.
 *
 * Errors:
 *   - unreadable file (missing, permission, corrupt gzip): TD_EIO / TD_ENOTFOUND
 *   - larger than max_bytes once decompressed: TD_ETOOBIG
 *   - not JSON at all, or "Records" not an array: TD_EINVAL,
 *     "PATH:LINE: not valid JSON (column C)"
 *   - one bad record (a JSON Lines line that does not parse, a Records element
 *     that is not an object, a record with a string or member name that is not
 *     valid UTF-8 or holds a NUL, raw or \u0000, which cJSON would take and
 *     PostgreSQL refuse): the callback gets it with json NULL and a reason
 *     naming it and the field ("record 3: userIdentity.arn: the string is not
 *     valid UTF-8 (byte 812)"); reading goes on.
 *
 * Threads: none; the callback runs on the caller's thread. */
#ifndef TFDRIFT_CLOUDTRAIL_FILE_H
#define TFDRIFT_CLOUDTRAIL_FILE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "tfdrift/error.h"

/* Default cap on a file's decompressed size. */
#define CT_FILE_MAX_BYTES ((size_t)512 * 1024 * 1024)

typedef struct ct_file_record {
	const char *path;
	size_t index;       /* 0-based position among the file's records */
	size_t line;        /* 1-based line (JSON Lines); 0 in a Records document */
	const cJSON *json;  /* the record (borrowed, valid during the call); NULL when rejected */
	const char *reason; /* why json is NULL: "line 4: not valid JSON (column 9)" */
} ct_file_record;

/* Return 0 to go on; any other value stops reading and is returned by ct_file_read. */
typedef int (*ct_file_fn)(void *arg, const ct_file_record *rec);

/* Reads path (max_bytes 0: CT_FILE_MAX_BYTES) and calls fn for every record. */
int ct_file_read(const char *path, size_t max_bytes, ct_file_fn fn, void *arg, td_error *err);

/* Same for a buffer already in memory; name is used in messages. */
int ct_file_parse(const char *name, const char *buf, size_t len, ct_file_fn fn, void *arg,
    td_error *err);

/* Expands path: a regular file is itself; a directory is every *.json and
 * *.json.gz under it (recursively; symlinked directories are not followed),
 * in sorted order.  *files is a malloc'd array of malloc'd strings owned by the
 * caller (ct_file_list_free).  TD_ENOTFOUND / TD_EIO if path cannot be read. */
int ct_file_list(const char *path, char ***files, size_t *n, td_error *err);
void ct_file_list_free(char **files, size_t n);

#endif
