#!/usr/bin/env bash
# Scale-out under chaos (issues 14 and 16): every process replicated — 2
# ingests (one fed by the Falco gRPC peer, tests/peers/falco_grpc_peer.js,
# one by HTTP), 3 correlators, 2 persistences, 2 gateways, 2 notifiers, 2
# state-loaders — with bus peers given as lists.  20,000 CloudTrail events go
# in as Falco alerts, half through each ingest, while one replica of each
# kind in turn is SIGKILLed and restarted, and Redis and PostgreSQL are
# restarted.  Then: every alert `tfdrift-correlator explain` expects is
# stored exactly once (no duplicate by event id or key), every process is
# ready, both gateways serve every alert, both journals are drained, and at
# no sampled moment did two state-loaders hold the write.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/ingest.sh
source "$(dirname "$0")/../lib/ingest.sh"
# shellcheck source=../lib/gateway.sh
source "$(dirname "$0")/../lib/gateway.sh"
# shellcheck source=../lib/persistence.sh
source "$(dirname "$0")/../lib/persistence.sh"
need node jq python3

N=20000
HALF=$((N / 2))
STATE="$TD_TMP/prod.tfstate"
cp "$TD_ROOT/tests/fixtures/states/prod.tfstate" "$STATE"

# ---- data: CloudTrail records as Falco alerts, half for each ingest ----
CT="$TD_TMP/ct.json"
gen_cloudtrail "$CT" "$N" 17 || bail "gen_cloudtrail failed"
falco_alerts "$CT" "$TD_TMP/all.jsonl" || bail "falco_alerts failed"
head -n "$HALF" "$TD_TMP/all.jsonl" >"$TD_TMP/grpc.jsonl"
tail -n +$((HALF + 1)) "$TD_TMP/all.jsonl" >"$TD_TMP/http.jsonl"
# what the correlator's own decision code says (the state-loaders load prod,
# whose resources none of these records touch: the same set with or without it)
"$TD_BIN/tfdrift-correlator" explain --state "prod/app=$STATE" "$CT" 2>/dev/null |
	jq -r '.event_id as $e | .alerts[]? | "\($e) \(.alert_key)"' | sort >"$TD_TMP/want.pairs"
NA="$(wc -l <"$TD_TMP/want.pairs")"
check "explain expects alerts" test "$NA" -gt 100
diag "explain: $NA alerts expected from $N events"

# ---- configuration ----
start_postgres
start_redis
gw_tokens
cfg_set api_gateway cache_ttl 10s
cfg_set state_loader local_files "[\"prod/app=$STATE\"]"
cfg_set state_loader write_lease 2s
cfg_set ingest grpc_poll_interval 100ms
cfg_set ingest grpc_backoff_initial 200ms
cfg_set ingest grpc_backoff_max 1s
write_config
SOCK="$TD_TMP/falco.sock"
read -r I2A I2W I2S I2H C2A C3A P2A P2W P2P G2A G2P N2A S2A S2P <<<"$(free_ports 14)"
I1W="${TD_URL[ingest.work_listen]}" I2W="tcp://127.0.0.1:$I2W"
P1W="${TD_URL[persistence.work_listen]}" P2W="tcp://127.0.0.1:$P2W"
P1P="${TD_URL[persistence.alerts_pub_listen]}" P2P="tcp://127.0.0.1:$P2P"
S1P="${TD_URL[state_loader.state_pub_listen]}" S2P="tcp://127.0.0.1:$S2P"
CORR="TFDRIFT_CORRELATOR_INGEST_URL=$I1W,$I2W TFDRIFT_CORRELATOR_PERSISTENCE_URL=$P1W,$P2W TFDRIFT_CORRELATOR_STATE_URL=$S1P,$S2P"

