#!/usr/bin/env bash
# The eventID claim between correlator replicas (services/correlator/
# redis_index.h, correlate.h), with two real correlators, real Redis,
# persistence and PostgreSQL.  Each correlator takes work from its own REQ
# socket (tfdrift-bus-poke standing in for ingest: the same Envelope and
# CloudEventBatch ingest sends, built from a CloudTrail record), so the same
# event can reach both at the same moment:
#   1. both get it at once: exactly one produces the alert; the other either
#      found it done or saw the claim and handed the batch back (no reply),
#      and a resend of that batch is then answered as a duplicate;
#   2. a claim held by a replica that died (set in Redis by hand) makes the
#      correlator leave the event (no reply, counted) until the claim expires;
#      then the event is done.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
need jq redis-cli

start_postgres
start_redis
cfg_set state_loader local_files "[\"prod/app=$TD_ROOT/examples/states/prod-app.tfstate\"]"
cfg_set correlator dedupe_window 90m
write_config
start_up state-loader persistence
read -r P1 P2 A2 <<<"$(free_ports 3)"
TD_ENV="TFDRIFT_CORRELATOR_INGEST_URL=tcp://127.0.0.1:$P1" start_service correlator
TD_INSTANCE=correlator-2 TD_ADMIN_PORT=$A2 \
	TD_ENV="TFDRIFT_CORRELATOR_ADMIN_PORT=$A2 TFDRIFT_CORRELATOR_INGEST_URL=tcp://127.0.0.1:$P2" \
	start_service correlator
for s in correlator correlator-2; do wait_admin "$s" 30 || bail "$s did not come up"; done
wait_ready state-loader 30 || bail "state-loader is not ready"
for _ in $(seq 1 300); do
	[ -n "$(rcli GET tfdrift:gen)" ] && break
	sleep 0.05
done
[ -n "$(rcli GET tfdrift:gen)" ] || bail "no resource index in Redis"

# one record each: ModifyInstanceAttribute and CreateTags on aws_instance.web[0]
DEMO=examples/events/demo-cloudtrail.json
jq '{Records: [.Records[1]]}' "$DEMO" >"$TD_TMP/ev1.json"
jq '{Records: [.Records[17]]}' "$DEMO" >"$TD_TMP/ev2.json"
ID1="$(jq -r '.Records[0].eventID' "$TD_TMP/ev1.json")"
ID2="$(jq -r '.Records[0].eventID' "$TD_TMP/ev2.json")"

# alerts a correlator produced (every kind), from its /metrics
produced() {
	curl -s --max-time 3 "$(admin_url "$1")/metrics" |
		awk '/^tfdrift_correlator_alerts_total/ { n += $2 } END { print n + 0 }'
}
# poke PORT FILE OUT [--go FILE] — sends FILE's batch to the correlator on PORT
poke() {
	local port="$1" file="$2" out="$3"
	shift 3
	"$TD_BIN/tfdrift-bus-poke" req "tcp://127.0.0.1:$port" --listen --cloudtrail "$file" \
		--timeout 20000 "$@" >"$out" 2>&1
}
alerts_of() { sql "SELECT count(*) FROM alerts WHERE event_id = '$1'"; }

# ---- 1. the same event, both replicas, the same moment ----------------------------
GO="$TD_TMP/go"
poke "$P1" "$TD_TMP/ev1.json" "$TD_TMP/a.out" --go "$GO" &
pa=$!
poke "$P2" "$TD_TMP/ev1.json" "$TD_TMP/b.out" --go "$GO" &
pb=$!
for _ in $(seq 1 400); do
	grep -q '^connected' "$TD_TMP/a.out" 2>/dev/null && grep -q '^connected' "$TD_TMP/b.out" 2>/dev/null && break
	sleep 0.025
done
check "both correlators are connected to their poke" grep -q '^connected' "$TD_TMP/a.out" "$TD_TMP/b.out"
touch "$GO"
wait "$pa"
ra=$?
wait "$pb"
rb=$?
diag "replica 1: exit $ra, $(grep '^ack' "$TD_TMP/a.out" || echo 'no reply')"
diag "replica 2: exit $rb, $(grep '^ack' "$TD_TMP/b.out" || echo 'no reply')"

