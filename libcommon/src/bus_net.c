/* bus_net.c — peer lists, DNS expansion, re-resolution and TLS for bus
 * sockets (contract in tfdrift/bus_net.h). */
#include "tfdrift/bus_net.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <nng/supplemental/tls/tls.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tfdrift/clock.h"
#include "tfdrift/file.h"
#include "tfdrift/log.h"
#include "tfdrift/metrics.h"

#define TLS_SCHEME "tls+tcp://"
#define TCP_SCHEME "tcp://"

/* ---- process-wide settings ------------------------------------------------- */

typedef struct file_sig {
	long long mtime_ns, size, ino;
} file_sig;

static struct {
	pthread_mutex_t mu; /* guards sets, nsets, thread_on, stopping, and the TLS state */
	pthread_cond_t cv;
	int interval_ms;
	td_bus_resolver resolver;
	void *resolver_arg;
	char *ca, *cert, *key, *server_name;
	char *ca_pem, *cert_pem, *key_pem; /* file contents as last loaded */
	file_sig sig[3];                   /* the files as last loaded */
	file_sig rejected_sig[3];          /* the files as last refused (valid when rejected) */
	bool rejected;
	unsigned tls_gen; /* bumped at every reload */
	td_bus_netset **sets;
	size_t nsets, cap;
	pthread_t thread;
	bool thread_on, stopping;
	uint64_t next_id;
} net = { .mu = PTHREAD_MUTEX_INITIALIZER };

static pthread_once_t cv_once = PTHREAD_ONCE_INIT;

/* The condition variable waits on the monotonic clock. */
static void
cv_init(void)
{
	td_clock_cond_init(&net.cv);
}

/* Names of a spec that did not resolve, for logging on change. */
typedef struct unresolved {
	char names[512]; /* the URLs, comma-separated (cut when long) */
	size_t n;
} unresolved;

typedef struct target_state {
	td_bus_target t;
	nng_dialer dialer;
	bool open;
} target_state;

struct td_bus_netset {
	nng_socket sock;
	char *name, *spec;
	bool listen;
	bool dynamic; /* a name was resolved: re-resolve */
	bool uses_tls;
	unsigned tls_gen; /* the TLS generation its dialers/listener were made with */
	target_state *tg;
	size_t ntg;
	nng_listener listener;
	bool listener_open;
	uint64_t refused_seen; /* the listener's auth+proto errors already counted */
	uint64_t id;           /* unique among the sets registered (under net.mu) */
	unresolved unres;      /* names of spec that did not resolve last time */
	td_gauge *targets_gauge;
	td_gauge *unresolved_gauge;
	td_counter *tls_rejected;
};

static char *
dupstr(const char *s)
{
	return s != NULL && s[0] != '\0' ? strdup(s) : NULL;
}

/* What a file looks like now (for the reload check); false when it cannot
 * be stat'ed (for instance while it is being replaced). */
static bool
file_sig_of(const char *path, file_sig *sig)
{
	struct stat st;

	if (path == NULL || stat(path, &st) != 0) {
		return false;
	}
	sig->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	sig->size = (long long)st.st_size;
	sig->ino = (long long)st.st_ino;
	return true;
}

/* Reads a PEM file (libcommon's reader, 16 MiB at most).  *out owned by
 * the caller; err names the key and the file. */
static int
read_pem(const char *key, const char *path, char **out, td_error *err)
{
	td_error ferr = { 0 };
	int rv;

	if ((rv = td_file_read(path, (size_t)16 << 20, out, NULL, &ferr)) != 0) {
		return td_error_set(err, rv, "%s: %s", key, ferr.msg);
	}
	return 0;
}

static bool
tls_configured(void)
{
	return net.ca != NULL || net.cert != NULL || net.key != NULL;
}

/* A TLS configuration from the loaded PEM text; *out owned by the caller
 * (nng_tls_config_free).  server_name only for clients. */
static int
tls_config_make(nng_tls_config **out, bool server, const char *server_name, td_error *err)
{
	nng_tls_config *c = NULL;
	int rv;

	*out = NULL;
	if (!tls_configured() || net.ca_pem == NULL || net.cert_pem == NULL ||
	    net.key_pem == NULL) {
		return td_error_set(err, TD_EINVAL,
		    "bus: a tls+tcp:// address needs bus.tls_ca, bus.tls_cert and bus.tls_key");
	}
	if ((rv = nng_tls_config_alloc(&c, server ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT)) !=
		0 ||
	    (rv = nng_tls_config_auth_mode(c, NNG_TLS_AUTH_MODE_REQUIRED)) != 0) {
		rv = td_error_set(err, TD_EDEPEND, "bus TLS: %s", nng_strerror(rv));
		goto out;
	}
	if ((rv = nng_tls_config_ca_chain(c, net.ca_pem, NULL)) != 0) {
		rv = td_error_set(err, TD_EINVAL, "bus TLS: bus.tls_ca %s: %s", net.ca,
		    nng_strerror(rv));
		goto out;
	}
	if ((rv = nng_tls_config_own_cert(c, net.cert_pem, net.key_pem, NULL)) != 0) {
		rv = td_error_set(err, TD_EINVAL, "bus TLS: bus.tls_cert %s / bus.tls_key %s: %s",
		    net.cert, net.key, nng_strerror(rv));
		goto out;
	}
	if (!server && server_name != NULL &&
	    (rv = nng_tls_config_server_name(c, server_name)) != 0) {
		rv = td_error_set(err, TD_EDEPEND, "bus TLS: server name %s: %s", server_name,
		    nng_strerror(rv));
		goto out;
	}
	*out = c;
	c = NULL;
	rv = 0;
out:
	if (c != NULL) {
		nng_tls_config_free(c);
	}
	return rv;
}

