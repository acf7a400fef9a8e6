/* explain.h — `tfdrift-correlator explain --state [NAME=]FILE... EVENTS...`:
 * the decision code run offline (no Redis, no bus) over CloudTrail files
 * ({"Records":[...]}, JSON Lines, .gz) or Falco JSON alerts (one per line, as
 * http_output / json_output write them; rebuilt as ingest does),
 * one JSON line per event on stdout: event_id, event_name, event_source,
 * decision ("alerts" or "skipped"), skip (the reason's label), reason (which
 * rule skipped it or which catalog entry matched) and every alert it would
 * raise, "resources" (one decision per resource the event names: id,
 * workspace and address when a state holds it, decision drift / deleted /
 * modified / unmanaged / no_change / not_managed / ignored, alerts), with
 * "precise" (DRIFT alerts naming an attribute, old and new) and
 * "coarse" (MODIFIED alerts on managed resources) counts and "extractor_miss"
 * when the entry names attributes but the event gave none it knows.  The last
 * stderr lines sum them up and name the catalog entries behind coarse alerts.
 * Repeated eventIDs are reported as duplicates, as the service would.
 * Exit: 0, 1 on an unreadable input, 2 on usage. */
#ifndef TFDRIFT_CORRELATOR_EXPLAIN_H
#define TFDRIFT_CORRELATOR_EXPLAIN_H

#include "rule.h"

extern const char explain_usage[];

/* argv[0] is "explain". */
int explain_run(const rule_env *env, int argc, char **argv);

#endif
