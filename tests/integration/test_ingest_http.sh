#!/usr/bin/env bash
# The Falco HTTP receiver with real Falco-shaped payloads posted by curl:
# accepted alerts reach PostgreSQL with their Falco rule; nulls, numbers,
# booleans and double-encoded ct.request are taken; missing fields are
# accepted and counted; wrong types, garbage and huge bodies are refused with
# the field named; other sources are dropped; a bearer token is enforced; a
# full journal answers 503 and nothing accepted is lost once a correlator is back.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/ingest.sh
source "$(dirname "$0")/../lib/ingest.sh"

FIX="$TD_ROOT/tests/fixtures/falco"

start_pipeline

# code_of "<code> <body>" -> code ; field_of -> .field of the body
code_of() { cut -d' ' -f1 <<<"$1"; }
body_of() { cut -d' ' -f2- <<<"$1"; }

expect() { # NAME CODE FILE [FIELD]
	local name="$1" want="$2" file="$3" field="${4:-}" got
	got="$(post_alert "$file")"
	if [ "$(code_of "$got")" != "$want" ]; then
		not_ok "$name" "expected HTTP $want, got: $got" ingest
		return 1
	fi
	if [ -n "$field" ] && [ "$(body_of "$got" | jq -r '.field // empty')" != "$field" ]; then
		not_ok "$name" "expected the error to name $field, got: $(body_of "$got")" ingest
		return 1
	fi
	ok "$name"
}

: >"$TD_TMP/accepted.ids"
accept() { # NAME FILE — 202 and remember the event id
	local got
	got="$(post_alert "$2")"
	if [ "$(code_of "$got")" = 202 ]; then
		ok "$1 (202)"
		body_of "$got" | jq -r .event_id >>"$TD_TMP/accepted.ids"
	else
		not_ok "$1" "expected 202, got: $got" ingest
	fi
}

# ---- real alerts made from CloudTrail records ----
gen_cloudtrail "$TD_TMP/ct.json" 60 7 || bail "gen_cloudtrail failed"
falco_alerts "$TD_TMP/ct.json" "$TD_TMP/alerts.jsonl" || bail "falco_alerts failed"
i=0
while read -r line; do
	i=$((i + 1))
	printf '%s' "$line" >"$TD_TMP/a$i.json"
done <"$TD_TMP/alerts.jsonl"
for n in $(seq 1 60); do
	got="$(post_alert "$TD_TMP/a$n.json")"
	[ "$(code_of "$got")" = 202 ] || { not_ok "alert $n accepted" "$got" ingest; continue; }
	body_of "$got" | jq -r .event_id >>"$TD_TMP/accepted.ids"
done
check_eq "60 alerts made from CloudTrail records are answered 202" 60 "$(wc -l <"$TD_TMP/accepted.ids")"
check_eq "... each with its ct.id as event_id" "$(jq -r '.Records[].eventID' "$TD_TMP/ct.json" | sort)" \
	"$(sort "$TD_TMP/accepted.ids")"

# ---- fixtures: Falco-shaped payloads ----
accept "nulls, numbers and booleans in output_fields" "$FIX/nulls_numbers.json"
accept "double-encoded ct.request and ct.response" "$FIX/double_encoded.json"
accept "Falcosidekick-style payload (uuid, no hostname)" "$FIX/sidekick.json"
got="$(post_alert "$FIX/missing_fields.json")"
if [ "$(code_of "$got")" = 202 ] && body_of "$got" | jq -e '.missing_fields | index("ct.region") and index("ct.request")' >/dev/null; then
	ok "an alert lacking ct.region and ct.request is accepted and says what is missing"
	body_of "$got" | jq -r .event_id >>"$TD_TMP/accepted.ids"
else
	not_ok "an alert lacking ct.region and ct.request is accepted and says what is missing" "$got" ingest
fi
check "the missing field is counted by name" \
	test "$(metric ingest 'tfdrift_ingest_falco_missing_fields_total{field="ct.region"}')" -ge 1
check "the log names the rule whose output lacks fields" \
	grep -q '"rule":"Custom Rule Without Region"' "${TD_LOG[ingest]}"

