#!/usr/bin/env bash
# test_notifier_email.sh — e-mail over SMTP with STARTTLS (npm `smtp-server`,
# which refuses MAIL before STARTTLS), plain text and HTML; a Microsoft Teams
# workflow webhook with an Adaptive Card; `tfdrift-notifier test RECEIVER`;
# and routing files that must stop start-up with a message naming the key.
source "$(dirname "$0")/../lib/services.sh"
source "$(dirname "$0")/../lib/persistence.sh"
source "$(dirname "$0")/../lib/notifier.sh"

need jq psql openssl
mkdir -p "$TD_TMP/tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	-keyout "$TD_TMP/tls/key.pem" -out "$TD_TMP/tls/cert.pem" >/dev/null 2>&1 || bail "openssl"
SMTP_PORT="$(free_port)"
nt_peer_args --smtp "$SMTP_PORT" --smtp-password "smtp-pw-$RANDOM$RANDOM" --tls-key "$TD_TMP/tls/key.pem" --tls-cert "$TD_TMP/tls/cert.pem"
nt_setup
NT_SMTP_PASSWORD="$(sed -n 's/.*--smtp-password \([^ ]*\).*/\1/p' <<<"${NT_PEER_ARGS[*]}")"
export NT_SMTP_PASSWORD
nt_routing "receivers:
  - name: mail
    type: email
    url: smtp://localhost:$SMTP_PORT
    from: tfdrift@example.org
    to: [oncall@example.org, sre@example.org]
    username: tfdrift
    password_env: NT_SMTP_PASSWORD
    ca_file: $TD_TMP/tls/cert.pem
  - name: plainmail
    type: email
    url: smtp://localhost:$SMTP_PORT
    from: tfdrift@example.org
    to: oncall@example.org
    starttls: false
  - name: teams
    type: teams
    url_env: NT_TEAMS_URL
  - name: hook
    type: webhook
    url: http://127.0.0.1:$NT_HOOK/t
    secret_env: NT_SECRET
route:
  receivers: [mail, teams]"

# ---- the test subcommand ------------------------------------------------------------
out="$("$TD_BIN/tfdrift-notifier" --config "$TD_CONFIG" test hook 2>&1)"
rc=$?
check_eq "test hook: exit 0" 0 "$rc"
check "test hook: prints the outcome" grep -q '^outcome: sent' <<<"$out"
check_eq "the sample reached the webhook, signed" 1 "$(nt_state '.hook.processed')"
out="$("$TD_BIN/tfdrift-notifier" --config "$TD_CONFIG" test teams 2>&1)"
check "test teams: 202 from the workflow" grep -q '^status: 202' <<<"$out"
check "test teams: the URL is not printed whole" bash -c "! grep -q '/teams' <<<'$out'"
out="$("$TD_BIN/tfdrift-notifier" --config "$TD_CONFIG" test nosuch 2>&1)"
check_eq "test nosuch: exit 2" 2 "$?"
check "test nosuch: says so" grep -q "no receiver named 'nosuch'" <<<"$out"

# ---- e-mail and Teams --------------------------------------------------------------
start_up notifier
wait_ready notifier 30 || bail "notifier is not ready"
alert_gen send --count 3 >/dev/null || bail "alert-gen failed"
mails() { nt_state '.smtp.mails | length'; }
wait_until "three mails arrive" 30 ge_cmd 3 mails
check_eq "over TLS (STARTTLS)" true "$(nt_state '[.smtp.mails[].secure] | all')"
check_eq "to both recipients" "oncall@example.org,sre@example.org" "$(nt_state '.smtp.mails[0].to | join(",")')"
check "multipart/alternative with text and HTML" bash -c \
	"curl -s http://127.0.0.1:$NT_HTTP/_state | jq -r '.smtp.mails[0].raw' | grep -q 'multipart/alternative' &&
	 curl -s http://127.0.0.1:$NT_HTTP/_state | jq -r '.smtp.mails[0].raw' | grep -q 'text/html' &&
	 curl -s http://127.0.0.1:$NT_HTTP/_state | jq -r '.smtp.mails[0].raw' | grep -q 'text/plain'"
