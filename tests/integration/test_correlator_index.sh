#!/usr/bin/env bash
# The correlator's reads of the per-workspace index (docs/redis-keys.md,
# services/correlator/redis_index.h) against a real Redis written by hand in
# the state-loader's layout, with real persistence and PostgreSQL; events come
# from tfdrift-bus-poke (the CloudEventBatch ingest sends) and StateNotices
# from tfdrift-bus-poke pub (what the state-loader publishes).  Which
# generation's attributes the correlator read shows in the alert: each
# generation of prod/app holds another instance_type, the alert's old value.
#   1. no P gen: events are handed back (no reply);
#   2. a claim "workspace\taddress\ttype\tgen\torder" leads to the attributes
#      of its generation (HGET P g:<gen>:res:<workspace>);
#   3. a notice naming prod/app drops its cached claim: the next event reads
#      the new generation;
#   4. a notice naming only another workspace keeps prod/app's cached claim;
#      one naming none keeps it too when it announces a known generation
#      (statuses only), drops everything when a new one (an older publisher);
#   5. a switch no notice announced is found by the P gen poll (everything
#      dropped, counted as unannounced);
#   6. a claim whose generation is gone from Redis (grace expired, notice
#      lost) drops the workspace's answers and the event is retried once;
#   7. a full notice drops everything;
#   8. a notice whose generation lies more than its switches above the last
#      one known follows a lost notice: everything is dropped.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/correlator.sh
source "$(dirname "$0")/../lib/correlator.sh"
need jq redis-cli

start_postgres
start_redis
write_config
start_up persistence
wait_ready persistence 30 || bail "persistence is not ready"
read -r PI PS <<<"$(free_ports 2)"
TD_ENV="TFDRIFT_CORRELATOR_INGEST_URL=tcp://127.0.0.1:$PI TFDRIFT_CORRELATOR_STATE_URL=tcp://127.0.0.1:$PS" \
	start_service correlator
wait_admin correlator 30 || bail "correlator did not come up"

P=tfdrift:
WS=prod/app
ADDR='aws_instance.web[0]'
FIELD=@123456789012:eu-west-1:i-0a1b2c3d4e5f60718
# ModifyInstanceAttribute: instance i-0a1b2c3d4e5f60718 -> t3.xlarge (demo_event)
# old_of EVENT_ID — the instance_type the alert says the state had
old_of() { sql "SELECT changes->0->>'old' FROM alerts WHERE event_id = '$1'"; }
# generation GEN TYPE [packed] — writes prod/app's generation GEN (its
# attributes with instance_type TYPE, packed as the state-loader packs large
# ones: attrs_codec.h) and points the claim and P wsgen at it; P gen is left
# to the caller (a switch announces it, a lost notice may not)
generation() {
	local attrs="{\"id\":\"i-0a1b2c3d4e5f60718\",\"instance_type\":\"$2\",\"tags\":{}}"
	if [ "${3:-}" = packed ]; then
		hset_packed "${P}g:$1:res:$WS" "$ADDR" "$attrs"
	else
		rcli HSET "${P}g:$1:res:$WS" "$ADDR" "$attrs" >/dev/null
	fi
	rcli HSET "${P}g:$1:nodes:$WS" "$ADDR" '{"type":"aws_instance","mode":"managed"}' >/dev/null
	rcli HSET "${P}idx" "$FIELD" "$(printf '%s\t%s\taws_instance\t%s\t0\nother/ws\taws_instance.dup\taws_instance\t3\t1' "$WS" "$ADDR" "$1")" >/dev/null
	rcli HSET "${P}wsgen" "$WS" "$1" >/dev/null
}
# notice GEN [--changed WS]... [--full] — publishes a StateNotice on the
# correlator's state socket and waits until the correlator logged it
notice() {
	local gen="$1" before
	before="$(grep -c "\"state changed\".*\"generation\":$gen," "${TD_LOG[correlator]}")"
	"$TD_BIN/tfdrift-bus-poke" pub "tcp://127.0.0.1:$PS" --state-notice "$@" --timeout 10000 \
		>"$TD_TMP/pub.out" 2>&1 || diag "notice: $(cat "$TD_TMP/pub.out")"
	for _ in $(seq 1 200); do
		[ "$(grep -c "\"state changed\".*\"generation\":$gen," "${TD_LOG[correlator]}")" -gt "$before" ] && return 0
		sleep 0.05
	done
	diag "the correlator did not log the notice of generation $gen"
	return 1
}
drops() { metric correlator "tfdrift_correlator_cache_drops_total{reason=\"$1\"}"; }

