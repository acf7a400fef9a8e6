/* loader.h — keeps the Redis resource index in step with the state sources.
 *
 * Sources: state_loader.local_files, each `NAME=PATH` or `PATH` (the name is
 * then the file name), and state_loader.sources (source.h: file, http, s3,
 * hcp).  Local files' directories are watched with inotify, so a change is
 * seen within a tick; every state_loader.poll_interval every source is
 * checked anyway (the fallback when inotify is unavailable; remote sources
 * with If-None-Match).  A local file is stat'ed; only a changed (device, inode, size, mtime) is read and parsed
 * again.  The last good parse of every source is kept in memory: a file that
 * turns unreadable or broken keeps its workspace's previous contents, and
 * the problem is logged, counted (tfdrift_state_load_errors_total) and shown
 * as last_error in the workspace status.
 *
 * Whenever something changed (and at start) a new generation holding every
 * workspace is written to Redis and switched to (store.h), then a
 * STATE_NOTICE is published.  When Redis is down the write is retried on
 * every tick (about once a second) and readiness is false; the states stay
 * in memory.  When the `gen` key stops pointing at the generation written
 * last (Redis restarted empty, a FLUSHDB) the index is written again.
 *
 * Status JSON (the `workspaces` hash value):
 *   {"source":"local","path":"/x/prod.tfstate","serial":42,"lineage":"...",
 *    "terraform_version":"1.9.8","resources":17,
 *    "loaded_at":"2026-01-02T03:04:05.678Z" or null (never loaded),
 *    "last_error":null or "prod.tfstate:3:1: invalid JSON"}
 *
 * Threads: ldr_tick runs on one thread (main); the readiness checks may be
 * called from the admin server's thread at any time. */
#ifndef TFDRIFT_STATE_LOADER_LOADER_H
#define TFDRIFT_STATE_LOADER_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include "tfdrift/bus.h"
#include "tfdrift/config.h"
#include "tfdrift/error.h"

typedef struct ldr ldr;

/* Splits a local_files entry into a workspace name and a path (both
 * malloc'd, owned by the caller).  `NAME=PATH` splits at the first '=';
 * a bare PATH is named after its file name.  TD_EINVAL for an empty name or
 * path, or a name holding a tab or newline (they separate index fields). */
int ldr_parse_source(const char *spec, char **name, char **path, td_error *err);

/* Reads the sources and Redis settings from cfg (which must outlive the
 * loader); opens nothing.  *out owned by the caller (ldr_free).  A bad
 * source list is TD_EINVAL naming the entry. */
int ldr_new(ldr **out, const td_config *cfg, td_error *err);
void ldr_free(ldr *l);

/* pub (borrowed; NULL for none) receives a STATE_NOTICE after every switch.
 * Call before the first ldr_tick. */
void ldr_set_publisher(ldr *l, td_bus_pub *pub);

/* One round: check the files that are due, write and switch a generation
 * when needed, verify Redis still holds it.  cancel (may be NULL) is polled
 * during a long write so a stop is not held up.  Returns how long the caller
 * may sleep before the next round, in ms. */
int ldr_tick(ldr *l, bool (*cancel)(void *), void *cancel_arg);

/* Sleeps up to ms between rounds, returning early when a watched state
 * file's directory changes (so a change is written within milliseconds, not
 * at the next round) or when stopping(arg) turns true (checked every 200 ms).
 * False, at once, when there is no file watch: the caller sleeps itself. */
bool ldr_wait(ldr *l, int ms, bool (*stopping)(void *), void *arg);

/* td_ready_fn checks: Redis answered the last command; the first generation
 * has been switched to.  arg is the loader. */
int ldr_ready_redis(void *arg, char *why, size_t whylen);
int ldr_ready_index(void *arg, char *why, size_t whylen);
/* Fails while any source's last attempt failed; why names the first one
 * ("prod/bad: http://...: HTTP 401 (and 2 more failing sources)"). */
int ldr_ready_sources(void *arg, char *why, size_t whylen);

#endif
