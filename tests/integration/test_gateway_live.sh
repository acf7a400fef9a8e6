#!/usr/bin/env bash
# The api-gateway's live feed with the whole pipeline: CloudTrail records
# replayed through ingest -> correlator -> persistence come out of
# /api/v1/ws (npm ws clients) and /api/v1/stream (curl) in commit order, each
# client's filter applied (query parameters, and a filter message over the
# socket); a client that stops reading is dropped (close code) while the
# others get everything; no token gets 401; SIGTERM closes clients with 1001.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/gateway.sh
source "$(dirname "$0")/../lib/gateway.sh"
need node sha256sum

N=20000
start_postgres
start_redis
gw_tokens
# A queue long enough for a batch burst, short enough for a stalled client
# to overflow it quickly (its socket buffers fill first).
cfg_set api_gateway feed_queue 256
# the correlator hands events back until a state generation exists
cfg_set state_loader local_files "[\"prod/app=$TD_ROOT/examples/states/prod-app.tfstate\"]"
write_config
start_up persistence state-loader ingest correlator api-gateway
for s in persistence correlator api-gateway; do
	wait_ready "$s" 30 || diag "$s is not ready: $(curl -s "$(admin_url "$s")/readyz")"
done
# the gateway's SUB must be connected before the alerts are published
for _ in $(seq 1 100); do
	gw_req GET /api/v1/health "$TOK_VIEWER"
	[ "$(jq -r .checks.alerts_feed.connected <<<"$GW_BODY" 2>/dev/null)" = true ] && break
	sleep 0.1
done
check_eq "the gateway is subscribed to persistence" true "$(jq -r .checks.alerts_feed.connected <<<"$GW_BODY")"

B="http://127.0.0.1:${TD_PORT[api_gateway.port]}"
cd "$TD_ROOT/tests/peers" || bail "no tests/peers"
check_eq "a WebSocket handshake without a token: 401" 401 "$(timeout 10 node gateway_ws.js noauth "$B")"
cd "$TD_ROOT" || exit 1
code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$B/api/v1/stream")"
check_eq "an SSE request without a token: 401" 401 "$code"
code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$B/api/v1/stream?access_token=$TOK_VIEWER&min_severity=severe")"
check_eq "an SSE request with a bad filter: 400" 400 "$code"
code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $TOK_VIEWER" "$B/api/v1/ws")"
check_eq "GET /api/v1/ws without an upgrade: 400" 400 "$code"

(cd "$TD_ROOT/tests/peers" && exec timeout 120 node gateway_ws.js feed "$B" "$TOK_VIEWER" 4000 90000) \
	>"$TD_TMP/ws.out" 2>"$TD_TMP/ws.err" &
WS_PID=$!
curl -sN --max-time 100 "$B/api/v1/stream?access_token=$TOK_VIEWER&min_severity=critical" \
	>"$TD_TMP/sse.out" 2>/dev/null &
SSE_PID=$!
curl -sN --max-time 100 -H "Authorization: Bearer $TOK_VIEWER" "$B/api/v1/stream" \
	>"$TD_TMP/sse-all.out" 2>/dev/null &
SSE_ALL_PID=$!
for _ in $(seq 1 150); do
	grep -q '^ready' "$TD_TMP/ws.out" 2>/dev/null && break
	sleep 0.1
done
check "four WebSocket clients connected and got their hello" grep -q '^ready' "$TD_TMP/ws.out" ||
	sed 's/^/#   /' "$TD_TMP/ws.err"
for _ in $(seq 1 50); do
	grep -q '"type":"hello"' "$TD_TMP/sse.out" 2>/dev/null &&
		grep -q '"type":"hello"' "$TD_TMP/sse-all.out" 2>/dev/null && break
	sleep 0.1
done
check "the SSE clients got their hello" grep -q '"type":"hello"' "$TD_TMP/sse.out" "$TD_TMP/sse-all.out"

FILE="$TD_TMP/cloudtrail.json.gz"
gen_cloudtrail "$FILE" "$N" 7 --gzip || bail "gen_cloudtrail failed"
timeout 120 "$TD_BIN/tfdrift-ingest" --config "$TD_CONFIG" replay "$FILE" >"$TD_TMP/replay.log" 2>&1
check_eq "replay of $N records exits 0" 0 "$?"
NA="$(sql 'SELECT count(*) FROM alerts')"
diag "$NA alerts committed"
check "some alerts were committed" test "$NA" -gt 300

