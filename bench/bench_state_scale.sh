#!/usr/bin/env bash
# bench/bench_state_scale.sh — the state-loader at organisation scale (issue 18):
# BENCH_SCALE_WORKSPACES states (default 5,000) of BENCH_SCALE_INSTANCES
# realistic instances (default 200; tests/lib/gen_states.py: 16 types,
# attributes from 1 byte to ~150 KB) against a real Redis.  Prints:
#   - the first full load: start -> every workspace switched, the daemon's CPU,
#     peak RSS (VmHWM) and RSS after the load;
#   - Redis memory for the index (used_memory over an empty server) and per
#     instance, with the share of each key kind (MEMORY USAGE of a sample);
#   - BENCH_SCALE_CHANGES (default 20) single-workspace changes one after
#     another: new serial on disk -> the workspace's new generation in Redis
#     (what a correlator reads), p50 and max, and the switch time the daemon
#     logs; the other workspaces' generations must not move;
#   - the daemon's RSS after the changes.
# Generated states are kept in BENCH_SCALE_CACHE (default build/bench-cache)
# for the next run.  Asserts nothing.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build}
NWS=${BENCH_SCALE_WORKSPACES:-5000}
NINST=${BENCH_SCALE_INSTANCES:-200}
NCHG=${BENCH_SCALE_CHANGES:-20}
CACHE=${BENCH_SCALE_CACHE:-$BUILD/bench-cache}
DIR="$CACHE/states-${NWS}x${NINST}"
# shellcheck source=../tests/lib/services.sh
source tests/lib/services.sh

if [ ! -s "$DIR/sources.json" ]; then
	rm -rf "$DIR"
	mkdir -p "$DIR"
	t0=$(date +%s)
	python3 tests/lib/gen_states.py "$DIR" --workspaces "$NWS" --instances "$NINST" \
		2>"$TD_TMP/gen.err" || bail "gen_states.py failed: $(cat "$TD_TMP/gen.err")"
	echo "state_scale: generated in $(($(date +%s) - t0)) s: $(cat "$TD_TMP/gen.err")"
fi
NI=$(wc -l <"$DIR/instances.tsv")
echo "state_scale: $NWS states, $NI instances, $(($(du -sb "$DIR" | cut -f1) / 1000000)) MB of state files"

start_redis
used() { rcli INFO memory | awk -F: '/^used_memory:/ { print $2 }' | tr -d '\r'; }
BASE=$(used)
cfg_set state_loader local_files "$(cat "$DIR/sources.json")"
cfg_set state_loader poll_interval 600s
write_config
t0=$(date +%s%N)
start_service state-loader
PID=${TD_PID[state-loader]}
for _ in $(seq 6000); do
	[ "$(rcli HLEN tfdrift:wsgen)" = "$NWS" ] && break
	sleep 0.1
done
t1=$(date +%s%N)
[ "$(rcli HLEN tfdrift:wsgen)" = "$NWS" ] || bail "not every workspace was written: $(rcli HLEN tfdrift:wsgen) of $NWS"
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/$PID/stat"; }
kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$PID/status"; }
echo "state_scale: first full load: $(((t1 - t0) / 1000000)) ms (start -> every workspace switched); daemon CPU $(cpu) ms; peak RSS $(($(kb VmHWM) / 1024)) MB; RSS now $(($(kb VmRSS) / 1024)) MB"
U=$(($(used) - BASE))
echo "state_scale: Redis used_memory for the index: $((U / 1048576)) MB, $((U / NI)) bytes per instance"
# the share of each kind, from a sample of workspaces
python3 - "$DIR/sources.json" "$TD_REDIS_PORT" "$NWS" <<'PY'
import json, subprocess, sys
srcs, port, nws = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3])
def r(*a):
    return subprocess.run(["redis-cli", "-p", port] + list(a), capture_output=True, text=True).stdout.strip()
tot = {"res": 0, "ids": 0, "nodes": 0, "edges": 0}
sample = srcs[:: max(1, len(srcs) // 50)]
for s in sample:
    ws = s.split("=", 1)[0]
    g = r("HGET", "tfdrift:wsgen", ws)
    for k in tot:
        v = r("MEMORY", "USAGE", "tfdrift:g:%s:%s:%s" % (g, k, ws))
        tot[k] += int(v) if v.isdigit() else 0
f = len(srcs) / len(sample)
idx = int(r("MEMORY", "USAGE", "tfdrift:idx", "SAMPLES", "0") or 0)
parts = ["%s %d MB" % (k, v * f / 1048576) for k, v in tot.items()]
print("state_scale: by kind (sampled): idx %d MB (%d fields), %s" % (idx / 1048576, int(r("HLEN", "tfdrift:idx")), ", ".join(parts)))
PY

# ---- single-workspace changes ----
LOG=${TD_LOG[state-loader]}
lat=()
moved=0
for i in $(seq "$NCHG"); do
	n=$(((i * 7919) % NWS))
	src=$(jq -r ".[$n]" "$DIR/sources.json")
	ws=${src%%=*} file=${src#*=}
	g0=$(rcli HGET tfdrift:wsgen "$ws")
	other=$(jq -r ".[$(((n + 1) % NWS))]" "$DIR/sources.json")
	og=$(rcli HGET tfdrift:wsgen "${other%%=*}")
	python3 - "$file" "$i" <<'PY'
import json, os, sys
p = sys.argv[1]
d = json.load(open(p))
d["serial"] += 1
for r in d["resources"]:
    for inst in r.get("instances", []):
        a = inst.get("attributes")
        if isinstance(a, dict) and "tags" in a and isinstance(a["tags"], dict):
            a["tags"]["BenchChange"] = sys.argv[2]
            break
json.dump(d, open(p + ".tmp", "w"), indent=2)
os.rename(p + ".tmp", p)
PY
	ts=$(date +%s%N)
	for _ in $(seq 2000); do
		[ "$(rcli HGET tfdrift:wsgen "$ws")" != "$g0" ] && break
		sleep 0.002
	done
	te=$(date +%s%N)
	lat+=($(((te - ts) / 1000000)))
	[ "$(rcli HGET tfdrift:wsgen "${other%%=*}")" != "$og" ] && moved=$((moved + 1))
done
sorted=$(printf '%s\n' "${lat[@]}" | sort -n)
p50=$(echo "$sorted" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
mx=$(echo "$sorted" | tail -1)
sw=$(grep '"index workspaces switched"' "$LOG" | tail -n "$NCHG" | jq -s '[.[].ms] | (add / length | floor | tostring) + " ms mean, " + (max | tostring) + " ms max"' -r)
echo "state_scale: $NCHG single-workspace changes: file written -> new generation in Redis p50 ${p50} ms, max ${mx} ms; daemon switch time $sw; other workspaces' generations moved: $moved"
echo "state_scale: after the changes: RSS $(($(kb VmRSS) / 1024)) MB, peak $(($(kb VmHWM) / 1024)) MB; Redis $((($(used) - BASE) / 1048576)) MB (replaced generations expire after the grace period)"
finish
