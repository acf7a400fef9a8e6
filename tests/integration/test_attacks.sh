#!/usr/bin/env bash
# Hostile clients against the whole running stack (real processes, real
# sockets); after each attack every process is still up and answers a client
# from another address (127.0.0.2), and nothing already accepted is lost:
#   - 10,000 connections opened at once against the HTTP servers (ingest's
#     Falco receiver, the api-gateway, the admin servers), held while others
#     are served; slowloris connections (a header byte a second) the same;
#     idle half-requests are closed after the server's timeout;
#   - oversized bodies, query strings and headers;
#   - tokens of every wrong shape, on ingest and on the gateway;
#   - SQL-injection strings in every filter of /api/v1/drifts (200 or 400,
#     never 500, the tables intact);
#   - bytes that are no bus message, from an unknown sender, on ingest's
#     submit socket and persistence's work socket;
#   - WebSocket clients sending garbage, and one that never reads while
#     alerts are published;
#   - a "Falco" that is no gRPC server (garbage bytes), then one that sends a
#     garbage message, a truncated one and one over ingest.grpc_max_message
#     before real alerts: those alerts reach PostgreSQL.
# Path traversal and symlink escapes on the static server are in
# test_gateway_static.sh.  The fd limit bounds the flood (10,000 when it allows).
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/ingest.sh
source "$(dirname "$0")/../lib/ingest.sh"
# shellcheck source=../lib/gateway.sh
source "$(dirname "$0")/../lib/gateway.sh"
# shellcheck source=../lib/persistence.sh
source "$(dirname "$0")/../lib/persistence.sh"
need node

ATTACK="$TD_ROOT/tests/peers/attack.py"
PEER="$TD_ROOT/tests/peers/falco_grpc_peer.js"
OTHER=127.0.0.2 # the well-behaved client's address
ING_TOKEN="ingest-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# ---- a "Falco" that is no gRPC server: garbage bytes to whoever connects ----
GP="$(free_port)"
python3 - "$GP" "$TD_TMP/garbage.conns" <<'EOF' &
import os, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
n = 0
while True:
    c, _ = s.accept(); n += 1
    open(sys.argv[2], "w").write("%d\n" % n)
    try:
        c.sendall(os.urandom(65536)); c.recv(4096)
    except OSError:
        pass
    c.close()
EOF
GARBAGE_PID=$!

gw_tokens
cfg_set ingest grpc_target "\"127.0.0.1:$GP\""
cfg_set ingest grpc_insecure true
cfg_set ingest grpc_max_message 64KiB
cfg_set ingest grpc_poll_interval 100ms
cfg_set ingest grpc_backoff_initial 200ms
cfg_set ingest grpc_backoff_max 1s
cfg_set ingest http_token "\"$ING_TOKEN\""
cfg_set ingest http_timeout 2s
cfg_set api_gateway request_timeout 2s
cfg_set api_gateway feed_queue 16
start_pipeline
wait_ready api-gateway 30 || bail "api-gateway not ready"

GW_PORT="${TD_PORT[api_gateway.port]}"
ING_PORT="${TD_PORT[ingest.http_port]}"
ING_ADMIN="${TD_PORT[ingest.admin_port]}"
GW_ADMIN="${TD_PORT[api_gateway.admin_port]}"
PS_ADMIN="${TD_PORT[persistence.admin_port]}"

