/* metrics.c — registry of counters, gauges and histograms; Prometheus text 0.0.4.
 *
 * Layout: a registry is a list of families (one per metric name, in
 * registration order); a family holds its series (one per label text, in
 * registration order).  Each series is its own allocation so the pointer
 * handed out stays valid for the registry's lifetime.
 *
 * Threads: registration and rendering hold the registry mutex; updates touch
 * only atomics, so the hot path never locks.  Doubles (gauges, histogram sums)
 * live in a 64-bit atomic holding their bit pattern and are updated by CAS. */
#include "tfdrift/version.h"
#include "tfdrift/metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tfdrift/error.h"
#include "tfdrift/log.h"

typedef enum {
	KIND_COUNTER = 1,
	KIND_GAUGE,
	KIND_HISTOGRAM,
} metric_kind;

/* The TYPE line of each kind, indexed by metric_kind. */
static const char *const kind_names[] = {
	[KIND_COUNTER] = "counter",
	[KIND_GAUGE] = "gauge",
	[KIND_HISTOGRAM] = "histogram",
};

struct td_counter {
	_Atomic uint64_t value;
};

struct td_gauge {
	_Atomic uint64_t bits; /* a double's bit pattern */
};

struct td_histogram {
	size_t n;                  /* finite bounds; buckets has n + 1 slots (+Inf last) */
	const double *bounds;      /* borrowed from the family */
	_Atomic uint64_t *buckets; /* per-bucket (not cumulative) counts */
	_Atomic uint64_t count;
	_Atomic uint64_t sum_bits;
};

typedef struct series {
	struct series *next;
	char *labels; /* NULL when the series has no labels */
	union {
		struct td_counter counter;
		struct td_gauge gauge;
		struct td_histogram histogram;
	} u;
} series;

typedef struct family {
	struct family *next;
	char *name;
	char *help;
	metric_kind kind;
	double *bounds; /* histograms only */
	size_t nbounds;
	series *first, *last;
} family;

struct td_metrics {
	pthread_mutex_t mu;
	family *first, *last;
};

/* Latency buckets in seconds, 0.5 ms to 10 s. */
static const double default_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
	0.5, 1, 2.5, 5, 10 };

static uint64_t
dbl_bits(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	return u;
}

static double
bits_dbl(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

static void
atomic_dbl_add(_Atomic uint64_t *a, double delta)
{
	uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(a, &old, dbl_bits(bits_dbl(old) + delta),
	    memory_order_relaxed, memory_order_relaxed)) {
	}
}

/* ---- validation --------------------------------------------------------- */

static bool
name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool
name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

static bool
label_start(char c)
{
	return c != ':' && name_start(c);
}

static bool
label_char(char c)
{
	return c != ':' && name_char(c);
}

static bool
valid_name(const char *name)
{
	if (name == NULL || !name_start(name[0]))
		return false;
	for (const char *p = name + 1; *p != '\0'; p++)
		if (!name_char(*p))
			return false;
	return true;
}

/* Checks `k="v",k2="v2"`: label names [a-zA-Z_][a-zA-Z0-9_]*, values quoted
 * with only \\, \" and \n escapes and no raw newline.  Sets *has_le when a
 * label is called "le" (histograms add their own). */
static bool
valid_labels(const char *s, bool *has_le)
{
	const char *p = s;

	*has_le = false;
	for (;;) {
		const char *k = p;
		if (!label_start(*p))
			return false;
		while (label_char(*p))
			p++;
		if (p - k == 2 && k[0] == 'l' && k[1] == 'e')
			*has_le = true;
		if (*p++ != '=' || *p++ != '"')
			return false;
		for (; *p != '"'; p++) {
			if (*p == '\0' || *p == '\n')
				return false;
			if (*p == '\\') {
				p++;
				if (*p != '\\' && *p != '"' && *p != 'n')
					return false;
			}
		}
		p++; /* closing quote */
		if (*p == '\0')
			return true;
		if (*p++ != ',')
			return false;
	}
}

/* ---- registry ----------------------------------------------------------- */

int
td_metrics_new(td_metrics **out)
{
	td_metrics *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return TD_ENOMEM;
	if (pthread_mutex_init(&m->mu, NULL) != 0) {
		free(m);
		return TD_EIO;
	}
	*out = m;
	return 0;
}

static void
series_free(series *s, metric_kind kind)
{
	if (kind == KIND_HISTOGRAM)
		free(s->u.histogram.buckets);
	free(s->labels);
	free(s);
}

