#!/usr/bin/env bash
# bench/bench_state_fetch.sh — state-loader: many remote sources on the fetch
# pool.  BENCH_FETCH_SOURCES (default 5000) Terraform http-backend sources on
# one host (tests/peers/state_backends.js, answers at once), for
# fetch_workers 4 and 16: time until every workspace is indexed, the
# daemon's threads and peak RSS, and how long one full round of conditional
# polls (304) takes.  Prints figures, asserts nothing.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build}
# shellcheck source=../tests/lib/services.sh
source tests/lib/services.sh
# shellcheck source=../tests/lib/state_backends.sh
source tests/lib/state_backends.sh
command -v node >/dev/null || { echo "fetch: node is needed"; exit 0; }

N=${BENCH_FETCH_SOURCES:-5000}
start_state_backends --user ci --password pw --token t ||
	{ echo "fetch: backends did not start"; exit 1; }
python3 - "$D/http" "$N" <<'PY'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(1, n + 1):
    res = [{"mode": "managed", "type": "aws_sqs_queue", "name": f"q{k}", "instances": [{"attributes": {
        "id": f"https://sqs.eu-west-1.amazonaws.com/123456789012/q-{i}-{k}",
        "arn": f"arn:aws:sqs:eu-west-1:123456789012:q-{i}-{k}", "name": f"q-{i}-{k}",
        "visibility_timeout_seconds": 30, "tags": {"team": "platform"}}}]} for k in range(20)]
    with open(f"{d}/ws-{i}", "w") as f:
        json.dump({"version": 4, "serial": i, "lineage": f"l-{i}", "resources": res}, f)
PY

sources="$(python3 -c "import sys; n, p = int(sys.argv[1]), sys.argv[2]; print('[' + ', '.join(f'\"ws-{i}=http://127.0.0.1:{p}/state/ws-{i}#user=ci&password_env=TD_HTTP_PW\"' for i in range(1, n + 1)) + ']')" "$N" "$HTTPP")"
start_redis
P=tfdrift:
loaded() { rcli HGETALL ${P}workspaces | grep -c '"serial":' || true; }
n304() { grep -c '"status":304' "$LOG" || true; }

for workers in 4 16; do
	rcli FLUSHALL >/dev/null
	cfg_set state_loader sources "$sources"
	cfg_set state_loader poll_interval 20s
	cfg_set state_loader fetch_workers "$workers"
	cfg_set state_loader fetch_per_host "$workers"
	write_config
	: >"$LOG"
	t0=$(date +%s%N)
	TD_ENV="TD_HTTP_PW=pw" start_service state-loader
	for _ in $(seq 1200); do [ "$(loaded)" -ge "$N" ] && break; sleep 0.1; done
	t1=$(date +%s%N)
	pid="${TD_PID[state-loader]}"
	threads="$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status")"
	hwm="$(awk '/^VmHWM:/ { print int($2 / 1024) }' "/proc/$pid/status")"
	echo "fetch: $N sources, fetch_workers=$workers: all $(loaded) indexed $(((t1 - t0) / 1000000)) ms after start; $threads threads; peak RSS ${hwm} MB"
	# the next round: every source asked again with If-None-Match, spread over
	# poll_interval +- 10 %
	for _ in $(seq 600); do [ "$(n304)" -ge 1 ] && break; sleep 0.05; done
	t2=$(date +%s%N)
	for _ in $(seq 1200); do [ "$(n304)" -ge "$N" ] && break; sleep 0.05; done
	t3=$(date +%s%N)
	echo "fetch:   second round: $(n304) x 304 Not Modified over $(((t3 - t2) / 1000000)) ms (poll_interval 20 s, jitter +-10 %); CPU of the daemon so far $(awk '{ print int(($14 + $15) * 1000 / 100) }' "/proc/$pid/stat") ms"
	stop_service state-loader 30
done
