#!/usr/bin/env bash
# Each of the six binaries: --help and --version, the admin endpoints
# (/healthz, /readyz, /metrics) with PostgreSQL and Redis up: every one
# becomes ready (200, every check ok) — nothing it depends on is missing — and
# a graceful stop: SIGTERM -> exits by itself with status 0.  How long the stop
# took is printed, not asserted (a 30 s deadline only catches a hang).
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"

VERSION_TEXT="$(tr -d '[:space:]' <"$TD_ROOT/VERSION")"

# ---- command line, no services needed ----
for s in "${TD_SERVICES[@]}"; do
	bin="$TD_BIN/tfdrift-$s"
	sec="${TD_SECTION[$s]}"
	if [ ! -x "$bin" ]; then
		not_ok "$s: binary exists" "$bin is missing"
		continue
	fi
	out="$(timeout 10 "$bin" --help 2>&1)"
	rc=$?
	if [ $rc -ne 0 ]; then
		not_ok "$s --help exits 0" "exit status $rc"
		printf '%s\n' "$out" | head -n 20 | sed 's/^/#   /'
	elif ! grep -qF "$sec" <<<"$out"; then
		not_ok "$s --help mentions config section '$sec'" "not in the help text"
		printf '%s\n' "$out" | head -n 20 | sed 's/^/#   /'
	else
		ok "$s --help exits 0 and mentions config section '$sec'"
	fi

	out="$(timeout 10 "$bin" --version 2>&1)"
	rc=$?
	if [ $rc -ne 0 ]; then
		not_ok "$s --version exits 0" "exit status $rc: $(head -n 3 <<<"$out")"
	elif ! grep -qF "$VERSION_TEXT" <<<"$out"; then
		not_ok "$s --version prints $VERSION_TEXT" "printed: $(head -n 3 <<<"$out")"
	else
		ok "$s --version prints $VERSION_TEXT"
	fi
done

# ---- running ----
start_postgres
start_redis
write_config
start_all

for s in "${TD_SERVICES[@]}"; do
	if ! wait_admin "$s" 30; then
		not_ok "$s /healthz answers 200" "no answer" "$s"
		continue
	fi
	ok "$s /healthz answers 200"
done

# readiness may take a moment (persistence migrates, subscribers dial): with
# everything running each one must get there, every check ok
for s in "${TD_SERVICES[@]}"; do
	alive "$s" || continue
	url="$(admin_url "$s")/readyz"
	wait_http "$url" 30 200 >/dev/null
	body="$(curl -s --max-time 3 -w '\n%{http_code}' "$url")"
	code="$(tail -n 1 <<<"$body")"
	body="$(sed '$d' <<<"$body")"
	if [ "$code" != 200 ]; then
		not_ok "$s /readyz answers 200 once everything runs" "HTTP $code: $(head -c 400 <<<"$body")" "$s"
	elif ! jq -e 'type == "object" and (.checks | type == "object") and ([.checks[] | .ok] | all)' \
		>/dev/null 2>&1 <<<"$body"; then
		not_ok "$s /readyz answers JSON with every check ok" "body: $(head -c 400 <<<"$body")" "$s"
	else
		ok "$s /readyz answers 200 with JSON, every check ok"
	fi

	m="$(curl -s --max-time 3 "$(admin_url "$s")/metrics")"
	if grep -q '^# TYPE ' <<<"$m"; then
		ok "$s /metrics is Prometheus text ($(grep -c '^# TYPE ' <<<"$m") metric families)"
	else
		not_ok "$s /metrics is Prometheus text" "no '# TYPE' line in: $(head -c 300 <<<"$m")" "$s"
	fi
done

# the six are six processes
pids=()
for s in "${TD_SERVICES[@]}"; do
	alive "$s" && pids+=("${TD_PID[$s]}")
done
check_eq "six separate live processes" 6 "$(printf '%s\n' "${pids[@]}" | sort -u | wc -l)"

# ---- graceful stop, one at a time: the bound is per process ----
for s in notifier api-gateway correlator ingest persistence state-loader; do
	if ! alive "$s"; then
		not_ok "$s exits 0 by itself on SIGTERM" "was not running" "$s"
		continue
	fi
	if ! stop_service "$s" 30; then
		not_ok "$s exits 0 by itself on SIGTERM" "still running after 30 s (killed)" "$s"
	elif [ "${TD_STATUS[$s]}" != 0 ]; then
		not_ok "$s exits 0 by itself on SIGTERM" "exit status ${TD_STATUS[$s]} after ${TD_STOP_MS} ms" "$s"
	else
		ok "$s exits 0 by itself on SIGTERM"
		diag "$s stopped in ${TD_STOP_MS} ms"
	fi
done

finish
