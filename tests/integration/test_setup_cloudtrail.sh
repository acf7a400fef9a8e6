#!/usr/bin/env bash
# scripts/setup-cloudtrail.sh against tests/deploy/fake-aws, an `aws` first on
# the PATH that records every call and answers like the real CLI (JSON,
# "An error occurred (Code) when calling the Op operation" with status 254,
# CloudTrail refusing a bucket policy that does not let it write, S3 refusing
# a notification to a topic that does not let it publish): the calls and their
# order, what exists afterwards, a second run that changes nothing, a failing
# call that stops the script with its message, an old bucket brought up to
# date without losing its other notifications, SSE-KMS, an organization trail,
# --dry-run, --teardown.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
need python3 jq

SCRIPT="$TD_ROOT/scripts/setup-cloudtrail.sh"
mkdir -p "$TD_TMP/bin"
ln -s "$TD_ROOT/tests/deploy/fake-aws" "$TD_TMP/bin/aws"
export PATH="$TD_TMP/bin:$PATH"
unset AWS_PROFILE AWS_REGION FAKE_AWS_FAIL FAKE_AWS_ORG
B=tfdrift-cloudtrail-111122223333-eu-west-1
TOPIC_ARN=arn:aws:sns:eu-west-1:111122223333:tfdrift-cloudtrail-events
QUEUE_ARN=arn:aws:sqs:eu-west-1:111122223333:tfdrift-cloudtrail-events

# run NAME [ARGS...]: the script with a state and call log of its own
run() {
	local name=$1
	shift
	FAKE_AWS_STATE="$TD_TMP/$STATE.json" FAKE_AWS_LOG="$TD_TMP/$name.calls" \
		bash "$SCRIPT" --region eu-west-1 "$@" >"$TD_TMP/$name.out" 2>&1
}
# "service operation" of each recorded call, one a line
calls() {
	[ -f "$TD_TMP/$1.calls" ] || return 0
	python3 -c '
import json, sys
for line in open(sys.argv[1]):
    a = json.loads(line); pos = []; i = 0
    while i < len(a):
        if a[i].startswith("--"):
            i += 1 if a[i] in ("--is-multi-region-trail", "--enable-log-file-validation", "--is-organization-trail", "--no-is-organization-trail", "--recursive") else 2
            continue
        pos.append(a[i]); i += 1
    print(" ".join(pos[:2]))' "$TD_TMP/$1.calls"
}
changes() { calls "$1" | grep -Ev ' (get-|head-|describe-|list-)' | grep -v '^sts '; }
state() { jq -r "$1" "$TD_TMP/$STATE.json"; }

# ---- a first run in an empty account ----
STATE=acct
run first
check_eq "a first run succeeds" 0 "$?" || sed 's/^/#   /' "$TD_TMP/first.out"
check_eq "its calls, in order" "sts get-caller-identity
s3api head-bucket
s3api create-bucket
s3api get-bucket-encryption
s3api get-public-access-block
s3api get-bucket-lifecycle-configuration
s3api put-bucket-lifecycle-configuration
s3api get-bucket-policy
s3api put-bucket-policy
cloudtrail describe-trails
cloudtrail create-trail
cloudtrail get-trail-status
cloudtrail start-logging
sns get-topic-attributes
sns create-topic
sns set-topic-attributes
sqs get-queue-url
sqs create-queue
sqs get-queue-attributes
sqs set-queue-attributes
sns list-subscriptions-by-topic
sns subscribe
s3api get-bucket-notification-configuration
s3api put-bucket-notification-configuration" "$(calls first)"
check_eq "the bucket is in eu-west-1, encrypted (SSE-S3), all public access blocked" "eu-west-1|AES256|true" \
	"$(state ".buckets[\"$B\"] | \"\(.region)|\(.encryption.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm)|\(.public_access_block | [.[]] | all)\"")"
check_eq "... log files expire after 365 days" "365" "$(state ".buckets[\"$B\"].lifecycle.Rules[0].Expiration.Days")"
check_eq "... its policy lets CloudTrail write AWSLogs/<account>/ for this trail only" \
	"arn:aws:s3:::$B/AWSLogs/111122223333/*|arn:aws:cloudtrail:eu-west-1:111122223333:trail/tfdrift" \
	"$(state ".buckets[\"$B\"].policy.Statement[] | select(.Sid == \"AWSCloudTrailWrite\") | \"\(.Resource)|\(.Condition.StringEquals[\"aws:SourceArn\"])\"")"
