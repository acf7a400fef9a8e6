#!/usr/bin/env bash
# The api-gateway's REST API with real PostgreSQL (schema from persistence's
# migrations), Redis (written by state-loader from the example states) and
# ingest's metrics: auth (no token, wrong token, each role), every endpoint
# and filter against the same question asked in SQL, keyset pages with rows
# inserted between them, PATCH transitions and their history, injection and
# malformed parameters (400, nothing changes), CORS and security headers,
# the token configuration's errors and auth turned off; finally every
# response seen is checked against the OpenAPI document.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/gateway.sh
source "$(dirname "$0")/../lib/gateway.sh"
need node sha256sum

start_postgres
start_redis
gw_tokens
P_INGEST_ADMIN="$(free_port)"
cfg_set ingest admin_port "$P_INGEST_ADMIN"
cfg_set api_gateway ingest_metrics_url "\"http://127.0.0.1:$P_INGEST_ADMIN/metrics\""
cfg_set api_gateway cors_origins '["https://ui.example"]'
cfg_set api_gateway max_body 4KiB
cfg_set state_loader local_files \
	"[\"prod/network=$TD_ROOT/examples/states/prod-network.tfstate\", \"prod/app=$TD_ROOT/examples/states/prod-app.tfstate\"]"
write_config
TD_PORT[ingest.admin_port]=$P_INGEST_ADMIN
start_up persistence state-loader ingest api-gateway
wait_ready persistence 30 || bail "persistence is not ready (migrations)"
wait_ready api-gateway 30 || bail "api-gateway is not ready"
for _ in $(seq 1 100); do
	[ "$(rcli HLEN tfdrift:workspaces)" = 2 ] && break
	sleep 0.1
done
check_eq "state-loader wrote both workspaces" 2 "$(rcli HLEN tfdrift:workspaces)" state-loader
# P gen: the latest switch of any workspace; each workspace has its own (P wsgen)
GEN="$(rcli GET tfdrift:gen)"
APPGEN="$(rcli HGET tfdrift:wsgen prod/app)"
NETGEN="$(rcli HGET tfdrift:wsgen prod/network)"
check "each workspace has its generation in wsgen ($APPGEN, $NETGEN), P gen the latest ($GEN)" \
	test -n "$APPGEN" -a -n "$NETGEN" -a "$GEN" = "$(printf '%s\n' "$APPGEN" "$NETGEN" | sort -n | tail -1)"

# ---- seed: 60 alerts with every field varied ----------------------------------------
seed() { # seed FIRST COUNT
	sql "INSERT INTO alerts (alert_key, event_id, event_time, detected_at, workspace,
	  resource_address, resource_type, kind, attribute, severity, principal_type,
	  principal_arn, principal_name, principal_account, source_ip, region, account_id,
	  event_name, event_source, service, summary, recommended_fix, changes, raw_event,
	  identifiers)
	SELECT 'key-' || i, 'ev-' || i,
	  timestamptz '2026-11-01T00:00:00Z' + i * interval '5 hours',
	  timestamptz '2026-11-01T00:00:00Z' + i * interval '5 hours',
	  CASE WHEN i % 2 = 0 THEN 'prod/app' ELSE 'prod/network' END,
	  CASE WHEN i % 2 = 0 THEN (ARRAY['aws_instance.web[0]', 'aws_s3_bucket.assets',
	    'aws_lambda_function.processor'])[i % 3 + 1] ELSE 'aws_security_group.web' END,
	  CASE WHEN i % 2 = 0 THEN (ARRAY['aws_instance', 'aws_s3_bucket',
	    'aws_lambda_function'])[i % 3 + 1] ELSE 'aws_security_group' END,
	  (ARRAY['drift', 'unmanaged', 'deleted', 'modified'])[i % 4 + 1],
	  'attr' || (i % 3),
	  (ARRAY['info', 'low', 'medium', 'high', 'critical'])[i % 5 + 1],
	  'AssumedRole', 'arn:aws:sts::111122223333:assumed-role/Admin/' ||
	    (ARRAY['alice', 'bob', 'carol'])[i % 3 + 1],
	  (ARRAY['alice', 'bob', 'carol'])[i % 3 + 1], '111122223333', '203.0.113.7',
	  (ARRAY['eu-west-1', 'us-east-1'])[i % 2 + 1],
	  (ARRAY['111122223333', '444455556666'])[i % 2 + 1],
	  (ARRAY['ModifyInstanceAttribute', 'PutBucketPolicy', 'AuthorizeSecurityGroupIngress'])[i % 3 + 1],
	  'ec2.amazonaws.com', (ARRAY['ec2', 's3', 'lambda'])[i % 3 + 1],
	  'changed by hand ' || i, 'terraform apply -target=...',
	  '[{\"path\": \"instance_type\", \"old\": \"t3.micro\", \"new\": \"t3.large\", \"sensitive\": false}]'::jsonb,
	  '{\"eventID\": \"ev-x\", \"eventName\": \"ModifyInstanceAttribute\"}'::jsonb,
	  '{\"id\": \"i-0abc\"}'::jsonb
	FROM generate_series($1, $1 + $2 - 1) AS i" >/dev/null
}
seed 1 60 || bail "seeding alerts failed"
TOTAL="$(sql 'SELECT count(*) FROM alerts')"
check_eq "60 alerts seeded" 60 "$TOTAL"

