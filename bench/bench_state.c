/* bench_state.c — state files for the state-loader benchmark, and the
 * in-process parse figures (bench/bench_state.sh runs the daemon itself).
 *
 *   bench_state gen-big FILE [INSTANCES]   one state: 20,000 instances of about
 *                                          5 KB across 200 types and 40 modules
 *   bench_state gen-many DIR [N] [M]       N states (200) of M instances (500)
 *   bench_state parse FILE                 tfs_parse_file: ms, instances, peak RSS
 *   bench_state cjson FILE                 cJSON_Parse of the whole text: ms
 *
 * Files are written the way Terraform writes them (2-space indentation). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "tfdrift/identifiers.h"
#include "tfdrift/tfstate.h"

#define NTYPES 200
#define NMODULES 40

/* A little deterministic generator (xorshift). */
static uint64_t rng = 88172645463325252ull;

static uint64_t
next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* 200 type names: the identifier table's types first, then made-up ones. */
static char types[NTYPES][80];

static void
make_types(void)
{
	const char *p = idx_table_text, *tab, *nl;
	size_t n = 0;

	while (*p != '\0' && n < NTYPES) {
		nl = strchr(p, '\n');
		if (nl == NULL) {
			nl = p + strlen(p);
		}
		tab = memchr(p, '\t', (size_t)(nl - p));
		if (*p != '#' && tab != NULL && (size_t)(tab - p) < sizeof(types[0])) {
			memcpy(types[n], p, (size_t)(tab - p));
			types[n][tab - p] = '\0';
			n++;
		}
		p = *nl != '\0' ? nl + 1 : nl;
	}
	for (; n < NTYPES; n++) {
		snprintf(types[n], sizeof(types[n]), "aws_bench_type_%zu", n);
	}
}

static void
hex(char *out, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[i] = digits[next_rand() & 15];
	}
	out[n] = '\0';
}

/* One instance's attributes, about 5 KB at 10-space indentation. */
static void
write_attributes(FILE *f, const char *type, uint64_t serial)
{
	char id[20], blob[80];
	int k;

	hex(id, 17);
	fprintf(f, "          \"attributes\": {\n");
	fprintf(f, "            \"id\": \"r-%s\",\n", id);
	fprintf(f, "            \"arn\": \"arn:aws:svc:eu-west-1:123456789012:%s/r-%s\",\n", type,
	    id);
	fprintf(f, "            \"name\": \"bench-%s-%" PRIu64 "\",\n", id, serial);
	fprintf(f, "            \"bucket\": \"bench-bucket-%s\",\n", id);
	fprintf(f, "            \"password\": \"not-a-real-password-%s\",\n", id);
	fprintf(f, "            \"enabled\": true,\n            \"size\": %d,\n",
	    (int)(next_rand() % 1000));
	fprintf(f, "            \"tags\": {\n");
	for (k = 0; k < 12; k++) {
		hex(blob, 24);
		fprintf(f, "              \"Tag%02d\": \"%s\"%s\n", k, blob, k < 11 ? "," : "");
	}
	fprintf(f, "            },\n");
	fprintf(f, "            \"rule\": [\n");
	for (k = 0; k < 14; k++) {
		hex(blob, 40);
		fprintf(f,
		    "              {\n"
		    "                \"cidr_blocks\": [\"10.%d.%d.0/24\"],\n"
		    "                \"description\": \"%s\",\n"
		    "                \"from_port\": %d,\n"
		    "                \"protocol\": \"tcp\",\n"
		    "                \"to_port\": %d\n"
		    "              }%s\n",
		    k, (int)(next_rand() % 255), blob, 1000 + k, 2000 + k, k < 13 ? "," : "");
	}
	fprintf(f, "            ],\n");
	hex(blob, 64);
	fprintf(f,
	    "            \"policy\": \"{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":"
	    "[{\\\"Effect\\\":\\\"Allow\\\",\\\"Action\\\":\\\"s3:GetObject\\\","
	    "\\\"Resource\\\":\\\"%s\\\"}]}\",\n",
	    blob);
	fprintf(f, "            \"timeouts\": null\n");
	fprintf(f, "          },\n");
}

