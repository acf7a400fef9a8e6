# tests/lib/services.sh — sourced by tests/integration/test_*.sh.
#
# Starts real PostgreSQL, Redis and tfdrift processes in a private temporary
# directory on free loopback ports, and stops all of it when the script exits
# (also on failure or interrupt).  Results are printed TAP-like, one line per
# check: "ok - NAME" or "not ok - NAME: reason"; diagnostics start with "#".
#
#   source "$(dirname "$0")/../lib/services.sh"
#   start_postgres; start_redis; write_config
#   start_service persistence; wait_admin persistence
#   check "persistence is healthy" curl -fsS "$(admin_url persistence)/healthz"
#   finish
#
# Environment: BUILD (default build) selects the binaries ($BUILD/bin),
# KEEP=1 keeps the temporary directory, TD_VERBOSE=1 echoes service logs on
# failure in full.
#
# Functions: free_port / free_ports N; start_postgres, sql QUERY; start_redis,
# rcli ARGS; cfg_set SECTION KEY VALUE, write_config; start_service NAME,
# start_all, alive, wait_admin, wait_ready, wait_http, http_code, admin_url,
# metric; stop_service NAME [SECS] (TD_STATUS, TD_STOP_MS), kill_service;
# api_get PATH; gen_cloudtrail FILE N [SEED] [--gzip], event_ids FILE;
# ok, not_ok, check, check_eq, diag, show_log, bail, finish.  stop_all runs
# on exit.
#
# Variables set for the test: TD_ROOT, TD_BIN, TD_TMP, TD_CONFIG, TD_PG_PORT,
# TD_PG_DSN, TD_REDIS_PORT, TD_API_URL, and the associative arrays TD_PORT
# (section.key -> port), TD_URL (section.key -> NNG url), TD_PID (service ->
# pid), TD_LOG (service -> log file), TD_STATUS (service -> exit status once
# stopped).

set -uo pipefail

