#!/usr/bin/env bash
# The Grafana dashboard (deploy/grafana) against real PostgreSQL: alerts are
# stored through tfdrift-persistence, spread over six hours and given status
# history; every panel's SQL, with Grafana's macros expanded by
# deploy/grafana/expand-macros.py, runs and returns the shape its panel needs
# (column names, a time column for time series, numbers where numbers go,
# row limits, totals that agree with the table).
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/persistence.sh
source "$(dirname "$0")/../lib/persistence.sh"

DASH=deploy/grafana/dashboards/tfdrift-overview.json
N=3000

check "the dashboard is valid JSON" jq -e '.panels | length > 0' "$DASH"
check "every panel reads the provisioned data source uid" \
	jq -e --arg uid "$(sed -n 's/^ *uid: *//p' deploy/grafana/provisioning/datasources/tfdrift.yaml)" \
	'[.panels[] | .datasource.uid == $uid and all(.targets[]; .datasource.uid == $uid)] | all' "$DASH"

start_persistence_only
line="$(alert_gen send --count $N --batch 100 --in-flight 4 --seed 31 2>&1)"
check_eq "$N seed alerts stored through persistence" "$N" "$(gen_field "$line" produced)"
# Spread them over the last six hours; resolve, acknowledge and ignore some,
# with history rows as the API writes them.
sql "UPDATE alerts SET detected_at = now() - (id % 360) * interval '1 minute',
	event_time = now() - (id % 360) * interval '1 minute' - interval '30 seconds'" >/dev/null
sql "WITH s AS (UPDATE alerts SET status = CASE id % 4 WHEN 1 THEN 'resolved' WHEN 2 THEN 'acknowledged'
		WHEN 3 THEN 'ignored' END, status_changed_at = detected_at + (id % 50) * interval '1 minute',
		status_changed_by = 'alice'
	WHERE id % 4 <> 0 RETURNING id, status, status_changed_at)
	INSERT INTO alert_status_history (alert_id, from_status, to_status, actor, note, at)
	SELECT id, 'open', status, 'alice', 'seeded', status_changed_at FROM s" >/dev/null

FROM="$(date -u -d '-7 hours' +%Y-%m-%dT%H:%M:%SZ)"
TO="$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)"
if ! python3 deploy/grafana/expand-macros.py "$DASH" "$FROM" "$TO" 300 >"$TD_TMP/queries.jsonl" 2>"$TD_TMP/expand.err"; then
	bail "expand-macros.py failed: $(cat "$TD_TMP/expand.err")"
fi
check "no macro is left unexpanded" bash -c "! grep -q '\\\$__' '$TD_TMP/queries.jsonl'"
total_in_range=$(sql "SELECT count(*) FROM alerts WHERE detected_at BETWEEN '$FROM' AND '$TO'")

# panel id -> expected columns (comma-separated), row bound
declare -A COLS=(
	[1]="time,metric,value"
	[2]="time,metric,value"
	[3]="principal,drifts"
	[4]="workspace,resource_address,resource_type,drifts,last_drift"
	[5]="time,unmanaged"
	[6]="time,open,acknowledged,resolved,ignored"
	[7]="time,p50_seconds,p90_seconds"
	[8]="mean_seconds,resolved"
	[9]="open,acknowledged"
	[10]="time,workspace,resource_address,kind,event_name,principal_name,source_ip,region,status,summary"
)
declare -A MAXROWS=([3]=10 [4]=15 [8]=1 [9]=1 [10]=50)
seen=0
while IFS= read -r q; do
	id=$(jq -r .panel <<<"$q")
	title=$(jq -r .title <<<"$q")
	format=$(jq -r .format <<<"$q")
	seen=$((seen + 1))
	if ! psql -X -q --csv -v ON_ERROR_STOP=1 -c "$(jq -r .sql <<<"$q")" >"$TD_TMP/p$id.csv" 2>"$TD_TMP/p$id.err"; then
		not_ok "panel $id ($title): its SQL runs" "$(head -c 400 "$TD_TMP/p$id.err")"
		continue
	fi
	ok "panel $id ($title): its SQL runs"
	check_eq "panel $id: columns" "${COLS[$id]:-?}" "$(head -n 1 "$TD_TMP/p$id.csv")"
	# shape: rows, time ascending and numeric for time series, numbers in
	# the value columns, the row bound
	verdict="$(python3 - "$TD_TMP/p$id.csv" "$format" "${MAXROWS[$id]:-0}" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
fmt, maxrows = sys.argv[2], int(sys.argv[3])
def num(v):
    try:
        float(v); return True
    except ValueError:
        return False
if not rows:
    print("no rows"); sys.exit()
if maxrows and len(rows) > maxrows:
    print(f"{len(rows)} rows, more than {maxrows}"); sys.exit()
cols = list(rows[0].keys())
if fmt == "time_series":
    if cols[0] != "time":
        print("first column is not time"); sys.exit()
    times = [r["time"] for r in rows]
    if not all(num(t) for t in times):
        print("time is not numeric epoch seconds"); sys.exit()
    if [float(t) for t in times] != sorted(float(t) for t in times):
        print("time not ascending"); sys.exit()
    if len(set(times)) < 2:
        print("fewer than two time buckets"); sys.exit()
    values = [c for c in cols[1:] if c != "metric"]
    for r in rows:
        for c in values:
            if not num(r[c]):
                print(f"{c}={r[c]!r} is not a number"); sys.exit()
print("ok")
PY
)"
	check_eq "panel $id: shape for a $format panel" "ok" "$verdict"
done <"$TD_TMP/queries.jsonl"
check_eq "all ${#COLS[@]} panels were checked" "${#COLS[@]}" "$seen"

# a few values that must agree with the table
sum1=$(awk -F, 'NR > 1 { s += $3 } END { print s + 0 }' "$TD_TMP/p1.csv")
check_eq "panel 1: severities add up to every alert in the range" "$total_in_range" "$sum1"
check_eq "panel 1: only known severities" "" \
	"$(awk -F, 'NR > 1 && $2 !~ /^(info|low|medium|high|critical)$/ { print $2 }' "$TD_TMP/p1.csv" | sort -u)"
sum2=$(awk -F, 'NR > 1 { s += $3 } END { print s + 0 }' "$TD_TMP/p2.csv")
check_eq "panel 2: services add up to the same total" "$total_in_range" "$sum2"
check_eq "panel 5: unmanaged count matches the table" \
	"$(sql "SELECT count(*) FROM alerts WHERE kind = 'unmanaged' AND detected_at BETWEEN '$FROM' AND '$TO'")" \
	"$(awk -F, 'NR > 1 { s += $2 } END { print s + 0 }' "$TD_TMP/p5.csv")"
check_eq "panel 8: resolved count matches the history" \
	"$(sql "SELECT count(*) FROM alert_status_history WHERE to_status = 'resolved' AND at BETWEEN '$FROM' AND '$TO'")" \
	"$(tail -n 1 "$TD_TMP/p8.csv" | cut -d, -f2)"
check_eq "panel 10: as many rows as critical alerts in the range, at most 50" "ok" "$(
	crit=$(sql "SELECT count(*) FROM alerts WHERE severity = 'critical' AND detected_at BETWEEN '$FROM' AND '$TO'")
	rows=$(($(wc -l <"$TD_TMP/p10.csv") - 1))
	want=$((crit < 50 ? crit : 50))
	if [ "$rows" = "$want" ]; then echo ok; else echo "$rows rows, want $want"; fi
)"
finish
