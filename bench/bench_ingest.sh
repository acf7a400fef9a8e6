#!/usr/bin/env bash
# bench/bench_ingest.sh — ingest's Falco HTTP path (run by bench/run.sh):
# parse-only ceiling, Falco JSON -> CloudEvent, journal appends, HTTP alerts/s
# on keep-alive connections into the journal, and accept latency at 2,000/s.
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
echo "== ingest (Falco HTTP path; gRPC not benchmarked yet)"
"$BUILD/bench/bench_ingest" "$tmp/alerts.jsonl" "${BENCH_INGEST_SECONDS:-3}" || echo "bench_ingest failed"
