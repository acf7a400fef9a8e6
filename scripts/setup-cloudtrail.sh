#!/usr/bin/env bash
# setup-cloudtrail.sh — the AWS side of tfdrift-falco, with the AWS CLI: a
# CloudTrail trail writing to an S3 bucket, and the queue Falco's CloudTrail
# plugin reads to learn of each new log file.
#
#   scripts/setup-cloudtrail.sh [OPTIONS]             create what is missing (idempotent)
#   scripts/setup-cloudtrail.sh --dry-run [OPTIONS]   print every command; change nothing
#   scripts/setup-cloudtrail.sh --teardown [OPTIONS]  remove what it made (the bucket
#                                                     and its logs only with --delete-bucket)
#
# What it makes, in this order (each step looks first and changes only what
# differs, so a second run changes nothing):
#   1. the S3 bucket: default encryption (SSE-S3, or SSE-KMS with --kms-key),
#      all public access blocked, a lifecycle rule expiring logs after
#      --retention-days (and incomplete uploads after 7 days)
#   2. the bucket policy that lets CloudTrail check the ACL and write
#      AWSLogs/<account>/ (and AWSLogs/<organization>/ for an organization trail)
#   3. the trail: multi-region, log file validation, logging started
#      (--organization: an organization trail, run in the management account)
#   4. an SNS topic that S3 may publish to, an SQS queue that the topic may send
#      to, the subscription (topic -> queue)
#   5. the bucket's event notification: every new AWSLogs/**.json.gz -> the topic
# Then it prints the Falco plugin's open_params and init_config and the
# settings for tfdrift (.env, values for the Falco chart).
#
# Options:
#   --region R          AWS region of the bucket, queue and trail home
#                       (default: $AWS_REGION, else `aws configure get region`)
#   --bucket NAME       (default tfdrift-cloudtrail-<account>-<region>)
#   --trail NAME        (default tfdrift)
#   --queue NAME        SQS queue (default tfdrift-cloudtrail-events)
#   --topic NAME        SNS topic (default tfdrift-cloudtrail-events)
#   --organization      an organization trail
#   --retention-days N  days before log files expire (default 365)
#   --kms-key ARN       SSE-KMS with this key instead of SSE-S3
#   --delete-bucket     with --teardown: empty and delete the bucket too
#   --dry-run           print the commands (lookups included) and run none
#   -h, --help
#
# Needs: aws (v1 or v2), jq.  Exit status: 0 done, 1 an AWS call failed (its
# message is printed and nothing after it runs), 2 usage.
set -euo pipefail

REGION=${AWS_REGION:-}
BUCKET=""
TRAIL=tfdrift
QUEUE=tfdrift-cloudtrail-events
TOPIC=tfdrift-cloudtrail-events
ORG=0
RETENTION=365
KMS_KEY=""
DRY=0
TEARDOWN=0
DELETE_BUCKET=0
NOTIFY_ID=tfdrift-cloudtrail

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
die() {
	printf 'setup-cloudtrail: %s\n' "$*" >&2
	exit 1
}
usage_error() {
	printf 'setup-cloudtrail: %s (see --help)\n' "$*" >&2
	exit 2
}
say() { printf '%s\n' "$*" >&2; }

while [ $# -gt 0 ]; do
	case $1 in
	--region) REGION=${2:?}; shift ;;
	--bucket) BUCKET=${2:?}; shift ;;
	--trail) TRAIL=${2:?}; shift ;;
	--queue) QUEUE=${2:?}; shift ;;
	--topic) TOPIC=${2:?}; shift ;;
	--organization) ORG=1 ;;
	--retention-days) RETENTION=${2:?}; shift ;;
	--kms-key) KMS_KEY=${2:?}; shift ;;
	--delete-bucket) DELETE_BUCKET=1 ;;
	--dry-run) DRY=1 ;;
	--teardown) TEARDOWN=1 ;;
	-h | --help) usage; exit 0 ;;
	*) usage_error "unknown option '$1'" ;;
	esac
	shift
done
[[ $RETENTION =~ ^[1-9][0-9]*$ ]] || usage_error "--retention-days must be a positive number, not '$RETENTION'"
[ "$DELETE_BUCKET" = 0 ] || [ "$TEARDOWN" = 1 ] || usage_error "--delete-bucket goes with --teardown"
command -v aws >/dev/null 2>&1 || die "the AWS CLI (aws) is not on the PATH"
command -v jq >/dev/null 2>&1 || die "jq is not on the PATH"

