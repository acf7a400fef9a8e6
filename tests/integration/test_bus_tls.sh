#!/usr/bin/env bash
# The bus over NNG's TLS transport with mutual certificates (issue 14): every
# bus socket of ingest, correlator, persistence and state-loader on
# tls+tcp://, certificates from a test CA made here with openssl.  A replayed
# CloudTrail file goes through ingest -> correlator -> persistence over TLS and
# lands in PostgreSQL (the correlator dials ingest by the name "localhost",
# which is resolved and checked against the certificate).  A correlator with a
# certificate from another CA, and one dialing in plaintext, get no
# connection, and ingest counts and logs the refused handshakes.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
need openssl

PKI="$TD_TMP/pki"
mkdir -p "$PKI"
mkcert() { # NAME CA_NAME: a key and a certificate for localhost/127.0.0.1 signed by CA_NAME
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
		-keyout "$PKI/$1.key" -out "$PKI/$1.csr" 2>/dev/null &&
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >"$PKI/$1.ext" &&
		openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/$2.crt" -CAkey "$PKI/$2.key" -CAcreateserial \
			-days 2 -extfile "$PKI/$1.ext" -out "$PKI/$1.crt" 2>/dev/null
}
mkca() {
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
		-days 2 -keyout "$PKI/$1.key" -out "$PKI/$1.crt" 2>/dev/null
}
mkca ca && mkca other-ca && mkcert bus ca && mkcert stranger other-ca || bail "openssl could not make the test PKI"

start_postgres
start_redis
cfg_set bus tls_ca "\"$PKI/ca.crt\""
cfg_set bus tls_cert "\"$PKI/bus.crt\""
cfg_set bus tls_key "\"$PKI/bus.key\""
cfg_set bus resolve_interval 200ms
write_config
# every bus address on TLS; the correlator dials ingest by name
sed -i 's|"tcp://127\.0\.0\.1:|"tls+tcp://127.0.0.1:|' "$TD_CONFIG"
work_port="${TD_URL[ingest.work_listen]##*:}"
sed -i "s|^  ingest_url: .*|  ingest_url: \"tls+tcp://localhost:$work_port\"|" "$TD_CONFIG"
check "every bus address is tls+tcp" sh -c "! grep -q '\"tcp://' '$TD_CONFIG'"

start_up persistence ingest correlator state-loader
for s in persistence ingest correlator; do
	wait_ready "$s" 30 || diag "$s is not ready after 30 s: $(curl -s "$(admin_url "$s")/readyz")"
done
peers_of() { metric "$1" "tfdrift_bus_peers{socket=\"$2\"}"; }
wait_metric() { # SERVICE SAMPLE WANT_TEST(value) SECONDS
	local i
	for i in $(seq $(($4 * 10))); do
		v="$(metric "$1" "$2")"
		[ -n "$v" ] && awk -v v="$v" "BEGIN { exit !($3) }" && return 0
		sleep 0.1
	done
	return 1
}
check "the correlator is connected to ingest over TLS" wait_metric correlator 'tfdrift_bus_peers{socket="correlator.work"}' 'v >= 1' 20
check "the correlator is connected to persistence over TLS" wait_metric correlator 'tfdrift_bus_peers{socket="correlator.persistence"}' 'v >= 1' 20
check "the correlator subscribes to the state-loader over TLS" wait_metric correlator 'tfdrift_bus_peers{socket="correlator.state"}' 'v >= 1' 20

# ---- events flow over TLS ----
N=200
FILE="$TD_TMP/cloudtrail.json.gz"
check "generate $N CloudTrail records" gen_cloudtrail "$FILE" "$N" 7 --gzip
"$TD_BIN/tfdrift-correlator" explain "$FILE" 2>/dev/null | jq -r '.alerts[]?.alert_key' | sort -u >"$TD_TMP/want.keys"
NA="$(wc -l <"$TD_TMP/want.keys")"
check "explain expects alerts" test "$NA" -gt 0
check "replay over the TLS bus exits 0" timeout 120 "$TD_BIN/tfdrift-ingest" --config "$TD_CONFIG" replay "$FILE"
check_eq "every alert is in PostgreSQL" "$NA" "$(sql 'SELECT count(*) FROM alerts')"