check_eq "the trail is multi-region, validates log files, logs to the bucket, is logging" "true|true|$B|true" \
	"$(state '.trails.tfdrift | "\(.IsMultiRegionTrail)|\(.LogFileValidationEnabled)|\(.S3BucketName)|\(.logging)"')"
check_eq "new log files notify the topic (AWSLogs/, .json.gz)" "$TOPIC_ARN|AWSLogs/|.json.gz" \
	"$(state ".buckets[\"$B\"].notification.TopicConfigurations[0] | \"\(.TopicArn)|\(.Filter.Key.FilterRules[0].Value)|\(.Filter.Key.FilterRules[1].Value)\"")"
check_eq "the queue is subscribed to the topic, and may be sent to by it only" "sqs|$QUEUE_ARN|$TOPIC_ARN" \
	"$(state ".subscriptions[0].Protocol")|$(state ".subscriptions[0].Endpoint")|$(state '.queues["tfdrift-cloudtrail-events"].attrs.Policy | fromjson | .Statement[0].Condition.ArnEquals["aws:SourceArn"]')"
check "it prints the plugin's open_params" grep -q 'open_params: "sqs://tfdrift-cloudtrail-events"' "$TD_TMP/first.out"
check "... its init_config (S3 notifications through SNS)" grep -q 'useS3SNS: true' "$TD_TMP/first.out"
check "... and the .env line for docker-compose" grep -qx '  FALCO_CLOUDTRAIL_OPEN_PARAMS=sqs://tfdrift-cloudtrail-events' "$TD_TMP/first.out"
check "every change is printed as a command" test "$(grep -c '^  aws ' "$TD_TMP/first.out")" -eq "$(changes first | wc -l)"

# ---- a second run changes nothing ----
cp "$TD_TMP/acct.json" "$TD_TMP/acct.before"
run second
check_eq "a second run succeeds" 0 "$?" || sed 's/^/#   /' "$TD_TMP/second.out"
check_eq "... makes only lookups" "" "$(changes second | tr '\n' ';')"
check "... and the account is as it was" cmp -s "$TD_TMP/acct.json" "$TD_TMP/acct.before"

# ---- a failing call stops the script with its message ----
STATE=failing
FAKE_AWS_FAIL="s3api put-bucket-policy:AccessDenied:User: arn:aws:iam::111122223333:user/admin is not authorized to perform: s3:PutBucketPolicy" run fail
rc=$?
check_eq "a refused put-bucket-policy: exit 1" 1 "$rc"
check "... the CLI's message is shown" grep -q 'An error occurred (AccessDenied) when calling the PutBucketPolicy operation: User: arn:aws:iam::111122223333:user/admin is not authorized to perform: s3:PutBucketPolicy' "$TD_TMP/fail.out"
check "... and says it stopped" grep -q 'aws s3api put-bucket-policy failed (status 254); stopping' "$TD_TMP/fail.out"
check_eq "... nothing after it was called" "s3api put-bucket-policy" "$(calls fail | tail -n 1)"
FAKE_AWS_FAIL="s3api get-bucket-policy:AccessDenied:Access Denied" run faillookup
check_eq "a lookup refused for another reason than 'not found' stops too (exit 1, no change after it)" "1|s3api get-bucket-policy" \
	"$?|$(calls faillookup | tail -n 1)"
rm -f "$TD_TMP/failing.json"
FAKE_AWS_FAIL="sts get-caller-identity:ExpiredToken:The security token included in the request is expired" run nocreds
check_eq "without working credentials: exit 1, one call, the reason shown" "1|1|yes" \
	"$?|$(calls nocreds | wc -l)|$(grep -q 'ExpiredToken' "$TD_TMP/nocreds.out" && grep -q 'no AWS credentials that work' "$TD_TMP/nocreds.out" && echo yes)"

# ---- an existing bucket of old: no default encryption or block, other notifications ----
STATE=old
cat >"$TD_TMP/old.json" <<JSON
{"buckets": {"$B": {"region": "eu-west-1", "objects": 3,
  "notification": {"QueueConfigurations": [{"Id": "someone-else", "QueueArn": "arn:aws:sqs:eu-west-1:111122223333:other", "Events": ["s3:ObjectRemoved:*"]}]}}},
 "trails": {}, "topics": {}, "queues": {}, "subscriptions": []}