# Each instance: its kind, admin port ("" = the config's) and environment.
declare -A KIND=() ADM=() ENVS=()
inst() { KIND[$1]=$2 ADM[$1]=$3 ENVS[$1]=$4; }
inst ingest ingest "" "TFDRIFT_INGEST_GRPC_TARGET=unix://$SOCK"
inst ingest-2 ingest "$I2A" "TFDRIFT_INGEST_ADMIN_PORT=$I2A TFDRIFT_INGEST_WORK_LISTEN=$I2W TFDRIFT_INGEST_SUBMIT_LISTEN=tcp://127.0.0.1:$I2S TFDRIFT_INGEST_HTTP_PORT=$I2H TFDRIFT_SHARED_DATA_DIR=$TD_TMP/data-ingest-2"
inst correlator correlator "" "$CORR"
inst correlator-2 correlator "$C2A" "$CORR TFDRIFT_CORRELATOR_ADMIN_PORT=$C2A"
inst correlator-3 correlator "$C3A" "$CORR TFDRIFT_CORRELATOR_ADMIN_PORT=$C3A"
inst persistence persistence "" ""
inst persistence-2 persistence "$P2A" "TFDRIFT_PERSISTENCE_ADMIN_PORT=$P2A TFDRIFT_PERSISTENCE_WORK_LISTEN=$P2W TFDRIFT_PERSISTENCE_ALERTS_PUB_LISTEN=$P2P TFDRIFT_SHARED_DATA_DIR=$TD_TMP/data-persistence-2"
inst api-gateway api-gateway "" "TFDRIFT_API_GATEWAY_ALERTS_URL=$P1P,$P2P TFDRIFT_API_GATEWAY_STATE_URL=$S1P,$S2P"
inst api-gateway-2 api-gateway "$G2A" "TFDRIFT_API_GATEWAY_ALERTS_URL=$P1P,$P2P TFDRIFT_API_GATEWAY_STATE_URL=$S1P,$S2P TFDRIFT_API_GATEWAY_ADMIN_PORT=$G2A TFDRIFT_API_GATEWAY_PORT=$G2P"
inst notifier notifier "" "TFDRIFT_NOTIFIER_ALERTS_URL=$P1P,$P2P TFDRIFT_NOTIFIER_INSTANCE=notifier-1"
inst notifier-2 notifier "$N2A" "TFDRIFT_NOTIFIER_ALERTS_URL=$P1P,$P2P TFDRIFT_NOTIFIER_INSTANCE=notifier-2 TFDRIFT_NOTIFIER_ADMIN_PORT=$N2A"
inst state-loader state-loader "" ""
inst state-loader-2 state-loader "$S2A" "TFDRIFT_STATE_LOADER_ADMIN_PORT=$S2A TFDRIFT_STATE_LOADER_STATE_PUB_LISTEN=$S2P"
ALL=(persistence persistence-2 state-loader state-loader-2 ingest ingest-2 correlator correlator-2
	correlator-3 api-gateway api-gateway-2 notifier notifier-2)

start_inst() {
	TD_INSTANCE=$1 TD_ADMIN_PORT=${ADM[$1]} TD_ENV="${ENVS[$1]}" start_service "${KIND[$1]}"
}
# restart NAME — SIGKILL, start again, wait until it answers.
restart() {
	kill_service "$1"
	start_inst "$1"
	wait_admin "$1" 30 || bail "$1 did not come back after SIGKILL"
}

# ---- the Falco gRPC peer (queued with its half, served when ingest asks) ----
PEER_PID=""
TD_LOG[peer]="$TD_TMP/logs/peer.log"
node "$TD_ROOT/tests/peers/falco_grpc_peer.js" --listen "unix://$SOCK" --alerts "$TD_TMP/grpc.jsonl" \
	--ready "$TD_TMP/peer.ready" --log "$TD_TMP/logs/peer.log" --hold "$TD_TMP/peer.go" --log-requests 1 \
	>>"$TD_TMP/logs/peer.log" 2>&1 &
PEER_PID=$!
for s in "${ALL[@]}"; do start_inst "$s"; done
for s in "${ALL[@]}"; do wait_admin "$s" 30 || bail "$s did not come up"; done
for s in "${ALL[@]}"; do
	wait_ready "$s" 60 || bail "$s is not ready: $(curl -s "$(admin_url "$s")/readyz")"
