/* memstate.h — the resource index held in memory, built from Terraform state
 * files: the answers Redis gives the service, for `tfdrift-correlator
 * explain`, tests and the benchmark.  Files are read by the state-loader's
 * parser (tfstate.h), so addresses, redactions and identifiers are those of
 * the index the state-loader writes.
 *
 * Like the Redis index, the first resource to claim an identifier in an
 * account and region keeps it.
 * Threads: read-only after loading. */
#ifndef TFDRIFT_CORRELATOR_MEMSTATE_H
#define TFDRIFT_CORRELATOR_MEMSTATE_H

#include "rule.h"
#include "tfdrift/error.h"

typedef struct memstate memstate;

int memstate_new(memstate **out);
void memstate_free(memstate *m);
/* Adds the state at path as workspace (spec "NAME=PATH" or a bare PATH whose
 * file name, without .tfstate, is the workspace), its identifiers scoped by
 * account and region as the state-loader scopes them (tfdrift/scope.h); a
 * "#account=A&region=R" suffix gives the source's scope options.  TD_E*
 * with err. */
int memstate_add_file(memstate *m, const char *spec, td_error *err);
/* Adds one resource by hand (tests, bench): attrs_json owned by nobody
 * (copied).  memstate_add indexes it unscoped (matching events of every
 * account); memstate_add_in in account and region (account "": unscoped,
 * region "": the whole account). */
int memstate_add(memstate *m, const char *workspace, const char *address, const char *type,
    const char *const *identifiers, const char *attrs_json);
int memstate_add_in(memstate *m, const char *account, const char *region, const char *workspace,
    const char *address, const char *type, const char *const *identifiers, const char *attrs_json);

/* rule_lookup_fn / rule_attrs_fn with arg = memstate: the fields of the
 * event's scope, most specific first, as the service looks them up.  Claims
 * are kept as P idx holds them and read with the service's parser
 * (td_rkey_entry_parse); every workspace is at generation MEMSTATE_GEN. */
#define MEMSTATE_GEN 1
int memstate_lookup(void *arg, const rule_scope *scope, const char *identifier, rule_match *m);
int memstate_attrs(void *arg, const char *workspace, uint64_t gen, const char *address,
    char **json);

#endif
