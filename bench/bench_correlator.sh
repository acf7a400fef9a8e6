#!/usr/bin/env bash
# bench_correlator.sh — correlation events/s per core (warm cache) vs cJSON_Parse alone,
# what a StateNotice costs the local cache (dropping one workspace's answers, or all),
# with the index scoped by account and region and unscoped; the share of precise
# (attribute, old -> new) vs coarse alerts over the mix, and the catalog entries with and
# without extractors; then the Redis side of a cold lookup: one HGET of an identifier (the
# layout before scoping) against one HMGET of the three scoped fields the correlator asks
# for now (redis_index.c), on a real Redis with 200,000 index fields, one client (round
# trips) and eight.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build}
echo "== correlator"
"$BUILD/bench/bench_correlator" "${BENCH_CORRELATOR_EVENTS:-20000}" 5 || echo "bench_correlator failed"
# what a StateNotice costs the local cache (full: 100,000 answers of 5,000 workspaces)
"$BUILD/bench/bench_lcache" 100000 5000 20 || echo "bench_lcache failed"

command -v redis-benchmark >/dev/null || {
	echo "correlator: no redis-benchmark; Redis lookup figures skipped"
	exit 0
}
# shellcheck source=../tests/lib/services.sh
source tests/lib/services.sh
start_redis
K=tfdrift:idx # P idx: field -> claims (docs/redis-keys.md)
N=${BENCH_CORRELATOR_FIELDS:-100000}
# half of them regional, half account-wide, as a state-loader writes them
python3 - "$K" "$N" <<'PY' | rcli --pipe >/dev/null
import sys
k, n = sys.argv[1], int(sys.argv[2])
out = sys.stdout
def cmd(*a):
    out.write("*%d\r\n" % len(a))
    for x in a:
        out.write("$%d\r\n%s\r\n" % (len(x.encode()), x))
for i in range(n):
    f = ("@123456789012:eu-west-1:i-%012x" if i % 2 else "@123456789012::role-%d") % i
    cmd("HSET", k, f, "prod/app\taws_instance.web[%d]\taws_instance\t7\t0" % i)
    cmd("HSET", k, "unscoped-%d" % i, "legacy\taws_instance.web[%d]\taws_instance\t9\t1" % i)
PY
echo "correlator: redis index of $(rcli HLEN "$K") fields"
hit='@123456789012:eu-west-1:i-00000000002b'
for c in 1 8; do
	before=$(redis-benchmark -h 127.0.0.1 -p "$TD_REDIS_PORT" -c "$c" -n 100000 -q HGET "$K" i-00000000002b 2>/dev/null | tr -d '\r' | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -1)
	after=$(redis-benchmark -h 127.0.0.1 -p "$TD_REDIS_PORT" -c "$c" -n 100000 -q HMGET "$K" "$hit" '@123456789012::i-00000000002b' i-00000000002b 2>/dev/null | tr -d '\r' | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -1)
	echo "correlator: cold lookup, $c client(s): HGET (unscoped, before) ${before:-?} /s, HMGET of 3 scoped fields (now) ${after:-?} /s"
done
finish
