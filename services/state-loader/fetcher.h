/* fetcher.h — one remote state source's checks, run by the fetch pool.
 *
 * A remote check (credentials, listing, conditional GET, parse) runs on a
 * worker of the fetch pool (fetch_pool.h), so a slow or hanging server holds
 * up neither the local files nor the sources of other hosts, and thousands of
 * sources share a fixed number of threads.  The loader asks for a check
 * (fetcher_kick; refused while the previous one is still running) and takes
 * finished ones (fetcher_take) on its own thread.  HCP Terraform's current
 * state version is looked up first (429 answered with Retry-After or a
 * backoff); S3 requests are signed with aws_credentials, and a source with
 * workspace=* lists its prefix for workspaces, whose checks its listing
 * answers while it shows the ETag they loaded (fetcher_follow).
 *
 * Threads: kick, take and busy from one thread (the loader's); a check on a
 * pool worker touches nothing but the fetcher. */
#ifndef TFDRIFT_STATE_LOADER_FETCHER_H
#define TFDRIFT_STATE_LOADER_FETCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fetch_pool.h"
#include "source.h"
#include "tfdrift/tfstate.h"

/* What one check found. */
enum {
	RES_SAME,   /* unchanged (304, or the same HCP state version) */
	RES_STATE,  /* a new parse (204/404: the empty state) */
	RES_FAILED, /* error says why */
};

typedef struct fetch_result {
	int kind;
	tfs_state *st;  /* RES_STATE; owned */
	char etag[256]; /* RES_STATE: its ETag (HCP: the state version id) */
	char *error;    /* RES_FAILED: malloc'd, names the source and the cause */
	char **found;   /* workspaces S3 discovery listed; malloc'd */
	size_t nfound;
} fetch_result;

typedef struct fetcher fetcher;

/* A fetcher for spec (copied shallowly: spec's strings, name and path must
 * outlive it) whose checks run on pool's workers, queued under spec's host
 * (pool NULL: checks run inline, in fetcher_kick).  pool must outlive it.
 * *out owned by the caller (fetcher_free); TD_ENOMEM. */
int fetcher_start(fetcher **out, fetch_pool *pool, const src_spec *spec, const char *name,
    const char *path, size_t max_size, long timeout_ms);
/* Stops f: a queued check is dropped, one running abandons its transfer. */
void fetcher_cancel(fetcher *f);
/* Waits for a check still running (after fetcher_cancel, quickly) and frees
 * f; NULL is ignored. */
void fetcher_free(fetcher *f);

/* Asks for a check against etag (the ETag, or HCP state version, loaded);
 * had_error: the source is failing (fetch the same HCP version again).
 * False when the previous check is still running (this one is skipped). */
bool fetcher_kick(fetcher *f, const char *etag, bool had_error);
/* Moves a finished check into *out (free with fetch_result_free); false
 * when none is finished. */
bool fetcher_take(fetcher *f, fetch_result *out);
/* True while a check asked for has not been taken. */
bool fetcher_busy(fetcher *f);

/* Makes f, the fetcher of workspace `workspace` discovered by parent's
 * source (workspace=*), read parent's listings (s3_listing.h): a check finds
 * the workspace unchanged without a GET while the latest listing, at most
 * max_age_ms old, shows the ETag f last loaded (counted in
 * tfdrift_state_listing_unchanged_total).  Call before f's first check.
 * Nothing happens when parent lists nothing.  TD_ENOMEM. */
int fetcher_follow(fetcher *f, fetcher *parent, const char *workspace, int64_t max_age_ms);
/* True when a listing newer than the one looked at last shows f's workspace
 * with an ETag other than etag (the one loaded), or not at all: check it now
 * rather than at its next poll.  For the loader's thread. */
bool fetcher_due(fetcher *f, const char *etag);

void fetch_result_free(fetch_result *r);

#endif
