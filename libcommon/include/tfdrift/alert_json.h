/* alert_json.h — a DriftAlert (tfdrift.v1) as JSON, the two shapes tfdrift
 * shows one in:
 *
 *   td_alert_json_item     the API's drift item (GET /drifts, the live
 *                          feed; services/api-gateway/openapi.json): ids,
 *                          times (RFC 3339, null when unset), resource,
 *                          kind, severity, status, principal, origin, summary;
 *   td_alert_json_explain  what `tfdrift-correlator explain` prints per
 *                          alert: resource, the changes with old/new values
 *                          parsed, the identifier, who did it (role,
 *                          session, permission set, root, invoked by),
 *                          origin, summary and the recommended fix.
 *
 * Kind and severity are named by tfdrift/severity.h.  Both return a new
 * object (cJSON_Delete), NULL when out of memory.  Threads: no state. */
#ifndef TFDRIFT_ALERT_JSON_H
#define TFDRIFT_ALERT_JSON_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "tfdrift/v1/alert.pb-c.h"

cJSON *td_alert_json_item(const Tfdrift__V1__DriftAlert *a);
cJSON *td_alert_json_explain(const Tfdrift__V1__DriftAlert *a);

/* Adds member name to o: ns (Unix nanoseconds) as RFC 3339 with
 * microseconds, or null for 0 — how the API writes every time. */
void td_json_add_time(cJSON *o, const char *name, int64_t ns);

#endif
