#!/usr/bin/env bash
# bench/bench_scale.sh — the scaling curve of the whole pipeline (run by
# bench/run.sh; prints, asserts nothing).
#
# For each topology — 1, 2 and 3 correlators; 1 vs 2 ingests; 1 vs 2
# persistences; plaintext vs TLS on every bus socket (tls+tcp://, mutual
# certificates from a CA made here) — real processes are started on one
# PostgreSQL and Redis, BENCH_SCALE_EVENTS (default 20000) fresh CloudTrail
# events are replayed (split across the ingests, one `replay` per ingest,
# each returning after every COMMIT) and the wall time gives events/s end to
# end.  Each process's CPU time (utime + stime from /proc) over the run gives
# CPU µs per event by kind, PostgreSQL's backends and Redis included; the
# kind that burns the most CPU, and whether the cores are saturated, name
# the bottleneck (the `replay` clients, which read, decompress and normalise
# the files, are counted as the load's own cost).  BENCH_SCALE_IN_FLIGHT (default 32) batches of 50 are in
# flight per replay.  TLS cost per event = the TLS run's CPU minus the plaintext
# run's, same topology, over the events.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N=${BENCH_SCALE_EVENTS:-20000}
# shellcheck source=../tests/lib/services.sh
source tests/lib/services.sh
need openssl

PKI="$TD_TMP/pki"
mkdir -p "$PKI"
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=bench-ca" \
	-days 2 -keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=bus" \
		-keyout "$PKI/bus.key" -out "$PKI/bus.csr" 2>/dev/null &&
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >"$PKI/bus.ext" &&
	openssl x509 -req -in "$PKI/bus.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
		-days 2 -extfile "$PKI/bus.ext" -out "$PKI/bus.crt" 2>/dev/null || bail "openssl failed"

STATE="$TD_TMP/prod.tfstate"
cp tests/fixtures/states/prod.tfstate "$STATE"
start_postgres >/dev/null
start_redis >/dev/null
cfg_set bus tls_ca "\"$PKI/ca.crt\""
cfg_set bus tls_cert "\"$PKI/bus.crt\""
cfg_set bus tls_key "\"$PKI/bus.key\""
cfg_set state_loader local_files "[\"prod/app=$STATE\"]"
cfg_set shared log_level warn
# The load must not be the limit: 32 batches of 50 in flight per replay
# (the default 4 keeps at most 4 correlator workers busy whatever the topology).
cfg_set ingest replay_in_flight "${BENCH_SCALE_IN_FLIGHT:-32}"
write_config
PG_MASTER="$(head -n 1 "$TD_PG_DATA/postmaster.pid")"

# ticks PID... — utime + stime of the processes, in clock ticks
ticks() {
	local p s=0 t
	for p in "$@"; do
		t="$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null)"
		s=$((s + ${t:-0}))
	done
	echo "$s"
}
# children_ticks FILE — CPU of the shell's waited-for children, in ticks, from
# the output of `times` saved in FILE (run in this shell, not in $(...))
children_ticks() {
	sed -n 2p "$1" | awk -v hz="$HZ" '{ n = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); n += a[1] * 60 + a[2] } printf "%d\n", n * hz }'
}
pg_pids() { echo "$PG_MASTER $(pgrep -P "$PG_MASTER" | tr '\n' ' ')"; }
HZ="$(getconf CLK_TCK)"
RUN=0
declare -A CPU_TOTAL=() EPS=() TOPK=() BUSY=()

