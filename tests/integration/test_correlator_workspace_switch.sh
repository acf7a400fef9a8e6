#!/usr/bin/env bash
# Writer and reader of the per-workspace index together (docs/redis-keys.md):
# a real state-loader loads two workspaces from files, a real correlator reads
# them (events from tfdrift-bus-poke, as ingest sends them; alerts through
# real persistence into PostgreSQL).  When one state changes, only its
# workspace switches to a new generation; its StateNotice names it, the
# correlator drops that workspace's cached answers only (not everything) and
# the next event reads the new attributes.  The time from the file's change
# to the correlator applying the notice is printed, not asserted.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/correlator.sh
source "$(dirname "$0")/../lib/correlator.sh"
need jq redis-cli

start_postgres
start_redis
APP="$TD_TMP/prod-app.tfstate"
cp "$TD_ROOT/examples/states/prod-app.tfstate" "$APP"
cfg_set state_loader local_files \
	"[\"prod/app=$APP\", \"prod/network=$TD_ROOT/examples/states/prod-network.tfstate\"]"
cfg_set state_loader poll_interval 300s # changes are seen through inotify
write_config
start_up persistence state-loader
wait_ready persistence 30 || bail "persistence is not ready"
PI="$(free_ports 1)"
TD_ENV="TFDRIFT_CORRELATOR_INGEST_URL=tcp://127.0.0.1:$PI" start_service correlator
wait_admin correlator 30 || bail "correlator did not come up"
for _ in $(seq 1 200); do
	[ -n "$(ws_gen prod/app)" ] && [ -n "$(ws_gen prod/network)" ] && break
	sleep 0.05
done
APPGEN="$(ws_gen prod/app)"
NETGEN="$(ws_gen prod/network)"
check "both workspaces have a generation ($APPGEN, $NETGEN)" test -n "$APPGEN" -a -n "$NETGEN"

# ModifyInstanceAttribute of aws_instance.web (i-0a1b2c3d4e5f60718) -> t3.xlarge
POKE_TIMEOUT=20000
old_of() { sql "SELECT workspace || '|' || (changes->0->>'old') FROM alerts WHERE event_id = '$1'"; }
drops() { metric correlator "tfdrift_correlator_cache_drops_total{reason=\"$1\"}"; }

demo_event "$TD_TMP/ev.out"
check_eq "the instance's alert names the state's instance_type" "prod/app|t3.medium" "$(old_of "$EV")"
# a second event warms nothing new; the cache holds prod/app's answers now
f0="$(drops full)"
u0="$(drops unannounced)"
w0="$(drops workspaces)"
notices0="$(grep -c '"state changed"' "${TD_LOG[correlator]}")"

# ---- prod/app changes: a new serial, another instance_type ----
jq '.serial += 1 | (.resources[] | select(.type == "aws_instance") | .instances[0].attributes.instance_type) = "t3.small"' \
	"$APP" >"$APP.new"
t0=$(date +%s%N)
mv "$APP.new" "$APP"
for _ in $(seq 1 2000); do
	[ "$(grep -c '"state changed"' "${TD_LOG[correlator]}")" -gt "$notices0" ] && break
	sleep 0.01
done
ms=$((($(date +%s%N) - t0) / 1000000))
check "the correlator applied a StateNotice" test "$(grep -c '"state changed"' "${TD_LOG[correlator]}")" -gt "$notices0"
diag "file changed -> the correlator applied its notice: about $ms ms"
check "... naming one workspace, not full" \
	grep -q '"state changed".*"changed":1,"full":false' "${TD_LOG[correlator]}"
check "prod/app switched to a new generation" test "$(ws_gen prod/app)" -gt "$APPGEN"
check_eq "prod/network kept its generation" "$NETGEN" "$(ws_gen prod/network)"
check_eq "the claim names prod/app's new generation" "$(ws_gen prod/app)" \
	"$(idx_claim_gen @123456789012:eu-west-1:i-0a1b2c3d4e5f60718)"
check_eq "the correlator dropped prod/app's answers (workspaces +1), not everything" \
	"$((${w0:-0} + 1))|${f0:-0}|${u0:-0}" \
	"$(drops workspaces)|$(drops full)|$(drops unannounced)"

demo_event "$TD_TMP/ev.out"
check_eq "the next event reads prod/app's new attributes" "prod/app|t3.small" "$(old_of "$EV")"

finish