# ---- 1. no index yet ---------------------------------------------------------------------
# (unanswered: the poke waits 8 s for the correlator to redial, 8 s for a reply)
POKE_TIMEOUT=8000 demo_event "$TD_TMP/nogen.out"
check_eq "no P gen: the batch reaches the correlator and is handed back (no reply)" "3|sent" \
	"$?|$(grep -o '^sent' "$TD_TMP/nogen.out")"
check "...and the correlator says why" grep -q 'no resource index in redis yet' "${TD_LOG[correlator]}"

# ---- 2. the claim's generation -----------------------------------------------------------
generation 5 t3.micro
rcli SET "${P}gen" 5 >/dev/null
# a stale generation of the same workspace that nothing points at
rcli HSET "${P}g:2:res:$WS" "$ADDR" '{"instance_type":"t3.nano"}' >/dev/null
demo_event "$TD_TMP/e2.out"
check "an alert for the instance" grep -q 'ack: status=ACK_STATUS_OK accepted=1 duplicates=0 produced=1' "$TD_TMP/e2.out"
check_eq "...of prod/app, old value from generation 5 (the first claim's)" "$WS|t3.micro" \
	"$(sql "SELECT workspace || '|' || (changes->0->>'old') FROM alerts WHERE event_id = '$EV'")"

# ---- 3. a notice naming prod/app ---------------------------------------------------------
# (each switch takes the next generation, as P gen_seq hands them out)
generation 6 t3.small
rcli SET "${P}gen" 6 >/dev/null
w0="$(drops workspaces)"
notice 6 --changed "$WS"
check_eq "the notice dropped the workspace's answers (counted)" "$((${w0:-0} + 1))" "$(drops workspaces)"
demo_event "$TD_TMP/e3.out"
check_eq "the next event reads generation 6" t3.small "$(old_of "$EV")"

# ---- 4. a notice naming another workspace ------------------------------------------------
# the notice (generation 7) names only other/ws: prod/app's cached claim
# (generation 6) stays, and so do its attributes of generation 6 — even
# though prod/app's claim in Redis was moved to 7 by hand meanwhile
generation 7 t3.medium packed
rcli SET "${P}gen" 7 >/dev/null
notice 7 --changed other/ws
demo_event "$TD_TMP/e4.out"
check_eq "a notice of another workspace keeps prod/app's cached answer (generation 6)" t3.small \
	"$(old_of "$EV")"
notice 7 --changed other/ws --changed "$WS"
demo_event "$TD_TMP/e4b.out"
check_eq "once a notice names prod/app, generation 7 (its attributes unpacked)" t3.medium "$(old_of "$EV")"

# a notice naming no workspace: statuses only when its generation is known (a
# failed load: nothing dropped), else a switch from an older state-loader
f0="$(drops full)"
w0="$(drops workspaces)"
generation 8 m5.large # in Redis, not announced: P gen stays 7
notice 7
check_eq "a notice of statuses only (generation 7, known; no workspace named) drops nothing" \
	"$f0|$w0" "$(drops full)|$(drops workspaces)"
demo_event "$TD_TMP/e4c.out"
check_eq "... prod/app's cached answer stays (generation 7)" t3.medium "$(old_of "$EV")"
rcli SET "${P}gen" 8 >/dev/null
notice 8
check_eq "a notice of a new generation naming no workspace (an older state-loader) drops everything" \
	"$((${f0:-0} + 1))" "$(drops full)"
demo_event "$TD_TMP/e4d.out"
check_eq "... the next event reads generation 8" m5.large "$(old_of "$EV")"

