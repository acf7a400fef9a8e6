/* procmem.c — arena cap, periodic trim and memory gauges (see procmem.h). */
#include "tfdrift/procmem.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tfdrift/metrics.h"

void
td_procmem_setup(void)
{
	/* the environment is the operator's word; glibc has read it already */
	if (getenv("MALLOC_ARENA_MAX") != NULL)
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
}
