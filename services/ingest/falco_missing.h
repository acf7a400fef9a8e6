/* falco_missing.h — Falco alerts that lack fields the correlator needs.
 *
 * Both Falco inputs (HTTP receiver, gRPC client) accept such an alert (the
 * names are in CloudEvent.missing_fields) and report it here: each missing
 * field is counted in tfdrift_ingest_falco_missing_fields_total{field=...},
 * and a warning names the rule and the fields, at most once per
 * MISSING_LOG_EVERY_MS per rule (rules are told apart by a hash; the lines
 * left out are counted in the next one).
 *
 * Threads: falco_missing_note from any thread. */
#ifndef TFDRIFT_INGEST_FALCO_MISSING_H
#define TFDRIFT_INGEST_FALCO_MISSING_H

#include "tfdrift/error.h"
#include "tfdrift/v1/event.pb-c.h"

typedef struct falco_missing falco_missing;

/* *out owned by the caller (falco_missing_close).  input names the input in
 * the log line ("http", "grpc").  TD_ENOMEM. */
int falco_missing_open(falco_missing **out, const char *input);

/* Counts and (rate-limited) logs ev's missing fields; nothing if it has none. */
void falco_missing_note(falco_missing *m, const Tfdrift__V1__CloudEvent *ev);

/* NULL is ignored. */
void falco_missing_close(falco_missing *m);

#endif
