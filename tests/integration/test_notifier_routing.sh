#!/usr/bin/env bash
# test_notifier_routing.sh — committed alerts reach the receivers the routing
# tree names, each exactly once: a Standard Webhooks receiver that checks
# every signature with the npm `standardwebhooks` package, PagerDuty and a
# Slack incoming webhook (tests/peers/notifier_peers.js).  `continue` lets a
# critical alert reach PagerDuty and the webhook; a route without it keeps
# high alerts to Slack alone; info alerts fall back to the root's receiver.
# An alert whose transaction commits after alerts with larger ids were
# delivered is delivered too (the cursor waits for it; with a cursor that
# simply follows the largest id read, this check fails).
source "$(dirname "$0")/../lib/services.sh"
source "$(dirname "$0")/../lib/persistence.sh"
source "$(dirname "$0")/../lib/notifier.sh"

need jq psql
nt_setup
nt_routing "receivers:
  - name: hook
    type: webhook
    url: http://127.0.0.1:$NT_HOOK/tfdrift
    secret_env: NT_SECRET
  - name: pager
    type: pagerduty
    url: http://127.0.0.1:$NT_HTTP/pd/v2/enqueue
    routing_key_env: NT_PD_KEY
  - name: chat
    type: slack_webhook
    url_env: NT_SLACK_HOOK_URL
route:
  receivers: [hook]
  routes:
    - match: {severity: critical}
      receivers: [pager]
      continue: true
    - match: {severity: high, workspace: 'prod/*'}
      receivers: [chat]
    - match: {min_severity: low}
      receivers: [hook]"
start_up notifier
wait_ready notifier 30 || bail "notifier is not ready: $(curl -s "$(admin_url notifier)/readyz")"

# 50 alerts: severities info, low, medium, high, critical in turn (10 each)
out="$(alert_gen send --count 50 --batch 10)" || bail "alert-gen: $out"

wait_until "every routed delivery was made" 30 \
	eq_cmd 60 nt_sql "SELECT count(*) FROM notifications WHERE state = 'sent'"
check_eq "the webhook processed 40 alerts (all but high)" 40 "$(nt_state '.hook.processed')"
check_eq "no webhook was signed wrongly" 0 "$(nt_state '.hook.bad_signature')"
check_eq "no webhook arrived twice" 0 "$(nt_state '.hook.duplicates')"
check_eq "the webhook got no high alert (the Slack route does not continue)" 0 \
	"$(sql "SELECT count(*) FROM notifications n JOIN alerts a ON a.id = n.alert_id WHERE a.severity = 'high' AND n.receiver = 'hook'")"
check_eq "PagerDuty got the 10 critical alerts" 10 "$(nt_state '[.pd.events[] | select(.action == "trigger")] | length')"
check_eq "PagerDuty severity critical" "critical" "$(nt_state '[.pd.events[].severity] | unique | join(",")')"
check_eq "PagerDuty opened 10 incidents (one per resource)" 10 "$(nt_state '.pd.incidents | length')"
check_eq "Slack got the 10 high alerts" 10 "$(nt_state '.slack_hook.messages | length')"
check_eq "the critical alerts reached the webhook too (continue)" 10 \
	"$(sql "SELECT count(*) FROM notifications n JOIN alerts a ON a.id = n.alert_id WHERE a.severity = 'critical' AND n.receiver = 'hook' AND n.state = 'sent'")"
check_eq "info alerts went to the root's receiver" 10 \
	"$(sql "SELECT count(*) FROM notifications n JOIN alerts a ON a.id = n.alert_id WHERE a.severity = 'info' AND n.receiver = 'hook'")"
check_eq "a Slack message carries Block Kit with the severity colour" "#e65100" \
	"$(nt_state '.slack_hook.messages[0].attachments[0].color')"
check_eq "the webhook body is drift.detected" "drift.detected" "$(nt_state '[.hook.events[].type] | unique | join(",")')"
check_eq "webhook-id is the delivery's stable id" 40 \
	"$(nt_state '[.hook.ids[] | select(test("^n[0-9]+$"))] | length')"

# metrics per receiver
check_eq "metrics: sent to hook" 40 "$(metric notifier 'tfdrift_notifier_deliveries_total{receiver="hook",outcome="sent"}')"
check_eq "metrics: sent to pager" 10 "$(metric notifier 'tfdrift_notifier_deliveries_total{receiver="pager",outcome="sent"}')"
# ---- an alert whose id is smaller than ones committed before it --------------------
# A transaction takes an id and commits only after later ids are committed and
# planned: the cursor must not have moved past it.
psql -X -qAt -c "BEGIN; INSERT INTO alerts (alert_key, kind, severity, workspace, resource_address)
	VALUES ('late-1', 'drift', 'medium', 'prod/app', 'aws_instance.late'); SELECT pg_sleep(4); COMMIT;" \
	>/dev/null 2>&1 &
late_pid=$!
# in pg_sleep: the INSERT before it has taken its id (the query string is
# "active" from its start, before the INSERT runs, on a loaded machine)
sleeping() { [ "$(nt_sql "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%late-1%' AND state = 'active' AND wait_event = 'PgSleep'")" -ge 1 ]; }
wait_until "a transaction holds an alert id open" 10 sleeping
alert_gen send --count 10 --first 500 >/dev/null || bail "alert-gen failed"
after() { nt_sql "SELECT count(*) FROM notifications n JOIN alerts a ON a.id = n.alert_id WHERE a.alert_key LIKE 'k-1-50_' AND n.state = 'sent'"; }
wait_until "the later alerts are delivered first" 30 ge_cmd 10 after
wait "$late_pid"
check "the late alert's id is below theirs" test "$(nt_sql "SELECT id FROM alerts WHERE alert_key = 'late-1'")" -lt \
	"$(nt_sql "SELECT min(id) FROM alerts WHERE alert_key LIKE 'k-1-50_'")"
late() { nt_sql "SELECT count(*) FROM notifications n JOIN alerts a ON a.id = n.alert_id WHERE a.alert_key = 'late-1' AND n.state = 'sent'"; }
wait_until "the alert committed late is delivered too" 30 eq_cmd 1 late
check "the Slack webhook URL is not in the log" bash -c "! grep -q '/slack/hook' '${TD_LOG[notifier]}'"
finish