TD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$TD_ROOT" || exit 1
BUILD="${BUILD:-build}"
case "$BUILD" in /*) ;; *) BUILD="$TD_ROOT/$BUILD" ;; esac
TD_BIN="$BUILD/bin"
export BUILD

# Every service this harness knows, and the config section each reads.
TD_SERVICES=(ingest state-loader correlator persistence api-gateway notifier)
declare -A TD_SECTION=(
	[ingest]=ingest [state-loader]=state_loader [correlator]=correlator
	[persistence]=persistence [api-gateway]=api_gateway [notifier]=notifier
)

declare -A TD_PORT=() TD_URL=() TD_PID=() TD_LOG=() TD_STATUS=() TD_CFG_EXTRA=() TD_ADMIN_AT=()
TD_PASS=0
TD_FAIL=0
TD_PG_PORT=""
TD_PG_DSN=""
TD_PG_DATA=""
TD_PG_BIN=""
TD_REDIS_PORT=""
TD_REDIS_PID=""
TD_CONFIG=""
TD_API_URL=""
TD_STOPPED=0

TD_TMP="$(mktemp -d "${TMPDIR:-/tmp}/tfdrift-it.XXXXXX")" || { echo "not ok - mktemp"; exit 1; }
# PostgreSQL runs as the postgres user when we are root: it must be able to
# reach its directories below this one.
chmod 755 "$TD_TMP"
mkdir -p "$TD_TMP/logs" "$TD_TMP/data"
: >"$TD_TMP/ports.used"
# everything started below is stopped when the script ends, however it ends
# (stop_all is defined further down; traps run it by name)
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

diag() { printf '# %s\n' "$*"; }

# ---- results -----------------------------------------------------------------

ok() {
	TD_PASS=$((TD_PASS + 1))
	printf 'ok - %s\n' "$1"
}

# not_ok NAME REASON [SERVICE...] — prints the tail of the named services' logs
# (all services that ran, if none is named).
not_ok() {
	local name="$1" reason="${2:-}"
	shift 2 2>/dev/null || shift $#
	TD_FAIL=$((TD_FAIL + 1))
	printf 'not ok - %s: %s\n' "$name" "$reason"
	local svcs=("$@")
	if [ "${#svcs[@]}" -eq 0 ]; then
		svcs=("${!TD_LOG[@]}")
	fi
	local s
	for s in "${svcs[@]}"; do
		show_log "$s"
	done
}

# show_log SERVICE [LINES] — the tail of a service's log as diagnostics.
show_log() {
	local s="$1" n="${2:-25}" f="${TD_LOG[$1]:-}"
	[ -n "$f" ] && [ -f "$f" ] || return 0
	if [ "${TD_VERBOSE:-0}" = 1 ]; then n=100000; fi
	diag "---- last $n lines of $s log ($f) ----"
	tail -n "$n" "$f" | sed 's/^/#   /'
}

# check NAME CMD... — runs CMD (output captured); ok if it exits 0.
check() {
	local name="$1" out rc
	shift
	out="$("$@" 2>&1)"
	rc=$?
	if [ $rc -eq 0 ]; then
		ok "$name"
	else
		not_ok "$name" "\`$*\` exited $rc"
		printf '%s\n' "$out" | tail -n 20 | sed 's/^/#   /'
	fi
	return $rc
}

# check_eq NAME EXPECTED ACTUAL [SERVICE...]
check_eq() {
	local name="$1" want="$2" got="$3"
	shift 3
	if [ "$want" = "$got" ]; then
		ok "$name"
		return 0
	fi
	not_ok "$name" "expected '$want', got '$got'" "$@"
	return 1
}

# finish — ends the script: exit 1 if any check failed.
finish() {
	diag "$TD_PASS passed, $TD_FAIL failed"
	if [ "$TD_FAIL" -gt 0 ]; then exit 1; fi
	exit 0
}

# bail REASON — a setup step failed; later checks make no sense.
bail() {
	not_ok "setup" "$1"
	exit 1
}

need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || bail "missing command: $c (run: make deps)"
	done
}

# ---- ports -----------------------------------------------------------------

# free_ports N — prints N distinct loopback TCP ports that are free right now.
# Ports are drawn below the kernel's ephemeral range, so an outgoing
# connection's source port cannot take one before a service binds it, and each
# is proved free by binding it (all held until all are chosen).  Ports handed
# out earlier in this script are never repeated.
free_ports() {
	python3 - "$1" "$TD_TMP/ports.used" <<'EOF'
import random, socket, sys
n = int(sys.argv[1])
with open(sys.argv[2]) as f:
    used = set(int(p) for p in f.read().split())
try:
    lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except OSError:
    lo = 32768
top = max(lo, 12000)
held, out = [], []
tries = 0
while len(out) < n and tries < 10000:
    tries += 1
    p = random.randrange(10000, top)
    if p in used:
        continue
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        s.close()
        continue
    used.add(p)
    held.append(s)
    out.append(p)
while len(out) < n:  # fall back to whatever the kernel picks
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    held.append(s)
    out.append(s.getsockname()[1])
# remembered in a file: callers run this in $(...) subshells
with open(sys.argv[2], "a") as f:
    f.write(" ".join(str(p) for p in out) + "\n")
print(" ".join(str(p) for p in out))
EOF
}

free_port() { free_ports 1; }

# ---- PostgreSQL --------------------------------------------------------------

# Runs a PostgreSQL server command as the postgres user when we are root
# (PostgreSQL refuses to run as root).
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# start_postgres — initdb + pg_ctl start on a free port; creates database
# tfdrift owned by role tfdrift (trust auth).  Sets TD_PG_PORT, TD_PG_DSN and
# PGHOST/PGPORT/PGUSER/PGDATABASE for psql.
start_postgres() {
	TD_PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
	[ -n "$TD_PG_BIN" ] && [ -x "$TD_PG_BIN/initdb" ] || bail "no PostgreSQL server in /usr/lib/postgresql (run: make deps)"
	TD_PG_PORT="$(free_port)" || bail "no free port for PostgreSQL"
	local dir="$TD_TMP/pg"
	TD_PG_DATA="$dir/data"
	mkdir -p "$dir/sock"
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || bail "running as root but there is no postgres user"
		chown -R postgres: "$dir"
		runuser -u postgres -- test -w "$dir" ||
			bail "the postgres user cannot reach $dir (set TMPDIR to a directory it can traverse)"
	fi
	TD_LOG[postgres]="$dir/postgres.log"
	if ! as_pg "$TD_PG_BIN/initdb" -D "$TD_PG_DATA" --auth=trust -U tfdrift -E UTF8 \
		--no-locale --no-sync >"$dir/initdb.log" 2>&1; then
		sed 's/^/#   /' "$dir/initdb.log" | tail -n 20
		bail "initdb failed"
	fi
	# speed over durability: this cluster lives for one test
	if ! as_pg "$TD_PG_BIN/pg_ctl" -D "$TD_PG_DATA" -l "$dir/postgres.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $TD_PG_PORT -k $dir/sock -c fsync=off \
-c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
		start >"$dir/pg_ctl.log" 2>&1; then
		sed 's/^/#   /' "$dir/pg_ctl.log" "$dir/postgres.log" | tail -n 30
		bail "pg_ctl start failed"
	fi
	export PGHOST=127.0.0.1 PGPORT="$TD_PG_PORT" PGUSER=tfdrift PGDATABASE=tfdrift
	export PGCONNECT_TIMEOUT=5
	psql -X -q -d postgres -c 'CREATE DATABASE tfdrift' >/dev/null 2>"$dir/createdb.log" ||
		bail "CREATE DATABASE failed: $(cat "$dir/createdb.log")"
	TD_PG_DSN="host=127.0.0.1 port=$TD_PG_PORT user=tfdrift dbname=tfdrift connect_timeout=5"
	diag "postgres $("$TD_PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$TD_PG_PORT"
}

stop_postgres() {
	[ -n "$TD_PG_DATA" ] && [ -f "$TD_PG_DATA/postmaster.pid" ] || return 0
	as_pg "$TD_PG_BIN/pg_ctl" -D "$TD_PG_DATA" -m fast -w -t 20 stop >/dev/null 2>&1 ||
		as_pg "$TD_PG_BIN/pg_ctl" -D "$TD_PG_DATA" -m immediate -w -t 10 stop >/dev/null 2>&1
}

# sql QUERY — one value (or rows, unaligned) from the test database.
sql() {
	psql -X -qAt -v ON_ERROR_STOP=1 -c "$1"
}

# ---- Redis -------------------------------------------------------------------

start_redis() {
	TD_REDIS_PORT="$(free_port)" || bail "no free port for Redis"
	mkdir -p "$TD_TMP/redis"
	TD_LOG[redis]="$TD_TMP/redis/redis.log"
	redis-server --bind 127.0.0.1 --port "$TD_REDIS_PORT" --save '' --appendonly no \
		--dir "$TD_TMP/redis" --daemonize no --protected-mode yes \
		--logfile "$TD_TMP/redis/redis.log" >/dev/null 2>&1 &
	TD_REDIS_PID=$!
	local i
	for i in $(seq 1 100); do
		if redis-cli -h 127.0.0.1 -p "$TD_REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
			diag "redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') on 127.0.0.1:$TD_REDIS_PORT"
			return 0
		fi
		kill -0 "$TD_REDIS_PID" 2>/dev/null || break
		sleep 0.1
	done
	show_log redis
	bail "redis-server did not start"
}

stop_redis() {
	[ -n "$TD_REDIS_PID" ] || return 0
	kill -TERM "$TD_REDIS_PID" 2>/dev/null
	local _
	for _ in $(seq 1 50); do
		kill -0 "$TD_REDIS_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$TD_REDIS_PID" 2>/dev/null
	wait "$TD_REDIS_PID" 2>/dev/null
	TD_REDIS_PID=""
}

rcli() { redis-cli -h 127.0.0.1 -p "$TD_REDIS_PORT" "$@"; }

# The resource index as readers see it (docs/redis-keys.md); PREFIX defaults
# to tfdrift:.
# idx_claim FIELD [PREFIX] — the claim that answers for FIELD in P idx (the
#   first line of its value) as "workspace<TAB>address<TAB>type"; "" when none
# idx_claim_gen FIELD [PREFIX] — that claim's generation
# idx_claims FIELD [PREFIX] — how many workspaces claim FIELD
# ws_gen WORKSPACE [PREFIX] — the workspace's current generation (P wsgen)
_idx_first() {
	local v
	v="$(rcli HGET "${2:-tfdrift:}idx" "$1")" || return 1
	printf '%s\n' "${v%%$'\n'*}"
}
idx_claim() { _idx_first "$@" | cut -f1-3; }
idx_claim_gen() { _idx_first "$@" | cut -f4; }
idx_claims() {
	local v
	v="$(rcli HGET "${2:-tfdrift:}idx" "$1")" || return 1
	[ -z "$v" ] && { echo 0; return 0; }
	printf '%s\n' "$v" | wc -l | tr -d ' '
}
ws_gen() { rcli HGET "${2:-tfdrift:}wsgen" "$1"; }
# hset_packed KEY FIELD JSON — HSET of JSON packed as the state-loader stores
#   attributes (a zlib stream, tfdrift/attrs_codec.h), for readers' tests
hset_packed() {
	printf '%s' "$3" | python3 -c 'import sys, zlib; sys.stdout.buffer.write(zlib.compress(sys.stdin.buffer.read()))' |
		rcli -x HSET "$1" "$2" >/dev/null
}
# attrs_json — a stored attributes value (stdin, as rcli prints it) as JSON
#   text: unpacked when it is a zlib stream
attrs_json() {
	python3 -c 'import sys, zlib
b = sys.stdin.buffer.read()
b = b[:-1] if b.endswith(b"\n") and not b.startswith(b"{") else b
sys.stdout.buffer.write(b if b.startswith(b"{") else zlib.decompress(b))'
}

# ---- configuration -----------------------------------------------------------

# cfg_set SECTION KEY VALUE — adds or replaces a line in the next write_config
# (VALUE is written as is: quote strings that YAML would misread).
cfg_set() {
	TD_CFG_EXTRA["$1.$2"]="$3"
}

# write_config [FILE] — the config every service of this test reads.  Every
# listening port is a free one; the dial URLs point at the listeners.  Keys a
# service adds later that end in "port" or "_listen" (with a non-zero default)
# get a free port too, so parallel runs and system services never clash.
write_config() {
	local file="${1:-$TD_TMP/config.yaml}"
	local -a p
	read -r -a p <<<"$(free_ports 12)" || bail "no free ports"
	TD_PORT[ingest.admin_port]=${p[0]}
	TD_PORT[state_loader.admin_port]=${p[1]}
	TD_PORT[correlator.admin_port]=${p[2]}
	TD_PORT[persistence.admin_port]=${p[3]}
	TD_PORT[api_gateway.admin_port]=${p[4]}
	TD_PORT[notifier.admin_port]=${p[5]}
	TD_PORT[api_gateway.port]=${p[6]}
	TD_URL[ingest.work_listen]="tcp://127.0.0.1:${p[7]}"
	TD_URL[ingest.submit_listen]="tcp://127.0.0.1:${p[8]}"
	TD_URL[state_loader.state_pub_listen]="tcp://127.0.0.1:${p[9]}"
	TD_URL[persistence.work_listen]="tcp://127.0.0.1:${p[10]}"
	TD_URL[persistence.alerts_pub_listen]="tcp://127.0.0.1:${p[11]}"
	TD_API_URL="http://127.0.0.1:${TD_PORT[api_gateway.port]}"

	declare -A v=()
	v[shared.log_level]=info
	v[shared.data_dir]="\"$TD_TMP/data\""
	v[shared.shutdown_timeout]=4s
	v[postgres.dsn]="\"$TD_PG_DSN\""
	v[redis.host]=127.0.0.1
	v[redis.port]="${TD_REDIS_PORT:-6379}"
	v[redis.key_prefix]="\"tfdrift:\""
	# a lost reply is resent soon, so a test never waits the production 30 s
	v[bus.resend_interval]=5s
	# tests write rows with SQL behind the gateway's back: no response cache
	# unless a test asks for one (test_gateway_cache)
	v[api_gateway.cache_ttl]=0
	local k
	for k in "${!TD_PORT[@]}"; do v[$k]=${TD_PORT[$k]}; done
	for k in "${!TD_URL[@]}"; do v[$k]="\"${TD_URL[$k]}\""; done
	v[correlator.ingest_url]="\"${TD_URL[ingest.work_listen]}\""
	v[correlator.persistence_url]="\"${TD_URL[persistence.work_listen]}\""
	v[correlator.state_url]="\"${TD_URL[state_loader.state_pub_listen]}\""
	v[api_gateway.alerts_url]="\"${TD_URL[persistence.alerts_pub_listen]}\""
	v[api_gateway.state_url]="\"${TD_URL[state_loader.state_pub_listen]}\""
	v[notifier.alerts_url]="\"${TD_URL[persistence.alerts_pub_listen]}\""

	# listeners added to the directive table after this file was written
	local sec key def port
	while read -r sec key def; do
		[ -n "${v[$sec.$key]:-}" ] && continue
		case "$sec" in postgres | redis | shared | bus) continue ;; esac
		port="$(free_port)"
		case "$def" in
		tcp://*) v[$sec.$key]="\"tcp://127.0.0.1:$port\"" ;;
		*) v[$sec.$key]=$port ;;
		esac
		TD_PORT[$sec.$key]=$port
	done < <(td_listener_directives)

	for k in "${!TD_CFG_EXTRA[@]}"; do v[$k]="${TD_CFG_EXTRA[$k]}"; done

	local sections s
	sections="$(printf '%s\n' "${!v[@]}" | cut -d. -f1 | sort -u)"
	: >"$file"
	for s in $sections; do
		echo "$s:" >>"$file"
		for k in $(printf '%s\n' "${!v[@]}" | grep "^$s\." | sort); do
			printf '  %s: %s\n' "${k#*.}" "${v[$k]}" >>"$file"
		done
	done
	TD_CONFIG="$file"
}

# Prints "section key default" for rows of the directive table that look like
# a listening port (INT "port"/"*_port" with a non-zero default) or a listening
# NNG address ("*_listen" with a tcp:// default).
td_listener_directives() {
	sed -n 's/^[[:space:]]*{ *"\([a-z_]*\)", *"\([a-z_0-9]*\)", *TD_CFG_\([A-Z]*\), *"\([^"]*\)".*/\1 \2 \3 \4/p' \
		"$TD_ROOT/libcommon/src/config_directives.c" |
		while read -r sec key type def; do
			case "$key:$type:$def" in
			*_listen:STRING:tcp://*) echo "$sec $key $def" ;;
			port:INT:* | *_port:INT:*) [ "$def" != 0 ] && echo "$sec $key $def" ;;
			esac
		done
}