/* False only when both PEM texts parse and the key is not the private key of
 * the (first) certificate: mbedTLS accepts such a pair, and every handshake
 * made with it fails.  A text OpenSSL cannot read is left to mbedTLS. */
static bool
pem_pair_matches(const char *cert_pem, const char *key_pem)
{
	BIO *cb = BIO_new_mem_buf(cert_pem, -1);
	BIO *kb = BIO_new_mem_buf(key_pem, -1);
	X509 *x = cb != NULL ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	EVP_PKEY *k = kb != NULL ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	bool ok = x == NULL || k == NULL || X509_check_private_key(x, k) == 1;

	EVP_PKEY_free(k);
	X509_free(x);
	BIO_free(kb);
	BIO_free(cb);
	ERR_clear_error();
	return ok;
}

/* Loads the three files (all or none); on success the new text replaces the
 * old and the generation moves on.  sig gets what the files looked like
 * before they were read (also on failure); *mismatch is set when the key and the certificate
 * are not a pair (one of them not replaced yet, or a wrong deployment).
 * Caller holds net.mu (or runs alone). */
static int
tls_load(file_sig sig[3], bool *mismatch, td_error *err)
{
	char *pem[3] = { NULL, NULL, NULL };
	const char *path[3] = { net.ca, net.cert, net.key };
	static const char *key[3] = { "bus.tls_ca", "bus.tls_cert", "bus.tls_key" };
	nng_tls_config *probe = NULL;
	char *old[3];
	int rv = 0, i;

	*mismatch = false;
	/* taken before the reads, so a change during them is seen next round */
	for (i = 0; i < 3; i++) {
		sig[i] = (file_sig){ 0 };
		(void)file_sig_of(path[i], &sig[i]);
	}
	for (i = 0; i < 3; i++) {
		if (path[i] == NULL) {
			rv = td_error_set(err, TD_EINVAL,
			    "bus: TLS needs bus.tls_ca, bus.tls_cert and bus.tls_key (%s is empty)",
			    key[i]);
			goto out;
		}
		if ((rv = read_pem(key[i], path[i], &pem[i], err)) != 0) {
			goto out;
		}
	}
	if (!pem_pair_matches(pem[1], pem[2])) {
		*mismatch = true;
		rv = td_error_set(err, TD_EINVAL,
		    "bus TLS: bus.tls_key %s is not the key of the certificate in bus.tls_cert %s",
		    net.key, net.cert);
		goto out;
	}
	old[0] = net.ca_pem;
	old[1] = net.cert_pem;
	old[2] = net.key_pem;
	net.ca_pem = pem[0];
	net.cert_pem = pem[1];
	net.key_pem = pem[2];
	/* check that they make a configuration before keeping them */
	if ((rv = tls_config_make(&probe, true, NULL, err)) != 0) {
		net.ca_pem = old[0];
		net.cert_pem = old[1];
		net.key_pem = old[2];
		goto out;
	}
	nng_tls_config_free(probe);
	for (i = 0; i < 3; i++) {
		free(old[i]);
		pem[i] = NULL;
		net.sig[i] = sig[i];
	}
	net.tls_gen++;
out:
	for (i = 0; i < 3; i++) {
		free(pem[i]);
	}
	return rv;
}

/* True when a file differs from ref (what it looked like when read). */
static bool
tls_files_differ(const file_sig ref[3])
{
	const char *path[3] = { net.ca, net.cert, net.key };
	file_sig now;

	for (int i = 0; i < 3; i++) {
		if (!file_sig_of(path[i], &now)) {
			continue; /* a file being replaced: look again next round */
		}
		if (now.mtime_ns != ref[i].mtime_ns || now.size != ref[i].size ||
		    now.ino != ref[i].ino) {
			return true;
		}
	}
	return false;
}

int
td_bus_net_configure(const td_bus_net_opts *o, td_error *err)
{
	int rv = 0;

	pthread_mutex_lock(&net.mu);
	free(net.ca);
	free(net.cert);
	free(net.key);
	free(net.server_name);
	net.interval_ms = o->resolve_interval_ms;
	net.resolver = o->resolver;
	net.resolver_arg = o->resolver_arg;
	net.ca = dupstr(o->tls_ca);
	net.cert = dupstr(o->tls_cert);
	net.key = dupstr(o->tls_key);
	net.server_name = dupstr(o->tls_server_name);
	net.rejected = false;
	if (tls_configured()) {
		file_sig sig[3];
		bool mismatch;
		rv = tls_load(sig, &mismatch, err);
	}
	pthread_mutex_unlock(&net.mu);
	return rv;
}

