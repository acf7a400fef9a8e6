/* cache.c — see cache.h. */
#include "cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tfdrift/clock.h"
#include "tfdrift/hash.h"
#include "tfdrift/metrics.h"

typedef struct entry entry;
struct entry {
	entry *chain;         /* same bucket */
	entry *older, *newer; /* insertion order */
	uint64_t hash;
	char *key;
	char *body;
	size_t len;
	uint64_t gen;
	int64_t expires_ms;
};

/* An answer being computed: others asking for it wait instead of all
 * querying PostgreSQL at once after a commit emptied the cache. */
typedef struct pending pending;
struct pending {
	pending *next;
	char *key;
};

struct gw_cache {
	pthread_rwlock_t lk;
	pthread_mutex_t pmu; /* guards pend; wait on pcond */
	pthread_cond_t pcond;
	pending *pend;
	atomic_uint_fast64_t gen;
	int64_t ttl_ms;
	size_t max_entries;
	size_t nbuckets; /* a power of two */
	entry **buckets;
	entry *oldest, *newest;
	size_t n, bytes;
	td_counter *hits, *misses, *stores;
};

int
gw_cache_new(gw_cache **out, int64_t ttl_ms, size_t max_entries, td_error *err)
{
	*out = NULL;
	gw_cache *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	c->ttl_ms = ttl_ms;
	c->max_entries = max_entries;
	c->nbuckets = 64;
	while (c->nbuckets < max_entries) {
		c->nbuckets *= 2;
	}
	if ((c->buckets = calloc(c->nbuckets, sizeof(*c->buckets))) == NULL) {
		free(c);
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	pthread_rwlock_init(&c->lk, NULL);
	pthread_mutex_init(&c->pmu, NULL);
	td_clock_cond_init(&c->pcond);
	atomic_init(&c->gen, 1);
	c->hits = td_counter_get("tfdrift_gateway_cache_requests_total",
	    "GET /drifts and /stats requests by response cache outcome.", "result=\"hit\"");
	c->misses = td_counter_get("tfdrift_gateway_cache_requests_total",
	    "GET /drifts and /stats requests by response cache outcome.", "result=\"miss\"");
	c->stores = td_counter_get("tfdrift_gateway_cache_stores_total",
	    "Answers kept by the response cache.", NULL);
	*out = c;
	return 0;
}

static void
entry_free(entry *e)
{
	free(e->key);
	free(e->body);
	free(e);
}

/* Unlinks e from its bucket (write lock held). */
static void
bucket_remove(gw_cache *c, entry *e)
{
	for (entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)]; *pp != NULL;
	     pp = &(*pp)->chain) {
		if (*pp == e) {
			*pp = e->chain;
			break;
		}
	}
	c->n--;
	c->bytes -= e->len;
}

/* Unlinks e from its bucket and the insertion list (write lock held). */
static void
unlink_entry(gw_cache *c, entry *e)
{
	bucket_remove(c, e);
	if (e->older != NULL) {
		e->older->newer = e->newer;
	} else {
		c->oldest = e->newer;
	}
	if (e->newer != NULL) {
		e->newer->older = e->older;
	} else {
		c->newest = e->older;
	}
}

void
gw_cache_free(gw_cache *c)
{
	if (c == NULL) {
		return;
	}
	for (entry *e = c->oldest, *next; e != NULL; e = next) {
		next = e->newer;
		entry_free(e);
	}
	free(c->buckets);
	while (c->pend != NULL) {
		pending *p = c->pend;
		c->pend = p->next;
		free(p->key);
		free(p);
	}
	pthread_rwlock_destroy(&c->lk);
	pthread_mutex_destroy(&c->pmu);
	pthread_cond_destroy(&c->pcond);
	free(c);
}

/* Appends "<len>:<text>" so that no value can imitate a separator. */
static size_t
put_counted(char *o, const char *s)
{
	return (size_t)sprintf(o, "%zu:%s", strlen(s), s);
}

static int
cmp_kv(const void *a, const void *b)
{
	const gw_kv *x = a, *y = b;
	int r = strcmp(x->key != NULL ? x->key : "", y->key != NULL ? y->key : "");
	return r != 0 ? r
		      : strcmp(x->value != NULL ? x->value : "", y->value != NULL ? y->value : "");
}

char *
gw_cache_key(const char *path, const gw_kv *args, size_t nargs)
{
	gw_kv sorted[64];
	if (nargs > sizeof(sorted) / sizeof(sorted[0])) {
		return NULL;
	}
	size_t need = strlen(path) + 2;
	for (size_t i = 0; i < nargs; i++) {
		sorted[i] = args[i];
		need += (args[i].key != NULL ? strlen(args[i].key) : 0) +
		    (args[i].value != NULL ? strlen(args[i].value) : 0) + 48;
	}
	qsort(sorted, nargs, sizeof(*sorted), cmp_kv);
	char *k = malloc(need);
	if (k == NULL) {
		return NULL;
	}
	size_t o = strlen(path);
	memcpy(k, path, o);
	k[o++] = '?';
	for (size_t i = 0; i < nargs; i++) {
		o += put_counted(k + o, sorted[i].key != NULL ? sorted[i].key : "");
		/* a bare "?key" (NULL value) differs from "?key=" */
		k[o++] = sorted[i].value != NULL ? '=' : '!';
		o += put_counted(k + o, sorted[i].value != NULL ? sorted[i].value : "");
	}
	k[o] = '\0';
	return k;
}

