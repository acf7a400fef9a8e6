# tests/lib/persistence.sh — helpers for the persistence tests; source after
# tests/lib/services.sh.
#
#   start_persistence_only        postgres + config + persistence, waits ready
#   alert_gen send|sub ARGS...    tools/tfdrift-alert-gen against this test's sockets
#   gen_field LINE KEY            a key=value field of alert-gen's summary line
#   pg_stop / pg_start            stop and start this test's PostgreSQL (same port)
#   wait_metric SVC NAME VALUE [SECS]   until /metrics shows NAME VALUE

# alert_gen send ARGS... / alert_gen sub ARGS...
alert_gen() {
	local mode="$1"
	shift
	case "$mode" in
	send) "$TD_BIN/tfdrift-alert-gen" send "${TD_URL[persistence.work_listen]}" "$@" ;;
	sub) "$TD_BIN/tfdrift-alert-gen" sub "${TD_URL[persistence.alerts_pub_listen]}" "$@" ;;
	esac
}

# gen_field LINE KEY — the value of KEY=VALUE in LINE.
gen_field() {
	tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"
}

start_persistence_only() {
	start_postgres
	write_config
	start_service persistence
	wait_admin persistence 30 || bail "persistence did not come up"
	wait_ready persistence 30 || bail "persistence is not ready: $(curl -s "$(admin_url persistence)/readyz")"
}

pg_stop() {
	as_pg "$TD_PG_BIN/pg_ctl" -D "$TD_PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1
}

pg_start() {
	as_pg "$TD_PG_BIN/pg_ctl" -D "$TD_PG_DATA" -l "$TD_TMP/pg/postgres.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $TD_PG_PORT -k $TD_TMP/pg/sock -c fsync=off \
-c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
		start >/dev/null 2>&1
}

# wait_metric SERVICE NAME VALUE [SECONDS]
wait_metric() {
	local s="$1" m="$2" want="$3" secs="${4:-30}" deadline got
	deadline=$(($(date +%s%N) + secs * 1000000000))
	while [ "$(date +%s%N)" -lt "$deadline" ]; do
		got="$(metric "$s" "$m")"
		[ "$got" = "$want" ] && return 0
		sleep 0.2
	done
	diag "wait_metric: $m is '${got:-}' after ${secs}s, wanted $want"
	return 1
}
