/* fuzz.h — what every libFuzzer harness under tests/fuzz/ shares.
 *
 * A harness is one file, tests/fuzz/fuzz_<name>.c, that defines
 * LLVMFuzzerTestOneInput (and may define LLVMFuzzerInitialize).  It is linked
 * two ways (tests/fuzz/build.mk):
 *   - with clang's libFuzzer (`make fuzz`): build/fuzz/fuzz/<name>;
 *   - with tests/fuzz/driver.c, any compiler (`make test`): $(BUILD)/tests/
 *     test_fuzz_<name>, which feeds every file of tests/fuzz/corpus/<name>/.
 * Rules: deterministic (no clock, no randomness, no environment), nothing
 * left allocated when the call returns, no output on success. */
#ifndef TFDRIFT_TESTS_FUZZ_H
#define TFDRIFT_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A NUL-terminated heap copy of data (caller frees); NULL when out of memory. */
static inline char *
fuzz_strdup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s != NULL) {
		if (size > 0) {
			memcpy(s, data, size);
		}
		s[size] = '\0';
	}
	return s;
}

#endif