n1="$(produced correlator)"
n2="$(produced correlator-2)"
check_eq "exactly one replica produced the event's alert (replica 1: $n1, replica 2: $n2)" 1 \
	"$((n1 + n2))" correlator correlator-2
check_eq "persistence stored it once" 1 "$(alerts_of "$ID1")"
check_eq "the event is marked done in Redis" done "$(rcli GET "tfdrift:ev:$ID1")"
ttl="$(rcli TTL "tfdrift:ev:$ID1")"
check "...for correlator.dedupe_window (90 min; TTL $ttl s)" test "$ttl" -gt 5300 -a "$ttl" -le 5400
winner=a
loser=b
lport=$P2
if [ "$n2" = 1 ]; then winner=b loser=a lport=$P1; fi
check "the winner answered OK with the alert" \
	grep -q 'ack: status=ACK_STATUS_OK accepted=1 duplicates=0 produced=1' "$TD_TMP/$winner.out"
if grep -q '^ack' "$TD_TMP/$loser.out"; then
	diag "the other replica came second: it found the event done"
	check "...and answered OK without an alert" \
		grep -q 'ack: status=ACK_STATUS_OK accepted=1 duplicates=0 produced=0' "$TD_TMP/$loser.out"
else
	diag "the other replica saw the claim and handed the batch back"
	c1="$(metric correlator tfdrift_correlator_batches_claimed_elsewhere_total)"
	c2="$(metric correlator-2 tfdrift_correlator_batches_claimed_elsewhere_total)"
	check_eq "...counted as claimed elsewhere" 1 "$((${c1:-0} + ${c2:-0}))"
fi
# what ingest does with an unanswered batch: send it again
poke "$lport" "$TD_TMP/ev1.json" "$TD_TMP/again.out"
check "a resend to the other replica is answered OK without an alert" \
	grep -q 'ack: status=ACK_STATUS_OK accepted=1 duplicates=0 produced=0' "$TD_TMP/again.out"
check_eq "still one alert in all" 1 "$(($(produced correlator) + $(produced correlator-2)))"

# ---- 2. a claim held by a replica that died ---------------------------------------
# the claim outlives every wait below (the count, the unanswered poke), however
# slow the machine, and then expires
rcli SET "tfdrift:ev:$ID2" "claim:a-replica-that-died" PX 15000 >/dev/null
before="$(metric correlator tfdrift_correlator_batches_claimed_elsewhere_total)"
poke "$P1" "$TD_TMP/ev2.json" "$TD_TMP/held.out" --timeout 8000 &
pp=$!
want=$((${before:-0} + 1))
for _ in $(seq 1 200); do
	[ "$(metric correlator tfdrift_correlator_batches_claimed_elsewhere_total)" = "$want" ] && break
	sleep 0.05
done
check_eq "while another replica's claim holds, the batch is left to it (counted)" "$want" \
	"$(metric correlator tfdrift_correlator_batches_claimed_elsewhere_total)"
check_eq "...the claim is untouched" "claim:a-replica-that-died" "$(rcli GET "tfdrift:ev:$ID2")"
wait "$pp"
check_eq "...with no reply" 3 "$?"
check_eq "...and no alert for it" 0 "$(alerts_of "$ID2")"
for _ in $(seq 1 600); do
	[ "$(rcli PTTL "tfdrift:ev:$ID2")" = -2 ] && break
	sleep 0.05
done
check_eq "the dead replica's claim expires" -2 "$(rcli PTTL "tfdrift:ev:$ID2")"
poke "$P1" "$TD_TMP/ev2.json" "$TD_TMP/redo.out"
check "after it expired the event is done: OK with the alert" \
	grep -q 'ack: status=ACK_STATUS_OK accepted=1 duplicates=0 produced=1' "$TD_TMP/redo.out"
check_eq "...stored once" 1 "$(alerts_of "$ID2")"
check_eq "...and marked done" done "$(rcli GET "tfdrift:ev:$ID2")"

finish
