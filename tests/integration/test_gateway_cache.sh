#!/usr/bin/env bash
# The api-gateway's response cache (api_gateway.cache_ttl) with real
# PostgreSQL and persistence publishing commits: a repeated GET /drifts or
# /stats is answered from the cache (X-Cache: hit) with the same body; the
# token and role are still checked on a hit; parameter order does not
# matter; a commit persistence publishes and a PATCH on this gateway empty
# it (the next answer shows the change although the TTL is far away);
# pagination with inserts between pages stays stable; a change the gateway
# cannot hear of (a row written by SQL) shows once the TTL has passed, on a
# second gateway with a short TTL.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/gateway.sh
source "$(dirname "$0")/../lib/gateway.sh"
# shellcheck source=../lib/persistence.sh
source "$(dirname "$0")/../lib/persistence.sh"
need jq sha256sum

start_postgres
gw_tokens
# Long enough that only an invalidation can explain a fresh answer.
cfg_set api_gateway cache_ttl 60s
write_config
start_service persistence
wait_ready persistence 30 || bail "persistence is not ready"
start_service api-gateway
wait_ready api-gateway 30 || bail "api-gateway is not ready"
for _ in $(seq 1 100); do
	gw_req GET /api/v1/health "$TOK_VIEWER"
	[ "$(jq -r .checks.alerts_feed.connected <<<"$GW_BODY" 2>/dev/null)" = true ] && break
	sleep 0.1
done
check_eq "the gateway is subscribed to persistence" true \
	"$(jq -r .checks.alerts_feed.connected <<<"$GW_BODY")"

out="$(alert_gen send --count 30 --batch 10 --seed 11)"
check_eq "30 alerts committed" 30 "$(sql 'SELECT count(*) FROM alerts')"

# xcache PATH [TOKEN] — one GET; sets GW_CODE, GW_BODY and XC (its X-Cache).
xcache() {
	local h="$TD_TMP/gw.headers"
	local -a a=(-g -s -D "$h" -o "$TD_TMP/gw.body" -w '%{http_code}' --max-time 20)
	[ -n "${2:-}" ] && a+=(-H "Authorization: Bearer $2")
	GW_CODE="$(curl "${a[@]}" "$TD_API_URL$1")"
	GW_BODY="$(cat "$TD_TMP/gw.body")"
	XC="$(tr -d '\r' <"$h" | sed -n 's/^[Xx]-[Cc]ache: //p')"
	jq -nc --arg p "$1" --arg c "$GW_CODE" --rawfile b "$TD_TMP/gw.body" \
		'{method: "GET", path: $p, status: ($c | tonumber? // 0), body: $b}' >>"$GW_RECORD"
}

L="/api/v1/drifts?limit=5&sort=newest"
xcache "$L" "$TOK_VIEWER"
check_eq "first list: a miss" miss "$XC"
first="$GW_BODY"
xcache "$L" "$TOK_VIEWER"
check_eq "the same list again: a hit" hit "$XC"
check_eq "... with the same body" "$first" "$GW_BODY"
xcache "/api/v1/drifts?sort=newest&limit=5" "$TOK_VIEWER"
check_eq "the parameters in another order: a hit" hit "$XC"
xcache "/api/v1/drifts?limit=6" "$TOK_VIEWER"
check_eq "another limit: a miss" miss "$XC"

# Auth runs before the cache, on every request.
xcache "$L"
check_eq "a cached list without a token: 401" 401 "$GW_CODE"
xcache "$L" "not-a-token"
check_eq "a cached list with an unknown token: 401" 401 "$GW_CODE"
check_eq "... and the 401 body is an error, not the list" unauthorized \
	"$(jq -r .error.code <<<"$GW_BODY")"
xcache "$L" "$TOK_OPERATOR"
check_eq "an operator reads the cached list" 200 "$GW_CODE"
gw_expect "a bad parameter is still refused" 400 GET "/api/v1/drifts?limit=5&sort=sideways" \
	"$TOK_VIEWER"

S="/api/v1/stats?since=$(date -u -d '-2 days' +%Y-%m-%dT00:00:00Z)&until=$(date -u -d '+2 days' +%Y-%m-%dT00:00:00Z)"
xcache "$S" "$TOK_VIEWER"
check_eq "stats: a miss" miss "$XC"
xcache "$S" "$TOK_VIEWER"
check_eq "stats again: a hit" hit "$XC"
check_eq "stats count 30" 30 "$(jq -r .total <<<"$GW_BODY")"

# A commit persistence publishes empties the cache.
top="$(jq -r '.items[0].id' <<<"$first")"
alert_gen send --count 1 --batch 1 --seed 12 --first 100 >/dev/null
new="$(sql 'SELECT max(id) FROM alerts')"
check "a new alert was committed" test "$new" -gt "$top"
for _ in $(seq 1 100); do
	xcache "$L" "$TOK_VIEWER"
	[ "$(jq -r '.items[0].id' <<<"$GW_BODY")" = "$new" ] && break
	sleep 0.05
