#!/usr/bin/env bash
# Real CloudTrail records (tests/fixtures/cloudtrail/, sources in its
# README.md) decided by `tfdrift-correlator explain` against small states:
# one table row per (fixture, state), with every record's decision, the
# decision per resource it names, and each alert's kind, address, attribute
# and state -> new values.  The rows cover the request forms the catalog's
# extractors must read (the legacy top-level security-group form, the
# ipPermissions form, XML-derived S3 grants, Route 53 change batches,
# multi-instance EC2 calls) and the silences the state must justify
# (starting a running instance, attaching a policy an attachment resource
# already holds).
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"

F=tests/fixtures/cloudtrail
# event|decision|ID=decision ...|kind,address,attribute,OLD->NEW ...
Q='[.event_name, (.skip // "alerts"),
	([.resources[]? | "\(.id)=\(.decision)"] | join(" ")),
	([.alerts[]? | "\(.kind),\(.address // ""),\(.attribute // ""),\(.changes[0].old | tojson)->\(.changes[0].new | tojson)"] | join(" "))]
	| join("|")'

# sample NAME FIXTURE STATE-SPEC EXPECTED — every record of FIXTURE decided
# against the state(s) (comma-separated NAME=FILE) as EXPECTED says.
sample() {
	local name="$1" fixture="$2" states="$3" want="$4" got spec args=()
	IFS=, read -r -a spec <<<"$states"
	for s in "${spec[@]}"; do args+=(--state "$s"); done
	got="$("$TD_BIN/tfdrift-correlator" explain "${args[@]}" "$F/$fixture.json" 2>"$TD_TMP/explain.err" | jq -r "$Q")"
	if [ "$got" = "$want" ]; then
		ok "$name"
	else
		not_ok "$name" "$(diff <(echo "$want") <(echo "$got"))"
		sed 's/^/#   /' "$TD_TMP/explain.err"
	fi
}

S=$F/states
sample "AuthorizeSecurityGroupIngress, legacy cidrIp/fromPort/toPort form (Stratus)" \
	ec2-authorize-sg-ingress-legacy "s/ec2=$S/ec2.tfstate" \
	'AuthorizeSecurityGroupIngress|alerts|sg-003dc7f1f1c686164=drift|drift,aws_security_group.bastion,ingress,["tcp|443|443|0.0.0.0/0"]->["tcp|443|443|0.0.0.0/0","tcp|22|22|208.236.235.254/0"]'
sample "AuthorizeSecurityGroupIngress, ipPermissions form (Panther)" \
	ec2-authorize-sg-ingress "s/ec2=$S/ec2.tfstate" \
	'AuthorizeSecurityGroupIngress|alerts|sg-1=drift|drift,aws_security_group.admin,ingress,[]->["tcp|22|22|127.0.0.1/32"]'
sample "Stop/StartInstances of two instances: one decision each, the state's instance_state decides" \
	ec2-stop-start-instances "s/ec2=$S/ec2-instances.tfstate" \
	'StopInstances|alerts|i-EXAMPLE56126103cb=drift i-EXAMPLEaff4840c22=no_change|drift,aws_instance.web,instance_state,"running"->"stopped"
StartInstances|alerts|i-EXAMPLE56126103cb=no_change i-EXAMPLEaff4840c22=drift|drift,aws_instance.batch,instance_state,"stopped"->"running"'
sample "AttachRolePolicy of AdministratorAccess vs managed_policy_arns (Stratus)" \
	iam-attach-role-policy "s/iam=$S/iam.tfstate" \
	'AttachRolePolicy|alerts|stratus-red-team-malicious-iam-role=drift|drift,aws_iam_role.app,managed_policy_arns,["arn:aws:iam::aws:policy/ReadOnlyAccess"]->["arn:aws:iam::aws:policy/ReadOnlyAccess","arn:aws:iam::aws:policy/AdministratorAccess"]'
sample "AttachRolePolicy silent when an aws_iam_role_policy_attachment holds the policy" \
	iam-attach-role-policy "s/iam=$S/iam-attached.tfstate" \
	'AttachRolePolicy|no_change|stratus-red-team-malicious-iam-role/arn:aws:iam::aws:policy/AdministratorAccess=no_change|'
