#!/usr/bin/env bash
# CloudTrail files: `replay` of a nested tree of gzipped and plain files with
# a truncated .gz among them (a clear error naming it, exit 2, every other
# file's events in PostgreSQL); and ingest.watch_dir, which reads files as they
# appear in a nested tree, skips a truncated .gz with a log line, and does not
# read a file twice across a restart.  Records whose text PostgreSQL would
# refuse (invalid UTF-8, an escaped NUL) are rejected by both, naming the file,
# record and field; the file's other records go through.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/ingest.sh
source "$(dirname "$0")/../lib/ingest.sh"
# shellcheck source=../lib/persistence.sh
source "$(dirname "$0")/../lib/persistence.sh"

WATCH="$TD_TMP/watch"
mkdir -p "$WATCH"
cfg_set ingest watch_dir "\"$WATCH\""
cfg_set ingest watch_interval 200ms

start_pipeline

# in_postgres FILE... — waits until the alerts explain expects from the files
# are in PostgreSQL; prints "ok" or how many are missing.
in_postgres() {
	local m
	expected_ids "$@" >"$TD_TMP/want.ids"
	[ -s "$TD_TMP/want.ids" ] || { echo "explain expects nothing"; return; }
	m="$(db_missing "$TD_TMP/want.ids")"
	if [ "$m" = 0 ]; then echo ok; else echo "$m missing"; fi
}

# ---- replay: nested tree, gzip and plain, one truncated .gz ----
TREE="$TD_TMP/trail/AWSLogs/111122223333/CloudTrail"
mkdir -p "$TREE/us-east-1/2026/07/23" "$TREE/eu-west-1/2026/07/24/deeper"
gen_cloudtrail "$TREE/us-east-1/2026/07/23/a.json.gz" 100 201 --gzip || bail "gen failed"
gen_cloudtrail "$TREE/eu-west-1/2026/07/24/b.json" 80 202 || bail "gen failed"
gen_cloudtrail "$TREE/eu-west-1/2026/07/24/deeper/c.json.gz" 80 203 --gzip || bail "gen failed"
gen_cloudtrail "$TD_TMP/whole.json.gz" 40 204 --gzip || bail "gen failed"
size="$(stat -c %s "$TD_TMP/whole.json.gz")"
head -c $((size / 2)) "$TD_TMP/whole.json.gz" >"$TREE/us-east-1/2026/07/23/truncated.json.gz"
echo "not a log" >"$TREE/us-east-1/README.txt"

timeout 120 "$TD_BIN/tfdrift-ingest" --config "$TD_CONFIG" replay "$TD_TMP/trail" \
	>"$TD_TMP/replay.out" 2>"$TD_TMP/replay.err"
rc=$?
check_eq "replay of the tree with a truncated .gz exits 2 (a file could not be read)" 2 "$rc"
check "... and its error names the truncated file" grep -q 'truncated.json.gz' "$TD_TMP/replay.err"
check_eq "... and the alerts from the other three files (nested, gzip and plain) are in PostgreSQL" ok \
	"$(in_postgres "$TREE/us-east-1/2026/07/23/a.json.gz" "$TREE/eu-west-1/2026/07/24/b.json" \
		"$TREE/eu-west-1/2026/07/24/deeper/c.json.gz")" ingest correlator persistence
"$TD_BIN/tfdrift-ingest" --config "$TD_CONFIG" replay --print "$TREE/us-east-1/2026/07/23/truncated.json.gz" \
	>"$TD_TMP/print.out" 2>/dev/null
check "replay --print of the truncated file prints it as rejected with the reason" \
	jq -e 'select(.rejected == true) | .reason | test("truncated|unexpected end|error"; "i")' "$TD_TMP/print.out"

# with_bad_text GOOD OUT — OUT is GOOD's Records plus two copies of its first
# alerting record (new eventIDs) whose text PostgreSQL would refuse: invalid
# UTF-8 in userAgent (record 1), an escaped NUL in sourceIPAddress (record 3).
# Prints the two bad eventIDs.
with_bad_text() {
	local first
	first="$(expected_ids "$1" | head -n 1)"
	python3 - "$1" "$2" "$first" <<'EOF2'
import json, sys
src, out, first = sys.argv[1:4]
recs = json.load(open(src))["Records"]
base = next(r for r in recs if r["eventID"] == first)
bad_utf8 = dict(base, eventID=first + "-bad-utf8", userAgent="BAD_UTF8_HERE")
bad_nul = dict(base, eventID=first + "-bad-nul", sourceIPAddress="10.0.0.1\u0000x")
recs = recs[:1] + [bad_utf8] + recs[1:2] + [bad_nul] + recs[2:]
text = json.dumps({"Records": recs}).encode()
open(out, "wb").write(text.replace(b"BAD_UTF8_HERE", b"terraform/1.9 \xff\xfe"))
print(bad_utf8["eventID"])
print(bad_nul["eventID"])
EOF2
}