# served PATH... — every process answers a client from $OTHER: the gateway's
# API, ingest's receiver (an alert, 202), every admin /healthz.
: >"$TD_TMP/served.ids"
SERVED_N=0
served() {
	local what="$1" bad="" code s
	code="$(curl -s -o /dev/null -w '%{http_code}' --interface "$OTHER" --max-time 10 \
		-H "Authorization: Bearer $TOK_VIEWER" "http://127.0.0.1:$GW_PORT/api/v1/health")"
	[ "$code" = 200 ] || bad+=" gateway:$code"
	SERVED_N=$((SERVED_N + 1))
	sed -n "${SERVED_N}p" "$TD_TMP/alerts.jsonl" >"$TD_TMP/one.json"
	code="$(curl -s -o /dev/null -w '%{http_code}' --interface "$OTHER" --max-time 10 -X POST \
		-H "Authorization: Bearer $ING_TOKEN" --data-binary "@$TD_TMP/one.json" \
		"http://127.0.0.1:$ING_PORT/api/v1/falco/events")"
	if [ "$code" = 202 ]; then
		jq -r '.output_fields["ct.id"]' "$TD_TMP/one.json" >>"$TD_TMP/served.ids"
	else
		bad+=" ingest:$code"
	fi
	for s in "${TD_SERVICES[@]}"; do
		code="$(curl -s -o /dev/null -w '%{http_code}' --interface "$OTHER" --max-time 10 \
			"$(admin_url "$s")/healthz")"
		[ "$code" = 200 ] || bad+=" $s-admin:$code"
	done
	if [ -z "$bad" ]; then
		ok "$what: every process answers a client from $OTHER"
	else
		not_ok "$what: every process answers a client from $OTHER" "failed:$bad"
	fi
}

all_alive() {
	local s dead=""
	for s in "${TD_SERVICES[@]}"; do alive "$s" || dead+=" $s"; done
	if [ -z "$dead" ]; then ok "$1: all six processes are up"; else not_ok "$1: all six processes are up" "dead:$dead"; fi
}

gen_cloudtrail "$TD_TMP/ct.json" 200 71 || bail "gen_cloudtrail failed"
falco_alerts "$TD_TMP/ct.json" "$TD_TMP/alerts.jsonl" || bail "falco_alerts failed"

# ---- gRPC: garbage instead of HTTP/2 ----------------------------------------------------
for _ in $(seq 1 200); do
	[ "$(cat "$TD_TMP/garbage.conns" 2>/dev/null || echo 0)" -ge 3 ] && break
	sleep 0.1
done
check "ingest dialed the garbage-speaking \"Falco\" again and again (>= 3 connections)" \
	test "$(cat "$TD_TMP/garbage.conns" 2>/dev/null || echo 0)" -ge 3
check "... and is still up" alive ingest
kill "$GARBAGE_PID" 2>/dev/null
wait "$GARBAGE_PID" 2>/dev/null

# ---- gRPC: a real server sending a garbage message, a truncated one, an oversized one ----
gen_cloudtrail "$TD_TMP/ct-grpc.json" 60 72 || bail "gen_cloudtrail failed"
falco_alerts "$TD_TMP/ct-grpc.json" "$TD_TMP/grpc-alerts.jsonl" || bail "falco_alerts failed"
{
	printf 'hex:%s\n' "$(head -c 300 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	# a response whose rule field (tag 3, length 200) stops after 20 bytes
	printf 'hex:1ac8014141414141414141414141414141414141414141\n'
	printf 'big:200000\n'
} >"$TD_TMP/bad.msgs"
rm -f "$TD_TMP/peer.ready"
node "$PEER" --listen "127.0.0.1:$GP" --alerts "$TD_TMP/grpc-alerts.jsonl" --bad "$TD_TMP/bad.msgs" \
	--ready "$TD_TMP/peer.ready" --log "$TD_TMP/logs/peer.log" >>"$TD_TMP/logs/peer.log" 2>&1 &
PEER_PID=$!
TD_LOG[peer]="$TD_TMP/logs/peer.log"
for _ in $(seq 1 100); do [ -f "$TD_TMP/peer.ready" ] && break; sleep 0.1; done
[ -f "$TD_TMP/peer.ready" ] || bail "the falco grpc peer did not start"

# ---- 10,000 connections at once -----------------------------------------------------------
lim="$(ulimit -n)"
N=10000
[ "$lim" -lt $((N + 200)) ] && N=$((lim - 200))
diag "flood: $N connections (fd limit $lim)"
targets="127.0.0.1:$GW_PORT,127.0.0.1:$ING_PORT,127.0.0.1:$GW_ADMIN,127.0.0.1:$ING_ADMIN,127.0.0.1:$PS_ADMIN"
rm -f "$TD_TMP/flood.ready" "$TD_TMP/flood.until"
python3 "$ATTACK" flood "$targets" "$N" --src 127.0.0.1 --ready "$TD_TMP/flood.ready" \
	--until "$TD_TMP/flood.until" >"$TD_TMP/flood.out" 2>&1 &
