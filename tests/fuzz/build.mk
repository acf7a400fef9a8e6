# tests/fuzz/build.mk — libFuzzer harnesses (tests/fuzz/fuzz_<name>.c, each
# with an optional tests/fuzz/fuzz_<name>.deps listing the service files it
# links, one path per line).  See CONTRIBUTING.md, "Fuzzing".
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_ONLY=regex]
#       builds every harness with clang -fsanitize=fuzzer,address,undefined
#       into build/fuzz/fuzz/<name> and runs each for FUZZ_SECONDS on a copy
#       of its corpus (build/fuzz/corpus/<name>), printing execs/s, edges
#       (cov) and any crash (kept in build/fuzz/crashes/<name>/).
#   make test
#       builds $(BUILD)/tests/test_fuzz_<name> = the harness + driver.c
#       (plain main, any compiler) and replays tests/fuzz/corpus/<name>/.

FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build/fuzz
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRC))
FUZZ_REG     := $(addprefix $(TBIN)/test_fuzz_,$(FUZZ_NAMES))
FUZZ_BINS    := $(addprefix $(BUILD)/fuzz/,$(FUZZ_NAMES))

fuzz_deps = $(patsubst %.c,$(OBJ)/%.o,$(shell cat tests/fuzz/fuzz_$(1).deps 2>/dev/null))

# regression binaries (part of `all`, run by tests/run.sh as unit tests)
$(TBIN)/test_fuzz_%: $(OBJ)/tests/fuzz/fuzz_%.o $(OBJ)/tests/fuzz/driver.o $(LIBCOMMON) \
    $$(call fuzz_deps,$$*)
	@mkdir -p $(TBIN)
	$(CC) $(LDSAN) -o $@ $(OBJ)/tests/fuzz/fuzz_$*.o $(OBJ)/tests/fuzz/driver.o \
	    $(call fuzz_deps,$*) $(LIBCOMMON) $(LIBS)

# libFuzzer binaries: only in the FUZZ=1 tree (everything compiled with
# -fsanitize=fuzzer-no-link,address,undefined; the harness linked with fuzzer)
$(BUILD)/fuzz/%: $(OBJ)/tests/fuzz/fuzz_%.o $(LIBCOMMON) $$(call fuzz_deps,$$*)
	@mkdir -p $(BUILD)/fuzz
	$(CC) $(LDSAN) -o $@ $(OBJ)/tests/fuzz/fuzz_$*.o $(call fuzz_deps,$*) $(LIBCOMMON) $(LIBS)

.PHONY: fuzz fuzz-bins
fuzz-bins: $(FUZZ_BINS)

fuzz:
	@if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { (void)d; (void)n; return 0; }' | \
	    $(FUZZ_CC) -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then \
		echo "make fuzz: $(FUZZ_CC) cannot link -fsanitize=fuzzer (clang with libFuzzer is needed;" \
		     "the corpus regression runs under make test)" >&2; exit 1; fi
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) FUZZ=1 fuzz-bins
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh
