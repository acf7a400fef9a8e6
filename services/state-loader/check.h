/* check.h — `tfdrift-state-loader check PATH [--json] [--account ID]
 * [--region R]`: what a state file would put into the index, without
 * touching Redis.  --account/--region stand for a source's #account=/#region=
 * options (tfdrift/scope.h).
 *
 * Prints the header (serial, lineage, Terraform version), the instances
 * (managed and current, tainted, deposed, data sources), resources by type,
 * the identifiers that would be indexed (and how many of them two instances
 * of this file claim in the same account and region), the accounts and
 * regions its resources are indexed under, or how many resources have no
 * known account (their identifiers match events of every account), redacted
 * values and dependency edges.  --json prints one object instead:
 *   {"path":..., "serial":N, "lineage":..., "terraform_version":...,
 *    "managed":N, "tainted":N, "deposed":N, "data_sources":N,
 *    "identifiers":N, "identifier_conflicts":N, "redactions":N, "edges":N,
 *    "types":{"aws_instance":N, ...}, "accounts":["123456789012"],
 *    "regions":["eu-west-1"], "account_known":true, "unscoped_resources":0}
 * A file that cannot be read or parsed prints the error (naming the file
 * and the JSON field or line:column) to err, or {"path":...,"error":...}
 * with --json, and the exit status is 1. */
#ifndef TFDRIFT_STATE_LOADER_CHECK_H
#define TFDRIFT_STATE_LOADER_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "tfdrift/scope.h"
#include "tfdrift/tfstate.h"

typedef struct chk_summary {
	size_t managed, tainted, deposed, data_sources;
	size_t identifiers, conflicts, redactions, edges;
} chk_summary;

/* Counts what st would put into the index; types (may be NULL) receives
 * type -> managed instance count (an object the caller cJSON_Deletes). */
int chk_summarise(const tfs_state *st, chk_summary *sum, cJSON **types);
/* The same with the identifiers scoped as the store scopes them (sc may be
 * NULL: unscoped). */
int chk_summarise_in(const tfs_state *st, const td_scope *sc, chk_summary *sum, cJSON **types);

/* The subcommand: args are what follows `check`.  Returns the exit status
 * (0 loaded, 1 the file is bad, 2 usage). */
int chk_main(int argc, char **argv, size_t max_size, FILE *out, FILE *err);

#endif
