#!/usr/bin/env bash
# The web UI in Chromium against the real stack: PostgreSQL, Redis, every
# service (state-loader with the demo states prod/network and prod/app),
# the gateway serving $BUILD/web at /, and the demo CloudTrail events
# replayed into ingest.  services/web/tests/browser/run.mjs (playwright-core
# driving Debian's chromium) signs in, compares the table with the API,
# filters, deep links, opens the detail, acknowledges as operator (and not as
# viewer), watches a replayed event arrive live in the table and the graph,
# restarts the gateway (Reconnecting -> Live, the alert committed meanwhile
# shown once), checks the compound graph and the split view's linked
# selection, and runs axe on every route.  Screenshots: $BUILD/web-screenshots/.
#
# TD_WEB_HOLD=1 keeps the stack up after the browser run (prints the URL and
# tokens) until interrupted, for looking at the UI by hand.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/gateway.sh
source "$(dirname "$0")/../lib/gateway.sh"
# shellcheck source=../lib/ingest.sh
source "$(dirname "$0")/../lib/ingest.sh"
need node python3 jq
CHROMIUM="${TD_CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] || bail "no $CHROMIUM (Debian package chromium; make deps)"
WEB="$TD_ROOT/services/web"
[ -f "$BUILD/web/index.html" ] || bail "no $BUILD/web/index.html (make web needs npm)"
[ -d "$WEB/node_modules/playwright-core" ] || bail "no services/web/node_modules (make web runs npm ci)"

# The demo events split in three: what is loaded before the browser opens,
# one replayed while the table is open, one while the gateway is down.
EV="$TD_TMP/events"
mkdir -p "$EV"
python3 - "$TD_ROOT/examples/events/demo-cloudtrail.json" "$EV" <<'PY'
import json, sys
recs = json.load(open(sys.argv[1]))["Records"]
live = [r for r in recs if r["eventName"] == "AuthorizeSecurityGroupIngress"]
gap = [r for r in recs if r["eventName"] == "ModifyVpcAttribute"]
rest = [r for r in recs if r not in live and r not in gap]
for name, rs in (("initial", rest), ("live", live), ("during-restart", gap)):
    json.dump({"Records": rs}, open(f"{sys.argv[2]}/{name}.json", "w"))
PY

gw_tokens
cfg_set state_loader local_files "[\"prod/network=$TD_ROOT/examples/states/prod-network.tfstate\", \"prod/app=$TD_ROOT/examples/states/prod-app.tfstate\"]"
cfg_set api_gateway static_dir "\"$BUILD/web\""
start_pipeline
wait_ready api-gateway 30 || diag "api-gateway is not ready"
B="http://127.0.0.1:${TD_PORT[api_gateway.port]}"

# the graph must exist before events are correlated
for _ in $(seq 1 100); do
	gw_req GET /api/v1/workspaces "$TOK_VIEWER"
	[ "$(jq '.items | length' <<<"$GW_BODY" 2>/dev/null)" = 2 ] && break
	sleep 0.1
done
check_eq "both demo workspaces are loaded" 2 "$(jq '.items | length' <<<"$GW_BODY")"
gw_req GET "/api/v1/graph?workspace=prod/network&limit=5000" "$TOK_VIEWER"
check_eq "the API nests subnets in their VPC" "prod/network:aws_vpc.main" \
	"$(jq -r '[.elements.nodes[].data | select(.type == "aws_subnet") | .parent] | unique | join(",")' <<<"$GW_BODY")"
gw_req GET "/api/v1/graph?workspace=prod/app&limit=5000" "$TOK_VIEWER"
check "the API puts prod/app's instances in prod/network's subnets" \
	test "$(jq '[.elements.nodes[].data | select(.type == "aws_instance" and (.parent // "" | startswith("prod/network:aws_subnet.")))] | length' <<<"$GW_BODY")" -ge 1

"$TD_BIN/tfdrift-ingest" --config "$TD_CONFIG" replay "$EV/initial.json" >"$TD_TMP/replay.log" 2>&1 ||
	diag "replay: $(tail -3 "$TD_TMP/replay.log")"
# wait until the alerts stop coming (the count is the same twice, 1 s apart)
prev=-1
for _ in $(seq 1 60); do
	gw_req GET "/api/v1/drifts?limit=500" "$TOK_VIEWER"
	n="$(jq '.items | length' <<<"$GW_BODY")"
	[ "$n" -gt 0 ] && [ "$n" = "$prev" ] && break
	prev=$n
	sleep 1
done
check "the demo events raised alerts" test "$n" -gt 0
diag "$n alerts before the browser opens"

SHOTS="$BUILD/web-screenshots"
mkdir -p "$SHOTS"
PIDFILE="$TD_TMP/gateway.pid"
(
	cd "$WEB" &&
		BASE_URL="$B" TOK_VIEWER="$TOK_VIEWER" TOK_OPERATOR="$TOK_OPERATOR" \
			CHROMIUM="$CHROMIUM" SHOTS="$SHOTS" TMPDIR="$TD_TMP" \
			INGEST_BIN="$TD_BIN/tfdrift-ingest" GATEWAY_BIN="$TD_BIN/tfdrift-api-gateway" \
			CONFIG="$TD_CONFIG" GATEWAY_PID="${TD_PID[api-gateway]}" GATEWAY_PIDFILE="$PIDFILE" \
			GATEWAY_LOG="${TD_LOG[api-gateway]}" \
			EVENTS_LIVE="$EV/live.json" EVENTS_GAP="$EV/during-restart.json" \
			exec timeout 400 node tests/browser/run.mjs
)
rc=$?
# the browser run restarted the gateway: stop_all must stop the new one
if [ -s "$PIDFILE" ]; then TD_PID[api-gateway]="$(cat "$PIDFILE")"; fi
[ "$rc" -eq 0 ] || diag "the browser run exited $rc"

if [ "${TD_WEB_HOLD:-0}" = 1 ]; then
	diag "holding: $B/  operator token $TOK_OPERATOR  viewer token $TOK_VIEWER"
	while alive api-gateway; do sleep 5; done
fi
finish
