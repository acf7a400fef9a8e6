/* arena.h — a ProtobufCAllocator whose free does nothing: every block is
 * kept on a list and released at once by fuzz_arena_clear (how ingest's gRPC
 * path allocates a decoded alert).  For harnesses; one arena per call. */
#ifndef TFDRIFT_TESTS_FUZZ_ARENA_H
#define TFDRIFT_TESTS_FUZZ_ARENA_H

#include <stdlib.h>

#include <protobuf-c/protobuf-c.h>

typedef struct fuzz_block {
	struct fuzz_block *next;
	max_align_t data[];
} fuzz_block;

typedef struct fuzz_arena {
	fuzz_block *head;
} fuzz_arena;

static void *
fuzz_arena_alloc(void *data, size_t size)
{
	fuzz_arena *a = data;
	fuzz_block *b = malloc(sizeof(*b) + (size > 0 ? size : 1));
	if (b == NULL) {
		return NULL;
	}
	b->next = a->head;
	a->head = b;
	return b->data;
}

static void
fuzz_arena_free(void *data, void *p)
{
	(void)data;
	(void)p;
}

static inline ProtobufCAllocator
fuzz_arena_allocator(fuzz_arena *a)
{
	ProtobufCAllocator al = { .alloc = fuzz_arena_alloc,
		.free = fuzz_arena_free,
		.allocator_data = a };
	return al;
}

static inline void
fuzz_arena_clear(fuzz_arena *a)
{
	while (a->head != NULL) {
		fuzz_block *n = a->head->next;
		free(a->head);
		a->head = n;
	}
}

#endif
