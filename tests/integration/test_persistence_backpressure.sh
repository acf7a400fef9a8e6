#!/usr/bin/env bash
# The whole pipeline against a full spool: PostgreSQL is stopped and
# persistence's spool is tiny, so once it is full persistence answers RETRY;
# the correlator then hands its event batches back instead of acknowledging
# them, and ingest keeps the events in its journal.  When PostgreSQL is back
# the spool drains, ingest resends what it kept, and every alert the events
# raise is stored exactly once.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/ingest.sh
source "$(dirname "$0")/../lib/ingest.sh"
# shellcheck source=../lib/persistence.sh
source "$(dirname "$0")/../lib/persistence.sh"

N=400

cfg_set persistence spool_max_bytes 16KiB
start_pipeline

gen_cloudtrail "$TD_TMP/ct.json.gz" "$N" 77 --gzip || bail "gen_cloudtrail failed"
falco_alerts "$TD_TMP/ct.json.gz" "$TD_TMP/alerts.jsonl" || bail "falco_alerts failed"
expected_ids "$TD_TMP/ct.json.gz" >"$TD_TMP/want.ids"
diag "explain: $(wc -l <"$TD_TMP/want.ids") of $N events raise alerts"

pg_stop || bail "cannot stop PostgreSQL"
: >"$TD_TMP/accepted.ids"
line="$(post_stream "$TD_TMP/alerts.jsonl" "$TD_TMP/accepted.ids" 60)"
diag "poster: $line"
check_eq "ingest accepts (journals) all $N events while PostgreSQL is down" "$N" "$(wc -l <"$TD_TMP/accepted.ids")"
if wait_metric persistence tfdrift_persistence_spool_full 1 30; then
	ok "persistence's spool fills up"
else
	not_ok "persistence's spool fills up" "spool $(metric persistence tfdrift_persistence_spool_bytes) bytes" persistence
fi
for _ in $(seq 1 50); do
	grep -q '"persistence did not store the alerts yet; batch handed back"' "${TD_LOG[correlator]}" && break
	sleep 0.2
done
check_eq "the correlator hands its batches back on RETRY (logged with persistence's reason)" "yes" \
	"$(grep '"persistence did not store the alerts yet; batch handed back"' "${TD_LOG[correlator]}" | grep -c 'spool is full' | grep -qvx 0 && echo yes || echo no)" correlator
kept="$(metric ingest tfdrift_ingest_journal_entries)"
check_eq "ingest keeps the unacknowledged events in its journal" "yes" \
	"$([ "${kept:-0}" -gt 0 ] && echo yes || echo "journal entries: ${kept:-?}")" ingest
check_eq "the spool stays within its limit" "yes" \
	"$([ "$(metric persistence tfdrift_persistence_spool_bytes)" -le 16384 ] && echo yes || echo no)"

pg_start || bail "cannot start PostgreSQL again"
missing="$(db_missing "$TD_TMP/want.ids" 60)"
check_eq "once PostgreSQL is back every alert the events raise is stored" "0" "$missing" persistence correlator ingest
check_eq "... exactly once (rows = distinct alert keys)" "yes" \
	"$(sql "SELECT count(*) = count(DISTINCT alert_key) FROM alerts" | sed 's/^t$/yes/')"
if wait_metric ingest tfdrift_ingest_journal_entries 0 30; then
	ok "ingest's journal empties: everything was acknowledged in the end"
else
	not_ok "ingest's journal empties" "$(metric ingest tfdrift_ingest_journal_entries) entries" ingest
fi
check_eq "persistence's spool is empty and not full" "0|0" \
	"$(metric persistence tfdrift_persistence_spool_alerts)|$(metric persistence tfdrift_persistence_spool_full)"
finish