# admin_url SERVICE_OR_INSTANCE — http://127.0.0.1:<its admin port>
admin_url() {
	if [ -n "${TD_ADMIN_AT[$1]:-}" ]; then
		echo "http://127.0.0.1:${TD_ADMIN_AT[$1]}"
	else
		echo "http://127.0.0.1:${TD_PORT[${TD_SECTION[$1]}.admin_port]}"
	fi
}

# ---- services ------------------------------------------------------------------

# start_service NAME [ARGS...] — runs $TD_BIN/tfdrift-NAME --config $TD_CONFIG
# ARGS in the background; output to $TD_TMP/logs/NAME.log.  For a second
# instance of the same binary: TD_INSTANCE=key names it (e.g. correlator-2),
# TD_ENV="TFDRIFT_X=1 TFDRIFT_Y=2" gives it environment overrides (words
# without spaces) and TD_ADMIN_PORT=port tells admin_url where its admin server is.
start_service() {
	local name="$1"
	shift
	local key="${TD_INSTANCE:-$name}"
	local bin="$TD_BIN/tfdrift-$name"
	[ -x "$bin" ] || bail "no binary $bin (run: make BUILD=$BUILD all)"
	TD_LOG[$key]="$TD_TMP/logs/$key.log"
	# env execs the binary, so $! is the service's own pid
	# as the deployments run them: no per-thread malloc caches (procmem.h)
	env GLIBC_TUNABLES="${GLIBC_TUNABLES-glibc.malloc.tcache_count=0}" ${TD_ENV:+$TD_ENV} "$bin" --config "$TD_CONFIG" "$@" >>"${TD_LOG[$key]}" 2>&1 &
	TD_PID[$key]=$!
	unset 'TD_STATUS[$key]'
	if [ -n "${TD_ADMIN_PORT:-}" ]; then TD_ADMIN_AT[$key]=$TD_ADMIN_PORT; fi
}

