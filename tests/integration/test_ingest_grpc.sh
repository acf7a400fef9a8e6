#!/usr/bin/env bash
# ingest's Falco gRPC client against tests/peers/falco_grpc_peer.js (grpc-js,
# the project's proto/falco/*.proto, Falco's poll-driven sub): alerts arrive
# intact in PostgreSQL over plaintext TCP (refused at start unless
# ingest.grpc_insecure is true), after the peer is killed and
# restarted (reconnect), over a unix socket and over mTLS (a test CA made with
# openssl here); a client certificate from another CA gives a clear error and
# retries, and ingest keeps running.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/ingest.sh
source "$(dirname "$0")/../lib/ingest.sh"
need node openssl

PEER="$TD_ROOT/tests/peers/falco_grpc_peer.js"
PEER_PID=""
N=150

# start_peer LISTEN ALERTS [TLS ARGS...] — the peer in the background; waits until it listens.
start_peer() {
	local listen="$1" alerts="$2"
	shift 2
	rm -f "$TD_TMP/peer.ready"
	TD_LOG[peer]="$TD_TMP/logs/peer.log"
	node "$PEER" --listen "$listen" --alerts "$alerts" --ready "$TD_TMP/peer.ready" \
		--log "$TD_TMP/logs/peer.log" "$@" >>"$TD_TMP/logs/peer.log" 2>&1 &
	PEER_PID=$!
	for _ in $(seq 1 100); do
		[ -f "$TD_TMP/peer.ready" ] && return 0
		kill -0 "$PEER_PID" 2>/dev/null || break
		sleep 0.1
	done
	show_log peer
	bail "the falco grpc peer did not start on $listen"
}

stop_peer() {
	[ -n "$PEER_PID" ] || return 0
	kill -KILL "$PEER_PID" 2>/dev/null
	wait "$PEER_PID" 2>/dev/null
	PEER_PID=""
}

# alerts_for SEED FILE — $N Falco alerts made from CloudTrail records.
alerts_for() {
	gen_cloudtrail "$TD_TMP/ct-$1.json" "$N" "$1" || bail "gen_cloudtrail failed"
	falco_alerts "$TD_TMP/ct-$1.json" "$2" || bail "falco_alerts failed"
}

# in_postgres SEED — waits until the alerts explain expects from the records
# behind alerts_for SEED are in PostgreSQL; prints "ok" or how many are missing.
in_postgres() {
	local m
	expected_ids "$TD_TMP/ct-$1.json" >"$TD_TMP/want-$1.ids"
	[ -s "$TD_TMP/want-$1.ids" ] || { echo "explain expects nothing"; return; }
	m="$(db_missing "$TD_TMP/want-$1.ids")"
	if [ "$m" = 0 ]; then echo ok; else echo "$m missing"; fi
}

restart_ingest() { # ENV...
	stop_service ingest 10 || diag "ingest took ${TD_STOP_MS} ms to stop"
	TD_ENV="$*" start_service ingest
	wait_admin ingest 20 || bail "ingest did not restart"
}

GRPC_PORT="$(free_port)"
cfg_set ingest grpc_target "\"127.0.0.1:$GRPC_PORT\""
cfg_set ingest grpc_poll_interval 100ms
cfg_set ingest grpc_backoff_initial 200ms
cfg_set ingest grpc_backoff_max 1s

start_postgres
start_redis
write_config

# ---- a network target without TLS is refused unless grpc_insecure is set ----
start_service ingest
for _ in $(seq 1 100); do alive ingest || break; sleep 0.1; done
if alive ingest; then
	not_ok "a TCP grpc_target without grpc_tls_ca is refused at start" "ingest is running" ingest
	kill_service ingest
else
	wait "${TD_PID[ingest]}" 2>/dev/null
	unset 'TD_PID[ingest]'
	check "a TCP grpc_target without grpc_tls_ca is refused at start, naming the keys" \
		grep -q 'ingest.grpc_target.*is a network address and ingest.grpc_tls_ca is empty.*grpc_insecure' "${TD_LOG[ingest]}"
