/* severity.h — the names of an alert's severity and kind: tfdrift.v1.Severity
 * (1 info .. 5 critical, the rank that orders them) and tfdrift.v1.DriftKind
 * (1 drift, 2 unmanaged, 3 deleted, 4 modified).  The one table behind the
 * correlator's catalog and rules, the rows persistence stores, the gateway's
 * filters and JSON, and the notifier's threshold.  0 (unspecified) and values
 * from a newer schema have no name.
 *
 * Threads: read-only data. */
#ifndef TFDRIFT_SEVERITY_H
#define TFDRIFT_SEVERITY_H

#include <stddef.h>

#define TD_SEVERITY_INFO 1
#define TD_SEVERITY_LOW 2
#define TD_SEVERITY_MEDIUM 3
#define TD_SEVERITY_HIGH 4
#define TD_SEVERITY_CRITICAL 5

/* Severity names by rank - 1: "info", "low", "medium", "high", "critical". */
extern const char *const td_severity_names[];
extern const size_t td_severity_count;
/* Kind names by DriftKind - 1: "drift", "unmanaged", "deleted", "modified". */
extern const char *const td_kind_names[];
extern const size_t td_kind_count;

/* The lower-case name of severity sev (its rank); NULL when it has none. */
const char *td_severity_name(int sev);
/* The rank of the len bytes at name ("high" -> 4; exact, lower case); 0 when
 * they name no severity. */
int td_severity_parse(const char *name, size_t len);

/* The name of drift kind k; NULL when it has none. */
const char *td_kind_name(int kind);
/* The DriftKind value of the len bytes at name; 0 when they name none. */
int td_kind_parse(const char *name, size_t len);

#endif