/* Writes a state of n instances to path. */
static int
write_state(const char *path, size_t n, uint64_t serial)
{
	FILE *f = fopen(path, "w");
	size_t done = 0, r = 0;
	int count, k, m;
	char lineage[40];

	if (f == NULL) {
		perror(path);
		return 1;
	}
	hex(lineage, 32);
	fprintf(f,
	    "{\n  \"version\": 4,\n  \"terraform_version\": \"1.9.8\",\n  \"serial\": %" PRIu64
	    ",\n  \"lineage\": \"%s\",\n  \"outputs\": {},\n  \"resources\": [\n",
	    serial, lineage);
	while (done < n) {
		const char *type = types[next_rand() % NTYPES];
		m = (int)(next_rand() % (NMODULES + 1)); /* NMODULES: the root module */
		count = 1 + (int)(next_rand() % 4);
		if ((size_t)count > n - done) {
			count = (int)(n - done);
		}
		fprintf(f, "    {\n");
		if (m < NMODULES) {
			fprintf(f, "      \"module\": \"module.app[\\\"m%d\\\"].module.part%d\",\n",
			    m, m % 5);
		}
		fprintf(f,
		    "      \"mode\": \"managed\",\n      \"type\": \"%s\",\n      \"name\": \"r%zu\",\n"
		    "      \"provider\": \"provider[\\\"registry.terraform.io/hashicorp/aws\\\"]\",\n"
		    "      \"instances\": [\n",
		    type, r++);
		for (k = 0; k < count; k++) {
			fprintf(f, "        {\n");
			if (count > 1) {
				fprintf(f, "          \"index_key\": %d,\n", k);
			}
			fprintf(f, "          \"schema_version\": 0,\n");
			write_attributes(f, type, serial);
			fprintf(f,
			    "          \"sensitive_attributes\": [],\n"
			    "          \"private\": \"eyJzY2hlbWFfdmVyc2lvbiI6IjAifQ==\",\n"
			    "          \"dependencies\": [\n"
			    "            \"module.network.aws_vpc.main\",\n"
			    "            \"aws_iam_role.r%zu\"\n"
			    "          ]\n"
			    "        }%s\n",
			    r > 1 ? r - 2 : 0, k + 1 < count ? "," : "");
			done++;
		}
		fprintf(f, "      ]\n    }%s\n", done < n ? "," : "");
	}
	fprintf(f, "  ],\n  \"check_results\": null\n}\n");
	if (fclose(f) != 0) {
		perror(path);
		return 1;
	}
	return 0;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CPU seconds (user + system) used by this process so far: the machine may
 * be shared, so wall time alone says little. */
static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long
peak_rss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static int
cmd_parse(const char *path)
{
	tfs_state *st = NULL;
	td_error err = { 0 };
	int64_t t0 = now_ns(), t1;
	double c0 = cpu_s(), c1;
	struct stat sb;

	if (tfs_parse_file(&st, path, 0, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	t1 = now_ns();
	c1 = cpu_s();
	stat(path, &sb);
	printf("parse: %s: %.1f MB, %zu instances in %.0f ms (%.0f ms CPU); kept %.1f MB; peak RSS "
	       "%.1f MB (%.2fx the file)\n",
	    path, (double)sb.st_size / 1e6, tfs_instance_count(st), (double)(t1 - t0) / 1e6,
	    (c1 - c0) * 1e3, (double)tfs_memory_size(st) / 1e6, (double)peak_rss_kb() / 1e3,
	    (double)peak_rss_kb() * 1e3 / (double)sb.st_size);
	tfs_free(st);
	return 0;
}

static int
cmd_cjson(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat sb;
	char *buf;
	cJSON *root;
	int64_t t0, t1;
	double c0, c1;

	if (f == NULL || fstat(fileno(f), &sb) != 0) {
		perror(path);
		return 1;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL || fread(buf, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size) {
		fprintf(stderr, "%s: cannot read\n", path);
		fclose(f);
		free(buf);
		return 1;
	}
	fclose(f);
	buf[sb.st_size] = '\0';
	t0 = now_ns();
	c0 = cpu_s();
	root = cJSON_ParseWithLength(buf, (size_t)sb.st_size);
	t1 = now_ns();
	c1 = cpu_s();
	printf("cjson: %s: cJSON_Parse alone %.0f ms (%.0f ms CPU, %s); peak RSS %.1f MB\n", path,
	    (double)(t1 - t0) / 1e6, (c1 - c0) * 1e3, root != NULL ? "ok" : "failed",
	    (double)peak_rss_kb() / 1e3);
	cJSON_Delete(root);
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	char path[4096];
	size_t n, m, i;

	make_types();
	if (argc >= 3 && strcmp(argv[1], "gen-big") == 0) {
		n = argc > 3 ? strtoul(argv[3], NULL, 10) : 20000;
		return write_state(argv[2], n, 1);
	}
	if (argc >= 3 && strcmp(argv[1], "gen-many") == 0) {
		n = argc > 3 ? strtoul(argv[3], NULL, 10) : 200;
		m = argc > 4 ? strtoul(argv[4], NULL, 10) : 500;
		for (i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/s%03zu.tfstate", argv[2], i);
			if (write_state(path, m, i + 1) != 0) {
				return 1;
			}
		}
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "parse") == 0) {
		return cmd_parse(argv[2]);
	}
	if (argc == 3 && strcmp(argv[1], "cjson") == 0) {
		return cmd_cjson(argv[2]);
	}
	fprintf(stderr,
	    "usage: bench_state gen-big FILE [N] | gen-many DIR [N] [M] | parse FILE | "
	    "cjson FILE\n");
	return 2;
}
