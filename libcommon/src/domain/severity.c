/* severity.c — severity and kind names. */
#include "tfdrift/severity.h"

#include <string.h>

#include "tfdrift/v1/alert.pb-c.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* the tables are indexed by the protobuf enums */
_Static_assert(TFDRIFT__V1__SEVERITY__SEVERITY_INFO == TD_SEVERITY_INFO &&
	TFDRIFT__V1__SEVERITY__SEVERITY_CRITICAL == TD_SEVERITY_CRITICAL,
    "tfdrift.v1.Severity ranks");
_Static_assert(TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_DRIFT == 1 &&
	TFDRIFT__V1__DRIFT_KIND__DRIFT_KIND_MODIFIED == 4,
    "tfdrift.v1.DriftKind values");

const char *const td_severity_names[] = { "info", "low", "medium", "high", "critical" };
const size_t td_severity_count = NELEM(td_severity_names);
const char *const td_kind_names[] = { "drift", "unmanaged", "deleted", "modified" };
const size_t td_kind_count = NELEM(td_kind_names);

static const char *
name_of(const char *const *names, size_t n, int v)
{
	return v >= 1 && (size_t)v <= n ? names[v - 1] : NULL;
}

static int
value_of(const char *const *names, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; s != NULL && i < n; i++) {
		if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0) {
			return (int)i + 1;
		}
	}
	return 0;
}

const char *
td_severity_name(int sev)
{
	return name_of(td_severity_names, td_severity_count, sev);
}

int
td_severity_parse(const char *name, size_t len)
{
	return value_of(td_severity_names, td_severity_count, name, len);
}

const char *
td_kind_name(int kind)
{
	return name_of(td_kind_names, td_kind_count, kind);
}

int
td_kind_parse(const char *name, size_t len)
{
	return value_of(td_kind_names, td_kind_count, name, len);
}
