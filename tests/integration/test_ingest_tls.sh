#!/usr/bin/env bash
# The Falco HTTP receiver over TLS and mTLS (ingest.http_tls_cert/key/ca) with
# a test CA made here with openssl: a client trusting the CA gets 202; a
# client that does not trust the server's CA, or speaks plain HTTP, gets no
# answer; with http_tls_ca set, a client without a certificate or with one
# from another CA gets 401 and the refusal is logged with its reason; a
# certificate from the right CA is taken.  Only ingest runs: 202 means the
# alert is in the journal, no correlator needed.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/ingest.sh
source "$(dirname "$0")/../lib/ingest.sh"
need openssl curl

PKI="$TD_TMP/pki"
mkdir -p "$PKI"
mkca() { # NAME
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" \
		-keyout "$PKI/$1.key" -out "$PKI/$1.pem" >/dev/null 2>&1
}
mkcert() { # CA NAME SAN EXTKEYUSAGE
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" -keyout "$PKI/$2.key" -out "$PKI/$2.csr" >/dev/null 2>&1 &&
		printf 'subjectAltName=%s\nextendedKeyUsage=%s\n' "$3" "$4" >"$PKI/$2.ext" &&
		openssl x509 -req -in "$PKI/$2.csr" -CA "$PKI/$1.pem" -CAkey "$PKI/$1.key" -CAcreateserial \
			-days 2 -extfile "$PKI/$2.ext" -out "$PKI/$2.pem" >/dev/null 2>&1
}
mkca test-ca && mkca other-ca &&
	mkcert test-ca server "DNS:localhost,IP:127.0.0.1" serverAuth &&
	mkcert test-ca falco "DNS:falco" clientAuth &&
	mkcert other-ca stranger "DNS:falco" clientAuth || bail "openssl could not make the test CA"

gen_cloudtrail "$TD_TMP/ct.json" 3 41 || bail "gen_cloudtrail failed"
falco_alerts "$TD_TMP/ct.json" "$TD_TMP/alerts.jsonl" || bail "falco_alerts failed"
head -n 1 "$TD_TMP/alerts.jsonl" | tr -d '\n' >"$TD_TMP/a1.json"
sed -n 2p "$TD_TMP/alerts.jsonl" | tr -d '\n' >"$TD_TMP/a2.json"
sed -n 3p "$TD_TMP/alerts.jsonl" | tr -d '\n' >"$TD_TMP/a3.json"

cfg_set ingest http_tls_cert "\"$PKI/server.pem\""
cfg_set ingest http_tls_key "\"$PKI/server.key\""
write_config

url() { echo "https://127.0.0.1:${TD_PORT[ingest.http_port]}/api/v1/falco/events"; }
# tls_post BODY CURL_ARGS... — prints "<curl exit> <http code>"
tls_post() {
	local body="$1" code rc
	shift
	code="$(curl -s -o "$TD_TMP/resp" -w '%{http_code}' --max-time 10 -X POST \
		-H 'Content-Type: application/json' --data-binary "@$body" "$@" "$(url)" 2>"$TD_TMP/curl.err")"
	rc=$?
	echo "$rc $code"
}
wait_tls() { # CURL_ARGS... — until the TLS port answers anything
	for _ in $(seq 1 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$(url)")" != 000 ] && return 0
		sleep 0.1
	done
	return 1
}

# ---- TLS ----
start_service ingest
wait_admin ingest 20 || bail "ingest did not come up"
wait_tls --cacert "$PKI/test-ca.pem" || bail "the TLS receiver did not answer"
got="$(tls_post "$TD_TMP/a1.json" --cacert "$PKI/test-ca.pem")"
check_eq "over TLS, a client trusting the test CA gets 202" "0 202" "$got" ingest
check_eq "... with the alert's ct.id as event_id" "$(jq -r '.output_fields["ct.id"]' "$TD_TMP/a1.json")" \
	"$(jq -r .event_id "$TD_TMP/resp" 2>/dev/null)"
got="$(tls_post "$TD_TMP/a2.json" --cacert "$PKI/other-ca.pem")"
check_eq "a client trusting another CA refuses the handshake (curl exit 60, no answer)" "60 000" "$got"
got="$(tls_post "$TD_TMP/a2.json")"
check_eq "a client trusting only the system CAs refuses the handshake too" "60 000" "$got"
code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST --data-binary "@$TD_TMP/a2.json" \
	"http://127.0.0.1:${TD_PORT[ingest.http_port]}/api/v1/falco/events")"
check "plain HTTP to the TLS port gets no HTTP answer" test "$code" != 202 -a "$code" != 400
check "ingest is still running" alive ingest
check_eq "exactly one alert was accepted over TLS" 1 \
	"$(metric ingest 'tfdrift_ingest_falco_http_alerts_total{result="accepted"}')" ingest

# ---- mTLS ----
stop_service ingest 10 || diag "ingest took ${TD_STOP_MS} ms to stop"
TD_ENV="TFDRIFT_INGEST_HTTP_TLS_CA=$PKI/test-ca.pem" start_service ingest
wait_admin ingest 20 || bail "ingest did not come back with http_tls_ca"
wait_tls --cacert "$PKI/test-ca.pem" --cert "$PKI/falco.pem" --key "$PKI/falco.key" ||
	bail "the mTLS receiver did not answer"
got="$(tls_post "$TD_TMP/a2.json" --cacert "$PKI/test-ca.pem" --cert "$PKI/falco.pem" --key "$PKI/falco.key")"
check_eq "over mTLS, a client certificate from the test CA gets 202" "0 202" "$got" ingest
got="$(tls_post "$TD_TMP/a3.json" --cacert "$PKI/test-ca.pem")"
check_eq "without a client certificate: 401 (libmicrohttpd only requests one; ingest checks it)" "0 401" "$got"
check "... the answer names the CA" grep -q 'signed by ingest.http_tls_ca' "$TD_TMP/resp"
got="$(tls_post "$TD_TMP/a3.json" --cacert "$PKI/test-ca.pem" --cert "$PKI/stranger.pem" --key "$PKI/stranger.key")"
check_eq "a client certificate from another CA: 401" "0 401" "$got"
check "the refusal is logged with its reason (rate-limited to one line a second)" \
	grep -q 'client certificate refused (mTLS).*"reason":"the client sent no certificate"' "${TD_LOG[ingest]}"
check "... and counted as unauthorized" \
	test "$(metric ingest 'tfdrift_ingest_falco_http_alerts_total{result="unauthorized"}')" -ge 2
check "ingest is still running after the refused clients" alive ingest
check_eq "only the alert with the right certificate was accepted" 1 \
	"$(metric ingest 'tfdrift_ingest_falco_http_alerts_total{result="accepted"}')" ingest

finish