start_all() {
	local s
	for s in "${TD_SERVICES[@]}"; do start_service "$s"; done
}

# start_up [SERVICE...]: starts the services (all of TD_SERVICES without
# arguments), then waits until each one's admin port answers (bails naming
# the first that does not within 30 s).
start_up() {
	local s
	[ $# -gt 0 ] || set -- "${TD_SERVICES[@]}"
	for s in "$@"; do start_service "$s"; done
	for s in "$@"; do
		wait_admin "$s" 30 || bail "$s did not come up"
	done
}

alive() { [ -n "${TD_PID[$1]:-}" ] && kill -0 "${TD_PID[$1]}" 2>/dev/null; }

# http_code URL — the HTTP status (000 when nothing answers).
http_code() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$1" 2>/dev/null || true
}

# wait_http URL [SECONDS] [CODE] — polls until URL answers CODE (200).
wait_http() {
	local url="$1" secs="${2:-20}" want="${3:-200}" code deadline
	deadline=$(($(date +%s%N) + secs * 1000000000))
	while [ "$(date +%s%N)" -lt "$deadline" ]; do
		code="$(http_code "$url")"
		[ "$code" = "$want" ] && return 0
		sleep 0.1
	done
	diag "wait_http: $url answered ${code:-nothing}, wanted $want, after ${secs}s"
	return 1
}

