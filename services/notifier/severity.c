/* severity.c — the notifier's threshold over libcommon's severity names. */
#include "severity.h"

#include <stddef.h>
#include <strings.h>

#include "tfdrift/error.h"
#include "tfdrift/severity.h"

int
sev_parse(const char *name, int *sev)
{
	for (size_t i = 0; name != NULL && i < td_severity_count; i++) {
		if (strcasecmp(name, td_severity_names[i]) == 0) {
			*sev = (int)i + 1;
			return 0;
		}
	}
	return TD_EINVAL;
}

const char *
sev_name(int sev)
{
	const char *n = td_severity_name(sev);
	return n != NULL ? n : "unspecified";
}

bool
sev_passes(int sev, int min)
{
	return td_severity_name(sev) == NULL || sev >= min;
}
