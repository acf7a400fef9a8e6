/* lcache.c — bounded string cache (contract in lcache.h). */
#include "lcache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tfdrift/hash.h"

typedef struct slot {
	char *key, *val;
} slot;

struct lcache {
	pthread_mutex_t mu;
	slot *slots;
	size_t nslots, n, max;
	uint64_t epoch; /* clears and drops so far */
};

lcache *
lcache_new(size_t max)
{
	lcache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->max = max; /* 0: unbounded, the table grows */
	c->nslots = 16;
	while (max > 0 && c->nslots < c->max * 2)
		c->nslots *= 2;
	c->slots = calloc(c->nslots, sizeof(*c->slots));
	if (c->slots == NULL) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

static void
clear_locked(lcache *c)
{
	for (size_t i = 0; i < c->nslots; i++) {
		free(c->slots[i].key);
		free(c->slots[i].val);
		c->slots[i].key = c->slots[i].val = NULL;
	}
	c->n = 0;
}

/* Puts e into the table t of ns slots (a power of two) where its key's probe
 * sequence finds the first free slot. */
static void
place(slot *t, size_t ns, slot e)
{
	size_t s;

	for (s = (size_t)td_hash_str(TD_HASH_INIT, e.key) & (ns - 1); t[s].key != NULL;
	     s = (s + 1) & (ns - 1))
		;
	t[s] = e;
}

/* Doubles an unbounded table; on no memory it stays (and fills up further). */
static void
grow_locked(lcache *c)
{
	size_t ns = c->nslots * 2;
	slot *nt = calloc(ns, sizeof(*nt));

	if (nt == NULL)
		return;
	for (size_t i = 0; i < c->nslots; i++)
		if (c->slots[i].key != NULL)
			place(nt, ns, c->slots[i]);
	free(c->slots);
	c->slots = nt;
	c->nslots = ns;
}

void
lcache_free(lcache *c)
{
	if (c == NULL)
		return;
	clear_locked(c);
	free(c->slots);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

bool
lcache_get(lcache *c, const char *key, char **val)
{
	size_t s;
	bool found = false;

	*val = NULL;
	pthread_mutex_lock(&c->mu);
	for (s = (size_t)td_hash_str(TD_HASH_INIT, key) & (c->nslots - 1); c->slots[s].key != NULL;
	     s = (s + 1) & (c->nslots - 1)) {
		if (strcmp(c->slots[s].key, key) == 0) {
			*val = strdup(c->slots[s].val);
			found = *val != NULL;
			break;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return found;
}

/* Puts key (k) and its value (v), both taken over, under the mutex. */
static void
put_locked(lcache *c, char *k, char *v)
{
	size_t s;

	if (c->max > 0 && c->n >= c->max)
		clear_locked(c);
	if (c->max == 0 && (c->n + 1) * 2 > c->nslots)
		grow_locked(c);
	for (s = (size_t)td_hash_str(TD_HASH_INIT, k) & (c->nslots - 1); c->slots[s].key != NULL;
	     s = (s + 1) & (c->nslots - 1)) {
		if (strcmp(c->slots[s].key, k) == 0) {
			free(c->slots[s].val);
			c->slots[s].val = v;
			free(k);
			return;
		}
	}
	c->slots[s].key = k;
	c->slots[s].val = v;
	c->n++;
}

/* Copies key and val in unless when is set and the cache was dropped since
 * epoch; true when they went in. */
static bool
put_if(lcache *c, bool when, uint64_t epoch, const char *key, const char *val)
{
	char *k = strdup(key), *v = strdup(val);
	bool put = false;

	if (k == NULL || v == NULL) {
		free(k);
		free(v);
		return false; /* a cache: not having it is fine */
	}
	pthread_mutex_lock(&c->mu);
	if (!when || c->epoch == epoch) {
		put_locked(c, k, v);
		put = true;
	}
	pthread_mutex_unlock(&c->mu);
	if (!put) {
		free(k);
		free(v);
	}
	return put;
}

void
lcache_put(lcache *c, const char *key, const char *val)
{
	(void)put_if(c, false, 0, key, val);
}

uint64_t
lcache_epoch(lcache *c)
{
	uint64_t e;

	pthread_mutex_lock(&c->mu);
	e = c->epoch;
	pthread_mutex_unlock(&c->mu);
	return e;
}

bool
lcache_put_at(lcache *c, uint64_t epoch, const char *key, const char *val)
{
	return put_if(c, true, epoch, key, val);
}

void
lcache_clear(lcache *c)
{
	pthread_mutex_lock(&c->mu);
	clear_locked(c);
	c->epoch++;
	pthread_mutex_unlock(&c->mu);
}

/* Empties slot h, then moves back the keys after it in its run that would
 * no longer be found across the hole (backward-shift deletion): no
 * tombstones, every probe sequence stays whole, and only the keys of that
 * run are hashed again. */
static void
remove_at(lcache *c, size_t h)
{
	size_t mask = c->nslots - 1, j = h, home;

	c->slots[h].key = c->slots[h].val = NULL;
	for (;;) {
		j = (j + 1) & mask;
		if (c->slots[j].key == NULL)
			return;
		home = (size_t)td_hash_str(TD_HASH_INIT, c->slots[j].key) & mask;
		/* j's key may fill the hole when the hole lies on its probe
		 * sequence: from its home up to j */
		if (((j - home) & mask) >= ((j - h) & mask)) {
			c->slots[h] = c->slots[j];
			c->slots[j].key = c->slots[j].val = NULL;
			h = j;
		}
	}
}

size_t
lcache_drop_if(lcache *c, lcache_pred drop, void *arg)
{
	size_t gone = 0, i = 0;

	pthread_mutex_lock(&c->mu);
	c->epoch++;
	while (i < c->nslots) {
		slot e = c->slots[i];

		if (e.key == NULL || !drop(arg, e.key, e.val)) {
			i++;
			continue;
		}
		free(e.key);
		free(e.val);
		gone++;
		/* slot i may hold a key moved back from further on: look again
		 * (a key kept that moves again is only asked again) */
		remove_at(c, i);
	}
	c->n -= gone;
	pthread_mutex_unlock(&c->mu);
	return gone;
}

size_t
lcache_size(lcache *c)
{
	size_t n;

	pthread_mutex_lock(&c->mu);
	n = c->n;
	pthread_mutex_unlock(&c->mu);
	return n;
}
