/* check.c — summary of one state file, no Redis. */
#include "check.h"

#include <stdlib.h>
#include <string.h>

#include "tfdrift/identifiers.h"
#include "tfdrift/redis_keys.h"

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
chk_summarise(const tfs_state *st, chk_summary *sum, cJSON **types)
{
	return chk_summarise_in(st, NULL, sum, types);
}

int
chk_summarise_in(const tfs_state *st, const td_scope *sc, chk_summary *sum, cJSON **types)
{
	const char *account, *region;
	const tfs_instance *in;
	char **all = NULL, **na;
	size_t i, k, n, nall = 0, cap = 0;
	cJSON *t = NULL, *c;
	int rv = 0;

	*sum = (chk_summary){ 0 };
	if (types != NULL && (t = cJSON_CreateObject()) == NULL) {
		return TD_ENOMEM;
	}
	sum->redactions = tfs_redaction_count(st);
	for (i = 0; (in = tfs_instance_at(st, i)) != NULL; i++) {
		if (in->deposed != NULL) {
			sum->deposed++;
			continue;
		}
		sum->edges += in->n_dependencies;
		if (!in->managed) {
			sum->data_sources++;
			continue;
		}
		sum->managed++;
		sum->tainted += in->tainted;
		if (t != NULL) {
			if ((c = cJSON_GetObjectItemCaseSensitive(t, in->type)) != NULL) {
				cJSON_SetNumberValue(c, c->valuedouble + 1);
			} else if (cJSON_AddNumberToObject(t, in->type, 1) == NULL) {
				rv = TD_ENOMEM;
				goto out;
			}
		}
		n = in->n_identifiers;
		td_scope_of(sc, i, &account, &region);
		for (k = 0; k < n; k++) {
			if (nall == cap) {
				cap = cap ? 2 * cap : 256;
				if ((na = realloc(all, cap * sizeof(*all))) == NULL) {
					rv = TD_ENOMEM;
					goto out;
				}
				all = na;
			}
			if ((all[nall] = td_rkey_idx_field(account, region, in->identifiers[k])) ==
			    NULL) {
				rv = TD_ENOMEM;
				goto out;
			}
			nall++;
		}
	}
	/* the store keeps the first claim of a field (an identifier in an account
	 * and region) */
	if (nall > 0) {
		qsort(all, nall, sizeof(*all), cmp_str);
	}
	for (i = 0; i < nall; i++) {
		if (i > 0 && strcmp(all[i - 1], all[i]) == 0) {
			sum->conflicts++;
		} else {
			sum->identifiers++;
		}
	}
out:
	for (i = 0; i < nall; i++) {
		free(all[i]);
	}
	free(all);
	if (types != NULL) {
		if (rv == 0) {
			*types = t;
		} else {
			cJSON_Delete(t);
		}
	}
	return rv;
}

static int
emit(FILE *out, cJSON *o, bool ok)
{
	char *text = NULL;

	if (ok && (text = cJSON_Print(o)) != NULL) {
		fprintf(out, "%s\n", text);
	}
	cJSON_free(text);
	cJSON_Delete(o);
	return ok && text != NULL ? 0 : TD_ENOMEM;
}

static int
print_json_error(FILE *out, const char *path, const char *error)
{
	cJSON *o = cJSON_CreateObject();
	bool ok = o != NULL;

	ok = ok && cJSON_AddStringToObject(o, "path", path) != NULL;
	ok = ok && cJSON_AddStringToObject(o, "error", error) != NULL;
	return emit(out, o, ok);
}

static int
print_json(FILE *out, const char *path, const tfs_state *st, const td_scope *sc,
    const chk_summary *s, cJSON *types)
{
	cJSON *o = cJSON_CreateObject();
	const char *const *v;
	size_t n;
	bool ok = o != NULL;

	ok = ok && cJSON_AddStringToObject(o, "path", path) != NULL;
	ok = ok && cJSON_AddNumberToObject(o, "serial", (double)tfs_serial(st)) != NULL;
	ok = ok && cJSON_AddStringToObject(o, "lineage", tfs_lineage(st)) != NULL;
	ok = ok &&
	    cJSON_AddStringToObject(o, "terraform_version", tfs_terraform_version(st)) != NULL;
	ok = ok && cJSON_AddNumberToObject(o, "managed", (double)s->managed) != NULL;
	ok = ok && cJSON_AddNumberToObject(o, "tainted", (double)s->tainted) != NULL;
	ok = ok && cJSON_AddNumberToObject(o, "deposed", (double)s->deposed) != NULL;
	ok = ok && cJSON_AddNumberToObject(o, "data_sources", (double)s->data_sources) != NULL;
	ok = ok && cJSON_AddNumberToObject(o, "identifiers", (double)s->identifiers) != NULL;
	ok = ok && cJSON_AddNumberToObject(o, "identifier_conflicts", (double)s->conflicts) != NULL;
	ok = ok && cJSON_AddNumberToObject(o, "redactions", (double)s->redactions) != NULL;
	ok = ok && cJSON_AddNumberToObject(o, "edges", (double)s->edges) != NULL;
	ok = ok && cJSON_AddItemReferenceToObject(o, "types", types);
	v = td_scope_accounts(sc, &n);
	ok = ok && cJSON_AddItemToObject(o, "accounts", cJSON_CreateStringArray(v, (int)n));
	v = td_scope_regions(sc, &n);
	ok = ok && cJSON_AddItemToObject(o, "regions", cJSON_CreateStringArray(v, (int)n));
	ok = ok && cJSON_AddBoolToObject(o, "account_known", td_scope_account_known(sc)) != NULL;
	ok = ok &&
	    cJSON_AddNumberToObject(o, "unscoped_resources", (double)td_scope_unscoped(sc)) != NULL;
	return emit(out, o, ok);
}

