#!/usr/bin/env bash
# bench/bench_gateway.sh — the api-gateway's figures (run by bench/run.sh;
# prints, asserts nothing).
#
#   1. GET /api/v1/drifts?limit=50 with 1,000,000 alerts stored (seeded with
#      generate_series), wrk: requests/s and latency percentiles, and the CPU
#      the gateway and PostgreSQL spend per request;
#   2. the same for a filtered query (severity + workspace), one page deep
#      in the keyset (cursor) and one alert by id;
#   1 and 2 run first with the response cache off (every request reads
#   PostgreSQL), then the list and the filtered query again with it on
#   (api_gateway.cache_ttl 1s): once with no commits (every request after the
#   first is a hit) and once while alerts are committed at 20/s (each commit
#   empties the cache);
#   3. fan-out: BENCH_GATEWAY_CLIENTS (1,000) WebSocket clients connected,
#      spread over BENCH_GATEWAY_CLIENT_PROCS (nproc) node processes so that
#      one node thread parsing 1,000 messages per alert is not what is
#      measured; alerts sent through persistence at 20/s; from each alert's
#      commit to its arrival at every client: p50/p99/max, and first to last
#      client.
# The last lines ("gateway: TARGET ...") hold each target figure.
#
# BENCH_GATEWAY_ALERTS (1000000) and BENCH_GATEWAY_SECONDS (10) size it.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
NROWS=${BENCH_GATEWAY_ALERTS:-1000000}
SECS=${BENCH_GATEWAY_SECONDS:-10}
NCLIENTS=${BENCH_GATEWAY_CLIENTS:-1000}
NPROCS=${BENCH_GATEWAY_CLIENT_PROCS:-$(nproc)}
# shellcheck source=../tests/lib/services.sh
source tests/lib/services.sh
# shellcheck source=../tests/lib/gateway.sh
source tests/lib/gateway.sh
# shellcheck source=../tests/lib/persistence.sh
source tests/lib/persistence.sh
need wrk node

start_postgres
gw_tokens
# Handlers block on PostgreSQL: more threads than cores keep the database
# busy while others format answers (8/8 beat 2/8 by ~20% on 2 cores).
cfg_set api_gateway threads 8
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
# rows (no sort, no scan of the table), whatever the table's size; the
# filtered one walks alerts_workspace_id_idx (003_gateway_indexes) at the
# gateway's session setting random_page_cost 1.1.  (Planning Time here is a
# new session's, with cold catalog caches; the gateway's pooled connections
# run prepared statements.)
sql "SET random_page_cost = 1.1; EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id, alert_key,
  severity, summary FROM alerts ORDER BY id DESC LIMIT 51" | sed 's/^/gateway: plan: /'
sql "SET random_page_cost = 1.1; EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id FROM alerts
  WHERE severity = ANY('{high,critical}') AND workspace = 'ws-7' ORDER BY id DESC LIMIT 51" |
	sed 's/^/gateway: filtered plan: /'

start_service api-gateway
wait_ready api-gateway 30 || bail "api-gateway is not ready"
B="http://127.0.0.1:${TD_PORT[api_gateway.port]}"

# CPU seconds (user + system) a process has used so far, from /proc/PID/stat.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# ... and every PostgreSQL backend of this test's server together.
PG_MAIN="$(head -n 1 "$TD_PG_DATA/postmaster.pid" 2>/dev/null)"
pg_ticks() {
	local t=0 p
	for p in $(pgrep -P "${PG_MAIN:-1}" 2>/dev/null); do t=$((t + $(cpu_ticks "$p"))); done
	echo "$t"
}
GW_PID="${TD_PID[api-gateway]}"
HZ=$(getconf CLK_TCK)
declare -A RPS=() P99=()

