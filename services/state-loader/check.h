/* check.h — `tfdrift-state-loader check PATH [--json]`: what a state file
 * would put into the index, without touching Redis.
 *
 * Prints the header (serial, lineage, Terraform version), the instances
 * (managed and current, tainted, deposed, data sources), resources by type,
 * the identifiers that would be indexed (and how many of them two instances
 * of this file claim), redacted values and dependency edges.  --json prints
 * one object instead:
 *   {"path":..., "serial":N, "lineage":..., "terraform_version":...,
 *    "managed":N, "tainted":N, "deposed":N, "data_sources":N,
 *    "identifiers":N, "identifier_conflicts":N, "redactions":N, "edges":N,
 *    "types":{"aws_instance":N, ...}}
 * A file that cannot be read or parsed prints the error (naming the file
 * and the JSON field or line:column) to err, or {"path":...,"error":...}
 * with --json, and the exit status is 1. */
#ifndef TFDRIFT_STATE_LOADER_CHECK_H
#define TFDRIFT_STATE_LOADER_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "tfdrift/tfstate.h"

typedef struct chk_summary {
	size_t managed, tainted, deposed, data_sources;
	size_t identifiers, conflicts, redactions, edges;
} chk_summary;

/* Counts what st would put into the index; types (may be NULL) receives
 * type -> managed instance count (an object the caller cJSON_Deletes). */
int chk_summarise(const tfs_state *st, chk_summary *sum, cJSON **types);

/* The subcommand: args are what follows `check`.  Returns the exit status
 * (0 loaded, 1 the file is bad, 2 usage). */
int chk_main(int argc, char **argv, size_t max_size, FILE *out, FILE *err);

#endif