# ---- running the CLI -----------------------------------------------------------

# Prints a command as one line a shell takes back (arguments with anything
# but plain characters in single quotes).
show() {
	local a line=""
	for a in "$@"; do
		if [[ $a =~ ^[A-Za-z0-9_./:=,@+%-]+$ ]]; then
			line+=" $a"
		else
			line+=" '${a//\'/\'\\\'\'}'"
		fi
	done
	printf '  %s\n' "${line# }" >&2
}

# aws_read VAR ARGS...: a lookup.  Its JSON in VAR; on failure the CLI's
# message in AWS_ERR and status 1 (the caller decides whether "not found" is
# an answer or an error).  In a dry run it is printed and answers "not found".
AWS_ERR=""
AWS_OUT=""
aws_read() {
	local var=$1 out rc=0 errf
	shift
	AWS_ERR=""
	printf -v "$var" '%s' '{}'
	if [ "$DRY" = 1 ]; then
		show aws "$@"
		AWS_ERR="(dry run)"
		return 1
	fi
	errf=$(mktemp)
	out=$(aws --output json "$@" 2>"$errf") || rc=$?
	AWS_ERR=$(cat "$errf")
	rm -f "$errf"
	[ "$rc" -eq 0 ] || return 1
	[ -n "$out" ] || out='{}'
	printf -v "$var" '%s' "$out"
}

# aws_do ARGS...: a change.  Printed; run unless this is a dry run; its JSON
# in AWS_OUT.  A failure stops the script with the CLI's message.
aws_do() {
	local rc=0 errf
	show aws "$@"
	AWS_OUT='{}'
	[ "$DRY" = 1 ] && return 0
	errf=$(mktemp)
	AWS_OUT=$(aws --output json "$@" 2>"$errf") || rc=$?
	if [ "$rc" -ne 0 ]; then
		say "$(cat "$errf")"
		rm -f "$errf"
		die "aws $1 $2 failed (status $rc); stopping: nothing after it was done"
	fi
	rm -f "$errf"
	[ -n "$AWS_OUT" ] || AWS_OUT='{}'
}

# not_found PATTERN: the last lookup failed because the thing does not exist
# (anything else, e.g. AccessDenied, stops the script).
not_found() {
	[ "$DRY" = 1 ] && return 0
	grep -Eq "$1" <<<"$AWS_ERR" && return 0
	say "$AWS_ERR"
	die "a lookup failed; stopping"
}

# same A B: two JSON documents are equal (keys in any order).
same() { [ "$(jq -cS . <<<"$1" 2>/dev/null)" = "$(jq -cS . <<<"$2" 2>/dev/null)" ]; }

# ---- who and where -----------------------------------------------------------------

if [ -z "$REGION" ]; then
	if [ "$DRY" = 1 ]; then
		REGION="<region>"
	else
		REGION=$(aws configure get region 2>/dev/null || true)
	fi
fi
[ -n "$REGION" ] || usage_error "no region: give --region or set AWS_REGION"

if aws_read id sts get-caller-identity; then
	ACCOUNT=$(jq -r .Account <<<"$id")
	PARTITION=$(jq -r '.Arn | split(":")[1]' <<<"$id")
else
	[ "$DRY" = 1 ] || { say "$AWS_ERR"; die "no AWS credentials that work (sts get-caller-identity failed)"; }
	ACCOUNT="<account>"
	PARTITION=aws
fi
ORG_ID=""
if [ "$ORG" = 1 ]; then
	if aws_read o organizations describe-organization; then
		ORG_ID=$(jq -r .Organization.Id <<<"$o")
	else
		[ "$DRY" = 1 ] || { say "$AWS_ERR"; die "--organization: cannot read the organization (run this in its management account)"; }
		ORG_ID="<organization-id>"
	fi
