/* names.c — open addressing over FNV-1a, linear probing (see names.h). */
#include "names.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tfdrift/error.h"
#include "tfdrift/hash.h"

typedef struct slot {
	char *name; /* NULL: empty */
	size_t v;
} slot;

struct names {
	slot *slot;
	size_t cap; /* a power of two */
	size_t n;
};

enum {
	FIRST_CAP = 64
};

int
names_new(names **out)
{
	names *n = calloc(1, sizeof(*n));

	*out = NULL;
	if (n == NULL || (n->slot = calloc(FIRST_CAP, sizeof(*n->slot))) == NULL) {
		free(n);
		return TD_ENOMEM;
	}
	n->cap = FIRST_CAP;
	*out = n;
	return 0;
}

void
names_clear(names *n)
{
	for (size_t i = 0; i < n->cap; i++) {
		free(n->slot[i].name);
		n->slot[i].name = NULL;
	}
	n->n = 0;
}

void
names_free(names *n)
{
	if (n == NULL) {
		return;
	}
	names_clear(n);
	free(n->slot);
	free(n);
}

/* The slot of name, or the empty one where it would go. */
static slot *
find(const names *n, const char *name)
{
	size_t i = (size_t)td_hash_str(TD_HASH_INIT, name) & (n->cap - 1);

	while (n->slot[i].name != NULL && strcmp(n->slot[i].name, name) != 0) {
		i = (i + 1) & (n->cap - 1);
	}
	return &n->slot[i];
}

/* Doubles the table (kept at most half full).  TD_ENOMEM. */
static int
grow(names *n)
{
	names bigger = { .cap = n->cap * 2 };

	if ((bigger.slot = calloc(bigger.cap, sizeof(*bigger.slot))) == NULL) {
		return TD_ENOMEM;
	}
	for (size_t i = 0; i < n->cap; i++) {
		if (n->slot[i].name != NULL) {
			*find(&bigger, n->slot[i].name) = n->slot[i];
		}
	}
	free(n->slot);
	n->slot = bigger.slot;
	n->cap = bigger.cap;
	return 0;
}

int
names_add(names *n, const char *name, size_t v)
{
	slot *s;

	if (find(n, name)->name != NULL) {
		return 0;
	}
	if ((n->n + 1) * 2 > n->cap && grow(n) != 0) {
		return TD_ENOMEM;
	}
	s = find(n, name);
	if ((s->name = strdup(name)) == NULL) {
		return TD_ENOMEM;
	}
	s->v = v;
	n->n++;
	return 1;
}

bool
names_get(const names *n, const char *name, size_t *v)
{
	const slot *s = find(n, name);

	if (s->name == NULL) {
		return false;
	}
	if (v != NULL) {
		*v = s->v;
	}
	return true;
}

size_t
names_count(const names *n)
{
	return n->n;
}