# ---- auth ------------------------------------------------------------------------------
gw_expect "no token: 401" 401 GET /api/v1/drifts
gw_jq "... error.code unauthorized" unauthorized .error.code
hdr="$(curl -s -D - -o /dev/null "$TD_API_URL/api/v1/drifts")"
check "... with WWW-Authenticate: Bearer" grep -qi '^WWW-Authenticate: Bearer' <<<"$hdr"
gw_expect "wrong token: 401" 401 GET /api/v1/drifts "not-a-token"
gw_jq "... unknown API token" "unknown API token" .error.message
code="$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Basic dXNlcjpwYXNz' "$TD_API_URL/api/v1/drifts")"
check_eq "Basic credentials: 401" 401 "$code"
gw_expect "viewer reads: 200" 200 GET /api/v1/drifts "$TOK_VIEWER"
gw_expect "operator reads: 200" 200 GET /api/v1/stats "$TOK_OPERATOR"
gw_expect "admin reads: 200" 200 GET /api/v1/health "$TOK_ADMIN"
FIRST_ID="$(sql 'SELECT min(id) FROM alerts')"
gw_expect "viewer cannot change a status: 403" 403 PATCH "/api/v1/drifts/$FIRST_ID" "$TOK_VIEWER" '{"status":"acknowledged"}'
gw_jq "... error.code forbidden" forbidden .error.code
check_eq "... and nothing changed" open "$(sql "SELECT status FROM alerts WHERE id = $FIRST_ID")"
gw_expect "access_token in the query is for the live feed only: 401" 401 GET "/api/v1/drifts?access_token=$TOK_VIEWER"
gw_expect "GET /openapi.json needs no token" 200 GET /openapi.json
check_eq "... and is the document in the repo" "$(jq -S . services/api-gateway/openapi.json | sha256sum)" "$(jq -S . <<<"$GW_BODY" | sha256sum)"
gw_expect "GET /api/v1/openapi.json too" 200 GET /api/v1/openapi.json
check_eq "/healthz on the admin port needs no token" 200 "$(http_code "$(admin_url api-gateway)/healthz")"

