/* scope.h — the account and region each indexed instance of a state lives in,
 * so the index can tell names apart that repeat across accounts and regions
 * (ecsInstanceRole in every account, the same queue name in two regions).
 *
 * An instance's account and region, first found wins:
 *   1. its own attributes (tfs_instance.account/.region: the `arn`, the
 *      `account_id`/`owner_id`, provider v6's `region`);
 *   2. its provider configuration as the state records it: what the other
 *      instances of the same provider (`provider["…/aws"].west`) say about
 *      themselves, data.aws_caller_identity's account_id and data.aws_region's
 *      name included;
 *   3. the source's options (state_loader.sources `#account=…&region=…`, for
 *      states that carry no ARN);
 *   4. the one account (region) every instance of the state that names one
 *      names.
 * Account-global types (idx_type_global: IAM, S3, CloudFront, Route53 …) get
 * no region.  An instance whose account stays unknown is indexed unscoped
 * (td_rkey_idx_field with account ""), matching events of every account, as
 * before scoping: the state says so (td_scope_unscoped, shown by `check` and
 * in /api/v1/workspaces).
 *
 * Threads: immutable after td_scope_build; it borrows from the state, which
 * must outlive it. */
#ifndef TFDRIFT_SCOPE_H
#define TFDRIFT_SCOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "tfdrift/tfstate.h"

typedef struct td_scope td_scope;

/* account, region: the source's options (NULL or "" for none; copied).
 * *out owned by the caller (td_scope_free).  TD_ENOMEM. */
int td_scope_build(td_scope **out, const tfs_state *st, const char *account, const char *region);
void td_scope_free(td_scope *sc);

/* The account and region instance i (tfs_instance_at's index) is indexed
 * under: account "" when unknown (unscoped), region "" for account-global
 * types and unknown regions.  Borrowed; "" for instances not indexed.  A NULL
 * scope answers "" for everything. */
void td_scope_of(const td_scope *sc, size_t i, const char **account, const char **region);

/* Indexed instances whose account is unknown (indexed unscoped). */
size_t td_scope_unscoped(const td_scope *sc);
/* Every indexed instance has an account (also true for a state with none). */
bool td_scope_account_known(const td_scope *sc);

/* The distinct accounts (regions) of the indexed instances, sorted; *n set.
 * Borrowed. */
const char *const *td_scope_accounts(const td_scope *sc, size_t *n);
const char *const *td_scope_regions(const td_scope *sc, size_t *n);

/* A 12-digit AWS account id; the shape of an AWS region (eu-west-1,
 * us-gov-west-1): what the options must look like. */
bool td_scope_valid_account(const char *s);
bool td_scope_valid_region(const char *s);

#endif
