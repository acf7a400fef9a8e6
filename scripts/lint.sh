#!/usr/bin/env bash
# lint.sh — `make lint`: clang-format (check only), cppcheck and clang-tidy over
# the project's C sources, and the layout check (scripts/check-layout.sh: no
# service includes or links another service's files), and tsc + eslint over the
# web UI (services/web).  Exits non-zero when any of them complains.
#
#   BUILD=build bash scripts/lint.sh            all five
#   TD_LINT_ONLY=format|cppcheck|tidy|layout|web   just one of them (web: tsc + eslint in services/web)
#   TD_LINT_FILES="a.c b.h" ...                 just these files
#
# Files: every *.c / *.h that git tracks or would track (new files that are not
# ignored count too), so generated code under build/ is never looked at.
# Style choices live in .clang-format and .clang-tidy; see CONTRIBUTING.md.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
BUILD=${BUILD:-build}
ONLY=${TD_LINT_ONLY:-all}
JOBS=$(nproc 2>/dev/null || echo 2)

if [ -n "${TD_LINT_FILES:-}" ]; then
	read -r -a FILES <<<"$TD_LINT_FILES"
else
	mapfile -t FILES < <(git ls-files --cached --others --exclude-standard -- '*.c' '*.h' | sort -u)
fi
# keep only files that exist (a tracked file may have been deleted in the work tree)
existing=()
for f in "${FILES[@]}"; do [ -f "$f" ] && existing+=("$f"); done
FILES=("${existing[@]}")
C_FILES=()
for f in "${FILES[@]}"; do [[ $f == *.c ]] && C_FILES+=("$f"); done

if [ "${#FILES[@]}" -eq 0 ]; then
	echo "lint: no C files"
	exit 0
fi

failed=()
want() { [ "$ONLY" = all ] || [ "$ONLY" = "$1" ]; }

# Generated protobuf headers are needed by cppcheck and clang-tidy to see the
# message types.  Asking make for them by name keeps them (as plain targets they
# are not intermediate files that make deletes afterwards).
gen_headers() {
	local hdrs=()
	local p
	while IFS= read -r p; do
		p=${p#proto/}
		hdrs+=("$BUILD/gen/${p%.proto}.pb-c.h")
	done < <(find proto -name '*.proto' | sort)
	hdrs+=("$BUILD/gen/tfdrift/version.h")
	make --no-print-directory -s BUILD="$BUILD" "${hdrs[@]}" >/dev/null
}

PKGS="libprotobuf-c libcjson libmicrohttpd hiredis libpq yaml-0.1 libcurl zlib grpc cmocka"
# The compiler flags the Makefile uses, minus warnings and optimisation.
compile_flags() {
	local version gitrev
	version=$(cat VERSION 2>/dev/null || echo 0.0.0)
	gitrev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	printf '%s\n' -std=c17 -D_GNU_SOURCE -Ilibcommon/include "-I$BUILD/gen" \
	    "-DTD_VERSION=\"$version\"" "-DTD_GITREV=\"$gitrev\"" -pthread
	# shellcheck disable=SC2086
	pkg-config --cflags $PKGS 2>/dev/null | tr ' ' '\n' | sed '/^$/d'
}

# ---- layout: no service reaches into another ---------------------------------
if want layout; then
	echo "lint: layout (scripts/check-layout.sh)"
	bash scripts/check-layout.sh || failed+=(layout)
fi

# ---- clang-format -----------------------------------------------------------
if want format; then
	echo "lint: clang-format --dry-run on ${#FILES[@]} files"
	if ! clang-format --dry-run --Werror "${FILES[@]}"; then
		failed+=(clang-format)
		echo "lint: clang-format: run 'make format' to fix the files above" >&2
	fi
fi

if want cppcheck || want tidy; then
	if ! gen_headers; then
		echo "lint: could not generate the protobuf headers under $BUILD/gen" >&2
		exit 1
	fi
	mapfile -t CFLAGS_LINT < <(compile_flags)
	mkdir -p "$BUILD/lint"
	printf '%s\n' "${CFLAGS_LINT[@]}" >"$BUILD/lint/compile_flags.txt"
fi

# ---- cppcheck ---------------------------------------------------------------
if want cppcheck && [ "${#C_FILES[@]}" -gt 0 ]; then
	echo "lint: cppcheck on ${#C_FILES[@]} files"
	# Only our own include directories: system headers are not analysed (that
	# is what missingIncludeSystem is suppressed for), which keeps it fast.
	# The generated protobuf headers check libprotobuf-c's version macros, which
	# live in a system header cppcheck does not read: define them here.
	pbver=$(pkg-config --modversion libprotobuf-c 2>/dev/null || echo 1.4.1)
	IFS=. read -r pbma pbmi pbpa <<<"$pbver"
	pbnum=$((pbma * 1000000 + pbmi * 1000 + ${pbpa:-0}))
	# readdirCalled: readdir_r is deprecated in glibc; readdir on a DIR* that one
	# thread owns is the correct call.
	if ! cppcheck --quiet --std=c11 --language=c -D_GNU_SOURCE -D__GNUC__ \
	    "-DPROTOBUF_C_VERSION_NUMBER=$pbnum" -DPROTOBUF_C_MIN_COMPILER_VERSION=1000000 \
	    -DPROTOBUF_C__BEGIN_DECLS= -DPROTOBUF_C__END_DECLS= \
	    --enable=warning,performance,portability --error-exitcode=1 --inline-suppr \
	    --suppress=missingIncludeSystem --suppress=readdirCalled \
	    --library=posix \
	    -j "$JOBS" --cppcheck-build-dir="$BUILD/lint" \
	    -I libcommon/include -I "$BUILD/gen" \
	    --template='{file}:{line}: {severity}: {message} [{id}]' \
	    "${C_FILES[@]}"; then
		failed+=(cppcheck)
	fi
fi

# ---- clang-tidy -------------------------------------------------------------
if want tidy && [ "${#C_FILES[@]}" -gt 0 ]; then
	echo "lint: clang-tidy on ${#C_FILES[@]} files (checks in .clang-tidy)"
	out="$BUILD/lint/clang-tidy.out"
	# One process per file, JOBS at a time; --quiet drops the "N warnings
	# generated" noise, WarningsAsErrors in .clang-tidy makes findings fail.
	if ! printf '%s\0' "${C_FILES[@]}" |
	    xargs -0 -P "$JOBS" -I{} clang-tidy --quiet {} -- "${CFLAGS_LINT[@]}" >"$out" 2>&1; then
		grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter|^Error while processing' "$out" >&2
		failed+=(clang-tidy)
	fi
fi

# ---- web UI: tsc (strict) and eslint ------------------------------------------
if want web && [ -z "${TD_LINT_FILES:-}" ]; then
	if [ -d services/web/node_modules ]; then
		echo "lint: tsc and eslint in services/web"
		if ! (cd services/web && npm run --silent lint) >&2; then
			failed+=(web)
		fi
	else
		echo "lint: services/web/node_modules missing (make web or make deps); tsc and eslint skipped" >&2
	fi
fi

if [ "${#failed[@]}" -gt 0 ]; then
	echo "lint: FAILED: ${failed[*]}" >&2
	exit 1
fi
echo "lint: OK"
