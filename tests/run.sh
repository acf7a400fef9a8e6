#!/usr/bin/env bash
# tests/run.sh — runs every test suite and prints one summary line.
#
#   BUILD=build bash tests/run.sh        (what `make test` does)
#
# Unit tests: every cmocka binary $BUILD/tests/test_*; its "[  PASSED  ] N
# test(s)." and "[  FAILED  ] N test(s)" lines are counted.  A binary that
# exits non-zero without a FAILED count (a crash, a sanitizer report, a leak)
# counts as one failure.
# Integration tests: every tests/integration/test_*.sh; each prints
# "ok - NAME" / "not ok - NAME" lines, which are counted.  A script that exits
# non-zero without a "not ok", or reports nothing, counts as one failure.
#
# Each test's whole output goes to $BUILD/test-logs/<suite>/<name>.log; the
# tail of a failing one is printed.  The last line is exactly
# "N passed, N failed"; the exit status is 1 if anything failed.
#
# Environment: TD_ONLY=unit|integration runs one kind; TD_FILTER=REGEX runs the
# tests whose name matches; TD_UNIT_TIMEOUT / TD_IT_TIMEOUT (seconds; 300 / 600)
# bound one test; KEEP=1 keeps integration temp dirs.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
ROOT="$(pwd)"
BUILD="${BUILD:-build}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
export BUILD
export CMOCKA_MESSAGE_OUTPUT=stdout
ONLY="${TD_ONLY:-all}"
FILTER="${TD_FILTER:-}"
UNIT_TIMEOUT="${TD_UNIT_TIMEOUT:-300}"
IT_TIMEOUT="${TD_IT_TIMEOUT:-600}"
LOGS="$BUILD/test-logs"

case "$ONLY" in all | unit | integration) ;; *)
	echo "tests/run.sh: TD_ONLY must be unit or integration, not '$ONLY'" >&2
	exit 2
	;;
esac

PASSED=0
FAILED=0
FAILED_TESTS=()

now_ms() { echo $(($(date +%s%N) / 1000000)); }

secs() { awk -v ms="$1" 'BEGIN { printf "%.1fs", ms / 1000 }'; }

# tail_log FILE — what a person needs to see of a failure.
tail_log() {
	echo "    ---- last 40 lines of $1 ----"
	tail -n 40 "$1" | sed 's/^/    | /'
}

selected() {
	[ -z "$FILTER" ] || [[ "$1" =~ $FILTER ]]
}

# ---- unit -----------------------------------------------------------------------

# Sums "[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s)" over every group in
# a cmocka log.  Prints "passed failed has_failed_line".
parse_cmocka() {
	awk '
		/^\[  PASSED  \] [0-9]+ test\(s\)/ { p += $4 }
		/^\[  FAILED  \] [0-9]+ test\(s\)/ { f += $4; seen = 1 }
		END { printf "%d %d %d\n", p, f, seen }
	' "$1"
}

run_unit() {
	local bins=() b name log t0 ms rc p f seen
	if [ -d "$BUILD/tests" ]; then
		for b in "$BUILD"/tests/test_*; do
			[ -f "$b" ] && [ -x "$b" ] || continue
			selected "$(basename "$b")" && bins+=("$b")
		done
	fi
	echo "== unit tests (${#bins[@]} binaries in $BUILD/tests)"
	mkdir -p "$LOGS/unit"
	for b in "${bins[@]}"; do
		name="$(basename "$b")"
		log="$LOGS/unit/$name.log"
		printf '  %-40s ' "$name"
		t0=$(now_ms)
		# the subshell keeps the shell's "Segmentation fault" notice in the log
		(timeout -k 10 "$UNIT_TIMEOUT" "$b" >"$log" 2>&1) 2>>"$log"
		rc=$?
		ms=$(($(now_ms) - t0))
		read -r p f seen <<<"$(parse_cmocka "$log")"
		if [ "$rc" -ne 0 ] && [ "$seen" -eq 0 ]; then
			f=$((f + 1))
			if [ "$rc" -eq 124 ]; then
				echo "# timed out after ${UNIT_TIMEOUT}s" >>"$log"
			else
				echo "# exited with status $rc without a cmocka FAILED line" >>"$log"
			fi
		fi
		PASSED=$((PASSED + p))
		FAILED=$((FAILED + f))
		if [ "$f" -gt 0 ]; then
			printf '%d passed, %d FAILED  (%s, exit %d)\n' "$p" "$f" "$(secs $ms)" "$rc"
			FAILED_TESTS+=("unit/$name")
			tail_log "$log"
		else
			printf '%d passed  (%s)\n' "$p" "$(secs $ms)"
		fi
	done
}

# ---- integration ------------------------------------------------------------------

run_integration() {
	local scripts=() s name log t0 ms rc p f
	for s in tests/integration/test_*.sh; do
		[ -f "$s" ] || continue
		selected "$(basename "$s" .sh)" && scripts+=("$s")
	done
	echo "== integration tests (${#scripts[@]} scripts, binaries from $BUILD/bin)"
	mkdir -p "$LOGS/integration"
	for s in "${scripts[@]}"; do
		name="$(basename "$s" .sh)"
		log="$LOGS/integration/$name.log"
		printf '  %-40s ' "$name"
		t0=$(now_ms)
		# bash runs its TERM trap (which stops the services) only once the
		# current command returns; every command in a script is bounded by
		# 120 s, so the KILL comes after that
		(timeout -k 150 "$IT_TIMEOUT" bash "$s" >"$log" 2>&1 </dev/null) 2>>"$log"
		rc=$?
		ms=$(($(now_ms) - t0))
		p=$(grep -c '^ok - ' "$log")
		f=$(grep -c '^not ok - ' "$log")
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1
			if [ "$rc" -eq 124 ]; then
				echo "# timed out after ${IT_TIMEOUT}s" >>"$log"
			else
				echo "# exited with status $rc without a 'not ok' line" >>"$log"
			fi
		elif [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
			f=1
			echo "# reported no results" >>"$log"
		fi
		PASSED=$((PASSED + p))
		FAILED=$((FAILED + f))
		if [ "$f" -gt 0 ]; then
			printf '%d passed, %d FAILED  (%s, exit %d)\n' "$p" "$f" "$(secs $ms)" "$rc"
			FAILED_TESTS+=("integration/$name")
			grep '^not ok - ' "$log" | sed 's/^/    /'
			tail_log "$log"
		else
			printf '%d passed  (%s)\n' "$p" "$(secs $ms)"
		fi
	done
}

T0=$(now_ms)
if [ "$ONLY" = all ] || [ "$ONLY" = unit ]; then run_unit; fi
if [ "$ONLY" = all ] || [ "$ONLY" = integration ]; then run_integration; fi

echo "== done in $(secs $(($(now_ms) - T0))); logs in $LOGS"
if [ "${#FAILED_TESTS[@]}" -gt 0 ]; then
	echo "== failed: ${FAILED_TESTS[*]}"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