# ---- /drifts filters: each one against the same question in SQL ----------------------------
T="$TOK_VIEWER"
filter_case() { # NAME QUERY SQL_WHERE
	local name="$1" query="$2" where="$3" want got
	want="$(sql "SELECT string_agg(id::text, ',' ORDER BY id DESC) FROM alerts WHERE $where")"
	gw_req GET "/api/v1/drifts?limit=500&$query" "$T"
	got="$(jq -r '[.items[].id] | map(tostring) | join(",")' <<<"$GW_BODY" 2>/dev/null)"
	[ "$got" = "" ] && [ "$want" = "" ] && got="" 
	if [ "$GW_CODE" = 200 ] && [ "$got" = "$want" ]; then
		ok "GET /drifts?$query = SQL $where ($(tr ',' '\n' <<<"$want" | grep -c .) rows)"
	else
		not_ok "GET /drifts?$query = SQL $where" "HTTP $GW_CODE; want [$want] got [$got]: $(head -c 200 <<<"$GW_BODY")" api-gateway
	fi
}
filter_case severity "severity=high" "severity = 'high'"
filter_case "severity list" "severity=high,critical" "severity IN ('high', 'critical')"
filter_case min_severity "min_severity=medium" "severity_rank >= 3"
filter_case status "status=open" "status = 'open'"
filter_case kind "kind=unmanaged,deleted" "kind IN ('unmanaged', 'deleted')"
filter_case workspace "workspace=prod/app" "workspace = 'prod/app'"
filter_case resource_type "resource_type=aws_instance" "resource_type = 'aws_instance'"
filter_case "address glob" "address=aws_s3_*" "resource_address LIKE 'aws\\_s3\\_%'"
filter_case "address glob with ?" "address=aws_instance.web%5B?%5D" "resource_address LIKE 'aws\\_instance.web[_]'"
filter_case service "service=lambda" "service = 'lambda'"
filter_case "principal by name" "principal=alice" "principal_name = 'alice'"
filter_case "principal by ARN" "principal=arn:aws:sts::111122223333:assumed-role/Admin/bob" "principal_name = 'bob'"
filter_case region "region=us-east-1" "region = 'us-east-1'"
filter_case account "account=444455556666" "account_id = '444455556666'"
filter_case event_name "event_name=PutBucketPolicy" "event_name = 'PutBucketPolicy'"
filter_case event_id "event_id=ev-7" "event_id = 'ev-7'"
filter_case "since/until" "since=2026-11-03T00:00:00Z&until=2026-11-05T12:00:00Z" \
	"event_time >= '2026-11-03T00:00:00Z' AND event_time < '2026-11-05T12:00:00Z'"
filter_case "q (any case)" "q=ALIC" "principal_name = 'alice'"
filter_case "q over the address" "q=s3_bucket" "resource_address LIKE '%s3\\_bucket%'"
filter_case "several filters at once" "workspace=prod/app&min_severity=high&kind=drift,modified" \
	"workspace = 'prod/app' AND severity_rank >= 4 AND kind IN ('drift', 'modified')"
filter_case "an injection attempt in a text filter matches nothing" \
	"workspace=prod%2Fapp'%20OR%20'1'%3D'1" "false"
filter_case "an injection attempt in q matches nothing" "q=%25'%20OR%201%3D1%20--" "false"
gw_req GET "/api/v1/drifts?limit=500&sort=oldest" "$T"
check_eq "sort=oldest: ascending ids" "$(sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM alerts")" \
	"$(jq -r '[.items[].id] | map(tostring) | join(",")' <<<"$GW_BODY")"

# ---- pagination with inserts between pages ------------------------------------------------
want_ids="$(sql "SELECT id FROM alerts WHERE severity_rank >= 2 ORDER BY id DESC")"
path="/api/v1/drifts?limit=7&min_severity=low"
: >"$TD_TMP/pages.ids"
pages=0
inserted=0
while [ -n "$path" ] && [ $pages -lt 50 ]; do
	gw_req GET "$path" "$T"
	[ "$GW_CODE" = 200 ] || break
	jq -r '.items[].id' <<<"$GW_BODY" >>"$TD_TMP/pages.ids"
	pages=$((pages + 1))
	# new alerts arrive between pages (they have larger ids: never on a later page)
	seed $((1000 + pages * 3)) 3
	inserted=$((inserted + 3))
	cur="$(jq -r '.next_cursor // empty' <<<"$GW_BODY")"
	path=""
	[ -n "$cur" ] && path="/api/v1/drifts?limit=7&min_severity=low&cursor=$cur"
done
check_eq "keyset pages with $inserted alerts inserted between them: exactly the rows of the first page's moment, in order" \
	"$(echo "$want_ids" | tr '\n' ' ')" "$(tr '\n' ' ' <"$TD_TMP/pages.ids")"
