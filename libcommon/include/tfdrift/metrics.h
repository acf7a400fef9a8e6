/* metrics.h — counters, gauges and histograms in Prometheus text format.
 *
 * A registry holds series; a series is a metric name plus a fixed label set
 * written as Prometheus label text (`socket="ingest",kind="decode"`), or NULL.
 * Registering the same name and labels twice returns the same series, so
 * modules may register lazily.  Updates are lock-free atomics; registration and
 * rendering take the registry's mutex.  Series live as long as the registry.
 *
 * td_metrics_default() is the process-wide registry that libcommon modules and
 * services use and that the admin server renders. */
#ifndef TFDRIFT_METRICS_H
#define TFDRIFT_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct td_metrics td_metrics;
typedef struct td_counter td_counter;
typedef struct td_gauge td_gauge;
typedef struct td_histogram td_histogram;

int td_metrics_new(td_metrics **out);
void td_metrics_free(td_metrics *m);
td_metrics *td_metrics_default(void);

/* Each returns the series in *out (borrowed from the registry).  TD_EINVAL for an
 * invalid name or labels, or a name already registered with another type. */
int td_metrics_counter(td_metrics *m, const char *name, const char *help, const char *labels,
    td_counter **out);
int td_metrics_gauge(td_metrics *m, const char *name, const char *help, const char *labels,
    td_gauge **out);
/* bounds: ascending upper bounds, n of them (+Inf is implicit); NULL/0 selects
 * latency buckets in seconds from 0.5 ms to 10 s. */
int td_metrics_histogram(td_metrics *m, const char *name, const char *help, const char *labels,
    const double *bounds, size_t n, td_histogram **out);

/* Convenience: register in the default registry, abort on misuse (names are
 * constants in code, so a failure is a programming error). */
td_counter *td_counter_get(const char *name, const char *help, const char *labels);
td_gauge *td_gauge_get(const char *name, const char *help, const char *labels);
td_histogram *td_histogram_get(const char *name, const char *help, const char *labels);

void td_counter_inc(td_counter *c);
void td_counter_add(td_counter *c, uint64_t n);
uint64_t td_counter_value(const td_counter *c);

void td_gauge_set(td_gauge *g, double v);
void td_gauge_add(td_gauge *g, double delta);
double td_gauge_value(const td_gauge *g);

void td_histogram_observe(td_histogram *h, double v);
uint64_t td_histogram_count(const td_histogram *h);

/* Renders all series (text exposition format 0.0.4).  *out is malloc'd and
 * owned by the caller; *len excludes the terminating NUL. */
int td_metrics_render(td_metrics *m, char **out, size_t *len);

#endif