fi
BUCKET=${BUCKET:-tfdrift-cloudtrail-$ACCOUNT-$REGION}
BUCKET_ARN="arn:$PARTITION:s3:::$BUCKET"
TRAIL_ARN="arn:$PARTITION:cloudtrail:$REGION:$ACCOUNT:trail/$TRAIL"
TOPIC_ARN="arn:$PARTITION:sns:$REGION:$ACCOUNT:$TOPIC"
QUEUE_ARN="arn:$PARTITION:sqs:$REGION:$ACCOUNT:$QUEUE"
R=(--region "$REGION")

say "account $ACCOUNT, region $REGION, bucket $BUCKET, trail $TRAIL${ORG_ID:+ (organization $ORG_ID)}, topic $TOPIC, queue $QUEUE"
[ "$DRY" = 1 ] && say "dry run: these are the commands; none is run"

# ---- the documents ------------------------------------------------------------------

bucket_policy() {
	local writes
	writes=$(jq -n --arg b "$BUCKET_ARN" --arg a "$ACCOUNT" --arg o "$ORG_ID" \
		'[$b + "/AWSLogs/" + $a + "/*"] + (if $o != "" then [$b + "/AWSLogs/" + $o + "/*"] else [] end)')
	jq -n --arg b "$BUCKET_ARN" --arg t "$TRAIL_ARN" --argjson w "$writes" '{
		Version: "2012-10-17",
		Statement: [
			{ Sid: "AWSCloudTrailAclCheck", Effect: "Allow",
			  Principal: { Service: "cloudtrail.amazonaws.com" },
			  Action: "s3:GetBucketAcl", Resource: $b,
			  Condition: { StringEquals: { "aws:SourceArn": $t } } },
			{ Sid: "AWSCloudTrailWrite", Effect: "Allow",
			  Principal: { Service: "cloudtrail.amazonaws.com" },
			  Action: "s3:PutObject", Resource: (if ($w | length) == 1 then $w[0] else $w end),
			  Condition: { StringEquals: { "s3:x-amz-acl": "bucket-owner-full-control",
			                               "aws:SourceArn": $t } } },
			{ Sid: "DenyInsecureTransport", Effect: "Deny", Principal: "*",
			  Action: "s3:*", Resource: [$b, $b + "/*"],
			  Condition: { Bool: { "aws:SecureTransport": "false" } } }
		] }'
}

encryption() {
	if [ -n "$KMS_KEY" ]; then
		jq -n --arg k "$KMS_KEY" '{ Rules: [ { ApplyServerSideEncryptionByDefault:
			{ SSEAlgorithm: "aws:kms", KMSMasterKeyID: $k }, BucketKeyEnabled: true } ] }'
	else
		jq -n '{ Rules: [ { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" },
			BucketKeyEnabled: false } ] }'
	fi
}

public_block='{"BlockPublicAcls":true,"IgnorePublicAcls":true,"BlockPublicPolicy":true,"RestrictPublicBuckets":true}'

lifecycle() {
	jq -n --argjson d "$RETENTION" '{ Rules: [ { ID: "tfdrift-expire-logs", Status: "Enabled",
		Filter: { Prefix: "AWSLogs/" }, Expiration: { Days: $d },
		AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } } ] }'
}

topic_policy() {
	jq -n --arg t "$TOPIC_ARN" --arg b "$BUCKET_ARN" --arg a "$ACCOUNT" '{
		Version: "2012-10-17",
		Statement: [ { Sid: "S3Publish", Effect: "Allow", Principal: { Service: "s3.amazonaws.com" },
			Action: "SNS:Publish", Resource: $t,
			Condition: { ArnLike: { "aws:SourceArn": $b }, StringEquals: { "aws:SourceAccount": $a } } } ] }'
}

queue_policy() {
	jq -n --arg q "$QUEUE_ARN" --arg t "$TOPIC_ARN" '{
		Version: "2012-10-17",
		Statement: [ { Sid: "TopicSend", Effect: "Allow", Principal: { Service: "sns.amazonaws.com" },
			Action: "sqs:SendMessage", Resource: $q,
			Condition: { ArnEquals: { "aws:SourceArn": $t } } } ] }'
}

# ours: new log files under AWSLogs/ -> the topic
our_notification() {
	jq -n --arg id "$NOTIFY_ID" --arg t "$TOPIC_ARN" '{ Id: $id, TopicArn: $t,
		Events: ["s3:ObjectCreated:*"],
		Filter: { Key: { FilterRules: [ { Name: "Prefix", Value: "AWSLogs/" },
		                                { Name: "Suffix", Value: ".json.gz" } ] } } }'
}