/* ---- expansion ----------------------------------------------------------------- */

int
td_bus_resolve_system(void *arg, const char *host, char ***addrs, size_t *n)
{
	struct addrinfo hints = { 0 }, *res = NULL, *ai;
	char **v = NULL, buf[INET6_ADDRSTRLEN];
	size_t k = 0, cap = 0;
	int rv = 0;

	(void)arg;
	*addrs = NULL;
	*n = 0;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) != 0) {
		return TD_ENOTFOUND;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		const void *a = ai->ai_family == AF_INET
		    ? (const void *)&((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr
		    : (const void *)&((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr;
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    inet_ntop(ai->ai_family, a, buf, sizeof(buf)) == NULL) {
			continue;
		}
		if (k == cap) {
			size_t nc = cap ? cap * 2 : 8;
			char **nv = realloc(v, nc * sizeof(*nv));
			if (nv == NULL) {
				rv = TD_ENOMEM;
				goto out;
			}
			v = nv;
			cap = nc;
		}
		if ((v[k] = strdup(buf)) == NULL) {
			rv = TD_ENOMEM;
			goto out;
		}
		k++;
	}
	*addrs = v;
	*n = k;
	v = NULL;
	k = 0;
out:
	for (size_t i = 0; i < k; i++) {
		free(v[i]);
	}
	free(v);
	freeaddrinfo(res);
	return rv;
}

void
td_bus_targets_free(td_bus_target *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].url);
		free(t[i].host);
	}
	free(t);
}

typedef struct tvec {
	td_bus_target *v;
	size_t n, cap;
} tvec;

/* Takes url and host (freed on failure too). */
static int
tvec_push(tvec *tv, char *url, char *host)
{
	if (url == NULL || host == NULL) {
		goto fail;
	}
	for (size_t i = 0; i < tv->n; i++) {
		if (strcmp(tv->v[i].url, url) == 0) {
			free(url);
			free(host);
			return 0;
		}
	}
	if (tv->n == tv->cap) {
		size_t nc = tv->cap ? tv->cap * 2 : 8;
		td_bus_target *nv = realloc(tv->v, nc * sizeof(*nv));
		if (nv == NULL) {
			goto fail;
		}
		tv->v = nv;
		tv->cap = nc;
	}
	tv->v[tv->n].url = url;
	tv->v[tv->n].host = host;
	tv->n++;
	return 0;
fail:
	free(url);
	free(host);
	return TD_ENOMEM;
}

static int
target_cmp(const void *a, const void *b)
{
	return strcmp(((const td_bus_target *)a)->url, ((const td_bus_target *)b)->url);
}

static bool
is_ip_literal(const char *h)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return h[0] == '\0' || strcmp(h, "*") == 0 || inet_pton(AF_INET, h, buf) == 1 ||
	    inet_pton(AF_INET6, h, buf) == 1;
}

static char *
fmt_url(const char *scheme, const char *addr, const char *port)
{
	char *s = NULL;
	bool v6 = strchr(addr, ':') != NULL;

	if (asprintf(&s, "%s%s%s%s:%s", scheme, v6 ? "[" : "", addr, v6 ? "]" : "", port) < 0) {
		return NULL;
	}
	return s;
}

/* One URL of a spec into tv. */
static void
unresolved_add(unresolved *u, const char *url)
{
	size_t len = strlen(u->names);
	if (len < sizeof(u->names) - 1) {
		snprintf(u->names + len, sizeof(u->names) - len, "%s%s", len > 0 ? "," : "", url);
	}
	u->n++;
}