/* "a, b, c" or "-". */
static void
print_list(FILE *out, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%s%s", i > 0 ? ", " : "", v[i]);
	}
	fprintf(out, "%s\n", n == 0 ? "-" : "");
}

static void
print_scope(FILE *out, const td_scope *sc, size_t managed)
{
	const char *const *v;
	size_t n;

	v = td_scope_accounts(sc, &n);
	fprintf(out, "accounts:            ");
	print_list(out, v, n);
	v = td_scope_regions(sc, &n);
	fprintf(out, "regions:             ");
	print_list(out, v, n);
	if (!td_scope_account_known(sc)) {
		fprintf(out,
		    "account unknown:     %zu of %zu resources (no ARN, no account_id, no "
		    "#account= option): they match events of every account\n",
		    td_scope_unscoped(sc), managed);
	}
}

static void
print_text(FILE *out, const char *path, const tfs_state *st, const td_scope *sc,
    const chk_summary *s, const cJSON *types)
{
	const cJSON *t;

	fprintf(out, "%s: state format 4, serial %llu, lineage %s, terraform %s\n", path,
	    (unsigned long long)tfs_serial(st), tfs_lineage(st)[0] ? tfs_lineage(st) : "-",
	    tfs_terraform_version(st)[0] ? tfs_terraform_version(st) : "-");
	fprintf(out, "managed instances:   %zu (%zu tainted)\n", s->managed, s->tainted);
	fprintf(out, "data sources:        %zu\n", s->data_sources);
	fprintf(out, "deposed objects:     %zu\n", s->deposed);
	fprintf(out, "identifiers indexed: %zu (%zu claimed by more than one instance)\n",
	    s->identifiers, s->conflicts);
	print_scope(out, sc, s->managed);
	fprintf(out, "redacted values:     %zu\n", s->redactions);
	fprintf(out, "dependency edges:    %zu\n", s->edges);
	fprintf(out, "resources by type:\n");
	cJSON_ArrayForEach(t, types)
	{
		fprintf(out, "  %-48s %4.0f\n", t->string, t->valuedouble);
	}
}

int
chk_main(int argc, char **argv, size_t max_size, FILE *out, FILE *errout)
{
	const char *path = NULL, *account = NULL, *region = NULL;
	bool json = false;
	tfs_state *st = NULL;
	td_scope *sc = NULL;
	chk_summary sum;
	cJSON *types = NULL;
	td_error err = { 0 };
	int i, status = 1;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--account") == 0 && i + 1 < argc) {
			account = argv[++i];
			if (!td_scope_valid_account(account)) {
				fprintf(errout,
				    "tfdrift-state-loader check: --account \"%s\": expected a "
				    "12-digit AWS account id\n",
				    account);
				return 2;
			}
		} else if (strcmp(argv[i], "--region") == 0 && i + 1 < argc) {
			region = argv[++i];
			if (!td_scope_valid_region(region)) {
				fprintf(errout,
				    "tfdrift-state-loader check: --region \"%s\": expected an AWS "
				    "region such as eu-west-1\n",
				    region);
				return 2;
			}
		} else if (path == NULL && argv[i][0] != '-') {
			path = argv[i];
		} else {
			path = NULL;
			break;
		}
	}
	if (path == NULL) {
		fprintf(errout,
		    "usage: tfdrift-state-loader check PATH [--json] [--account "
		    "ACCOUNT_ID] [--region REGION]\n");
		return 2;
	}
	if (idx_init(&err) != 0) {
		fprintf(errout, "tfdrift-state-loader: %s\n", err.msg);
		return 1;
	}
	if (tfs_parse_file(&st, path, max_size, &err) != 0) {
		if (json) {
			print_json_error(out, path, err.msg);
		} else {
			fprintf(errout, "%s\n", err.msg);
		}
		goto out;
	}
	if (td_scope_build(&sc, st, account, region) != 0 ||
	    chk_summarise_in(st, sc, &sum, &types) != 0) {
		fprintf(errout, "%s: out of memory\n", path);
		goto out;
	}
	if (json) {
		if (print_json(out, path, st, sc, &sum, types) != 0) {
			fprintf(errout, "%s: out of memory\n", path);
			goto out;
		}
	} else {
		print_text(out, path, st, sc, &sum, types);
	}
	status = 0;
out:
	cJSON_Delete(types);
	td_scope_free(sc);
	tfs_free(st);
	return status;
}
