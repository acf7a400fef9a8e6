#!/usr/bin/env bash
# state-loader: many remote sources share a fixed pool of fetch workers
# (state_loader.fetch_workers) with at most fetch_per_host checks of one host
# at a time.  120 Terraform http-backend sources on two hosts
# (tests/peers/state_backends.js, every answer held 100 ms): every workspace
# is loaded; the process holds a handful of threads, not one per source; the
# servers never see more than fetch_per_host requests of the state-loader at
# once, while both hosts are served together; the next polls are conditional
# (If-None-Match -> 304) and a changed state is fetched and indexed; a stop
# with checks still queued and running is clean (ASan build: no leak).
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/state_backends.sh
source "$(dirname "$0")/../lib/state_backends.sh"
command -v node >/dev/null || bail "node is needed"

N=120
WORKERS=6
PER_HOST=3
HTTP2P=$(free_port)
start_state_backends --http2-port "$HTTP2P" --http-delay-ms 100 --user ci --password pw --token t ||
	bail "backends did not start: $(cat "$TD_TMP/backends.out")"
for i in $(seq 1 $N); do
	printf '{"version":4,"serial":%d,"lineage":"l-%d","resources":[{"mode":"managed","type":"aws_sqs_queue","name":"q","instances":[{"attributes":{"id":"https://sqs.eu-west-1.amazonaws.com/123456789012/q-%d","arn":"arn:aws:sqs:eu-west-1:123456789012:q-%d","name":"q-%d"}}]}]}' \
		"$i" "$i" "$i" "$i" "$i" >"$D/http/ws-$i"
done

sources=""
for i in $(seq 1 $N); do
	port=$HTTPP
	[ $((i % 2)) = 0 ] && port=$HTTP2P
	sources+="${sources:+, }\"ws-$i=http://127.0.0.1:$port/state/ws-$i#user=ci&password_env=TD_HTTP_PW\""
done
start_redis
cfg_set state_loader sources "[$sources]"
cfg_set state_loader poll_interval 3s
cfg_set state_loader fetch_workers "$WORKERS"
cfg_set state_loader fetch_per_host "$PER_HOST"
write_config
TD_ENV="TD_HTTP_PW=pw" start_service state-loader
wait_admin state-loader 20 || bail "state-loader did not come up"
P=tfdrift:
loaded() { rcli HGETALL ${P}workspaces | grep -c '"serial":' || true; }
for _ in $(seq 300); do [ "$(loaded)" -ge $N ] && break; sleep 0.1; done

check_eq "every one of the $N workspaces is loaded" $N "$(loaded)"
check_eq "... with its own serial (ws-77)" 77 "$(rcli HGET ${P}workspaces ws-77 | jq -r .serial)"
threads="$(awk '/^Threads:/ { print $2 }' "/proc/${TD_PID[state-loader]}/status")"
diag "state-loader threads with $N remote sources and fetch_workers=$WORKERS: $threads"
check "a handful of threads, not one per source ($threads < $((WORKERS + 20)))" test "$threads" -lt $((WORKERS + 20))
maxin() { jq -s --argjson p "$1" '[.[] | select(.kind == "http" and .port == $p) | .inflight] | max // 0' "$LOG"; }
check_eq "host 1 never saw more than fetch_per_host=$PER_HOST requests at once, and saw that many" \
	"$PER_HOST" "$(maxin "$HTTPP")"
check_eq "host 2 likewise" "$PER_HOST" "$(maxin "$HTTP2P")"
check "both hosts were served together (more than $PER_HOST requests in flight in all)" \
	jq -s -e --argjson w "$PER_HOST" '[.[] | select(.kind == "http") | .total] | max > $w' "$LOG"
check "never more than fetch_workers=$WORKERS in all" \
	jq -s -e --argjson w "$WORKERS" '[.[] | select(.kind == "http") | .total] | max <= $w' "$LOG"
check_eq "the pool's gauges are exported" 2 \
	"$(curl -s "$(admin_url state-loader)/metrics" | grep -c '^tfdrift_state_fetch_\(queued\|running\) ')"

# ---- the next polls are conditional; a changed state is fetched ----
n304() { jq -s '[.[] | select(.kind == "http" and .status == 304)] | length' "$LOG"; }
for _ in $(seq 200); do [ "$(n304)" -ge $N ] && break; sleep 0.1; done
check "a second round answered 304 Not Modified ($(n304) so far)" test "$(n304)" -ge $N
check_eq "every 304 was asked with If-None-Match" 0 \
	"$(jq -s '[.[] | select(.kind == "http" and .status == 304 and .inm == null)] | length' "$LOG")"
sed 's/"serial":42,/"serial":4200,/' "$D/http/ws-42" >"$D/http/ws-42.new"
mv "$D/http/ws-42.new" "$D/http/ws-42"
for _ in $(seq 200); do [ "$(rcli HGET ${P}workspaces ws-42 | jq -r .serial)" = 4200 ] && break; sleep 0.1; done
check_eq "a changed state is fetched and indexed" 4200 "$(rcli HGET ${P}workspaces ws-42 | jq -r .serial)"
check_eq "an unchanged one was fetched whole once" 1 \
	"$(jq -s '[.[] | select(.kind == "http" and .status == 200 and (.path | endswith("/ws-41")))] | length' "$LOG")"
check "no source is failing" sh -c "! redis-cli -p $TD_REDIS_PORT HGETALL ${P}workspaces | grep -F '\"last_error\":\"'"

# ---- stop while checks are queued and running ----
# every answer now held 100 ms and all 120 sources due together: a restart
# with a fresh pool queues them all; the stop comes while they wait
stop_service state-loader
TD_ENV="TD_HTTP_PW=pw" start_service state-loader
wait_admin state-loader 20 || bail "state-loader did not come up again"
q=0
for _ in $(seq 100); do
	q="$(metric state-loader tfdrift_state_fetch_queued)"
	[ "${q%.*}" -gt 0 ] 2>/dev/null && break
	sleep 0.05
done
diag "checks queued at the stop: $q"
check "checks were queued when the stop came" test "${q%.*}" -gt 0
stop_service state-loader
check_eq "the stop with checks queued and running is clean (exit 0)" 0 "${TD_STATUS[state-loader]}"

finish
