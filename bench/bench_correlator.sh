#!/usr/bin/env bash
# bench_correlator.sh — correlation events/s per core (warm cache) vs cJSON_Parse alone;
# the share of precise (attribute, old -> new) vs coarse alerts over the mix, and
# the catalog entries with and without extractors.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build}
echo "== correlator"
"$BUILD/bench/bench_correlator" "${BENCH_CORRELATOR_EVENTS:-20000}" 5 || echo "bench_correlator failed"
