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

/* Doubles an unbounded table; on no memory it stays (and fills up further). */
static void
grow_locked(lcache *c)
{
	size_t ns = c->nslots * 2;
	slot *nt = calloc(ns, sizeof(*nt));

	if (nt == NULL)
		return;
	for (size_t i = 0; i < c->nslots; i++) {
		size_t s;
		if (c->slots[i].key == NULL)
			continue;
		for (s = (size_t)td_hash_str(TD_HASH_INIT, c->slots[i].key) & (ns - 1);
		     nt[s].key != NULL; s = (s + 1) & (ns - 1))
			;
		nt[s] = c->slots[i];
	}
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

void
lcache_put(lcache *c, const char *key, const char *val)
{
	size_t s;
	char *k = strdup(key), *v = strdup(val);

	if (k == NULL || v == NULL) {
		free(k);
		free(v);
		return; /* a cache: not having it is fine */
	}
	pthread_mutex_lock(&c->mu);
	if (c->max > 0 && c->n >= c->max)
		clear_locked(c);
	if (c->max == 0 && (c->n + 1) * 2 > c->nslots)
		grow_locked(c);
	for (s = (size_t)td_hash_str(TD_HASH_INIT, key) & (c->nslots - 1); c->slots[s].key != NULL;
	     s = (s + 1) & (c->nslots - 1)) {
		if (strcmp(c->slots[s].key, key) == 0) {
			free(c->slots[s].val);
			c->slots[s].val = v;
			free(k);
			pthread_mutex_unlock(&c->mu);
			return;
		}
	}
	c->slots[s].key = k;
	c->slots[s].val = v;
	c->n++;
	pthread_mutex_unlock(&c->mu);
}

void
lcache_clear(lcache *c)
{
	pthread_mutex_lock(&c->mu);
	clear_locked(c);
	pthread_mutex_unlock(&c->mu);
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
