#!/usr/bin/env bash
# Names repeat across accounts and regions (issue 17): the real state-loader,
# Redis, ingest, correlator, persistence and api-gateway.  One state (ARNs in
# account A) is loaded as account A's workspace and, with its ARNs rewritten,
# as account B's; a state with no ARN at all is loaded three times, scoped by
# the sources' #account=/#region= options (A in eu-west-1, B in eu-west-1, A in
# us-west-2); a state with no ARN and no option stays unscoped and says so
# (check, the workspace status, /api/v1/workspaces).  CloudTrail records of
# the same names from each account and region land on their own workspace
# only; from a third account they raise nothing managed; the unscoped state
# still matches every account.  `explain` with the same states and options
# predicts the very alerts stored.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/gateway.sh
source "$(dirname "$0")/../lib/gateway.sh"
need node sha256sum python3

A=111111111111
B=222222222222
C=333333333333
S="$TD_TMP/states"
mkdir -p "$S"

# ---- states -------------------------------------------------------------------------------
# res TYPE NAME ATTRS_JSON
res() { printf '{"mode":"managed","type":"%s","name":"%s","provider":"provider[\\"registry.terraform.io/hashicorp/aws\\"]","instances":[{"schema_version":0,"attributes":%s}]}' "$1" "$2" "$3"; }
state() { # FILE LINEAGE RESOURCES...
	local f="$1" l="$2" first=1
	shift 2
	{
		printf '{"version":4,"terraform_version":"1.9.8","serial":1,"lineage":"%s","outputs":{},"resources":[' "$l"
		for r in "$@"; do
			[ $first = 1 ] || printf ','
			first=0
			printf '%s' "$r"
		done
		printf ']}\n'
	} >"$f"
}
TRUST='{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"ec2.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}'
state "$S/acct-a.tfstate" arn-a \
	"$(res aws_iam_role ecs "{\"name\":\"ecsInstanceRole\",\"id\":\"ecsInstanceRole\",\"arn\":\"arn:aws:iam::$A:role/ecsInstanceRole\",\"unique_id\":\"AROAEXAMPLEA\",\"assume_role_policy\":\"$TRUST\"}")" \
	"$(res aws_lambda_function thumbs "{\"function_name\":\"thumbnails\",\"id\":\"thumbnails\",\"arn\":\"arn:aws:lambda:eu-west-1:$A:function:thumbnails\",\"memory_size\":128}")"
# account B's copy: the same names, its own ARNs
sed "s/$A/$B/g; s/AROAEXAMPLEA/AROAEXAMPLEB/; s/arn-a/arn-b/" "$S/acct-a.tfstate" >"$S/acct-b.tfstate"
state "$S/bare.tfstate" bare \
	"$(res aws_lambda_function resizer '{"function_name":"resizer","id":"resizer","memory_size":256}')" \
	"$(res aws_sqs_queue jobs '{"id":"jobs-url","url":"jobs-url","name":"jobs"}')"
state "$S/legacy.tfstate" legacy \
	"$(res aws_lambda_function old '{"function_name":"legacy-fn","id":"legacy-fn","memory_size":128}')"

# ---- check says what it knows ----------------------------------------------------------------
out="$("$TD_BIN/tfdrift-state-loader" check "$S/acct-b.tfstate" --json)"
check_eq "check: B's state is in account B, eu-west-1" "[\"$B\"] [\"eu-west-1\"] true" \
	"$(jq -c -j '.accounts, " ", .regions, " ", .account_known' <<<"$out")"
out="$("$TD_BIN/tfdrift-state-loader" check "$S/legacy.tfstate")"
check "check: a state without ARN says its account is unknown" grep -q "account unknown:     1 of 1 resources" <<<"$out"
out="$("$TD_BIN/tfdrift-state-loader" check "$S/bare.tfstate" --account $A --region us-west-2 --json)"
check_eq "check: --account/--region scope it" "[\"$A\"] [\"us-west-2\"] true" \
	"$(jq -c -j '.accounts, " ", .regions, " ", .account_known' <<<"$out")"

# ---- the services ------------------------------------------------------------------------------
start_postgres
start_redis
gw_tokens
cfg_set state_loader sources "[
	\"arn/a=file://$S/acct-a.tfstate\",
	\"arn/b=file://$S/acct-b.tfstate\",
	\"opt/a-eu=file://$S/bare.tfstate#account=$A&region=eu-west-1\",
	\"opt/b-eu=file://$S/bare.tfstate#account=$B&region=eu-west-1\",
	\"opt/a-west=file://$S/bare.tfstate#account=$A&region=us-west-2\",
	\"legacy=file://$S/legacy.tfstate\"]"
