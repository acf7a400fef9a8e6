#!/usr/bin/env bash
# The pipeline end to end: a 1,000-record CloudTrail file replayed through
# ingest -> correlator -> persistence lands in PostgreSQL as exactly the alerts
# `tfdrift-correlator explain` (the same decision code, offline, no state
# loaded: the creations are unmanaged) says it raises and comes back through the api-gateway, with the six processes
# running as separate OS processes; replaying it again stores nothing twice.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"

N=1000

start_postgres
start_redis
# the gateway wants an API token (api_gateway.tokens: name:role:sha256hex)
TD_API_TOKEN="pipeline-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cfg_set api_gateway tokens "[\"pipeline:viewer:$(printf '%s' "$TD_API_TOKEN" | sha256sum | cut -d' ' -f1)\"]"
write_config
start_up
for s in persistence ingest correlator api-gateway; do
	wait_ready "$s" 30 || diag "$s is not ready after 30 s: $(curl -s "$(admin_url "$s")/readyz")"
done

FILE="$TD_TMP/cloudtrail-$N.json.gz"
check "generate $N CloudTrail records (gzip)" gen_cloudtrail "$FILE" "$N" 42 --gzip
event_ids "$FILE" >"$TD_TMP/file.ids"
check_eq "the file holds $N distinct eventIDs" "$N" "$(sort -u "$TD_TMP/file.ids" | wc -l)"
"$TD_BIN/tfdrift-correlator" explain "$FILE" 2>/dev/null >"$TD_TMP/explain.jsonl"
jq -r 'select(.decision == "alerts") | .event_id' "$TD_TMP/explain.jsonl" | sort >"$TD_TMP/want.ids"
NA="$(jq -r '.alerts[]?.alert_key' "$TD_TMP/explain.jsonl" | sort -u | wc -l)"
NE="$(wc -l <"$TD_TMP/want.ids")"
check "explain expects some alerts (unmanaged creations)" test "$NE" -gt 0
diag "explain: $NA alerts from $NE of $N events"

# ---- replay ----
replay() {
	local log="$TD_TMP/logs/replay-$1.log" t0 rc
	TD_LOG[replay-$1]="$log"
	t0=$(date +%s%N)
	timeout 120 "$TD_BIN/tfdrift-ingest" --config "$TD_CONFIG" replay "$FILE" >"$log" 2>&1
	rc=$?
	diag "replay $1: exit $rc after $((($(date +%s%N) - t0) / 1000000)) ms"
	return $rc
}

if replay 1; then
	ok "tfdrift-ingest replay of $N records exits 0"
else
	not_ok "tfdrift-ingest replay of $N records exits 0" "exit status $?" replay-1 ingest correlator persistence
fi

# A hop replies only after its output is acknowledged downstream, so every
# alert is committed by the time replay returns.
counts="$(sql 'SELECT count(*), count(DISTINCT event_id) FROM alerts' 2>&1)"
check_eq "all $NA alerts are in PostgreSQL when replay returns (rows|distinct event_id)" \
	"$NA|$NE" "$counts" persistence correlator
if [ "$counts" != "$NA|$NE" ]; then
	for _ in $(seq 1 100); do
		counts="$(sql 'SELECT count(*), count(DISTINCT event_id) FROM alerts' 2>&1)"
		[ "$counts" = "$NA|$NE" ] && break
		sleep 0.2
	done
	diag "20 s later: $counts"
fi
sql 'SELECT DISTINCT event_id FROM alerts ORDER BY 1' 2>&1 | sort >"$TD_TMP/db.ids"
if cmp -s "$TD_TMP/want.ids" "$TD_TMP/db.ids"; then
	ok "PostgreSQL holds exactly the eventIDs explain expects"
else
	not_ok "PostgreSQL holds exactly the eventIDs explain expects" \
		"$(comm -23 "$TD_TMP/want.ids" "$TD_TMP/db.ids" | wc -l) missing, $(comm -13 "$TD_TMP/want.ids" "$TD_TMP/db.ids" | wc -l) unexpected" persistence
fi

# ---- the gateway ----
wait_http "$TD_API_URL/api/v1/drifts?limit=1" 15 200 >/dev/null ||
	diag "GET /api/v1/drifts?limit=1 answers $(http_code "$TD_API_URL/api/v1/drifts?limit=1")"

# Pages of 500 following next_cursor.  The page's list and cursor are looked
# for under the names the API may use (items/drifts/data, next_cursor).
: >"$TD_TMP/api.items"
cursor=""
pages=0
max_page=0
api_err=""
while [ $pages -lt 10 ]; do
	path="/api/v1/drifts?limit=500"
	[ -n "$cursor" ] && path+="&cursor=$(jq -rn --arg c "$cursor" '$c|@uri')"
	if ! body="$(api_get "$path" 2>&1)"; then
		api_err="GET $path: $(head -c 300 <<<"$body")"
		break
	fi
	pages=$((pages + 1))
	if ! page="$(jq -c '(.items // .drifts // .data // empty)[]' <<<"$body" 2>/dev/null)"; then
		api_err="GET $path: not JSON with an items list: $(head -c 300 <<<"$body")"
		break
	fi
	if [ -n "$page" ]; then
		printf '%s\n' "$page" >>"$TD_TMP/api.items"
		n=$(wc -l <<<"$page")
		[ "$n" -gt "$max_page" ] && max_page=$n
	fi
	cursor="$(jq -r '(.next_cursor // .page.next_cursor // .pagination.next_cursor // empty)' <<<"$body")"
	[ -z "$cursor" ] && break
done
if [ -n "$api_err" ]; then
	not_ok "GET /api/v1/drifts pages through all alerts" "$api_err" api-gateway
else
	n_items="$(wc -l <"$TD_TMP/api.items")"
	jq -r '.event_id' "$TD_TMP/api.items" | sort -u >"$TD_TMP/api.ids"
	check_eq "GET /api/v1/drifts?limit=500 + next_cursor returns $NA items in $pages pages" \
		"$NA" "$n_items" api-gateway
	check_eq "... with $NE distinct event_ids" "$NE" "$(wc -l <"$TD_TMP/api.ids")" api-gateway
	if cmp -s "$TD_TMP/want.ids" "$TD_TMP/api.ids"; then
		ok "... exactly the file's eventIDs"
	else
		not_ok "... exactly the file's eventIDs" "they differ" api-gateway
	fi
	check_eq "no page holds more than limit=500 items" "yes" \
		"$([ "$max_page" -le 500 ] && echo yes || echo "a page of $max_page")" api-gateway
fi

# one drift in full
first="$(head -n 1 "$TD_TMP/api.items")"
id="$(jq -r '.id // empty' <<<"$first" 2>/dev/null)"
eid="$(jq -r '.event_id // empty' <<<"$first" 2>/dev/null)"
if [ -z "$id" ]; then
	not_ok "GET /api/v1/drifts/{id} returns the raw event" "no item with an id to ask for" api-gateway
elif ! body="$(api_get "/api/v1/drifts/$id" 2>&1)"; then
	not_ok "GET /api/v1/drifts/{id} returns the raw event" "GET /api/v1/drifts/$id: $(head -c 300 <<<"$body")" api-gateway
else
	got="$(jq -r '(.drift // .data // .) | (.raw_event // .raw_event_json)
		| if type == "string" then fromjson else . end | .eventID // empty' <<<"$body" 2>/dev/null)"
	check_eq "GET /api/v1/drifts/$id returns raw_event with eventID $eid" "$eid" "$got" api-gateway
fi

# ---- six separate OS processes ----
declare -A seen_pid=()
procs_ok=1
for s in "${TD_SERVICES[@]}"; do
	pid="${TD_PID[$s]:-}"
	exe="$(readlink "/proc/$pid/exe" 2>/dev/null)"
	if ! alive "$s"; then
		procs_ok=0
		diag "$s is not running"
	elif [ -n "${seen_pid[$pid]:-}" ]; then
		procs_ok=0
		diag "$s shares pid $pid with ${seen_pid[$pid]}"
	elif [ "$(basename "$exe")" != "tfdrift-$s" ]; then
		procs_ok=0
		diag "pid $pid of $s runs $exe"
	else
		seen_pid[$pid]=$s
		diag "$s: pid $pid ($exe)"
	fi
done
if [ $procs_ok = 1 ] && [ "${#seen_pid[@]}" = 6 ]; then
	ok "the six services ran as six separate live OS processes"
else
	not_ok "the six services ran as six separate live OS processes" "see above"
fi

# ---- idempotent ----
if replay 2; then
	ok "replaying the same file again exits 0"
else
	not_ok "replaying the same file again exits 0" "exit status $?" replay-2 ingest correlator persistence
fi
check_eq "after the second replay: still $NA rows, $NE distinct event_ids" \
	"$NA|$NE" "$(sql 'SELECT count(*), count(DISTINCT event_id) FROM alerts' 2>&1)" persistence correlator

finish