check "... in several pages of at most 7" test "$pages" -ge 7
gw_req GET "/api/v1/drifts?limit=7&min_severity=low&sort=oldest" "$T"
cur="$(jq -r '.next_cursor' <<<"$GW_BODY")"
last="$(jq -r '.items[-1].id' <<<"$GW_BODY")"
gw_req GET "/api/v1/drifts?limit=7&min_severity=low&sort=oldest&cursor=$cur" "$T"
check "sort=oldest pages go upwards" test "$(jq -r '.items[0].id' <<<"$GW_BODY")" -gt "$last"
TOTAL="$(sql 'SELECT count(*) FROM alerts')"

# ---- detail -----------------------------------------------------------------------------
gw_expect "GET /drifts/{id}" 200 GET "/api/v1/drifts/$FIRST_ID" "$T"
gw_jq "... carries changes, fix, raw event, identifiers, empty history" \
	"instance_type|terraform apply -target=...|ev-x|i-0abc|0" \
	'"\(.changes[0].path)|\(.recommended_fix)|\(.raw_event.eventID)|\(.identifiers.id)|\(.status_history | length)"'
gw_expect "GET /drifts/999999999: 404" 404 GET /api/v1/drifts/999999999 "$T"
gw_expect "GET /drifts/abc: 400" 400 GET /api/v1/drifts/abc "$T"
gw_jq "... naming the parameter id" "invalid_parameter|id" '"\(.error.code)|\(.error.parameter)"'
gw_expect "DELETE /drifts/{id}: 405" 405 DELETE "/api/v1/drifts/$FIRST_ID" "$T"

# ---- PATCH: transitions and history ------------------------------------------------------------
O="$TOK_OPERATOR"
ID="$FIRST_ID"
gw_expect "operator: open -> acknowledged" 200 PATCH "/api/v1/drifts/$ID" "$O" '{"status":"acknowledged","note":"looking"}'
gw_jq "... answers the alert with its new status, who and the history" "acknowledged|oncall|1|open|looking" \
	'"\(.status)|\(.status_changed_by)|\(.status_history | length)|\(.status_history[0].from_status)|\(.status_history[0].note)"'
gw_expect "acknowledged -> acknowledged: 409" 409 PATCH "/api/v1/drifts/$ID" "$O" '{"status":"acknowledged"}'
gw_jq "... conflict naming status" "conflict|status" '"\(.error.code)|\(.error.parameter)"'
gw_expect "admin: acknowledged -> resolved" 200 PATCH "/api/v1/drifts/$ID" "$TOK_ADMIN" '{"status":"resolved","note":"reverted by hand"}'
gw_expect "resolved -> ignored: 409" 409 PATCH "/api/v1/drifts/$ID" "$O" '{"status":"ignored"}'
gw_expect "resolved -> reopened" 200 PATCH "/api/v1/drifts/$ID" "$O" '{"status":"reopened"}'
gw_jq "... back to open, three history entries in order, by oncall, root-admin, oncall" \
	"open|3|open>acknowledged,acknowledged>resolved,resolved>open|oncall,root-admin,oncall" \
	'"\(.status)|\(.status_history | length)|\([.status_history[] | "\(.from_status)>\(.to_status)"] | join(","))|\([.status_history[].actor] | join(","))"'
