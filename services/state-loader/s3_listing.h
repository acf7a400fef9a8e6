/* s3_listing.h — what the last complete ListObjectsV2 listing of a
 * discovering S3 source (workspace=*) said: the ETag of each discovered
 * workspace's object, and when it was taken.
 *
 * The source's fetcher publishes every complete listing; the fetchers of the
 * workspaces it discovered read it.  A workspace whose object the listing
 * shows with the ETag of its last 200 needs no GET this round (unchanged, as a
 * 304 would say), so 5,000 workspaces in one bucket cost the listing's pages a
 * poll, not 5,000 requests; one it shows with another ETag (or not at all) is
 * due for a check at once.
 *
 * Threads: any function from any thread; a listing lives while a reference
 * to it does. */
#ifndef TFDRIFT_STATE_LOADER_S3_LISTING_H
#define TFDRIFT_STATE_LOADER_S3_LISTING_H

#include <stdint.h>

typedef struct s3_listing s3_listing;

/* A listing being read, page by page; owned by the reader. */
typedef struct s3_entries s3_entries;

/* An empty listing (none taken yet), one reference.  NULL when out of memory. */
s3_listing *s3_listing_new(void);
/* Another reference to l (returned). */
s3_listing *s3_listing_ref(s3_listing *l);
/* Drops a reference; the last one frees l.  NULL is ignored. */
void s3_listing_unref(s3_listing *l);

/* An empty draft.  NULL when out of memory. */
s3_entries *s3_entries_new(void);
/* Adds workspace ws listed with etag (as the listing writes it, entities
 * decoded: "\"9b2cf535f27731c974343645a3985328\"").  TD_ENOMEM. */
int s3_entries_add(s3_entries *e, const char *ws, const char *etag);
/* NULL is ignored. */
void s3_entries_free(s3_entries *e);

/* Replaces what l says with the complete listing e (taken: freed here),
 * taken at now_ms (monotonic). */
void s3_listing_publish(s3_listing *l, s3_entries *e, int64_t now_ms);

/* How many listings were published so far: changes when a new one is. */
uint64_t s3_listing_round(s3_listing *l);

enum {
	S3L_UNKNOWN, /* no listing, or one older than max_age_ms: ask the store */
	S3L_SAME,    /* ws is listed with etag */
	S3L_CHANGED, /* ws is listed with another ETag, or not listed */
};

/* What l says of workspace ws whose last 200 had etag, at now_ms; a listing
 * counts while it is at most max_age_ms old. */
int s3_listing_check(s3_listing *l, const char *ws, const char *etag, int64_t now_ms,
    int64_t max_age_ms);

#endif
