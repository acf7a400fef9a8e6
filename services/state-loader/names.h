/* names.h — a set of names, each with a number: the state-loader's sources by
 * name (source index) and the discovered workspaces queued to become sources,
 * so that 5,000 listed workspaces are looked up in constant time rather than
 * each against all.
 *
 * The set keeps its own copies of the names.  Names are never removed; the
 * whole set can be emptied.  Threads: one at a time. */
#ifndef TFDRIFT_STATE_NAMES_H
#define TFDRIFT_STATE_NAMES_H

#include <stdbool.h>
#include <stddef.h>

typedef struct names names;

/* *out owned by the caller (names_free).  TD_ENOMEM. */
int names_new(names **out);
void names_free(names *n);

/* Adds name with value v unless it is there already (then its value stays).
 * 1: added; 0: there already; TD_ENOMEM (the set is unchanged). */
int names_add(names *n, const char *name, size_t v);
/* Whether name is there; its value into *v (v may be NULL). */
bool names_get(const names *n, const char *name, size_t *v);
size_t names_count(const names *n);
/* Forgets every name (keeps the table's room). */
void names_clear(names *n);

#endif