# ---- a stranger's certificate: no connection, and ingest says so ----
rej0="$(metric ingest 'tfdrift_bus_tls_rejected_total{socket="ingest.work"}')"
A2="$(free_port)"
TD_INSTANCE=correlator-stranger TD_ADMIN_PORT=$A2 \
	TD_ENV="TFDRIFT_BUS_TLS_CERT=$PKI/stranger.crt TFDRIFT_BUS_TLS_KEY=$PKI/stranger.key TFDRIFT_CORRELATOR_ADMIN_PORT=$A2" \
	start_service correlator
wait_admin correlator-stranger 20 || bail "the second correlator did not come up"
check "ingest counts refused TLS handshakes" wait_metric ingest 'tfdrift_bus_tls_rejected_total{socket="ingest.work"}' "v > ${rej0:-0}" 20
check "ingest logs the refusal" grep -q 'bus TLS listener refused connections' "${TD_LOG[ingest]}"
check_eq "the stranger has no connection to ingest" 0 "$(metric correlator-stranger 'tfdrift_bus_peers{socket="correlator.work"}')"
stop_service correlator-stranger 10 >/dev/null

# ---- a plaintext dialer cannot connect to the TLS listener ----
rej1="$(metric ingest 'tfdrift_bus_tls_rejected_total{socket="ingest.work"}')"
A3="$(free_port)"
TD_INSTANCE=correlator-plain TD_ADMIN_PORT=$A3 \
	TD_ENV="TFDRIFT_CORRELATOR_INGEST_URL=tcp://127.0.0.1:$work_port TFDRIFT_CORRELATOR_ADMIN_PORT=$A3" \
	start_service correlator
wait_admin correlator-plain 20 || bail "the plaintext correlator did not come up"
check "ingest counts the plaintext attempt" wait_metric ingest 'tfdrift_bus_tls_rejected_total{socket="ingest.work"}' "v > ${rej1:-0}" 20
check_eq "the plaintext dialer has no connection" 0 "$(metric correlator-plain 'tfdrift_bus_peers{socket="correlator.work"}')"
stop_service correlator-plain 10 >/dev/null

check "the trusted correlator is still connected" wait_metric correlator 'tfdrift_bus_peers{socket="correlator.work"}' 'v >= 1' 5

# ---- certificates replaced on disk: reloaded, listeners restarted, peers back ----
mkcert bus2 ca || bail "openssl could not make the second certificate"
cp "$PKI/bus2.key" "$PKI/bus.key.new" && cp "$PKI/bus2.crt" "$PKI/bus.crt.new"
mv "$PKI/bus.key.new" "$PKI/bus.key" && mv "$PKI/bus.crt.new" "$PKI/bus.crt"
reloaded() { grep -q 'bus listener restarted with the new certificates' "${TD_LOG[ingest]}"; }
for _ in $(seq 100); do reloaded && break; sleep 0.1; done
check "ingest reloads its certificates and restarts its listener" reloaded
check "the correlator reconnects with its reloaded certificate" \
	wait_metric correlator 'tfdrift_bus_peers{socket="correlator.work"}' 'v >= 1' 20
# the key lands before its certificate: that half-replaced state is refused
# (not loaded), so each process loads the new pair exactly once
check_eq "ingest restarted its work listener once" 1 \
	"$(grep -c '"bus listener restarted with the new certificates","socket":"ingest.work"' "${TD_LOG[ingest]}")"
creloads() { grep -c '"bus TLS certificates reloaded"' "${TD_LOG[correlator]}"; }
for _ in $(seq 100); do [ "$(creloads)" -ge 1 ] && break; sleep 0.1; done
check_eq "the correlator reloaded once" 1 "$(creloads)"
serial_now="$(openssl x509 -in "$PKI/bus.crt" -noout -serial)"
check "the file on disk is the new certificate" test "$serial_now" = "$(openssl x509 -in "$PKI/bus2.crt" -noout -serial)"
finish
