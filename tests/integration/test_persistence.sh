#!/usr/bin/env bash
# persistence against a real PostgreSQL: migrations from empty with two
# processes racing at start, and re-run; the same alert three times stored
# and published once; a row PostgreSQL refuses goes to alerts_dead_letter
# while the rest of its batch is stored; SIGKILL mid-batch and restart:
# nothing lost, nothing doubled.  (The 30 s database outage is
# test_persistence_outage.sh.)
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/persistence.sh
source "$(dirname "$0")/../lib/persistence.sh"

start_postgres
write_config

# ---- migrations: two processes racing on an empty database ----
read -r p2_admin p2_work p2_pub <<<"$(free_ports 3)"
mkdir -p "$TD_TMP/data2"
start_service persistence
TD_INSTANCE=persistence-2 TD_ADMIN_PORT=$p2_admin \
	TD_ENV="TFDRIFT_PERSISTENCE_ADMIN_PORT=$p2_admin TFDRIFT_PERSISTENCE_WORK_LISTEN=tcp://127.0.0.1:$p2_work TFDRIFT_PERSISTENCE_ALERTS_PUB_LISTEN=tcp://127.0.0.1:$p2_pub TFDRIFT_SHARED_DATA_DIR=$TD_TMP/data2" \
	start_service persistence
for s in persistence persistence-2; do
	wait_admin "$s" 30 || bail "$s did not come up"
	wait_ready "$s" 30 || bail "$s is not ready: $(curl -s "$(admin_url "$s")/readyz")"
done
ok "two persistence processes started together on an empty database are both ready"
# its in_flight (64) requests are NNG contexts, not threads (NNG's own pool is at most
# about 30 threads on any machine); no per-thread malloc caches
check_eq "persistence runs fewer threads than requests in flight, thread caches off" "yes|0" \
	"$([ "$(awk '/^Threads:/ { print $2 }' "/proc/${TD_PID[persistence]}/status")" -lt 64 ] && echo yes || grep '^Threads:' "/proc/${TD_PID[persistence]}/status")|$(metric persistence tfdrift_process_malloc_thread_cache_count)"