# wait_admin SERVICE [SECONDS] — until /healthz answers 200; fails early if
# the process died.
wait_admin() {
	local s="$1" secs="${2:-20}" deadline
	deadline=$(($(date +%s%N) + secs * 1000000000))
	while [ "$(date +%s%N)" -lt "$deadline" ]; do
		[ "$(http_code "$(admin_url "$s")/healthz")" = 200 ] && return 0
		if ! alive "$s"; then
			wait "${TD_PID[$s]}" 2>/dev/null
			TD_STATUS[$s]=$?
			diag "$s exited with status ${TD_STATUS[$s]} before /healthz answered"
			return 1
		fi
		sleep 0.1
	done
	diag "$s: /healthz did not answer 200 within ${secs}s"
	return 1
}

# wait_ready SERVICE [SECONDS] — until /readyz answers 200.  Persistence is
# ready while it spools (database down, schema not migrated yet); for it this
# also waits until its postgres check has no note, i.e. it writes to PostgreSQL.
wait_ready() {
	local secs="${2:-30}" deadline
	deadline=$(($(date +%s%N) + secs * 1000000000))
	wait_http "$(admin_url "$1")/readyz" "$secs" 200 || return 1
	case "$1" in persistence | persistence-*) ;; *) return 0 ;; esac
	while [ "$(date +%s%N)" -lt "$deadline" ]; do
		[ "$(curl -s --max-time 3 "$(admin_url "$1")/readyz" | jq -c '.checks.postgres.note')" = null ] &&
			return 0
		sleep 0.1
	done
	diag "wait_ready: $1 is ready but not writing to PostgreSQL after ${secs}s"
	return 1
}

