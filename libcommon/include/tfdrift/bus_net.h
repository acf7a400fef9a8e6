/* bus_net.h — where bus sockets connect: peer lists, host names resolved to
 * every address (a Kubernetes headless Service), periodic re-resolution, and
 * NNG's TLS transport with mutual certificates.
 *
 * A dial spec is one or more URLs separated by commas or white space:
 *   tcp://ingest-0.ingest:7101, tcp://ingest-1.ingest:7101
 *   tcp://ingest-bus.tfdrift.svc:7101          (every A/AAAA record)
 *   tls+tcp://persistence-bus:7104             (the same, over TLS)
 *   ipc:///run/tfdrift/work.sock, inproc://x  (taken as they are)
 * A tcp or tls+tcp URL whose host is a name (not an IP literal, not "*")
 * becomes one target per address it resolves to, each dialed on its own; the
 * set is resolved again every bus.resolve_interval, targets that appeared are
 * dialed and targets that went away are closed (their pipes with them), and
 * a failed resolution keeps the targets it had.  tfdrift_bus_dial_targets
 * {socket} counts them; each add and drop is logged.  A name that does not
 * resolve is logged when that changes (not at every interval), and
 * tfdrift_bus_unresolved_names{socket} counts such names.
 *
 * TLS (bus.tls_ca, bus.tls_cert, bus.tls_key): a tls+tcp:// listener demands
 * a client certificate signed by the CA; a dialer verifies the listener's
 * certificate against the CA and the name it dialed (bus.tls_server_name
 * overrides; an address dialed as an IP literal is checked against the CA
 * only, since mbedTLS 2 cannot match IP subject alternative names).  The files are read again when they change (checked every
 * resolve interval): dialers are re-created and listeners restarted with the
 * new configuration.  A plaintext URL with TLS configured stays plaintext:
 * the scheme decides.  Handshakes a listener refused are counted in
 * tfdrift_bus_tls_rejected_total{socket} and logged.
 *
 * Threads: td_bus_net_configure is called once before any socket opens.  One
 * background thread (started with the first set that needs it) re-resolves and
 * reloads every registered set; a set is registered from its start to its
 * stop, and stop waits for a refresh being applied.  Names are resolved
 * without the lock (a slow DNS server holds up no start or stop); the
 * answers are then applied under it to the sets still registered. */
#ifndef TFDRIFT_BUS_NET_H
#define TFDRIFT_BUS_NET_H

#include <stdbool.h>
#include <stddef.h>

#include <nng/nng.h>

#include "tfdrift/error.h"

/* Resolves host to numeric addresses (*addrs: n malloc'd strings in a malloc'd
 * array, owned by the caller).  TD_ENOTFOUND when the name does not resolve. */
typedef int (*td_bus_resolver)(void *arg, const char *host, char ***addrs, size_t *n);

typedef struct td_bus_net_opts {
	int resolve_interval_ms;  /* 0: resolve once, never reload */
	td_bus_resolver resolver; /* NULL: the system's (td_bus_resolve_system) */
	void *resolver_arg;
	const char *tls_ca; /* PEM files; NULL or "" when unused */
	const char *tls_cert;
	const char *tls_key;
	const char *tls_server_name; /* NULL or "": the host name dialed */
} td_bus_net_opts;

/* Copies opts into the process-wide settings and checks that the TLS files
 * (when given) load.  Not thread-safe: call before opening sockets. */
int td_bus_net_configure(const td_bus_net_opts *opts, td_error *err);
/* Stops the background thread; every set must be stopped first. */
void td_bus_net_shutdown(void);

/* ---- expansion of a spec (pure but for the resolver) ----------------------- */

typedef struct td_bus_target {
	char *url;  /* what is dialed: tcp://10.1.2.3:7101 */
	char *host; /* the name it came from (TLS server name), or the literal */
} td_bus_target;

/* The system's resolver (getaddrinfo, IPv4 and IPv6, TCP). */
int td_bus_resolve_system(void *arg, const char *host, char ***addrs, size_t *n);

/* Expands spec into *out (n targets, sorted by url, no duplicates; free with
 * td_bus_targets_free).  *dynamic tells whether a name was resolved (so the
 * set may change later).  A name that does not resolve is an error when
 * strict, else skipped with a warning (its addresses may appear later).
 * TD_EINVAL names the malformed URL. */
int td_bus_targets_expand(const char *spec, td_bus_resolver res, void *arg, bool strict,
    td_bus_target **out, size_t *n, bool *dynamic, td_error *err);
void td_bus_targets_free(td_bus_target *t, size_t n);

/* ---- dial and listen sets of one socket -------------------------------------- */

typedef struct td_bus_netset td_bus_netset;

/* Dials every target of spec on sock (in the background: an absent peer is no
 * error).  name labels logs and metrics.  *out owned by the caller
 * (td_bus_netset_stop before the socket closes). */
int td_bus_netset_dial(td_bus_netset **out, nng_socket sock, const char *name, const char *spec,
    td_error *err);
/* Listens on url (one URL; tls+tcp:// with the configured certificates). */
int td_bus_netset_listen(td_bus_netset **out, nng_socket sock, const char *name, const char *url,
    td_error *err);
/* Targets dialed right now (1 for a listener). */
size_t td_bus_netset_targets(const td_bus_netset *s);
/* Unregisters, closes every dialer or listener, frees.  NULL is ignored. */
void td_bus_netset_stop(td_bus_netset *s);

#endif