void
td_metrics_free(td_metrics *m)
{
	if (m == NULL)
		return;
	family *f = m->first;
	while (f != NULL) {
		family *fnext = f->next;
		series *s = f->first;
		while (s != NULL) {
			series *snext = s->next;
			series_free(s, f->kind);
			s = snext;
		}
		free(f->name);
		free(f->help);
		free(f->bounds);
		free(f);
		f = fnext;
	}
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static bool
same_labels(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Caller holds m->mu. */
static family *
family_find(td_metrics *m, const char *name)
{
	for (family *f = m->first; f != NULL; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/* Caller holds m->mu.  On success the registry owns the new family. */
static int
family_add(td_metrics *m, const char *name, const char *help, metric_kind kind,
    const double *bounds, size_t nbounds, family **out)
{
	int rv = TD_ENOMEM;
	family *f = calloc(1, sizeof(*f));
	if (f == NULL)
		goto out;
	f->kind = kind;
	if ((f->name = strdup(name)) == NULL ||
	    (f->help = strdup(help != NULL ? help : "")) == NULL)
		goto out;
	if (kind == KIND_HISTOGRAM) {
		if ((f->bounds = malloc(nbounds * sizeof(double))) == NULL)
			goto out;
		memcpy(f->bounds, bounds, nbounds * sizeof(double));
		f->nbounds = nbounds;
	}
	if (m->last != NULL)
		m->last->next = f;
	else
		m->first = f;
	m->last = f;
	*out = f;
	f = NULL;
	rv = 0;
out:
	if (f != NULL) {
		free(f->name);
		free(f->help);
		free(f->bounds);
		free(f);
	}
	return rv;
}

/* Finds or creates the series name{labels} of the given kind; *out is
 * borrowed from the registry. */
static int
series_get(td_metrics *m, const char *name, const char *help, const char *labels, metric_kind kind,
    const double *bounds, size_t nbounds, series **out)
{
	int rv = 0;
	bool has_le = false;
	series *s = NULL;
	family *f;

	if (m == NULL || out == NULL || !valid_name(name))
		return TD_EINVAL;
	if (labels != NULL && labels[0] == '\0')
		labels = NULL;
	if (labels != NULL && !valid_labels(labels, &has_le))
		return TD_EINVAL;
	if (kind == KIND_HISTOGRAM) {
		/* "le" is the bucket label; a caller's own would make the output ambiguous. */
		if (has_le)
			return TD_EINVAL;
		for (size_t i = 0; i < nbounds; i++)
			if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
				return TD_EINVAL;
	}

	pthread_mutex_lock(&m->mu);
	f = family_find(m, name);
	if (f != NULL) {
		if (f->kind != kind) {
			rv = TD_EINVAL;
			goto out;
		}
		for (series *e = f->first; e != NULL; e = e->next) {
			if (same_labels(e->labels, labels)) {
				*out = e;
				goto out;
			}
		}
		/* Every series of a histogram shares the family's buckets, or the
		 * `le` values would not line up across label sets. */
		if (kind == KIND_HISTOGRAM &&
		    (f->nbounds != nbounds ||
			memcmp(f->bounds, bounds, nbounds * sizeof(double)) != 0)) {
			rv = TD_EINVAL;
			goto out;
		}
	} else if ((rv = family_add(m, name, help, kind, bounds, nbounds, &f)) != 0) {
		goto out;
	}

	rv = TD_ENOMEM;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto out;
	if (labels != NULL && (s->labels = strdup(labels)) == NULL)
		goto out;
	if (kind == KIND_HISTOGRAM) {
		s->u.histogram.n = f->nbounds;
		s->u.histogram.bounds = f->bounds;
		s->u.histogram.buckets = calloc(f->nbounds + 1, sizeof(_Atomic uint64_t));
		if (s->u.histogram.buckets == NULL)
			goto out;
		for (size_t i = 0; i <= f->nbounds; i++)
			atomic_init(&s->u.histogram.buckets[i], 0);
		atomic_init(&s->u.histogram.count, 0);
		atomic_init(&s->u.histogram.sum_bits, dbl_bits(0.0));
	} else if (kind == KIND_GAUGE) {
		atomic_init(&s->u.gauge.bits, dbl_bits(0.0));
	} else {
		atomic_init(&s->u.counter.value, 0);
	}
	if (f->last != NULL)
		f->last->next = s;
	else
		f->first = s;
	f->last = s;
	*out = s;
	s = NULL;
	rv = 0;
out:
	pthread_mutex_unlock(&m->mu);
	if (s != NULL)
		series_free(s, kind);
	return rv;
}

int
td_metrics_counter(td_metrics *m, const char *name, const char *help, const char *labels,
    td_counter **out)
{
	series *s;
	int rv = series_get(m, name, help, labels, KIND_COUNTER, NULL, 0, &s);
	if (rv == 0)
		*out = &s->u.counter;
	return rv;
}

int
td_metrics_gauge(td_metrics *m, const char *name, const char *help, const char *labels,
    td_gauge **out)
{
	series *s;
	int rv = series_get(m, name, help, labels, KIND_GAUGE, NULL, 0, &s);
	if (rv == 0)
		*out = &s->u.gauge;
	return rv;
}

int
td_metrics_histogram(td_metrics *m, const char *name, const char *help, const char *labels,
    const double *bounds, size_t n, td_histogram **out)
{
	series *s;
	if (bounds == NULL || n == 0) {
		bounds = default_bounds;
		n = sizeof(default_bounds) / sizeof(default_bounds[0]);
	}
	int rv = series_get(m, name, help, labels, KIND_HISTOGRAM, bounds, n, &s);
	if (rv == 0)
		*out = &s->u.histogram;
	return rv;
}

/* ---- the default registry ----------------------------------------------- */

static td_metrics *default_registry;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void
default_init(void)
{
	td_gauge *g;
	struct timespec ts;

	if (td_metrics_new(&default_registry) != 0)
		abort();
	clock_gettime(CLOCK_REALTIME, &ts);
	if (td_metrics_gauge(default_registry, "tfdrift_process_start_time_seconds",
		"Start time of the process since the Unix epoch, in seconds.", NULL, &g) != 0)
		abort();
	td_gauge_set(g, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
	if (td_metrics_gauge(default_registry, "tfdrift_build_info",
		"Always 1; the version label says which build is running.",
		"version=\"" TD_VERSION "\"", &g) != 0)
		abort();
	td_gauge_set(g, 1);
}

td_metrics *
td_metrics_default(void)
{
	pthread_once(&default_once, default_init);
	return default_registry;
}

/* The convenience getters: names and labels are constants in code, so a
 * failure here is a bug that must show at the first run, not be counted. */
static void
misuse(const char *what, const char *name, const char *labels, int rv)
{
	TD_ERROR("metric registration failed", TD_KV_STR("type", what), TD_KV_STR("name", name),
	    TD_KV_STR("labels", labels), TD_KV_STR("error", td_strerror(rv)));
	abort();
}

td_counter *
td_counter_get(const char *name, const char *help, const char *labels)
{
	td_counter *c = NULL;
	int rv = td_metrics_counter(td_metrics_default(), name, help, labels, &c);
	if (rv != 0)
		misuse("counter", name, labels, rv);
	return c;
}

td_gauge *
td_gauge_get(const char *name, const char *help, const char *labels)
{
	td_gauge *g = NULL;
	int rv = td_metrics_gauge(td_metrics_default(), name, help, labels, &g);
	if (rv != 0)
		misuse("gauge", name, labels, rv);
	return g;
}

td_histogram *
td_histogram_get(const char *name, const char *help, const char *labels)
{
	td_histogram *h = NULL;
	int rv = td_metrics_histogram(td_metrics_default(), name, help, labels, NULL, 0, &h);
	if (rv != 0)
		misuse("histogram", name, labels, rv);
	return h;
}

/* ---- updates ------------------------------------------------------------ */

void
td_counter_inc(td_counter *c)
{
	atomic_fetch_add_explicit(&c->value, 1, memory_order_relaxed);
}

void
td_counter_add(td_counter *c, uint64_t n)
{
	atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

uint64_t
td_counter_value(const td_counter *c)
{
	return atomic_load_explicit(&((td_counter *)c)->value, memory_order_relaxed);
}

void
td_gauge_set(td_gauge *g, double v)
{
	atomic_store_explicit(&g->bits, dbl_bits(v), memory_order_relaxed);
}

void
td_gauge_add(td_gauge *g, double delta)
{
	atomic_dbl_add(&g->bits, delta);
}

double
td_gauge_value(const td_gauge *g)
{
	return bits_dbl(atomic_load_explicit(&((td_gauge *)g)->bits, memory_order_relaxed));
}

void
td_histogram_observe(td_histogram *h, double v)
{
	size_t i = 0;
	/* Linear scan: bucket lists are short and this stays branch-predictable. */
	while (i < h->n && !(v <= h->bounds[i]))
		i++;
	atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
	atomic_dbl_add(&h->sum_bits, v);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

uint64_t
td_histogram_count(const td_histogram *h)
{
	return atomic_load_explicit(&((td_histogram *)h)->count, memory_order_relaxed);
}

/* ---- rendering ---------------------------------------------------------- */

typedef struct strbuf {
	char *p;
	size_t len, cap;
	bool failed;
} strbuf;

static void
sb_reserve(strbuf *b, size_t extra)
{
	if (b->failed || b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap != 0 ? b->cap : 1024;
	while (cap < b->len + extra + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (p == NULL) {
		b->failed = true;
		return;
	}
	b->p = p;
	b->cap = cap;
}

static void
sb_putc(strbuf *b, char c)
{
	sb_reserve(b, 1);
	if (!b->failed)
		b->p[b->len++] = c;
}

static void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_printf(strbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	sb_reserve(b, (size_t)n);
	if (b->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* HELP text escapes backslash and newline only (exposition format 0.0.4). */
static void
sb_help(strbuf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\') {
			sb_putc(b, '\\');
			sb_putc(b, '\\');
		} else if (*s == '\n') {
			sb_putc(b, '\\');
			sb_putc(b, 'n');
		} else {
			sb_putc(b, *s);
		}
	}
}

/* Shortest text that reads back as the same double, so 0.1 prints as "0.1"
 * and not "0.10000000000000001"; plain decimals unless the exponent is below
 * -4 or above 20 (as JavaScript does), so 10 is "10" and not "1e+01";
 * NaN and infinities as Prometheus spells them. */
static void
fmt_double(double v, char *buf, size_t len)
{
	int prec = 1, exp;

	if (isnan(v)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (; prec < 17; prec++) {
		snprintf(buf, len, "%.*e", prec - 1, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	snprintf(buf, len, "%.*e", prec - 1, v);
	exp = (int)strtol(strchr(buf, 'e') + 1, NULL, 10);
	if (exp < -4 || exp > 20)
		return;
	snprintf(buf, len, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, v);
}

/* name{labels} or name{labels,extra} or name{extra} or name. */
static void
sb_series(strbuf *b, const char *name, const char *suffix, const char *labels, const char *extra)
{
	sb_printf(b, "%s%s", name, suffix);
	if (labels == NULL && extra == NULL)
		return;
	sb_printf(b, "{%s%s%s}", labels != NULL ? labels : "",
	    labels != NULL && extra != NULL ? "," : "", extra != NULL ? extra : "");
}

static void
render_histogram(strbuf *b, const family *f, const series *s)
{
	const td_histogram *h = &s->u.histogram;
	char num[64], le[80];
	uint64_t cum = 0;

	for (size_t i = 0; i <= h->n; i++) {
		cum += atomic_load_explicit(&((td_histogram *)h)->buckets[i], memory_order_relaxed);
		if (i < h->n) {
			fmt_double(h->bounds[i], num, sizeof(num));
			snprintf(le, sizeof(le), "le=\"%s\"", num);
		} else {
			snprintf(le, sizeof(le), "le=\"+Inf\"");
		}
		sb_series(b, f->name, "_bucket", s->labels, le);
		sb_printf(b, " %" PRIu64 "\n", cum);
	}
	fmt_double(bits_dbl(
		       atomic_load_explicit(&((td_histogram *)h)->sum_bits, memory_order_relaxed)),
	    num, sizeof(num));
	sb_series(b, f->name, "_sum", s->labels, NULL);
	sb_printf(b, " %s\n", num);
	/* _count is the +Inf bucket by definition; printing the same figure keeps
	 * the two consistent even while observations land mid-render. */
	sb_series(b, f->name, "_count", s->labels, NULL);
	sb_printf(b, " %" PRIu64 "\n", cum);
}

int
td_metrics_render(td_metrics *m, char **out, size_t *len)
{
	strbuf b = { 0 };
	char num[64];

	if (m == NULL || out == NULL)
		return TD_EINVAL;
	sb_reserve(&b, 0);
	pthread_mutex_lock(&m->mu);
	for (const family *f = m->first; f != NULL; f = f->next) {
		sb_printf(&b, "# HELP %s ", f->name);
		sb_help(&b, f->help);
		sb_printf(&b, "\n# TYPE %s %s\n", f->name, kind_names[f->kind]);
		for (const series *s = f->first; s != NULL; s = s->next) {
			switch (f->kind) {
			case KIND_COUNTER:
				sb_series(&b, f->name, "", s->labels, NULL);
				sb_printf(&b, " %" PRIu64 "\n", td_counter_value(&s->u.counter));
				break;
			case KIND_GAUGE:
				fmt_double(td_gauge_value(&s->u.gauge), num, sizeof(num));
				sb_series(&b, f->name, "", s->labels, NULL);
				sb_printf(&b, " %s\n", num);
				break;
			case KIND_HISTOGRAM: render_histogram(&b, f, s); break;
			}
		}
	}
	pthread_mutex_unlock(&m->mu);
	if (b.failed) {
		free(b.p);
		return TD_ENOMEM;
	}
	b.p[b.len] = '\0';
	*out = b.p;
	if (len != NULL)
		*len = b.len;
	return 0;
}
