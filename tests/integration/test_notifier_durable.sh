#!/usr/bin/env bash
# test_notifier_durable.sh — deliveries survive a receiver outage, a notifier
# killed mid-send, a notifier stopped while alerts commit, and run on two
# replicas, each delivery made once.  The webhook peer processes each
# webhook-id once (as a real receiver should) and counts repeats apart, so
# "nothing doubled" is checked as: every alert processed exactly once, and
# repeats only for sends that were in flight when the notifier was killed.
#
# The outage lasts 8 s rather than 30 s: with retry_max 1s the notifier
# retries several times during it either way, which is the behaviour tested.
source "$(dirname "$0")/../lib/services.sh"
source "$(dirname "$0")/../lib/persistence.sh"
source "$(dirname "$0")/../lib/notifier.sh"

need jq psql
# each webhook is answered after 100 ms, so that a kill lands mid-send
nt_peer_args --hook-delay 100
nt_setup
nt_routing "receivers:
  - name: hook
    type: webhook
    url: http://127.0.0.1:$NT_HOOK/tfdrift
    secret_env: NT_SECRET
route:
  receivers: [hook]"

sent() { nt_sql "SELECT count(*) FROM notifications WHERE state = 'sent'"; }
processed() { nt_state '.hook.processed'; }

# ---- 1. receiver down, then back -------------------------------------------
nt_control hook down
start_up notifier
wait_ready notifier 30 || bail "notifier is not ready"
alert_gen send --count 20 --batch 5 --seed 1 >/dev/null || bail "alert-gen failed"
retried3() { nt_sql "SELECT count(*) FROM notifications WHERE attempts >= 3 AND state <> 'sent'"; }
wait_until "deliveries are retried while the receiver is down" 20 ge_cmd 20 retried3
check_eq "nothing reached the receiver while it was down" 0 "$(processed)"
check "retries are counted" test "$(metric notifier 'tfdrift_notifier_deliveries_total{receiver="hook",outcome="retried"}')" -ge 40
sleep 5 # the rest of the outage (8 s in all)
wait_http "$(admin_url notifier)/readyz" 5 503 && ok "/readyz names the failing receiver" ||
	not_ok "/readyz names the failing receiver" "$(curl -s "$(admin_url notifier)/readyz")"
check "readyz says which" bash -c "curl -s '$(admin_url notifier)/readyz' | grep -q 'failing: hook'"
nt_control hook ok
wait_until "after the outage every alert is delivered" 30 eq_cmd 20 processed
check_eq "each once" 0 "$(nt_state '.hook.duplicates')"
check_eq "signatures verify" 0 "$(nt_state '.hook.bad_signature')"

# ---- 2. 500 and 429 with Retry-After ------------------------------------------
nt_control hook 500
alert_gen send --count 5 --first 100 --seed 1 >/dev/null || bail "alert-gen failed"
errs() { nt_sql "SELECT count(*) FROM notifications WHERE last_error LIKE 'HTTP $1%'"; }
wait_until "a 500 is retried" 20 ge_cmd 5 errs 500
nt_control hook 429 2
wait_until "a 429 is retried" 20 ge_cmd 1 errs 429
check "Retry-After (2 s) sets the next attempt" test \
	"$(nt_sql "SELECT count(*) FROM notifications WHERE last_error LIKE 'HTTP 429%' AND state = 'pending' AND next_attempt_at > now() + interval '500 milliseconds'")" -ge 1
nt_control hook ok
wait_until "after 500s and 429s every alert is delivered once" 30 eq_cmd 25 processed
check_eq "no duplicates" 0 "$(nt_state '.hook.duplicates')"

# ---- 3. a permanent error is not retried ---------------------------------------
stop_service notifier
nt_routing "receivers:
  - name: hook
    type: webhook
    url: http://127.0.0.1:$NT_HOOK/tfdrift
    secret_env: NT_SECRET
  - name: wrongkey
    type: webhook
    url: http://127.0.0.1:$NT_HOOK/tfdrift
    secret_env: NT_WRONG_SECRET
route:
  receivers: [hook]
  routes:
    - match: {resource_address: 'aws_instance.web\\[7\\]'}
      receivers: [wrongkey]"
export NT_WRONG_SECRET="whsec_$(head -c 24 /dev/urandom | base64)"
start_up notifier
alert_gen send --count 1 --first 207 --seed 1 >/dev/null || bail "alert-gen failed"
wait_until "a 401 (bad signature) is recorded as failed" 20 \
	eq_cmd 1 nt_sql "SELECT count(*) FROM notifications WHERE receiver = 'wrongkey' AND state = 'failed'"
