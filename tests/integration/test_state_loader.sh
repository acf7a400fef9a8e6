#!/usr/bin/env bash
# state-loader against a real Redis: a fixture state becomes a generation with
# the identifier index, redacted resources and the dependency graph
# (docs/redis-keys.md); file changes are seen through inotify (the poll
# interval is 300 s); an unchanged serial/lineage writes no new generation;
# a broken file keeps the previous generation and shows in /readyz's metric;
# no secret from the fixture reaches Redis, the log or a bus message (every
# StateNotice published while the fixture is reloaded is captured by
# tfdrift-bus-poke sub, raw bytes included, and searched).
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"

STATE="$TD_TMP/prod.tfstate"
cp "$TD_ROOT/tests/fixtures/states/prod.tfstate" "$STATE"

start_redis
cfg_set state_loader local_files "[\"prod/app=$STATE\"]"
cfg_set state_loader poll_interval 300s # changes are seen through inotify
write_config
start_service state-loader
wait_ready state-loader 20 || bail "state-loader not ready: $(curl -s "$(admin_url state-loader)/readyz")"

P=tfdrift:
GEN="$(rcli GET ${P}gen)"
check "a generation is current" test -n "$GEN"
# one workspace: its own generation is the latest switch
WSGEN="$(ws_gen prod/app $P)"
check_eq "the workspace's generation (P wsgen) is P gen" "$GEN" "$WSGEN"
# the fixture's resources are in account 123456789012, eu-west-1 (their ARNs):
# fields are scoped by account, and by region for regional types (redis_keys.h);
# a value is the claims, the first answers (docs/redis-keys.md)
idx() { idx_claim "$1" $P; }
check_eq "instance id -> workspace, address, type" \
	"$(printf 'prod/app\taws_instance.web[0]\taws_instance')" "$(idx @123456789012:eu-west-1:i-0aaaaaaaaaaaaaaa0)"
check_eq "iam role by unique_id" "$(printf 'prod/app\taws_iam_role.app\taws_iam_role')" \
	"$(idx @123456789012::AROA3XFRBF535EXAMPLE)"
check_eq "rds instance by identifier" "$(printf 'prod/app\taws_db_instance.main\taws_db_instance')" \
	"$(idx @123456789012:eu-west-1:prod-db)"
check_eq "... claimed at the workspace's generation, alone" "$WSGEN|1" \
	"$(idx_claim_gen @123456789012:eu-west-1:i-0aaaaaaaaaaaaaaa0 $P)|$(idx_claims @123456789012:eu-west-1:i-0aaaaaaaaaaaaaaa0 $P)"
rcli HGET "${P}g:$WSGEN:res:prod/app" 'aws_instance.web[0]' | attrs_json >"$TD_TMP/web0.json"
check "the resource JSON is stored (packed or not: attrs_codec.h)" jq -e '.id == "i-0aaaaaaaaaaaaaaa0"' "$TD_TMP/web0.json"

# ---- graph ----
node="$(rcli HGET "${P}g:$WSGEN:nodes:prod/app" 'aws_instance.web[0]')"
check_eq "node type/mode/provider" 'aws_instance managed provider["registry.terraform.io/hashicorp/aws"]' \
	"$(jq -r '"\(.type) \(.mode) \(.provider)"' <<<"$node")"
check_eq "data sources are nodes" data "$(rcli HGET "${P}g:$WSGEN:nodes:prod/app" data.aws_ami.ubuntu | jq -r .mode)"
check_eq "edges of aws_instance.web[0]" '["aws_security_group.web","data.aws_ami.ubuntu"]' \
	"$(rcli HGET "${P}g:$WSGEN:edges:prod/app" 'aws_instance.web[0]')"
# dependencies name resources; edges end at their instances (count = 2 here)
check_eq "edges of aws_db_instance.main reach every subnet instance" \
	'["aws_security_group.web","module.network.aws_subnet.private[0]","module.network.aws_subnet.private[1]"]' \
	"$(rcli HGET "${P}g:$WSGEN:edges:prod/app" 'aws_db_instance.main')"
edges_end_at_nodes() { # EDGES_KEY NODES_KEY (addresses may hold spaces: read lines)
	rcli HKEYS "$1" | while IFS= read -r src; do
		rcli HGET "$1" "$src" | jq -r '.[]' | while IFS= read -r dst; do
			[ "$(rcli HEXISTS "$2" "$dst")" = 1 ] || { echo "dangling: $src -> $dst"; exit 1; }
		done || exit 1
	done
}
check "every edge ends at a node" edges_end_at_nodes "${P}g:$WSGEN:edges:prod/app" "${P}g:$WSGEN:nodes:prod/app"
want_nodes="$("$TD_BIN/tfdrift-state-loader" check "$STATE" --json | jq '.managed + .data_sources')"
check_eq "one node per current instance (check agrees)" "$want_nodes" "$(rcli HLEN "${P}g:$WSGEN:nodes:prod/app")"
check_eq "workspaces status" 42 "$(rcli HGET ${P}workspaces prod/app | jq .serial)"

# ---- no secret anywhere ----
dump="$TD_TMP/redis-dump.txt"
# attributes are stored packed (zlib, attrs_codec.h): searched unpacked
for k in $(rcli --scan --pattern "${P}*"); do
	case "$k:$(rcli TYPE "$k")" in
	*:res:*:hash)
		rcli HKEYS "$k" | while IFS= read -r f; do
			printf '%s\n' "$f"
			rcli HGET "$k" "$f" | attrs_json
			echo
		done
		;;
	*:hash) rcli HGETALL "$k" ;;
	*:string) rcli GET "$k" ;;
	esac