# metric SERVICE NAME_WITH_LABELS — the value of one sample of /metrics
# (matched literally at the start of the line), or nothing.
metric() {
	curl -s --max-time 3 "$(admin_url "$1")/metrics" |
		awk -v m="$2" 'index($0, m) == 1 && substr($0, length(m) + 1, 1) == " " { print $2; exit }'
}

# reap_service NAME DEADLINE_NS — waits (without signalling) until NAME exits
# or the deadline passes; then SIGKILL.  Sets TD_STATUS[NAME]; returns 0 only
# if it exited by itself in time.
reap_service() {
	local s="$1" deadline="$2" pid="${TD_PID[$1]:-}" rc=0
	[ -n "$pid" ] || return 0
	while kill -0 "$pid" 2>/dev/null && [ "$(date +%s%N)" -lt "$deadline" ]; do
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		diag "$s (pid $pid) still running after SIGTERM; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null
		rc=1
	fi
	wait "$pid" 2>/dev/null
	TD_STATUS[$s]=$?
	unset 'TD_PID[$s]'
	return $rc
}

# api_get PATH — GET from the api-gateway (body to stdout; fails on HTTP >= 400).
# TD_API_TOKEN, when set, is sent as a bearer token.
api_get() {
	local auth=()
	[ -n "${TD_API_TOKEN:-}" ] && auth=(-H "Authorization: Bearer $TD_API_TOKEN")
	curl -sS --fail-with-body --max-time 30 "${auth[@]}" "$TD_API_URL$1"
}

