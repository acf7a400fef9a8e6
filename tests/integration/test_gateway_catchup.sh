#!/usr/bin/env bash
# The live feed's gap detection: alerts re-sent to persistence (duplicates that
# ON CONFLICT drops still consume ids from the sequence) make the next
# committed alerts arrive with ids above newest+1, so the gateway sends every
# WebSocket client {"type":"catchup","after_id":N} before them, N being the
# newest id it had pushed; contiguous ids send none.  The REST list above N
# holds exactly what came after (what a client reads to catch up).
#
# Gaps no later alert reveals (the gap watch, gapwatch.c): alerts committed
# without a publication the gateway receives (written straight into
# PostgreSQL here, as by a persistence the gateway does not subscribe to)
# bring a catch-up notice within a few seconds with no further alert; and a
# persistence restart (the gateway's link drops and comes back) brings one too.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/gateway.sh
source "$(dirname "$0")/../lib/gateway.sh"
# shellcheck source=../lib/persistence.sh
source "$(dirname "$0")/../lib/persistence.sh"
need node jq
[ -d "$TD_ROOT/tests/peers/node_modules/ws" ] || bail "no tests/peers/node_modules (make deps)"

start_postgres
gw_tokens
write_config
start_up persistence api-gateway
wait_ready persistence 30 || bail "persistence is not ready"
for _ in $(seq 1 100); do
	gw_req GET /api/v1/health "$TOK_VIEWER"
	[ "$(jq -r .checks.alerts_feed.connected <<<"$GW_BODY" 2>/dev/null)" = true ] && break
	sleep 0.1
done
check_eq "the gateway is subscribed to persistence" true "$(jq -r .checks.alerts_feed.connected <<<"$GW_BODY")"
B="http://127.0.0.1:${TD_PORT[api_gateway.port]}"

# one WebSocket client printing every message, one JSON a line
NODE_PATH="$TD_ROOT/tests/peers/node_modules" node -e '
const WebSocket = require("ws");
const ws = new WebSocket(process.argv[1].replace(/^http/, "ws") + "/api/v1/ws?access_token=" + process.argv[2]);
ws.on("message", (d) => console.log(d.toString()));
setTimeout(() => process.exit(0), 120000);
' "$B" "$TOK_VIEWER" >"$TD_TMP/ws.out" 2>"$TD_TMP/ws.err" &
WS_PID=$!
for _ in $(seq 1 100); do grep -q '"hello"' "$TD_TMP/ws.out" 2>/dev/null && break; sleep 0.1; done
check "the client got its hello" grep -q '"hello"' "$TD_TMP/ws.out"

count_type() { grep -c "\"type\":\"$1\"" "$TD_TMP/ws.out" 2>/dev/null || true; }
wait_alerts() {
	local want=$1
	for _ in $(seq 1 100); do [ "$(count_type alert)" -ge "$want" ] && return 0; sleep 0.1; done
	return 1
}

out=$(alert_gen send --count 10 --batch 5 --seed 3)
check_eq "10 alerts accepted" 10 "$(gen_field "$out" accepted)"
wait_alerts 10 || diag "only $(count_type alert) alerts pushed"
check_eq "10 contiguous ids pushed, no catch-up" "10 0" "$(count_type alert) $(count_type catchup)"
newest=$(grep '"type":"alert"' "$TD_TMP/ws.out" | jq -s 'map(.alert.id) | max')

# alerts 5..14 again: 5..9 are duplicates (their ids are consumed, nothing is committed)
out=$(alert_gen send --count 10 --first 5 --batch 10 --seed 3)
check_eq "5 of 10 re-sent alerts are duplicates" 5 "$(gen_field "$out" duplicates)"
wait_alerts 15 || diag "only $(count_type alert) alerts pushed"
check_eq "one catch-up notice" 1 "$(count_type catchup)"
check_eq "... naming the newest id pushed before the gap" "$newest" \
	"$(grep '"type":"catchup"' "$TD_TMP/ws.out" | jq -r .after_id)"
check_eq "... sent before the alert that revealed it" "catchup" \
	"$(grep -E '"type":"(alert|catchup)"' "$TD_TMP/ws.out" | sed -n 11p | jq -r .type)"
gw_req GET "/api/v1/drifts?limit=500" "$TOK_VIEWER"
check_eq "the REST list above after_id holds the 5 new alerts" 5 \
	"$(jq --argjson n "$newest" '[.items[] | select(.id > $n)] | length' <<<"$GW_BODY")"
check "the metric counts it" test "$(metric api-gateway tfdrift_gateway_live_catchups_total)" = 1
newest=$(grep '"type":"alert"' "$TD_TMP/ws.out" | jq -s 'map(.alert.id) | max')

wait_catchups() {
	local want=$1
	for _ in $(seq 1 300); do [ "$(count_type catchup)" -ge "$want" ] && return 0; sleep 0.1; done
	return 1
}
# three alerts committed that persistence never published
sql "INSERT INTO alerts (alert_key, kind, severity, workspace, resource_address, resource_type)
     SELECT 'direct-' || g, 'drift', 'high', 'prod/direct', 'aws_s3_bucket.d' || g, 'aws_s3_bucket'
     FROM generate_series(1, 3) g"
wait_catchups 2 || diag "no catch-up notice for the unpublished alerts"
check_eq "unpublished commits: a catch-up notice with no further alert" "2 15" \
	"$(count_type catchup) $(count_type alert)"
last_catchup() { grep '"type":"catchup"' "$TD_TMP/ws.out" | tail -n 1; }
check_eq "... naming the newest id pushed" "$newest" "$(last_catchup | jq -r .after_id)"
check_eq "... and why" "committed alerts were not pushed" "$(last_catchup | jq -r .reason)"
gw_req GET "/api/v1/drifts?limit=500" "$TOK_VIEWER"
check_eq "the REST list above it holds the 3 (the response cache was emptied)" \
	"aws_s3_bucket.d1 aws_s3_bucket.d2 aws_s3_bucket.d3" \
	"$(jq -r --argjson n "$newest" '[.items[] | select(.id > $n) | .resource_address] | sort | join(" ")' <<<"$GW_BODY")"
before=$(count_type catchup)

# persistence restarts: the gateway's link drops and comes back
stop_service persistence || diag "persistence did not stop in time"
for _ in $(seq 1 100); do
	gw_req GET /api/v1/health "$TOK_VIEWER"
	[ "$(jq -r .checks.alerts_feed.connected <<<"$GW_BODY" 2>/dev/null)" = false ] && break
	sleep 0.1
done
check_eq "the link is down" false "$(jq -r .checks.alerts_feed.connected <<<"$GW_BODY")"
# the gap watch (a check every 2 s) has seen it down
for _ in $(seq 1 100); do
	[ "$(grep -c 'lost its link to persistence' "${TD_LOG[api-gateway]}" || true)" -gt 0 ] && break
	sleep 0.1
done
check "the gap watch saw the link down" grep -q 'lost its link to persistence' "${TD_LOG[api-gateway]}"
start_up persistence
wait_ready persistence 30 || bail "persistence is not ready again"
wait_catchups $((before + 1)) || diag "no catch-up notice after the link came back"
check_eq "the link came back: one catch-up notice, no further alert" "$((before + 1)) 15" \
	"$(count_type catchup) $(count_type alert)"
check_eq "... and why" "link to persistence re-established" "$(last_catchup | jq -r .reason)"
kill "$WS_PID" 2>/dev/null
wait "$WS_PID" 2>/dev/null
finish
