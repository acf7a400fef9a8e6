#!/usr/bin/env bash
# Several state-loaders (issue 14): one holds the write lease in Redis and
# writes the index, the other loads the same states and stands by; when the
# writer is SIGKILLed the other takes over within the lease and writes the
# next change; a writer whose lease was taken from it cannot switch a
# generation (the switch is fenced by the lease in the same Lua script).
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"

STATE="$TD_TMP/prod.tfstate"
cp "$TD_ROOT/tests/fixtures/states/prod.tfstate" "$STATE"
P=tfdrift:

start_redis
cfg_set state_loader local_files "[\"prod/app=$STATE\"]"
cfg_set state_loader poll_interval 300s
cfg_set state_loader write_lease 2s
write_config
A2="$(free_port)"
P2="$(free_port)"
start_service state-loader
TD_INSTANCE=state-loader-2 TD_ADMIN_PORT=$A2 \
	TD_ENV="TFDRIFT_STATE_LOADER_ADMIN_PORT=$A2 TFDRIFT_STATE_LOADER_STATE_PUB_LISTEN=tcp://127.0.0.1:$P2" \
	start_service state-loader
wait_admin state-loader 20 || bail "state-loader did not come up"
wait_admin state-loader-2 20 || bail "state-loader-2 did not come up"

writer_of() { metric "$1" tfdrift_state_writer; }
# writers — "A B": each one's tfdrift_state_writer (empty when it does not answer)
writers() { echo "$(writer_of state-loader) $(writer_of state-loader-2)"; }
wait_for() { # SECONDS CMD... — polls CMD every 0.1 s until it succeeds
	local n=$(($1 * 10))
	shift
	for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}
one_writer() { case "$(writers)" in "1 0" | "0 1") return 0 ;; esac; return 1; }
check "exactly one state-loader writes, the other stands by" wait_for 20 one_writer
check "a generation is current" wait_for 20 sh -c "[ -n \"\$(redis-cli -p $TD_REDIS_PORT GET ${P}gen)\" ]"
if [ "$(writer_of state-loader)" = 1 ]; then W=state-loader S=state-loader-2; else W=state-loader-2 S=state-loader; fi
diag "writer: $W, standby: $S"
check "the writer's name is in ${P}writer" sh -c "[ -n \"\$(redis-cli -p $TD_REDIS_PORT GET ${P}writer)\" ]"
check "the standby logs that it stands by" wait_for 10 grep -q 'standing by: another state-loader holds the write lease' "${TD_LOG[$S]}"
standby_ready() { [ "$(curl -s "$(admin_url "$S")/readyz" | jq -r .status)" = ready ]; }
check "the standby is ready" wait_for 10 standby_ready || diag "$(curl -s "$(admin_url "$S")/readyz")"
check "only the writer switched generations" sh -c "! grep -q 'index workspaces switched' '${TD_LOG[$S]}'"

# ---- the writer dies: the standby takes over and writes the next change ----
kill_service "$W"
check "the standby takes the lease" wait_for 15 sh -c "[ \"\$(curl -s '$(admin_url "$S")/metrics' | awk '\$1 == \"tfdrift_state_writer\" { print \$2 }')\" = 1 ]"
GEN1="$(rcli GET ${P}gen)"
sed 's/"serial": 42/"serial": 50/' "$TD_ROOT/tests/fixtures/states/prod.tfstate" >"$STATE.new" && mv "$STATE.new" "$STATE"
serial50() { [ "$(rcli HGET ${P}workspaces prod/app | jq .serial)" = 50 ]; }
check "the new writer loads and writes the change" wait_for 20 serial50
check "under a newer generation" test "$(rcli GET ${P}gen)" -gt "$GEN1"
check "the new writer logged the switch" grep -q 'index workspaces switched' "${TD_LOG[$S]}"

# ---- the restarted one stands by ----
if [ "$W" = state-loader ]; then
	start_service state-loader
else
	TD_INSTANCE=state-loader-2 TD_ADMIN_PORT=$A2 \
		TD_ENV="TFDRIFT_STATE_LOADER_ADMIN_PORT=$A2 TFDRIFT_STATE_LOADER_STATE_PUB_LISTEN=tcp://127.0.0.1:$P2" \
		start_service state-loader
fi
wait_admin "$W" 20 || bail "$W did not come back"
check "the restarted state-loader stands by" wait_for 15 sh -c "[ \"\$(curl -s '$(admin_url "$W")/metrics' | awk '\$1 == \"tfdrift_state_writer\" { print \$2 }')\" = 0 ]"
check_eq "still exactly one writer" 1 "$(($(writer_of state-loader) + $(writer_of state-loader-2)))"

# ---- fencing: the lease taken away, the writer cannot switch ----
stop_service "$W" 10 >/dev/null
rcli SET "${P}writer" someone-else PX 60000 >/dev/null
GEN2="$(rcli GET ${P}gen)"
sed 's/"serial": 42/"serial": 51/' "$TD_ROOT/tests/fixtures/states/prod.tfstate" >"$STATE.new" && mv "$STATE.new" "$STATE"
check "the former writer stands by once the lease is someone else's" wait_for 15 sh -c "[ \"\$(curl -s '$(admin_url "$S")/metrics' | awk '\$1 == \"tfdrift_state_writer\" { print \$2 }')\" = 0 ]"
sleep_until_loaded() { grep -q '"serial":51' "${TD_LOG[$S]}" || grep -q 'serial.*51' "${TD_LOG[$S]}"; }
wait_for 10 sleep_until_loaded || diag "serial 51 not seen in the log"
check_eq "no generation switched while someone else holds the lease" "$GEN2" "$(rcli GET ${P}gen)"
check_eq "the workspace still shows serial 50" 50 "$(rcli HGET ${P}workspaces prod/app | jq .serial)"
rcli DEL "${P}writer" >/dev/null
check "with the lease free again it writes serial 51" wait_for 15 sh -c "[ \"\$(redis-cli -p $TD_REDIS_PORT HGET ${P}workspaces prod/app | jq .serial)\" = 51 ]"
finish
