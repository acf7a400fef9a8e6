#!/usr/bin/env bash
# Two api-gateway replicas with response caches on one PostgreSQL, and two
# persistences (issue 14): every gateway's cache is emptied by changes made
# anywhere — a PATCH on the other gateway, a commit by a persistence whose
# PUB the gateway does not subscribe to, a row written by SQL — through
# PostgreSQL's NOTIFY tfdrift_changes (migration 005_change_notify) and each
# gateway's LISTEN connection.  The cache TTL is a minute (the maximum) and every wait below 10 s, so only an
# invalidation can explain a fresh answer.  After a PostgreSQL restart the
# listener reconnects (and empties the cache) and invalidation works again.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/gateway.sh
source "$(dirname "$0")/../lib/gateway.sh"
# shellcheck source=../lib/persistence.sh
source "$(dirname "$0")/../lib/persistence.sh"
need jq

start_postgres
gw_tokens
cfg_set api_gateway cache_ttl 60s
write_config
read -r PA2 PW2 PP2 GA2 GP2 <<<"$(free_ports 5)"
P2_WORK="tcp://127.0.0.1:$PW2"
start_service persistence
TD_INSTANCE=persistence-2 TD_ADMIN_PORT=$PA2 \
	TD_ENV="TFDRIFT_PERSISTENCE_ADMIN_PORT=$PA2 TFDRIFT_PERSISTENCE_WORK_LISTEN=$P2_WORK TFDRIFT_PERSISTENCE_ALERTS_PUB_LISTEN=tcp://127.0.0.1:$PP2 TFDRIFT_SHARED_DATA_DIR=$TD_TMP/data-2" \
	start_service persistence
wait_ready persistence 30 || bail "persistence is not ready"
wait_ready persistence-2 30 || bail "persistence-2 is not ready"
# Both gateways subscribe to the first persistence only (the default
# alerts_url): what the second one commits reaches them only through NOTIFY.
start_service api-gateway
TD_INSTANCE=api-gateway-2 TD_ADMIN_PORT=$GA2 \
	TD_ENV="TFDRIFT_API_GATEWAY_PORT=$GP2 TFDRIFT_API_GATEWAY_ADMIN_PORT=$GA2" \
	start_service api-gateway
wait_ready api-gateway 30 || bail "api-gateway is not ready"
wait_ready api-gateway-2 30 || bail "api-gateway-2 is not ready"
GW_A="$TD_API_URL"
GW_B="http://127.0.0.1:$GP2"

check "gateway A listens for changes" wait_metric api-gateway tfdrift_gateway_changes_listening 1 20
check "gateway B listens for changes" wait_metric api-gateway-2 tfdrift_gateway_changes_listening 1 20

alert_gen send --count 20 --batch 10 --seed 21 >/dev/null
check_eq "20 alerts committed" 20 "$(sql 'SELECT count(*) FROM alerts')"

# get GATEWAY_URL PATH — one GET as viewer; sets GW_CODE, GW_BODY, XC (X-Cache).
get() {
	local h="$TD_TMP/gw.headers"
	GW_CODE="$(curl -g -s -D "$h" -o "$TD_TMP/gw.body" -w '%{http_code}' --max-time 20 \
		-H "Authorization: Bearer $TOK_VIEWER" "$1$2")"
	GW_BODY="$(cat "$TD_TMP/gw.body")"
	XC="$(tr -d '\r' <"$h" | sed -n 's/^[Xx]-[Cc]ache: //p')"
}
# until_b PATH JQ WANT — polls gateway B (10 s) until JQ over the body is WANT;
# leaves the last answer in GW_BODY.
until_b() {
	local deadline=$(($(date +%s%N) + 10000000000))
	while [ "$(date +%s%N)" -lt "$deadline" ]; do
		get "$GW_B" "$1"
		[ "$(jq -r "$2" <<<"$GW_BODY")" = "$3" ] && return 0
		sleep 0.05
	done
	return 1
}
# cached_on_b PATH — asks B twice; the second answer must come from the cache.
cached_on_b() {
	get "$GW_B" "$1"
	get "$GW_B" "$1"
	check_eq "B answers $1 from its cache" hit "$XC" api-gateway-2
}

L="/api/v1/drifts?limit=5"
cached_on_b "$L"
top="$(jq -r '.items[0].id' <<<"$GW_BODY")"
check_eq "the newest alert is open" open "$(jq -r '.items[0].status' <<<"$GW_BODY")"
n0="$(metric api-gateway-2 tfdrift_gateway_changes_notifications_total)"

