#!/usr/bin/env bash
# PostgreSQL stopped for 30 s while 5,000 alerts arrive, then started: every
# alert is answered OK during the outage (spooled, fsynced), /readyz (still 200, with a note) and the
# metrics show the database down and the spool's depth and age.  Still during
# the outage persistence is SIGKILLed and restarted: it finds its spool and
# takes 500 more alerts although it cannot migrate yet.  Once the database is
# back all 5,500 are stored exactly once and published exactly once.  The only
# long persistence test.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/persistence.sh
source "$(dirname "$0")/../lib/persistence.sh"

N=5000
OUTAGE=30

start_persistence_only
alert_gen sub --idle 5000 --max 120000 >"$TD_TMP/sub.keys" 2>"$TD_TMP/sub.err" &
sub_pid=$!
for _ in $(seq 1 100); do
	[ "$(metric persistence 'tfdrift_bus_peers{socket="persistence.alerts"}')" = 1 ] && break
	sleep 0.1
done

t0=$(date +%s)
pg_stop || bail "cannot stop PostgreSQL"
diag "PostgreSQL stopped"
# 5,000 alerts spread over the first 10 s of the outage
line="$(alert_gen send --count $N --batch 50 --in-flight 4 --seed 21 --rate 500 2>"$TD_TMP/send.err")"
rc=$?
diag "$line"
check_eq "all $N alerts answered OK while PostgreSQL is down" "0:$N" "$rc:$(gen_field "$line" accepted)" persistence
check_eq "... none stored yet (produced=0)" "0" "$(gen_field "$line" produced)"

# ready means "can take alerts": it spools, so it stays ready (a 503 would
# cut the correlators off from the spool built for this outage)
check_eq "/readyz answers 200 while the database is down (it spools)" "200" "$(http_code "$(admin_url persistence)/readyz")"
body="$(curl -s "$(admin_url persistence)/readyz")"
check_eq "... and its postgres note names the database and the spool depth" "yes" \
	"$(jq -r '.checks.postgres.note' <<<"$body" | grep -q "database down.*spool: $N alerts" && echo yes || echo "$body")"
check_eq "tfdrift_persistence_db_up is 0" "0" "$(metric persistence tfdrift_persistence_db_up)"
check_eq "tfdrift_persistence_spool_alerts is $N" "$N" "$(metric persistence tfdrift_persistence_spool_alerts)"
sleep 1.5
age="$(metric persistence tfdrift_persistence_spool_oldest_age_seconds)"
check_eq "tfdrift_persistence_spool_oldest_age_seconds grows (>= 1)" "yes" \
	"$(awk -v a="${age:-0}" 'BEGIN { print (a >= 1 ? "yes" : a) }')"
segs="$(find "$TD_TMP/data/persistence/spool" -name '*.spool' | wc -l)"
check_eq "the spool is on disk" "yes" "$([ "$segs" -ge 1 ] && echo yes || echo "$segs segments")"

# crash and restart while the database is still down
kill_service persistence
start_service persistence
wait_admin persistence 30 || bail "persistence did not come back after SIGKILL"
check_eq "after SIGKILL and restart the spool still holds $N alerts" "$N" \
	"$(metric persistence tfdrift_persistence_spool_alerts)" persistence
M=500
line="$(alert_gen send --count $M --batch 50 --in-flight 4 --seed 22 2>>"$TD_TMP/send.err")"
check_eq "the restarted process takes $M more alerts before it could migrate" "0:$M" \
	"$?:$(gen_field "$line" accepted)" persistence
N=$((N + M))

left=$((OUTAGE - ($(date +%s) - t0)))
[ "$left" -gt 0 ] && sleep "$left"
pg_start || bail "cannot start PostgreSQL again"
diag "PostgreSQL started after $(($(date +%s) - t0)) s"

if wait_metric persistence tfdrift_persistence_spool_alerts 0 60; then
	ok "the spool drains once PostgreSQL is back"
else
	not_ok "the spool drains once PostgreSQL is back" "still $(metric persistence tfdrift_persistence_spool_alerts)" persistence
fi
check_eq "all $N stored exactly once (rows|distinct keys)" "$N|$N" \
	"$(sql "SELECT count(*), count(DISTINCT alert_key) FROM alerts")"
check_eq "the spool directory is empty" "0" "$(find "$TD_TMP/data/persistence/spool" -name '*.spool' | wc -l)"
check_eq "/readyz has no note once the database is back" "null" \
	"$(curl -s "$(admin_url persistence)/readyz" | jq -c '.checks.postgres.note')"
wait "$sub_pid"
check_eq "each of the $N was published exactly once after the drain" "$N|$N" \
	"$(wc -l <"$TD_TMP/sub.keys")|$(sort -u "$TD_TMP/sub.keys" | wc -l)"
finish