run_wrk() { # KEY LABEL PATH
	local out rps p50 p99 n c0 c1 g0 g1 cpu pgcpu
	c0=$(cpu_ticks "$GW_PID")
	g0=$(pg_ticks)
	out="$(wrk -t2 -c32 -d"${SECS}s" --latency -H "Authorization: Bearer $TOK_VIEWER" "$B$3" 2>&1)"
	c1=$(cpu_ticks "$GW_PID")
	g1=$(pg_ticks)
	rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
	p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
	p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
	n="$(awk '/requests in/ {print $1}' <<<"$out")"
	# CPU per request is steadier than requests/s on a shared machine.
	cpu="$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="${n:-0}" \
		'BEGIN { if (n > 0) printf "%.1f", t / hz / n * 1e6; else print "?" }')"
	pgcpu="$(awk -v t=$((g1 - g0)) -v hz="$HZ" -v n="${n:-0}" \
		'BEGIN { if (n > 0) printf "%.1f", t / hz / n * 1e6; else print "?" }')"
	RPS[$1]="${rps:-?}"
	P99[$1]="${p99:-?}"
	echo "gateway: $2: ${rps:-?} requests/s, p50 ${p50:-?}, p99 ${p99:-?}; CPU per request: gateway ${cpu} us, PostgreSQL ${pgcpu} us (wrk 2 threads, 32 connections, ${SECS}s, $(grep -o 'Non-2xx[^$]*' <<<"$out" || echo 'all 2xx'), load $(cut -d' ' -f1 /proc/loadavg))"
}
LIST="/api/v1/drifts?limit=50"
FILT="/api/v1/drifts?limit=50&severity=high,critical&workspace=ws-7"
run_wrk list "cache off: GET $LIST" "$LIST"
run_wrk filt "cache off: GET $FILT" "$FILT"
cur="$(curl -s -H "Authorization: Bearer $TOK_VIEWER" "$B/api/v1/drifts?limit=500" | jq -r .next_cursor)"
run_wrk cursor "cache off: GET /api/v1/drifts?limit=50&cursor=(page 2)" "/api/v1/drifts?limit=50&cursor=$cur"
run_wrk id "cache off: GET /api/v1/drifts/{id}" "/api/v1/drifts/$((NROWS / 2))"

# The same gateway with the response cache on (1 s TTL).
stop_service api-gateway
TD_ENV="TFDRIFT_API_GATEWAY_CACHE_TTL=1s" start_service api-gateway
wait_ready api-gateway 30 || bail "api-gateway (cache on) is not ready"
GW_PID="${TD_PID[api-gateway]}"
run_wrk list_c "cache on, no commits: GET $LIST" "$LIST"
run_wrk filt_c "cache on, no commits: GET $FILT" "$FILT"
# 20 commits/s through persistence meanwhile: each empties the cache.
alert_gen send --count $((SECS * 20 + 40)) --batch 1 --in-flight 1 --seed 901 --first 5000000 \
	--rate 20 >/dev/null 2>&1 &
GEN_PID=$!
sleep 1
run_wrk list_cw "cache on, 20 commits/s: GET $LIST" "$LIST"
wait "$GEN_PID"

# met LABEL RPS P99 — "met"/"not met" for >= 5,000 requests/s and p99 < 50 ms.
met() {
	awk -v r="$2" -v p="$3" 'BEGIN {
		ms = p + 0; if (p ~ /us$/) ms /= 1000; else if (p ~ /[0-9]s$/ && p !~ /ms$/) ms *= 1000
		print ((r + 0 >= 5000 && ms < 50) ? "met" : "NOT met") }'
}
print_targets() {
	local k label
	for k in list filt; do
		label="GET $LIST"
		[ "$k" = filt ] && label="GET $FILT (filtered)"
		echo "gateway: TARGET >= 5,000 requests/s and p99 < 50 ms, $label:" \
			"cache off ${RPS[$k]}/s p99 ${P99[$k]} ($(met x "${RPS[$k]}" "${P99[$k]}"));" \
			"cache on ${RPS[${k}_c]}/s p99 ${P99[${k}_c]} ($(met x "${RPS[${k}_c]}" "${P99[${k}_c]}"))" \
			"$([ "$k" = list ] && echo "; cache on with 20 commits/s ${RPS[list_cw]}/s p99 ${P99[list_cw]} ($(met x "${RPS[list_cw]}" "${P99[list_cw]}"))")"
	done
	if [ -n "${FAN_P99:-}" ]; then
		echo "gateway: TARGET fan-out p99 < 100 ms to $NCLIENTS WebSocket clients: p99 $FAN_P99 ms" \
			"($(awk -v p="$FAN_P99" 'BEGIN {print (p + 0 < 100) ? "met" : "NOT met"}'))"
	fi
}

