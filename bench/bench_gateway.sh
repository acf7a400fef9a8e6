#!/usr/bin/env bash
# bench/bench_gateway.sh — the api-gateway's figures (run by bench/run.sh;
# prints, asserts nothing).
#
#   1. GET /api/v1/drifts?limit=50 with 1,000,000 alerts stored (seeded with
#      generate_series), wrk: requests/s and latency percentiles;
#   2. the same for a filtered query (severity + workspace) and one page deep
#      in the keyset (cursor);
#   3. fan-out: BENCH_GATEWAY_CLIENTS (1,000) WebSocket clients connected,
#      alerts sent through persistence at a steady rate; from each alert's
#      commit to its arrival at every client: p50/p99/max.
#
# BENCH_GATEWAY_ALERTS (1000000) and BENCH_GATEWAY_SECONDS (10) size it.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
NROWS=${BENCH_GATEWAY_ALERTS:-1000000}
SECS=${BENCH_GATEWAY_SECONDS:-10}
NCLIENTS=${BENCH_GATEWAY_CLIENTS:-1000}
# shellcheck source=../tests/lib/services.sh
source tests/lib/services.sh
# shellcheck source=../tests/lib/gateway.sh
source tests/lib/gateway.sh
# shellcheck source=../tests/lib/persistence.sh
source tests/lib/persistence.sh
need wrk node

start_postgres
gw_tokens
cfg_set api_gateway threads "$(nproc)"
cfg_set api_gateway db_connections 8
cfg_set api_gateway feed_queue 100000
write_config
start_service persistence
wait_ready persistence 30 || bail "persistence is not ready"

t0=$(date +%s%N)
sql "INSERT INTO alerts (alert_key, event_id, event_time, detected_at, workspace,
  resource_address, resource_type, kind, severity, principal_name, region, account_id,
  event_name, service, summary)
SELECT 'bench-' || i, 'ev-' || i, now() - (i || ' seconds')::interval,
  now() - (i || ' seconds')::interval, 'ws-' || (i % 20), 'aws_instance.web' || (i % 5000),
  (ARRAY['aws_instance', 'aws_s3_bucket', 'aws_iam_role', 'aws_security_group'])[i % 4 + 1],
  (ARRAY['drift', 'unmanaged', 'deleted', 'modified'])[(i / 3) % 4 + 1],
  (ARRAY['info', 'low', 'medium', 'high', 'critical'])[(i / 20) % 5 + 1],
  'user' || (i % 50), 'eu-west-1', '111122223333', 'ModifyInstanceAttribute',
  (ARRAY['ec2', 's3', 'iam'])[i % 3 + 1], 'bench alert ' || i
FROM generate_series(1, $NROWS) AS i" >/dev/null || bail "seeding failed"
sql "VACUUM ANALYZE alerts" >/dev/null
echo "gateway: seeded $(sql 'SELECT count(*) FROM alerts') alerts in $((($(date +%s%N) - t0) / 1000000)) ms"

# The list's plan: a backward walk of the primary key stopping after limit+1
# rows (no sort, no scan of the table), whatever the table's size.
sql "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id, alert_key, severity, summary FROM alerts
  ORDER BY id DESC LIMIT 51" | sed 's/^/gateway: plan: /'
sql "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id FROM alerts
  WHERE severity = ANY('{high,critical}') AND workspace = 'ws-7' ORDER BY id DESC LIMIT 51" |
	sed 's/^/gateway: filtered plan: /'

start_service api-gateway
wait_ready api-gateway 30 || bail "api-gateway is not ready"
B="http://127.0.0.1:${TD_PORT[api_gateway.port]}"

# CPU seconds (user + system) a process has used so far, from /proc/PID/stat.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
GW_PID="${TD_PID[api-gateway]}"
HZ=$(getconf CLK_TCK)

run_wrk() { # LABEL PATH
	local out rps p50 p99 n c0 c1 cpu
	c0=$(cpu_ticks "$GW_PID")
	out="$(wrk -t2 -c32 -d"${SECS}s" --latency -H "Authorization: Bearer $TOK_VIEWER" "$B$2" 2>&1)"
	c1=$(cpu_ticks "$GW_PID")
	rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
	p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
	p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
	n="$(awk '/requests in/ {print $1}' <<<"$out")"
	# CPU per request is steadier than requests/s on a shared machine.
	cpu="$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="${n:-0}" \
		'BEGIN { if (n > 0) printf "%.1f", t / hz / n * 1e6; else print "?" }')"
	echo "gateway: $1: ${rps:-?} requests/s, p50 ${p50:-?}, p99 ${p99:-?}, gateway CPU ${cpu} us/request (wrk 2 threads, 32 connections, ${SECS}s, $(grep -o 'Non-2xx[^$]*' <<<"$out" || echo 'all 2xx'))"
}
run_wrk "GET /api/v1/drifts?limit=50" "/api/v1/drifts?limit=50"
run_wrk "GET /api/v1/drifts?limit=50&severity=high,critical&workspace=ws-7" \
	"/api/v1/drifts?limit=50&severity=high,critical&workspace=ws-7"
cur="$(curl -s -H "Authorization: Bearer $TOK_VIEWER" "$B/api/v1/drifts?limit=500" | jq -r .next_cursor)"
run_wrk "GET /api/v1/drifts?limit=50&cursor=(page 2)" "/api/v1/drifts?limit=50&cursor=$cur"
run_wrk "GET /api/v1/drifts/{id}" "/api/v1/drifts/$((NROWS / 2))"

# ---- fan-out (BENCH_GATEWAY_CLIENTS=0 skips it) -------------------------------------
NALERTS=200
[ "$NCLIENTS" -gt 0 ] || { finish >/dev/null; exit 0; }
(cd tests/peers && exec node gateway_fanout.js "$B" "$TOK_VIEWER" "$NCLIENTS" "$NALERTS" 120000) \
	>"$TD_TMP/fanout.out" 2>"$TD_TMP/fanout.err" &
FPID=$!
for _ in $(seq 1 600); do
	grep -q '^ready' "$TD_TMP/fanout.out" 2>/dev/null && break
	kill -0 "$FPID" 2>/dev/null || break
	sleep 0.1
done
if grep -q '^ready' "$TD_TMP/fanout.out"; then
	alert_gen send --count "$NALERTS" --batch 1 --in-flight 1 --seed 900 --rate 20 >/dev/null 2>&1
	wait "$FPID"
	line="$(grep '^clients=' "$TD_TMP/fanout.out")"
	echo "gateway: fan-out of $NALERTS alerts (one per commit, 20/s) to $NCLIENTS WebSocket clients," \
		"commit -> client: p50 $(gen_field "$line" p50_ms) ms, p99 $(gen_field "$line" p99_ms) ms," \
		"max $(gen_field "$line" max_ms) ms; first->last client p99 $(gen_field "$line" spread_p99_ms) ms" \
		"($(gen_field "$line" complete_clients) clients got all)"
else
	echo "gateway: fan-out: the $NCLIENTS clients did not all connect: $(tail -n 3 "$TD_TMP/fanout.err")"
	kill "$FPID" 2>/dev/null
fi
hwm=$(awk '/VmHWM/ {print $2}' "/proc/${TD_PID[api-gateway]}/status" 2>/dev/null)
echo "gateway: peak RSS ${hwm:-?} kB on $(nproc) cores"
finish >/dev/null