check_eq "PostgreSQL holds the three history rows" 3 "$(sql "SELECT count(*) FROM alert_status_history WHERE alert_id = $ID")"
gw_expect "status bogus: 400" 400 PATCH "/api/v1/drifts/$ID" "$O" '{"status":"bogus"}'
gw_jq "... naming status" status .error.parameter
gw_expect "a body that is not JSON: 400" 400 PATCH "/api/v1/drifts/$ID" "$O" 'status=resolved'
gw_expect "an unknown member: 400" 400 PATCH "/api/v1/drifts/$ID" "$O" '{"status":"resolved","owner":"me"}'
gw_expect "no body: 400" 400 PATCH "/api/v1/drifts/$ID" "$O"
gw_expect "a note too long: 400" 400 PATCH "/api/v1/drifts/$ID" "$O" "{\"status\":\"resolved\",\"note\":\"$(head -c 2100 /dev/zero | tr '\0' x)\"}"
gw_expect "a body over max_body (4 KiB): 413" 413 PATCH "/api/v1/drifts/$ID" "$O" "{\"status\":\"resolved\",\"note\":\"$(head -c 5000 /dev/zero | tr '\0' x)\"}"
gw_expect "PATCH a missing id: 404" 404 PATCH /api/v1/drifts/999999999 "$O" '{"status":"resolved"}'
check_eq "after the refused changes the alert is still open with 3 history rows" "open|3" \
	"$(sql "SELECT status || '|' || (SELECT count(*) FROM alert_status_history WHERE alert_id = $ID) FROM alerts WHERE id = $ID")"
gw_req PATCH "/api/v1/drifts/$((ID + 1))" "$O" '{"status":"ignored"}'
gw_expect "status=ignored filter finds the ignored one" 200 GET "/api/v1/drifts?status=ignored" "$T"
gw_jq "... only it" "$((ID + 1))" '[.items[].id] | map(tostring) | join(",")'

# ---- malformed parameters and injection: 400, nothing changes ----------------------------------
bad() { # NAME PARAM PATH
	gw_req GET "$3" "$T"
	local p
	p="$(jq -r '.error.parameter // empty' <<<"$GW_BODY" 2>/dev/null)"
	if [ "$GW_CODE" = 400 ] && [ "$p" = "$2" ] &&
		[ "$(jq -r .error.code <<<"$GW_BODY")" = invalid_parameter ]; then
		ok "$1: 400 invalid_parameter naming $2"
	else
		not_ok "$1: 400 naming $2" "HTTP $GW_CODE: $(head -c 200 <<<"$GW_BODY")" api-gateway
	fi
}
bad "since not RFC 3339" since "/api/v1/drifts?since=yesterday"
bad "since with SQL in it" since "/api/v1/drifts?since=2026-01-01'%3B%20DELETE%20FROM%20alerts%3B--"
bad "until before since" until "/api/v1/drifts?since=2026-11-05T00:00:00Z&until=2026-11-01T00:00:00Z"
bad "limit 0" limit "/api/v1/drifts?limit=0"
bad "limit 501" limit "/api/v1/drifts?limit=501"
bad "limit with SQL" limit "/api/v1/drifts?limit=1%3BDROP%20TABLE%20alerts"
bad "severity with SQL" severity "/api/v1/drifts?severity=high'%20OR%201%3D1--"
bad "unknown severity" severity "/api/v1/drifts?severity=urgent"
bad "min_severity unknown" min_severity "/api/v1/drifts?min_severity=9"
bad "status unknown" status "/api/v1/drifts?status=closed"
bad "kind unknown" kind "/api/v1/drifts?kind=drift,foo"
bad "sort unknown" sort "/api/v1/drifts?sort=id%3Bdrop"
bad "cursor forged" cursor "/api/v1/drifts?cursor=djE6MSBPUiAxPTE"
bad "unknown parameter" colour "/api/v1/drifts?colour=red"
bad "repeated parameter" workspace "/api/v1/drifts?workspace=a&workspace=b"
bad "empty value" region "/api/v1/drifts?region="
bad "id with SQL" id "/api/v1/drifts/1%20OR%201%3D1"
bad "stats since" since "/api/v1/stats?since=nope"
bad "stats range over 366 days" since "/api/v1/stats?since=2024-01-01T00:00:00Z&until=2026-01-01T00:00:00Z"
bad "graph limit" limit "/api/v1/graph?limit=100000"
bad "graph drifted_only" drifted_only "/api/v1/graph?drifted_only=yes"
bad "graph cursor" cursor "/api/v1/graph?cursor=abc"
bad "resources unknown parameter" foo "/api/v1/resources/aws_instance.web%5B0%5D?foo=1"
# text PostgreSQL would refuse: 400 naming the parameter, never a 500
for p in q workspace principal event_id address resource_type region; do
	bad "invalid UTF-8 in $p" "$p" "/api/v1/drifts?$p=ab%FF%FEcd"