FLOOD_PID=$!
for _ in $(seq 1 600); do [ -f "$TD_TMP/flood.ready" ] && break; sleep 0.1; done
diag "flood: $(cat "$TD_TMP/flood.ready" 2>/dev/null || echo 'not ready')"
served "while $N connections are held"
touch "$TD_TMP/flood.until"
wait "$FLOOD_PID"
diag "flood: $(cat "$TD_TMP/flood.out")"
all_alive "after the flood"
# libmicrohttpd reports each refused connection; the log takes one line a second
nlog="$(cat "${TD_LOG[ingest]}" "${TD_LOG[api-gateway]}" "${TD_LOG[persistence]}" | grep -c 'http server')"
check "the flood's refused connections take a few log lines, not thousands ($nlog)" test "$nlog" -lt 200

# ---- slowloris -----------------------------------------------------------------------------
rm -f "$TD_TMP/slow.ready" "$TD_TMP/slow.until"
python3 "$ATTACK" slowloris "$targets" 1500 --src 127.0.0.1 --ready "$TD_TMP/slow.ready" \
	--until "$TD_TMP/slow.until" >"$TD_TMP/slow.out" 2>&1 &
SLOW_PID=$!
for _ in $(seq 1 300); do [ -f "$TD_TMP/slow.ready" ] && break; sleep 0.1; done
sleep 3 # a few header bytes trickle in on each
served "while 1,500 slowloris connections trickle headers"
touch "$TD_TMP/slow.until"
wait "$SLOW_PID"
diag "slowloris: $(cat "$TD_TMP/slow.out")"
for t in "ingest receiver:$ING_PORT" "gateway:$GW_PORT" "ingest admin:$ING_ADMIN"; do
	out="$(python3 "$ATTACK" idle "127.0.0.1:${t##*:}" --src 127.0.0.1 --max 40)"
	check_eq "${t%%:*}: an idle half-sent request is closed by the server ($out)" "closed" "${out%% *}"
done

# ---- oversized ------------------------------------------------------------------------------
head -c $((3 * 1024 * 1024)) /dev/zero | tr '\0' a >"$TD_TMP/big.body"
code="$(curl -s -o "$TD_TMP/big.out" -w '%{http_code}' --max-time 30 -X POST -H "Authorization: Bearer $ING_TOKEN" \
	--data-binary "@$TD_TMP/big.body" "http://127.0.0.1:$ING_PORT/api/v1/falco/events")"
check_eq "ingest: a 3 MiB body is 413" 413 "$code"
code="$(curl -s -o "$TD_TMP/big.out" -w '%{http_code}' --max-time 30 -X PATCH -H "Authorization: Bearer $TOK_ADMIN" \
	-H 'Content-Type: application/json' --data-binary "@$TD_TMP/big.body" "$TD_API_URL/api/v1/drifts/1")"
check_eq "gateway: a 3 MiB body is 413 with the API's JSON" "413|payload_too_large" "$code|$(jq -r .error.code "$TD_TMP/big.out" 2>/dev/null)"
big="$(head -c 100000 /dev/zero | tr '\0' a)"
code="$(curl -s -o "$TD_TMP/big.out" -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $TOK_VIEWER" \
	"$TD_API_URL/api/v1/drifts?q=$big")"
