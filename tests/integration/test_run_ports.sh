#!/usr/bin/env bash
# `make run` (scripts/run.sh) picks ports a connection cannot hold: the
# preferred PostgreSQL and Redis ports are each held by a client connection's
# source port (bound, connected, not listening: `ss -l` does not see it, which
# is how `make run` right after `make test` failed with "PostgreSQL did not
# start"); run.sh proves each port bindable, moves to the next one, says so,
# and the whole stack starts, replays the demo and stops cleanly.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
need python3 ss curl jq

read -r PG_WANT REDIS_WANT <<<"$(free_ports 2)" || bail "no free ports"
# hold both ports as the source ports of two established connections
python3 - "$PG_WANT" "$REDIS_WANT" "$TD_TMP/holder.ready" <<'PY' &
import os, signal, socket, sys, time
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(4)
held = []
for p in sys.argv[1:3]:
    c = socket.socket()
    c.bind(("127.0.0.1", int(p)))
    c.connect(srv.getsockname())
    held.append((c, srv.accept()[0]))
open(sys.argv[3], "w").close()
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
while True:
    time.sleep(1)
PY
HOLDER=$!
deadline=$((SECONDS + 10))
while [ ! -e "$TD_TMP/holder.ready" ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
[ -e "$TD_TMP/holder.ready" ] || bail "could not hold the ports"
check_eq "the held ports have no listener (a listener-only check misses them)" "" \
	"$(ss -Htln "( sport = :$PG_WANT or sport = :$REDIS_WANT )")"

RUN="$TD_TMP/run"
stop_run() {
	TFDRIFT_RUN_DIR="$RUN" BUILD="$BUILD" bash "$TD_ROOT/scripts/run.sh" stop >>"$TD_TMP/run.out" 2>&1
	kill "$HOLDER" 2>/dev/null
	wait "$HOLDER" 2>/dev/null
}
trap 'stop_run; stop_all' EXIT
TFDRIFT_RUN_DIR="$RUN" TFDRIFT_RUN_NO_FOLLOW=1 TFDRIFT_RUN_PG_PORT="$PG_WANT" \
	TFDRIFT_RUN_REDIS_PORT="$REDIS_WANT" BUILD="$BUILD" \
	timeout 110 bash "$TD_ROOT/scripts/run.sh" >"$TD_TMP/run.out" 2>&1
rc=$?
if [ "$rc" -eq 0 ]; then
	ok "make run starts the stack with its preferred ports held by connections"
else
	not_ok "make run starts the stack with its preferred ports held by connections" "exit $rc"
	sed 's/^/#   /' "$TD_TMP/run.out" | tail -n 30
fi
check "... it says PostgreSQL's port is in use" grep -q "port $PG_WANT is in use by another program; using " "$TD_TMP/run.out"
check "... and Redis's" grep -q "port $REDIS_WANT is in use by another program; using " "$TD_TMP/run.out"
pg_port="$(sed -n 's/.*dsn: "host=127.0.0.1 port=\([0-9]*\) .*/\1/p' "$RUN/config.yaml")"
redis_port="$(awk '/^redis:/ { r = 1 } r && /port:/ { print $2; exit }' "$RUN/config.yaml")"
check_eq "run/config.yaml has other ports for both" "yes" \
	"$([ -n "$pg_port" ] && [ "$pg_port" != "$PG_WANT" ] && [ -n "$redis_port" ] && [ "$redis_port" != "$REDIS_WANT" ] && echo yes || echo "pg=$pg_port redis=$redis_port")"
check "... PostgreSQL answers there" pg_isready -h 127.0.0.1 -p "$pg_port" -q
check_eq "... Redis answers there" "PONG" "$(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>&1)"
gw="$(awk '/^api_gateway:/ { r = 1 } r && /^  port:/ { print $2; exit }' "$RUN/config.yaml")"
check_eq "the demo drifts are served" "yes" \
	"$(curl -s -H "Authorization: Bearer $(cat "$RUN/api-token")" "http://127.0.0.1:$gw/api/v1/drifts" | jq -e '.items | length > 0' >/dev/null && echo yes || echo no)"
TFDRIFT_RUN_DIR="$RUN" BUILD="$BUILD" bash "$TD_ROOT/scripts/run.sh" stop >>"$TD_TMP/run.out" 2>&1
check_eq "scripts/run.sh stop stops everything" "no" \
	"$(pg_isready -h 127.0.0.1 -p "$pg_port" -q && echo yes || echo no)"
finish