fi
# the same config (ports) with grpc_insecure added
sed -i 's/^ingest:$/ingest:\n  grpc_insecure: true/' "$TD_CONFIG"
grep -q '^  grpc_insecure: true' "$TD_CONFIG" || bail "grpc_insecure not written"
: >"${TD_LOG[ingest]}"

alerts_for 101 "$TD_TMP/alerts1.jsonl"
# and one from a rule whose output lacks ct.region
head -n 1 "$TD_TMP/alerts1.jsonl" | jq -c 'del(.output_fields["ct.region"])
	| .rule = "gRPC Rule Without Region" | .output_fields["ct.id"] = "grpc-missing-region"' \
	>>"$TD_TMP/alerts1.jsonl"
start_peer "127.0.0.1:$GRPC_PORT" "$TD_TMP/alerts1.jsonl"
start_up

# ---- plaintext: alerts arrive intact ----
check_eq "the alerts queued in the peer reach PostgreSQL over gRPC" ok \
	"$(in_postgres 101)" ingest correlator persistence peer
check "grpc_insecure: plaintext is allowed with a warning" \
	grep -q 'plaintext over the network (ingest.grpc_insecure is true)' "${TD_LOG[ingest]}"
check "ingest logged Falco's version at connect" \
	grep -q '"falco_version":"0.43.0-peer"' "${TD_LOG[ingest]}"
eid="$(head -n 1 "$TD_TMP/want-101.ids")"
want="$(jq -cS --arg e "$eid" '.Records[] | select(.eventID == $e) | .requestParameters' "$TD_TMP/ct-101.json")"
got="$(sql "SELECT raw_event->'requestParameters' FROM alerts WHERE event_id = '$eid' LIMIT 1" | jq -cS .)"
check_eq "an alert's requestParameters (double-encoded ct.request) arrive intact" "$want" "$got"
check_eq "... with its Falco rule" "Terraform Managed Resource Modified" \
	"$(sql "SELECT falco_rule FROM alerts WHERE event_id = '$eid' LIMIT 1")"
check_eq "tfdrift_ingest_falco_grpc_connected is 1" 1 "$(metric ingest tfdrift_ingest_falco_grpc_connected)"
check "tfdrift_ingest_falco_grpc_alerts_total counts them" \
	test "$(metric ingest tfdrift_ingest_falco_grpc_alerts_total)" -ge "$N"
check "an alert lacking ct.region: the missing field is counted by name" \
	test "$(metric ingest 'tfdrift_ingest_falco_missing_fields_total{field="ct.region"}')" -ge 1
check "... and the log names the rule whose output lacks it" \
	grep -q '"input":"grpc","rule":"gRPC Rule Without Region","missing":"[^"]*ct.region' "${TD_LOG[ingest]}"

# ---- the peer is killed and comes back: reconnect and continue ----
stop_peer
alerts_for 102 "$TD_TMP/alerts2.jsonl"
sleep 0.5
start_peer "127.0.0.1:$GRPC_PORT" "$TD_TMP/alerts2.jsonl"
check_eq "after the peer was killed and restarted, its new alerts reach PostgreSQL" ok \
	"$(in_postgres 102)" ingest peer
check "the reconnect is counted" test "$(metric ingest tfdrift_ingest_falco_grpc_reconnects_total)" -ge 1
check "the lost stream was logged with its grpc status" grep -q 'the sub stream ended; reconnecting' "${TD_LOG[ingest]}"

# ---- unix socket ----
stop_peer
alerts_for 103 "$TD_TMP/alerts3.jsonl"
SOCK="$TD_TMP/falco.sock"
start_peer "unix://$SOCK" "$TD_TMP/alerts3.jsonl"
restart_ingest "TFDRIFT_INGEST_GRPC_TARGET=unix://$SOCK"
check_eq "over a unix socket, the alerts reach PostgreSQL" ok "$(in_postgres 103)" ingest peer