JSON
run oldbucket --retention-days 90
check_eq "an existing bucket is not created again; encryption, block, lifecycle and policy are set" \
	"s3api put-bucket-encryption s3api put-public-access-block s3api put-bucket-lifecycle-configuration s3api put-bucket-policy " \
	"$(changes oldbucket | grep '^s3api put-bucket-\(encryption\|lifecycle\|policy\)\|put-public' | tr '\n' ' ')"
check_eq "... retention 90 days" "90" "$(state ".buckets[\"$B\"].lifecycle.Rules[0].Expiration.Days")"
check_eq "... the bucket's other notification is kept beside ours" "someone-else|tfdrift-cloudtrail" \
	"$(state ".buckets[\"$B\"].notification | \"\(.QueueConfigurations[0].Id)|\(.TopicConfigurations[0].Id)\"")"

# ---- SSE-KMS, an organization trail ----
STATE=kms
run kms --kms-key arn:aws:kms:eu-west-1:111122223333:key/abcd
check_eq "--kms-key: the bucket is encrypted with that key" "aws:kms|arn:aws:kms:eu-west-1:111122223333:key/abcd" \
	"$(state ".buckets[\"$B\"].encryption.Rules[0].ApplyServerSideEncryptionByDefault | \"\(.SSEAlgorithm)|\(.KMSMasterKeyID)\"")"
STATE=org
FAKE_AWS_ORG=o-a1b2c3d4e5 run org --organization
check_eq "--organization: an organization trail, the policy also covers AWSLogs/<org>/" "0|true|yes" \
	"$?|$(state '.trails.tfdrift.IsOrganizationTrail')|$(state ".buckets[\"$B\"].policy.Statement[] | select(.Sid == \"AWSCloudTrailWrite\") | .Resource | index(\"arn:aws:s3:::$B/AWSLogs/o-a1b2c3d4e5/*\") != null" | sed 's/true/yes/')"
STATE=noorg
run noorg --organization
check_eq "--organization outside an organization: exit 1 naming the management account" "1|yes" \
	"$?|$(grep -q 'run this in its management account' "$TD_TMP/noorg.out" && echo yes)"

# ---- --dry-run ----
STATE=dry
run dry --dry-run
check_eq "--dry-run: exit 0, no call made" "0|0" "$?|$(calls dry | wc -l)"
# knowing nothing, it prints the changes a first run might need: also the
# encryption and block that a new bucket has by default
check_eq "... every command printed, in order, changes included" \
	"$(calls first | sed 's/^\(s3api get-bucket-encryption\)$/\1;s3api put-bucket-encryption/; s/^\(s3api get-public-access-block\)$/\1;s3api put-public-access-block/' | tr '\n' ';')" \
	"$(sed -n 's/^  aws \([a-z0-9-]*\) \([a-z0-9-]*\).*/\1 \2/p' "$TD_TMP/dry.out" | tr '\n' ';')"

# ---- --teardown ----
STATE=acct
run teardown --teardown
check_eq "--teardown: exit 0; the notification, subscription, topic, queue and trail are gone" \
	"0|s3api put-bucket-notification-configuration sns unsubscribe sns delete-topic sqs delete-queue cloudtrail stop-logging cloudtrail delete-trail " \
	"$?|$(changes teardown | tr '\n' ' ')"
check_eq "... the bucket and its logs are kept" "yes|[]" \
	"$(state ".buckets | has(\"$B\")" | sed 's/true/yes/')|$(state ".buckets[\"$B\"].notification.TopicConfigurations" | jq -c .)"
run teardown2 --teardown --delete-bucket
check_eq "--teardown --delete-bucket: empties and deletes it, nothing else left" "0|s3 rm s3api delete-bucket |{}|{}|{}" \
	"$?|$(changes teardown2 | tr '\n' ' ')|$(state .buckets | jq -c .)|$(state .trails | jq -c .)|$(state .queues | jq -c .)"
run usage --bogus
check_eq "an unknown option is a usage error (exit 2)" 2 "$?"
finish