expect "ct.name is an object: 400 naming output_fields.ct.name" 400 "$FIX/wrong_type_name.json" output_fields.ct.name
expect "rule is a number: 400 naming rule" 400 "$FIX/wrong_type_rule.json" rule
expect "output_fields is a string: 400 naming output_fields" 400 "$FIX/wrong_type_fields.json" output_fields
expect "ct.request is not JSON text: 400 naming output_fields.ct.request" 400 "$FIX/bad_request_json.json" output_fields.ct.request
expect "ct.readonly is \"maybe\": 400 naming output_fields.ct.readonly" 400 "$FIX/bad_readonly.json" output_fields.ct.readonly
expect "no source: 400 naming source" 400 "$FIX/no_source.json" source
# text PostgreSQL would refuse is refused at the door, naming the field (it
# would otherwise end up only in alerts_dead_letter, invisible in the API)
bad_text() { # OUT FIELD BYTES — a1.json with BYTES (python bytes literal) spliced into FIELD's value
	python3 - "$TD_TMP/a1.json" "$1" "$2" "$3" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
field, raw = sys.argv[3], eval(sys.argv[4])
marker = "@@BAD@@"
if field in ("rule", "hostname"):
    a[field] = a.get(field, "x") + marker
else:
    a["output_fields"][field] = (a["output_fields"].get(field) or "x") + marker
text = json.dumps(a).encode()
open(sys.argv[2], "wb").write(text.replace(marker.encode(), raw))
PY
}
n_bad=0
for spec in "ct.id|b'\\xff\\xfe'" "ct.user.arn|b'\\xc3\\x28'" "ct.region|b'\\xed\\xa0\\x80'" \
	"rule|b'\\xf8\\x88\\x80\\x80\\x80'" "ct.user.arn|b'\\\\u0000'" "ct.id|b'\\x00'" "ct.user|b'\\\\udc80'"; do
	n_bad=$((n_bad + 1))
	field="${spec%%|*}"
	bad_text "$TD_TMP/bad$n_bad.json" "$field" "${spec#*|}"
	expect "invalid text (${spec#*|}) in $field: 400 naming $field" 400 "$TD_TMP/bad$n_bad.json" \
		"$([ "$field" = rule ] && echo rule || echo "output_fields.$field")"
done
python3 - "$TD_TMP/a1.json" "$TD_TMP/badreq.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
a["output_fields"]["ct.request"] = '{"bucketName":"@@BAD@@"}'
open(sys.argv[2], "wb").write(json.dumps(a).encode().replace(b"@@BAD@@", b"\xff"))
PY
expect "invalid UTF-8 inside ct.request's JSON text: 400 naming output_fields.ct.request" 400 "$TD_TMP/badreq.json" output_fields.ct.request
got="$(post_alert "$TD_TMP/bad1.json")"
check_eq "... the 400 body is valid UTF-8 JSON (no raw bytes echoed)" "yes" \
	"$(body_of "$got" | python3 -c 'import sys,json; json.loads(sys.stdin.buffer.read().decode("utf-8")); print("yes")' 2>&1)"
{ cat "$TD_TMP/a1.json"; printf ' xyz}'; } >"$TD_TMP/trailing.json"
expect "a valid alert followed by trailing garbage: 400 naming body" 400 "$TD_TMP/trailing.json" body
{ cat "$TD_TMP/a1.json"; cat "$TD_TMP/a2.json"; } >"$TD_TMP/two.json"
expect "two alerts in one body: 400 naming body" 400 "$TD_TMP/two.json" body
{ cat "$TD_TMP/a1.json"; printf ' \r\n\t '; } >"$TD_TMP/ws.json"
expect "trailing whitespace is fine (202)" 202 "$TD_TMP/ws.json"
head -c 4096 /dev/urandom >"$TD_TMP/garbage.bin"
expect "garbage bytes: 400 naming body" 400 "$TD_TMP/garbage.bin" body
: >"$TD_TMP/empty.json"
expect "an empty body: 400 naming body" 400 "$TD_TMP/empty.json" body
python3 -c "import json; print(json.dumps({'rule':'x','source':'aws_cloudtrail','output_fields':{'ct.id':'big','pad':'A'*(1<<21)}}))" >"$TD_TMP/huge.json"
expect "a 2 MiB body: 413" 413 "$TD_TMP/huge.json"
got="$(post_alert "$FIX/syscall_source.json")"
if [ "$(code_of "$got")" = 200 ] && [ "$(body_of "$got" | jq -r .status)" = dropped ]; then
	ok "a syscall alert is dropped (200, status dropped)"
else
	not_ok "a syscall alert is dropped (200, status dropped)" "$got" ingest
fi
check "... and counted" test "$(metric ingest 'tfdrift_ingest_falco_dropped_total{reason="source"}')" -ge 1
check_eq "POST / takes alerts too (Falcosidekick webhook)" 202 \
	"$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary "@$FIX/sidekick.json" "$(falco_url)/")"
check_eq "GET is 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' "$(falco_url)/api/v1/falco/events")"
check_eq "another path is 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{}' "$(falco_url)/nope")"
check "ingest is still running after the bad payloads" alive ingest

# ---- everything accepted is handed on ----
expected_ids "$TD_TMP/ct.json" >"$TD_TMP/expected.ids"
check "explain expects alerts from some of the 60" test -s "$TD_TMP/expected.ids"
check_eq "the alerts explain expects from them are in PostgreSQL (missing eventIDs)" 0 \
	"$(db_missing "$TD_TMP/expected.ids")" ingest correlator persistence
eid="$(head -n 1 "$TD_TMP/expected.ids")"
want="$(jq -cS --arg e "$eid" '.Records[] | select(.eventID == $e) | .requestParameters' "$TD_TMP/ct.json")"
got="$(sql "SELECT raw_event->'requestParameters' FROM alerts WHERE event_id = '$eid' LIMIT 1" | jq -cS .)"
check_eq "an alert's requestParameters (double-encoded ct.request) arrive intact" "$want" "$got"
check_eq "... with its Falco rule" "Terraform Managed Resource Modified" \
	"$(sql "SELECT falco_rule FROM alerts WHERE event_id = '$eid' LIMIT 1")"
