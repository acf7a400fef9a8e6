/* redis_batch.c — one multi-field Redis command filled pair by pair. */
#include "tfdrift/redis_batch.h"

#include <stdlib.h>
#include <string.h>

#define MAX_FIXED 2

struct td_rbatch {
	td_rbatch_emit_fn emit;
	void *arg;
	const char *argv[MAX_FIXED + 2 * TD_RBATCH_PAIRS];
	size_t lens[MAX_FIXED + 2 * TD_RBATCH_PAIRS];
	char *owned[TD_RBATCH_PAIRS]; /* at most one owned string per pair */
	size_t nowned;
	size_t pairs; /* pairs pending */
	size_t bytes; /* bytes of the pending fields and values */
	int fixed;    /* leading arguments: the command, and the key if any */
};

int
td_rbatch_new(td_rbatch **out, td_rbatch_emit_fn emit, void *arg)
{
	td_rbatch *b;

	*out = NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		return TD_ENOMEM;
	}
	b->emit = emit;
	b->arg = arg;
	*out = b;
	return 0;
}

void
td_rbatch_drop(td_rbatch *b)
{
	size_t i;

	for (i = 0; i < b->nowned; i++) {
		free(b->owned[i]);
	}
	b->nowned = 0;
	b->pairs = 0;
	b->bytes = 0;
}

void
td_rbatch_free(td_rbatch *b)
{
	if (b == NULL) {
		return;
	}
	td_rbatch_drop(b);
	free(b);
}

void
td_rbatch_start(td_rbatch *b, const char *cmd, const char *key)
{
	td_rbatch_drop(b);
	b->argv[0] = cmd;
	b->lens[0] = strlen(cmd);
	b->fixed = 1;
	if (key != NULL) {
		b->argv[1] = key;
		b->lens[1] = strlen(key);
		b->fixed = 2;
	}
}

int
td_rbatch_send(td_rbatch *b, td_error *err)
{
	int rv = 0;

	if (b->pairs > 0) {
		rv = b->emit(b->arg, b->fixed + 2 * (int)b->pairs, b->argv, b->lens, err);
	}
	td_rbatch_drop(b);
	return rv;
}

int
td_rbatch_add(td_rbatch *b, const char *f, size_t flen, const char *v, size_t vlen, char *own,
    td_error *err)
{
	size_t at = (size_t)b->fixed + 2 * b->pairs;

	if (b->fixed == 0) {
		free(own);
		return td_error_set(err, TD_EINVAL, "redis batch: no command started");
	}
	b->argv[at] = f;
	b->lens[at] = flen;
	b->argv[at + 1] = v;
	b->lens[at + 1] = vlen;
	b->pairs++;
	if (own != NULL) {
		b->owned[b->nowned++] = own;
	}
	b->bytes += flen + vlen;
	if (b->pairs == TD_RBATCH_PAIRS || b->bytes >= TD_RBATCH_BYTES) {
		return td_rbatch_send(b, err);
	}
	return 0;
}

size_t
td_rbatch_pending(const td_rbatch *b)
{
	return b->pairs;
}