static int
expand_one(const char *url, td_bus_resolver res, void *arg, bool strict, tvec *tv, bool *dynamic,
    unresolved *u, td_error *err)
{
	const char *scheme = NULL, *hp, *colon;
	char host[256], port[16], **addrs = NULL;
	size_t naddrs = 0, hl, i;
	int rv = 0;

	if (strncmp(url, TLS_SCHEME, strlen(TLS_SCHEME)) == 0) {
		scheme = TLS_SCHEME;
	} else if (strncmp(url, TCP_SCHEME, strlen(TCP_SCHEME)) == 0) {
		scheme = TCP_SCHEME;
	}
	if (scheme == NULL) {
		if (strstr(url, "://") == NULL) {
			return td_error_set(err, TD_EINVAL,
			    "bus address \"%s\": expected scheme://..., e.g. tcp://host:port", url);
		}
		return tvec_push(tv, strdup(url), strdup(url)) == 0
		    ? 0
		    : td_error_set(err, TD_ENOMEM, "out of memory");
	}
	hp = url + strlen(scheme);
	if (hp[0] == '[') { /* [v6]:port */
		const char *close = strchr(hp, ']');
		if (close == NULL || close[1] != ':') {
			return td_error_set(err, TD_EINVAL, "bus address \"%s\": bad [IPv6]:port",
			    url);
		}
		hl = (size_t)(close - hp - 1);
		colon = close + 1;
		if (hl >= sizeof(host)) {
			return td_error_set(err, TD_EINVAL, "bus address \"%s\": host too long",
			    url);
		}
		memcpy(host, hp + 1, hl);
	} else {
		colon = strrchr(hp, ':');
		if (colon == NULL) {
			return td_error_set(err, TD_EINVAL, "bus address \"%s\": no port", url);
		}
		hl = (size_t)(colon - hp);
		if (hl >= sizeof(host)) {
			return td_error_set(err, TD_EINVAL, "bus address \"%s\": host too long",
			    url);
		}
		memcpy(host, hp, hl);
	}
	host[hl] = '\0';
	if (strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof(port) ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
		return td_error_set(err, TD_EINVAL, "bus address \"%s\": bad port", url);
	}
	snprintf(port, sizeof(port), "%s", colon + 1);
	if (is_ip_literal(host)) {
		return tvec_push(tv, strdup(url), strdup(host)) == 0
		    ? 0
		    : td_error_set(err, TD_ENOMEM, "out of memory");
	}
	*dynamic = true;
	if ((rv = res(arg, host, &addrs, &naddrs)) != 0 || naddrs == 0) {
		if (rv == TD_ENOMEM) {
			return td_error_set(err, TD_ENOMEM, "out of memory");
		}
		free(addrs);
		if (strict) {
			return td_error_set(err, TD_ENOTFOUND,
			    "bus address \"%s\": %s does not resolve", url, host);
		}
		unresolved_add(u, url);
		return 0;
	}
	for (i = 0; i < naddrs && rv == 0; i++) {
		rv = tvec_push(tv, fmt_url(scheme, addrs[i], port), strdup(host));
	}
	for (i = 0; i < naddrs; i++) {
		free(addrs[i]);
	}
	free(addrs);
	return rv == 0 ? 0 : td_error_set(err, rv, "out of memory");
}

/* td_bus_targets_expand, with the names that did not resolve (not strict)
 * in *u instead of a log line. */
static int
expand_spec(const char *spec, td_bus_resolver res, void *arg, bool strict, td_bus_target **out,
    size_t *n, bool *dynamic, unresolved *u, td_error *err)
{
	tvec tv = { 0 };
	char *copy = NULL, *tok, *save = NULL;
	int rv = 0;

	*out = NULL;
	*n = 0;
	*dynamic = false;
	if (spec == NULL || (copy = strdup(spec)) == NULL) {
		return td_error_set(err, spec == NULL ? TD_EINVAL : TD_ENOMEM,
		    spec == NULL ? "bus: no address" : "out of memory");
	}
	for (tok = strtok_r(copy, ", \t\n", &save); tok != NULL;
	     tok = strtok_r(NULL, ", \t\n", &save)) {
		if ((rv = expand_one(tok, res, arg, strict, &tv, dynamic, u, err)) != 0) {
			goto out;
		}
	}
	if (tv.n == 0 && !*dynamic) {
		rv = td_error_set(err, TD_EINVAL, "bus: no address in \"%s\"", spec);
		goto out;
	}
	if (tv.n > 1) {
		qsort(tv.v, tv.n, sizeof(*tv.v), target_cmp);
	}
	*out = tv.v;
	*n = tv.n;
	tv = (tvec){ 0 };
out:
	td_bus_targets_free(tv.v, tv.n);
	free(copy);
	return rv;
}

int
td_bus_targets_expand(const char *spec, td_bus_resolver res, void *arg, bool strict,
    td_bus_target **out, size_t *n, bool *dynamic, td_error *err)
{
	unresolved u = { .n = 0 };
	int rv = expand_spec(spec, res, arg, strict, out, n, dynamic, &u, err);
	if (rv == 0 && u.n > 0) {
		TD_WARN("bus address does not resolve (yet); will try again",
		    TD_KV_STR("url", u.names));
	}
	return rv;
}

/* ---- dialers and listeners ------------------------------------------------------ */

static bool
is_tls(const char *url)
{
	return strncmp(url, TLS_SCHEME, strlen(TLS_SCHEME)) == 0;
}