done
check_eq "after the commit the list shows the new alert (TTL 60s: invalidated)" "$new" \
	"$(jq -r '.items[0].id' <<<"$GW_BODY")"
xcache "$S" "$TOK_VIEWER"
check_eq "stats after the commit count 31" 31 "$(jq -r .total <<<"$GW_BODY")"

# A PATCH on this gateway empties it at once.
xcache "/api/v1/drifts?limit=5&status=open" "$TOK_VIEWER"
xcache "/api/v1/drifts?limit=5&status=open" "$TOK_VIEWER"
check_eq "the open list is cached" hit "$XC"
gw_expect "PATCH acknowledges the newest alert" 200 PATCH "/api/v1/drifts/$new" "$TOK_OPERATOR" \
	'{"status":"acknowledged","note":"cache test"}'
xcache "/api/v1/drifts?limit=5&status=open" "$TOK_VIEWER"
check_eq "right after the PATCH the open list no longer holds it" "" \
	"$(jq -r --arg id "$new" '.items[] | select((.id | tostring) == $id) | .id' <<<"$GW_BODY")"
xcache "/api/v1/drifts?limit=5" "$TOK_VIEWER"
check_eq "... and the full list shows it acknowledged" acknowledged \
	"$(jq -r '.items[0].status' <<<"$GW_BODY")"

# Pagination with commits between pages: page 2 continues after page 1's
# last id whatever the cache holds.
xcache "/api/v1/drifts?limit=10" "$TOK_VIEWER"
p1="$(jq -r '[.items[].id] | join(",")' <<<"$GW_BODY")"
cur="$(jq -r .next_cursor <<<"$GW_BODY")"
alert_gen send --count 5 --batch 5 --seed 13 --first 200 >/dev/null
xcache "/api/v1/drifts?limit=10&cursor=$cur" "$TOK_VIEWER"
p2="$(jq -r '[.items[].id] | join(",")' <<<"$GW_BODY")"
want="$(sql "SELECT string_agg(id::text, ',' ORDER BY id DESC) FROM (SELECT id FROM alerts
  WHERE id < $(cut -d, -f10 <<<"$p1") ORDER BY id DESC LIMIT 10) s")"
check_eq "page 2 after inserts continues page 1 exactly" "$want" "$p2"

# A second gateway with a 1 s TTL: a row written behind its back (no
# publish) shows once the TTL has passed.
GW2_PORT="$(free_port)"
GW2_ADMIN="$(free_port)"
TD_INSTANCE=api-gateway-2 TD_ADMIN_PORT=$GW2_ADMIN \
	TD_ENV="TFDRIFT_API_GATEWAY_PORT=$GW2_PORT TFDRIFT_API_GATEWAY_ADMIN_PORT=$GW2_ADMIN TFDRIFT_API_GATEWAY_CACHE_TTL=1s" \
	start_service api-gateway
wait_ready api-gateway-2 30 || bail "the second gateway is not ready"
API1="$TD_API_URL"
TD_API_URL="http://127.0.0.1:$GW2_PORT"
xcache "/api/v1/drifts?limit=1" "$TOK_VIEWER"
before="$(jq -r '.items[0].id' <<<"$GW_BODY")"
xcache "/api/v1/drifts?limit=1" "$TOK_VIEWER"
check_eq "the second gateway caches too" hit "$XC"
sql "INSERT INTO alerts (alert_key, event_id, detected_at, workspace, resource_address,
  resource_type, kind, severity, summary) VALUES ('behind-its-back', 'ev-bib', now(), 'ws',
  'aws_s3_bucket.b', 'aws_s3_bucket', 'drift', 'low', 'written by SQL')" >/dev/null
# polled (a deadline, not a sleep against the TTL): the entry must expire
deadline=$(($(date +%s%N) + 15000000000))
while [ "$(date +%s%N)" -lt "$deadline" ]; do
	xcache "/api/v1/drifts?limit=1" "$TOK_VIEWER"
	[ "$(jq -r '.items[0].alert_key' <<<"$GW_BODY")" = behind-its-back ] && break
	sleep 0.1
done
check_eq "after the TTL it shows the row written by SQL" behind-its-back \
	"$(jq -r '.items[0].alert_key' <<<"$GW_BODY")"
check_eq "... from a fresh query once the entry expired (X-Cache)" miss "$XC"
check "... which is newer than what it had cached" test \
	"$(jq -r '.items[0].id' <<<"$GW_BODY")" -gt "$before"
TD_API_URL="$API1"

hits="$(curl -s "$(admin_url api-gateway)/metrics" |
	awk '/^tfdrift_gateway_cache_requests_total\{result="hit"\}/ {print $2}')"
check "tfdrift_gateway_cache_requests_total counts hits" test "${hits:-0}" -gt 3
gw_check_contract
finish
