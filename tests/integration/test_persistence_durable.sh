#!/usr/bin/env bash
# An alert persistence acknowledged survives a PostgreSQL crash even when the
# server runs with synchronous_commit=off (as this harness starts it): the
# writer sets synchronous_commit=on for its own transactions.  Alerts are
# sent until their Acks come back, then PostgreSQL is stopped with
# `pg_ctl stop -m immediate` (no checkpoint, WAL buffers thrown away) at once,
# restarted, and every acknowledged alert must be there.  Three rounds, so
# an asynchronous commit (the last ~200 ms of commits not yet written) is
# caught even on a machine where one round happens to get lucky.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/persistence.sh
source "$(dirname "$0")/../lib/persistence.sh"

start_persistence_only
check_eq "the server's default is synchronous_commit=off" "off" "$(sql 'SHOW synchronous_commit')"

total=0
for round in 1 2 3; do
	N=600
	line="$(alert_gen send --count $N --batch 20 --in-flight 2 --seed "$((40 + round))" 2>>"$TD_TMP/send.err")"
	rc=$?
	# the crash comes right after the last Ack, before the WAL writer's next round
	as_pg "$TD_PG_BIN/pg_ctl" -D "$TD_PG_DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
		bail "pg_ctl stop -m immediate failed"
	diag "round $round: $line"
	check_eq "round $round: all $N alerts acknowledged and stored (produced) before the crash" "0:$N" \
		"$rc:$(gen_field "$line" produced)" persistence
	pg_start || bail "cannot start PostgreSQL after the crash"
	total=$((total + N))
	check_eq "round $round: after crash recovery all $total acknowledged alerts are in PostgreSQL" "$total" \
		"$(sql "SELECT count(*) FROM alerts")" persistence
	wait_ready persistence 30 || bail "persistence does not write to PostgreSQL again"
done
finish
