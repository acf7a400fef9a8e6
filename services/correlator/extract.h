/* extract.h — what an event changed: the values a catalog entry's
 * extractors take from a request, compared with a resource's state.
 *
 * One call per (event, managed resource): each extractor that applies to the
 * resource's type (catalog.h: PATH=ATTR[/XFORM][@TYPE]) looks up its path in
 * the request and compares what it finds with the state's attribute by its
 * transform; every difference is one change (attribute, state value, new
 * value, as JSON).  cs->values counts the values taken from the request: an
 * entry that names attributes but took none (a request form it does not
 * know) is an extractor miss, never "no change" (rule.c alerts coarsely).
 *
 * Pure; any number of threads. */
#ifndef TFDRIFT_CORRELATOR_EXTRACT_H
#define TFDRIFT_CORRELATOR_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "tfdrift/catalog.h"

typedef struct change {
	char *attr; /* "instance_type", "tags.Owner" */
	char *old_json, *new_json;
	bool sensitive, policy;
} change;

#define EXTRACT_MAX_CHANGES 32

typedef struct changes {
	change v[EXTRACT_MAX_CHANGES];
	size_t n;
	bool any_extractor; /* an extractor's path was present in the request */
	size_t values;      /* values the extractors took from it (0: an extractor miss) */
} changes;

/* True when one of e's extractors applies to a match of type. */
bool extract_applies(const cat_entry *e, const char *type);

/* Compares req (requestParameters, or one item of a batch) with state (the
 * resource's attributes) for a match of type; appends to cs.  0 or TD_ENOMEM. */
int extract_diff(const cat_entry *e, const char *type, const cJSON *req, const cJSON *state,
    changes *cs);

/* Frees cs's changes (cs itself is the caller's). */
void extract_changes_free(changes *cs);

/* Decodes %XX and '+' in place. */
void extract_url_decode(char *s);

#endif
