/* scope.c — see scope.h. */
#include "tfdrift/scope.h"

#include <stdlib.h>
#include <string.h>

#include "tfdrift/error.h"
#include "tfdrift/identifiers.h"

/* What the instances of one provider configuration say (scope.h, step 2). */
typedef struct prov {
	const char *provider;
	const char *account, *region; /* first named; "" none */
} prov;

/* One value every instance that names one names (step 4). */
typedef struct unique {
	const char *v; /* NULL: none seen */
	bool several;
} unique;

struct td_scope {
	size_t n;                         /* instances */
	const char **account, **region;   /* per instance; borrowed ("" or the state's) */
	char *opt_account, *opt_region;   /* the source's options; owned */
	const char **accounts, **regions; /* distinct, sorted */
	size_t naccounts, nregions;
	size_t unscoped;
};

static void
see(unique *u, const char *v)
{
	if (v[0] == '\0') {
		return;
	}
	if (u->v == NULL) {
		u->v = v;
	} else if (strcmp(u->v, v) != 0) {
		u->several = true;
	}
}

static const char *
first(const char *a, const char *b, const char *c, const unique *d)
{
	if (a[0] != '\0') {
		return a;
	}
	if (b[0] != '\0') {
		return b;
	}
	if (c[0] != '\0') {
		return c;
	}
	return d->v != NULL && !d->several ? d->v : "";
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The distinct non-empty values of v[0..n), sorted, into *out (malloc'd). */
static int
distinct(const char **v, size_t n, const char ***out, size_t *nout)
{
	const char **d = malloc((n ? n : 1) * sizeof(*d));
	size_t k = 0;

	*out = d;
	*nout = 0;
	if (d == NULL) {
		return TD_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i] != NULL && v[i][0] != '\0') {
			d[k++] = v[i];
		}
	}
	if (k > 0) {
		qsort(d, k, sizeof(*d), cmp_str);
	}
	*nout = 0;
	for (size_t i = 0; i < k; i++) {
		if (*nout == 0 || strcmp(d[*nout - 1], d[i]) != 0) {
			d[(*nout)++] = d[i];
		}
	}
	return 0;
}

/* The entry of provider in p[0..*np) (added when new; p has room for one
 * per instance). */
static prov *
prov_of(prov *p, size_t *np, const char *provider)
{
	for (size_t i = 0; i < *np; i++) {
		if (strcmp(p[i].provider, provider) == 0) {
			return &p[i];
		}
	}
	p[*np] = (prov){ .provider = provider, .account = "", .region = "" };
	return &p[(*np)++];
}

int
td_scope_build(td_scope **out, const tfs_state *st, const char *account, const char *region)
{
	size_t n = tfs_instance_count(st), np = 0;
	td_scope *sc = calloc(1, sizeof(*sc));
	prov *p = calloc(n ? n : 1, sizeof(*p));
	prov **of = calloc(n ? n : 1, sizeof(*of));
	unique ua = { 0 }, ur = { 0 };
	const tfs_instance *in;
	int rv = TD_ENOMEM;

	*out = NULL;
	if (sc == NULL || p == NULL || of == NULL ||
	    (sc->account = calloc(n ? n : 1, sizeof(*sc->account))) == NULL ||
	    (sc->region = calloc(n ? n : 1, sizeof(*sc->region))) == NULL ||
	    (sc->opt_account = strdup(account != NULL ? account : "")) == NULL ||
	    (sc->opt_region = strdup(region != NULL ? region : "")) == NULL) {
		goto out;
	}
	sc->n = n;
	/* what the state says, per provider configuration and as a whole */
	for (size_t i = 0; (in = tfs_instance_at(st, i)) != NULL; i++) {
		if (in->deposed != NULL) {
			continue;
		}
		of[i] = prov_of(p, &np, in->provider);
		if (of[i]->account[0] == '\0') {
			of[i]->account = in->account;
		}
		if (of[i]->region[0] == '\0') {
			of[i]->region = in->region;
		}
		see(&ua, in->account);
		see(&ur, in->region);
	}
	for (size_t i = 0; i < n; i++) {
		const prov *pv = of[i]; /* NULL for deposed objects: never indexed */

		sc->account[i] = sc->region[i] = "";
		if ((in = tfs_instance_at(st, i)) == NULL || pv == NULL ||
		    !tfs_instance_indexed(in)) {
			continue;
		}
		sc->account[i] = first(in->account, pv->account, sc->opt_account, &ua);
		if (sc->account[i][0] == '\0') {
			sc->unscoped++;
		} else if (!idx_type_global(in->type)) {
			sc->region[i] = first(in->region, pv->region, sc->opt_region, &ur);
		}
	}
	if (distinct(sc->account, n, &sc->accounts, &sc->naccounts) != 0 ||
	    distinct(sc->region, n, &sc->regions, &sc->nregions) != 0) {
		goto out;
	}
	*out = sc;
	sc = NULL;
	rv = 0;
out:
	td_scope_free(sc);
	free(p);
	free(of);
	return rv;
}

void
td_scope_free(td_scope *sc)
{
	if (sc == NULL) {
		return;
	}
	free(sc->account);
	free(sc->region);
	free(sc->opt_account);
	free(sc->opt_region);
	free(sc->accounts);
	free(sc->regions);
	free(sc);
}

void
td_scope_of(const td_scope *sc, size_t i, const char **account, const char **region)
{
	if (sc == NULL || i >= sc->n) {
		*account = *region = "";
		return;
	}
	*account = sc->account[i];
	*region = sc->region[i];
}

size_t
td_scope_unscoped(const td_scope *sc)
{
	return sc != NULL ? sc->unscoped : 0;
}

bool
td_scope_account_known(const td_scope *sc)
{
	return sc == NULL || sc->unscoped == 0;
}

const char *const *
td_scope_accounts(const td_scope *sc, size_t *n)
{
	*n = sc != NULL ? sc->naccounts : 0;
	return sc != NULL ? sc->accounts : NULL;
}

const char *const *
td_scope_regions(const td_scope *sc, size_t *n)
{
	*n = sc != NULL ? sc->nregions : 0;
	return sc != NULL ? sc->regions : NULL;
}

bool
td_scope_valid_account(const char *s)
{
	size_t n = strspn(s, "0123456789");

	return n == 12 && s[n] == '\0';
}

bool
td_scope_valid_region(const char *s)
{
	size_t n = strlen(s);

	return n >= 4 && n <= 32 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n &&
	    strchr(s, '-') != NULL && s[n - 1] >= '0' && s[n - 1] <= '9';
}
