#!/usr/bin/env bash
# run.sh — `make run`: the whole tfdrift stack on this machine, with demo data.
#
#   scripts/run.sh          start PostgreSQL, Redis and the six processes under run/,
#                           load the demo states, replay the demo CloudTrail events,
#                           print where to look, follow the logs; Ctrl-C stops it all
#   scripts/run.sh stop     stop a stack left running (TFDRIFT_RUN_NO_FOLLOW=1)
#   scripts/run.sh status   show what is running
#
# Environment:
#   BUILD=build                 where `make` put bin/ (relative to the checkout or absolute)
#   TFDRIFT_RUN_NO_FOLLOW=1     exit after the replay and the banner, leaving the stack up
#   TFDRIFT_RUN_DIR=run         the run directory (default: run/ in the checkout, git-ignored)
#   TFDRIFT_RUN_READY_TIMEOUT=60  seconds to wait for each process's /readyz
#
# The run directory is kept between runs: PostgreSQL's cluster (run/pg), Redis's
# dump (run/redis), every process's data_dir (run/data) and the logs (run/logs,
# appended to).  Preferred ports: PostgreSQL 15432, Redis 16379 (both below
# Linux's ephemeral range, 32768-60999, where the source port of any outgoing
# connection may sit), and the defaults of config_directives.c for the services
# (admin 9101-9106, bus 7101/7102/7201/7202/7301, REST 8080).  A port is taken
# only once it is proven bindable (bind + listen on 127.0.0.1, which a port
# held by a connection fails); one that something else uses is replaced by the
# next usable one and run/config.yaml says which.  Should PostgreSQL or Redis
# still fail to bind (taken in between), the next port is tried.
#   TFDRIFT_RUN_PG_PORT=15432 TFDRIFT_RUN_REDIS_PORT=16379  other preferred ports
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BIN=$BUILD/bin
RUN=${TFDRIFT_RUN_DIR:-$ROOT/run}
case $RUN in /*) ;; *) RUN=$ROOT/$RUN ;; esac
READY_TIMEOUT=${TFDRIFT_RUN_READY_TIMEOUT:-60}
NO_FOLLOW=${TFDRIFT_RUN_NO_FOLLOW:-0}

LOGS=$RUN/logs
PIDS=$RUN/pids
STACK_ENV=$RUN/stack.env # ports and paths of the running stack, for `stop` and `status`
CONFIG=$RUN/config.yaml

# Start order (dependencies first) and stop order (sources first, so nothing
# in flight is dropped: ingest stops taking events before the correlators and
# persistence behind it stop).
SERVICES=(state-loader persistence correlator ingest api-gateway notifier)
STOP_ORDER=(ingest correlator persistence notifier api-gateway state-loader)

EXAMPLE_STATES=("prod/network=$ROOT/examples/states/prod-network.tfstate"
	"prod/app=$ROOT/examples/states/prod-app.tfstate")
EXAMPLE_EVENTS=$ROOT/examples/events/demo-cloudtrail.json
# the web UI `make` built (services/web/build.mk); empty: the gateway serves no UI
WEB_DIR=""
[ -f "$BUILD/web/index.html" ] && WEB_DIR=$BUILD/web

# bold (red for errors) only on a terminal
if [ -t 2 ]; then B=$'\033[1m' R=$'\033[1;31m' N=$'\033[0m'; else B="" R="" N=""; fi
say() { printf '%srun:%s %s\n' "$B" "$N" "$*" >&2; }
die() {
	printf '%srun:%s %s\n' "$R" "$N" "$*" >&2
	exit 1
}

# ---- small helpers ------------------------------------------------------------

# True when the port cannot be ours: a listener on any address has it (ss), or
# binding 127.0.0.1:$1 and listening fails.  Looking for listeners alone is not
# enough: a client connection's source port (any port of the ephemeral range,
# 32768-60999) holds it too, and ss -l does not show that.  The probe uses no
# SO_REUSEADDR, so it fails wherever the server's bind would.
port_busy() {
	local port=$1
	if command -v ss >/dev/null 2>&1; then
		ss -Htln "( sport = :$port )" 2>/dev/null | grep -q . && return 0
	fi
	! python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen(1)
except OSError:
    sys.exit(1)
' "$port" 2>/dev/null
}

# Sets the variable named $1 to port $2 when it is free, else to the next free
# port above it.  Every port handed out is remembered, so two services never
# get the same one.  (A variable, not $(...): the memory must outlive the call.)
declare -A TAKEN=()
declare -A ADMIN=() # service name -> admin port
pick_port() {
	local var=$1 want=$2 p=$2 busy=0
	while [ -n "${TAKEN[$p]:-}" ] || port_busy "$p"; do
		[ -z "${TAKEN[$p]:-}" ] && [ "$p" = "$want" ] && busy=1
		p=$((p + 1))
		[ "$p" -gt $((want + 200)) ] && die "no free port near $want"
	done
	TAKEN[$p]=1
	# say so only when another program holds the port, not when a port an
	# earlier pick moved onto pushes this one along
	[ "$busy" = 1 ] && say "port $want is in use by another program; using $p instead"
	printf -v "$var" '%s' "$p"
}

# Is $1 (a pid) alive and running a command line that contains $2?
pid_is() {
	local pid=$1 what=$2
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$what"
}

read_pid() { if [ -f "$1" ]; then tr -dc '0-9' <"$1"; fi; }

# Waits up to $2 seconds for pid $1 to exit (it need not be our child).  When
# it was our child, EXIT_STATUS is its exit status, else empty.
EXIT_STATUS=""
wait_gone() {
	local pid=$1 limit=$(($2 * 10)) i=0
	EXIT_STATUS=""
	while kill -0 "$pid" 2>/dev/null; do
		# our own child lingers as a zombie until waited for
		[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
		[ "$i" -ge "$limit" ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
	local rc=0
	wait "$pid" 2>/dev/null || rc=$?
	# 127: not our child, so there is no status to report
	[ "$rc" -ne 127 ] && EXIT_STATUS=$rc
	return 0
}

# PostgreSQL refuses to run as root: as root its tools run as the postgres user.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

find_pgbin() {
	local d
	# the newest installed major version (Debian 12 ships 15)
	d=$(printf '%s\n' /usr/lib/postgresql/*/bin | grep -v '\*' | sort -V | tail -n 1)
	if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
		die "PostgreSQL not found under /usr/lib/postgresql; run 'make deps'"
	fi
	echo "$d"
}