uint64_t
gw_cache_generation(gw_cache *c)
{
	return atomic_load(&c->gen);
}

void
gw_cache_invalidate(gw_cache *c)
{
	atomic_fetch_add(&c->gen, 1);
}

/* The kept answer's copy, or NULL (no counting). */
static char *
lookup(gw_cache *c, const char *key, size_t *len)
{
	uint64_t h = td_hash_str(TD_HASH_INIT, key);
	uint64_t gen = atomic_load(&c->gen);
	int64_t now = td_clock_mono_ms();
	char *copy = NULL;
	pthread_rwlock_rdlock(&c->lk);
	for (entry *e = c->buckets[h & (c->nbuckets - 1)]; e != NULL; e = e->chain) {
		if (e->hash != h || strcmp(e->key, key) != 0) {
			continue;
		}
		if (e->gen == gen && now < e->expires_ms && (copy = malloc(e->len + 1)) != NULL) {
			memcpy(copy, e->body, e->len + 1);
			*len = e->len;
		}
		break;
	}
	pthread_rwlock_unlock(&c->lk);
	return copy;
}

char *
gw_cache_get(gw_cache *c, const char *key, size_t *len, bool *leader)
{
	struct timespec deadline;
	td_clock_mono_timespec(td_clock_mono_ms() + GW_CACHE_WAIT_MS, &deadline);
	*leader = false;
	for (;;) {
		char *copy = lookup(c, key, len);
		if (copy != NULL) {
			td_counter_inc(c->hits);
			return copy;
		}
		pthread_mutex_lock(&c->pmu);
		pending *p = c->pend;
		while (p != NULL && strcmp(p->key, key) != 0) {
			p = p->next;
		}
		if (p == NULL) {
			/* nobody computes it: this caller does */
			if ((p = calloc(1, sizeof(*p))) != NULL && (p->key = strdup(key)) != NULL) {
				p->next = c->pend;
				c->pend = p;
				*leader = true;
			} else {
				free(p);
			}
			pthread_mutex_unlock(&c->pmu);
			td_counter_inc(c->misses);
			return NULL;
		}
		int rv = pthread_cond_timedwait(&c->pcond, &c->pmu, &deadline);
		pthread_mutex_unlock(&c->pmu);
		if (rv != 0) {
			/* the computing request is slow: compute it here too */
			td_counter_inc(c->misses);
			return NULL;
		}
	}
}

void
gw_cache_done(gw_cache *c, const char *key)
{
	pthread_mutex_lock(&c->pmu);
	for (pending **pp = &c->pend; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->key, key) == 0) {
			pending *p = *pp;
			*pp = p->next;
			free(p->key);
			free(p);
			break;
		}
	}
	pthread_cond_broadcast(&c->pcond);
	pthread_mutex_unlock(&c->pmu);
}

void
gw_cache_put(gw_cache *c, const char *key, uint64_t gen, const char *body, size_t len)
{
	if (gen != atomic_load(&c->gen) || len > GW_CACHE_MAX_BYTES / 4) {
		return; /* already stale, or too big to be worth a quarter of the cache */
	}
	entry *e = calloc(1, sizeof(*e));
	if (e == NULL || (e->key = strdup(key)) == NULL || (e->body = malloc(len + 1)) == NULL) {
		if (e != NULL) {
			entry_free(e);
		}
		return;
	}
	memcpy(e->body, body, len);
	e->body[len] = '\0';
	e->len = len;
	e->hash = td_hash_str(TD_HASH_INIT, key);
	e->gen = gen;
	e->expires_ms = td_clock_mono_ms() + c->ttl_ms;

	pthread_rwlock_wrlock(&c->lk);
	for (entry *o = c->buckets[e->hash & (c->nbuckets - 1)]; o != NULL; o = o->chain) {
		if (o->hash == e->hash && strcmp(o->key, key) == 0) {
			unlink_entry(c, o);
			entry_free(o);
			break;
		}
	}
	while (
	    c->oldest != NULL && (c->n >= c->max_entries || c->bytes + len > GW_CACHE_MAX_BYTES)) {
		entry *o = c->oldest; /* the oldest goes first */
		c->oldest = o->newer;
		if (c->oldest != NULL) {
			c->oldest->older = NULL;
		} else {
			c->newest = NULL;
		}
		bucket_remove(c, o);
		entry_free(o);
	}
	size_t b = e->hash & (c->nbuckets - 1);
	e->chain = c->buckets[b];
	c->buckets[b] = e;
	e->older = c->newest;
	if (c->newest != NULL) {
		c->newest->newer = e;
	} else {
		c->oldest = e;
	}
	c->newest = e;
	c->n++;
	c->bytes += len;
	pthread_rwlock_unlock(&c->lk);
	td_counter_inc(c->stores);
}
