/* fetch_pool.c — see fetch_pool.h. */
#include "fetch_pool.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfdrift/error.h"

/* One queued check; owned by the pool until a worker takes it. */
typedef struct job {
	struct job *next;
	fetch_pool_fn run;
	void *arg;
} job;

/* The checks of one host: its queue and how many run.  Hosts are kept once
 * seen (a configuration names few, and at most one per source). */
typedef struct host_q {
	char name[256];
	job *head, *tail;
	size_t queued, running;
} host_q;

struct fetch_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a check was queued, or stop */
	pthread_t *thr;
	size_t nthr;
	size_t per_host;
	/* under mu */
	host_q *hosts;
	size_t nhosts, cap;
	size_t rr; /* the host to look at first: round robin */
	size_t queued, running;
	bool stop;
};

void
fetch_pool_host_of(const char *url, char *buf, size_t len)
{
	const char *p = strstr(url, "://"), *end, *at;
	size_t n, i;

	buf[0] = '\0';
	if (p == NULL || len == 0) {
		return;
	}
	p += 3;
	end = p + strcspn(p, "/?#");
	/* credentials are never part of the key (nor of anything shown) */
	for (at = p; at < end; at++) {
		if (*at == '@') {
			p = at + 1;
		}
	}
	n = (size_t)(end - p) < len - 1 ? (size_t)(end - p) : len - 1;
	for (i = 0; i < n; i++) {
		buf[i] = (char)tolower((unsigned char)p[i]);
	}
	buf[n] = '\0';
}

/* The next host with a queued check and a free slot, round robin; its
 * index or -1.  Under mu. */
static long
pick(fetch_pool *p)
{
	size_t k, i;

	for (k = 0; k < p->nhosts; k++) {
		i = (p->rr + k) % p->nhosts;
		if (p->hosts[i].queued > 0 && p->hosts[i].running < p->per_host) {
			p->rr = i + 1;
			return (long)i;
		}
	}
	return -1;
}

static void *
worker(void *arg)
{
	fetch_pool *p = arg;
	host_q *h;
	job *j;
	long hi;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && (hi = pick(p)) < 0) {
			pthread_cond_wait(&p->cv, &p->mu);
		}
		if (p->stop) {
			break;
		}
		h = &p->hosts[hi];
		j = h->head;
		if ((h->head = j->next) == NULL) {
			h->tail = NULL;
		}
		h->queued--;
		h->running++;
		p->queued--;
		p->running++;
		pthread_mutex_unlock(&p->mu);
		j->run(j->arg);
		free(j);
		pthread_mutex_lock(&p->mu);
		/* hosts may have grown (realloc): by index, not by h */
		p->hosts[hi].running--;
		p->running--;
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int
fetch_pool_start(fetch_pool **out, size_t workers, size_t per_host)
{
	fetch_pool *p;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		return TD_ENOMEM;
	}
	if ((p->thr = calloc(workers > 0 ? workers : 1, sizeof(*p->thr))) == NULL) {
		free(p);
		return TD_ENOMEM;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->per_host = per_host > 0 ? per_host : 1;
	while (p->nthr < (workers > 0 ? workers : 1) &&
	    pthread_create(&p->thr[p->nthr], NULL, worker, p) == 0) {
		p->nthr++;
	}
	if (p->nthr == 0) {
		fetch_pool_free(p);
		return TD_EIO;
	}
	*out = p;
	return 0;
}

void
fetch_pool_free(fetch_pool *p)
{
	size_t i;
	job *j;

	if (p == NULL) {
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nthr; i++) {
		pthread_join(p->thr[i], NULL);
	}
	for (i = 0; i < p->nhosts; i++) {
		while ((j = p->hosts[i].head) != NULL) {
			p->hosts[i].head = j->next;
			free(j);
		}
	}
	free(p->hosts);
	free(p->thr);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* The queue of host, added when new; NULL when out of memory.  Under mu. */
static host_q *
host_get(fetch_pool *p, const char *host)
{
	host_q *nh;
	size_t i;

	for (i = 0; i < p->nhosts; i++) {
		if (strcmp(p->hosts[i].name, host) == 0) {
			return &p->hosts[i];
		}
	}
	if (p->nhosts == p->cap) {
		size_t cap = p->cap > 0 ? p->cap * 2 : 8;
		if ((nh = realloc(p->hosts, cap * sizeof(*nh))) == NULL) {
			return NULL;
		}
		p->hosts = nh;
		p->cap = cap;
	}
	nh = &p->hosts[p->nhosts++];
	memset(nh, 0, sizeof(*nh));
	snprintf(nh->name, sizeof(nh->name), "%s", host);
	return nh;
}

int
fetch_pool_submit(fetch_pool *p, const char *host, fetch_pool_fn run, void *arg)
{
	job *j = calloc(1, sizeof(*j));
	host_q *h;

	if (j == NULL) {
		return TD_ENOMEM;
	}
	j->run = run;
	j->arg = arg;
	pthread_mutex_lock(&p->mu);
	if ((h = host_get(p, host)) == NULL) {
		pthread_mutex_unlock(&p->mu);
		free(j);
		return TD_ENOMEM;
	}
	if (h->tail != NULL) {
		h->tail->next = j;
	} else {
		h->head = j;
	}
	h->tail = j;
	h->queued++;
	p->queued++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

bool
fetch_pool_withdraw(fetch_pool *p, void *arg)
{
	job **jp, *prev;
	size_t i;
	bool found = false;

	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->nhosts && !found; i++) {
		host_q *h = &p->hosts[i];
		for (prev = NULL, jp = &h->head; *jp != NULL; prev = *jp, jp = &(*jp)->next) {
			if ((*jp)->arg == arg) {
				job *j = *jp;
				*jp = j->next;
				if (h->tail == j) {
					h->tail = prev;
				}
				h->queued--;
				p->queued--;
				free(j);
				found = true;
				break;
			}
		}
	}
	pthread_mutex_unlock(&p->mu);
	return found;
}

void
fetch_pool_counts(fetch_pool *p, size_t *queued, size_t *running)
{
	pthread_mutex_lock(&p->mu);
	*queued = p->queued;
	*running = p->running;
	pthread_mutex_unlock(&p->mu);
}
