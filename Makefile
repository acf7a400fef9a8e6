# tfdrift-falco — one non-recursive Makefile for every binary, test and tool.
#
#   make            build everything into build/bin
#   make test       unit + integration tests (starts its own PostgreSQL/Redis)
#   make test-asan  the same suites under AddressSanitizer + UBSan (build/asan)
#   make run        the whole stack with demo data (and the web UI at /)
#   make web        the web UI only (services/web -> $(BUILD)/web; needs npm)
#   make bench      benchmarks; print figures
#   make fuzz       every libFuzzer harness for FUZZ_SECONDS (default 60) each
#                   (tests/fuzz/; make test replays their corpora)
#   make lint       clang-format (check), cppcheck, clang-tidy, layout (no
#                   service includes or links another's files)
#   make deps       install missing Debian packages
#   make clean
#
# CC=clang works as well as gcc.  BUILD selects the output tree.

# `make` alone builds everything (the first rule below would otherwise be the goal)
.DEFAULT_GOAL := all

CC      ?= gcc
.DEFAULT_GOAL := all
BUILD   ?= build
SAN     ?= 0
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GITREV  := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

GEN     := $(BUILD)/gen
OBJ     := $(BUILD)/obj
BIN     := $(BUILD)/bin
TBIN    := $(BUILD)/tests

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wno-format-nonliteral -Wvla -Wpointer-arith
CFLAGS  ?= -O2 -g
ifeq ($(SAN),1)
CFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDSAN   := -fsanitize=address,undefined
endif
# the libFuzzer tree (make fuzz; clang): every object instrumented for coverage
ifeq ($(FUZZ),1)
CFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
           -fno-sanitize-recover=undefined
LDSAN   := -fsanitize=fuzzer,address,undefined
endif
CPPFLAGS := -std=c17 -D_GNU_SOURCE -Ilibcommon/include -I$(GEN) \
            $(shell pkg-config --cflags libprotobuf-c libcjson libmicrohttpd hiredis libpq yaml-0.1 libcurl zlib 2>/dev/null)
ALL_CFLAGS = $(CPPFLAGS) $(WARN) $(CFLAGS) -pthread -MMD -MP

# grpc core pulls abseil etc. through its pkg-config file; only ingest needs it.
GRPC_LIBS := $(shell pkg-config --libs grpc 2>/dev/null)
LIBS      := -lnng $(shell pkg-config --libs libprotobuf-c libcjson libmicrohttpd hiredis libpq yaml-0.1 libcurl zlib 2>/dev/null) \
             -lwslay -lssl -lcrypto -pthread -lm
TEST_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

# ---- version header: rewritten only when VERSION or the git revision changes,
# so objects that include it are rebuilt exactly then -------------------------
VERSION_H := $(GEN)/tfdrift/version.h
$(VERSION_H): FORCE
	@mkdir -p $(dir $@)
	@printf '#define TD_VERSION "%s"\n#define TD_GITREV "%s"\n' '$(VERSION)' '$(GITREV)' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
FORCE:

# ---- generated protobuf code ------------------------------------------------
PROTOS    := $(shell find proto -name '*.proto' | sort)
PROTO_C   := $(patsubst proto/%.proto,$(GEN)/%.pb-c.c,$(PROTOS))
PROTO_H   := $(PROTO_C:.c=.h)
PROTO_O   := $(patsubst $(GEN)/%.c,$(OBJ)/gen/%.o,$(PROTO_C))

$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: proto/%.proto
	@mkdir -p $(GEN)
	protoc-c -Iproto --c_out=$(GEN) $<

# generated C is compiled without our strict warnings (it is not ours)
$(OBJ)/gen/%.o: $(GEN)/%.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -w -c -o $@ $<