# ---- 5. a switch whose notice was lost ---------------------------------------------------
u0="$(drops unannounced)"
generation 9 t3.large
rcli SET "${P}gen" 9 >/dev/null
# P gen is read every 5 s: poll until an event shows the new generation
got=""
for _ in $(seq 1 40); do
	demo_event "$TD_TMP/e5.out"
	got="$(old_of "$EV")"
	[ "$got" = t3.large ] && break
	sleep 0.25
done
check_eq "a switch no notice announced is found through P gen" t3.large "$got"
check_eq "...everything dropped, counted as unannounced" "$((${u0:-0} + 1))" "$(drops unannounced)"

# ---- 6. a claim whose generation is gone ------------------------------------------------
# (a claim cached before a switch whose notice was lost, its generation's keys
# expired since): the workspace's answers are dropped and the event retried;
# a claim read afresh that still names a missing generation is an index at
# fault, not a stale cache: answered (a coarse alert), warned, never a loop
x0="$(drops expired)"
generation 10 t3.2xlarge
rcli DEL "${P}g:10:res:$WS" >/dev/null
rcli SET "${P}gen" 10 >/dev/null
notice 10 --changed "$WS"
POKE_TIMEOUT=8000 demo_event "$TD_TMP/e6.out"
check_eq "a claim whose generation is gone: the batch is handed back (no reply)" "3|sent" \
	"$?|$(grep -o '^sent' "$TD_TMP/e6.out")"
ID6="$EV"
for _ in $(seq 1 100); do
	[ "$(drops expired)" = "$((${x0:-0} + 1))" ] && break
	sleep 0.1
done
check_eq "...the workspace's cached answers dropped (counted)" "$((${x0:-0} + 1))" "$(drops expired)"
check_eq "...no alert for it" 0 "$(sql "SELECT count(*) FROM alerts WHERE event_id = '$ID6'")"
# what ingest does with an unanswered batch: send it again
"$TD_BIN/tfdrift-bus-poke" req "tcp://127.0.0.1:$PI" --listen --cloudtrail "$TD_TMP/ev-$n_ev.json" \
	--timeout 10000 --go "$DEMO_EVENTS" >"$TD_TMP/e6b.out" 2>&1
check "the resent batch is answered with an alert" \
	grep -q 'ack: status=ACK_STATUS_OK accepted=1 duplicates=0 produced=1' "$TD_TMP/e6b.out"
check_eq "...a coarse one (the attributes are unknown)" "modified|" \
	"$(sql "SELECT kind || '|' || coalesce(changes->0->>'old', '') FROM alerts WHERE event_id = '$ID6'")"
check "...and the correlator names the generation missing" \
	grep -q 'claims resources of a generation that is not in redis.*"generation":10' "${TD_LOG[correlator]}"

# ---- 7. a full notice --------------------------------------------------------------------
generation 11 t3.nano packed
rcli SET "${P}gen" 11 >/dev/null
f0="$(drops full)"
notice 11 --full
check_eq "a full notice drops everything (counted)" "$((${f0:-0} + 1))" "$(drops full)"
demo_event "$TD_TMP/e7.out"
check_eq "...the next event reads generation 11" t3.nano "$(old_of "$EV")"

# ---- 8. a lost notice, then the next one -------------------------------------------------
# prod/app switches (12) and its notice is lost; other/ws switches (13) and
# its notice names other/ws only.  P gen (13) is what that notice announced,
# so the poll sees nothing new, but 13 lies more than one switch above 11:
# a notice was missed, everything goes
u0="$(drops unannounced)"
generation 12 c5.large
rcli SET "${P}gen" 12 >/dev/null
rcli SET "${P}gen" 13 >/dev/null
notice 13 --changed other/ws
check_eq "a notice after a lost one drops everything (counted as unannounced)" \
	"$((${u0:-0} + 1))" "$(drops unannounced)"
demo_event "$TD_TMP/e8.out"
check_eq "...the next event reads prod/app's generation 12" c5.large "$(old_of "$EV")"
check "dropped entries are counted" test "$(metric correlator tfdrift_correlator_cache_dropped_entries_total)" -gt 0

finish