# ---- stop ------------------------------------------------------------------------

stop_services() {
	local name pid
	for name in "${STOP_ORDER[@]}"; do
		pid=$(read_pid "$PIDS/$name.pid")
		if pid_is "$pid" "tfdrift-$name"; then
			kill -TERM "$pid" 2>/dev/null || true
			if ! wait_gone "$pid" 10; then
				say "tfdrift-$name (pid $pid) did not stop within 10 s; killing it"
				kill -KILL "$pid" 2>/dev/null || true
				wait_gone "$pid" 5 || true
			elif [ -n "$EXIT_STATUS" ] && [ "$EXIT_STATUS" -ne 0 ]; then
				say "tfdrift-$name exited with status $EXIT_STATUS; see $LOGS/$name.log"
			fi
		fi
		rm -f "$PIDS/$name.pid"
	done
}

stop_redis() {
	local pid
	pid=$(read_pid "$RUN/redis/redis.pid")
	if pid_is "$pid" redis-server; then
		# SIGTERM is Redis's clean shutdown: it saves the dump (the config has
		# `save`), then exits.
		kill -TERM "$pid" 2>/dev/null || true
		if ! wait_gone "$pid" 15; then
			say "redis-server (pid $pid) did not stop; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$RUN/redis/redis.pid"
}

stop_postgres() {
	# without stack.env (a run that died early) the cluster is in one of its
	# usual places
	if [ -z "${PGDATA:-}" ]; then
		PGDATA=$RUN/pg/data
		[ -f "$PGDATA/PG_VERSION" ] || PGDATA=$(fallback_pg_dir)/data
	fi
	[ -f "$PGDATA/postmaster.pid" ] || return 0
	PGBIN=${PGBIN:-$(find_pgbin)}
	local pid
	pid=$(head -n 1 "$PGDATA/postmaster.pid" | tr -dc '0-9')
	if pid_is "$pid" postgres; then
		# fast: roll back open transactions and shut down cleanly (no recovery next start)
		as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null ||
			say "pg_ctl stop failed; see $LOGS/postgres.log"
	fi
}