done >"$dump"
check "the dump holds the attributes unpacked" grep -q '"i-0aaaaaaaaaaaaaaa0"' "$dump"
for secret in Sup3rS3cretDbPassw0rd! wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY output-secret-value-xyz; do
	check "secret ${secret:0:6}... not in Redis" sh -c "! grep -qF '$secret' '$dump'"
	check "secret ${secret:0:6}... not in the log" sh -c "! grep -qF '$secret' '${TD_LOG[state-loader]}'"
done
check "the dump is not empty" test -s "$dump"

# ---- same serial and lineage: no new generation ----
# the reload must be seen to happen (tfdrift_state_unchanged_total grows),
# twice: the loop has then finished the first one, generation write included
UNCH='tfdrift_state_unchanged_total{workspace="prod/app"}'
for round in 1 2; do
	u0="$(metric state-loader "$UNCH")"
	touch -d "+$((round * 2)) seconds" "$STATE"
	for _ in $(seq 100); do
		[ "$(metric state-loader "$UNCH")" -gt "${u0:-0}" ] 2>/dev/null && break
		sleep 0.1
	done
	check "touch $round: the file is read again and found unchanged ($UNCH ${u0:-0} -> $(metric state-loader "$UNCH"))" \
		test "$(metric state-loader "$UNCH")" -gt "${u0:-0}"
done
check_eq "touching the file keeps the generation" "$GEN|$WSGEN" "$(rcli GET ${P}gen)|$(ws_gen prod/app $P)"

# ---- from here every message published is captured (the broken file, then serial 44) ----
BUSOUT="$TD_TMP/bus-messages.txt"
"$TD_BIN/tfdrift-bus-poke" sub "${TD_URL[state_loader.state_pub_listen]}" --count 2 --timeout 30000 \
	>"$BUSOUT" 2>"$TD_TMP/bus-poke.err" &
SUBPID=$!
trap 'kill "$SUBPID" 2>/dev/null; wait "$SUBPID" 2>/dev/null; stop_all' EXIT
for _ in $(seq 100); do grep -q '^connected' "$BUSOUT" && break; sleep 0.05; done
check "the bus subscriber is connected" grep -q '^connected' "$BUSOUT"

# ---- a broken file keeps the previous generation ----
printf '{"version": 4, "serial": 43, "resources": [' >"$STATE"
for _ in $(seq 50); do
	[ "$(metric state-loader 'tfdrift_state_load_errors_total{workspace="prod/app"}')" = 1 ] && break
	sleep 0.1
done
check_eq "the load error is counted" 1 "$(metric state-loader 'tfdrift_state_load_errors_total{workspace="prod/app"}')"
GEN2="$(rcli GET ${P}gen)"
check_eq "the instance is still indexed" "$(printf 'prod/app\taws_instance.web[0]\taws_instance')" \
	"$(idx @123456789012:eu-west-1:i-0aaaaaaaaaaaaaaa0)"
check_eq "... at the generation it had" "$WSGEN" "$(idx_claim_gen @123456789012:eu-west-1:i-0aaaaaaaaaaaaaaa0 $P)"
check "/readyz names the failing source" sh -c "curl -s '$(admin_url state-loader)/readyz' | jq -e '.checks.sources.ok == false and (tostring | test(\"prod/app\"))'"
check "last_error names the file" sh -c "redis-cli -p $TD_REDIS_PORT HGET ${P}workspaces prod/app | jq -e '.last_error | test(\"prod.tfstate\")'"

# ---- a new serial: a new generation ----
sed 's/"serial": 42/"serial": 44/' "$TD_ROOT/tests/fixtures/states/prod.tfstate" >"$STATE.new"
mv "$STATE.new" "$STATE"
for _ in $(seq 50); do
	[ "$(rcli HGET ${P}workspaces prod/app | jq .serial)" = 44 ] && break
	sleep 0.1
done
check_eq "serial 44 loaded" 44 "$(rcli HGET ${P}workspaces prod/app | jq .serial)"
check "a newer generation" test "$(rcli GET ${P}gen)" -gt "$GEN2"
WSGEN3="$(ws_gen prod/app $P)"
check_eq "... the workspace's, its claims moved to it" "$(rcli GET ${P}gen)|$WSGEN3" \
	"$WSGEN3|$(idx_claim_gen @123456789012:eu-west-1:i-0aaaaaaaaaaaaaaa0 $P)"
check "ready again" sh -c "curl -s '$(admin_url state-loader)/readyz' | jq -e '.status == \"ready\"'"

# ---- the bus messages of those two loads: StateNotices, and no secret in them ----
wait "$SUBPID"
check_eq "two messages received" 0 "$?"
check "a StateNotice of the broken file, naming it" grep -q 'last_error="[^"]*prod.tfstate' "$BUSOUT"
check "the StateNotice of the reload of the fixture (serial 44)" \
	grep -q '^workspace: name="prod/app" source=local serial=44 ' "$BUSOUT"
check_eq "both are StateNotices" 2 "$(grep -c '^envelope: type=MESSAGE_TYPE_STATE_NOTICE ' "$BUSOUT")"
for secret in Sup3rS3cretDbPassw0rd! wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY output-secret-value-xyz; do
	check "secret ${secret:0:6}... not in a bus message" sh -c "! grep -qF '$secret' '$BUSOUT'"
done
finish
