# tests/lib/ingest.sh — helpers for ingest's integration tests; source after
# services.sh.
#
#   falco_alerts CLOUDTRAIL_FILE OUT   one Falco JSON alert per line (source
#                                      aws_cloudtrail), made from each record
#                                      the way Falco's CloudTrail plugin
#                                      fills output_fields (ct.request is JSON
#                                      text inside the JSON, absent values null)
#   falco_url                          http://127.0.0.1:<ingest.http_port>
#   post_alert BODY_FILE [CURL_ARGS]   POSTs to /api/v1/falco/events; prints
#                                      "<code> <body>"
#   post_stream ALERTS ACCEPTED SECS   POSTs every line of ALERTS over one
#                                      keep-alive connection (reconnecting and
#                                      resending on errors or 503, for at most
#                                      SECS seconds); appends the eventID of
#                                      every alert answered 202 to ACCEPTED.
#   expected_ids CT_FILE...            eventIDs the correlator raises alerts for
#   db_missing WANT_IDS [SECS]         how many of them PostgreSQL still lacks
#   start_pipeline                     PostgreSQL, Redis and every service (with
#                                      the cfg_set done before it); waits until
#                                      each answers and ingest, correlator and
#                                      persistence are ready, and the Falco
#                                      HTTP receiver answers

start_pipeline() {
	local s
	start_postgres
	start_redis
	write_config
	start_up
	for s in persistence ingest correlator; do
		wait_ready "$s" 30 || diag "$s is not ready after 30 s"
	done
	wait_http "$(falco_url)/" 10 405 >/dev/null || bail "the falco http receiver does not answer"
}

falco_alerts() {
	python3 - "$1" "$2" <<'EOF'
import gzip, json, sys
src, out = sys.argv[1], sys.argv[2]
op = gzip.open if src.endswith(".gz") else open
with op(src, "rt") as f:
    recs = json.load(f)["Records"]
with open(out, "w") as o:
    for r in recs:
        ui = r.get("userIdentity") or {}
        t = ui.get("type")
        user = ui.get("userName")
        if t == "AssumedRole":
            user = ((ui.get("sessionContext") or {}).get("sessionIssuer") or {}).get("userName")
        fields = {
            "ct.id": r["eventID"], "ct.time": r["eventTime"], "ct.src": r["eventSource"],
            "ct.name": r["eventName"], "ct.region": r.get("awsRegion"),
            "ct.user": user, "ct.user.identitytype": t, "ct.user.arn": ui.get("arn"),
            "ct.user.accountid": ui.get("accountId") or r.get("recipientAccountId"),
            "ct.user.principalid": ui.get("principalId"),
            "ct.request": json.dumps(r.get("requestParameters")) if r.get("requestParameters") is not None else None,
            "ct.response": json.dumps(r.get("responseElements")) if r.get("responseElements") is not None else None,
            "ct.srcip": r.get("sourceIPAddress"), "ct.useragent": r.get("userAgent"),
            "ct.error": r.get("errorCode"), "ct.readonly": "true" if r.get("readOnly") else "false",
            "ct.requestid": r.get("requestID"), "ct.eventtype": r.get("eventType"),
            "evt.time": 1700000000000000000,
        }
        alert = {"time": r["eventTime"].replace("Z", ".000000000Z") if "." not in r["eventTime"] else r["eventTime"],
                 "rule": "Terraform Managed Resource Modified", "priority": "Warning",
                 "source": "aws_cloudtrail", "hostname": "falco-0",
                 "tags": ["drift", "iac", "terraform"],
                 "output": "Warning Potential Terraform drift detected (event=%s)" % r["eventName"],
                 "output_fields": fields}
        o.write(json.dumps(alert) + "\n")
EOF
}

falco_url() {
	echo "http://127.0.0.1:${TD_PORT[ingest.http_port]}"
}

post_alert() {
	local file="$1"
	shift
	curl -s -o "$TD_TMP/post.out" -w '%{http_code}' --max-time 10 -X POST \
		-H 'Content-Type: application/json' --data-binary "@$file" "$@" \
		"$(falco_url)/api/v1/falco/events" 2>/dev/null
	printf ' %s\n' "$(cat "$TD_TMP/post.out" 2>/dev/null)"
}

post_stream() {
	python3 - "$1" "$2" "$3" "${TD_PORT[ingest.http_port]}" <<'EOF'
import http.client, json, sys, time
alerts, accepted, secs, port = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
deadline = time.time() + secs
conn = None
sent = errors = busy = 0
with open(alerts) as f, open(accepted, "a", buffering=1) as acc:
    for line in f:
        eid = json.loads(line)["output_fields"]["ct.id"]
        while time.time() < deadline:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("POST", "/api/v1/falco/events", body=line.encode(),
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                if r.status == 202:
                    acc.write(eid + "\n")
                    sent += 1
                    break
                busy += 1
                time.sleep(0.05)
            except (OSError, http.client.HTTPException):
                errors += 1
                conn = None
                time.sleep(0.05)
        else:
            break
print("accepted=%d errors=%d busy=%d" % (sent, errors, busy))
EOF
}

# expected_ids CLOUDTRAIL_FILE... — the eventIDs `tfdrift-correlator explain`
# (the correlator's own decision code, offline, no state loaded) says raise
# alerts, sorted: the ones that must end up in PostgreSQL.
expected_ids() {
	local f
	for f in "$@"; do
		"$TD_BIN/tfdrift-correlator" explain "$f" 2>/dev/null
	done | jq -r 'select(.decision == "alerts") | .event_id' | sort -u
}

# db_missing WANT_IDS_FILE [SECS] — waits (up to SECS, 30) until every eventID
# in the file has an alert row; prints how many are still missing.
db_missing() {
	local want="$1" secs="${2:-30}" missing=-1 deadline
	deadline=$(($(date +%s) + secs))
	while :; do
		sql 'SELECT DISTINCT event_id FROM alerts' 2>/dev/null | sort >"$TD_TMP/db.ids"
		missing="$(comm -23 "$want" "$TD_TMP/db.ids" | wc -l)"
		[ "$missing" = 0 ] && break
		[ "$(date +%s)" -ge "$deadline" ] && break
		sleep 0.3
	done
	echo "$missing"
}