wait "$WS_PID"
kill "$SSE_PID" "$SSE_ALL_PID" 2>/dev/null
wait "$SSE_PID" "$SSE_ALL_PID" 2>/dev/null
OUT="$(grep '^{' "$TD_TMP/ws.out")"
[ -n "$OUT" ] || { sed 's/^/#   /' "$TD_TMP/ws.out" "$TD_TMP/ws.err" | tail -20; bail "no result from the WebSocket clients"; }
ids() { jq -r ".$1.ids | map(tostring) | join(\",\")" <<<"$OUT"; }
sql "SELECT id, xmin, severity_rank, kind FROM alerts ORDER BY id" >"$TD_TMP/db.rows"
sse_seq() { grep '^data: ' "$1" | sed 's/^data: //' | jq -r 'select(.type == "alert") | .alert.id' | paste -sd, -; }
# Persistence publishes each request's alerts after its COMMIT; its workers
# commit concurrently, so neither id order nor one transaction's alerts
# being together is promised across workers.  What must hold: every alert
# exactly once, and every client and transport sees the one sequence the
# gateway received (filters only leave alerts out).
once="$(python3 - "$TD_TMP/db.rows" "$(ids all)" <<'PY'
import sys
ids = [int(l.split("|")[0]) for l in open(sys.argv[1]).read().split("\n") if l]
seq = [int(x) for x in sys.argv[2].split(",") if x]
print("ok" if sorted(seq) == ids else "got %d of %d, %d distinct" % (len(seq), len(ids), len(set(seq))))
PY
)"
check_eq "the unfiltered WebSocket client got every committed alert exactly once" ok "$once" api-gateway
check_eq "... in the same sequence as an unfiltered SSE client" "$(ids all)" "$(sse_seq "$TD_TMP/sse-all.out")"
filtered() { # the "all" sequence through a python predicate on (rank, kind)
	python3 - "$TD_TMP/db.rows" "$(ids all)" "$1" <<'PY'
import sys
rows = {int(r[0]): (int(r[2]), r[3]) for r in (l.split("|") for l in open(sys.argv[1]).read().split("\n") if l)}
pred = eval("lambda rank, kind: " + sys.argv[3])
print(",".join(str(i) for i in (int(x) for x in sys.argv[2].split(",") if x) if pred(*rows[i])))
PY
}
check_eq "min_severity=high: exactly the high and critical ones, in the same order" \
	"$(filtered 'rank >= 4')" "$(ids high)"
check_eq "a filter sent over the socket is confirmed in a hello" "critical|unmanaged" \
	"$(jq -r '"\(.switch.filter.min_severity)|\(.switch.filter.kinds | join(","))"' <<<"$OUT")"
check_eq "... and applied: critical unmanaged alerts only" \
	"$(filtered 'rank == 5 and kind == "unmanaged"')" "$(ids switch)"
nst="$(jq -r '.stalled.ids | length' <<<"$OUT")"
check "the stalled client got fewer ($nst of $NA)" test "$nst" -lt "$NA"
check_eq "... and was closed with 1008 (or cut: 1006)" yes \
	"$(jq -r 'if (.stalled.close == 1008 or .stalled.close == 1006) then "yes" else "close \(.stalled.close)" end' <<<"$OUT")"
check_eq "... counted in tfdrift_gateway_live_dropped_total" 1 "$(metric api-gateway tfdrift_gateway_live_dropped_total)"
check_eq "the healthy clients were not closed" "null|null|null" "$(jq -r '"\(.all.close)|\(.high.close)|\(.switch.close)"' <<<"$OUT")"
check_eq "SSE with min_severity=critical: the critical alerts, in the same order" \
	"$(filtered 'rank == 5')" "$(sse_seq "$TD_TMP/sse.out")"

# ---- graceful drain ----------------------------------------------------------------
(cd "$TD_ROOT/tests/peers" && exec timeout 40 node gateway_ws.js drain "$B" "$TOK_VIEWER") >"$TD_TMP/drain.out" 2>&1 &
DRAIN_PID=$!
for _ in $(seq 1 100); do
	grep -q '^ready' "$TD_TMP/drain.out" 2>/dev/null && break
	sleep 0.1
done
stop_service api-gateway 10
check_eq "SIGTERM: the gateway exits 0" 0 "${TD_STATUS[api-gateway]}"
wait "$DRAIN_PID"
check_eq "... after closing its WebSocket clients with 1001" "close 1001" "$(grep '^close' "$TD_TMP/drain.out")"
finish
