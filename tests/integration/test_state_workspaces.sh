#!/usr/bin/env bash
# Per-workspace generations (docs/redis-keys.md), against a real Redis and the
# real state-loader with four local states:
# - a changed state rewrites only its own workspace: the others keep their
#   generation and their keys (no TTL), the replaced keys get the grace TTL,
#   and the one StateNotice of the round names only that workspace;
# - an identifier two states claim answers with the first source's claim;
#   when that claim goes the next one answers at once, and when it comes back
#   the notice says `full` (another workspace's answer moved);
# - a graph node sits in a container of another workspace that was not
#   written in the same round;
# - a broken state keeps its workspace's keys and sends a status-only notice;
# - a workspace that is no longer a source is removed at the next start;
# - after FLUSHALL every workspace is read and written again.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"

P=tfdrift:
D="$TD_TMP/states"
mkdir -p "$D"

# state WS SERIAL [CLAIM_SHARED] [INSTANCE_ID] — a small state (no account:
# unscoped identifiers) with a VPC, an instance and, when CLAIM_SHARED=1, the
# bucket "shared-bucket" that two workspaces hold.  w2 also has a subnet that
# w4's instance sits in.
state() {
	python3 - "$D/$1.tfstate" "$1" "$2" "${3:-0}" "${4:-i-$1a}" <<'PY'
import json, sys
path, ws, serial, shared, iid = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5]
def res(t, n, attrs):
    return {"mode": "managed", "type": t, "name": n,
            "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
            "instances": [{"schema_version": 0, "attributes": attrs}]}
r = [res("aws_vpc", "main", {"id": "vpc-" + ws, "cidr_block": "10.0.0.0/16"})]
inst = {"id": iid, "instance_type": "t3.micro"}
if ws == "w2":
    r.append(res("aws_subnet", "s", {"id": "subnet-net", "vpc_id": "vpc-w2"}))
if ws == "w4":
    inst["subnet_id"] = "subnet-net"
r.append(res("aws_instance", "web", inst))
if shared:
    r.append(res("aws_s3_bucket", "shared", {"id": "shared-bucket", "bucket": "shared-bucket"}))
tmp = path + ".tmp"
with open(tmp, "w") as f:
    json.dump({"version": 4, "terraform_version": "1.9.8", "serial": serial,
               "lineage": "lin-" + ws, "outputs": {}, "resources": r}, f)
import os
os.rename(tmp, path)
PY
}
state w1 1 1
state w2 1
state w3 1 1
state w4 1

start_redis
cfg_set state_loader local_files "[\"w1=$D/w1.tfstate\", \"w2=$D/w2.tfstate\", \"w3=$D/w3.tfstate\", \"w4=$D/w4.tfstate\"]"
cfg_set state_loader poll_interval 300s # changes are seen through inotify
cfg_set state_loader generation_grace 120s
write_config
start_service state-loader
wait_ready state-loader 20 || bail "state-loader not ready: $(curl -s "$(admin_url state-loader)/readyz")"