check_eq "gateway: a 100 KB query string is a JSON 414" "414|uri_too_long" "$code|$(jq -r .error.code "$TD_TMP/big.out" 2>/dev/null)"
{ printf 'X-Big: '; head -c 300000 /dev/zero | tr '\0' b; printf '\n'; } >"$TD_TMP/big.hdr"
for t in "gateway:$GW_PORT" "ingest:$ING_PORT" "ingest admin:$ING_ADMIN"; do
	code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -H "@$TD_TMP/big.hdr" \
		"http://127.0.0.1:${t##*:}/")"
	# an error status, or the connection closed (000): never served
	case "$code" in 4?? | 000) ok "${t%%:*}: a 300 KB header is refused ($code)" ;; *) not_ok "${t%%:*}: a 300 KB header is refused" "HTTP $code" ;; esac
done
served "after oversized requests"

# ---- tokens of every wrong shape ----------------------------------------------------------
# (the scheme is case-insensitive and may be followed by more than one space,
# RFC 9110 11.4: "bearer TOKEN" is a right token)
bad_auth=("" "Bearer" "Bearer " "Basic $(printf 'u:%s' "$TOK_VIEWER" | base64 -w0)"
	"Bearer $TOK_VIEWER " "Bearer ${TOK_VIEWER}x" "Bearer ${TOK_VIEWER:1}"
	"Bearer ${TOK_VIEWER^^}" "Bearer $(head -c 20000 /dev/zero | tr '\0' t)" "Bearer é$TOK_VIEWER"
	"Token $TOK_VIEWER" "Bearer $ING_TOKEN")
n401=0
for a in "${bad_auth[@]}"; do
	code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 ${a:+-H "Authorization: $a"} "$TD_API_URL/api/v1/drifts")"
	[ "$code" = 401 ] && n401=$((n401 + 1)) || diag "gateway: '${a:0:40}' -> $code"
done
check_eq "gateway: ${#bad_auth[@]} malformed or wrong tokens are each 401" "${#bad_auth[@]}" "$n401"
bad_ing=("" "Bearer" "Bearer " "bearer${ING_TOKEN}" "Bearer $ING_TOKEN " "Bearer ${ING_TOKEN}x" "Bearer ${ING_TOKEN:1}"
	"Bearer ${ING_TOKEN^^}" "Bearer $(head -c 20000 /dev/zero | tr '\0' t)" "Basic $ING_TOKEN" "Bearer $TOK_VIEWER")
n401=0
for a in "${bad_ing[@]}"; do
	code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST ${a:+-H "Authorization: $a"} \
		--data-binary "@$TD_TMP/one.json" "http://127.0.0.1:$ING_PORT/api/v1/falco/events")"
	[ "$code" = 401 ] && n401=$((n401 + 1)) || diag "ingest: '${a:0:40}' -> $code"
done
check_eq "ingest: ${#bad_ing[@]} malformed or wrong tokens are each 401" "${#bad_ing[@]}" "$n401"

# ---- SQL injection in every filter -----------------------------------------------------------
before="$(sql 'SELECT count(*) FROM alerts')"
payloads=("' OR '1'='1" "1; DROP TABLE alerts;--" "x' UNION SELECT usename FROM pg_user--"
	"%' AND pg_sleep(20) IS NULL--" "\$1" "\\\\'; --" "a%00b" "*/ OR 1=1 /*")
filters=(severity status kind min_severity workspace resource_type address service principal region
	account event_name event_id since until q limit cursor sort)
n5=0 total=0
for f in "${filters[@]}"; do
	for p in "${payloads[@]}"; do
		enc="$(jq -rn --arg v "$p" '$v | @uri')"
		code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 15 -H "Authorization: Bearer $TOK_VIEWER" \
			"$TD_API_URL/api/v1/drifts?$f=$enc")"
		total=$((total + 1))
		case "$code" in 200 | 400) ;; *)
			n5=$((n5 + 1))
			diag "$f=$p -> $code"
			;;
		esac
	done
done
check_eq "$total injection strings over ${#filters[@]} filters: each 200 or 400" 0 "$n5"
check_eq "... the alerts table is intact" "$before" "$(sql 'SELECT count(*) FROM alerts')"

