/* query.h — /api/v1/drifts query parameters to SQL, and the list cursor.
 *
 * Pure logic (no database).  gw_query_build turns the request's parameters
 * into the tail of a SELECT on alerts ("WHERE ... ORDER BY id DESC LIMIT $n")
 * with every value passed as a text parameter, never spliced into the SQL.
 *
 * Parameters:
 *   severity, status, kind   comma lists of the schema's values
 *   min_severity             one severity; that or worse
 *   workspace, resource_type, event_name, event_id, service, region,
 *   account (account_id)     exact match
 *   principal                principal_name or principal_arn, exact
 *   address                  glob over resource_address (* and ?)
 *   q                        substring, any case, of address, principal, event
 *   sort                     newest (default, id descending) or oldest
 *   since, until             RFC 3339; event_time >= since, < until
 *   limit                    1..500, default 50
 *   cursor                   from a previous page's next_cursor
 * A bad one fails with TD_EINVAL and a message that starts with its name:
 * "limit: must be between 1 and 500".
 *
 * Pages are keyset-paginated on id descending: the cursor carries the last
 * id shown and the next page is "id < that", so rows inserted meanwhile
 * (larger ids) never shift a page. */
#ifndef TFDRIFT_GW_QUERY_H
#define TFDRIFT_GW_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "tfdrift/error.h"
#include "tfdrift/severity.h"

#define GW_LIMIT_DEFAULT 50
#define GW_LIMIT_MAX 500
#define GW_QUERY_MAX_PARAMS 24

/* The schema's enumerations, in order.  Severities (by rank - 1) and kinds
 * are libcommon's td_severity_names and td_kind_names (tfdrift/severity.h);
 * these four names stay for code written before they moved. */
#define gw_severities td_severity_names
#define gw_nseverities td_severity_count
#define gw_kinds td_kind_names
#define gw_nkinds td_kind_count
extern const char *const gw_statuses[];
extern const size_t gw_nstatuses;

/* One query-string parameter; value NULL for a bare "?key". */
typedef struct gw_kv {
	const char *key;
	const char *value;
} gw_kv;

typedef struct gw_query {
	char *where; /* " WHERE ... ORDER BY id DESC LIMIT $n" (leading space) */
	int nparams;
	char *values[GW_QUERY_MAX_PARAMS]; /* owned */
	int limit;                         /* rows the page shows; the SQL asks for limit + 1 */
} gw_query;

/* Builds *q from args[0..n).  *q is released with gw_query_free, also after
 * a failure. */
int gw_query_build(const gw_kv *args, size_t n, gw_query *q, td_error *err);
void gw_query_free(gw_query *q);

/* The opaque cursor for "after id": writes it into buf (at least 32 bytes). */
int gw_cursor_encode(int64_t id, char *buf, size_t len);
/* TD_EINVAL unless s came from gw_cursor_encode. */
int gw_cursor_decode(const char *s, int64_t *id);

/* The parameter a gw_query_build message names ("limit" for "limit: must
 * be ..."), copied into buf; "" when none. */
void gw_query_error_param(const char *msg, char *buf, size_t len);

/* Rank of a severity name (1..5), or -1. */
int gw_severity_rank(const char *name);

#endif
