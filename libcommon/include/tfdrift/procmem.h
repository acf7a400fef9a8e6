/* procmem.h — the process's memory: how the allocator is held, and what it holds.
 *
 * glibc gives each thread that contends for malloc an arena of its own, up
 * to 8 per CPU it sees (a container on a 64-core node sees 64), and returns
 * to the system only the free top of each heap.  A long-running process with
 * worker threads (ingest's handoff and HTTP threads, the notifier's workers,
 * persistence's writers) then grows slowly: pages freed in the middle of an
 * arena stay resident.  So every tfdrift process
 *   - caps the arenas at TD_PROCMEM_ARENAS (td_procmem_setup, before any
 *     thread starts), unless MALLOC_ARENA_MAX or GLIBC_TUNABLES'
 *     glibc.malloc.arena_max is set in the environment;
 *   - hands free pages back every TD_PROCMEM_TRIM_MS (td_procmem_trim, on
 *     lifecycle's signal thread);
 *   - shows on /metrics (td_procmem_sample, before each render):
 *       tfdrift_process_resident_memory_bytes  RSS, from /proc/self/statm
 *       tfdrift_process_heap_in_use_bytes      malloc'd and not freed
 *       tfdrift_process_heap_free_bytes        free but held by the allocator
 *       tfdrift_process_malloc_thread_cache_count  glibc's tcache_count
 *     so a growing RSS can be told apart: fragmentation grows free; a leak
 *     grows in_use, but so, up to a bound, do the chunks each thread keeps
 *     cached for itself (glibc's tcache, up to 7 of each size per thread,
 *     counted in use): a process with many threads (the notifier's 64
 *     workers) shows in_use rising for half an hour though every allocation
 *     is freed (heaptrack confirms it).  glibc reads its tcache setting only
 *     from GLIBC_TUNABLES at start, so the deployments (image, systemd units,
 *     scripts/run.sh, the tests) set glibc.malloc.tcache_count=0: freed
 *     chunks go back to the shared arenas and memory stays flat.
 *
 * Threads: any thread. */
#ifndef TFDRIFT_PROCMEM_H
#define TFDRIFT_PROCMEM_H

#include <stddef.h>

#define TD_PROCMEM_ARENAS 4
#define TD_PROCMEM_TRIM_MS 10000 /* a trim of a few MB free takes ~1 ms */

typedef struct td_procmem_figures {
	size_t rss;    /* resident bytes; 0 if /proc cannot be read */
	size_t in_use; /* bytes allocated and not freed */
	size_t free;   /* bytes free inside the allocator's heaps */
} td_procmem_figures;

/* Caps the allocator's arenas and notes the thread cache setting; call once,
 * before the process starts threads. */
void td_procmem_setup(void);

/* Returns free pages to the system (malloc_trim). */
void td_procmem_trim(void);

/* Reads the three figures. */
void td_procmem_read(td_procmem_figures *out);

/* Reads them into the default registry's gauges (named above). */
void td_procmem_sample(void);

#endif