# run NI NC NP SCHEME — one topology; prints one line of figures.
run() {
	local ni=$1 nc=$2 np=$3 scheme=$4 i s
	RUN=$((RUN + 1))
	local -a ports names=()
	read -r -a ports <<<"$(free_ports $((ni * 4 + nc + np * 3 + 2)))"
	local k=0 iw=() isub=() pw=() pp=()
	local dir="$TD_TMP/run$RUN"
	mkdir -p "$dir"
	for i in $(seq 1 "$ni"); do
		iw+=("$scheme://127.0.0.1:${ports[k + 1]}")
		isub+=("$scheme://127.0.0.1:${ports[k + 2]}")
		TD_INSTANCE=ingest-$i TD_ADMIN_PORT=${ports[k]} TD_ENV="TFDRIFT_INGEST_ADMIN_PORT=${ports[k]} TFDRIFT_INGEST_WORK_LISTEN=${iw[i - 1]} TFDRIFT_INGEST_SUBMIT_LISTEN=${isub[i - 1]} TFDRIFT_INGEST_HTTP_PORT=${ports[k + 3]} TFDRIFT_SHARED_DATA_DIR=$dir/ingest-$i" \
			start_service ingest
		names+=("ingest-$i")
		k=$((k + 4))
	done
	for i in $(seq 1 "$np"); do
		pw+=("$scheme://127.0.0.1:${ports[k + 1]}")
		pp+=("$scheme://127.0.0.1:${ports[k + 2]}")
		TD_INSTANCE=persistence-$i TD_ADMIN_PORT=${ports[k]} TD_ENV="TFDRIFT_PERSISTENCE_ADMIN_PORT=${ports[k]} TFDRIFT_PERSISTENCE_WORK_LISTEN=${pw[i - 1]} TFDRIFT_PERSISTENCE_ALERTS_PUB_LISTEN=${pp[i - 1]} TFDRIFT_SHARED_DATA_DIR=$dir/persistence-$i" \
			start_service persistence
		names+=("persistence-$i")
		k=$((k + 3))
	done
	local sp="$scheme://127.0.0.1:${ports[k + 1]}"
	TD_INSTANCE=state-loader TD_ADMIN_PORT=${ports[k]} TD_ENV="TFDRIFT_STATE_LOADER_ADMIN_PORT=${ports[k]} TFDRIFT_STATE_LOADER_STATE_PUB_LISTEN=$sp" \
		start_service state-loader
	names+=(state-loader)
	k=$((k + 2))
	local il pl
	il="$(
		IFS=,
		echo "${iw[*]}"
	)"
	pl="$(
		IFS=,
		echo "${pw[*]}"
	)"
	for i in $(seq 1 "$nc"); do
		TD_INSTANCE=correlator-$i TD_ADMIN_PORT=${ports[k]} TD_ENV="TFDRIFT_CORRELATOR_ADMIN_PORT=${ports[k]} TFDRIFT_CORRELATOR_INGEST_URL=$il TFDRIFT_CORRELATOR_PERSISTENCE_URL=$pl TFDRIFT_CORRELATOR_STATE_URL=$sp" \
			start_service correlator
		names+=("correlator-$i")
		k=$((k + 1))
	done
	for s in "${names[@]}"; do wait_ready "$s" 60 >/dev/null || bail "$s is not ready"; done
	# every correlator connected to every ingest before the clock starts
	for s in "${names[@]}"; do
		case "$s" in correlator-*) ;; *) continue ;; esac
		for _ in $(seq 1 100); do
			[ "$(metric "$s" 'tfdrift_bus_peers{socket="correlator.work"}')" = "$ni" ] && break
			sleep 0.1
		done
	done

	local f rows0 t0 ms rows pids=() before=() cpu
	for i in $(seq 1 "$ni"); do
		"$TD_BIN/tfdrift-gen-cloudtrail" --count $((N / ni)) --seed $((RUN * 10 + i)) --gzip \
			--out "$dir/events-$i.json.gz"
	done
	rows0="$(sql 'SELECT count(*) FROM alerts')"
	for s in "${names[@]}"; do before+=("$(ticks "${TD_PID[$s]}")"); done
	local pg0 redis0
	pg0="$(ticks $(pg_pids))"
	redis0="$(ticks "$TD_REDIS_PID")"
	# the replay clients' CPU: the shell's reaped children (times, 2nd line)
	times >"$dir/times.0"
	t0=$(date +%s%N)
	for i in $(seq 1 "$ni"); do
		TFDRIFT_INGEST_SUBMIT_LISTEN="${isub[i - 1]}" "$TD_BIN/tfdrift-ingest" --config "$TD_CONFIG" \
			replay "$dir/events-$i.json.gz" >"$dir/replay-$i.log" 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || echo "replay failed: $(tail -n 2 "$dir"/replay-*.log)"; done
	ms=$((($(date +%s%N) - t0) / 1000000))
	times >"$dir/times.1"
	local creplay=$(($(children_ticks "$dir/times.1") - $(children_ticks "$dir/times.0")))
	rows=$(($(sql 'SELECT count(*) FROM alerts') - rows0))

	# CPU by kind over the run
	declare -A by=()
	for i in "${!names[@]}"; do
		s="${names[$i]}"
		cpu=$(($(ticks "${TD_PID[$s]}") - before[i]))
		by[${s%-*}]=$((${by[${s%-*}]:-0} + cpu))
	done
	by[postgres]=$(($(ticks $(pg_pids)) - pg0))
	by[redis]=$(($(ticks "$TD_REDIS_PID") - redis0))
	by[replay]=$creplay
	local total=0 top="" topv=0 kinds="" tk="" tp=0
	for s in replay ingest correlator persistence state-loader postgres redis; do
		cpu=${by[$s]:-0}
		total=$((total + cpu))
		[ "$cpu" -gt "$topv" ] && top=$s topv=$cpu
		[ "$s" != replay ] && [ "$cpu" -gt "${tp:-0}" ] && tk=$s tp=$cpu
		kinds+=" $s=$((cpu * 1000000 / HZ / N))"
	done
	CPU_TOTAL["$ni.$nc.$np.$scheme"]=$total
	EPS["$ni.$nc.$np.$scheme"]=$((N * 1000 / (ms > 0 ? ms : 1)))
	TOPK["$ni.$nc.$np.$scheme"]=$tk
	local busy=$((total * 100000 / HZ / (ms > 0 ? ms : 1)))
	# what the pipeline's CPU per event allows on this machine's cores, idle
	local us=$((total * 1000000 / HZ / N))
	local ceiling=$(($(nproc) * 1000000 / (us > 0 ? us : 1)))
	printf 'scale: %d ingest(s) %d correlator(s) %d persistence(s) %-7s %6d events/s (%d events, %d alerts, %d ms); CPU us/event:%s; total %d; cores busy %d.%02d of %d (CPU ceiling %d events/s); most CPU: %s (%d%%)\n' \
		"$ni" "$nc" "$np" "$scheme" $((N * 1000 / (ms > 0 ? ms : 1))) "$N" "$rows" "$ms" "$kinds" "$us" \
		$((busy / 100)) $((busy % 100)) "$(nproc)" "$ceiling" "$top" $((topv * 100 / (total > 0 ? total : 1)))
	for s in "${names[@]}"; do stop_service "$s" 10 >/dev/null; done
}

