/* notify.h — the notifier's side of the API: silences and an alert's
 * deliveries (tables of services/persistence/migrations/004_notifications.sql).
 *
 *   GET    /api/v1/silences        silences not yet ended (viewer)
 *   POST   /api/v1/silences        {"matchers":{"workspace":"prod-*",...},
 *                                  "ends_at":"RFC 3339" | "duration":"2h",
 *                                  "starts_at":..., "comment":"..."} (operator);
 *                                  201 with the silence
 *   DELETE /api/v1/silences/{id}   ends it now (operator); 404 if not active
 *   GET    /api/v1/drifts/{id}     gets "deliveries": [{receiver, event,
 *                                  state, attempts, created_at, sent_at,
 *                                  last_error}]
 *
 * Matcher keys are the routing file's: severity, kind, workspace, service,
 * resource_type, resource_address, event_name, principal (a glob or a list
 * of globs) and min_severity.
 *
 * Each function runs on the caller's connection and fills resp; it returns
 * TD_EDEPEND when the database failed (nothing written to resp). */
#ifndef TFDRIFT_GW_NOTIFY_H
#define TFDRIFT_GW_NOTIFY_H

#include <libpq-fe.h>

#include "api.h"
#include "jsonw.h"

int gw_silences_list(PGconn *conn, gw_response *resp);
int gw_silences_create(PGconn *conn, const gw_request *req, gw_response *resp);
int gw_silences_end(PGconn *conn, const char *id, gw_response *resp);

/* Appends ,"deliveries":[...] for alert id to w. */
int gw_deliveries_append(PGconn *conn, const char *id, gw_jw *w);

#endif
