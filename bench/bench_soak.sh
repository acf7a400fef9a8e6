#!/usr/bin/env bash
# bench/bench_soak.sh — sustained load through the whole pipeline.
#
# Falco's two outputs at a fixed rate, half each: the gRPC peer
# (tests/peers/falco_grpc_peer.js --rate) and Falco's http_output
# (tests/peers/falco_http_driver.js), every alert a fresh copy of a template
# (new CloudTrail event id, now as its time) of an organisation's mix:
# SOAK_ALERT_SHARE percent of them raise an alert (a change to a managed
# resource), the rest are the reads, unmanaged resources and noise that are
# most of a trail (both drivers take the templates in turn, so the alerts
# expected follow from how many each sent); the
# state-loader holds SOAK_WORKSPACES realistic states (tests/lib/gen_states.py)
# and one of them gets a new serial every SOAK_STATE_EVERY seconds.  Every
# SOAK_SAMPLE seconds a line: events/s in (ingest) and committed (persistence),
# p50/p99 event -> commit latency of the alerts committed in that window,
# each process's RSS (low and high of samples every 5 s) and CPU, Redis memory, PostgreSQL's alerts table and
# index size, journal and spool depth.  At the end, after the pipeline has
# drained: alerts expected (= sent) against distinct alerts stored, and each
# process's RSS growth after the warm-up (and its heap in use, from
# /metrics: a leak grows that, allocator fragmentation only RSS).
#
# SOAK_MINUTES (default 2), SOAK_RATE events/s (default 2000; issue 18's
# target is 5000 for 30 minutes), SOAK_SAMPLE seconds (default 30),
# SOAK_WARMUP seconds (default: a third of the run, at most 300),
# SOAK_CORRELATORS (default 2), SOAK_WORKSPACES (default 50),
# SOAK_STATE_EVERY seconds (default 5), SOAK_ALERT_SHARE percent (default 5;
# 100: every event raises an alert), SOAK_DEDUPE_WINDOW (correlator.dedupe_window,
# default 10m: Redis holds ~230 bytes per event of the window, so it levels off
# after it).  The processes run as deployed, with glibc's per-thread malloc
# caches off (GLIBC_TUNABLES=glibc.malloc.tcache_count=0, tests/lib/services.sh);
# GLIBC_TUNABLES= (empty) runs them with glibc's defaults, to compare.
# Prints figures, asserts nothing.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
BUILD=${BUILD:-build}
MIN=${SOAK_MINUTES:-2}
RATE=${SOAK_RATE:-2000}
SAMPLE=${SOAK_SAMPLE:-30}
SECS=$((MIN * 60))
WARM=${SOAK_WARMUP:-$((SECS / 3 > 300 ? 300 : SECS / 3))}
NCORR=${SOAK_CORRELATORS:-2}
NWS=${SOAK_WORKSPACES:-50}
EVERY=${SOAK_STATE_EVERY:-5}
SHARE=${SOAK_ALERT_SHARE:-5}
DEDUPE=${SOAK_DEDUPE_WINDOW:-10m}
# shellcheck source=../tests/lib/services.sh
source tests/lib/services.sh
# shellcheck source=../tests/lib/ingest.sh
source tests/lib/ingest.sh
command -v node >/dev/null || { echo "soak: node is needed"; exit 0; }
[ -d tests/peers/node_modules ] || (cd tests/peers && npm ci --no-audit --no-fund --loglevel=error) >/dev/null

echo "soak: $MIN min at $RATE events/s (gRPC + HTTP), $NCORR correlators, $NWS workspaces (one changed every ${EVERY}s), a line every ${SAMPLE}s, warm-up ${WARM}s"