/* Caller holds net.mu (TLS state). */
static int
dialer_open(td_bus_netset *s, target_state *t, td_error *err)
{
	nng_tls_config *tc = NULL;
	int rv;

	if ((rv = nng_dialer_create(&t->dialer, s->sock, t->t.url)) != 0) {
		return td_error_set(err,
		    rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP ? TD_EINVAL : TD_EDEPEND,
		    "bus socket %s: cannot dial %s: %s", s->name, t->t.url, nng_strerror(rv));
	}
	if (is_tls(t->t.url)) {
		/* mbedTLS 2 matches names only, not IP addresses: an address
		 * dialed by IP is checked against the CA alone, unless
		 * bus.tls_server_name names what its certificate must say */
		const char *sn = net.server_name != NULL ? net.server_name
		    : is_ip_literal(t->t.host)           ? NULL
							 : t->t.host;
		if ((rv = tls_config_make(&tc, false, sn, err)) != 0) {
			nng_dialer_close(t->dialer);
			return rv;
		}
		rv = nng_dialer_set_ptr(t->dialer, NNG_OPT_TLS_CONFIG, tc);
		nng_tls_config_free(tc); /* the dialer holds its own reference */
		if (rv != 0) {
			nng_dialer_close(t->dialer);
			return td_error_set(err, TD_EDEPEND, "bus socket %s: TLS for %s: %s",
			    s->name, t->t.url, nng_strerror(rv));
		}
	}
	if ((rv = nng_dialer_start(t->dialer, NNG_FLAG_NONBLOCK)) != 0) {
		nng_dialer_close(t->dialer);
		return td_error_set(err, TD_EDEPEND, "bus socket %s: cannot dial %s: %s", s->name,
		    t->t.url, nng_strerror(rv));
	}
	t->open = true;
	return 0;
}

static void
dialer_close(target_state *t)
{
	if (t->open) {
		nng_dialer_close(t->dialer);
		t->open = false;
	}
}

/* Caller holds net.mu. */
static int
listener_open(td_bus_netset *s, td_error *err)
{
	nng_tls_config *tc = NULL;
	int rv;

	if ((rv = nng_listener_create(&s->listener, s->sock, s->spec)) != 0) {
		return td_error_set(err,
		    rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP ? TD_EINVAL : TD_EDEPEND,
		    "bus socket %s: cannot listen on %s: %s", s->name, s->spec, nng_strerror(rv));
	}
	if (s->uses_tls) {
		if ((rv = tls_config_make(&tc, true, NULL, err)) != 0) {
			nng_listener_close(s->listener);
			return rv;
		}
		rv = nng_listener_set_ptr(s->listener, NNG_OPT_TLS_CONFIG, tc);
		nng_tls_config_free(tc);
		if (rv != 0) {
			nng_listener_close(s->listener);
			return td_error_set(err, TD_EDEPEND, "bus socket %s: TLS for %s: %s",
			    s->name, s->spec, nng_strerror(rv));
		}
	}
	if ((rv = nng_listener_start(s->listener, 0)) != 0) {
		nng_listener_close(s->listener);
		return td_error_set(err, rv == NNG_EADDRINUSE ? TD_EBUSY : TD_EDEPEND,
		    "bus socket %s: cannot listen on %s: %s", s->name, s->spec, nng_strerror(rv));
	}
	s->listener_open = true;
	s->refused_seen = 0;
	return 0;
}

static void *net_thread(void *arg);

/* Caller holds net.mu. */
static int
net_register(td_bus_netset *s)
{
	if (net.nsets == net.cap) {
		size_t nc = net.cap ? net.cap * 2 : 8;
		td_bus_netset **nv = realloc(net.sets, nc * sizeof(*nv));
		if (nv == NULL) {
			return TD_ENOMEM;
		}
		net.sets = nv;
		net.cap = nc;
	}
	s->id = ++net.next_id;
	net.sets[net.nsets++] = s;
	if (!net.thread_on && net.interval_ms > 0) {
		pthread_once(&cv_once, cv_init);
		net.stopping = false;
		if (pthread_create(&net.thread, NULL, net_thread, NULL) != 0) {
			net.nsets--;
			return TD_EDEPEND;
		}
		net.thread_on = true;
	}
	return 0;
}

static td_bus_netset *
netset_new(nng_socket sock, const char *name, const char *spec, bool listen)
{
	td_bus_netset *s = calloc(1, sizeof(*s));
	char labels[256];

	if (s == NULL) {
		return NULL;
	}
	s->sock = sock;
	s->listen = listen;
	s->name = strdup(name);
	s->spec = strdup(spec);
	if (s->name == NULL || s->spec == NULL) {
		free(s->name);
		free(s->spec);
		free(s);
		return NULL;
	}
	snprintf(labels, sizeof(labels), "socket=\"%s\"", name);
	s->targets_gauge = td_gauge_get("tfdrift_bus_dial_targets",
	    "Addresses a bus socket dials (a list and/or every address of a name), per socket.",
	    labels);
	s->unresolved_gauge = td_gauge_get("tfdrift_bus_unresolved_names",
	    "Names in a bus socket's dial spec that did not resolve at the last try, per socket.",
	    labels);
	s->tls_rejected = td_counter_get("tfdrift_bus_tls_rejected_total",
	    "Connections a TLS bus listener refused (no or a wrong client certificate, or not TLS), "
	    "per socket.",
	    labels);
	return s;
}

