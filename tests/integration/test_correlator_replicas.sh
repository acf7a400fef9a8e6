#!/usr/bin/env bash
# Three correlator replicas share ingest's work: 20,000 CloudTrail events are
# replayed, one replica is SIGKILLed mid-stream, and PostgreSQL ends up with
# every alert `tfdrift-correlator explain` expects from the same file exactly
# once (the dead replica's requests are resent to the others; eventIDs are
# marked done in Redis only after persistence acknowledged them).
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"

N=20000
start_postgres
start_redis
write_config
start_all
read -r A2 A3 <<<"$(free_ports 2)"
TD_INSTANCE=correlator-2 TD_ADMIN_PORT=$A2 TD_ENV="TFDRIFT_CORRELATOR_ADMIN_PORT=$A2" start_service correlator
TD_INSTANCE=correlator-3 TD_ADMIN_PORT=$A3 TD_ENV="TFDRIFT_CORRELATOR_ADMIN_PORT=$A3" start_service correlator
for s in "${TD_SERVICES[@]}" correlator-2 correlator-3; do
	wait_admin "$s" 30 || bail "$s did not come up"
done
for s in persistence ingest correlator correlator-2 correlator-3; do
	wait_ready "$s" 30 || diag "$s is not ready after 30 s: $(curl -s "$(admin_url "$s")/readyz")"
done

FILE="$TD_TMP/cloudtrail-$N.json.gz"
check "generate $N CloudTrail records" gen_cloudtrail "$FILE" "$N" 5 --gzip
"$TD_BIN/tfdrift-correlator" explain "$FILE" 2>/dev/null | jq -r '.alerts[]?.alert_key' | sort -u >"$TD_TMP/want.keys"
NA="$(wc -l <"$TD_TMP/want.keys")"
check "explain expects alerts" test "$NA" -gt 0
diag "explain: $NA alerts expected"

TD_LOG[replay]="$TD_TMP/logs/replay.log"
timeout 150 "$TD_BIN/tfdrift-ingest" --config "$TD_CONFIG" replay "$FILE" >"${TD_LOG[replay]}" 2>&1 &
replay_pid=$!

# kill replica 2 once it has taken a share of the work
killed=0
for _ in $(seq 1 600); do
	n2="$(metric correlator-2 tfdrift_correlator_events_total)"
	if [ "${n2:-0}" -gt 0 ] 2>/dev/null; then
		kill_service correlator-2
		killed=1
		diag "correlator-2 SIGKILLed after it had correlated ${n2} events"
		break
	fi
	kill -0 "$replay_pid" 2>/dev/null || break
	sleep 0.05
done
check_eq "a replica was killed mid-stream" "1" "$killed"

wait "$replay_pid"
rc=$?
check_eq "replay of $N events exits 0 with a replica gone" "0" "$rc" replay ingest correlator correlator-3

n1="$(metric correlator tfdrift_correlator_events_total)"
n3="$(metric correlator-3 tfdrift_correlator_events_total)"
diag "events correlated: correlator ${n1:-?}, correlator-3 ${n3:-?} (+ the killed one's share)"
check "the surviving replicas both took work" test "${n1:-0}" -gt 0 -a "${n3:-0}" -gt 0

sql 'SELECT alert_key FROM alerts ORDER BY 1' 2>&1 | sort >"$TD_TMP/db.keys"
check_eq "every expected alert is stored exactly once (rows|distinct keys)" "$NA|$NA" \
	"$(sql 'SELECT count(*), count(DISTINCT alert_key) FROM alerts' 2>&1)" persistence correlator correlator-3
if cmp -s "$TD_TMP/want.keys" "$TD_TMP/db.keys"; then
	ok "PostgreSQL holds exactly the alerts explain expects"
else
	not_ok "PostgreSQL holds exactly the alerts explain expects" \
		"$(comm -23 "$TD_TMP/want.keys" "$TD_TMP/db.keys" | wc -l) missing, $(comm -13 "$TD_TMP/want.keys" "$TD_TMP/db.keys" | wc -l) unexpected" persistence
fi
first_id="$(event_ids "$FILE" | head -n 1)"
check_eq "eventIDs are marked done in Redis after the alerts were stored" "done" \
	"$(rcli GET "tfdrift:ev:$first_id")"
check "... all $N of them" test "$(rcli DBSIZE)" -ge "$N"
finish