# ---- replay: a file with two records whose text PostgreSQL refuses ----
gen_cloudtrail "$TD_TMP/good.json" 40 205 || bail "gen failed"
with_bad_text "$TD_TMP/good.json" "$TD_TMP/mixed.json" >"$TD_TMP/bad.ids" || bail "with_bad_text failed"
"$TD_BIN/tfdrift-ingest" --config "$TD_CONFIG" replay --print "$TD_TMP/mixed.json" >"$TD_TMP/mixed.print" 2>/dev/null
check_eq "replay --print rejects the two records with bad text, naming record and field" \
	"1 record 1: userAgent: the string is not valid UTF-8|3 record 3: sourceIPAddress: the string contains a NUL (\\u0000)" \
	"$(jq -r 'select(.rejected == true) | "\(.record) \(.reason)"' "$TD_TMP/mixed.print" | sed 's/ (byte [0-9]*)//' | paste -sd '|')"
timeout 120 "$TD_BIN/tfdrift-ingest" --config "$TD_CONFIG" replay "$TD_TMP/mixed.json" \
	>"$TD_TMP/replay2.out" 2>"$TD_TMP/replay2.err"
rc=$?
check_eq "replay of it exits 1 (records were rejected)" 1 "$rc"
check "... and says so in its summary" grep -q ' 2 rejected' "$TD_TMP/replay2.err"
check "... with a log line naming the file, the record and the field" grep -q \
	'"msg":"replay: record rejected","file":"[^"]*mixed.json","record":1,"reason":"record 1: userAgent: the string is not valid UTF-8' \
	"$TD_TMP/replay2.err"
check_eq "... and every other record's alert is in PostgreSQL" ok "$(in_postgres "$TD_TMP/good.json")" \
	ingest correlator persistence
check_eq "... the rejected ones are not stored (not even truncated)" 0 \
	"$(sql "SELECT count(*) FROM alerts WHERE event_id LIKE '%-bad-%'")"
check_eq "... and nothing went to alerts_dead_letter" 0 "$(sql 'SELECT count(*) FROM alerts_dead_letter')"

# ---- the watch directory ----
mkdir -p "$WATCH/AWSLogs/111122223333/CloudTrail/us-east-1/2026/07/25"
gen_cloudtrail "$TD_TMP/w1.json.gz" 100 301 --gzip && cp "$TD_TMP/w1.json.gz" "$WATCH/AWSLogs/111122223333/CloudTrail/us-east-1/2026/07/25/"
gen_cloudtrail "$TD_TMP/w2.json" 80 302 && cp "$TD_TMP/w2.json" "$WATCH/"
cp "$TREE/us-east-1/2026/07/23/truncated.json.gz" "$WATCH/AWSLogs/111122223333/CloudTrail/us-east-1/2026/07/25/"
check_eq "files dropped into the watched tree reach PostgreSQL" ok \
	"$(in_postgres "$TD_TMP/w1.json.gz" "$TD_TMP/w2.json")" ingest
for _ in $(seq 1 50); do
	[ "$(metric ingest 'tfdrift_ingest_watch_files_total{result="error"}')" = 1 ] && break
	sleep 0.1
done
check_eq "the truncated .gz in the watched tree is counted as an error" 1 \
	"$(metric ingest 'tfdrift_ingest_watch_files_total{result="error"}')"
check "... with a log line naming it" grep -q '"msg":"watch: file not read; the other files go on","file":"[^"]*truncated.json.gz"' "${TD_LOG[ingest]}"
check_eq "the two good files are counted as read" 2 "$(metric ingest 'tfdrift_ingest_watch_files_total{result="read"}')"

stop_service ingest 10 || diag "ingest took ${TD_STOP_MS} ms to stop"
start_service ingest
wait_admin ingest 20 || bail "ingest did not restart"
gen_cloudtrail "$TD_TMP/w3.json.gz" 100 303 --gzip && cp "$TD_TMP/w3.json.gz" "$WATCH/"
check_eq "after a restart a new file is read" ok "$(in_postgres "$TD_TMP/w3.json.gz")" ingest
check_eq "... and only it: files read before the restart are not read again" 1 \
	"$(metric ingest 'tfdrift_ingest_watch_files_total{result="read"}')"

# a watched file with records whose text PostgreSQL refuses: those are counted
# as rejected records, the others go through
gen_cloudtrail "$TD_TMP/good2.json" 40 304 || bail "gen failed"
with_bad_text "$TD_TMP/good2.json" "$TD_TMP/mixed2.json" >/dev/null || bail "with_bad_text failed"
cp "$TD_TMP/mixed2.json" "$WATCH/"
check "a watched file's records with bad text are counted as rejected" \
	wait_metric ingest tfdrift_ingest_watch_records_rejected_total 2 20
check "... with a log line naming the file, the record and the field" grep -q \
	'"msg":"watch: record rejected","file":"[^"]*mixed2.json","record":3,"reason":"record 3: sourceIPAddress: the string contains a NUL' \
	"${TD_LOG[ingest]}"
check_eq "... and the file's other records reach PostgreSQL" ok "$(in_postgres "$TD_TMP/good2.json")" ingest
check_eq "... and nothing went to alerts_dead_letter" 0 "$(sql 'SELECT count(*) FROM alerts_dead_letter')"

finish