echo "scale: load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (other work shares them)"
run 1 1 1 tcp
run 1 2 1 tcp
run 1 3 1 tcp
run 2 3 1 tcp
run 2 3 2 tcp
run 1 1 1 tls+tcp
run 2 3 2 tls+tcp
for t in 1.1.1 2.3.2; do
	p=${CPU_TOTAL[$t.tcp]:-0} q=${CPU_TOTAL[$t.tls+tcp]:-0}
	echo "scale: TLS cost, topology $t (ingests.correlators.persistences): $(((q - p) * 1000000 / HZ / N)) CPU us/event over plaintext (all processes)"
done
a=${EPS[1.1.1.tcp]:-0} b=${EPS[1.3.1.tcp]:-0} c=${EPS[2.3.2.tcp]:-0}
echo "scale: 3 correlators vs 1: x$((b * 100 / (a > 0 ? a : 1) / 100)).$(printf '%02d' $((b * 100 / (a > 0 ? a : 1) % 100))); all doubled (2/3/2) vs 1/1/1: x$((c * 100 / (a > 0 ? a : 1) / 100)).$(printf '%02d' $((c * 100 / (a > 0 ? a : 1) % 100)))"
echo "scale: bottleneck: CPU when the cores are busy (compare 'cores busy' with the load average: other work shares them); the pipeline's largest cost is the ${TOPK[2.3.2.tcp]:-?}, and CPU per event does not fall with replicas, so on $(nproc) cores replicas add fault tolerance, not throughput"
finish >/dev/null
