/* severity.c — the severity table. */
#include "severity.h"

#include <stddef.h>
#include <strings.h>

#include "tfdrift/error.h"
#include "tfdrift/v1/alert.pb-c.h"

static const struct {
	const char *name;
	int sev;
} severities[] = {
	{ "info", TFDRIFT__V1__SEVERITY__SEVERITY_INFO },
	{ "low", TFDRIFT__V1__SEVERITY__SEVERITY_LOW },
	{ "medium", TFDRIFT__V1__SEVERITY__SEVERITY_MEDIUM },
	{ "high", TFDRIFT__V1__SEVERITY__SEVERITY_HIGH },
	{ "critical", TFDRIFT__V1__SEVERITY__SEVERITY_CRITICAL },
};

#define NSEV (sizeof(severities) / sizeof(severities[0]))

int
sev_parse(const char *name, int *sev)
{
	size_t i;

	for (i = 0; name != NULL && i < NSEV; i++) {
		if (strcasecmp(name, severities[i].name) == 0) {
			*sev = severities[i].sev;
			return 0;
		}
	}
	return TD_EINVAL;
}

const char *
sev_name(int sev)
{
	size_t i;

	for (i = 0; i < NSEV; i++) {
		if (severities[i].sev == sev) {
			return severities[i].name;
		}
	}
	return "unspecified";
}

static bool
known(int sev)
{
	return sev >= TFDRIFT__V1__SEVERITY__SEVERITY_INFO &&
	    sev <= TFDRIFT__V1__SEVERITY__SEVERITY_CRITICAL;
}

bool
sev_passes(int sev, int min)
{
	return !known(sev) || sev >= min;
}