load_stack_env() {
	# shellcheck disable=SC1090
	[ -f "$STACK_ENV" ] && . "$STACK_ENV"
	return 0
}

stop_all() {
	load_stack_env
	stop_services
	stop_redis
	stop_postgres
	rm -f "$STACK_ENV"
}

# ---- start ----------------------------------------------------------------------

check_prerequisites() {
	local name missing=()
	for name in "${SERVICES[@]}"; do
		[ -x "$BIN/tfdrift-$name" ] || missing+=("$BIN/tfdrift-$name")
	done
	[ "${#missing[@]}" -eq 0 ] || die "not built: ${missing[*]} (run 'make' first, or 'make run')"
	command -v redis-server >/dev/null || die "redis-server not found; run 'make deps'"
	command -v redis-cli >/dev/null || die "redis-cli not found; run 'make deps'"
	command -v curl >/dev/null || die "curl not found; run 'make deps'"
	[ -f "$EXAMPLE_EVENTS" ] || die "missing $EXAMPLE_EVENTS"
	local s
	for s in "${EXAMPLE_STATES[@]}"; do
		[ -f "${s#*=}" ] || die "missing ${s#*=}"
	done
}

# PostgreSQL's files must be reachable by the postgres user.  When the checkout
# is somewhere that user cannot enter (a home directory with mode 700), the
# cluster and its log go to a per-checkout directory under /tmp instead; it is
# still reused across runs, and run/logs/postgres.log links to the log.
fallback_pg_dir() {
	local sum
	sum=$(printf '%s' "$RUN" | cksum | cut -d' ' -f1)
	echo "${TMPDIR:-/tmp}/tfdrift-run-$sum/pg"
}

choose_pg_dir() {
	local dir=$RUN/pg
	mkdir -p "$dir"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$dir"
		if ! runuser -u postgres -- test -w "$dir"; then
			dir=$(fallback_pg_dir)
			mkdir -p "$dir"
			chmod 755 "$(dirname "$dir")"
			chown postgres: "$dir"
			say "the postgres user cannot write under $RUN; keeping the cluster in $dir"
		fi
	fi
	echo "$dir"
}

