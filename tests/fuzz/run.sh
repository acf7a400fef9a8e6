#!/usr/bin/env bash
# tests/fuzz/run.sh — what `make fuzz` runs after building the harnesses:
# each libFuzzer binary under $FUZZ_BUILD/fuzz/ for FUZZ_SECONDS, one after
# the other, then one line per harness:
#
#   fuzz cloudtrail_record  execs/s 5123  cov 1834  ft 6120  corpus 412  ok
#
# Inputs: the committed seeds tests/fuzz/corpus/<name>/ (read only) plus a
# working corpus $FUZZ_BUILD/corpus/<name>/ that libFuzzer grows and keeps
# between runs; tests/fuzz/dict/<name>.dict when present.  A crash, leak,
# sanitizer report or hang (FUZZ_TIMEOUT seconds for one input, default 10)
# stops that harness: the input is kept in $FUZZ_BUILD/crashes/<name>/, the
# line says CRASH with the sanitizer's summary, and the exit status is 1.
# Whole logs: $FUZZ_BUILD/logs/<name>.log.
#
# Environment: FUZZ_SECONDS (60), FUZZ_ONLY=REGEX (harness names),
# FUZZ_TIMEOUT (10), FUZZ_BUILD (build/fuzz).
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 2
FB="${FUZZ_BUILD:-build/fuzz}"
SECS="${FUZZ_SECONDS:-60}"
ONLY="${FUZZ_ONLY:-}"
TMO="${FUZZ_TIMEOUT:-10}"

failed=()
n=0
mkdir -p "$FB/logs"
for bin in "$FB"/fuzz/*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	name="$(basename "$bin")"
	if [ -n "$ONLY" ] && ! [[ "$name" =~ $ONLY ]]; then
		continue
	fi
	n=$((n + 1))
	work="$FB/corpus/$name"
	crashes="$FB/crashes/$name"
	log="$FB/logs/$name.log"
	mkdir -p "$work" "$crashes"
	args=(-max_total_time="$SECS" -timeout="$TMO" -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$crashes/")
	[ -f "tests/fuzz/dict/$name.dict" ] && args+=(-dict="tests/fuzz/dict/$name.dict")
	seeds=()
	[ -d "tests/fuzz/corpus/$name" ] && seeds+=("tests/fuzz/corpus/$name")
	ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1" \
		UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
		"$bin" "${args[@]}" "$work" "${seeds[@]}" >"$log" 2>&1
	rc=$?
	# the last status line ("#123 DONE cov: 1834 ft: 6120 corp: 412/...")
	status=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
	corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$status")
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ]; then
		verdict=ok
	else
		summary=$(grep -m1 -E '^SUMMARY: |ERROR: libFuzzer: ' "$log" || echo "exit status $rc")
		artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		verdict="CRASH: $summary${artifact:+ (input: $artifact)}"
		failed+=("$name")
	fi
	printf 'fuzz %-20s execs/s %-7s cov %-6s ft %-6s corpus %-6s %s\n' "$name" "${eps:-?}" \
		"${cov:-?}" "${ft:-?}" "${corp:-?}" "$verdict"
done
if [ "$n" -eq 0 ]; then
	echo "fuzz: no harness built under $FB/fuzz${ONLY:+ matching '$ONLY'}" >&2
	exit 1
fi
if [ "${#failed[@]}" -gt 0 ]; then
	echo "fuzz: ${#failed[@]} of $n harnesses failed: ${failed[*]} (logs in $FB/logs)"
	exit 1
fi
echo "fuzz: $n harnesses, ${SECS}s each, nothing found"