check "the subject names the resource" bash -c \
	"curl -s http://127.0.0.1:$NT_HTTP/_state | jq -r '.smtp.mails[].raw' | grep -q '^Subject: tfdrift: \\[INFO\\] drift: aws_instance.web\\[0\\]'"
cards() { nt_state '.teams.cards | length'; }
wait_until "three Teams cards (and the test's sample)" 30 eq_cmd 4 cards
check_eq "an Adaptive Card with a link to the UI" "Action.OpenUrl" "$(nt_state '.teams.cards[0].actions[0].type')"
stop_service notifier

# a server that refuses MAIL without STARTTLS: permanent, not retried forever
nt_routing "receivers:
  - name: plainmail
    type: email
    url: smtp://localhost:$SMTP_PORT
    from: tfdrift@example.org
    to: oncall@example.org
    starttls: false
route:
  receivers: [plainmail]"
start_up notifier
alert_gen send --count 1 --first 50 >/dev/null || bail "alert-gen failed"
failedmail() { nt_sql "SELECT count(*) FROM notifications n JOIN alerts a ON a.id = n.alert_id WHERE a.alert_key = 'k-1-50' AND n.receiver = 'plainmail' AND n.state = 'failed' AND n.attempts = 1"; }
wait_until "SMTP 530 (STARTTLS required) is a permanent failure" 20 eq_cmd 1 failedmail
stop_service notifier

# ---- routing files that stop start-up ------------------------------------------------
bad() {
	local name="$1" want="$2" text="$3" err rc
	printf '%s\n' "$text" >"$TD_TMP/routing.yaml"
	err="$(timeout 10 "$TD_BIN/tfdrift-notifier" --config "$TD_CONFIG" 2>&1 >/dev/null)"
	rc=$?
	if [ "$rc" = 2 ] && grep -qF "$want" <<<"$err"; then
		ok "$name"
	else
		not_ok "$name" "exit $rc, stderr: $(head -c 300 <<<"$err")"
	fi
}
bad "unknown receiver in a route" \
	"routing.yaml:4: route.routes[0].receivers: unknown receiver 'pagr' (receivers: hook)" \
	"receivers: [{name: hook, type: webhook, url: 'http://x/', secret_env: NT_SECRET}]
route:
  receivers: [hook]
  routes: [{match: {severity: high}, receivers: [pagr]}]"
bad "missing secret" \
	"routing.yaml:4: receivers[0] (hook).secret_env: environment variable NT_NOT_SET is not set" \
	"receivers:
  - name: hook
    type: webhook
    secret_env: NT_NOT_SET
    url: http://x/
route: {receivers: [hook]}"
bad "a secret written in the file" \
	"receivers[0] (bot).token: a secret is read from the environment or a file" \
	"receivers:
  - {name: bot, type: slack_api, channel: C1, token: xoxb-1}
route: {receivers: [bot]}"
bad "an unreadable secret file" \
	"receivers[0] (pd).routing_key_file: cannot read /nonexistent/key" \
	"receivers:
  - {name: pd, type: pagerduty, routing_key_file: /nonexistent/key}
route: {receivers: [pd]}"
bad "an unknown key" "receivers[0] (hook).colour: unknown key for a webhook receiver" \
	"receivers:
  - {name: hook, type: webhook, url: 'http://x/', secret_env: NT_SECRET, colour: red}
route: {receivers: [hook]}"
bad "an unknown match field" "route.routes[0].match.colour: unknown field" \
	"receivers: [{name: hook, type: webhook, url: 'http://x/', secret_env: NT_SECRET}]
route:
  receivers: [hook]
  routes: [{match: {colour: red}, receivers: [hook]}]"
bad "a bad duration" "route.group_wait: 'soon' is not a duration" \
	"receivers: [{name: hook, type: webhook, url: 'http://x/', secret_env: NT_SECRET}]
route: {receivers: [hook], group_wait: soon}"
bad "no route" "route: required" \
	"receivers: [{name: hook, type: webhook, url: 'http://x/', secret_env: NT_SECRET}]"
check "secrets never reach the log" bash -c "! grep -qF \"\$NT_SECRET\" '$TD_TMP/logs/notifier.log' && ! grep -qF '$NT_SMTP_PASSWORD' '$TD_TMP/logs/notifier.log'"
finish
