#!/usr/bin/env bash
# bench/bench_state.sh — state-loader: load + index + publish with the real
# daemon against a real Redis, for (a) one ~100 MB state of 20,000 instances
# (200 types, 40 modules) and (b) 200 states of 500 instances; peak RSS of the
# daemon; (c) 1,000 realistic states of 4 to 40 instances (tests/lib/gen_states.py:
# 16 types, attributes from 1 byte to ~150 KB, count/for_each, modules); and the
# in-process parse next to cJSON_Parse of the same file.
# Prints figures, asserts nothing.  BENCH_STATE_INSTANCES overrides 20000.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build}
GEN="$BUILD/bench/bench_state"
[ -x "$GEN" ] || { echo "no $GEN (make BUILD=$BUILD all)"; exit 1; }
# shellcheck source=../tests/lib/services.sh
source tests/lib/services.sh

BIG="$TD_TMP/big.tfstate"
MANY="$TD_TMP/many"
mkdir -p "$MANY"
"$GEN" gen-big "$BIG" "${BENCH_STATE_INSTANCES:-20000}" || bail "gen-big failed"
"$GEN" gen-many "$MANY" 200 500 || bail "gen-many failed"
REAL="$TD_TMP/real"
python3 tests/lib/gen_states.py "$REAL" --workspaces 0 --instances 4 --small-workspaces 1000 --small-instances 40 \
	2>"$TD_TMP/gen.err" || bail "gen_states.py failed: $(cat "$TD_TMP/gen.err")"
echo "state: (c) $(cat "$TD_TMP/gen.err"), $(($(du -sb "$REAL" | cut -f1) / 1000000)) MB"
big_mb=$(($(stat -c %s "$BIG") / 1000000))
many_mb=$(($(du -sb "$MANY" | cut -f1) / 1000000))
echo "state: (a) $BIG: ${big_mb} MB; (b) 200 states, ${many_mb} MB in all"

echo "state: $("$GEN" parse "$BIG")"
echo "state: $("$GEN" cjson "$BIG")"

start_redis

# ms between two log lines' "time" fields
log_ms() {
	python3 - "$1" "$2" "$3" <<'PY'
import json, sys, datetime
def t(s): return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
a = b = None
for line in open(sys.argv[1]):
    try: r = json.loads(line)
    except ValueError: continue
    if a is None and r.get("msg") == sys.argv[2]: a = t(r["time"])
    if r.get("msg") == sys.argv[3]: b = t(r["time"]); extra = r
if a and b:
    print("%d ms (generation write %s ms: %s resources, %s identifiers, %s graph nodes)" % (
        (b - a).total_seconds() * 1000, extra.get("ms"), extra.get("resources"),
        extra.get("identifiers"), extra.get("graph_nodes")))
else:
    print("? (log lines not found)")
PY
}

# run_case NAME SOURCES_YAML
run_case() {
	local name="$1" sources="$2" log hwm
	rcli FLUSHALL >/dev/null
	cfg_set state_loader local_files "$sources"
	cfg_set state_loader poll_interval 600s
	write_config
	TD_INSTANCE=state-loader-$name start_service state-loader
	local key=state-loader-$name
	log="${TD_LOG[$key]}"
	for _ in $(seq 600); do
		grep -q '"index workspaces switched"' "$log" 2>/dev/null && break
		sleep 0.1
	done
	hwm=$(awk '/VmHWM/ {print $2}' "/proc/${TD_PID[$key]}/status" 2>/dev/null)
	# utime + stime in clock ticks (fields 14 and 15 of /proc/PID/stat)
	cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/${TD_PID[$key]}/stat" 2>/dev/null)
	echo "state: ($name) start -> switched and published: $(log_ms "$log" "state-loader running" "index workspaces switched"); daemon CPU ${cpu:-?} ms; daemon peak RSS $((${hwm:-0} / 1024)) MB"
	grep -q '"index workspaces switched"' "$log" || tail -3 "$log"
	stop_service "$key" 10 >/dev/null
}

run_case a "[\"big=$BIG\"]"
list=$(for f in "$MANY"/*.tfstate; do printf '"%s=%s",' "$(basename "$f" .tfstate)" "$f"; done)
run_case b "[${list%,}]"
run_case c "$(cat "$REAL/sources.json")"
finish
