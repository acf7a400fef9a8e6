#!/usr/bin/env bash
# CloudTrail files: `replay` of a nested tree of gzipped and plain files with
# a truncated .gz among them (a clear error naming it, exit 2, every other
# file's events in PostgreSQL); and ingest.watch_dir, which reads files as they
# appear in a nested tree, skips a truncated .gz with a log line, and does not
# read a file twice across a restart.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/ingest.sh
source "$(dirname "$0")/../lib/ingest.sh"

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

finish