# ---- bus bytes from an unknown sender --------------------------------------------------------
for u in "${TD_URL[ingest.submit_listen]}" "${TD_URL[persistence.work_listen]}"; do
	timeout 20 "$TD_BIN/tfdrift-bus-poke" req "$u" --garbage --timeout 5000 >>"$TD_TMP/poke.out" 2>&1
	timeout 20 "$TD_BIN/tfdrift-bus-poke" req "$u" 0a0b0c0d --timeout 5000 >>"$TD_TMP/poke.out" 2>&1
done
all_alive "after garbage on the bus sockets"

# ---- WebSocket clients: garbage, and one that never reads ------------------------------------
rm -f "$TD_TMP/ws*.ready" "$TD_TMP/ws.until"
python3 "$ATTACK" ws "127.0.0.1:$GW_PORT" /api/v1/ws "$TOK_VIEWER" noread --ready "$TD_TMP/wsn.ready" \
	--until "$TD_TMP/ws.until" >"$TD_TMP/wsn.out" 2>&1 &
WSN_PID=$!
python3 "$ATTACK" ws "127.0.0.1:$GW_PORT" /api/v1/ws "$TOK_VIEWER" garbage --ready "$TD_TMP/wsg.ready" \
	--until "$TD_TMP/ws.until" >"$TD_TMP/wsg.out" 2>&1 &
WSG_PID=$!
for _ in $(seq 1 100); do [ -f "$TD_TMP/wsn.ready" ] && [ -f "$TD_TMP/wsg.ready" ] && break; sleep 0.1; done
# alerts for the live feed, far more than the non-reader's queue (16) holds
line="$(alert_gen send --count 3000 --batch 50 --in-flight 2 --seed 73 2>>"$TD_TMP/send.err")"
check_eq "3,000 alerts committed while a WebSocket client does not read" "3000" "$(gen_field "$line" accepted)"
served "with a WebSocket client that never reads"
touch "$TD_TMP/ws.until"
wait "$WSG_PID"
check_eq "a WebSocket client sending garbage frames is disconnected" closed "$(cat "$TD_TMP/wsg.out")"
wait "$WSN_PID"
diag "non-reading WebSocket client: $(cat "$TD_TMP/wsn.out")"

# ---- nothing accepted is lost ---------------------------------------------------------------------
expected_ids "$TD_TMP/ct-grpc.json" >"$TD_TMP/want-grpc.ids"
check "explain expects alerts from the gRPC peer's events" test -s "$TD_TMP/want-grpc.ids"
check_eq "after a garbage, a truncated and an oversized message, the peer's real alerts are in PostgreSQL (missing)" \
	0 "$(db_missing "$TD_TMP/want-grpc.ids" 60)" ingest correlator persistence peer
check "... ingest reconnected after the stream broke" \
	test "$(metric ingest tfdrift_ingest_falco_grpc_reconnects_total)" -ge 1
check "... the peer sent all three hostile messages" test "$(grep -c '^bad message' "$TD_TMP/logs/peer.log")" -ge 3
expected_ids "$TD_TMP/ct.json" | comm -12 - <(sort -u "$TD_TMP/served.ids") >"$TD_TMP/want-http.ids"
diag "$(wc -l <"$TD_TMP/served.ids") alerts answered 202 during the attacks, $(wc -l <"$TD_TMP/want-http.ids") of them raise a drift alert"
check_eq "every alert ingest answered 202 during the attacks that raises a drift alert is in PostgreSQL (missing)" \
	0 "$(db_missing "$TD_TMP/want-http.ids" 60)" ingest correlator persistence
check_eq "the 3,000 alerts sent to persistence are stored" 3000 \
	"$(sql "SELECT count(*) FROM alerts WHERE alert_key LIKE 'k-73-%'")"
all_alive "at the end"
for s in "${TD_SERVICES[@]}"; do
	wait_http "$(admin_url "$s")/readyz" 30 200 >/dev/null
	check_eq "$s is ready at the end" 200 "$(http_code "$(admin_url "$s")/readyz")" "$s"
done
kill -KILL "$PEER_PID" 2>/dev/null
wait "$PEER_PID" 2>/dev/null
finish