# ---- mTLS ----
PKI="$TD_TMP/pki"
mkdir -p "$PKI"
mkca() { # NAME
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" \
		-keyout "$PKI/$1.key" -out "$PKI/$1.pem" >/dev/null 2>&1
}
mkcert() { # CA NAME SAN
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" -keyout "$PKI/$2.key" -out "$PKI/$2.csr" >/dev/null 2>&1 &&
		printf 'subjectAltName=%s\n' "$3" >"$PKI/$2.ext" &&
		openssl x509 -req -in "$PKI/$2.csr" -CA "$PKI/$1.pem" -CAkey "$PKI/$1.key" -CAcreateserial \
			-days 2 -extfile "$PKI/$2.ext" -out "$PKI/$2.pem" >/dev/null 2>&1
}
mkca test-ca && mkca other-ca &&
	mkcert test-ca server "IP:127.0.0.1,DNS:localhost" &&
	mkcert test-ca client "DNS:tfdrift-ingest" &&
	mkcert other-ca stranger "DNS:tfdrift-ingest" || bail "openssl could not make the test CA"

stop_peer
TLS_PORT="$(free_port)"
alerts_for 104 "$TD_TMP/alerts4.jsonl"
start_peer "127.0.0.1:$TLS_PORT" "$TD_TMP/alerts4.jsonl" --ca "$PKI/test-ca.pem" \
	--cert "$PKI/server.pem" --key "$PKI/server.key"
restart_ingest "TFDRIFT_INGEST_GRPC_TARGET=127.0.0.1:$TLS_PORT" "TFDRIFT_INGEST_GRPC_TLS_CA=$PKI/test-ca.pem" \
	"TFDRIFT_INGEST_GRPC_TLS_CERT=$PKI/client.pem" "TFDRIFT_INGEST_GRPC_TLS_KEY=$PKI/client.key"
check_eq "over mTLS, the alerts reach PostgreSQL" ok "$(in_postgres 104)" ingest peer

# ---- a client certificate from another CA ----
# ingest restarts with the stranger's certificate before the new peer is up:
# the ingest that has a trusted certificate must not drain the new peer.
alerts_for 105 "$TD_TMP/alerts5.jsonl"
stop_peer
restart_ingest "TFDRIFT_INGEST_GRPC_TARGET=127.0.0.1:$TLS_PORT" "TFDRIFT_INGEST_GRPC_TLS_CA=$PKI/test-ca.pem" \
	"TFDRIFT_INGEST_GRPC_TLS_CERT=$PKI/stranger.pem" "TFDRIFT_INGEST_GRPC_TLS_KEY=$PKI/stranger.key"
start_peer "127.0.0.1:$TLS_PORT" "$TD_TMP/alerts5.jsonl" --ca "$PKI/test-ca.pem" \
	--cert "$PKI/server.pem" --key "$PKI/server.key"
base="$(metric ingest tfdrift_ingest_falco_grpc_reconnects_total)"
retries=0
for _ in $(seq 1 100); do
	now="$(metric ingest tfdrift_ingest_falco_grpc_reconnects_total)"
	retries=$((${now:-0} - ${base:-0}))
	[ "$retries" -ge 2 ] && break
	sleep 0.1
done
check "with a client certificate the peer does not trust, ingest retries (reconnects: $retries)" \
	test "$retries" -ge 2
check "... logs a clear error naming the target and the failed version call" \
	grep -q "version call failed.*\"target\":\"127.0.0.1:$TLS_PORT\"" "${TD_LOG[ingest]}"
check "... and keeps running" alive ingest
check_eq "... and no alert of that peer got through" 0 \
	"$(sql "SELECT count(*) FROM alerts WHERE event_id IN ($(jq -r '.output_fields["ct.id"]' "$TD_TMP/alerts5.jsonl" | sed "s/.*/'&'/" | paste -sd,))")"
stop_service ingest 10
check_eq "ingest stops cleanly while retrying (exit 0)" 0 "${TD_STATUS[ingest]}"
stop_peer

finish
