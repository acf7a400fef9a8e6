# tests/lib/notifier.sh — helpers for the notifier tests; source after
# tests/lib/services.sh and tests/lib/persistence.sh.
#
#   nt_setup                  postgres + config + persistence (ready) + the
#                             peers (tests/peers/notifier_peers.js); sets
#                             NT_HTTP, NT_HOOK, NT_SMTP, NT_SECRET, NT_TOKEN,
#                             NT_PD_KEY and exports the receivers' secrets
#   nt_peer_args ARGS...      extra arguments for the peers (before nt_setup)
#   nt_routing TEXT           writes the routing file (notifier.routing_file)
#   nt_state FILTER           jq -r FILTER over the peers' /_state
#   nt_control TARGET MODE [RETRY_AFTER] [DELAY_MS]
#   wait_until NAME SECS CMD...  polls CMD (0.2 s) until it succeeds; a check
#   nt_sql QUERY              one value from PostgreSQL

NT_PEER_ARGS=()
nt_peer_args() { NT_PEER_ARGS+=("$@"); }

nt_setup() {
	need node
	[ -d "$TD_ROOT/tests/peers/node_modules/standardwebhooks" ] ||
		(cd "$TD_ROOT/tests/peers" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
		bail "npm ci in tests/peers failed"
	start_postgres
	local -a p
	read -r -a p <<<"$(free_ports 3)" || bail "no free ports"
	NT_HTTP=${p[0]}
	NT_HOOK=${p[1]}
	NT_SMTP=${p[2]}
	NT_SECRET="whsec_$(head -c 24 /dev/urandom | base64)"
	NT_TOKEN="xoxb-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	NT_PD_KEY="R$(head -c 15 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	export NT_SECRET NT_TOKEN NT_PD_KEY
	export NT_SLACK_HOOK_URL="http://127.0.0.1:$NT_HTTP/slack/hook"
	export NT_TEAMS_URL="http://127.0.0.1:$NT_HTTP/teams"
	node "$TD_ROOT/tests/peers/notifier_peers.js" --http "$NT_HTTP" --hook "$NT_HOOK" \
		--secret "$NT_SECRET" --token "$NT_TOKEN" --pd-key "$NT_PD_KEY" "${NT_PEER_ARGS[@]}" \
		>"$TD_TMP/logs/peers.log" 2>&1 &
	TD_PID[peers]=$!
	TD_LOG[peers]="$TD_TMP/logs/peers.log"
	wait_http "http://127.0.0.1:$NT_HTTP/_state" 20 || bail "the peers did not start"
	cfg_set notifier retry_initial 200ms
	cfg_set notifier retry_max 1s
	cfg_set notifier poll_interval 200ms
	cfg_set notifier lease 5s
	cfg_set notifier http_timeout 2s
	cfg_set notifier workers 8
	cfg_set notifier routing_file "\"$TD_TMP/routing.yaml\""
	[ -f "$TD_TMP/routing.yaml" ] || nt_routing 'receivers: [{name: log, type: log}]
route: {receivers: [log]}'
	write_config
	start_service persistence
	wait_ready persistence 30 || bail "persistence is not ready"
}

# nt_routing TEXT — writes the routing file every notifier of the test
# reads (notifier.routing_file); a notifier started later reads it.
nt_routing() {
	printf '%s\n' "$1" >"$TD_TMP/routing.yaml"
}

nt_state() {
	curl -s --max-time 5 "http://127.0.0.1:$NT_HTTP/_state" | jq -r "$1"
}

nt_control() {
	curl -s --max-time 5 -X POST "http://127.0.0.1:$NT_HTTP/_control" \
		-d "{\"target\":\"$1\",\"mode\":\"$2\",\"retry_after\":${3:-1},\"delay_ms\":${4:-0}}" >/dev/null
}

nt_sql() {
	sql "$1" | head -n 1
}

# wait_until NAME SECS CMD... — ok once CMD succeeds, not ok after SECS.
wait_until() {
	local name="$1" secs="$2" deadline
	shift 2
	deadline=$(($(date +%s%N) + secs * 1000000000))
	while [ "$(date +%s%N)" -lt "$deadline" ]; do
		if "$@" >/dev/null 2>&1; then
			ok "$name"
			return 0
		fi
		sleep 0.2
	done
	not_ok "$name" "not true after ${secs}s: $*" notifier
	return 1
}

# eq A B — for wait_until: the output of a command equals a value.
eq_cmd() {
	local want="$1"
	shift
	[ "$("$@")" = "$want" ]
}

# ge_cmd N CMD... — for wait_until: the output of CMD is at least N.
ge_cmd() {
	local want="$1" got
	shift
	got="$("$@")"
	[ -n "$got" ] && [ "$got" -ge "$want" ]
}
