/* severity.h — alert severities by name and rank (tfdrift.v1.Severity). */
#ifndef TFDRIFT_NOTIFIER_SEVERITY_H
#define TFDRIFT_NOTIFIER_SEVERITY_H

#include <stdbool.h>

/* "info|low|medium|high|critical" (any case) into a Tfdrift__V1__Severity
 * value.  TD_EINVAL for anything else. */
int sev_parse(const char *name, int *sev);

/* The lower-case name of a severity; "unspecified" for 0 or an unknown value.
 * Static. */
const char *sev_name(int sev);

/* Whether an alert of severity sev is at or above min.  An alert without a
 * known severity (0, or a value from a newer schema) passes: a defect
 * upstream must not make alerts disappear silently. */
bool sev_passes(int sev, int min);

#endif
