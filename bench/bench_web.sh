#!/usr/bin/env bash
# bench/bench_web.sh — the web UI in headless Chromium (Debian's chromium,
# playwright-core) against a real gateway, persistence, PostgreSQL, Redis and
# state-loader.  Prints figures, asserts nothing:
#   - time to the first table rows after load (signed in, 500 alerts stored)
#   - alert commit -> row visible in the open table, p50/p99 over 200 alerts
#     sent to persistence at 20/s (commit time: the row's committed_at)
#   - a generated state of 5,000 resources (20 VPCs, 200 subnets, instances,
#     ENIs, load balancers, security groups; dependency edges): graph load +
#     layout time and frames per second while panning
#   - the JavaScript index.html loads first, gzipped (the graph is a lazy chunk)
# Targets (issue 12): first rows < 1.5 s, p99 < 500 ms, layout < 4 s, initial JS
# < 350 KB gzipped.  BENCH_WEB_NODES overrides 5000.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build}
WEB_OUT="$BUILD/web"
case "$WEB_OUT" in /*) ;; *) WEB_OUT="$(pwd)/$WEB_OUT" ;; esac
[ -f "$WEB_OUT/index.html" ] || { echo "no $WEB_OUT/index.html (make web needs npm)"; exit 1; }
[ -x /usr/bin/chromium ] || { echo "no /usr/bin/chromium"; exit 1; }
# shellcheck source=../tests/lib/services.sh
source tests/lib/services.sh
# shellcheck source=../tests/lib/gateway.sh
source tests/lib/gateway.sh
# shellcheck source=../tests/lib/persistence.sh
source tests/lib/persistence.sh

NODES=${BENCH_WEB_NODES:-5000}
BIG="$TD_TMP/big.tfstate"
python3 - "$BIG" "$NODES" <<'PY'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
res = []
# attribute sizes spread like real states: mostly small, some KB, a few large
# (user_data, policy documents)
import random
rnd = random.Random(12)
SIZES = [0, 0, 0, 40, 200, 200, 900, 4000, 30000]
def add(t, name, insts, deps=()):
    for a in insts:
        a.setdefault("description", "x" * rnd.choice(SIZES))
    res.append({"mode": "managed", "type": t, "name": name, "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
                "instances": [{"index_key": i, "schema_version": 0, "attributes": a, "dependencies": list(deps)} for i, a in enumerate(insts)]})
nvpc, nsub = 20, 200
# one resource per VPC, subnet and group (as modules written per network
# produce), so each instance depends on its own subnet and group: a few edges
# per node, not one to every instance of a counted resource
for v in range(nvpc):
    add("aws_vpc", f"v{v}", [{"id": f"vpc-{v:04x}", "cidr_block": f"10.{v}.0.0/16"}])
for j in range(nsub):
    add("aws_subnet", f"s{j}", [{"id": f"subnet-{j:05x}", "vpc_id": f"vpc-{j % nvpc:04x}"}], [f"aws_vpc.v{j % nvpc}"])
    add("aws_security_group", f"g{j}", [{"id": f"sg-{j:05x}", "vpc_id": f"vpc-{j % nvpc:04x}"}], [f"aws_vpc.v{j % nvpc}"])
nlb = 100
for l in range(nlb):
    a, b = (l * 2) % nsub, (l * 2 + 20) % nsub
    add("aws_lb", f"lb{l}", [{"id": f"lb-{l}", "subnets": [f"subnet-{a:05x}", f"subnet-{b:05x}"]}], [f"aws_subnet.s{a}", f"aws_subnet.s{b}", f"aws_security_group.g{a}"])
left = n - nvpc - 2 * nsub - nlb
per = left // nsub
for j in range(nsub):
    cnt = per + (1 if j < left - per * nsub else 0)
    ni = cnt * 2 // 3
    add("aws_instance", f"i{j}", [{"id": f"i-{j:03x}{k:04x}", "subnet_id": f"subnet-{j:05x}", "instance_type": "t3.micro"} for k in range(ni)], [f"aws_subnet.s{j}", f"aws_security_group.g{j}"])
    add("aws_network_interface", f"eni{j}", [{"id": f"eni-{j:03x}{k:04x}", "subnet_id": f"subnet-{j:05x}"} for k in range(cnt - ni)], [f"aws_subnet.s{j}", f"aws_security_group.g{j}"])
json.dump({"version": 4, "terraform_version": "1.7.0", "serial": 1, "lineage": "bench", "outputs": {}, "resources": res}, open(path, "w"))
PY

start_postgres
start_redis
gw_tokens
cfg_set state_loader local_files "[\"bench/big=$BIG\"]"
cfg_set api_gateway static_dir "\"$WEB_OUT\""
write_config
start_up state-loader persistence api-gateway
wait_ready persistence 30 || bail "persistence not ready"
B="http://127.0.0.1:${TD_PORT[api_gateway.port]}"
for _ in $(seq 1 300); do
	[ "$(curl -s -H "Authorization: Bearer $TOK_VIEWER" "$B/api/v1/workspaces" | jq '.items | length' 2>/dev/null)" = 1 ] && break
	sleep 0.1
done
# 500 alerts in the table before the page opens
alert_gen send --count 500 --batch 50 --seed 1 >/dev/null || diag "alert-gen failed"

(cd services/web && BASE_URL="$B" TOKEN="$TOK_OPERATOR" WEB_OUT="$WEB_OUT" TMPDIR="$TD_TMP" \
	ALERT_GEN="$TD_BIN/tfdrift-alert-gen" PERSIST_URL="${TD_URL[persistence.work_listen]}" \
	WORKSPACE="bench/big" exec timeout 600 node bench/web.mjs)