write_config
start_up persistence state-loader ingest correlator api-gateway
wait_ready persistence 30 || bail "persistence is not ready"
wait_ready api-gateway 30 || bail "api-gateway is not ready"
for _ in $(seq 1 200); do
	[ "$(rcli HLEN tfdrift:workspaces)" = 6 ] && [ -n "$(rcli GET tfdrift:gen)" ] && break
	sleep 0.1
done
check_eq "state-loader loaded the six workspaces" 6 "$(rcli HLEN tfdrift:workspaces)" state-loader
ws() { rcli HGET tfdrift:workspaces "$1" | jq -c -j "$2"; }
check_eq "status: arn/b is account B's" "[\"$B\"] true 0" "$(ws arn/b '.accounts, " ", .account_known, " ", .unscoped_resources')"
check_eq "status: opt/a-west from the options" "[\"$A\"] [\"us-west-2\"]" "$(ws opt/a-west '.accounts, " ", .regions')"
check_eq "status: legacy's account is unknown" "[] false 1" "$(ws legacy '.accounts, " ", .account_known, " ", .unscoped_resources')"
check "the log says legacy's resources match every account" \
	grep -q '"the account of some resources is unknown.*"workspace":"legacy"' "${TD_LOG[state-loader]}"

# the claim that answers for a field of P idx (docs/redis-keys.md)
idx() { idx_claim "$1"; }
check_eq "index: the role of B under B's account, region-free" \
	"$(printf 'arn/b\taws_iam_role.ecs\taws_iam_role')" "$(idx "@$B::ecsInstanceRole")"
check_eq "index: A's function under A and eu-west-1" \
	"$(printf 'arn/a\taws_lambda_function.thumbs\taws_lambda_function')" "$(idx "@$A:eu-west-1:thumbnails")"
check_eq "index: the same state in A's us-west-2" \
	"$(printf 'opt/a-west\taws_lambda_function.resizer\taws_lambda_function')" "$(idx "@$A:us-west-2:resizer")"
check_eq "index: legacy unscoped" \
	"$(printf 'legacy\taws_lambda_function.old\taws_lambda_function')" "$(idx legacy-fn)"
check_eq "index: no unscoped copy of a scoped name" "" "$(idx ecsInstanceRole)"

# ---- /api/v1/workspaces ------------------------------------------------------------------------
gw_expect "GET /workspaces" 200 GET /api/v1/workspaces "$TOK_VIEWER"
gw_jq "... says legacy's account is unknown" "false 1" \
	'.items[] | select(.name == "legacy") | "\(.account_known) \(.unscoped_resources)"'
gw_jq "... and names arn/a's account" "$A" '.items[] | select(.name == "arn/a") | .accounts[0]'
gw_check_contract

# ---- events ------------------------------------------------------------------------------------
# rec N ACCOUNT REGION SOURCE NAME REQUEST_JSON
python3 - "$TD_TMP/events.json" "$A" "$B" "$C" <<'PY'
import json, sys
out, A, B, C = sys.argv[1:5]
recs = []
def rec(acct, region, source, name, req):
    n = len(recs)
    recs.append({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE%d" % n,
                         "arn": "arn:aws:iam::%s:user/bob" % acct, "accountId": acct,
                         "accessKeyId": "AKIAEXAMPLE%05d" % n, "userName": "bob"},
        "eventTime": "2026-12-01T10:%02d:00Z" % n, "eventSource": source, "eventName": name,
        "awsRegion": region, "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.debian.12",
        "requestParameters": req, "responseElements": None,
        "requestID": "5d3c1f0e-0000-4a2b-9c3d-%012d" % n,
        "eventID": "9f1c2d3e-1717-4a2b-9c3d-%012d" % n, "readOnly": False,
        "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": acct,
        "eventCategory": "Management"})
trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"}]})
role = {"roleName": "ecsInstanceRole", "policyDocument": trust}
IAM, LAMBDA = "iam.amazonaws.com", "lambda.amazonaws.com"
rec(B, "us-east-1", IAM, "UpdateAssumeRolePolicy", role)       # 0 -> arn/b
rec(A, "us-east-1", IAM, "UpdateAssumeRolePolicy", role)       # 1 -> arn/a
rec(C, "us-east-1", IAM, "UpdateAssumeRolePolicy", role)       # 2 -> nothing
rec(A, "eu-west-1", LAMBDA, "DeleteFunction20150331", {"functionName": "thumbnails"})  # 3 arn/a
rec(B, "eu-west-1", LAMBDA, "DeleteFunction20150331", {"functionName": "thumbnails"})  # 4 arn/b
rec(B, "us-west-2", LAMBDA, "DeleteFunction20150331", {"functionName": "thumbnails"})  # 5 nothing
rec(A, "eu-west-1", LAMBDA, "DeleteFunction20150331", {"functionName": "resizer"})     # 6 opt/a-eu
rec(B, "eu-west-1", LAMBDA, "DeleteFunction20150331", {"functionName": "resizer"})     # 7 opt/b-eu
rec(A, "us-west-2", LAMBDA, "DeleteFunction20150331", {"functionName": "resizer"})     # 8 opt/a-west
rec(C, "eu-west-1", LAMBDA, "DeleteFunction20150331", {"functionName": "resizer"})     # 9 nothing
rec(B, "ap-south-1", LAMBDA, "DeleteFunction20150331", {"functionName": "resizer"})    # 10 nothing
rec(C, "ap-south-1", LAMBDA, "DeleteFunction20150331", {"functionName": "legacy-fn"})  # 11 legacy
json.dump({"Records": recs}, open(out, "w"))
PY

TD_LOG[replay]="$TD_TMP/logs/replay.log"
timeout 60 "$TD_BIN/tfdrift-ingest" --config "$TD_CONFIG" replay "$TD_TMP/events.json" >"${TD_LOG[replay]}" 2>&1
check_eq "replay exits 0" "0" "$?" replay ingest correlator persistence
for _ in $(seq 1 100); do
	[ "$(metric correlator tfdrift_correlator_events_total)" = 12 ] && break
	sleep 0.1
done
check_eq "the correlator saw the 12 events" 12 "$(metric correlator tfdrift_correlator_events_total)" correlator

got="$(sql "SELECT substr(event_id, 25)::int || '|' || account_id || '|' || region || '|' || kind || '|' ||
	workspace || '|' || resource_address FROM alerts ORDER BY event_time, attribute" 2>&1)"
want="0|$B|us-east-1|drift|arn/b|aws_iam_role.ecs
1|$A|us-east-1|drift|arn/a|aws_iam_role.ecs
3|$A|eu-west-1|deleted|arn/a|aws_lambda_function.thumbs
4|$B|eu-west-1|deleted|arn/b|aws_lambda_function.thumbs
6|$A|eu-west-1|deleted|opt/a-eu|aws_lambda_function.resizer
7|$B|eu-west-1|deleted|opt/b-eu|aws_lambda_function.resizer
8|$A|us-west-2|deleted|opt/a-west|aws_lambda_function.resizer
11|$C|ap-south-1|deleted|legacy|aws_lambda_function.old"
if [ "$got" = "$want" ]; then
	ok "each account's and region's events land on its own workspace; a third account's raise nothing managed"
else
	not_ok "each account's and region's events land on its own workspace; a third account's raise nothing managed" \
		"$(diff <(echo "$want") <(echo "$got"))" correlator
fi
check_eq "the third account's events were skipped as not managed" 4 \
	"$(metric correlator 'tfdrift_correlator_events_skipped_total{reason="not_managed"}')"

# ---- explain predicts the same -----------------------------------------------------------------
"$TD_BIN/tfdrift-correlator" explain \
	--state "arn/a=$S/acct-a.tfstate" --state "arn/b=$S/acct-b.tfstate" \
	--state "opt/a-eu=$S/bare.tfstate#account=$A&region=eu-west-1" \
	--state "opt/b-eu=$S/bare.tfstate#account=$B&region=eu-west-1" \
	--state "opt/a-west=$S/bare.tfstate#account=$A&region=us-west-2" \
	--state "legacy=$S/legacy.tfstate" \
	"$TD_TMP/events.json" 2>"$TD_TMP/explain.err" | jq -r '.alerts[]?.alert_key' | sort >"$TD_TMP/want.keys"
sql 'SELECT alert_key FROM alerts' 2>&1 | sort >"$TD_TMP/db.keys"
check_eq "explain predicts 8 alerts" 8 "$(wc -l <"$TD_TMP/want.keys")"
if cmp -s "$TD_TMP/want.keys" "$TD_TMP/db.keys"; then
	ok "... the very alerts stored (same alert keys)"
else
	not_ok "... the very alerts stored (same alert keys)" "$(diff "$TD_TMP/want.keys" "$TD_TMP/db.keys")"
fi
finish