done
ok "13 processes up and ready, bus peers given as lists"
wait_for() { # SECONDS CMD... — polls CMD every 0.1 s until it succeeds
	local n=$(($1 * 10))
	shift
	for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}
both_ingests() { [ "$(metric "$1" 'tfdrift_bus_peers{socket="correlator.work"}')" = 2 ]; }
for c in correlator correlator-2 correlator-3; do
	check "$c is connected to both ingests" wait_for 20 both_ingests "$c"
done

# ---- sampling the state-loaders' write lease in the background ----
writer_of() { metric "$1" tfdrift_state_writer; }
(
	while :; do
		echo "$(writer_of state-loader) $(writer_of state-loader-2)"
		sleep 0.2
	done
) >"$TD_TMP/writers.samples" 2>/dev/null &
SAMPLER=$!
one_writer() { case "$(writer_of state-loader) $(writer_of state-loader-2)" in "1 0" | "0 1") return 0 ;; esac; return 1; }
check "one state-loader writes before the load" wait_for 20 one_writer

# ---- the load: the gRPC peer releases its half, HTTP posts the other ----
T0=$(date +%s)
: >"$TD_TMP/peer.go"
TD_PORT[ingest.http_port]=$I2H # post_stream targets ingest-2
post_stream "$TD_TMP/http.jsonl" "$TD_TMP/http.accepted" 170 >"$TD_TMP/post.out" 2>&1 &
POST_PID=$!

stored() { sql 'SELECT count(*) FROM alerts' 2>/dev/null || echo 0; }
# progress — waits until PostgreSQL holds more alerts than at the last call
# (at most 20 s), so that each fault lands while work flows.
LAST=0
progress() {
	local deadline=$(($(date +%s) + 20)) n
	while [ "$(date +%s)" -lt "$deadline" ]; do
		n="$(stored)"
		if [ "${n:-0}" -gt "$LAST" ]; then LAST=$n; return 0; fi
		sleep 0.2
	done
	return 1
}

for victim in correlator-2 ingest persistence ingest-2 api-gateway notifier state-loader redis \
	correlator persistence-2 postgres api-gateway-2 notifier-2 correlator-3; do
	progress || diag "no new alert stored for 20 s before faulting $victim"
	case "$victim" in
	redis)
		kill -KILL "$TD_REDIS_PID" 2>/dev/null
		wait "$TD_REDIS_PID" 2>/dev/null
		redis-server --bind 127.0.0.1 --port "$TD_REDIS_PORT" --save '' --appendonly no \
			--dir "$TD_TMP/redis" --daemonize no --protected-mode yes \
			--logfile "$TD_TMP/redis/redis.log" >/dev/null 2>&1 &
		TD_REDIS_PID=$!
		wait_for 10 sh -c "redis-cli -p $TD_REDIS_PORT ping 2>/dev/null | grep -q PONG" ||
			bail "redis did not restart"
		;;
	postgres)
		# -m fast: a clean shutdown, so the harness's synchronous_commit=off
		# loses nothing.  Once persistence sets synchronous_commit=on in its
		# own sessions (issue 16, hardening), -m immediate is safe here too.
		pg_stop
		pg_start || bail "PostgreSQL did not restart"
		;;
	ingest)
		# Falco's gRPC output has no acknowledgement: alerts it wrote to a
		# client that dies before journaling them are lost with real Falco
		# too.  So the gRPC ingest is killed once it has journaled its whole
		# half, while its journal still holds work: the journal must survive
		# the SIGKILL.  Journaled: it received all, then asked twice more
		# (it journals a drain 2 ms after its last alert and asks again at
		# once; the first request may predate that, the second cannot).
		all_received() { [ "$(metric ingest tfdrift_ingest_falco_grpc_alerts_total)" = "$HALF" ]; }
		wait_for 60 all_received || diag "the gRPC ingest did not receive all $HALF alerts"
		r0="$(grep -c '^request' "${TD_LOG[peer]}")"
		asked_twice() { [ "$(grep -c '^request' "${TD_LOG[peer]}")" -ge $((r0 + 2)) ]; }
		wait_for 10 asked_twice || diag "the gRPC ingest did not ask again"
		diag "killing the gRPC ingest with $(metric ingest tfdrift_ingest_journal_entries) journal entries pending"
		restart ingest
		;;
	state-loader)
		if [ "$(writer_of state-loader)" = 1 ]; then victim=state-loader; else victim=state-loader-2; fi
		restart "$victim"
		;;
	*) restart "$victim" ;;
	esac
	diag "$(($(date +%s) - T0)) s: $victim faulted and restarted, $LAST alerts stored"