nmig=$(ls services/persistence/migrations/*.sql | wc -l)
check_eq "schema_migrations holds each of the $nmig versions once" \
	"$nmig|$nmig" "$(sql 'SELECT count(*), count(DISTINCT version) FROM schema_migrations')"
applied() { grep -h '"schema current"' "${TD_LOG[$1]}" | tail -n 1 | jq -r '.applied_now'; }
check_eq "between them they applied each migration exactly once" \
	"$nmig" "$(($(applied persistence) + $(applied persistence-2)))"
check_eq "the tables exist (alerts, alert_status_history, alerts_dead_letter)" "3" \
	"$(sql "SELECT count(*) FROM pg_tables WHERE tablename IN ('alerts','alert_status_history','alerts_dead_letter')")"
stop_service persistence-2 || not_ok "persistence-2 stops on SIGTERM" "status ${TD_STATUS[persistence-2]}"

# re-run: a restart finds the schema current
stop_service persistence
start_service persistence
wait_ready persistence 30 || bail "persistence is not ready after a restart"
check_eq "a restart applies no migration (re-run)" "0" "$(applied persistence)"

# ---- the same alert three times: stored once, published once ----
alert_gen sub --idle 2000 --max 20000 >"$TD_TMP/sub.keys" 2>"$TD_TMP/sub.err" &
sub_pid=$!
for _ in $(seq 1 100); do
	[ "$(metric persistence 'tfdrift_bus_peers{socket="persistence.alerts"}')" = 1 ] && break
	sleep 0.1
done
produced=""
for i in 1 2 3; do
	line="$(alert_gen send --count 1 --batch 1 --seed 7 2>&1)"
	produced+="$(gen_field "$line" produced)"
done
check_eq "the same alert sent three times: Acks say produced 1, then 0, 0" "100" "$produced"
check_eq "... stored once" "1" "$(sql "SELECT count(*) FROM alerts WHERE alert_key = 'k-7-0'")"
# the same alert three times inside one batch of concurrent requests
alert_gen send --count 1 --batch 1 --seed 8 >/dev/null 2>&1
alert_gen send --count 1 --batch 1 --seed 8 >/dev/null 2>&1 &
alert_gen send --count 1 --batch 1 --seed 8 >/dev/null 2>&1
wait $!
check_eq "... and a second alert sent three times, twice concurrently, stored once" "1" \
	"$(sql "SELECT count(*) FROM alerts WHERE alert_key = 'k-8-0'")"
wait "$sub_pid"
check_eq "each was published exactly once" "k-7-0 k-8-0" "$(sort "$TD_TMP/sub.keys" | tr '\n' ' ' | sed 's/ $//')"

# ---- a row PostgreSQL refuses: dead letter, the rest stored ----
line="$(alert_gen send --count 200 --batch 100 --seed 9 --bad 17 --bad 142 2>"$TD_TMP/bad.err")"
check_eq "a batch with two refused rows is answered OK" "2" "$(gen_field "$line" ok)"
check_eq "... its 198 good alerts are stored" "198" "$(sql "SELECT count(*) FROM alerts WHERE alert_key LIKE 'k-9-%'")"
check_eq "... the two refused ones are in alerts_dead_letter with the reason" \
	"k-9-142|22021|t k-9-17|22021|t" \
	"$(sql "SELECT alert_key, sqlstate, reason LIKE '%invalid byte sequence%' FROM alerts_dead_letter ORDER BY alert_key" | tr '\n' ' ' | sed 's/ $//')"
check_eq "... the Ack says so" "1" "$(grep -c 'quarantined in alerts_dead_letter' "$TD_TMP/bad.err" | awk '{print ($1 >= 1)}')"
check_eq "... and counted in tfdrift_persistence_alerts_dead_letter_total" "2" \
	"$(metric persistence tfdrift_persistence_alerts_dead_letter_total)"
line="$(alert_gen send --count 100 --batch 50 --seed 10 2>&1)"
check_eq "the next batch is stored normally" "100" "$(gen_field "$line" produced)"

# the dead-letter table itself refuses (here: it is gone): the dead-letter file
sql "ALTER TABLE alerts_dead_letter RENAME TO alerts_dead_letter_away" >/dev/null
line="$(alert_gen send --count 20 --batch 20 --seed 12 --bad 5 2>&1)"
check_eq "with alerts_dead_letter gone, the batch is still answered OK and its 19 good alerts stored" \
	"1:19" "$(gen_field "$line" ok):$(sql "SELECT count(*) FROM alerts WHERE alert_key LIKE 'k-12-%'")"
DLF="$TD_TMP/data/persistence/dead-letter.jsonl"
check_eq "... and the refused alert is a line in the dead-letter file, with the reason and the alert" \
	"k-12-5|true|true" \
	"$(jq -r '[.alert_key, (.reason | test("invalid byte sequence")), (.alert_protobuf_base64 | @base64d | test("k-12-5"))] | join("|")' "$DLF" 2>&1)"
sql "ALTER TABLE alerts_dead_letter_away RENAME TO alerts_dead_letter" >/dev/null

# ---- SIGKILL mid-batch, restart: nothing lost, nothing doubled ----
N=20000
alert_gen send --count $N --batch 100 --in-flight 8 --seed 11 >"$TD_TMP/kill.out" 2>"$TD_TMP/kill.err" &
gen_pid=$!
for _ in $(seq 1 200); do
	n=$(sql "SELECT count(*) FROM alerts WHERE alert_key LIKE 'k-11-%'")
	[ "$n" -ge 2000 ] && break
	sleep 0.05
done
diag "SIGKILL with $n of $N alerts stored"
kill_service persistence
start_service persistence
wait_ready persistence 30 || bail "persistence is not ready after SIGKILL"
if wait "$gen_pid"; then
	ok "the sender got an Ack OK for all $N alerts across the SIGKILL"
else
	not_ok "the sender got an Ack OK for all $N alerts across the SIGKILL" "$(cat "$TD_TMP/kill.out")" persistence
fi
check_eq "all $N stored exactly once (rows|distinct keys)" "$N|$N" \
	"$(sql "SELECT count(*), count(DISTINCT alert_key) FROM alerts WHERE alert_key LIKE 'k-11-%'")"

# ---- retention: rows older than the period go, in small batches ----
sql "UPDATE alerts SET detected_at = now() - interval '10 days' WHERE alert_key LIKE 'k-11-%' AND alert_key < 'k-11-2'" >/dev/null
old=$(sql "SELECT count(*) FROM alerts WHERE detected_at < now() - interval '7 days'")
total=$(sql "SELECT count(*) FROM alerts")
sql "INSERT INTO alerts_dead_letter (received_at, reason, alert) VALUES (now() - interval '9 days', 'old', '\\x00')" >/dev/null
stop_service persistence
TD_ENV="TFDRIFT_PERSISTENCE_RETENTION=7d TFDRIFT_PERSISTENCE_RETENTION_BATCH=500 TFDRIFT_PERSISTENCE_RETENTION_INTERVAL=1s" \
	start_service persistence
wait_ready persistence 30 || bail "persistence is not ready with retention on"
if wait_metric persistence tfdrift_persistence_retention_deleted_total "$old" 30; then
	ok "retention deleted the $old alerts older than 7 days (500 per statement)"
else
	not_ok "retention deleted the $old alerts older than 7 days" "see the log" persistence
fi
check_eq "... and kept the $((total - old)) newer ones" "$((total - old))|0" \
	"$(sql "SELECT count(*), count(*) FILTER (WHERE detected_at < now() - interval '7 days') FROM alerts")"
check_eq "... and the old dead letter" "0" "$(sql "SELECT count(*) FROM alerts_dead_letter WHERE reason = 'old'")"

finish
