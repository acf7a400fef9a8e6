/* memstate.h — the resource index held in memory, built from Terraform state
 * files: the answers Redis gives the service, for `tfdrift-correlator
 * explain`, tests and the benchmark.  Files are read by the state-loader's
 * parser (tfstate.h), so addresses, redactions and identifiers are those of
 * the index the state-loader writes.
 *
 * Like the Redis index, the first resource to claim an identifier keeps it.
 * Threads: read-only after loading. */
#ifndef TFDRIFT_CORRELATOR_MEMSTATE_H
#define TFDRIFT_CORRELATOR_MEMSTATE_H

#include "rule.h"
#include "tfdrift/error.h"

typedef struct memstate memstate;

int memstate_new(memstate **out);
void memstate_free(memstate *m);
/* Adds the state at path as workspace (spec "NAME=PATH" or a bare PATH whose
 * file name, without .tfstate, is the workspace).  TD_E* with err. */
int memstate_add_file(memstate *m, const char *spec, td_error *err);
/* Adds one resource by hand (tests, bench): attrs_json owned by nobody (copied). */
int memstate_add(memstate *m, const char *workspace, const char *address, const char *type,
    const char *const *identifiers, const char *attrs_json);

/* rule_lookup_fn / rule_attrs_fn with arg = memstate. */
int memstate_lookup(void *arg, const char *identifier, rule_match *m);
int memstate_attrs(void *arg, const char *workspace, const char *address, char **json);

#endif