check_eq "after one attempt" 1 "$(nt_sql "SELECT attempts FROM notifications WHERE receiver = 'wrongkey'")"
check "its last_error says why" bash -c "psql -X -qAt -c \"SELECT last_error FROM notifications WHERE receiver = 'wrongkey'\" | grep -q 'HTTP 401'"
stop_service notifier
nt_routing "receivers:
  - name: hook
    type: webhook
    url: http://127.0.0.1:$NT_HOOK/tfdrift
    secret_env: NT_SECRET
route:
  receivers: [hook]"
start_up notifier

# an alert committed within the cursor's settle time (1 s) before the restart
# is read again and routed by the new file: 207 now goes to hook as well
notsent() { nt_sql "SELECT count(*) FROM notifications WHERE receiver = 'hook' AND state <> 'sent'"; }
wait_ready notifier 30 || bail "notifier is not ready"
wait_until "the restarted notifier has nothing pending" 20 eq_cmd 0 notsent

# ---- 4. SIGKILL mid-delivery ------------------------------------------------------
base="$(processed)"
alert_gen send --count 100 --first 1000 --seed 1 >/dev/null || bail "alert-gen failed"
wait_until "deliveries under way" 20 ge_cmd $((base + 10)) processed
kill_service notifier
inflight="$(nt_sql "SELECT count(*) FROM notifications WHERE state = 'sending'")"
diag "killed with $inflight deliveries claimed"
start_up notifier
wait_until "after the kill all 100 are delivered" 60 eq_cmd $((base + 100)) processed
# rows the killed notifier had claimed are sent again once their lease (5 s) ends
wait_until "every row is sent" 30 eq_cmd 0 notsent
dups="$(nt_state '.hook.duplicates')"
diag "repeats at the receiver (recognised by webhook-id): $dups"
check "repeats only for sends in flight at the kill" test "$dups" -le "$inflight"

# ---- 5. stopped while 100 alerts commit -----------------------------------------
stop_service notifier
base="$(processed)"
alert_gen send --count 100 --first 2000 --seed 1 >/dev/null || bail "alert-gen failed"
check_eq "the alerts are committed" 100 "$(nt_sql "SELECT count(*) FROM alerts WHERE alert_key LIKE 'k-1-2___'")"
start_up notifier
wait_until "started again, it delivers all 100" 60 eq_cmd $((base + 100)) processed
cursor_at_end() { [ "$(nt_sql "SELECT max(id) FROM alerts")" = "$(nt_sql "SELECT last_id FROM notifier_cursors WHERE name = 'alerts'")" ]; }
wait_until "the cursor reaches the last alert (once no transaction can add below it)" 20 cursor_at_end

# ---- 6. two replicas ------------------------------------------------------------------
dups0="$(nt_state '.hook.duplicates')"
A2="$(free_port)"
TD_INSTANCE=notifier-2 TD_ENV="TFDRIFT_NOTIFIER_ADMIN_PORT=$A2 TFDRIFT_NOTIFIER_INSTANCE=replica-2" \
	TD_ADMIN_PORT=$A2 start_service notifier
wait_admin notifier-2 30 || bail "second notifier did not come up"
base="$(processed)"
alert_gen send --count 200 --first 3000 --seed 1 >/dev/null || bail "alert-gen failed"
wait_until "two replicas deliver all 200" 60 eq_cmd $((base + 200)) processed
check_eq "each once" "$dups0" "$(nt_state '.hook.duplicates')"
diag "claimed by: $(nt_sql "SELECT string_agg(c || '=' || n, ' ') FROM (SELECT claimed_by c, count(*) n FROM notifications n JOIN alerts a ON a.id = n.alert_id WHERE a.alert_key LIKE 'k-1-3___' GROUP BY 1) x")"
check "both replicas sent some" test \
	"$(nt_sql "SELECT count(DISTINCT claimed_by) FROM notifications n JOIN alerts a ON a.id = n.alert_id WHERE a.alert_key LIKE 'k-1-3___'")" -ge 2
stop_service notifier-2

# ---- 7. SIGTERM while the receiver takes 30 s to answer ------------------------------
nt_control hook ok 1 30000
alert_gen send --count 3 --first 4000 --seed 1 >/dev/null || bail "alert-gen failed"
sending() { nt_sql "SELECT count(*) FROM notifications WHERE state = 'sending'"; }
wait_until "sends are waiting for the slow receiver" 20 ge_cmd 1 sending
stop_service notifier 10
check_eq "SIGTERM: exit status 0" 0 "${TD_STATUS[notifier]}"
check "within shutdown_timeout (4 s) and a little ($TD_STOP_MS ms)" test "$TD_STOP_MS" -lt 7000
check_eq "the sends cut short are pending again" 0 "$(sending)"
nt_control hook ok
start_up notifier
unsent() { nt_sql "SELECT count(*) FROM notifications WHERE state <> 'sent' AND receiver = 'hook'"; }
wait_until "and are delivered after the restart" 30 eq_cmd 0 unsent
finish
