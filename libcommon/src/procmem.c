/* procmem.c — arena cap, periodic trim and memory gauges (see procmem.h). */
#include "tfdrift/procmem.h"

#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tfdrift/metrics.h"

/* glibc's default tcache_count: chunks of one size each thread keeps. */
#define GLIBC_TCACHE_COUNT 7

/* The per-thread cache slots in effect (td_procmem_setup read them). */
static int tcache_count = GLIBC_TCACHE_COUNT;

/* Whether GLIBC_TUNABLES ("name=value:name=value") sets `name`; its value as
 * a number into *val (-1 if it is not one). */
static bool
tunable(const char *name, long *val)
{
	const char *p = getenv("GLIBC_TUNABLES");
	size_t len = strlen(name);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, len) == 0 && p[len] == '=') {
			char *end;

			errno = 0;
			*val = strtol(p + len + 1, &end, 10);
			if (errno != 0 || end == p + len + 1 || (*end != '\0' && *end != ':'))
				*val = -1;
			return true;
		}
		if ((p = strchr(p, ':')) != NULL)
			p++;
	}
	return false;
}

void
td_procmem_setup(void)
{
	long v;

	/* glibc read GLIBC_TUNABLES at start; this only reports what it set */
	tcache_count = GLIBC_TCACHE_COUNT;
	if (tunable("glibc.malloc.tcache_count", &v) && v >= 0)
		tcache_count = v > 65535 ? 65535 : (int)v;
	/* the environment is the operator's word; glibc has read it already */
	if (getenv("MALLOC_ARENA_MAX") != NULL || tunable("glibc.malloc.arena_max", &v))
		return;
	(void)mallopt(M_ARENA_MAX, TD_PROCMEM_ARENAS);
}

void
td_procmem_trim(void)
{
	(void)malloc_trim(0);
}

/* Resident bytes from /proc/self/statm (second field, in pages); 0 if unknown. */
static size_t
resident_bytes(void)
{
	char buf[128], *p, *end;
	long page = sysconf(_SC_PAGESIZE);
	unsigned long long resident;
	size_t n;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "size resident shared ..." */
	if ((p = strchr(buf, ' ')) == NULL)
		return 0;
	errno = 0;
	resident = strtoull(p + 1, &end, 10);
	if (errno != 0 || end == p + 1 || page <= 0)
		return 0;
	return (size_t)resident * (size_t)page;
}

void
td_procmem_read(td_procmem_figures *out)
{
	struct mallinfo2 mi = mallinfo2();

	out->rss = resident_bytes();
	/* uordblks: in-use ordinary chunks; hblkhd: mmap'd large blocks */
	out->in_use = mi.uordblks + mi.hblkhd;
	out->free = mi.fordblks;
}

void
td_procmem_sample(void)
{
	td_procmem_figures f;

	td_procmem_read(&f);
	td_gauge_set(td_gauge_get("tfdrift_process_resident_memory_bytes",
			 "Resident set size of the process, in bytes.", NULL),
	    (double)f.rss);
	td_gauge_set(td_gauge_get("tfdrift_process_heap_in_use_bytes",
			 "Bytes the process has allocated and not freed.", NULL),
	    (double)f.in_use);
	td_gauge_set(td_gauge_get("tfdrift_process_heap_free_bytes",
			 "Bytes free inside the allocator's heaps, not yet returned to the system.",
			 NULL),
	    (double)f.free);
	td_gauge_set(td_gauge_get("tfdrift_process_malloc_thread_cache_count",
			 "Freed chunks of each size every thread keeps for itself (glibc's "
			 "tcache_count, set by GLIBC_TUNABLES=glibc.malloc.tcache_count=N; 0: off, "
			 "memory flat; 7: glibc's default).",
			 NULL),
	    (double)tcache_count);
}