done

wait "$POST_PID"
diag "$(($(date +%s) - T0)) s: HTTP posting done"
check_eq "HTTP: all $HALF alerts accepted by ingest-2 across its SIGKILL" "$HALF" \
	"$(sort -u "$TD_TMP/http.accepted" | wc -l)" ingest-2
diag "post_stream: $(cat "$TD_TMP/post.out")"

# ---- the end state ----
sort -k2 "$TD_TMP/want.pairs" | awk '{print $2}' >"$TD_TMP/want.keys"
complete() { [ "$(stored)" -ge "$NA" ]; }
wait_for 120 complete || diag "after 120 s PostgreSQL holds $(stored) of $NA alerts"
diag "$(($(date +%s) - T0)) s: load done"
sql "SELECT event_id || ' ' || alert_key FROM alerts" | sort >"$TD_TMP/db.pairs"
check_eq "PostgreSQL holds exactly the $NA expected alerts (event id and key, duplicates counted)" \
	"" "$(diff "$TD_TMP/want.pairs" "$TD_TMP/db.pairs" | head -n 5)"
check_eq "no event id stored twice beyond what explain expects" "" \
	"$(comm -3 <(awk '{print $1}' "$TD_TMP/want.pairs" | sort | uniq -c) \
		<(awk '{print $1}' "$TD_TMP/db.pairs" | sort | uniq -c) | head -n 3)"

for s in "${ALL[@]}"; do
	check "$s is ready at the end" wait_ready "$s" 60
done
for s in ingest ingest-2; do
	drained() { [ "$(metric "$1" tfdrift_ingest_journal_entries)" = 0 ]; }
	check "$s's journal is drained" wait_for 60 drained "$s"
done

# both gateways serve every alert: /stats counts them, and paging /drifts
# (500 a page) lists every id PostgreSQL holds
sql 'SELECT id FROM alerts ORDER BY id DESC' >"$TD_TMP/db.ids"
S="/api/v1/stats"
for g in "$TD_API_URL" "http://127.0.0.1:$G2P"; do
	API="$g"
	TD_API_URL="$g"
	gw_req GET "$S" "$TOK_VIEWER"
	check_eq "$g: /stats counts $NA alerts" "$NA" "$(jq -r .total <<<"$GW_BODY")"
	: >"$TD_TMP/gw.ids"
	cur=""
	for _ in $(seq 1 $((NA / 500 + 2))); do
		gw_req GET "/api/v1/drifts?limit=500${cur:+&cursor=$cur}" "$TOK_VIEWER"
		jq -r '.items[].id' <<<"$GW_BODY" >>"$TD_TMP/gw.ids"
		cur="$(jq -r '.next_cursor // empty' <<<"$GW_BODY")"
		[ -n "$cur" ] || break
	done
	check_eq "$g: /drifts lists every alert" "" "$(diff "$TD_TMP/db.ids" "$TD_TMP/gw.ids" | head -n 3)"
done
TD_API_URL="$API"

kill "$SAMPLER" 2>/dev/null
wait "$SAMPLER" 2>/dev/null
nsamples="$(wc -l <"$TD_TMP/writers.samples")"
both="$(grep -c '^1 1$' "$TD_TMP/writers.samples")"
check_eq "never two state-loaders writing ($nsamples samples of the lease)" 0 "$both"
check "exactly one state-loader writes at the end" wait_for 20 one_writer
kill -KILL "$PEER_PID" 2>/dev/null
wait "$PEER_PID" 2>/dev/null
diag "total $(($(date +%s) - T0)) s under load and checks"
finish