# ---- a PATCH on gateway A empties gateway B's cache ----
TD_API_URL="$GW_A"
gw_expect "PATCH on gateway A acknowledges the newest alert" 200 PATCH "/api/v1/drifts/$top" \
	"$TOK_OPERATOR" '{"status":"acknowledged","note":"replica test"}'
check "B's list shows the alert acknowledged (TTL 60 s: invalidated)" \
	until_b "$L" '.items[0].status' acknowledged
n1="$(metric api-gateway-2 tfdrift_gateway_changes_notifications_total)"
check "B counted the notification" test "${n1:-0}" -gt "${n0:-0}"

# ---- a commit by the persistence B does not subscribe to ----
S="/api/v1/stats?since=$(date -u -d '-2 days' +%Y-%m-%dT00:00:00Z)&until=$(date -u -d '+2 days' +%Y-%m-%dT00:00:00Z)"
cached_on_b "$S"
check_eq "B's stats count 20" 20 "$(jq -r .total <<<"$GW_BODY")"
cached_on_b "$L"
"$TD_BIN/tfdrift-alert-gen" send "$P2_WORK" --count 3 --batch 3 --seed 22 --first 500 >/dev/null
new="$(sql 'SELECT max(id) FROM alerts')"
check "persistence-2 committed newer alerts" test "$new" -gt "$top"
check "B's list shows persistence-2's commit, whose PUB it never heard" \
	until_b "$L" '.items[0].id | tostring' "$new"
check "B's stats count 23" until_b "$S" '.total' 23
check_eq "B's alerts feed saw none of persistence-2's alerts" 20 \
	"$(metric api-gateway-2 tfdrift_gateway_alerts_received_total)"

# ---- a row written by SQL (no bus message at all) ----
cached_on_b "$L"
sql "INSERT INTO alerts (alert_key, event_id, detected_at, workspace, resource_address,
  resource_type, kind, severity, summary) VALUES ('by-sql-1', 'ev-sql-1', now(), 'ws',
  'aws_s3_bucket.b', 'aws_s3_bucket', 'drift', 'low', 'written by SQL')" >/dev/null
check "B's list shows a row written by SQL" until_b "$L" '.items[0].alert_key' by-sql-1

# ---- PostgreSQL restarts: the listeners come back and work again ----
r0="$(metric api-gateway-2 tfdrift_gateway_changes_reconnects_total)"
pg_stop
check "B notices the lost connection" wait_metric api-gateway-2 tfdrift_gateway_changes_listening 0 20
pg_start
check "B listens again after the restart" wait_metric api-gateway-2 tfdrift_gateway_changes_listening 1 30
check "A listens again after the restart" wait_metric api-gateway tfdrift_gateway_changes_listening 1 30
r1="$(metric api-gateway-2 tfdrift_gateway_changes_reconnects_total)"
check "B counted the reconnect" test "${r1:-0}" -gt "${r0:-0}"
check "B serves again after the restart" until_b "$L" '.items[0].alert_key' by-sql-1
cached_on_b "$L"
sql "INSERT INTO alerts (alert_key, event_id, detected_at, workspace, resource_address,
  resource_type, kind, severity, summary) VALUES ('by-sql-2', 'ev-sql-2', now(), 'ws',
  'aws_s3_bucket.b', 'aws_s3_bucket', 'drift', 'low', 'written by SQL')" >/dev/null
check "after the restart B's cache is still emptied by changes" \
	until_b "$L" '.items[0].alert_key' by-sql-2

# ---- and the other way round: a PATCH on B shows on A ----
TD_API_URL="$GW_A"
get "$GW_A" "$L"
get "$GW_A" "$L"
check_eq "A answers from its cache" hit "$XC" api-gateway
TD_API_URL="$GW_B"
gw_expect "PATCH on gateway B resolves the newest alert" 200 PATCH \
	"/api/v1/drifts/$(jq -r '.items[0].id' <<<"$GW_BODY")" "$TOK_OPERATOR" '{"status":"resolved"}'
a_resolved() {
	local deadline=$(($(date +%s%N) + 10000000000))
	while [ "$(date +%s%N)" -lt "$deadline" ]; do
		get "$GW_A" "$L"
		[ "$(jq -r '.items[0].status' <<<"$GW_BODY")" = resolved ] && return 0
		sleep 0.05
	done
	return 1
}
check "A's list shows the alert resolved on B" a_resolved
TD_API_URL="$GW_A"
gw_check_contract
finish