# gen_cloudtrail FILE COUNT [SEED] [--gzip] — a CloudTrail log file of COUNT
# write events from tools/tfdrift-gen-cloudtrail.c.
gen_cloudtrail() {
	local file="$1" count="$2" seed="${3:-1}"
	shift 2
	[ $# -gt 0 ] && shift
	"$TD_BIN/tfdrift-gen-cloudtrail" --count "$count" --seed "$seed" "$@" --out "$file"
}

# event_ids FILE — the eventIDs of a (gzipped) CloudTrail file, sorted.
event_ids() {
	case "$1" in
	*.gz) zcat "$1" ;;
	*) cat "$1" ;;
	esac | jq -r '.Records[].eventID' | sort
}

# stop_service NAME [SECONDS] — one SIGTERM (a second one means "exit now"),
# wait up to SECONDS (10), then SIGKILL.  Sets TD_STATUS[NAME] and TD_STOP_MS
# (how long it took); returns 0 only if it exited by itself within the bound.
stop_service() {
	local s="$1" secs="${2:-10}" pid="${TD_PID[$1]:-}" t0 rc
	TD_STOP_MS=0
	[ -n "$pid" ] || return 0
	t0=$(date +%s%N)
	kill -TERM "$pid" 2>/dev/null
	reap_service "$s" $((t0 + secs * 1000000000))
	rc=$?
	TD_STOP_MS=$((($(date +%s%N) - t0) / 1000000))
	return $rc
}

# kill_service NAME — SIGKILL at once (crash tests).
kill_service() {
	local pid="${TD_PID[$1]:-}"
	[ -n "$pid" ] || return 0
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	TD_STATUS[$1]=$?
	unset 'TD_PID[$1]'
}

# stop_all — the EXIT trap: every service, then Redis and PostgreSQL, then the
# temporary directory (kept with KEEP=1).  Keeps the script's exit status.
stop_all() {
	local rc=$?
	[ "$TD_STOPPED" = 1 ] && return 0
	TD_STOPPED=1
	trap - INT TERM
	local s deadline
	# SIGTERM to all at once, so the 10 s bound is shared, not summed
	for s in "${!TD_PID[@]}"; do kill -TERM "${TD_PID[$s]}" 2>/dev/null; done
	deadline=$(($(date +%s%N) + 10000000000))
	for s in "${!TD_PID[@]}"; do
		if ! reap_service "$s" "$deadline"; then
			echo "# stop_all: $s did not stop within 10 s of SIGTERM (killed)"
			show_log "$s" 10
			[ $rc -eq 0 ] && rc=1
		fi
	done
	# anything else this script left in the background (e.g. a bus poke)
	local j
	for j in $(jobs -p); do
		[ "$j" = "$TD_REDIS_PID" ] || kill -KILL "$j" 2>/dev/null
	done
	stop_redis
	stop_postgres
	# A sanitizer build reports to the service's stderr (its log); a report
	# fails the script even when every check passed.
	local f
	for f in "$TD_TMP"/logs/*.log; do
		[ -f "$f" ] || continue
		if grep -q -E 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$f"; then
			printf 'not ok - sanitizer report in %s\n' "$(basename "$f" .log)"
			grep -m 20 -A 12 -E 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$f" | sed 's/^/#   /'
			rc=1
		fi
	done
	if [ "${KEEP:-0}" = 1 ]; then
		echo "# kept $TD_TMP"
	else
		rm -rf "$TD_TMP"
	fi
	exit $rc
}

need curl jq python3 psql redis-server redis-cli