sample "ModifyDBInstance / ModifyDBCluster deletion protection and backups (Panther)" \
	rds-modify-db "s/rds=$S/rds.tfstate" \
	'ModifyDBInstance|alerts|production-mysql=drift|drift,aws_db_instance.mysql,deletion_protection,true->false
ModifyDBCluster|alerts|aurora-production=drift|drift,aws_rds_cluster.aurora,deletion_protection,true->false drift,aws_rds_cluster.aurora,backup_retention_period,7->0'
sample "ChangeResourceRecordSets batch: each change to its record by ZONE_NAME_TYPE (Route 53 guide)" \
	route53-change-rrsets "s/r53=$S/route53.tfstate" \
	'ChangeResourceRecordSets|alerts|Z1PA6795UKMFR9_prod.example.com_A=drift Z1PA6795UKMFR9_test.example.com_A=unmanaged|drift,aws_route53_record.prod,ttl,60->300 drift,aws_route53_record.prod,records,["192.0.1.1"]->["192.0.1.1","192.0.1.2","192.0.1.3","192.0.1.4"] unmanaged,,,null->null'
sample "PutBucketAcl with an explicit grant, XML-derived (S3 guide): grants as a set" \
	s3-put-bucket-acl "s/s3=$S/s3.tfstate" \
	'PutBucketAcl|alerts|acme-docs-example=drift|drift,aws_s3_bucket_acl.docs,access_control_policy.0.grant,["CanonicalUser:d25639fbe9c19cd30a4c0f43fbf00e2d3f96400a9aa8dabfbbebe1906Example:FULL_CONTROL","Group:http://acs.amazonaws.com/groups/global/AllUsers:READ"]->["CanonicalUser:d25639fbe9c19cd30a4c0f43fbf00e2d3f96400a9aa8dabfbbebe1906Example:FULL_CONTROL"]'
sample "DeleteObjects: CloudTrail names no keys, so no object can be decided (Stratus)" \
	s3-delete-objects "s/s3=$S/s3.tfstate" \
	'DeleteObjects|no_identifier||'

# PutRolePolicy: Terraform's own call is skipped; a new inline policy on a
# managed role (no aws_iam_role_policy for it) alerts on the role
out="$("$TD_BIN/tfdrift-correlator" explain --state "s/iam=$S/iam-inline.tfstate" "$F/iam-put-role-policy.json" 2>/dev/null)"
check_eq "PutRolePolicy by Terraform is skipped, by hand on a managed role alerts on its inline_policy" \
	'terraform|||
alerts|aws_iam_role.notification|inline_policy|passbolt-Prod-notification-policy,TestPolicy
not_managed|||' \
	"$(jq -r '[(.skip // "alerts"), (.alerts[0].address // ""), (.alerts[0].attribute // ""), ((.alerts[0].changes[0].new // []) | map(.name) | join(","))] | join("|")' <<<"$out")"
# the usual third test, on the repository's demo states
out="$("$TD_BIN/tfdrift-correlator" explain --state prod/app=examples/states/prod-app.tfstate "$F/iam-put-role-policy.json" 2>/dev/null)"
check_eq "PutRolePolicy of TestPolicy on the demo's prod-app-lambda role alerts on the role" \
	'aws_iam_role.lambda|inline_policy|prod-app-lambda-s3,TestPolicy' \
	"$(jq -r 'select(.event_id == "e8b1cc4d-32a6-4291-ba2e-dc27fa475f3d") | [.alerts[0].address, .alerts[0].attribute, (.alerts[0].changes[0].new | map(.name) | join(","))] | join("|")' <<<"$out")"

# the summary names what was coarse; every sample here is precise
"$TD_BIN/tfdrift-correlator" explain --state "s/ec2=$S/ec2.tfstate" --state "s/i=$S/ec2-instances.tfstate" "$F/ec2-stop-start-instances.json" \
	"$F/ec2-authorize-sg-ingress-legacy.json" >/dev/null 2>"$TD_TMP/sum.err"
check_eq "explain sums up precise and coarse alerts" \
	"explain: 3 events, 3 alerts (3 precise, 0 coarse; 0 extractor misses)" "$(tail -n 1 "$TD_TMP/sum.err")"
finish