int
td_bus_netset_dial(td_bus_netset **out, nng_socket sock, const char *name, const char *spec,
    td_error *err)
{
	td_bus_netset *s = NULL;
	td_bus_target *t = NULL;
	size_t n = 0, i;
	bool dynamic = false;
	td_bus_resolver res;
	void *res_arg;
	int rv;

	*out = NULL;
	pthread_mutex_lock(&net.mu);
	res = net.resolver != NULL ? net.resolver : td_bus_resolve_system;
	res_arg = net.resolver_arg;
	pthread_mutex_unlock(&net.mu);
	unresolved u = { .n = 0 };
	if ((rv = expand_spec(spec, res, res_arg, false, &t, &n, &dynamic, &u, err)) != 0) {
		return rv;
	}
	if (u.n > 0) {
		TD_WARN("bus address does not resolve (yet); will try again",
		    TD_KV_STR("socket", name), TD_KV_STR("url", u.names));
	}
	if ((s = netset_new(sock, name, spec, false)) == NULL ||
	    (n > 0 && (s->tg = calloc(n, sizeof(*s->tg))) == NULL)) {
		rv = td_error_set(err, TD_ENOMEM, "out of memory");
		goto out;
	}
	s->dynamic = dynamic;
	s->unres = u;
	td_gauge_set(s->unresolved_gauge, (double)u.n);
	pthread_mutex_lock(&net.mu);
	s->tls_gen = net.tls_gen;
	for (i = 0; i < n; i++) {
		s->tg[i].t = t[i];
		t[i] = (td_bus_target){ 0 };
		s->ntg++;
		s->uses_tls = s->uses_tls || is_tls(s->tg[i].t.url);
		if ((rv = dialer_open(s, &s->tg[i], err)) != 0) {
			pthread_mutex_unlock(&net.mu);
			goto out;
		}
		TD_DEBUG("bus peer dialed", TD_KV_STR("socket", name),
		    TD_KV_STR("url", s->tg[i].t.url));
	}
	s->uses_tls = s->uses_tls || strstr(spec, TLS_SCHEME) != NULL;
	if ((s->dynamic || s->uses_tls) && (rv = net_register(s)) != 0) {
		pthread_mutex_unlock(&net.mu);
		td_error_set(err, rv, "bus socket %s: cannot start the resolver", name);
		goto out;
	}
	pthread_mutex_unlock(&net.mu);
	td_gauge_set(s->targets_gauge, (double)s->ntg);
	*out = s;
	s = NULL;
out:
	td_bus_targets_free(t, n);
	if (s != NULL) {
		for (i = 0; i < s->ntg; i++) {
			dialer_close(&s->tg[i]);
		}
		for (i = 0; i < s->ntg; i++) {
			free(s->tg[i].t.url);
			free(s->tg[i].t.host);
		}
		free(s->tg);
		free(s->name);
		free(s->spec);
		free(s);
	}
	return rv;
}

int
td_bus_netset_listen(td_bus_netset **out, nng_socket sock, const char *name, const char *url,
    td_error *err)
{
	td_bus_netset *s;
	int rv;

	*out = NULL;
	if ((s = netset_new(sock, name, url, true)) == NULL) {
		return td_error_set(err, TD_ENOMEM, "out of memory");
	}
	s->uses_tls = is_tls(url);
	pthread_mutex_lock(&net.mu);
	s->tls_gen = net.tls_gen;
	rv = listener_open(s, err);
	if (rv == 0 && s->uses_tls && (rv = net_register(s)) != 0) {
		nng_listener_close(s->listener);
		td_error_set(err, rv, "bus socket %s: cannot start the TLS watcher", name);
	}
	pthread_mutex_unlock(&net.mu);
	if (rv != 0) {
		free(s->name);
		free(s->spec);
		free(s);
		return rv;
	}
	*out = s;
	return 0;
}

size_t
td_bus_netset_targets(const td_bus_netset *s)
{
	return s->listen ? 1 : s->ntg;
}

void
td_bus_netset_stop(td_bus_netset *s)
{
	size_t i;

	if (s == NULL) {
		return;
	}
	pthread_mutex_lock(&net.mu); /* waits for a refresh in progress */
	for (i = 0; i < net.nsets; i++) {
		if (net.sets[i] == s) {
			net.sets[i] = net.sets[--net.nsets];
			break;
		}
	}
	pthread_mutex_unlock(&net.mu);
	for (i = 0; i < s->ntg; i++) {
		dialer_close(&s->tg[i]);
		free(s->tg[i].t.url);
		free(s->tg[i].t.host);
	}
	if (s->listener_open) {
		nng_listener_close(s->listener);
	}
	free(s->tg);
	free(s->name);
	free(s->spec);
	free(s);
}

/* ---- the background refresh ------------------------------------------------------ */

/* One dial set's spec resolved by the refresh thread outside net.mu. */
typedef struct resolved {
	const td_bus_netset *s; /* identity only (with id): may be gone meanwhile */
	uint64_t id;
	char *spec;
	td_bus_target *t;
	size_t n;
	bool dynamic;
	int rv;
	unresolved u;
	td_error err;
} resolved;

/* Logs a change in the names that do not resolve (not every interval while
 * one stays unresolved) and keeps the gauge. */
