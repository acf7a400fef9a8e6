#!/usr/bin/env bash
# A malformed message on the bus is counted in tfdrift_bus_decode_errors_total
# and logged; the receiver answers it (REP: Ack REJECTED), keeps running, and
# the pipeline still works afterwards.  Covered: every REP socket (ingest
# submit, persistence work, correlator work) and the SUB sockets (correlator
# state, notifier alerts, api-gateway alerts and state), with bytes that are
# no protobuf and with an envelope from a newer schema.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"

POKE="$TD_BIN/tfdrift-bus-poke"
[ -x "$POKE" ] || bail "no $POKE (make BUILD=$BUILD all)"

# decode_errors KEY — sum of every tfdrift_bus_decode_errors_total series of a
# service (or instance); "" if /metrics does not answer.
decode_errors() {
	local m
	m="$(curl -s --max-time 3 "$(admin_url "$1")/metrics")" || return 0
	[ -n "$m" ] || return 0
	awk '/^tfdrift_bus_decode_errors_total[{ ]/ { s += $NF } END { print s + 0 }' <<<"$m"
}

decode_series() {
	curl -s --max-time 3 "$(admin_url "$1")/metrics" | grep '^tfdrift_bus_decode_errors_total' |
		sed 's/^/#   /'
}

# log_mentions KEY — lines of the service log that talk about the bad message.
log_mentions() {
	grep -ciE 'decod|malformed|unpack|schema' "${TD_LOG[$1]}" 2>/dev/null || true
}

# expect_counted NAME KEY BEFORE WANT_DELTA LOG_BEFORE — the decode error
# counter rose by exactly WANT_DELTA (waiting up to 3 s for it), a log line
# says why, and the process is alive.
expect_counted() {
	local name="$1" key="$2" before="$3" want="$4" log_before="$5" now=""
	for _ in $(seq 1 30); do
		now="$(decode_errors "$key")"
		[ -n "$now" ] && [ $((now - before)) -ge "$want" ] && break
		sleep 0.1
	done
	if [ -z "$now" ]; then
		not_ok "$name: counted in tfdrift_bus_decode_errors_total" "/metrics does not answer" "$key"
	else
		check_eq "$name: tfdrift_bus_decode_errors_total rose by $want" "$want" "$((now - before))" "$key"
		decode_series "$key"
	fi
	if [ "${TD_NO_LOG_CHECK:-0}" = 1 ]; then
		:
	elif [ "$(log_mentions "$key")" -gt "$log_before" ]; then
		ok "$name: logged"
	else
		not_ok "$name: logged" "no new log line mentions decoding/malformed/schema" "$key"
	fi
	if alive "$key"; then
		ok "$name: $key keeps running"
	else
		not_ok "$name: $key keeps running" "it exited" "$key"
	fi
}

# poke_req NAME KEY URL DATA... — sends DATA to the REP socket at URL (of
# service KEY) and expects an Ack REJECTED back and one decode error.
poke_req() {
	local name="$1" key="$2" url="$3"
	shift 3
	local before logs out rc
	before="$(decode_errors "$key")"
	logs="$(log_mentions "$key")"
	out="$("$POKE" req "$url" "$@" --timeout 10000 2>&1)"
	rc=$?
	printf '%s\n' "$out" | sed 's/^/#   poke: /'
	if [ $rc -ne 0 ]; then
		not_ok "$name: answered" "no reply (tfdrift-bus-poke exit $rc)" "$key"
	elif grep -q 'status=ACK_STATUS_REJECTED' <<<"$out"; then
		ok "$name: answered with Ack REJECTED"
	else
		not_ok "$name: answered with Ack REJECTED" "reply: $(grep -E '^(envelope|ack):' <<<"$out" | tr '\n' ' ')" "$key"
	fi
	expect_counted "$name" "$key" "${before:-0}" 1 "$logs"
}

start_postgres
start_redis
write_config
start_up

# ---- REP sockets that listen: we dial them ----
poke_req "garbage to ingest's submit socket" ingest "${TD_URL[ingest.submit_listen]}" --garbage
poke_req "garbage to persistence's work socket" persistence "${TD_URL[persistence.work_listen]}" --garbage
# the second bad message on a socket within a short time may only be counted
# in the next log line ("suppressed"), so this one is checked without the log
TD_NO_LOG_CHECK=1 poke_req "newer schema to persistence's work socket" persistence "${TD_URL[persistence.work_listen]}" --newer-schema

# ---- sockets that dial: second instances pointed at tfdrift-bus-poke ----
read -r P_WORK P_STATE P_ALERTS P_ALERTS2 P_STATE2 A_CORR A_NOTI A_API API2 <<<"$(free_ports 9)"

TD_INSTANCE=correlator-x TD_ADMIN_PORT=$A_CORR \
	TD_ENV="TFDRIFT_CORRELATOR_ADMIN_PORT=$A_CORR TFDRIFT_CORRELATOR_INGEST_URL=tcp://127.0.0.1:$P_WORK TFDRIFT_CORRELATOR_STATE_URL=tcp://127.0.0.1:$P_STATE" \
	start_service correlator
