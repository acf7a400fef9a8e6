#!/usr/bin/env bash
# `tfdrift-correlator explain` over the demo (examples/README.md): the real
# catalog and decision code offline; every record's decision, and each
# expected alert (kind, address, attribute, who, severity).
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"

OUT="$TD_TMP/explain.jsonl"
"$TD_BIN/tfdrift-correlator" explain \
	--state prod/network=examples/states/prod-network.tfstate \
	--state prod/app=examples/states/prod-app.tfstate \
	examples/events/demo-cloudtrail.json >"$OUT" 2>"$TD_TMP/explain.err"
check_eq "explain exits 0" "0" "$?"
check_eq "one line per record" "19" "$(wc -l <"$OUT")"

got="$(jq -r '[.event_name, (.skip // "alerts"),
	([.alerts[]? | [.kind, .severity, .address, .attribute, .who.name] | join(",")] | join(" "))]
	| join("|")' "$OUT")"
want='DescribeInstances|read_only|
ModifyInstanceAttribute|alerts|drift,medium,aws_instance.web[0],instance_type,bob
AuthorizeSecurityGroupIngress|alerts|drift,critical,aws_security_group.web,ingress,alice@example.com
ModifyInstanceAttribute|duplicate|
PutBucketPolicy|failed|
PutBucketPolicy|alerts|drift,critical,aws_s3_bucket_policy.assets,policy,alice@example.com
GetBucketPolicy|read_only|
UpdateFunctionConfiguration20150331v2|alerts|drift,medium,aws_lambda_function.processor,memory_size,alice@example.com drift,medium,aws_lambda_function.processor,timeout,alice@example.com
PutRolePolicy|alerts|drift,critical,aws_iam_role_policy.lambda_s3,policy,alice@example.com
ModifyDBInstance|alerts|drift,medium,aws_db_instance.main,instance_class,bob drift,medium,aws_db_instance.main,password,bob
ModifyVpcEndpoint|alerts|drift,medium,module.endpoints["s3"].aws_vpc_endpoint.this,policy,bob
ModifyVpcAttribute|alerts|drift,medium,aws_vpc.main,enable_dns_hostnames,bob
ModifyInstanceAttribute|terraform|
RunInstances|alerts|unmanaged,medium,,,bob
CreateBucket|alerts|unmanaged,medium,,,bob
ConsoleLogin|not_mapped|
TerminateInstances|alerts|deleted,high,aws_instance.web[2],,root
CreateTags|alerts|drift,low,aws_instance.web[0],tags.Owner,bob
ListFunctions20150331|read_only|'
if [ "$got" = "$want" ]; then
	ok "every demo record decided as examples/README.md says"
else
	not_ok "every demo record decided as examples/README.md says" "$(diff <(echo "$want") <(echo "$got"))"
fi

check_eq "the SSO user's permission set is named" "AdministratorAccess" \
	"$(jq -r 'select(.event_name == "AuthorizeSecurityGroupIngress") | .alerts[0].who.permission_set' "$OUT")"
check_eq "the password change is redacted" '"(sensitive)"|true' \
	"$(jq -r 'select(.event_name == "ModifyDBInstance") | .alerts[1].changes[0] | "\(.new|tojson)|\(.sensitive)"' "$OUT")"
check_eq "the instance type diff is state -> new" '"t3.medium"|"t3.xlarge"' \
	"$(jq -r 'select(.event_name == "ModifyInstanceAttribute" and .decision == "alerts") | .alerts[0].changes[0] | "\(.old|tojson)|\(.new|tojson)"' "$OUT")"
check_eq "the unmanaged instance gets an import block" "yes" \
	"$(jq -r 'select(.event_name == "RunInstances") | .alerts[0].fix | if contains("to = aws_instance.i_0f9e8d7c6b5a43210") and contains("id = \"i-0f9e8d7c6b5a43210\"") then "yes" else . end' "$OUT")"