done
bad "an overlong UTF-8 sequence in q" q "/api/v1/drifts?q=%C0%AF"
bad "a NUL in workspace" workspace "/api/v1/drifts?workspace=a%00b"
bad "invalid UTF-8 in a /stats filter" workspace "/api/v1/stats?workspace=%FF"
gw_expect "valid UTF-8 in q is fine" 200 GET "/api/v1/drifts?q=caf%C3%A9" "$T"
big="$(head -c 102400 /dev/zero | tr '\0' a)"
gw_req GET "/api/v1/drifts?q=$big" "$T"
check_eq "a 100 KB query string: 414 with the API's JSON error" "414|uri_too_long" \
	"$GW_CODE|$(jq -r .error.code <<<"$GW_BODY" 2>/dev/null)"
many="$(for i in $(seq 1 70); do printf 'p%d=1&' "$i"; done)"
gw_expect "70 query parameters: 400" 400 GET "/api/v1/drifts?$many" "$T"
check_eq "after all that the alerts table is intact ($TOTAL rows)" "$TOTAL" "$(sql 'SELECT count(*) FROM alerts')"

# ---- stats --------------------------------------------------------------------------------
gw_expect "GET /stats" 200 GET /api/v1/stats "$T"
gw_jq "... total" "$TOTAL" .total
gw_jq "... by_severity sums to the total" "$TOTAL" '[.by_severity[]] | add'
gw_jq "... by_status" "$(sql "SELECT count(*) FROM alerts WHERE status = 'open'")" .by_status.open
gw_jq "... by_service" "$(sql "SELECT count(*) FROM alerts WHERE service = 'lambda'")" .by_service.lambda
gw_jq "... by_workspace" "$(sql "SELECT count(*) FROM alerts WHERE workspace = 'prod/app'")" '.by_workspace["prod/app"]'
gw_jq "... per_day covers the last 30 days by default" 30 '.per_day | length'
gw_expect "GET /stats over 2026-11-02..2026-11-09" 200 GET "/api/v1/stats?since=2026-11-02T00:00:00Z&until=2026-11-09T00:00:00Z" "$T"
gw_jq "... one entry per day, 7" 7 '.per_day | length'
gw_jq "... first day" 2026-11-02 '.per_day[0].date'
gw_jq "... day counts match SQL" \
	"$(sql "SELECT string_agg(c::text, ',' ORDER BY d) FROM (SELECT d, (SELECT count(*) FROM alerts WHERE detected_at >= d AND detected_at < d + interval '1 day') AS c FROM generate_series(timestamptz '2026-11-02T00:00:00Z', timestamptz '2026-11-08T00:00:00Z', interval '1 day') AS d) AS x")" \
	'[.per_day[].count] | map(tostring) | join(",")'
gw_jq "... groups count the range only" \
	"$(sql "SELECT count(*) FROM alerts WHERE detected_at >= '2026-11-02T00:00:00Z' AND detected_at < '2026-11-09T00:00:00Z'")" .total

# ---- workspaces, resources, graph (Redis) ----------------------------------------------------
gw_expect "GET /workspaces" 200 GET /api/v1/workspaces "$T"
gw_jq "... both, by name" "prod/app,prod/network" '[.items[].name] | join(",")'
gw_jq "... with their resource counts" "$(rcli HGET tfdrift:workspaces prod/app | jq -r .resources)" '.items[0].resources'
R="/api/v1/resources/aws_instance.web%5B0%5D"
gw_expect "GET /resources/{address}?workspace=" 200 GET "$R?workspace=prod/app" "$T"
gw_jq "... attributes from Redis, type, and its drifts from PostgreSQL" \
	"true|aws_instance|$(rcli HGET "tfdrift:g:$APPGEN:res:prod/app" "aws_instance.web[0]" | attrs_json | jq -r .instance_type)|$(sql "SELECT count(*) FROM alerts WHERE workspace = 'prod/app' AND resource_address = 'aws_instance.web[0]'")" \
	'"\(.in_state)|\(.type)|\(.attributes.instance_type)|\(.drifts | length)"'
