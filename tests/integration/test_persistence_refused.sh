#!/usr/bin/env bash
# PostgreSQL refusing every row alike is not a bad row: persistence runs as an
# ordinary role (tfdrift_app, created here); INSERT on alerts is revoked from
# it while alerts arrive.  Nothing is dead-lettered: every request is answered
# OK from the spool, /readyz says the database refuses writes with SQLSTATE
# 42501, tfdrift_persistence_db_write_error{sqlstate="42501"} is 1.  After
# GRANT (with alerts still arriving) the spool drains and every alert is
# stored and published exactly once.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/persistence.sh
source "$(dirname "$0")/../lib/persistence.sh"

start_postgres
write_config
# the schema, as the owner (tfdrift is the cluster's superuser)
start_service persistence
wait_ready persistence 30 || bail "persistence is not ready: $(curl -s "$(admin_url persistence)/readyz")"
stop_service persistence

# an ordinary role with the privileges persistence needs (CRUD, sequences;
# CREATE on the schema because every start runs CREATE TABLE IF NOT EXISTS
# schema_migrations; temp tables are PUBLIC's)
sql "CREATE ROLE tfdrift_app LOGIN NOSUPERUSER;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO tfdrift_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO tfdrift_app;
GRANT CREATE ON SCHEMA public TO tfdrift_app;" >/dev/null ||
	bail "cannot create role tfdrift_app"
TD_ENV="TFDRIFT_POSTGRES_DSN=postgresql://tfdrift_app@127.0.0.1:$TD_PG_PORT/tfdrift?connect_timeout=5" \
	start_service persistence
wait_ready persistence 30 || bail "persistence (as tfdrift_app) is not ready: $(curl -s "$(admin_url persistence)/readyz")"
check_eq "persistence runs as the ordinary role" "tfdrift_app" \
	"$(sql "SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity WHERE application_name = 'tfdrift-persistence'" 2>&1)"

alert_gen sub --idle 4000 --max 90000 >"$TD_TMP/sub.keys" 2>"$TD_TMP/sub.err" &
sub_pid=$!
for _ in $(seq 1 100); do
	[ "$(metric persistence 'tfdrift_bus_peers{socket="persistence.alerts"}')" = 1 ] && break
	sleep 0.1
done
line="$(alert_gen send --count 100 --batch 50 --seed 30 2>&1)"
check_eq "as tfdrift_app 100 alerts are stored" "100" "$(gen_field "$line" produced)" persistence

# ---- INSERT revoked: spool, not dead letter ----
sql "REVOKE INSERT ON alerts FROM tfdrift_app" >/dev/null
N=1000
line="$(alert_gen send --count $N --batch 50 --in-flight 4 --seed 31 2>"$TD_TMP/send.err")"
rc=$?
check_eq "with INSERT revoked all $N alerts are answered OK" "0:$N:0" \
	"$rc:$(gen_field "$line" accepted):$(gen_field "$line" produced)" persistence
check_eq "... none is dead-lettered (table|metric)" "0|0" \
	"$(sql "SELECT count(*) FROM alerts_dead_letter")|$(metric persistence tfdrift_persistence_alerts_dead_letter_total)"
check_eq "... no dead-letter file" "no" "$([ -e "$TD_TMP/data/persistence/dead-letter.jsonl" ] && echo yes || echo no)"
check_eq "... the spool holds them" "$N" "$(metric persistence tfdrift_persistence_spool_alerts)"
check_eq "... tfdrift_persistence_db_write_error{sqlstate=\"42501\"} is 1, _db_writable 0" "1|0" \
	"$(metric persistence 'tfdrift_persistence_db_write_error{sqlstate="42501"}')|$(metric persistence tfdrift_persistence_db_writable)"
check_eq "... while the database itself is up (tfdrift_persistence_db_up 1)" "1" \
	"$(metric persistence tfdrift_persistence_db_up)"
check_eq "/readyz answers 200: the alerts are spooled" "200" "$(http_code "$(admin_url persistence)/readyz")"
reason="$(curl -s "$(admin_url persistence)/readyz" | jq -r '.checks.postgres.note')"
check_eq "... and says why: the SQLSTATE, PostgreSQL's message and the spool" "yes" \
	"$(grep -q "refuses writes.*SQLSTATE 42501: .*permission denied for table alerts.*spool: $N alerts" <<<"$reason" && echo yes || echo "$reason")"
check_eq "one log line names the refusal" "1" \
	"$(grep '"PostgreSQL refuses writes' "${TD_LOG[persistence]}" | grep -c '"sqlstate":"42501"')"

# ---- GRANT back while alerts keep arriving ----
M=1000
alert_gen send --count $M --batch 50 --in-flight 4 --seed 32 --rate 1000 >"$TD_TMP/send2.out" 2>&1 &
gen_pid=$!
sleep 0.3
sql "GRANT INSERT ON alerts TO tfdrift_app" >/dev/null
if wait "$gen_pid"; then
	ok "the $M alerts sent across the GRANT are answered OK"
else
	not_ok "the $M alerts sent across the GRANT are answered OK" "$(cat "$TD_TMP/send2.out")" persistence
fi
if wait_metric persistence tfdrift_persistence_spool_alerts 0 30; then
	ok "after GRANT the spool drains"
else
	not_ok "after GRANT the spool drains" "still $(metric persistence tfdrift_persistence_spool_alerts)" persistence
fi
total=$((100 + N + M))
check_eq "all $total stored exactly once (rows|distinct keys)" "$total|$total" \
	"$(sql "SELECT count(*), count(DISTINCT alert_key) FROM alerts")"
check_eq "... still nothing dead-lettered" "0" "$(sql "SELECT count(*) FROM alerts_dead_letter")"
check_eq "tfdrift_persistence_db_writable is 1 again, the 42501 series 0" "1|0" \
	"$(metric persistence tfdrift_persistence_db_writable)|$(metric persistence 'tfdrift_persistence_db_write_error{sqlstate="42501"}')"
check_eq "/readyz has no note again" "null" "$(curl -s "$(admin_url persistence)/readyz" | jq -c '.checks.postgres.note')"
check_eq "the recovery is logged" "1" "$(grep -c '"PostgreSQL takes writes again"' "${TD_LOG[persistence]}")"
wait "$sub_pid"
check_eq "each of the $total was published exactly once" "$total|$total" \
	"$(wc -l <"$TD_TMP/sub.keys")|$(sort -u "$TD_TMP/sub.keys" | wc -l)"
finish
