/* contain.h — which resource contains which, for the graph's compound nodes.
 *
 * A VPC contains its subnets and everything else that names it (security
 * groups, route tables, endpoints...); a subnet contains what is placed in
 * it (instances, ENIs, NAT gateways, DB subnet members...).  The link comes
 * from the redacted attributes, by a table of attribute names (contain.c):
 * `subnet_id` names a subnet; `vpc_id` a VPC; a list (`subnet_ids`,
 * `subnets`: load balancers, Lambda functions) spans subnets, so its owner
 * sits in the VPC of the first listed subnet; nested blocks such as
 * `vpc_config` are looked into.  Containers are matched by their `id`
 * across every workspace of the generation (the application's instances
 * sit in the network workspace's subnets), so a parent is a graph node id,
 * "<workspace>:<address>".  Deposed objects and data sources are never
 * containers; an id no container has leaves the resource at the top.
 *
 * Pure computation over parsed states; a built contain is read-only. */
#ifndef TFDRIFT_STATE_CONTAIN_H
#define TFDRIFT_STATE_CONTAIN_H

#include <stddef.h>

#include "tfdrift/tfstate.h"

typedef struct contain contain;
typedef struct contain_boxes contain_boxes;

/* The containers (VPCs and subnets) of every workspace, kept across rounds:
 * a workspace written alone is placed in the containers of all the others
 * (whose states need not be in memory).  Threads: one at a time. */
int contain_boxes_new(contain_boxes **out);
void contain_boxes_free(contain_boxes *b);
/* Replaces workspace name's containers by those of st (NULL: it has none
 * any more).  TD_ENOMEM (the workspace's containers may then be missing). */
int contain_boxes_set(contain_boxes *b, const char *name, const tfs_state *st);
size_t contain_boxes_count(const contain_boxes *b);

/* The parents of every instance of states[0..n) in the containers of b
 * (which must not change while *out lives: its parents are b's strings).
 * *out owned by the caller (contain_free).  TD_ENOMEM. */
int contain_place(contain **out, const contain_boxes *b, const char *const *names,
    const tfs_state *const *states, size_t n);

/* Computes the parents of every instance of states[0..n) (a NULL state has
 * none) among the containers of those states; names[i] is state i's
 * workspace.  Borrows nothing after it returns.  *out owned by the caller (contain_free).  TD_ENOMEM. */
int contain_build(contain **out, const char *const *names, const tfs_state *const *states,
    size_t n);

/* The node id of the container of instance i (tfs_instance_at order) of
 * state w, or NULL.  Borrowed from c. */
const char *contain_parent(const contain *c, size_t w, size_t i);

/* Parent links found (for logs and tests). */
size_t contain_count(const contain *c);

void contain_free(contain *c);

#endif
