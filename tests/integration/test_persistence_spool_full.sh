#!/usr/bin/env bash
# A bounded spool: with persistence.spool_max_bytes tiny and PostgreSQL
# stopped, requests are spooled until the spool is full, then answered Ack
# RETRY (nothing stored, the sender keeps the alerts) instead of growing the
# disk: the spool stays under its limit, /readyz, a metric and one log line say
# it is full.  Once PostgreSQL is back the spool drains, and the refused
# alerts sent again are stored: every alert exactly once.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/persistence.sh
source "$(dirname "$0")/../lib/persistence.sh"

MAX=65536
start_postgres
write_config
TD_ENV="TFDRIFT_PERSISTENCE_SPOOL_MAX_BYTES=$MAX" start_service persistence
wait_ready persistence 30 || bail "persistence is not ready: $(curl -s "$(admin_url persistence)/readyz")"
check_eq "tfdrift_persistence_spool_max_bytes shows the limit" "$MAX" \
	"$(metric persistence tfdrift_persistence_spool_max_bytes)"

pg_stop || bail "cannot stop PostgreSQL"
N=2000
line="$(alert_gen send --count $N --batch 50 --in-flight 2 --seed 40 2>"$TD_TMP/send.err")"
rc=$?
diag "$line"
ok_reqs="$(gen_field "$line" ok)"
retry_reqs="$(gen_field "$line" rejected)"
check_eq "with PostgreSQL down the first requests are spooled (answered OK)" "yes" \
	"$([ "${ok_reqs:-0}" -ge 1 ] && echo yes || echo "ok=$ok_reqs")"
check_eq "... and once the spool is full the rest are answered RETRY, not OK (sender exit 1)" "1:yes" \
	"$rc:$([ "${retry_reqs:-0}" -ge 1 ] && [ $((ok_reqs + retry_reqs)) -eq $((N / 50)) ] && echo yes || echo "$line")"
check_eq "... the RETRY says why" "yes" \
	"$(grep -q 'rejected: persistence cannot store alerts now: PostgreSQL does not take them and the spool is full' "$TD_TMP/send.err" && echo yes || head -n 3 "$TD_TMP/send.err")"
spooled=$((ok_reqs * 50))
check_eq "the spool holds exactly the alerts answered OK" "$spooled" "$(metric persistence tfdrift_persistence_spool_alerts)"
check_eq "... the refused ones are counted in tfdrift_persistence_alerts_refused_spool_full_total" \
	"$((N - spooled))" "$(metric persistence tfdrift_persistence_alerts_refused_spool_full_total)"
ondisk="$(find "$TD_TMP/data/persistence/spool" -name '*.spool' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')"
check_eq "the spool on disk stays within spool_max_bytes ($MAX)" "yes" \
	"$([ "$ondisk" -le $MAX ] && [ "$ondisk" -gt 0 ] && echo yes || echo "$ondisk bytes")"
check_eq "tfdrift_persistence_spool_full is 1, _spool_bytes what is on disk" "1|$ondisk" \
	"$(metric persistence tfdrift_persistence_spool_full)|$(metric persistence tfdrift_persistence_spool_bytes)"
body="$(curl -s "$(admin_url persistence)/readyz")"
check_eq "/readyz says the spool is full" "yes" \
	"$(jq -r '.checks.spool.reason' <<<"$body" | grep -q "spool full ($ondisk of $MAX bytes, $spooled alerts): requests PostgreSQL cannot take are answered RETRY" && echo yes || echo "$body")"
# Logged once per spell of fullness, not per refused request: a large batch can
# be refused and a smaller one still fit, so a spell may end and start again
# within the burst ("has room again" in between); it ends full.
full_lines="$(grep -c '"spool full; answering alert requests RETRY' "${TD_LOG[persistence]}")"
room_lines="$(grep -c '"spool has room again' "${TD_LOG[persistence]}")"
check_eq "one log line per spell of fullness (full $full_lines, room again $room_lines, requests refused $retry_reqs)" \
	"yes" "$([ "$full_lines" -eq $((room_lines + 1)) ] && [ "$full_lines" -le "$retry_reqs" ] && echo yes || echo no)"

pg_start || bail "cannot start PostgreSQL again"
if wait_metric persistence tfdrift_persistence_spool_alerts 0 60; then
	ok "the spool drains once PostgreSQL is back"
else
	not_ok "the spool drains once PostgreSQL is back" "still $(metric persistence tfdrift_persistence_spool_alerts)" persistence
fi
check_eq "tfdrift_persistence_spool_full is 0 again" "0" "$(metric persistence tfdrift_persistence_spool_full)"
wait_ready persistence 20 || diag "not ready: $(curl -s "$(admin_url persistence)/readyz")"
check_eq "/readyz answers 200 again" "200" "$(http_code "$(admin_url persistence)/readyz")"
# the sender kept what was answered RETRY and sends it again
line="$(alert_gen send --count $N --batch 50 --in-flight 2 --seed 40 2>&1)"
check_eq "sent again, all $N are answered OK; the spooled ones are duplicates now" "0:$N:$spooled" \
	"$?:$(gen_field "$line" accepted):$(gen_field "$line" duplicates)"
check_eq "all $N stored exactly once (rows|distinct keys)" "$N|$N" \
	"$(sql "SELECT count(*), count(DISTINCT alert_key) FROM alerts")"
finish
