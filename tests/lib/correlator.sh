# tests/lib/correlator.sh — helpers for the correlator's integration tests;
# source after services.sh.
#
#   demo_event OUT   sends a new copy of the demo's ModifyInstanceAttribute
#                    (examples/events/demo-cloudtrail.json's second record,
#                    a new eventID each time) to the correlator dialing
#                    tcp://127.0.0.1:$PI, the way ingest sends a batch: waits
#                    for the correlator to connect, then for its reply (at
#                    most $POKE_TIMEOUT ms each, default 10000; a correlator
#                    redials with a backoff of up to 5 s);
#                    tfdrift-bus-poke's output goes to OUT ("sent: N bytes"
#                    once the batch went to a connected correlator) and its
#                    status is returned (3: no peer or no reply).  Sets EV to the eventID sent; the
#                    batch stays in $TD_TMP/ev-$n_ev.json for a resend.

DEMO_EVENTS=examples/events/demo-cloudtrail.json
n_ev=0

demo_event() {
	n_ev=$((n_ev + 1))
	EV="$(printf 'f99e6ae5-c3c7-4558-bad3-%012d' "$n_ev")"
	jq --arg id "$EV" '{Records: [.Records[1] | .eventID = $id]}' "$DEMO_EVENTS" >"$TD_TMP/ev-$n_ev.json"
	"$TD_BIN/tfdrift-bus-poke" req "tcp://127.0.0.1:$PI" --listen --cloudtrail "$TD_TMP/ev-$n_ev.json" \
		--timeout "${POKE_TIMEOUT:-10000}" --go "$DEMO_EVENTS" >"$1" 2>&1
}