start_postgres() {
	PGBIN=$(find_pgbin)
	local pgdir
	pgdir=$(choose_pg_dir)
	PGDATA=$pgdir/data
	PGSOCK=$pgdir/sock
	# a unix socket path is limited to 107 bytes
	if [ $((${#PGSOCK} + 20)) -gt 107 ]; then
		PGSOCK=${TMPDIR:-/tmp}/tfdrift-pg-$(printf '%s' "$pgdir" | cksum | cut -d' ' -f1)
	fi
	mkdir -p "$PGSOCK"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$PGSOCK"
	if [ "$pgdir" = "$RUN/pg" ]; then
		PGLOG=$LOGS/postgres.log
		[ -L "$PGLOG" ] && rm -f "$PGLOG"
	else
		PGLOG=$pgdir/postgres.log
		ln -sfn "$PGLOG" "$LOGS/postgres.log"
	fi
	: >>"$PGLOG"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$PGLOG"

	if [ ! -f "$PGDATA/PG_VERSION" ]; then
		say "initialising a PostgreSQL cluster in $PGDATA"
		rm -rf "$PGDATA"
		mkdir -p "$PGDATA"
		[ "$(id -u)" -eq 0 ] && chown postgres: "$PGDATA"
		# trust on 127.0.0.1 and the private socket only: this is a demo cluster
		as_pg "$PGBIN/initdb" -D "$PGDATA" -U tfdrift --auth=trust --encoding=UTF8 \
			--locale=C >>"$LOGS/postgres.log" 2>&1 || die "initdb failed; see $LOGS/postgres.log"
	fi

	# A postmaster.pid left by a killed run: PostgreSQL itself ignores one whose
	# process is gone, but not one whose pid now belongs to another process.
	if [ -f "$PGDATA/postmaster.pid" ]; then
		local old
		old=$(head -n 1 "$PGDATA/postmaster.pid" | tr -dc '0-9')
		if ! pid_is "$old" postgres; then
			rm -f "$PGDATA/postmaster.pid"
		fi
	fi

	local want=${TFDRIFT_RUN_PG_PORT:-15432} attempt log_at
	for attempt in 1 2 3 4 5; do
		pick_port PGPORT "$want"
		say "starting PostgreSQL on 127.0.0.1:$PGPORT"
		log_at=$(wc -c <"$PGLOG")
		# setsid: the server must not get the terminal's Ctrl-C; run.sh stops it.
		if as_pg setsid "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGLOG" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -p $PGPORT -c unix_socket_directories=$PGSOCK" \
			start >/dev/null; then
			break
		fi
		# taken between the probe and the server's bind: the next port
		if [ "$attempt" -lt 5 ] && tail -c +$((log_at + 1)) "$PGLOG" | grep -q 'could not bind\|Address already in use'; then
			say "PostgreSQL could not bind port $PGPORT (taken meanwhile); trying the next one"
			want=$((PGPORT + 1))
			continue
		fi
		die "PostgreSQL did not start; see $LOGS/postgres.log"
	done

	if [ "$(as_pg "$PGBIN/psql" -h "$PGSOCK" -p "$PGPORT" -U tfdrift -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = 'tfdrift'")" != 1 ]; then
		as_pg "$PGBIN/createdb" -h "$PGSOCK" -p "$PGPORT" -U tfdrift tfdrift ||
			die "could not create the tfdrift database"
	fi
}

start_redis() {
	mkdir -p "$RUN/redis"
	local want=${TFDRIFT_RUN_REDIS_PORT:-16379} attempt
	for attempt in 1 2 3 4 5; do
		pick_port REDIS_PORT "$want"
		start_redis_on && return 0
		# taken between the probe and the server's bind: the next port
		if [ "$attempt" -lt 5 ] &&
			tail -n 5 "$LOGS/redis.log" 2>/dev/null | grep -q ":$REDIS_PORT.*Address already in use"; then
			say "Redis could not bind port $REDIS_PORT (taken meanwhile); trying the next one"
			want=$((REDIS_PORT + 1))
			continue
		fi
		die "Redis does not answer on port $REDIS_PORT; see $LOGS/redis.log"
	done
}

# Starts redis-server on REDIS_PORT; fails when it does not answer PING.
start_redis_on() {
	local old
	old=$(read_pid "$RUN/redis/redis.pid")
	pid_is "$old" redis-server || rm -f "$RUN/redis/redis.pid"
	cat >"$RUN/redis/redis.conf" <<EOF
# written by scripts/run.sh
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
dir $RUN/redis
dbfilename dump.rdb
save 60 1
appendonly no
daemonize yes
pidfile $RUN/redis/redis.pid
logfile $LOGS/redis.log
EOF
	say "starting Redis on 127.0.0.1:$REDIS_PORT"
	redis-server "$RUN/redis/redis.conf" || return 1
	local i pid
	for i in $(seq 1 100); do
		[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return 0
		# a daemonized server that could not bind exits
		pid=$(read_pid "$RUN/redis/redis.pid")
		[ "$i" -gt 10 ] && ! pid_is "$pid" redis-server && return 1
		sleep 0.1
	done
	return 1
}

write_config() {
	pick_port P_INGEST_WORK 7101
	pick_port P_INGEST_SUBMIT 7102
	pick_port P_PERSIST_WORK 7201
	pick_port P_PERSIST_PUB 7202
	pick_port P_STATE_PUB 7301
	pick_port P_GATEWAY 8080
	local i=1 name port
	for name in ingest state-loader correlator persistence api-gateway notifier; do
		pick_port port $((9100 + i))
		ADMIN[$name]=$port
		i=$((i + 1))
	done
	local states="" s
	for s in "${EXAMPLE_STATES[@]}"; do
		states+="    - \"$s\""$'\n'
	done
	# The demo's API token: made once, kept in run/ (git-ignored); the config
	# holds only its SHA-256, as the gateway wants.
	if [ ! -s "$RUN/api-token" ]; then
		(umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$RUN/api-token")
	fi
	API_TOKEN=$(cat "$RUN/api-token")
	local token_hash
	token_hash=$(printf '%s' "$API_TOKEN" | sha256sum | cut -d' ' -f1)
	cat >"$CONFIG" <<EOF
# Written by scripts/run.sh for \`make run\`; rewritten on every run (edit the
# script, not this file).  Every key is described in docs/configuration.md.
shared:
  log_level: info
  data_dir: "$RUN/data"

postgres:
  dsn: "host=127.0.0.1 port=$PGPORT dbname=tfdrift user=tfdrift application_name=tfdrift"

redis:
  host: 127.0.0.1
  port: $REDIS_PORT

ingest:
  admin_port: ${ADMIN[ingest]}
  work_listen: "tcp://127.0.0.1:$P_INGEST_WORK"
  submit_listen: "tcp://127.0.0.1:$P_INGEST_SUBMIT"

state_loader:
  admin_port: ${ADMIN[state-loader]}
  state_pub_listen: "tcp://127.0.0.1:$P_STATE_PUB"
  local_files:
$states
correlator:
  admin_port: ${ADMIN[correlator]}
  ingest_url: "tcp://127.0.0.1:$P_INGEST_WORK"
  persistence_url: "tcp://127.0.0.1:$P_PERSIST_WORK"
  state_url: "tcp://127.0.0.1:$P_STATE_PUB"

persistence:
  admin_port: ${ADMIN[persistence]}
  work_listen: "tcp://127.0.0.1:$P_PERSIST_WORK"
  alerts_pub_listen: "tcp://127.0.0.1:$P_PERSIST_PUB"

api_gateway:
  admin_port: ${ADMIN[api-gateway]}
  port: $P_GATEWAY
  tokens:
    - "demo:admin:$token_hash"
  alerts_url: "tcp://127.0.0.1:$P_PERSIST_PUB"
  state_url: "tcp://127.0.0.1:$P_STATE_PUB"
  static_dir: "$WEB_DIR"

notifier:
  admin_port: ${ADMIN[notifier]}
  alerts_url: "tcp://127.0.0.1:$P_PERSIST_PUB"
EOF
}

save_stack_env() {
	{
		printf 'PGBIN=%q\nPGDATA=%q\nPGSOCK=%q\nPGPORT=%q\nREDIS_PORT=%q\nP_GATEWAY=%q\n' \
			"$PGBIN" "$PGDATA" "$PGSOCK" "$PGPORT" "$REDIS_PORT" "$P_GATEWAY"
		local name
		for name in "${SERVICES[@]}"; do
			printf 'ADMIN_%s=%q\n' "${name//-/_}" "${ADMIN[$name]}"
		done
	} >"$STACK_ENV"
}

start_services() {
	local name pid
	mkdir -p "$RUN/data" "$PIDS"
	for name in "${SERVICES[@]}"; do
		printf '\n' >>"$LOGS/$name.log"
		# Own session: Ctrl-C reaches only this script, which then sends each
		# process exactly one SIGTERM (a second signal would make it exit at once).
		# GLIBC_TUNABLES: no per-thread malloc caches, memory flat (procmem.h)
		env -u TFDRIFT_RUN_NO_FOLLOW -u TFDRIFT_RUN_DIR -u TFDRIFT_RUN_READY_TIMEOUT \
			GLIBC_TUNABLES="${GLIBC_TUNABLES-glibc.malloc.tcache_count=0}" setsid "$BIN/tfdrift-$name" --config "$CONFIG" >>"$LOGS/$name.log" 2>&1 </dev/null &
		pid=$!
		echo "$pid" >"$PIDS/$name.pid"
		say "started tfdrift-$name (pid $pid, admin port ${ADMIN[$name]})"
	done
}

# Waits for every process's /readyz; on a crash or a timeout shows why.
wait_ready() {
	local name pid port deadline body
	for name in "${SERVICES[@]}"; do
		pid=$(read_pid "$PIDS/$name.pid")
		port=${ADMIN[$name]}
		deadline=$((SECONDS + READY_TIMEOUT))
		while :; do
			if ! kill -0 "$pid" 2>/dev/null; then
				say "tfdrift-$name exited during start-up; the end of $LOGS/$name.log:"
				tail -n 20 "$LOGS/$name.log" >&2
				return 1
			fi
			if curl -fsS -m 2 "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
				break
			fi
			if [ "$SECONDS" -ge "$deadline" ]; then
				body=$(curl -sS -m 2 "http://127.0.0.1:$port/readyz" 2>&1 || true)
				say "tfdrift-$name is not ready after ${READY_TIMEOUT}s: $body"
				tail -n 20 "$LOGS/$name.log" >&2
				return 1
			fi
			sleep 0.2
		done
	done
	say "all six processes are ready"
}

# The correlator can only match events once the demo states are in Redis: wait
# for state-loader's first generation (`<prefix>gen`, docs/architecture.md).
wait_state() {
	local i gen
	for i in $(seq 1 150); do
		gen=$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" get "tfdrift:gen" 2>/dev/null || true)
		if [ -n "$gen" ]; then
			say "state generation $gen loaded: $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" hkeys tfdrift:workspaces 2>/dev/null | tr '\n' ' ')"
			return 0
		fi
		sleep 0.2
	done
	say "warning: no state generation in Redis after 30 s; drifts may show as unmanaged (see $LOGS/state-loader.log)"
}

replay_demo() {
	local out rc=0
	say "replaying $(basename "$EXAMPLE_EVENTS") into the running ingest"
	out=$(env -u TFDRIFT_RUN_NO_FOLLOW "$BIN/tfdrift-ingest" --config "$CONFIG" replay \
		"$EXAMPLE_EVENTS" 2>&1) || rc=$?
	printf '%s\n' "$out" >>"$LOGS/replay.log"
	if [ "$rc" -ne 0 ]; then
		say "replay failed (status $rc):"
		printf '%s\n' "$out" | tail -n 20 >&2
		return 1
	fi
	# the one-line human summary; the JSON log lines are in replay.log
	printf '%s\n' "$out" | grep -v '^{' | sed 's/^/  /' >&2 || true
}

banner() {
	local gw="http://127.0.0.1:$P_GATEWAY" ui
	if [ -n "$WEB_DIR" ]; then
		ui="Web UI:   $gw/   (sign in with the API token below)"
	else
		ui="Web UI:   not built (needs npm: install Node.js 20 + npm, then make run again)"
	fi
	cat <<EOF

  ┌──────────────────────────────────────────────────────────────────────────┐
    tfdrift-falco is running — demo states prod/network and prod/app loaded,
    demo CloudTrail events replayed.

    $ui
    Drifts:   $gw/api/v1/drifts

    API token (admin; kept in $RUN/api-token):
      export TFDRIFT_TOKEN=$(cat "$RUN/api-token" 2>/dev/null)

    Try:
      curl -s -H "Authorization: Bearer \$TFDRIFT_TOKEN" '$gw/api/v1/drifts' | jq .
      curl -s -H "Authorization: Bearer \$TFDRIFT_TOKEN" '$gw/api/v1/drifts?severity=high&limit=5' | jq .
      curl -s -H "Authorization: Bearer \$TFDRIFT_TOKEN" '$gw/api/v1/stats' | jq .
      curl -s -H "Authorization: Bearer \$TFDRIFT_TOKEN" '$gw/api/v1/health' | jq .
      curl -sN "$gw/api/v1/stream?access_token=\$TFDRIFT_TOKEN"      # live feed (SSE)
      curl -s '$gw/openapi.json' | jq .info                            # the contract
      curl -s http://127.0.0.1:${ADMIN[correlator]}/metrics | grep ^tfdrift_
      $BIN/tfdrift-ingest --config $CONFIG replay --print $EXAMPLE_EVENTS

    Admin (healthz, readyz, metrics): ingest :${ADMIN[ingest]}  state-loader :${ADMIN[state-loader]}
      correlator :${ADMIN[correlator]}  persistence :${ADMIN[persistence]}  api-gateway :${ADMIN[api-gateway]}  notifier :${ADMIN[notifier]}
    PostgreSQL: psql 'host=127.0.0.1 port=$PGPORT dbname=tfdrift user=tfdrift'
    Redis:      redis-cli -p $REDIS_PORT
    Config:     $CONFIG
    Logs:       $LOGS/<name>.log
  └──────────────────────────────────────────────────────────────────────────┘
EOF
}

# Prints every service log as it grows, each line prefixed with its service.
prefix_lines() {
	local current="" line
	while IFS= read -r line; do
		case $line in
		"==> "*" <==")
			current=${line#==> "$LOGS"/}
			current=${current%.log <==}
			;;
		"") ;;
		*) printf '%-13s| %s\n' "$current" "$line" ;;
		esac
	done
}

STOPPING=0
on_signal() {
	[ "$STOPPING" -eq 1 ] && return
	STOPPING=1
	trap '' INT TERM
	printf '\n' >&2
	say "stopping"
	[ -n "${TAIL_PID:-}" ] && kill "$TAIL_PID" 2>/dev/null
	stop_all
	say "stopped"
	exit 0
}

# A start-up that fails half-way leaves nothing running.
on_exit() {
	local status=$?
	if [ "$status" -ne 0 ] && [ "$STOPPING" -eq 0 ]; then
		STOPPING=1
		say "start-up failed; stopping"
		stop_all
	fi
}

cmd_start() {
	check_prerequisites
	mkdir -p "$RUN" "$LOGS" "$PIDS"
	# A stack left running by an earlier run (TFDRIFT_RUN_NO_FOLLOW=1, or a
	# terminal that was closed) is stopped first, so this run starts clean.
	if [ -f "$STACK_ENV" ] || ls "$PIDS"/*.pid >/dev/null 2>&1 || [ -f "$RUN/redis/redis.pid" ]; then
		say "stopping what an earlier run left behind"
		stop_all
	fi
	trap on_signal INT TERM
	trap on_exit EXIT

	start_postgres
	start_redis
	write_config
	save_stack_env
	start_services
	wait_ready || exit 1
	wait_state
	replay_demo || exit 1
	banner
	if [ "$NO_FOLLOW" = 1 ]; then
		trap - EXIT INT TERM
		say "TFDRIFT_RUN_NO_FOLLOW=1: leaving the stack running; 'scripts/run.sh stop' stops it"
		exit 0
	fi
	local files=() name
	for name in "${SERVICES[@]}"; do files+=("$LOGS/$name.log"); done
	say "following the logs; Ctrl-C stops everything"
	# $! is tail itself (not a pipeline's last stage), so the signal handler
	# can stop it; prefix_lines then ends on EOF.
	tail -n 3 -F "${files[@]}" 2>/dev/null > >(prefix_lines) &
	TAIL_PID=$!
	# wait returns early when a signal arrives; the trap then stops everything
	while :; do
		wait "$TAIL_PID" 2>/dev/null || true
		[ "$STOPPING" -eq 1 ] && break
		# the follower ended by itself (it should not): keep the stack until Ctrl-C
		sleep 1
	done
}

cmd_status() {
	load_stack_env
	local name pid
	for name in "${SERVICES[@]}"; do
		pid=$(read_pid "$PIDS/$name.pid")
		if pid_is "$pid" "tfdrift-$name"; then
			printf '%-14s running (pid %s)\n' "$name" "$pid"
		else
			printf '%-14s stopped\n' "$name"
		fi
	done
	pid=$(read_pid "$RUN/redis/redis.pid")
	if pid_is "$pid" redis-server; then printf '%-14s running (pid %s, port %s)\n' redis "$pid" "${REDIS_PORT:-?}"; else printf '%-14s stopped\n' redis; fi
	pid=""
	[ -n "${PGDATA:-}" ] && [ -f "$PGDATA/postmaster.pid" ] && pid=$(head -n 1 "$PGDATA/postmaster.pid" | tr -dc '0-9')
	if pid_is "$pid" postgres; then printf '%-14s running (pid %s, port %s)\n' postgres "$pid" "${PGPORT:-?}"; else printf '%-14s stopped\n' postgres; fi
}

case ${1:-start} in
start) cmd_start ;;
stop)
	mkdir -p "$RUN"
	stop_all
	say "stopped"
	;;
status) cmd_status ;;
-h | --help | help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" ;;
*) die "unknown command '$1' (start, stop, status)" ;;
esac