# ---- create --------------------------------------------------------------------------

ensure_bucket() {
	if aws_read ignored s3api head-bucket --bucket "$BUCKET"; then
		say "bucket $BUCKET exists"
	else
		not_found '\(404\)|Not Found|NoSuchBucket'
		if [ "$REGION" = us-east-1 ]; then
			aws_do s3api create-bucket --bucket "$BUCKET" "${R[@]}"
		else
			aws_do s3api create-bucket --bucket "$BUCKET" "${R[@]}" \
				--create-bucket-configuration "LocationConstraint=$REGION"
		fi
	fi

	local want got
	want=$(encryption)
	if aws_read got s3api get-bucket-encryption --bucket "$BUCKET" &&
		same "$(jq .ServerSideEncryptionConfiguration <<<"$got")" "$want"; then
		say "bucket encryption is set"
	else
		[ -z "$AWS_ERR" ] || not_found 'ServerSideEncryptionConfigurationNotFoundError'
		aws_do s3api put-bucket-encryption --bucket "$BUCKET" \
			--server-side-encryption-configuration "$(jq -c . <<<"$want")"
	fi

	if aws_read got s3api get-public-access-block --bucket "$BUCKET" &&
		same "$(jq .PublicAccessBlockConfiguration <<<"$got")" "$public_block"; then
		say "public access is blocked"
	else
		[ -z "$AWS_ERR" ] || not_found 'NoSuchPublicAccessBlockConfiguration'
		aws_do s3api put-public-access-block --bucket "$BUCKET" \
			--public-access-block-configuration "$public_block"
	fi

	want=$(lifecycle)
	if aws_read got s3api get-bucket-lifecycle-configuration --bucket "$BUCKET" &&
		same "$(jq '{Rules: .Rules}' <<<"$got")" "$want"; then
		say "lifecycle rule is set"
	else
		[ -z "$AWS_ERR" ] || not_found 'NoSuchLifecycleConfiguration'
		aws_do s3api put-bucket-lifecycle-configuration --bucket "$BUCKET" \
			--lifecycle-configuration "$(jq -c . <<<"$want")"
	fi

	want=$(bucket_policy)
	if aws_read got s3api get-bucket-policy --bucket "$BUCKET" &&
		same "$(jq -r .Policy <<<"$got")" "$want"; then
		say "bucket policy for CloudTrail is set"
	else
		[ -z "$AWS_ERR" ] || not_found 'NoSuchBucketPolicy'
		aws_do s3api put-bucket-policy --bucket "$BUCKET" --policy "$(jq -c . <<<"$want")"
	fi
}