# ---- libcommon ---------------------------------------------------------------
# libcommon/src/*.c: the plumbing every process shares (log, config, bus, ...);
# libcommon/src/domain/*.c: the domain several programs share (CloudTrail,
# Falco, Terraform state, identifiers, the catalog), with its embedded data
# (libcommon/build.mk).  Headers for both are libcommon/include/tfdrift/*.h.
COMMON_SRC := $(sort $(wildcard libcommon/src/*.c)) $(sort $(wildcard libcommon/src/domain/*.c))
COMMON_O   := $(patsubst %.c,$(OBJ)/%.o,$(COMMON_SRC))
LIBCOMMON  := $(BUILD)/lib/libtdcommon.a
include libcommon/build.mk

$(LIBCOMMON): $(COMMON_O) $(DOMAIN_DATA_O) $(PROTO_O)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(OBJ)/%.o: %.c | $(PROTO_H) $(VERSION_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# ---- services ----------------------------------------------------------------
SERVICES := ingest state-loader correlator persistence api-gateway notifier
BINS     := $(addprefix $(BIN)/tfdrift-,$(SERVICES))

# A service may add rules in services/<name>/build.mk and extra objects (e.g.
# embedded SQL) in <name>_EXTRA_O.
-include $(wildcard services/*/build.mk)

define service_rule
$(1)_SRC := $$(sort $$(wildcard services/$(1)/*.c))
$(1)_O   := $$(patsubst %.c,$$(OBJ)/%.o,$$($(1)_SRC))
$$(BIN)/tfdrift-$(1): $$($(1)_O) $$($(1)_EXTRA_O) $$(LIBCOMMON)
	@mkdir -p $$(BIN)
	$$(CC) $$(LDSAN) -o $$@ $$($(1)_O) $$($(1)_EXTRA_O) $$(LIBCOMMON) $$(LIBS) $(if $(filter ingest,$(1)),$$(GRPC_LIBS))
endef
$(foreach s,$(SERVICES),$(eval $(call service_rule,$(s))))

# ---- tools (docs generators, fixtures) ----------------------------------------
TOOL_SRC := $(sort $(wildcard tools/*.c))
TOOLS    := $(patsubst tools/%.c,$(BIN)/%,$(TOOL_SRC))
$(BIN)/%: $(OBJ)/tools/%.o $(LIBCOMMON)
	@mkdir -p $(BIN)
	$(CC) $(LDSAN) -o $@ $< $(LIBCOMMON) $(LIBS)

# ---- unit tests: tests/unit/test_<name>.c, each its own cmocka binary ---------
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNITS    := $(patsubst tests/unit/%.c,$(TBIN)/%,$(UNIT_SRC))
# a unit test may link the service modules it tests: services/<svc>/<mod>.c
# listed in tests/unit/<test>.deps (one path per line)
$(TBIN)/%: $(OBJ)/tests/unit/%.o $(LIBCOMMON)
	@mkdir -p $(TBIN)
	$(CC) $(LDSAN) -o $@ $< $(patsubst %.c,$(OBJ)/%.o,$(shell cat tests/unit/$*.deps 2>/dev/null)) \
	    $(LIBCOMMON) $(LIBS) $(GRPC_LIBS) $(TEST_LIBS)

.SECONDARY:
.SECONDEXPANSION:
$(UNITS): $$(patsubst %.c,$(OBJ)/%.o,$$(shell cat tests/unit/$$(notdir $$@).deps 2>/dev/null))

# ---- fuzz harnesses: tests/fuzz/fuzz_<name>.c (make fuzz; corpus replay in make test) ----
include tests/fuzz/build.mk

# ---- benchmarks: bench/bench_<name>.c, with optional bench/bench_<name>.deps ----
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
BENCHES   := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
$(BUILD)/bench/%: $(OBJ)/bench/%.o $(LIBCOMMON) $$(patsubst %.c,$(OBJ)/%.o,$$(shell cat bench/$$*.deps 2>/dev/null))
	@mkdir -p $(BUILD)/bench
	$(CC) $(LDSAN) -o $@ $< $(patsubst %.c,$(OBJ)/%.o,$(shell cat bench/$*.deps 2>/dev/null)) \
	    $(LIBCOMMON) $(LIBS)

.PHONY: FORCE web all test test-unit test-integration test-asan bench run deps lint clean format docs
all: $(BINS) $(TOOLS) $(UNITS) $(FUZZ_REG) $(BENCHES) web

deps:
	@bash scripts/deps.sh

test: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) bash tests/run.sh

test-unit: all
	@BUILD=$(BUILD) TD_ONLY=unit bash tests/run.sh

test-integration: all
	@BUILD=$(BUILD) TD_ONLY=integration bash tests/run.sh

test-asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 all
	@BUILD=build/asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 bash tests/run.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) bash bench/run.sh

run: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) bash scripts/run.sh

docs: $(BIN)/tfdrift-config-doc
	$(BIN)/tfdrift-config-doc reference > docs/configuration.md
	$(BIN)/tfdrift-config-doc example > config.example.yaml

lint:
	@bash scripts/lint.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)
