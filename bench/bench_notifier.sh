#!/usr/bin/env bash
# bench/bench_notifier.sh — the notifier's figures (run by bench/run.sh;
# prints, asserts nothing).
#
# 1,000 alerts are committed in a burst (tools/tfdrift-alert-gen -> real
# persistence -> PostgreSQL) while tfdrift-notifier (64 delivery threads, the default)
# delivers them to the Standard Webhooks peer (tests/peers/notifier_peers.js,
# which verifies every signature) answering each request after 50 ms:
#   - deliveries/s: 1,000 / (last delivery - first commit)
#   - commit -> delivered p50/p99: notifications.sent_at - alerts.committed_at
#   - notifier CPU per delivery (user + system, /proc/PID/stat)
# Then the same with grouping on (group_by workspace + resource address,
# group_wait 1s, 50 resources): messages sent for the 1,000 alerts.
#
# BENCH_NOTIFIER_ALERTS (default 1000) sets the burst.  Targets (issue 13):
# >= 500 deliveries/s to a 50 ms endpoint, p99 commit -> delivered < 2 s
# without grouping.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N=${BENCH_NOTIFIER_ALERTS:-1000}
# shellcheck source=../tests/lib/services.sh
source tests/lib/services.sh
# shellcheck source=../tests/lib/persistence.sh
source tests/lib/persistence.sh
# shellcheck source=../tests/lib/notifier.sh
source tests/lib/notifier.sh

nt_peer_args --hook-delay 50
nt_setup >/dev/null
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# run NAME SEED GROUPING(0/1)
run() {
	local name="$1" seed="$2" grouped="$3" route
	if [ "$grouped" = 1 ]; then
		route="route: {receivers: [hook], group_by: [workspace, resource_address], group_wait: 1s, group_interval: 1m}"
	else
		route="route: {receivers: [hook]}"
	fi
	nt_routing "receivers:
  - {name: hook, type: webhook, url: 'http://127.0.0.1:$NT_HOOK/bench', secret_env: NT_SECRET}
$route"
	TD_ENV="TFDRIFT_NOTIFIER_WORKERS=64 TFDRIFT_NOTIFIER_POLL_INTERVAL=1s TFDRIFT_NOTIFIER_RETRY_MAX=5s" \
		start_up notifier >/dev/null
	wait_ready notifier 30 >/dev/null || { echo "notifier: not ready"; return; }
	local msgs0 c0 t0 first last
	msgs0="$(nt_state '.hook.processed')"
	c0="$(cpu_ticks "${TD_PID[notifier]}")"
	first="$(nt_sql "SELECT coalesce(max(id), 0) FROM alerts")"
	t0=$(date +%s)
	alert_gen send --count "$N" --first 0 --batch 50 --in-flight 8 --seed "$seed" >/dev/null 2>&1 ||
		echo "notifier: alert-gen failed"
	while [ "$(nt_sql "SELECT count(*) FROM notifications WHERE alert_id > $first AND state = 'sent'")" -lt "$N" ]; do
		if [ $(($(date +%s) - t0)) -gt 120 ]; then
			echo "notifier: WARNING: only $(nt_sql "SELECT count(*) FROM notifications WHERE alert_id > $first AND state = 'sent'") of $N delivered after 120 s"
			break
		fi
		sleep 0.2
	done
	local c1 msgs rate lat
	c1="$(cpu_ticks "${TD_PID[notifier]}")"
	msgs=$(($(nt_state '.hook.processed') - msgs0))
	rate=$(nt_sql "SELECT round(count(*) / greatest(extract(epoch FROM max(n.sent_at) - min(a.committed_at)), 0.001))
		FROM notifications n JOIN alerts a ON a.id = n.alert_id WHERE a.id > $first")
	lat=$(nt_sql "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM n.sent_at - a.committed_at)) * 1000)::int || ' ' ||
		round(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM n.sent_at - a.committed_at)) * 1000)::int
		FROM notifications n JOIN alerts a ON a.id = n.alert_id WHERE a.id > $first")
	echo "notifier ($name): $N alerts -> $msgs webhook messages (50 ms peer): ${rate} deliveries/s," \
		"commit -> delivered p50 ${lat% *} ms, p99 ${lat#* } ms," \
		"CPU $(awk -v t=$((c1 - c0)) -v hz="$hz" -v n="$N" 'BEGIN { printf "%.2f", t * 1000 / hz / n }') ms per alert;" \
		"repeats at the peer: $(nt_state '.hook.duplicates'), bad signatures: $(nt_state '.hook.bad_signature')"
	stop_service notifier >/dev/null
}
run "no grouping" 501 0
run "grouping, 50 resources, group_wait 1s" 502 1
echo "notifier: load average $(cut -d" " -f1-3 /proc/loadavg) on $(nproc) cores"
finish >/dev/null
