#!/usr/bin/env bash
# state-loader: remote sources are fetched on their own threads.  A source
# whose server holds the request (tests/peers/state_backends.js --hang-port)
# does not delay a local file's reload: the file's new serial reaches Redis
# while the held request is still open; the held source is reported failing
# (last_error, /readyz) once state_loader.fetch_timeout passes.  HCP
# Terraform answering 429 Too Many Requests is retried after Retry-After,
# without an error.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/state_backends.sh
source "$(dirname "$0")/../lib/state_backends.sh"
command -v node >/dev/null || bail "node is needed"

HANGP=$(free_port)
start_state_backends --hang-port "$HANGP" --hcp-429 1 --user ci --password pw --token hcp-token-1 ||
	bail "backends did not start: $(cat "$TD_TMP/backends.out")"

printf '{"version":4,"serial":7,"lineage":"l-1","resources":[{"mode":"managed","type":"aws_vpc","name":"v","instances":[{"attributes":{"id":"vpc-hcp7"}}]}]}' >"$D/hcp-state.json"
STATE="$TD_TMP/local.tfstate"
cp "$TD_ROOT/tests/fixtures/states/prod.tfstate" "$STATE"

start_redis
cfg_set state_loader local_files "[\"prod/local=$STATE\"]"
cfg_set state_loader sources "[\"slow=http://127.0.0.1:$HANGP/state/slow\", \"hcp/prod=hcp://acme/prod?host=127.0.0.1:$HCPP&scheme=http&token_env=TD_HCP_TOKEN\"]"
cfg_set state_loader poll_interval 1s
cfg_set state_loader fetch_timeout 5s
write_config
TD_ENV="TD_HCP_TOKEN=hcp-token-1" start_service state-loader
wait_admin state-loader 20 || bail "state-loader did not come up"
P=tfdrift:
ws() { rcli HGET ${P}workspaces "$1"; }
for _ in $(seq 100); do [ "$(ws hcp/prod | jq -r .serial 2>/dev/null)" = 7 ] && break; sleep 0.1; done

# ---- HCP Terraform 429: retried after Retry-After, no error ----
check_eq "hcp: loaded after a 429" 7 "$(ws hcp/prod | jq -r .serial)"
check_eq "hcp: the API answered 429 once" 1 "$(jq -s '[.[] | select(.kind=="hcp" and .status==429)] | length' "$LOG")"
check "hcp: the next request came after Retry-After (1 s)" jq -s -e \
	'[.[] | select(.kind=="hcp")] | (.[0].status == 429 and .[1].status == 200 and .[1].t - .[0].t >= 1000)' "$LOG"
check_eq "hcp: no last_error" null "$(ws hcp/prod | jq -r .last_error)"
check_eq "hcp: no load error counted" 0 "$(metric state-loader 'tfdrift_state_load_errors_total{workspace="hcp/prod"}')"
check "hcp: nothing logged above info for the 429" sh -c "! grep -E '\"level\":\"(warn|error)\"' '${TD_LOG[state-loader]}' | grep -q 'hcp'"

# ---- a held request does not delay a local reload ----
check_eq "slow: answered 404 while not hanging (empty workspace)" 0 "$(ws slow | jq -r .resources)"
touch "$D/hang"
for _ in $(seq 50); do grep -q '"event":"held"' "$LOG" && break; sleep 0.1; done
check "slow: a request is held by the server" grep -q '"event":"held"' "$LOG"
sed 's/"serial": 42/"serial": 43/; s/i-0aaaaaaaaaaaaaaa0/i-0eeeeeeeeeeeeeee0/' "$TD_ROOT/tests/fixtures/states/prod.tfstate" >"$STATE.new"
mv "$STATE.new" "$STATE"
for _ in $(seq 100); do [ "$(ws prod/local | jq -r .serial)" = 43 ] && break; sleep 0.05; done
# read the peer's log first: the held request must still be open afterwards
closed_before=$(grep -c '"event":"closed"' "$LOG")
check_eq "local: serial 43 loaded while the slow source is held" 43 "$(ws prod/local | jq -r .serial)"
check_eq "local: the new instance is indexed" "$(printf 'prod/local\taws_instance.web[0]\taws_instance')" \
	"$(idx_claim @123456789012:eu-west-1:i-0eeeeeeeeeeeeeee0 $P)"
check_eq "slow: its request was still open then" 0 "$closed_before"

# ---- the held source fails after fetch_timeout, naming itself and the cause ----
for _ in $(seq 100); do [ "$(ws slow | jq -r .last_error)" != null ] && break; sleep 0.1; done
check "slow: last_error names the source and the timeout" sh -c \
	"redis-cli -p $TD_REDIS_PORT HGET ${P}workspaces slow | jq -e '.last_error | test(\"127.0.0.1:$HANGP/state/slow: .*[Tt]imed out\")'"
check "slow: the loader gave up on the request" grep -q '"event":"closed"' "$LOG"
check "/readyz names the slow source" sh -c "curl -s '$(admin_url state-loader)/readyz' | jq -e '.checks.sources.ok == false and (.checks.sources.reason | test(\"slow: \"))'"
check_eq "local: still loaded" 43 "$(ws prod/local | jq -r .serial)"

# ---- a stop does not wait for the held request ----
for _ in $(seq 30); do [ "$(grep -c '"event":"held"' "$LOG")" -ge 2 ] && break; sleep 0.1; done
check "slow: held again after the next poll" test "$(grep -c '"event":"held"' "$LOG")" -ge 2
stop_service state-loader 4
check_eq "stops cleanly while a request is held" 0 "${TD_STATUS[state-loader]}"
finish