gw_expect "GET /resources/{address} without workspace finds it" 200 GET "$R" "$T"
gw_jq "... in prod/app" prod/app .workspace
gw_expect "GET /resources/aws_nothing.here: 404" 404 GET /api/v1/resources/aws_nothing.here "$T"
gw_expect "a module address" 200 GET "/api/v1/resources/module.endpoints%5B%22s3%22%5D.aws_vpc_endpoint.this?workspace=prod/network" "$T"
gw_jq "... type and module" 'aws_vpc_endpoint|module.endpoints["s3"]' '"\(.type)|\(.module)"'

# state-loader's graph: nodes and edges hashes per workspace (graph.h)
NAPP="$(rcli HLEN "tfdrift:g:$APPGEN:nodes:prod/app")"
ESRC="$(rcli HKEYS "tfdrift:g:$APPGEN:edges:prod/app" | sort | head -n 1)"
EWANT="$(rcli HGET "tfdrift:g:$APPGEN:edges:prod/app" "$ESRC" | jq -r 'map("prod/app:" + .) | sort | join(",")')"
gw_expect "GET /graph?workspace=prod/app" 200 GET "/api/v1/graph?workspace=prod/app" "$T"
gw_jq "... one node per resource in state-loader's nodes hash ($NAPP)" "$NAPP" '.elements.nodes | length'
gw_jq "... a node's open drifts and worst severity" \
	"$(sql "SELECT count(*) || '|' || (ARRAY['info','low','medium','high','critical'])[max(severity_rank)] FROM alerts WHERE workspace = 'prod/app' AND resource_address = 'aws_instance.web[0]' AND status IN ('open', 'acknowledged')")" \
	'.elements.nodes[] | select(.data.address == "aws_instance.web[0]") | "\(.data.drift_count)|\(.data.worst_severity)"'
check "state-loader recorded some edges in prod/app" test -n "$EWANT"
gw_jq "... the edges of $ESRC" "$EWANT" \
	"[.elements.edges[].data | select(.source == \"prod/app:$ESRC\") | .target] | sort | join(\",\")"
gw_jq "... generation" "$GEN" .generation
gw_expect "GET /graph?drifted_only=true" 200 GET "/api/v1/graph?drifted_only=true&workspace=prod/app" "$T"
gw_jq "... only drifted nodes" \
	"$(sql "SELECT string_agg(DISTINCT resource_address, ',' ORDER BY resource_address) FROM alerts WHERE workspace = 'prod/app' AND status IN ('open', 'acknowledged')")" \
	'[.elements.nodes[].data.address] | sort | join(",")'
gw_expect "GET /graph?type=aws_subnet" 200 GET "/api/v1/graph?type=aws_subnet" "$T"
gw_jq "... only that type" "aws_subnet" '[.elements.nodes[].data.type] | unique | join(",")'
gw_expect "GET /graph module filter" 200 GET "/api/v1/graph?workspace=prod/network&module=module.endpoints" "$T"
gw_jq "... only the module's resources" 2 '.elements.nodes | length'
NALL=$(($(rcli HLEN "tfdrift:g:$APPGEN:nodes:prod/app") + $(rcli HLEN "tfdrift:g:$NETGEN:nodes:prod/network")))
: >"$TD_TMP/graph.ids"
path="/api/v1/graph?limit=3"
n=0
while [ -n "$path" ] && [ $n -lt 100 ]; do
	gw_req GET "$path" "$T"
	[ "$GW_CODE" = 200 ] || break
	jq -r '.elements.nodes[].data.id' <<<"$GW_BODY" >>"$TD_TMP/graph.ids"
	n=$((n + 1))
	cur="$(jq -r '.next_cursor // empty' <<<"$GW_BODY")"
	path=""
	[ -n "$cur" ] && path="/api/v1/graph?limit=3&cursor=$cur"