TD_INSTANCE=notifier-x TD_ADMIN_PORT=$A_NOTI \
	TD_ENV="TFDRIFT_NOTIFIER_ADMIN_PORT=$A_NOTI TFDRIFT_NOTIFIER_ALERTS_URL=tcp://127.0.0.1:$P_ALERTS" \
	start_service notifier
TD_INSTANCE=api-gateway-x TD_ADMIN_PORT=$A_API \
	TD_ENV="TFDRIFT_API_GATEWAY_ADMIN_PORT=$A_API TFDRIFT_API_GATEWAY_PORT=$API2 TFDRIFT_API_GATEWAY_ALERTS_URL=tcp://127.0.0.1:$P_ALERTS2 TFDRIFT_API_GATEWAY_STATE_URL=tcp://127.0.0.1:$P_STATE2" \
	start_service api-gateway
for k in correlator-x notifier-x api-gateway-x; do
	wait_admin "$k" 30 || not_ok "$k comes up" "no /healthz" "$k"
done

declare -A B=() L=()
for k in correlator-x notifier-x api-gateway-x; do
	B[$k]="$(decode_errors "$k")"
	L[$k]="$(log_mentions "$k")"
done

# All pokes at once: each waits for its peer to dial in (NNG redials within
# 5 s).  One row per socket: instance, what it is, poke mode, port, data.
POKES=(
	"correlator-x|correlator work socket (REP, dials ingest)|req --listen|$P_WORK|--garbage"
	"correlator-x|correlator state subscriber|pub|$P_STATE|--garbage"
	"notifier-x|notifier alerts subscriber|pub|$P_ALERTS|--newer-schema"
	"api-gateway-x|api-gateway alerts subscriber|pub|$P_ALERTS2|--garbage"
	"api-gateway-x|api-gateway state subscriber|pub|$P_STATE2|--newer-schema"
)
declare -A WANT=([correlator-x]=0 [notifier-x]=0 [api-gateway-x]=0)
pids=()
for i in "${!POKES[@]}"; do
	IFS='|' read -r key what mode port data <<<"${POKES[$i]}"
	# shellcheck disable=SC2086 # mode is two words for the listening REQ
	"$POKE" $mode "tcp://127.0.0.1:$port" "$data" --timeout 15000 >"$TD_TMP/poke-$i.out" 2>&1 &
	pids[$i]=$!
done
for i in "${!POKES[@]}"; do
	IFS='|' read -r key what mode port data <<<"${POKES[$i]}"
	wait "${pids[$i]}"
	rc=$?
	sed "s/^/#   poke $i: /" "$TD_TMP/poke-$i.out"
	if [ "$mode" = pub ]; then
		if [ $rc -eq 0 ]; then
			ok "$what: dialed in and got the malformed message ($data)"
			WANT[$key]=$((WANT[$key] + 1))
		elif [ $rc -eq 3 ]; then
			not_ok "$what: dialed in and got the malformed message" \
				"it never subscribed to tcp://127.0.0.1:$port within 15 s" "$key"
		else
			not_ok "$what: dialed in and got the malformed message" "tfdrift-bus-poke exit $rc" "$key"
		fi
	elif [ $rc -eq 0 ] && grep -q 'status=ACK_STATUS_REJECTED' "$TD_TMP/poke-$i.out"; then
		ok "$what: answered the malformed request with Ack REJECTED"
		WANT[$key]=$((WANT[$key] + 1))
	elif [ $rc -eq 0 ]; then
		not_ok "$what: answered the malformed request with Ack REJECTED" \
			"reply: $(grep -E '^(envelope|ack):' "$TD_TMP/poke-$i.out" | tr '\n' ' ')" "$key"
		WANT[$key]=$((WANT[$key] + 1))
	else
		not_ok "$what: answered the malformed request with Ack REJECTED" "tfdrift-bus-poke exit $rc (3: no peer or no reply)" "$key"
	fi
done

# each message that reached a socket is counted once
for key in correlator-x notifier-x api-gateway-x; do
	expect_counted "$key" "$key" "${B[$key]:-0}" "${WANT[$key]}" "${L[$key]}"
done

# ---- the pipeline still works ----
FILE="$TD_TMP/small.json"
gen_cloudtrail "$FILE" 20 7 || bail "generator failed"
if timeout 60 "$TD_BIN/tfdrift-ingest" --config "$TD_CONFIG" replay "$FILE" >"$TD_TMP/logs/replay.log" 2>&1; then
	ok "a replay after the malformed messages exits 0"
else
	TD_LOG[replay]="$TD_TMP/logs/replay.log"
	not_ok "a replay after the malformed messages exits 0" "exit $?" replay ingest correlator persistence
fi
# The correlator's own offline mode says which of these events raise alerts.
want="$("$TD_BIN/tfdrift-correlator" explain "$FILE" 2>/dev/null |
	jq -r 'select(.decision == "alerts") | .event_id' | sort -u | wc -l)"
check "explain expects alerts from the small file" test "$want" -gt 0
check_eq "... and the $want events explain expects to alert land in PostgreSQL" "$want" \
	"$(sql 'SELECT count(DISTINCT event_id) FROM alerts' 2>&1)" persistence correlator

for s in "${TD_SERVICES[@]}"; do
	alive "$s" || not_ok "$s still running at the end" "it exited" "$s"
done

finish