static void
note_unresolved(td_bus_netset *s, const unresolved *u)
{
	if (u->n != s->unres.n || strcmp(u->names, s->unres.names) != 0) {
		if (u->n > 0) {
			TD_WARN("bus address does not resolve (yet); will try again",
			    TD_KV_STR("socket", s->name), TD_KV_STR("url", u->names));
		} else {
			TD_INFO("bus address resolves again", TD_KV_STR("socket", s->name),
			    TD_KV_STR("url", s->unres.names));
		}
		s->unres = *u;
	}
	td_gauge_set(s->unresolved_gauge, (double)u->n);
}

/* New targets of a dial set: dial what appeared, close what went away.  r:
 * the set's spec as just resolved (its targets are taken), NULL when it was
 * not resolved this round.  Caller holds net.mu. */
static void
refresh_dial(td_bus_netset *s, bool tls_reload, resolved *r)
{
	td_bus_target *t = NULL;
	target_state *nt = NULL;
	td_error err = { 0 };
	size_t n = 0, i, j, k = 0;

	if (r != NULL) {
		if (r->rv != 0) {
			TD_WARN("bus peers not re-resolved; keeping the current ones",
			    TD_KV_STR("socket", s->name), TD_KV_STR("error", r->err.msg));
			return;
		}
		note_unresolved(s, &r->u);
		if (r->n == 0 && s->ntg > 0) {
			/* nothing resolves right now: a DNS hiccup is not a reason to
			 * drop every peer */
			return;
		}
		t = r->t;
		n = r->n;
		r->t = NULL;
		r->n = 0;
	} else {
		/* a fixed list (or not resolved this round): only a TLS reload
		 * changes anything */
		if (!tls_reload) {
			return;
		}
		if ((t = calloc(s->ntg ? s->ntg : 1, sizeof(*t))) == NULL) {
			return;
		}
		for (i = 0; i < s->ntg; i++, n++) {
			t[i].url = strdup(s->tg[i].t.url);
			t[i].host = strdup(s->tg[i].t.host);
		}
	}
	if ((nt = calloc(n ? n : 1, sizeof(*nt))) == NULL) {
		td_bus_targets_free(t, n);
		return;
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < s->ntg; j++) {
			if (s->tg[j].open && s->tg[j].t.url != NULL &&
			    strcmp(s->tg[j].t.url, t[i].url) == 0) {
				break;
			}
		}
		if (j < s->ntg && !(tls_reload && is_tls(t[i].url))) {
			nt[k++] = s->tg[j]; /* kept as it is */
			s->tg[j] = (target_state){ 0 };
			free(t[i].url);
			free(t[i].host);
		} else {
			if (j < s->ntg) { /* TLS reload: re-create with the new files */
				dialer_close(&s->tg[j]);
			}
			nt[k].t = t[i];
			if (dialer_open(s, &nt[k], &err) != 0) {
				TD_WARN("bus peer not dialed", TD_KV_STR("socket", s->name),
				    TD_KV_STR("error", err.msg));
				free(nt[k].t.url);
				free(nt[k].t.host);
				nt[k] = (target_state){ 0 };
			} else {
				if (j >= s->ntg) {
					TD_INFO("bus peer added", TD_KV_STR("socket", s->name),
					    TD_KV_STR("url", nt[k].t.url));
				}
				k++;
			}
		}
		t[i] = (td_bus_target){ 0 };
	}
	for (j = 0; j < s->ntg; j++) {
		if (s->tg[j].t.url != NULL) {
			if (s->tg[j].open) {
				TD_INFO("bus peer dropped", TD_KV_STR("socket", s->name),
				    TD_KV_STR("url", s->tg[j].t.url));
			}
			dialer_close(&s->tg[j]);
			free(s->tg[j].t.url);
			free(s->tg[j].t.host);
		}
	}
	free(s->tg);
	free(t);
	s->tg = nt;
	s->ntg = k;
	td_gauge_set(s->targets_gauge, (double)s->ntg);
}

/* Counts handshakes the listener refused since the last look (NNG's per-
 * listener "auth" and "proto" error statistics). */
static void
count_refused(td_bus_netset *s)
{
	nng_stat *all = NULL, *ls, *st;
	uint64_t total = 0;
	static const char *names[] = { "auth", "proto" };

	if (!s->listener_open || nng_stats_get(&all) != 0) {
		return;
	}
	if ((ls = nng_stat_find_listener(all, s->listener)) != NULL) {
		for (size_t i = 0; i < 2; i++) {
			if ((st = nng_stat_find(ls, names[i])) != NULL) {
				total += nng_stat_value(st);
			}
		}
	}
	nng_stats_free(all);
	if (total > s->refused_seen) {
		td_counter_add(s->tls_rejected, total - s->refused_seen);
		TD_WARN(
		    "bus TLS listener refused connections (no or a wrong client certificate, or "
		    "not TLS)",
		    TD_KV_STR("socket", s->name), TD_KV_STR("url", s->spec),
		    TD_KV_UINT("refused", total - s->refused_seen));
		s->refused_seen = total;
	}
}

