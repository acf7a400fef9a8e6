#!/usr/bin/env bash
# Crash safety of ingest's journal: 10,000 Falco alerts stream into the HTTP
# receiver over keep-alive; ingest is SIGKILLed part-way and started again;
# the sender resends whatever was not answered 202.  Afterwards every accepted
# (= journaled) alert reached the correlator at least once: each one that
# `tfdrift-correlator explain` says raises an alert is in PostgreSQL (distinct
# eventIDs), and the restarted ingest sent the journal's leftovers: the
# correlator is SIGKILLed first, so the journal holds unacknowledged entries
# at the moment ingest dies, and the restarted ingest must find and resend them.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/ingest.sh
source "$(dirname "$0")/../lib/ingest.sh"

N=10000
KILL_AT=3000

start_pipeline

gen_cloudtrail "$TD_TMP/ct.json.gz" "$N" 99 --gzip || bail "gen_cloudtrail failed"
falco_alerts "$TD_TMP/ct.json.gz" "$TD_TMP/alerts.jsonl" || bail "falco_alerts failed"
check_eq "$N alerts with distinct eventIDs to send" "$N" \
	"$(jq -r '.output_fields["ct.id"]' "$TD_TMP/alerts.jsonl" | sort -u | wc -l)"

: >"$TD_TMP/accepted.ids"
post_stream "$TD_TMP/alerts.jsonl" "$TD_TMP/accepted.ids" 150 >"$TD_TMP/poster.out" 2>&1 &
poster=$!

# SIGKILL once part of the stream is accepted
for _ in $(seq 1 600); do
	[ "$(wc -l <"$TD_TMP/accepted.ids")" -ge "$KILL_AT" ] && break
	kill -0 "$poster" 2>/dev/null || break
	sleep 0.05
done
# no correlator: what arrives from now on stays unacknowledged in the journal
kill_service correlator
pending=0
for _ in $(seq 1 200); do
	pending="$(metric ingest tfdrift_ingest_journal_entries)"
	[ "${pending:-0}" -gt 0 ] && break
	kill -0 "$poster" 2>/dev/null || break
	sleep 0.05
done
before="$(wc -l <"$TD_TMP/accepted.ids")"
kill_service ingest
diag "SIGKILL ingest after $before accepted alerts (journal entries pending: ${pending:-?})"
check "ingest was killed mid-stream (fewer than $N accepted)" test "$before" -lt "$N"
check "... with unacknowledged entries in its journal" test "${pending:-0}" -gt 0
start_service ingest
wait_admin ingest 30 || bail "ingest did not restart"
start_service correlator
wait_admin correlator 30 || bail "correlator did not restart"

wait "$poster"
diag "sender: $(cat "$TD_TMP/poster.out")"
accepted="$(sort -u "$TD_TMP/accepted.ids" | wc -l)"
check_eq "the sender got 202 for all $N alerts in the end" "$N" "$accepted"
found="$(sed -n 's/.*unacknowledged entries found.*"entries":\([0-9]*\).*/\1/p' "${TD_LOG[ingest]}" | head -n 1)"
check "the restarted ingest found the unacknowledged entries (${found:-none}, >= ${pending:-?} seen before the kill) to send again" \
	test "${found:-0}" -ge "${pending:-1}"

expected_ids "$TD_TMP/ct.json.gz" >"$TD_TMP/expected.ids"
sort -u "$TD_TMP/accepted.ids" | comm -12 - "$TD_TMP/expected.ids" >"$TD_TMP/want.ids"
nwant="$(wc -l <"$TD_TMP/want.ids")"
diag "$nwant of the accepted alerts raise a drift alert (tfdrift-correlator explain)"
check "explain expects alerts from a good part of them" test "$nwant" -gt 100
check_eq "every accepted alert that raises a drift alert is in PostgreSQL (missing eventIDs)" \
	0 "$(db_missing "$TD_TMP/want.ids" 60)" ingest correlator persistence
# a deadline, not a speed target: the restarted correlator works through the
# whole journal (slow under a sanitizer build)
for _ in $(seq 1 600); do
	[ "$(metric ingest tfdrift_ingest_journal_entries)" = 0 ] && break
	sleep 0.2
done
check_eq "the journal drains: every entry was acknowledged by a correlator" 0 \
	"$(metric ingest tfdrift_ingest_journal_entries)" ingest
diag "alert rows: $(sql 'SELECT count(*), count(DISTINCT event_id) FROM alerts')"
check "ingest is running" alive ingest

finish
