#!/usr/bin/env bash
# bench/bench_persistence.sh — persistence's figures (run by bench/run.sh;
# prints, asserts nothing).
#
#   1. raw COPY: the same alert rows COPY'd from a file by psql into an empty
#      alerts table (same indexes and constraints): the ceiling.
#   2. bus -> PostgreSQL: tools/tfdrift-alert-gen sends N alerts over REQ/REP
#      (requests of 100, 32 in flight) to tfdrift-persistence, each request
#      acknowledged after its COMMIT: alerts/s, and the share of the raw rate.
#   3. latency at a steady 2,000 alerts/s (requests of 20): p50/p99/max from
#      request to reply.
#
# BENCH_PERSISTENCE_ALERTS (default 50000) sets N.  PostgreSQL runs as the
# tests run it (fsync off), so both rates measure the CPU work, not the disk.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N=${BENCH_PERSISTENCE_ALERTS:-50000}
# shellcheck source=../tests/lib/services.sh
source tests/lib/services.sh
# shellcheck source=../tests/lib/persistence.sh
source tests/lib/persistence.sh

start_persistence_only >/dev/null
COLS="alert_key, event_id, event_time, detected_at, workspace, resource_address, resource_type,
 identifiers, kind, attribute, changes, severity, principal_type, principal_arn, principal_name,
 principal_account, principal_role_arn, principal_session, source_ip, user_agent, region, account_id,
 event_name, event_source, service, falco_rule, falco_priority, recommended_fix, summary, raw_event"

# the rows: stored once through persistence, exported, then the table emptied
alert_gen send --count "$N" --batch 500 --in-flight 8 --seed 100 >/dev/null 2>&1 || echo "seeding failed"
psql -X -q -c "\\copy (SELECT $COLS FROM alerts) TO '$TD_TMP/alerts.copy'"
sql "SET client_min_messages = warning; TRUNCATE alerts CASCADE" >/dev/null
sql "VACUUM ANALYZE alerts" >/dev/null

t0=$(date +%s%N)
psql -X -q -c "\\copy alerts ($COLS) FROM '$TD_TMP/alerts.copy'"
copy_ms=$((($(date +%s%N) - t0) / 1000000))
copy_rate=$((N * 1000 / (copy_ms > 0 ? copy_ms : 1)))
echo "persistence: raw COPY by psql of $N rows from a file: $copy_ms ms = $copy_rate rows/s"
sql "SET client_min_messages = warning; TRUNCATE alerts CASCADE" >/dev/null
sql "VACUUM ANALYZE alerts" >/dev/null

line="$(alert_gen send --count "$N" --batch 100 --in-flight 32 --seed 200 2>&1)"
rate=$(gen_field "$line" alerts_per_s)
echo "persistence: bus -> PostgreSQL, $N alerts in requests of 100, 32 in flight, reply after COMMIT:" \
	"${rate:-?} alerts/s = $(awk -v a="${rate:-0}" -v b="$copy_rate" 'BEGIN { printf "%.0f", b ? 100 * a / b : 0 }')% of raw COPY" \
	"(p50 $(gen_field "$line" p50_ms) ms, p99 $(gen_field "$line" p99_ms) ms per request)"
batches=$(metric persistence tfdrift_persistence_batch_alerts_count)
alerts=$(metric persistence tfdrift_persistence_batch_alerts_sum)
echo "persistence: database batches averaged $(awk -v a="${alerts:-0}" -v b="${batches:-0}" 'BEGIN { printf "%.0f", b ? a / b : 0 }') alerts"

line="$(alert_gen send --count 20000 --batch 20 --in-flight 64 --seed 300 --rate 2000 2>&1)"
echo "persistence: at a steady 2,000 alerts/s (requests of 20): request -> reply" \
	"p50 $(gen_field "$line" p50_ms) ms, p99 $(gen_field "$line" p99_ms) ms, max $(gen_field "$line" max_ms) ms"
check_eq "every bench alert stored once" "$((N + 20000))" "$(sql 'SELECT count(DISTINCT alert_key) FROM alerts')" >/dev/null ||
	echo "persistence: WARNING: stored $(sql 'SELECT count(*) FROM alerts') rows, expected $((N + 20000))"
hwm=$(awk '/VmHWM/ {print $2}' "/proc/${TD_PID[persistence]}/status" 2>/dev/null)
echo "persistence: peak RSS ${hwm:-?} kB; load average while measuring: $(cut -d" " -f1-3 /proc/loadavg) on $(nproc) cores"
finish >/dev/null