/* Caller holds net.mu. */
static void
refresh_listen(td_bus_netset *s, bool tls_reload)
{
	td_error err = { 0 };

	count_refused(s);
	if (!tls_reload || !s->uses_tls) {
		return;
	}
	if (s->listener_open) {
		nng_listener_close(s->listener);
		s->listener_open = false;
	}
	if (listener_open(s, &err) != 0) {
		TD_ERROR("bus listener not restarted with the new certificates",
		    TD_KV_STR("socket", s->name), TD_KV_STR("error", err.msg));
	} else {
		TD_INFO("bus listener restarted with the new certificates",
		    TD_KV_STR("socket", s->name));
	}
}

/* The dynamic dial sets' specs, copied for resolving outside net.mu.
 * Caller holds net.mu.  *n is 0 when out of memory (nothing resolved this
 * round). */
static resolved *
resolve_snapshot(size_t *n)
{
	resolved *rs = calloc(net.nsets ? net.nsets : 1, sizeof(*rs));
	*n = 0;
	if (rs == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < net.nsets; i++) {
		const td_bus_netset *s = net.sets[i];
		if (s->listen || !s->dynamic) {
			continue;
		}
		if ((rs[*n].spec = strdup(s->spec)) == NULL) {
			continue;
		}
		rs[*n].s = s;
		rs[*n].id = s->id;
		(*n)++;
	}
	return rs;
}

static void
resolved_free(resolved *rs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rs[i].spec);
		td_bus_targets_free(rs[i].t, rs[i].n);
	}
	free(rs);
}

/* Reloads changed TLS files.  True when they were reloaded.  Files that were
 * refused are tried again (and logged again) only once they change: a key
 * replaced before its certificate (or the other way round) is refused as
 * not a pair, and the pair is loaded when the second file lands.  Caller
 * holds net.mu. */
static bool
tls_check_reload(void)
{
	td_error err = { 0 };
	file_sig sig[3];
	bool mismatch = false;

	if (!tls_configured() || !tls_files_differ(net.sig) ||
	    (net.rejected && !tls_files_differ(net.rejected_sig))) {
		return false;
	}
	if (tls_load(sig, &mismatch, &err) != 0) {
		if (mismatch) {
			TD_WARN(
			    "bus TLS key and certificate do not match (yet); keeping the old ones "
			    "until they do",
			    TD_KV_STR("error", err.msg));
		} else {
			TD_ERROR("bus TLS files changed but do not load; keeping the old ones",
			    TD_KV_STR("error", err.msg));
		}
		memcpy(net.rejected_sig, sig, sizeof(net.rejected_sig));
		net.rejected = true;
		return false;
	}
	net.rejected = false;
	TD_INFO("bus TLS certificates reloaded");
	return true;
}

/* Every interval: names are resolved without net.mu (a slow DNS answer
 * must not hold up a set's start or stop), then, under it, each set still
 * registered gets its answer applied and the TLS files are checked. */
static void *
net_thread(void *arg)
{
	struct timespec until;

	(void)arg;
	pthread_mutex_lock(&net.mu);
	while (!net.stopping) {
		td_clock_mono_timespec(td_clock_mono_ms() + net.interval_ms, &until);
		while (!net.stopping && pthread_cond_timedwait(&net.cv, &net.mu, &until) == 0) {
		}
		if (net.stopping) {
			break;
		}
		size_t nrs = 0;
		resolved *rs = resolve_snapshot(&nrs);
		td_bus_resolver res = net.resolver != NULL ? net.resolver : td_bus_resolve_system;
		void *res_arg = net.resolver_arg;
		pthread_mutex_unlock(&net.mu);
		for (size_t i = 0; i < nrs; i++) {
			rs[i].rv = expand_spec(rs[i].spec, res, res_arg, false, &rs[i].t, &rs[i].n,
			    &rs[i].dynamic, &rs[i].u, &rs[i].err);
		}
		pthread_mutex_lock(&net.mu);
		bool reload = !net.stopping && tls_check_reload();
		for (size_t i = 0; i < net.nsets && !net.stopping; i++) {
			td_bus_netset *s = net.sets[i];
			bool r = reload && s->tls_gen != net.tls_gen;
			resolved *mine = NULL;
			for (size_t j = 0; j < nrs && mine == NULL; j++) {
				mine = rs[j].s == s && rs[j].id == s->id ? &rs[j] : NULL;
			}
			if (s->listen) {
				refresh_listen(s, r);
			} else {
				refresh_dial(s, r, mine);
			}
			if (r) {
				s->tls_gen = net.tls_gen;
			}
		}
		resolved_free(rs, nrs);
	}
	pthread_mutex_unlock(&net.mu);
	return NULL;
}

void
td_bus_net_shutdown(void)
{
	pthread_mutex_lock(&net.mu);
	if (!net.thread_on) {
		pthread_mutex_unlock(&net.mu);
		return;
	}
	net.stopping = true;
	pthread_cond_broadcast(&net.cv);
	pthread_mutex_unlock(&net.mu);
	pthread_join(net.thread, NULL);
	pthread_mutex_lock(&net.mu);
	net.thread_on = false;
	pthread_mutex_unlock(&net.mu);
}