ensure_trail() {
	local got t org_flag=()
	[ "$ORG" = 1 ] && org_flag=(--is-organization-trail)
	if aws_read got cloudtrail describe-trails "${R[@]}" --trail-name-list "$TRAIL" &&
		t=$(jq -ce '.trailList[0] // empty' <<<"$got"); then
		if [ "$(jq -r '"\(.S3BucketName)|\(.IsMultiRegionTrail)|\(.LogFileValidationEnabled)|\(.IsOrganizationTrail // false)"' <<<"$t")" = \
			"$BUCKET|true|true|$([ "$ORG" = 1 ] && echo true || echo false)" ]; then
			say "trail $TRAIL exists"
		else
			aws_do cloudtrail update-trail "${R[@]}" --name "$TRAIL" --s3-bucket-name "$BUCKET" \
				--is-multi-region-trail --enable-log-file-validation \
				"${org_flag[@]}" $([ "$ORG" = 1 ] || echo --no-is-organization-trail)
		fi
	else
		[ "$DRY" = 1 ] || [ -z "$AWS_ERR" ] || not_found 'TrailNotFound'
		aws_do cloudtrail create-trail "${R[@]}" --name "$TRAIL" --s3-bucket-name "$BUCKET" \
			--is-multi-region-trail --enable-log-file-validation "${org_flag[@]}"
	fi
	if aws_read got cloudtrail get-trail-status "${R[@]}" --name "$TRAIL" &&
		[ "$(jq -r .IsLogging <<<"$got")" = true ]; then
		say "trail $TRAIL is logging"
	else
		[ -z "$AWS_ERR" ] || [ "$DRY" = 1 ] || not_found 'TrailNotFound'
		aws_do cloudtrail start-logging "${R[@]}" --name "$TRAIL"
	fi
}

ensure_topic_and_queue() {
	local got want url subs
	if aws_read got sns get-topic-attributes "${R[@]}" --topic-arn "$TOPIC_ARN"; then
		say "topic $TOPIC exists"
	else
		not_found 'NotFound'
		aws_do sns create-topic "${R[@]}" --name "$TOPIC"
		got='{}'
	fi
	want=$(topic_policy)
	if same "$(jq -r '.Attributes.Policy // "{}"' <<<"$got")" "$want"; then
		say "topic policy lets S3 publish"
	else
		aws_do sns set-topic-attributes "${R[@]}" --topic-arn "$TOPIC_ARN" \
			--attribute-name Policy --attribute-value "$(jq -c . <<<"$want")"
	fi

	if aws_read got sqs get-queue-url "${R[@]}" --queue-name "$QUEUE"; then
		url=$(jq -r .QueueUrl <<<"$got")
		say "queue $QUEUE exists"
	else
		not_found 'NonExistentQueue|QueueDoesNotExist'
		aws_do sqs create-queue "${R[@]}" --queue-name "$QUEUE" \
			--attributes '{"MessageRetentionPeriod":"345600","VisibilityTimeout":"120","SqsManagedSseEnabled":"true"}'
		url=$(jq -r '.QueueUrl // empty' <<<"$AWS_OUT")
		url=${url:-https://sqs.$REGION.amazonaws.com/$ACCOUNT/$QUEUE}
	fi
	want=$(queue_policy)
	got='{}'
	if [ "$DRY" = 0 ]; then
		aws_read got sqs get-queue-attributes "${R[@]}" --queue-url "$url" --attribute-names Policy ||
			{ say "$AWS_ERR"; die "cannot read the queue's attributes; stopping"; }
	else
		show aws sqs get-queue-attributes "${R[@]}" --queue-url "$url" --attribute-names Policy
	fi
	if same "$(jq -r '.Attributes.Policy // "{}"' <<<"$got")" "$want"; then
		say "queue policy lets the topic send"
	else
		aws_do sqs set-queue-attributes "${R[@]}" --queue-url "$url" \
			--attributes "$(jq -cn --arg p "$(jq -c . <<<"$want")" '{Policy: $p}')"
	fi

	if aws_read subs sns list-subscriptions-by-topic "${R[@]}" --topic-arn "$TOPIC_ARN" &&
		jq -e --arg q "$QUEUE_ARN" '.Subscriptions | any(.Protocol == "sqs" and .Endpoint == $q)' <<<"$subs" >/dev/null; then
		say "queue $QUEUE is subscribed to topic $TOPIC"
	else
		[ -z "$AWS_ERR" ] || [ "$DRY" = 1 ] || { say "$AWS_ERR"; die "cannot list the topic's subscriptions; stopping"; }
		aws_do sns subscribe "${R[@]}" --topic-arn "$TOPIC_ARN" --protocol sqs \
			--notification-endpoint "$QUEUE_ARN"
	fi
}

ensure_notification() {
	local got want merged
	want=$(our_notification)
	aws_read got s3api get-bucket-notification-configuration --bucket "$BUCKET" || {
		[ "$DRY" = 1 ] || { say "$AWS_ERR"; die "cannot read the bucket's notifications; stopping"; }
		got='{}'
	}
	if jq -e --argjson w "$want" '(.TopicConfigurations // []) | any(. == $w)' <<<"$got" >/dev/null; then
		say "bucket notifies the topic of new log files"
		return 0
	fi
	# keep whatever else the bucket notifies; replace only ours
	merged=$(jq -c --argjson w "$want" --arg id "$NOTIFY_ID" \
		'del(.ResponseMetadata) | .TopicConfigurations = ([(.TopicConfigurations // [])[] | select(.Id != $id)] + [$w])' <<<"$got")
	aws_do s3api put-bucket-notification-configuration --bucket "$BUCKET" \
		--notification-configuration "$merged"
}

print_settings() {
	if [ "$DRY" = 1 ]; then
		printf '\n(dry run: nothing was changed.)  Once run:'
	else
		printf '\nDone.'
	fi
	cat <<EOF
  CloudTrail writes to s3://$BUCKET/AWSLogs/ (first files within ~15 minutes);
each new file is announced on topic $TOPIC and lands in queue $QUEUE.

Falco's CloudTrail plugin (falco.yaml, or falco: in the Falco chart's values):
  plugins:
    - name: cloudtrail
      library_path: libcloudtrail.so
      init_config:
        sqsDelete: true
        useS3SNS: true        # S3 event notifications delivered through SNS
      open_params: "sqs://$QUEUE"
    - name: json
      library_path: libjson.so
      init_config: ""
  load_plugins: [cloudtrail, json]
  # Falco needs sqs:ReceiveMessage, sqs:DeleteMessage on $QUEUE_ARN
  # and s3:GetObject on $BUCKET_ARN/AWSLogs/*${KMS_KEY:+ (and kms:Decrypt on $KMS_KEY)}

tfdrift-falco with docker-compose (.env):
  FALCO_CLOUDTRAIL_OPEN_PARAMS=sqs://$QUEUE
  AWS_REGION=$REGION

Backfill (the logs already in the bucket, read once) with open_params:
  s3://$BUCKET/AWSLogs/${ORG_ID:+$ORG_ID/}$ACCOUNT/CloudTrail/
EOF
}

# ---- teardown ---------------------------------------------------------------------------

teardown() {
	local got url subs arn
	if aws_read got s3api get-bucket-notification-configuration --bucket "$BUCKET"; then
		if jq -e --arg id "$NOTIFY_ID" '(.TopicConfigurations // []) | any(.Id == $id)' <<<"$got" >/dev/null; then
			aws_do s3api put-bucket-notification-configuration --bucket "$BUCKET" \
				--notification-configuration "$(jq -c --arg id "$NOTIFY_ID" \
					'del(.ResponseMetadata) | .TopicConfigurations = [(.TopicConfigurations // [])[] | select(.Id != $id)]' <<<"$got")"
		fi
	else
		not_found 'NoSuchBucket|\(404\)'
	fi
	if aws_read subs sns list-subscriptions-by-topic "${R[@]}" --topic-arn "$TOPIC_ARN"; then
		for arn in $(jq -r --arg q "$QUEUE_ARN" '.Subscriptions[] | select(.Endpoint == $q) | .SubscriptionArn' <<<"$subs"); do
			aws_do sns unsubscribe "${R[@]}" --subscription-arn "$arn"
		done
		aws_do sns delete-topic "${R[@]}" --topic-arn "$TOPIC_ARN"
	else
		not_found 'NotFound'
	fi
	if aws_read got sqs get-queue-url "${R[@]}" --queue-name "$QUEUE"; then
		url=$(jq -r .QueueUrl <<<"$got")
		aws_do sqs delete-queue "${R[@]}" --queue-url "$url"
	else
		not_found 'NonExistentQueue|QueueDoesNotExist'
	fi
	if aws_read got cloudtrail describe-trails "${R[@]}" --trail-name-list "$TRAIL" &&
		jq -e '.trailList | length > 0' <<<"$got" >/dev/null; then
		aws_do cloudtrail stop-logging "${R[@]}" --name "$TRAIL"
		aws_do cloudtrail delete-trail "${R[@]}" --name "$TRAIL"
	elif [ "$DRY" = 1 ]; then
		aws_do cloudtrail stop-logging "${R[@]}" --name "$TRAIL"
		aws_do cloudtrail delete-trail "${R[@]}" --name "$TRAIL"
	fi
	if [ "$DELETE_BUCKET" = 1 ]; then
		if aws_read ignored s3api head-bucket --bucket "$BUCKET" || [ "$DRY" = 1 ]; then
			aws_do s3 rm "s3://$BUCKET" --recursive
			aws_do s3api delete-bucket --bucket "$BUCKET" "${R[@]}"
		fi
	else
		say "kept bucket $BUCKET and its logs (audit records); --delete-bucket removes them"
	fi
	say "teardown done"
}

if [ "$TEARDOWN" = 1 ]; then
	teardown
	exit 0
fi
ensure_bucket
ensure_trail
ensure_topic_and_queue
ensure_notification
print_settings