# ---- templates: alerts the correlator raises ----
CT="$TD_TMP/ct.json"
gen_cloudtrail "$CT" 4000 21 || bail "gen_cloudtrail failed"
falco_alerts "$CT" "$TD_TMP/all.jsonl" || bail "falco_alerts failed"
expected_ids "$CT" >"$TD_TMP/raise.ids"
# templates.jsonl: a cycle of 200 (SHARE % raising, spread evenly);
# raise.flags: 1/0 per template, in order
python3 - "$TD_TMP/all.jsonl" "$TD_TMP/raise.ids" "$TD_TMP/templates.jsonl" "$TD_TMP/raise.flags" "$SHARE" <<'PY'
import json, sys
ids = set(open(sys.argv[2]).read().split())
lines = open(sys.argv[1]).read().splitlines()
up = [l for l in lines if json.loads(l)["output_fields"]["ct.id"] in ids]
quiet = [l for l in lines if json.loads(l)["output_fields"]["ct.id"] not in ids]
n, share = 200, int(sys.argv[5])
nr = max(1, n * share // 100) if up else 0
out, flags, acc = [], [], 0
for i in range(n):
    acc += nr
    if acc >= n or not quiet:
        acc -= n
        out.append(up[len([f for f in flags if f]) % len(up)]); flags.append(1)
    else:
        out.append(quiet[(i - len([f for f in flags if f])) % len(quiet)]); flags.append(0)
open(sys.argv[3], "w").write("\n".join(out) + "\n")
open(sys.argv[4], "w").write("".join(str(f) for f in flags))
PY
NT=$(wc -l <"$TD_TMP/templates.jsonl")
NR=$(tr -cd 1 <"$TD_TMP/raise.flags" | wc -c)
[ "$NR" -gt 0 ] || bail "no template raises an alert"
echo "soak: a cycle of $NT templates, $NR of them raise an alert ($SHARE %; from 4000 generated records)"
# expected N — the alerts of the first N templates of the cycle
expected() { python3 -c "import sys; f = open(sys.argv[2]).read(); n = int(sys.argv[1]); print(n // len(f) * f.count('1') + f[: n % len(f)].count('1'))" "$1" "$TD_TMP/raise.flags"; }

# ---- states ----
STATES="$TD_TMP/states"
python3 tests/lib/gen_states.py "$STATES" --workspaces 0 --instances 4 --small-workspaces "$NWS" --small-instances 40 \
	2>"$TD_TMP/gen.err" || bail "gen_states.py failed: $(cat "$TD_TMP/gen.err")"
mapfile -t SFILES < <(find "$STATES" -name '*.tfstate' | sort)
files=""
for f in "${SFILES[@]}"; do files+="${files:+, }\"$(basename "$f" .tfstate)=$f\""; done
cfg_set state_loader local_files "[$files]"
cfg_set correlator dedupe_window "$DEDUPE"

# ---- the pipeline ----
read -r PG <<<"$(free_ports 1)"
cfg_set ingest grpc_target "\"127.0.0.1:$PG\""
grep -q '"grpc_insecure"' libcommon/src/config_directives.c && cfg_set ingest grpc_insecure true
start_postgres
start_redis
write_config
start_up
for i in $(seq 2 "$NCORR"); do
	port=$(free_ports 1)
	TD_INSTANCE=correlator-$i TD_ADMIN_PORT=$port TD_ENV="TFDRIFT_CORRELATOR_ADMIN_PORT=$port" start_service correlator
done
for s in ingest correlator persistence state-loader; do wait_ready "$s" 60 || bail "$s is not ready"; done
wait_http "$(falco_url)/" 10 405 >/dev/null || bail "the falco http receiver does not answer"

GLOG="$TD_TMP/grpc.log"
HLOG="$TD_TMP/http.log"
node tests/peers/falco_grpc_peer.js --listen "127.0.0.1:$PG" --alerts "$TD_TMP/templates.jsonl" \
	--rate $((RATE / 2)) --seconds "$SECS" --log "$GLOG" >"$TD_TMP/grpc.out" 2>&1 &
GPID=$!
node tests/peers/falco_http_driver.js --url "$(falco_url)/api/v1/falco/events" --alerts "$TD_TMP/templates.jsonl" \
	--rate $((RATE - RATE / 2)) --seconds "$SECS" --log "$HLOG" >"$TD_TMP/http.out" 2>&1 &
HPID=$!
# the state changer: one workspace's serial bumped every EVERY seconds
(
	k=0
	while :; do
		sleep "$EVERY"
		f="${SFILES[$((k % ${#SFILES[@]}))]}"
		python3 - "$f" <<'PY'
import json, os, sys
p = sys.argv[1]
s = json.load(open(p))
s["serial"] = s.get("serial", 0) + 1
json.dump(s, open(p + ".new", "w"))
os.replace(p + ".new", p)
PY
		k=$((k + 1))
	done
) &
CPID=$!
# (the gRPC peer's SIGTERM waits for ingest's open stream to end: KILL)
trap 'rc=$?; kill $HPID $CPID 2>/dev/null; kill -KILL $GPID 2>/dev/null; wait $GPID $HPID $CPID 2>/dev/null; (exit $rc); stop_all' EXIT

# ---- samples ----
procs=()
for s in "${!TD_PID[@]}"; do procs+=("$s"); done
mapfile -t procs < <(printf '%s\n' "${procs[@]}" | sort)
declare -A cpu0=() rss_warm=() rss_last=() rss_max=() use_warm=() use_last=()
ticks=$(getconf CLK_TCK)
# metric_sum SERVICE NAME — the sum of every series of NAME (all labels)
metric_sum() {
	curl -s --max-time 3 "$(admin_url "$1")/metrics" |
		awk -v m="$2" '(index($0, m " ") == 1 || index($0, m "{") == 1) { s += $NF } END { printf "%d\n", s }'
}
num() { local v; v="$("$@")"; v="${v%.*}"; echo "${v:-0}"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
cpu_of() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# in kB (MB rounded would hide a 5 % step of a 20 MB process)
rss_of() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
kmb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
for s in "${procs[@]}"; do cpu0[$s]=$(cpu_of "${TD_PID[$s]}"); done
in0=$(num metric_sum ingest tfdrift_ingest_events_received_total)
com0=$(num metric persistence tfdrift_persistence_alerts_inserted_total)
id0=$(sql 'SELECT coalesce(max(id), 0) FROM alerts')
t0=$(date +%s%N)
elapsed=0
# RSS every RSS_EVERY seconds within each line's window: a process's RSS
# swings by a few MB between the allocator's trims (procmem.h, every 10 s),
# so one sample a minute lands anywhere in that swing; the window's low and
# high show it, and growth compares highs (what a memory limit must hold).
RSS_EVERY=5
declare -A lo=() hi=()
rss_window() {
	local s r k n=$((SAMPLE / RSS_EVERY))
	[ "$n" -ge 1 ] || n=1
	for s in "${procs[@]}"; do lo[$s]=0 hi[$s]=0; done
	for k in $(seq "$n"); do
		sleep $((k < n ? RSS_EVERY : SAMPLE - (n - 1) * RSS_EVERY))
		for s in "${procs[@]}"; do
			r=$(rss_of "${TD_PID[$s]}")
			[ "${lo[$s]}" -eq 0 ] || [ "$r" -lt "${lo[$s]}" ] && lo[$s]=$r
			[ "$r" -gt "${hi[$s]}" ] && hi[$s]=$r
		done
	done
}
while [ "$elapsed" -lt "$SECS" ]; do
	rss_window
	t1=$(date +%s%N)
	dt_ms=$(((t1 - t0) / 1000000))
	elapsed=$((elapsed + SAMPLE))
	in1=$(num metric_sum ingest tfdrift_ingest_events_received_total)
	com1=$(num metric persistence tfdrift_persistence_alerts_inserted_total)
	id1=$(sql 'SELECT coalesce(max(id), 0) FROM alerts')
	lat=$(sql "SELECT coalesce(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM committed_at - event_time)) * 1000)::int, -1),
	                  coalesce(round(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM committed_at - event_time)) * 1000)::int, -1)
	           FROM alerts WHERE id > $id0 AND id <= $id1")
	size=$(sql "SELECT pg_table_size('alerts') / 1048576, pg_indexes_size('alerts') / 1048576")
	rmem=$(rcli INFO memory | awk -F: '/^used_memory:/ { printf "%d", $2 / 1048576 }')
	line="soak: t=${elapsed}s in $(((in1 - in0) * 1000 / dt_ms))/s committed $(((com1 - com0) * 1000 / dt_ms))/s"
	line+=" latency p50 ${lat%%|*} ms p99 ${lat##*|} ms; journal $(metric ingest tfdrift_ingest_journal_entries) spool $(metric persistence tfdrift_persistence_spool_alerts)"
	line+="; redis ${rmem} MB; alerts table ${size%%|*} MB + indexes ${size##*|} MB"
	echo "$line"
	line="soak:   RSS MB low-high / CPU %:"
	for s in "${procs[@]}"; do
		c=$(cpu_of "${TD_PID[$s]}")
		r=${hi[$s]}
		line+=" $s $(kmb "${lo[$s]}")-$(kmb "$r")/$(((c - cpu0[$s]) * 100000 / ticks / dt_ms))"
		cpu0[$s]=$c
		rss_last[$s]=$r
		# the high of the window that ends the warm-up, against the highest since
		# (not the last: it may fall in the wind-down)
		[ "$elapsed" -ge "$WARM" ] && [ -z "${rss_warm[$s]:-}" ] && rss_warm[$s]=$r
		[ "$elapsed" -gt "$WARM" ] && [ "$r" -gt "${rss_max[$s]:-0}" ] && rss_max[$s]=$r
	done
	echo "$line"
	# the allocator's view (procmem.h): a leak grows "in use", fragmentation "free"
	line="soak:   heap MB in use / free:"
	for s in "${procs[@]}"; do
		u=$(mb "$(num metric_sum "$s" tfdrift_process_heap_in_use_bytes)")
		f=$(mb "$(num metric_sum "$s" tfdrift_process_heap_free_bytes)")
		line+=" $s $u/$f"
		use_last[$s]=$u
		[ "$elapsed" -ge "$WARM" ] && [ -z "${use_warm[$s]:-}" ] && use_warm[$s]=$u
	done
	echo "$line"
	in0=$in1
	com0=$com1
	id0=$id1
	t0=$t1
done

# ---- drain and count ----
kill $CPID 2>/dev/null
wait $HPID 2>/dev/null # the HTTP driver exits once every alert is accepted
# the gRPC peer serves on: done when ingest has received every alert it
# generated
for _ in $(seq 600); do
	grep -q '^rate done' "$GLOG" && [ "$(metric ingest tfdrift_ingest_falco_grpc_alerts_total)" = "$(sed -n 's/^rate done //p' "$GLOG")" ] && break
	sleep 0.1
done
sent_g=$(sed -n 's/^rate done //p' "$GLOG" | tail -n 1)
sent_h=$(tail -n 1 "$HLOG" | jq -r '.accepted')
sent=$((${sent_g:-0} + ${sent_h:-0}))
want=$(($(expected "${sent_g:-0}") + $(expected "${sent_h:-0}")))
last=-1
for _ in $(seq 120); do
	n=$(sql 'SELECT count(DISTINCT event_id) FROM alerts')
	[ "$n" -ge "$want" ] && break
	[ "$n" = "$last" ] && [ "$(metric ingest tfdrift_ingest_journal_entries)" = 0 ] && break
	last=$n
	sleep 1
done
rows=$(sql 'SELECT count(*) FROM alerts')
distinct=$(sql 'SELECT count(DISTINCT event_id) FROM alerts')
echo "soak: sent $sent events (gRPC ${sent_g:-0}, HTTP ${sent_h:-0}), $want of them raise an alert; stored $distinct distinct alerts in $rows rows: $((want - distinct)) missing, $((rows - distinct)) duplicated"
line="soak: RSS high of the window ending the warm-up -> highest since (growth) -> last window's high (MB):"
for s in "${procs[@]}"; do
	w=${rss_warm[$s]:-0}
	m=${rss_max[$s]:-$w}
	line+=" $s $(kmb "$w")->$(kmb "$m") ($([ "$w" -gt 0 ] && awk -v w="$w" -v m="$m" 'BEGIN { printf "%+.1f", (m - w) * 100 / w }' || echo "?")%)->$(kmb "${rss_last[$s]:-0}")"
done
echo "$line"
line="soak: heap in use after warm-up -> at the end (MB):"
for s in "${procs[@]}"; do
	line+=" $s ${use_warm[$s]:-0}->${use_last[$s]:-0}"
done
echo "$line"
finish >/dev/null