done
check "graph pages (limit=3): several ($n)" test "$n" -gt 3
check_eq "... together holding every node once" \
	"$NALL|$NALL" "$(wc -l <"$TD_TMP/graph.ids" | tr -d ' ')|$(sort -u "$TD_TMP/graph.ids" | wc -l | tr -d ' ')"

# ---- health ----------------------------------------------------------------------------------
gw_expect "GET /health" 200 GET /api/v1/health "$T"
gw_jq "... postgres, redis and ingest's metrics are read" "true|true|true|null" \
	'"\(.checks.postgres.ok)|\(.checks.redis.ok)|\(.checks.pipeline.ok)|\(.checks.pipeline.last_event_age_seconds)"'
gw_jq "... redis generation" "$GEN" .checks.redis.generation

# ---- CORS and headers --------------------------------------------------------------------------
hdr="$(curl -s -D - -o /dev/null -X OPTIONS -H 'Origin: https://ui.example' \
	-H 'Access-Control-Request-Method: PATCH' "$TD_API_URL/api/v1/drifts/1")"
check "CORS preflight from an allowed origin: 204 with Access-Control-Allow-Origin" \
	grep -qi '^Access-Control-Allow-Origin: https://ui.example' <<<"$hdr"
hdr="$(curl -s -D - -o /dev/null -H 'Origin: https://evil.example' -H "Authorization: Bearer $T" "$TD_API_URL/api/v1/stats")"
if grep -qi '^Access-Control-Allow-Origin' <<<"$hdr"; then
	not_ok "no CORS headers for another origin" "$(grep -i access-control <<<"$hdr")"
else
	ok "no CORS headers for another origin"
fi
for h in 'X-Content-Type-Options: nosniff' 'X-Frame-Options: DENY' 'Cache-Control: no-store' "Content-Security-Policy: default-src 'none'"; do
	check "security header $h" grep -qi "^$h" <<<"$hdr"
done

# ---- token configuration ---------------------------------------------------------------------
out="$(TFDRIFT_API_GATEWAY_TOKENS='ci:superuser:abcd' timeout 10 "$TD_BIN/tfdrift-api-gateway" --config "$TD_CONFIG" 2>&1)"
rc=$?
check_eq "a malformed token entry stops the gateway with status 2" 2 "$rc"
check "... naming the entry and the problem" grep -q "api_gateway.tokens\[0\]: role 'superuser'" <<<"$out"
printf '# a comment\n\nfile-user:viewer:%s\n' "$(printf 'from-file' | sha256sum | cut -d' ' -f1)" >"$TD_TMP/tokens"
P2="$(free_port)"
A2="$(free_port)"
TD_INSTANCE=gateway-open TD_ADMIN_PORT=$A2 \
	TD_ENV="TFDRIFT_API_GATEWAY_AUTH=false TFDRIFT_API_GATEWAY_PORT=$P2 TFDRIFT_API_GATEWAY_ADMIN_PORT=$A2" \
	start_service api-gateway
P3="$(free_port)"
A3="$(free_port)"
TD_INSTANCE=gateway-file TD_ADMIN_PORT=$A3 \
	TD_ENV="TFDRIFT_API_GATEWAY_TOKENS_FILE=$TD_TMP/tokens TFDRIFT_API_GATEWAY_PORT=$P3 TFDRIFT_API_GATEWAY_ADMIN_PORT=$A3" \
	start_service api-gateway
wait_admin gateway-open 20 || diag "gateway-open did not start"
wait_admin gateway-file 20 || diag "gateway-file did not start"
check_eq "auth: false serves without a token" 200 "$(http_code "http://127.0.0.1:$P2/api/v1/stats")"
check "... and warned at start" grep -q 'api_gateway.auth is false' "${TD_LOG[gateway-open]}"
code="$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer from-file' "http://127.0.0.1:$P3/api/v1/stats")"
check_eq "a token from tokens_file works" 200 "$code"
code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK_ADMIN" "http://127.0.0.1:$P3/api/v1/stats")"
check_eq "... alongside the config's tokens" 200 "$code"

# ---- the contract -----------------------------------------------------------------------------
gw_check_contract
finish
