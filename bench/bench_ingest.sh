#!/usr/bin/env bash
# bench/bench_ingest.sh — ingest's Falco HTTP path (run by bench/run.sh):
# parse-only ceiling, Falco JSON -> CloudEvent, journal appends, HTTP alerts/s
# on keep-alive connections into the journal, accept latency at 2,000/s, and
# gRPC events/s from the test peer into the journal.
# Prints figures, asserts nothing.  BENCH_INGEST_SECONDS (default 3) per phase.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BUILD/bin/tfdrift-gen-cloudtrail" --count 2000 --seed 9 --out "$tmp/ct.json" || exit 1
# shellcheck source=../tests/lib/ingest.sh
source tests/lib/ingest.sh
falco_alerts "$tmp/ct.json" "$tmp/alerts.jsonl" || exit 1
echo "== ingest (Falco HTTP and gRPC paths)"
"$BUILD/bench/bench_ingest" "$tmp/alerts.jsonl" "${BENCH_INGEST_SECONDS:-3}" || echo "bench_ingest failed"

# gRPC: tests/peers/falco_grpc_peer.js (grpc-js) holds N alerts; a real
# tfdrift-ingest subscribes and journals them (no correlator: accepted = in
# the journal).  events/s from the first request to the last alert counted.
if command -v node >/dev/null 2>&1 && [ -d tests/peers/node_modules/@grpc/grpc-js ]; then
	NG=${BENCH_INGEST_GRPC_EVENTS:-20000}
	"$BUILD/bin/tfdrift-gen-cloudtrail" --count "$NG" --seed 11 --out "$tmp/ctg.json" || exit 1
	falco_alerts "$tmp/ctg.json" "$tmp/grpc.jsonl" || exit 1
	read -r P_GRPC P_ADMIN P_WORK P_SUBMIT < <(python3 -c '
import socket
s=[socket.socket() for _ in range(4)]
for x in s: x.bind(("127.0.0.1",0))
print(" ".join(str(x.getsockname()[1]) for x in s))')
	node tests/peers/falco_grpc_peer.js --listen "127.0.0.1:$P_GRPC" --alerts "$tmp/grpc.jsonl" \
		--ready "$tmp/peer.ready" >"$tmp/peer.log" 2>&1 &
	peer=$!
	for _ in $(seq 1 100); do [ -f "$tmp/peer.ready" ] && break; sleep 0.1; done
	cat >"$tmp/config.yaml" <<YAML
shared:
  data_dir: "$tmp/data"
  log_level: warn
ingest:
  admin_port: $P_ADMIN
  work_listen: "tcp://127.0.0.1:$P_WORK"
  submit_listen: "tcp://127.0.0.1:$P_SUBMIT"
  http_port: 0
  grpc_target: "127.0.0.1:$P_GRPC"
  journal_max_bytes: 2GiB
  journal_segment_bytes: 64MiB
YAML
	t0=$(date +%s%N)
	"$BUILD/bin/tfdrift-ingest" --config "$tmp/config.yaml" >"$tmp/ingest.log" 2>&1 &
	ing=$!
	got=0
	for _ in $(seq 1 600); do
		# alerts taken off the stream (each drain is journaled as one entry
		# within DRAIN_IDLE_MS of its last alert)
		got=$(curl -s "http://127.0.0.1:$P_ADMIN/metrics" | awk '$1 == "tfdrift_ingest_falco_grpc_alerts_total" { print $2 }')
		[ "${got:-0}" -ge "$NG" ] 2>/dev/null && break
		sleep 0.05
	done
	t1=$(date +%s%N)
	# ingest's own CPU (user+system clock ticks), the peer being the likely limit
	ticks=$(awk '{ print $14 + $15 }' "/proc/$ing/stat" 2>/dev/null)
	kill -TERM "$ing" 2>/dev/null
	wait "$ing" 2>/dev/null
	kill -TERM "$peer" 2>/dev/null
	wait "$peer" 2>/dev/null
	awk -v n="${got:-0}" -v ns=$((t1 - t0)) 'BEGIN { printf "ingest: gRPC sub -> journal           %10.0f events/s (%d events, %.2f s incl. connect)\n", n / (ns / 1e9), n, ns / 1e9 }'
	awk -v n="${got:-0}" -v t="${ticks:-0}" -v hz="$(getconf CLK_TCK)" 'BEGIN { if (n > 0 && t > 0) printf "ingest: gRPC ingest CPU per event      %10.1f us (%.2f CPU s; %.0f events/CPU-s)\n", t / hz * 1e6 / n, t / hz, n / (t / hz) }'
fi