check_eq "the drift fix names the targeted apply with the workspace" "yes" \
	"$(jq -r 'select(.event_name == "ModifyVpcAttribute") | .alerts[0].fix | if contains("terraform -chdir=prod/network apply -target='"'"'aws_vpc.main'"'"'") then "yes" else . end' "$OUT")"
root="$(jq -r 'select(.event_name == "TerminateInstances") | .alerts[0].who.root' "$OUT")"
check_eq "root is flagged" "true" "$root"

# the same record as a Falco JSON alert (http_output): the same decision
jq -c '.Records[1] as $r | {hostname: "falco-0", output: "x", priority: "Warning",
	rule: "Terraform drift: AWS resource changed", source: "aws_cloudtrail", tags: ["terraform"],
	time: $r.eventTime, output_fields: {"ct.id": $r.eventID, "ct.time": $r.eventTime,
	"ct.src": $r.eventSource, "ct.name": $r.eventName, "ct.region": $r.awsRegion,
	"ct.user": $r.userIdentity.userName, "ct.user.arn": $r.userIdentity.arn,
	"ct.user.identitytype": $r.userIdentity.type, "ct.user.principalid": $r.userIdentity.principalId,
	"ct.user.accountid": $r.userIdentity.accountId, "ct.srcip": $r.sourceIPAddress,
	"ct.useragent": $r.userAgent, "ct.error": "<NA>", "ct.readonly": "false",
	"ct.eventtype": $r.eventType, "ct.request": ($r.requestParameters | tojson),
	"ct.response": ($r.responseElements | tojson), "ct.resources": "<NA>",
	"ct.recipientaccountid": $r.recipientAccountId}}' examples/events/demo-cloudtrail.json >"$TD_TMP/falco.jsonl"
check_eq "a Falco JSON alert of record #2 is decided the same" "aws_instance.web[0]|instance_type|bob" \
	"$("$TD_BIN/tfdrift-correlator" explain --state prod/app=examples/states/prod-app.tfstate "$TD_TMP/falco.jsonl" 2>/dev/null |
		jq -r '.alerts[0] | "\(.address)|\(.attribute)|\(.who.name)"')"

# a rules file: ignore by address glob, severity override by type
cat >"$TD_TMP/rules.yaml" <<'YAML'
ignore:
  - name: vpc-dns
    address: "aws_vpc.*"
severity:
  - name: lambda-high
    type: "aws_lambda_*"
    level: high
YAML
printf 'correlator:\n  rules_file: %s\n' "$TD_TMP/rules.yaml" >"$TD_TMP/c.yaml"
"$TD_BIN/tfdrift-correlator" --config "$TD_TMP/c.yaml" explain \
	--state prod/network=examples/states/prod-network.tfstate \
	--state prod/app=examples/states/prod-app.tfstate \
	examples/events/demo-cloudtrail.json >"$OUT" 2>/dev/null
check_eq "an ignore rule skips by address and names the rule" "ignored|ignore rule 'vpc-dns'" \
	"$(jq -r 'select(.event_name == "ModifyVpcAttribute") | "\(.skip)|\(.reason)"' "$OUT")"
check_eq "a severity rule raises the lambda drift" "high high" \
	"$(jq -r 'select(.event_name | startswith("UpdateFunctionConfiguration")) | [.alerts[].severity] | join(" ")' "$OUT")"

printf 'ignore:\n  - name: x\n    adress: "a"\n' >"$TD_TMP/bad.yaml"
printf 'correlator:\n  rules_file: %s\n' "$TD_TMP/bad.yaml" >"$TD_TMP/c.yaml"
err="$("$TD_BIN/tfdrift-correlator" --config "$TD_TMP/c.yaml" explain examples/events/demo-cloudtrail.json 2>&1 >/dev/null)"
check_eq "a bad rules file is refused naming file:line:key" "yes" \
	"$(grep -q "bad.yaml:3: adress: unknown key" <<<"$err" && echo yes || echo "$err")"
finish
