#!/usr/bin/env bash
# ingest's readiness means "can take events": its journal is writable.  Without
# a correlator it is ready (correlators reach ingest through a Service, which
# routes only to ready pods), says so in a note on /readyz, in the metric
# tfdrift_bus_peers{socket="ingest.work"} and in one log line, and takes
# alerts into the journal; once a correlator dials in, the note goes and the
# journal drains.  With its journal directory removed under it, ingest is not
# ready (naming the directory) until it is restarted, and after the restart it
# is ready again.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/ingest.sh
source "$(dirname "$0")/../lib/ingest.sh"
# shellcheck source=../lib/persistence.sh
source "$(dirname "$0")/../lib/persistence.sh"
need curl jq

start_postgres
start_redis
write_config
start_up ingest

wait_ready ingest 20 || diag "ingest: $(curl -s "$(admin_url ingest)/readyz")"
check_eq "with no correlator ingest is ready (/readyz 200)" "200" "$(http_code "$(admin_url ingest)/readyz")" ingest
body="$(curl -s "$(admin_url ingest)/readyz")"
check_eq "... its journal check passes" "true" "$(jq -r '.checks.journal.ok' <<<"$body")"
check_eq "... and the correlators check carries a note, not a failure" \
	"true|no correlator connected; events wait in the journal" \
	"$(jq -r '"\(.checks.correlators.ok)|\(.checks.correlators.note)"' <<<"$body")"
check_eq "tfdrift_bus_peers{socket=\"ingest.work\"} is 0" "0" \
	"$(metric ingest 'tfdrift_bus_peers{socket="ingest.work"}')"
# more probes do not repeat the log line: it is logged when the state changes
for _ in 1 2 3; do curl -s -o /dev/null "$(admin_url ingest)/readyz"; done
check_eq "one log line says no correlator is connected" "1" \
	"$(grep -c '"no correlator connected; events wait in the journal (ingest stays ready)"' "${TD_LOG[ingest]}")"

gen_cloudtrail "$TD_TMP/ct.json" 5 7 || bail "gen_cloudtrail failed"
falco_alerts "$TD_TMP/ct.json" "$TD_TMP/alerts.jsonl" || bail "falco_alerts failed"
head -n 1 "$TD_TMP/alerts.jsonl" | tr -d '\n' >"$TD_TMP/a1.json"
check_eq "a Falco alert is taken into the journal without a correlator (202)" "202" \
	"$(post_alert "$TD_TMP/a1.json" | cut -d' ' -f1)"
check_eq "... tfdrift_ingest_journal_entries is 1" "1" "$(metric ingest tfdrift_ingest_journal_entries)"

start_up state-loader persistence correlator
wait_ready persistence 30 || diag "persistence: $(curl -s "$(admin_url persistence)/readyz")"
deadline=$((SECONDS + 30))
while [ "$(curl -s "$(admin_url ingest)/readyz" | jq -r '.checks.correlators.note // "none"')" != none ] &&
	[ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
check_eq "with a correlator connected the note is gone" "none" \
	"$(curl -s "$(admin_url ingest)/readyz" | jq -r '.checks.correlators.note // "none"')"
check_eq "... the log says so" "1" "$(grep -c '"a correlator is connected again"' "${TD_LOG[ingest]}")"
if wait_metric ingest tfdrift_ingest_journal_entries 0 30; then
	ok "the journal drains through the correlator"
else
	not_ok "the journal drains through the correlator" \
		"tfdrift_ingest_journal_entries $(metric ingest tfdrift_ingest_journal_entries)" ingest correlator
fi

# the journal directory removed under the running process
rm -rf "$TD_TMP/data/ingest/journal"
check_eq "with its journal directory gone ingest is not ready (503)" "503" \
	"$(http_code "$(admin_url ingest)/readyz")" ingest
reason="$(curl -s "$(admin_url ingest)/readyz" | jq -r '.checks.journal.reason')"
check_eq "... the reason names the directory" "yes" \
	"$(grep -q "journal directory $TD_TMP/data/ingest/journal: No such file or directory" <<<"$reason" && echo yes || echo "$reason")"
mkdir -p "$TD_TMP/data/ingest/journal"
reason="$(curl -s "$(admin_url ingest)/readyz" | jq -r '.checks.journal.reason')"
check_eq "... a new empty directory does not make it ready: its segment is gone" "yes" \
	"$(grep -q "active segment in $TD_TMP/data/ingest/journal was deleted; restart ingest" <<<"$reason" && echo yes || echo "$reason")"
check_eq "... /healthz still answers 200 (liveness is not readiness)" "200" "$(http_code "$(admin_url ingest)/healthz")"
stop_service ingest
start_up ingest
wait_ready ingest 20 || diag "ingest: $(curl -s "$(admin_url ingest)/readyz")"
check_eq "after a restart ingest is ready again" "200" "$(http_code "$(admin_url ingest)/readyz")" ingest
finish
