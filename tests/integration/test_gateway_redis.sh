#!/usr/bin/env bash
# The gateway's Redis reads go through a small connection pool (libcommon's
# td_redis_pool, services/api-gateway/graph.h): 40 reads of /workspaces open
# at most the pool's 8 connections (Redis's own count of connections received),
# not one each; with Redis gone the reads answer 503, and once Redis is back
# (on the same port, the index rewritten by the state-loader) they answer 200
# again with the dead pooled connections replaced.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/gateway.sh
source "$(dirname "$0")/../lib/gateway.sh"
need redis-server redis-cli sha256sum

start_postgres
start_redis
gw_tokens
cfg_set state_loader local_files "[\"prod/app=$TD_ROOT/examples/states/prod-app.tfstate\"]"
write_config
start_up persistence state-loader api-gateway
wait_ready api-gateway 30 || bail "api-gateway is not ready"
for _ in $(seq 1 100); do
	[ "$(rcli HLEN tfdrift:workspaces)" = 1 ] && break
	sleep 0.1
done
check_eq "state-loader wrote the workspace" 1 "$(rcli HLEN tfdrift:workspaces)" state-loader

# connections Redis accepted so far (this rcli call is one of them)
received() { rcli INFO stats | tr -d '\r' | awk -F: '$1 == "total_connections_received" { print $2 }'; }

before="$(received)"
good=0
for _ in $(seq 1 40); do
	gw_req GET /api/v1/workspaces "$TOK_VIEWER"
	[ "$GW_CODE" = 200 ] && good=$((good + 1))
done
after="$(received)"
check_eq "40 reads of /workspaces answer 200" 40 "$good" api-gateway
opened=$((after - before - 1)) # without the second rcli
diag "the 40 reads opened $opened Redis connections"
check "...over at most the pool's 8 connections, not one each" test "$opened" -le 8
gw_jq "...with the workspace" "prod/app" '.items[0].name'

# ---- Redis goes away and comes back on the same port ------------------------------
port=$TD_REDIS_PORT
stop_redis
gw_expect "with Redis gone, /workspaces answers 503" 503 GET /api/v1/workspaces "$TOK_VIEWER"
redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
	--dir "$TD_TMP/redis" --daemonize no --protected-mode yes \
	--logfile "$TD_TMP/redis/redis.log" >/dev/null 2>&1 &
TD_REDIS_PID=$!
for _ in $(seq 1 100); do
	rcli ping 2>/dev/null | grep -q PONG && break
	sleep 0.1
done
check "Redis is back on port $port" rcli ping
# the state-loader notices the empty Redis and writes the index again
for _ in $(seq 1 300); do
	[ "$(rcli HLEN tfdrift:workspaces)" = 1 ] && break
	sleep 0.1
done
check_eq "the state-loader rewrote the index" 1 "$(rcli HLEN tfdrift:workspaces)" state-loader
for _ in $(seq 1 100); do
	gw_req GET /api/v1/workspaces "$TOK_VIEWER"
	[ "$GW_CODE" = 200 ] && break
	sleep 0.1
done
check_eq "/workspaces answers 200 again" 200 "$GW_CODE" api-gateway
good=0
for _ in $(seq 1 10); do
	gw_req GET /api/v1/workspaces "$TOK_VIEWER"
	[ "$GW_CODE" = 200 ] && good=$((good + 1))
done
check_eq "...and keeps answering (dead pooled connections replaced)" 10 "$good" api-gateway

finish
