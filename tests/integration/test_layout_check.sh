#!/usr/bin/env bash
# scripts/check-layout.sh (the "layout" step of `make lint`) passes on this
# tree, and fails naming FILE:LINE on each way one service can reach into
# another: an include of services/Y's header, a build.mk that links services/Y's
# object, a tool including a service header, a unit test or bench mixing two
# services (in its includes or its .deps).
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"

check "this tree passes the layout check" bash scripts/check-layout.sh

# a small tree of the same shape, broken one way at a time
T="$TD_TMP/tree"
reset_tree() {
	rm -rf "$T"
	mkdir -p "$T/services/a" "$T/services/b" "$T/libcommon/include/tfdrift" "$T/libcommon/src" \
		"$T/tools" "$T/bench" "$T/tests/unit"
	printf '#include "a.h"\n#include "tfdrift/log.h"\n#include "falco/outputs.pb-c.h"\n' >"$T/services/a/a.c"
	: >"$T/services/a/a.h"
	printf '#include "b.h"\n' >"$T/services/b/b.c"
	: >"$T/services/b/b.h"
	printf 'a_EXTRA_O += $(OBJ)/services/a/x.o\n# services/b is mentioned in a comment only\n' >"$T/services/a/build.mk"
	printf '#include "tfdrift/log.h"\n' >"$T/tools/t.c"
	printf '#include "../../services/a/a.h"\n#include "tfdrift/log.h"\n' >"$T/tests/unit/test_a.c"
	printf 'services/a/a.c\n' >"$T/tests/unit/test_a.deps"
	printf '#include "../services/b/b.h"\n' >"$T/bench/bench_b.c"
}
# broken NAME EXPECTED-TEXT — the check fails and names the place
broken() {
	local out rc
	out=$(bash scripts/check-layout.sh "$T" 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && grep -qF -- "$2" <<<"$out"; then
		ok "$1"
	else
		not_ok "$1" "exit $rc, output: $out"
	fi
}

reset_tree
check "a tree that keeps to itself passes" bash scripts/check-layout.sh "$T"

printf '#include "a.h"\n#include "../b/b.h"\n' >"$T/services/a/a.c"
broken "a service including another's header fails" 'services/a/a.c:2: includes "../b/b.h"'

reset_tree
printf '#include "../../services/b/b.h"\n' >"$T/services/a/a.h"
broken "...also through a longer path, from a header" 'services/a/a.h:1: includes "../../services/b/b.h"'

reset_tree
printf '#include "b.h"\n' >"$T/services/a/a.c"
broken "a service including a file it does not have fails" 'services/a/a.c:1: includes "b.h", which is not a file of services/a'

reset_tree
printf 'a_EXTRA_O += $(OBJ)/services/b/b.o\n' >>"$T/services/a/build.mk"
broken "a build.mk linking another service's object fails" 'services/a/build.mk:3: names services/b'

reset_tree
printf '#include "tfdrift/log.h"\n#include "../services/a/a.h"\n' >"$T/tools/t.c"
broken "a tool including a service header fails" 'tools/t.c:2: a tool includes "../services/a/a.h"'

reset_tree
printf '#include "../../services/a/a.h"\n#include "../../services/b/b.h"\n' >"$T/tests/unit/test_a.c"
broken "a unit test including two services fails" 'tests/unit/test_a.c:2: uses services/b as well as services/a'

reset_tree
printf 'services/a/a.c\nservices/b/b.c\n' >"$T/tests/unit/test_a.deps"
broken "a .deps file linking a second service fails" 'tests/unit/test_a.deps:2: uses services/b as well as services/a'

reset_tree
printf '#include "../services/a/a.h"\n' >"$T/libcommon/src/x.c"
broken "libcommon including a service header fails" 'libcommon/src/x.c:1: libcommon includes a service'

finish
