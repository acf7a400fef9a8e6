#!/usr/bin/env bash
# bench/run.sh — `make bench`: prints figures, asserts nothing.
#
#   1. bus:        NNG REQ/REP round trips and throughput with protobuf envelopes
#   2. normalise:  CloudTrail file -> CloudEvents (gzip, cJSON, protobuf)
#   3. pipeline:   replay N events through ingest -> correlator(s) -> persistence ->
#                  PostgreSQL with real processes; events/s end to end, and each
#                  process's peak memory (VmHWM)
#
# BENCH_EVENTS (default 20000) sets the pipeline size; BENCH_CORRELATORS (default
# 2) how many correlator replicas run.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build}
N=${BENCH_EVENTS:-20000}
NCORR=${BENCH_CORRELATORS:-2}

echo "== bench: $(nproc) cores, $(uname -r), build $BUILD"
echo "== 1. bus"
"$BUILD/bench/bench_bus" || echo "bench_bus failed"

echo "== 2. normalise"
tmp=$(mktemp -d)
"$BUILD/bin/tfdrift-gen-cloudtrail" --count "$N" --seed 7 --gzip --out "$tmp/events.json.gz"
"$BUILD/bench/bench_normalise" "$tmp/events.json.gz" 3 || echo "bench_normalise failed"
rm -rf "$tmp"

# Each service's own benchmark is a script bench/bench_<name>.sh, run in its own
# process (each starts and stops what it needs).
for b in bench/bench_*.sh; do
	[ -f "$b" ] || continue
	echo "== $(basename "$b" .sh)"
	BUILD="$BUILD" bash "$b" || echo "$(basename "$b") failed"
done

echo "== 3. pipeline ($N events, $NCORR correlator replicas, real PostgreSQL and Redis)"
# The integration harness starts and always stops everything (trap on EXIT).
# shellcheck source=../tests/lib/services.sh
source tests/lib/services.sh
start_postgres
start_redis
write_config
start_up
for i in $(seq 2 "$NCORR"); do
	port=$(free_ports 1)
	TD_INSTANCE=correlator-$i TD_ADMIN_PORT=$port TD_ENV="TFDRIFT_CORRELATOR_ADMIN_PORT=$port" \
		start_service correlator
done
for s in ingest correlator persistence; do wait_ready "$s" 30 || bail "$s is not ready"; done
FILE="$TD_TMP/bench.json.gz"
gen_cloudtrail "$FILE" "$N" 11 --gzip
t0=$(date +%s%N)
if ! "$TD_BIN/tfdrift-ingest" --config "$TD_CONFIG" replay "$FILE" >"$TD_TMP/logs/replay.log" 2>&1; then
	echo "replay failed:"; tail -5 "$TD_TMP/logs/replay.log"
fi
ms=$((($(date +%s%N) - t0) / 1000000))
rows=$(sql 'SELECT count(*) FROM alerts')
echo "pipeline: $rows alerts committed in $ms ms = $((rows * 1000 / (ms > 0 ? ms : 1))) events/s end to end (replay returns after every COMMIT)"
lat=$(sql "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM committed_at - detected_at)) * 1000)::int,
                  round(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM committed_at - detected_at)) * 1000)::int FROM alerts")
echo "pipeline: correlator detection -> PostgreSQL commit: p50 ${lat%%|*} ms, p99 ${lat##*|} ms (under full load)"
for s in "${!TD_PID[@]}"; do
	case "$s" in correlator*) echo "spread: $s handled $(metric "$s" tfdrift_correlator_events_total) events" ;; esac
done | sort
for s in "${!TD_PID[@]}"; do
	hwm=$(awk '/VmHWM/ {print $2}' "/proc/${TD_PID[$s]}/status" 2>/dev/null)
	echo "memory: $s peak RSS ${hwm:-?} kB"
done | sort
finish
