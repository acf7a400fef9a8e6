#!/usr/bin/env bash
# bench/bench_state_discovery.sh — state-loader: one S3 source with
# workspace=* over BENCH_DISCOVERY_WORKSPACES (default 2000) workspaces in one
# bucket (s3rver behind the SigV4-checking proxy, tests/peers/state_backends.js).
# Prints how long discovering and loading them all takes, and what a later
# poll round asks the store: ListObjectsV2 pages (1,000 keys each) and GETs of
# workspace objects, where every workspace used to cost a conditional GET.
# Asserts nothing.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
BUILD=${BUILD:-build}
# shellcheck source=../tests/lib/services.sh
source tests/lib/services.sh
# shellcheck source=../tests/lib/state_backends.sh
source tests/lib/state_backends.sh
command -v node >/dev/null || { echo "discovery: node is needed"; exit 0; }

N=${BENCH_DISCOVERY_WORKSPACES:-2000}
POLL=10
start_state_backends --user ci --password pw --token t ||
	{ echo "discovery: backends did not start"; exit 1; }

# one small state per workspace, put 8 at a time
python3 - "$D/states" "$N" <<'PY'
import json, os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
for i in range(1, n + 1):
    res = [{"mode": "managed", "type": "aws_sqs_queue", "name": f"q{k}", "instances": [{"attributes": {
        "id": f"https://sqs.eu-west-1.amazonaws.com/123456789012/q-{i}-{k}",
        "arn": f"arn:aws:sqs:eu-west-1:123456789012:q-{i}-{k}", "name": f"q-{i}-{k}"}}]} for k in range(5)]
    with open(f"{d}/ws-{i:05d}", "w") as f:
        json.dump({"version": 4, "serial": i, "lineage": f"l-{i}", "resources": res}, f)
PY
(cd "$D/states" && find . -type f -printf '%f\0' | xargs -0 -P 8 -I{} curl -fsS -X PUT --data-binary "@{}" \
	"http://127.0.0.1:$PROXYP/__put/tfstate/env:/{}/app.tfstate" -o /dev/null) ||
	{ echo "discovery: storing the objects failed"; exit 1; }
: >"$LOG"

start_redis
P=tfdrift:
cfg_set state_loader sources "[\"org=s3://tfstate/app.tfstate?region=eu-west-1&workspace=*&endpoint=http://127.0.0.1:$PROXYP\"]"
cfg_set state_loader poll_interval "${POLL}s"
write_config
loaded() { rcli HGETALL ${P}workspaces | grep -c '"serial":[1-9]' || true; }
pages() { tail -n +"$(($1 + 1))" "$LOG" | grep -c 'list-type=2' || true; }
first_pages() { tail -n +"$(($1 + 1))" "$LOG" | grep 'list-type=2' | grep -vc 'continuation-token' || true; }
gets() { tail -n +"$(($1 + 1))" "$LOG" | grep -v 'list-type=2' | grep -c '"method":"GET","path":"/tfstate/env:/' || true; }
t0=$(date +%s%N)
TD_ENV="AWS_ACCESS_KEY_ID=AKIDTFDRIFTTEST AWS_SECRET_ACCESS_KEY=tEst/Secret+Key" start_service state-loader
for _ in $(seq 3000); do [ "$(loaded)" -ge "$N" ] && break; sleep 0.1; done
t1=$(date +%s%N)
pid="${TD_PID[state-loader]}"
echo "discovery: $N workspaces in one bucket: all $(loaded) loaded $(((t1 - t0) / 1000000)) ms after start" \
	"($(pages 0) listing pages, $(gets 0) GETs); peak RSS $(awk '/^VmHWM:/ { print int($2 / 1024) }' "/proc/$pid/status") MB"
# a later round: from the next listing on, one poll interval (every workspace
# is checked once in it, its poll jittered +-10 %)
n0=$(wc -l <"$LOG")
for _ in $(seq 600); do [ "$(first_pages "$n0")" -ge 1 ] && break; sleep 0.1; done
n1=$(($(awk -v n0="$n0" 'NR > n0 && /list-type=2/ && !/continuation-token/ { print NR; exit }' "$LOG") - 1))
u1=$(metric state-loader tfdrift_state_listing_unchanged_total)
sleep "$POLL"
n2=$(wc -l <"$LOG")
u2=$(metric state-loader tfdrift_state_listing_unchanged_total)
echo "discovery:   one later poll interval (${POLL} s): $(tail -n +"$((n1 + 1))" "$LOG" | head -n "$((n2 - n1))" | grep -c 'list-type=2') listing pages and" \
	"$(tail -n +"$((n1 + 1))" "$LOG" | head -n "$((n2 - n1))" | grep -v 'list-type=2' | grep -c '"method":"GET","path":"/tfstate/env:/') workspace GETs;" \
	"$((${u2:-0} - ${u1:-0})) checks answered by the listing (without it: $N conditional GETs a round);" \
	"CPU of the daemon so far $(awk '{ print int(($14 + $15) * 1000 / 100) }' "/proc/$pid/stat") ms"
stop_service state-loader 30