wsgen() { rcli HGET ${P}wsgen "$1"; }
# the answering claim of a field: workspace, address, type
idx() { rcli HGET ${P}idx "$1" | head -1 | cut -f1-3; }
claims() { rcli HGET ${P}idx "$1" | cut -f1 | tr '\n' ' '; }
# wait_gen WS OLD — until WS's generation is not OLD
wait_gen() {
	for _ in $(seq 100); do
		[ "$(wsgen "$1")" != "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
# sub N — captures the next N bus messages into $BUSOUT (background)
BUSOUT="$TD_TMP/bus.txt"
sub() {
	: >"$BUSOUT"
	"$TD_BIN/tfdrift-bus-poke" sub "${TD_URL[state_loader.state_pub_listen]}" --count "$1" --timeout 30000 \
		>"$BUSOUT" 2>"$TD_TMP/bus-poke.err" &
	SUBPID=$!
	for _ in $(seq 100); do grep -q '^connected' "$BUSOUT" && break; sleep 0.05; done
	grep -q '^connected' "$BUSOUT" || bail "the bus subscriber did not connect: $(cat "$TD_TMP/bus-poke.err")"
}
# the script's status survives the kill of a subscriber that has already exited
trap 'rc=$?; kill "${SUBPID:-0}" 2>/dev/null; (exit $rc); stop_all' EXIT

G1=$(wsgen w1) G2=$(wsgen w2) G3=$(wsgen w3) G4=$(wsgen w4)
check "every workspace has a generation" test -n "$G1" -a -n "$G2" -a -n "$G3" -a -n "$G4"
check "generations are distinct" test "$(printf '%s\n' "$G1" "$G2" "$G3" "$G4" | sort -u | wc -l)" = 4
check_eq "P gen is the latest switch" "$(printf '%s\n' "$G1" "$G2" "$G3" "$G4" | sort -n | tail -1)" "$(rcli GET ${P}gen)"
check_eq "an instance -> its workspace" "$(printf 'w2\taws_instance.web\taws_instance')" "$(idx i-w2a)"
check_eq "a claim carries its workspace's generation" "$G2" "$(rcli HGET ${P}idx i-w2a | cut -f4)"
check_eq "the shared bucket: both claims, the first source's first" "w1 w3 " "$(claims shared-bucket)"
check "the clash is counted" test "$(metric state-loader tfdrift_state_identifier_conflicts_total)" -ge 1
check "attributes in the workspace's res hash" \
	sh -c "redis-cli -p $TD_REDIS_PORT HGET '${P}g:$G2:res:w2' aws_instance.web | jq -e '.id == \"i-w2a\"'"
check_eq "a node in another workspace's subnet" "w2:aws_subnet.s" \
	"$(rcli HGET "${P}g:$G4:nodes:w4" aws_instance.web | jq -r .parent)"

# ---- one state changes: only its workspace is written ----
sub 1
state w2 2 0 i-w2b
wait_gen w2 "$G2" || bail "w2 was not switched"
wait "$SUBPID"
N2=$(wsgen w2)
check "w2 has a newer generation" test "$N2" -gt "$G2"
check_eq "w1 untouched" "$G1" "$(wsgen w1)"
check_eq "w3 untouched" "$G3" "$(wsgen w3)"
check_eq "w4 untouched" "$G4" "$(wsgen w4)"
check_eq "w1's keys keep no TTL" -1 "$(rcli PTTL "${P}g:$G1:res:w1")"
check_eq "w4's nodes keep no TTL" -1 "$(rcli PTTL "${P}g:$G4:nodes:w4")"
for k in res ids nodes edges; do
	ttl=$(rcli PTTL "${P}g:$G2:$k:w2")
	# edges: w2 has no dependencies, so no key (-2)
	[ "$k" = edges ] && [ "$ttl" = -2 ] && continue
	check "w2's old $k key retired with the grace TTL ($ttl ms)" test "$ttl" -gt 0 -a "$ttl" -le 120000
done
check_eq "the old instance id is no longer claimed" "" "$(idx i-w2a)"
check_eq "the new one is" "$(printf 'w2\taws_instance.web\taws_instance')" "$(idx i-w2b)"
check_eq "others' claims unchanged" "$(printf 'w3\taws_instance.web\taws_instance')" "$(idx i-w3a)"
check "the notice names w2 only, not full" grep -q '^state_notice: .* full=false changed="w2"$' "$BUSOUT"
check_eq "the node keeps its parent in w2 (same address)" "w2:aws_subnet.s" \
	"$(rcli HGET "${P}g:$G4:nodes:w4" aws_instance.web | jq -r .parent)"

# ---- the first claim goes: the next one answers; it comes back: full ----
sub 1
state w1 2 0
wait_gen w1 "$G1" || bail "w1 was not switched"
wait "$SUBPID"
check_eq "w3's claim answers now" "w3 " "$(claims shared-bucket)"
check "dropping its own answer is not full" grep -q '^state_notice: .* full=false changed="w1"$' "$BUSOUT"
N1=$(wsgen w1)
sub 1
state w1 3 1
wait_gen w1 "$N1" || bail "w1 was not switched again"
wait "$SUBPID"
check_eq "w1 answers again, w3 behind it" "w1 w3 " "$(claims shared-bucket)"
check "taking w3's answer is full" grep -q '^state_notice: .* full=true changed="w1"$' "$BUSOUT"
check_eq "w3 still untouched" "$G3" "$(wsgen w3)"

# ---- the same serial again: nothing is written ----
N1=$(wsgen w1)
UNCH='tfdrift_state_unchanged_total{workspace="w1"}'
u0=$(metric state-loader "$UNCH")
touch "$D/w1.tfstate"
for _ in $(seq 100); do
	[ "$(metric state-loader "$UNCH")" -gt "${u0:-0}" ] && break
	sleep 0.1
done
check "the touched file was read and found unchanged" test "$(metric state-loader "$UNCH")" -gt "${u0:-0}"
check_eq "and w1 keeps its generation" "$N1" "$(wsgen w1)"

# ---- a broken state keeps its workspace ----
sub 1
printf '{"version": 4, "serial": 9, "resources": [' >"$D/w3.tfstate"
wait "$SUBPID"
check_eq "w3 keeps its generation" "$G3" "$(wsgen w3)"
check_eq "w3's claims stay" "$(printf 'w3\taws_instance.web\taws_instance')" "$(idx i-w3a)"
check "its record names the error" sh -c "redis-cli -p $TD_REDIS_PORT HGET ${P}workspaces w3 | jq -e '.last_error | test(\"w3.tfstate\")'"
check "a status-only notice: nothing changed" grep -q '^state_notice: .* full=false changed=$' "$BUSOUT"
check "its status travels with it" grep -q '^workspace: name="w3" .*last_error="[^"]*w3.tfstate' "$BUSOUT"

# ---- a source that is gone is removed at the next start ----
stop_service state-loader
cfg_set state_loader local_files "[\"w1=$D/w1.tfstate\", \"w2=$D/w2.tfstate\", \"w3=$D/w3.tfstate\"]"
write_config
state w3 2 1
start_service state-loader
wait_ready state-loader 20 || bail "state-loader not ready after the restart"
for _ in $(seq 100); do [ -z "$(wsgen w4)" ] && break; sleep 0.1; done
check_eq "w4 has no generation" "" "$(wsgen w4)"
check_eq "w4 has no record" "" "$(rcli HGET ${P}workspaces w4)"
check_eq "w4's claims are gone" "" "$(idx i-w4a)"
ttl=$(rcli PTTL "${P}g:$G4:res:w4")
check "w4's keys retired ($ttl ms)" test "$ttl" -gt 0 -a "$ttl" -le 120000
check_eq "the others are indexed" "$(printf 'w1\taws_instance.web\taws_instance')" "$(idx i-w1a)"

# ---- Redis loses everything: all is read and written again ----
rcli FLUSHALL >/dev/null
for _ in $(seq 100); do [ -n "$(wsgen w3)" ] && [ -n "$(wsgen w1)" ] && [ -n "$(wsgen w2)" ] && break; sleep 0.1; done
check "every workspace written again" test -n "$(wsgen w1)" -a -n "$(wsgen w2)" -a -n "$(wsgen w3)"
check_eq "claims restored" "w1 w3 " "$(claims shared-bucket)"
check_eq "w2's current instance" "$(printf 'w2\taws_instance.web\taws_instance')" "$(idx i-w2b)"
finish
