# shellcheck shell=bash
# tests/lib/state_backends.sh — tests/peers/state_backends.js for the
# state-loader's tests and benches; source after tests/lib/services.sh.
#
#   start_state_backends ARGS...   the peer over D ($TD_TMP/backends, with
#       D/http), logging every request to LOG ($TD_TMP/backends.log, one JSON
#       line each), on five free ports S3P PROXYP HTTPP HCPP AWSP, with the
#       test's AWS key (AKIDTFDRIFTTEST / tEst/Secret+Key) and ARGS (--user,
#       --password, --token, more ports and options); on exit it is stopped
#       with every service.  Returns 1 when it is not ready within 10 s
#       ($TD_TMP/backends.out says why).
#   stop_state_backends

start_state_backends() {
	local _
	D="$TD_TMP/backends"
	LOG="$TD_TMP/backends.log"
	mkdir -p "$D/http"
	: >"$LOG"
	read -r S3P PROXYP HTTPP HCPP AWSP <<<"$(free_ports 5)"
	trap 'stop_state_backends; stop_all' EXIT
	# s3rver's ListObjectsV2 continuation tokens are DES-encrypted: OpenSSL 3
	# keeps DES in its legacy provider
	node --openssl-legacy-provider "$TD_ROOT/tests/peers/state_backends.js" --dir "$D" --log "$LOG" \
		--s3-port "$S3P" --proxy-port "$PROXYP" --http-port "$HTTPP" --hcp-port "$HCPP" \
		--aws-port "$AWSP" --key-id AKIDTFDRIFTTEST --secret 'tEst/Secret+Key' "$@" \
		>"$TD_TMP/backends.out" 2>&1 &
	STATE_PEER=$!
	for _ in $(seq 100); do
		grep -q '"ready"' "$LOG" && return 0
		sleep 0.1
	done
	return 1
}

stop_state_backends() {
	[ -n "${STATE_PEER:-}" ] || return 0
	kill "$STATE_PEER" 2>/dev/null
	wait "$STATE_PEER" 2>/dev/null
	STATE_PEER=
}