# ---- fan-out (BENCH_GATEWAY_CLIENTS=0 skips it) -------------------------------------
NALERTS=200
[ "$NCLIENTS" -gt 0 ] || {
	print_targets
	finish >/dev/null
	exit 0
}
# Clients in NPROCS node processes (each writes its samples; combined after).
FPIDS=()
per=$(((NCLIENTS + NPROCS - 1) / NPROCS))
left=$NCLIENTS
for i in $(seq 1 "$NPROCS"); do
	n=$((left < per ? left : per))
	left=$((left - n))
	(cd tests/peers && exec node gateway_fanout.js "$B" "$TOK_VIEWER" "$n" "$NALERTS" 120000 \
		"$TD_TMP/fanout.$i.samples") >"$TD_TMP/fanout.$i.out" 2>"$TD_TMP/fanout.$i.err" &
	FPIDS+=($!)
done
ready=0
for _ in $(seq 1 900); do
	ready=0
	for i in $(seq 1 "$NPROCS"); do
		grep -q '^ready' "$TD_TMP/fanout.$i.out" 2>/dev/null && ready=$((ready + 1))
	done
	[ "$ready" -eq "$NPROCS" ] && break
	sleep 0.1
done
if [ "$ready" -eq "$NPROCS" ]; then
	c0=0
	for p in "${FPIDS[@]}"; do c0=$((c0 + $(cpu_ticks "$p"))); done
	g0=$(cpu_ticks "$GW_PID")
	alert_gen send --count "$NALERTS" --batch 1 --in-flight 1 --seed 900 --rate 20 >/dev/null 2>&1
	c1=0
	for p in "${FPIDS[@]}"; do c1=$((c1 + $(cpu_ticks "$p"))); done
	g1=$(cpu_ticks "$GW_PID")
	wait "${FPIDS[@]}"
	line="$(cd tests/peers && node gateway_fanout.js combine "$NCLIENTS" "$TD_TMP"/fanout.*.samples)"
	msgs=$((NALERTS * NCLIENTS))
	FAN_P99="$(gen_field "$line" p99_ms)"
	echo "gateway: fan-out of $NALERTS alerts (one per commit, 20/s) to $NCLIENTS WebSocket clients" \
		"in $NPROCS node processes, commit -> client: p50 $(gen_field "$line" p50_ms) ms, p99 $FAN_P99 ms," \
		"max $(gen_field "$line" max_ms) ms; first->last client p99 $(gen_field "$line" spread_p99_ms) ms" \
		"($(gen_field "$line" complete_clients) clients got all); CPU per message delivered:" \
		"gateway $(awk -v t=$((g1 - g0)) -v hz="$HZ" -v n=$msgs 'BEGIN {printf "%.1f", t / hz / n * 1e6}') us," \
		"node clients $(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n=$msgs 'BEGIN {printf "%.1f", t / hz / n * 1e6}') us" \
		"(at least: a client that finished early stops counting)"
else
	echo "gateway: fan-out: the $NCLIENTS clients did not all connect: $(tail -q -n 3 "$TD_TMP"/fanout.*.err)"
	kill "${FPIDS[@]}" 2>/dev/null
fi
hwm=$(awk '/VmHWM/ {print $2}' "/proc/${TD_PID[api-gateway]}/status" 2>/dev/null)
echo "gateway: peak RSS ${hwm:-?} kB on $(nproc) cores"

print_targets
finish >/dev/null
