/* fuzz_s3_listing.c — an S3 ListObjectsV2 answer as a discovering source
 * (workspace=*) reads it: the workspaces and their ETags
 * (src_s3_workspaces), the continuation token (src_s3_next_token), and the
 * listing the discovered workspaces' checks read (s3_listing.c).
 * Checks: every workspace named is a plain name (no '/', none of the
 * characters the parser refuses), each is found again in the published
 * listing with its ETag, and a token is non-empty and fits. */
#include <stdbool.h>
#include <stdio.h>

#include "../../services/state-loader/s3_listing.h"
#include "../../services/state-loader/source.h"
#include "fuzz.h"
#include "tfdrift/error.h"
#include "tfdrift/log.h"

static src_spec spec;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	td_error err = { 0 };

	(void)argc;
	(void)argv;
	td_log_set_level(TD_LOG_OFF);
	if (src_parse("p=s3://b/dir/k.tfstate?region=eu-west-1&workspace=*&endpoint=http://e:1",
		&spec, &err) != 0) {
		abort();
	}
	return 0;
}

typedef struct seen {
	s3_entries *e;
	char names[64][512];
	char etags[64][256];
	size_t n;
} seen;

static void
on_ws(void *arg, const char *ws, const char *etag)
{
	seen *s = arg;

	if (ws[0] == '\0' || strchr(ws, '/') != NULL || strpbrk(ws, "\t\n\r&<>") != NULL ||
	    strlen(ws) >= sizeof(s->names[0]) || strlen(etag) >= sizeof(s->etags[0])) {
		abort(); /* not a workspace name the parser may hand over */
	}
	if (s3_entries_add(s->e, ws, etag) != 0) {
		return;
	}
	if (s->n < 64) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", ws);
		snprintf(s->etags[s->n], sizeof(s->etags[0]), "%s", etag);
		s->n++;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static seen s;
	char *xml = fuzz_strdup(data, size);
	char token[2048];
	s3_listing *l;

	if (xml == NULL || (l = s3_listing_new()) == NULL) {
		free(xml);
		return 0;
	}
	s.n = 0;
	s.e = s3_entries_new();
	if (s.e != NULL) {
		src_s3_workspaces(&spec, xml, on_ws, &s);
		s3_listing_publish(l, s.e, 1000);
		/* each one named is listed with its ETag ("" never counts as the
		 * same); a name listed twice (a store lists a key once, a hostile
		 * answer may not) keeps one of its ETags */
		for (size_t i = 0; i < s.n; i++) {
			int c = s3_listing_check(l, s.names[i], s.etags[i], 1000, 0);
			bool twice = false;
			for (size_t j = 0; j < s.n && !twice; j++) {
				twice = j != i && strcmp(s.names[j], s.names[i]) == 0;
			}
			if (c == S3L_UNKNOWN ||
			    (!twice && c != (s.etags[i][0] != '\0' ? S3L_SAME : S3L_CHANGED))) {
				abort();
			}
		}
	}
	if (src_s3_next_token(xml, token, sizeof(token)) &&
	    (token[0] == '\0' || strlen(token) >= sizeof(token))) {
		abort();
	}
	s3_listing_unref(l);
	free(xml);
	return 0;
}