for _ in $(seq 1 100); do
	[ "$(metric ingest tfdrift_ingest_journal_entries)" = 0 ] && break
	sleep 0.1
done
check_eq "every accepted alert (fixtures too) was acknowledged by a correlator: the journal is empty" 0 \
	"$(metric ingest tfdrift_ingest_journal_entries)" ingest correlator
check "... and counted as forwarded" test "$(metric ingest tfdrift_ingest_events_forwarded_total)" -ge "$(sort -u "$TD_TMP/accepted.ids" | wc -l)"

# ---- bearer token ----
stop_service ingest 10 || diag "ingest took ${TD_STOP_MS} ms to stop"
TD_ENV="TFDRIFT_INGEST_HTTP_TOKEN=s3cret-token" start_service ingest
wait_admin ingest 20 || bail "ingest did not come back"
wait_http "$(falco_url)/" 10 405 >/dev/null
check_eq "with http_token set, no token is 401" 401 "$(code_of "$(post_alert "$TD_TMP/a1.json")")"
check_eq "a wrong token is 401" 401 "$(code_of "$(post_alert "$TD_TMP/a1.json" -H 'Authorization: Bearer wrong')")"
check_eq "the right token is 202" 202 "$(code_of "$(post_alert "$TD_TMP/a1.json" -H 'Authorization: Bearer s3cret-token')")"
# the scheme is case-insensitive and may be followed by more than one space
# (RFC 9110 11.1; td_secret_bearer, the gateway's parser too)
for a in "bearer s3cret-token" "BEARER s3cret-token" "bEaReR   s3cret-token"; do
	check_eq "'Authorization: $a' is 202" 202 "$(code_of "$(post_alert "$TD_TMP/a1.json" -H "Authorization: $a")")"
done
for a in "bearer wrong" "BEARER s3cret-tokeN" "Bearers3cret-token" "Bearer s3cret-token " "Basic s3cret-token" "s3cret-token"; do
	check_eq "'Authorization: $a' is 401" 401 "$(code_of "$(post_alert "$TD_TMP/a1.json" -H "Authorization: $a")")"
done
for _ in $(seq 1 100); do
	[ "$(metric ingest tfdrift_ingest_journal_entries)" = 0 ] && break
	sleep 0.1
done

# ---- full journal: 503, then nothing lost ----
stop_service correlator 10
stop_service ingest 10
TD_ENV="TFDRIFT_INGEST_JOURNAL_MAX_BYTES=12KiB TFDRIFT_INGEST_JOURNAL_SEGMENT_BYTES=4KiB" start_service ingest
wait_admin ingest 20 || bail "ingest did not come back"
wait_http "$(falco_url)/" 10 405 >/dev/null
gen_cloudtrail "$TD_TMP/ct2.json" 60 11 || bail "gen_cloudtrail failed"
falco_alerts "$TD_TMP/ct2.json" "$TD_TMP/alerts2.jsonl"
: >"$TD_TMP/acc2.ids"
saw503=0
retry_after=""
while read -r line; do
	printf '%s' "$line" >"$TD_TMP/one.json"
	code="$(curl -s -D "$TD_TMP/hdr" -o /dev/null -w '%{http_code}' -X POST --data-binary "@$TD_TMP/one.json" "$(falco_url)/api/v1/falco/events")"
	if [ "$code" = 202 ]; then
		jq -r '.output_fields["ct.id"]' "$TD_TMP/one.json" >>"$TD_TMP/acc2.ids"
	elif [ "$code" = 503 ]; then
		saw503=1
		retry_after="$(tr -d '\r' <"$TD_TMP/hdr" | awk -F': ' 'tolower($1)=="retry-after"{print $2}')"
	fi
done <"$TD_TMP/alerts2.jsonl"
check_eq "with no correlator, a full 12 KiB journal answers 503" 1 "$saw503" ingest
check_eq "... with Retry-After: 1" 1 "$retry_after"
n2="$(wc -l <"$TD_TMP/acc2.ids")"
diag "$n2 of 60 alerts accepted before the journal was full"
check "some alerts were accepted before it was full" test "$n2" -gt 0
start_service correlator
wait_admin correlator 20 || bail "correlator did not come back"
expected_ids "$TD_TMP/ct2.json" | comm -12 - <(sort -u "$TD_TMP/acc2.ids") >"$TD_TMP/want2.ids"
check_eq "once a correlator is back, the alerts from the $n2 accepted into the full journal are in PostgreSQL (missing)" \
	0 "$(db_missing "$TD_TMP/want2.ids")" ingest correlator persistence
for _ in $(seq 1 50); do
	[ "$(metric ingest tfdrift_ingest_journal_entries)" = 0 ] && break
	sleep 0.1
done
check_eq "... and the journal is empty again" 0 "$(metric ingest tfdrift_ingest_journal_entries)"

finish
