#!/usr/bin/env bash
# Each of the six binaries: --help and --version, the admin endpoints
# (/healthz, /readyz, /metrics) with PostgreSQL and Redis up, and a graceful
# stop: SIGTERM -> exit status 0 within 5 s (the bound the issue sets).
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

# readiness may take a moment (persistence migrates, subscribers dial)
for s in "${TD_SERVICES[@]}"; do
	alive "$s" || continue
	url="$(admin_url "$s")/readyz"
	wait_http "$url" 15 200 >/dev/null
	body="$(curl -s --max-time 3 -w '\n%{http_code}' "$url")"
	code="$(tail -n 1 <<<"$body")"
	body="$(sed '$d' <<<"$body")"
	if [ "$code" != 200 ] && [ "$code" != 503 ]; then
		not_ok "$s /readyz answers 200 or 503" "HTTP $code" "$s"
	elif ! jq -e 'type == "object"' >/dev/null 2>&1 <<<"$body"; then
		not_ok "$s /readyz answers JSON" "HTTP $code body: $(head -c 300 <<<"$body")" "$s"
	else
		ok "$s /readyz answers $code with JSON"
		[ "$code" = 200 ] || diag "$s not ready: $body"
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
		not_ok "$s exits 0 within 5 s of SIGTERM" "was not running" "$s"
		continue
	fi
	if ! stop_service "$s" 5; then
		not_ok "$s exits 0 within 5 s of SIGTERM" "still running after 5 s (killed)" "$s"
	elif [ "${TD_STATUS[$s]}" != 0 ]; then
		not_ok "$s exits 0 within 5 s of SIGTERM" "exit status ${TD_STATUS[$s]} after ${TD_STOP_MS} ms" "$s"
	else
		ok "$s exits 0 within 5 s of SIGTERM (${TD_STOP_MS} ms)"
	fi
done

finish
