/* s3_listing.c — see s3_listing.h. */
#include "s3_listing.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tfdrift/error.h"

typedef struct ws_etag {
	char *ws, *etag;
} ws_etag;

/* One workspace of a draft; its strings follow it. */
typedef struct listed {
	struct listed *next;
	ws_etag it;
} listed;

struct s3_entries {
	listed *head; /* in the order added */
	size_t n;
};

/* A published listing: sorted by ws for bsearch. */
typedef struct entries {
	ws_etag *items;
	size_t n;
	listed *owner; /* the draft's nodes, which hold the strings */
} entries;

struct s3_listing {
	atomic_uint refs;
	atomic_uint_fast64_t round;
	pthread_mutex_t mu;
	/* under mu */
	entries cur;   /* the last complete listing; cur.items NULL: none yet */
	int64_t at_ms; /* when it was taken */
};

s3_entries *
s3_entries_new(void)
{
	return calloc(1, sizeof(s3_entries));
}

int
s3_entries_add(s3_entries *e, const char *ws, const char *etag)
{
	size_t wl = strlen(ws) + 1, el = strlen(etag) + 1;
	listed *x = malloc(sizeof(*x) + wl + el);

	if (x == NULL) {
		return TD_ENOMEM;
	}
	x->it.ws = (char *)(x + 1);
	x->it.etag = x->it.ws + wl;
	memcpy(x->it.ws, ws, wl);
	memcpy(x->it.etag, etag, el);
	x->next = e->head;
	e->head = x;
	e->n++;
	return 0;
}

static void
free_nodes(listed *x)
{
	while (x != NULL) {
		listed *next = x->next;
		free(x);
		x = next;
	}
}

void
s3_entries_free(s3_entries *e)
{
	if (e != NULL) {
		free_nodes(e->head);
		free(e);
	}
}

s3_listing *
s3_listing_new(void)
{
	s3_listing *l = calloc(1, sizeof(*l));

	if (l == NULL) {
		return NULL;
	}
	atomic_init(&l->refs, 1);
	atomic_init(&l->round, 0);
	pthread_mutex_init(&l->mu, NULL);
	return l;
}

s3_listing *
s3_listing_ref(s3_listing *l)
{
	atomic_fetch_add(&l->refs, 1);
	return l;
}

void
s3_listing_unref(s3_listing *l)
{
	if (l == NULL || atomic_fetch_sub(&l->refs, 1) != 1) {
		return;
	}
	free(l->cur.items);
	free_nodes(l->cur.owner);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

static int
cmp_ws(const void *a, const void *b)
{
	return strcmp(((const ws_etag *)a)->ws, ((const ws_etag *)b)->ws);
}

void
s3_listing_publish(s3_listing *l, s3_entries *e, int64_t now_ms)
{
	/* at least one slot: items NULL means no listing */
	entries next = { .items = malloc((e->n > 0 ? e->n : 1) * sizeof(ws_etag)),
		.owner = e->head },
		old;

	if (next.items == NULL) {
		s3_entries_free(e); /* out of memory: the last listing ages out */
		return;
	}
	for (const listed *x = e->head; x != NULL; x = x->next) {
		next.items[next.n++] = x->it;
	}
	free(e);
	/* keys come in the store's order, which is not the workspaces' (a '-'
	 * sorts before the '/' that ends a name) */
	if (next.n > 1) {
		qsort(next.items, next.n, sizeof(*next.items), cmp_ws);
	}
	pthread_mutex_lock(&l->mu);
	old = l->cur;
	l->cur = next;
	l->at_ms = now_ms;
	atomic_fetch_add(&l->round, 1);
	pthread_mutex_unlock(&l->mu);
	free(old.items);
	free_nodes(old.owner);
}

uint64_t
s3_listing_round(s3_listing *l)
{
	return atomic_load(&l->round);
}

int
s3_listing_check(s3_listing *l, const char *ws, const char *etag, int64_t now_ms,
    int64_t max_age_ms)
{
	ws_etag key = { .ws = (char *)ws };
	const ws_etag *hit;
	int rv = S3L_UNKNOWN;

	pthread_mutex_lock(&l->mu);
	if (l->cur.items != NULL && now_ms - l->at_ms <= max_age_ms) {
		hit = l->cur.n > 0
		    ? bsearch(&key, l->cur.items, l->cur.n, sizeof(*l->cur.items), cmp_ws)
		    : NULL;
		rv = hit != NULL && etag[0] != '\0' && strcmp(hit->etag, etag) == 0 ? S3L_SAME
										    : S3L_CHANGED;
	}
	pthread_mutex_unlock(&l->mu);
	return rv;
}
