#!/usr/bin/env bash
# state-loader's remote sources against local servers speaking the real
# protocols (tests/peers/state_backends.js): S3 (s3rver behind a proxy that
# verifies each request's SigV4 signature with the test's secret), the
# Terraform http backend (basic auth, ETag) and the HCP Terraform API.
# Checks: every S3 request is validly signed; unchanged objects are polled
# with If-None-Match (304); a changed object triggers exactly one reload;
# 404 is an empty workspace; a wrong password is an error that keeps the
# other sources working; workspace discovery (workspace=*), paged, and the
# listing answering the discovered workspaces' checks (no GET while it shows
# the ETag they loaded; a changed one fetched at once).
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/state_backends.sh
source "$(dirname "$0")/../lib/state_backends.sh"
command -v node >/dev/null || bail "node is needed"

start_state_backends --user ci --password 'p@ss:w0rd' --token hcp-token-1 ||
	bail "backends did not start: $(cat "$TD_TMP/backends.out")"

put_s3() { curl -fsS -X PUT --data-binary "@$2" "http://127.0.0.1:$PROXYP/__put/tfstate/$1" >/dev/null; }
mkstate() { # SERIAL ID FILE
	printf '{"version":4,"serial":%s,"lineage":"l-1","resources":[{"mode":"managed","type":"aws_vpc","name":"v","instances":[{"attributes":{"id":"%s","arn":"arn:aws:ec2:eu-west-1:1:vpc/%s"}}]}]}' "$1" "$2" "$2" >"$3"
}
check "object stored in s3rver" put_s3 "env:/staging/app.tfstate" "$TD_ROOT/tests/fixtures/states/prod.tfstate"
mkstate 1 vpc-http1 "$D/http/net"
mkstate 7 vpc-hcp7 "$D/hcp-state.json"

start_redis
cfg_set state_loader sources "[\"prod/app=s3://tfstate/app.tfstate?region=eu-west-1&workspace=staging&endpoint=http://127.0.0.1:$PROXYP\", \"prod/net=http://ci:p%40ss%3Aw0rd@127.0.0.1:$HTTPP/state/net#account=222222222222\", \"prod/none=http://127.0.0.1:$HTTPP/state/missing#user=ci&password_env=TD_HTTP_PW\", \"prod/bad=http://ci:wrong@127.0.0.1:$HTTPP/state/net\", \"hcp/prod=hcp://acme/prod?host=127.0.0.1:$HCPP&scheme=http&token_env=TD_HCP_TOKEN#account=777777777777&region=us-west-2\"]"
cfg_set state_loader poll_interval 1s
write_config
TD_ENV="AWS_ACCESS_KEY_ID=AKIDTFDRIFTTEST AWS_SECRET_ACCESS_KEY=tEst/Secret+Key AWS_SESSION_TOKEN=sess-tok TD_HTTP_PW=p@ss:w0rd TD_HCP_TOKEN=hcp-token-1" \
	start_service state-loader
wait_admin state-loader 20 || bail "state-loader did not come up"
P=tfdrift:
for _ in $(seq 100); do [ -n "$(rcli HGET ${P}workspaces hcp/prod | jq -r '.loaded_at // empty')" ] && break; sleep 0.1; done
check "/readyz names the failing source" sh -c "curl -s '$(admin_url state-loader)/readyz' | jq -e '.checks.sources.ok == false and (.checks.sources.reason | test(\"prod/bad: .*HTTP 401\"))'"

# the claim that answers (docs/redis-keys.md): workspace, address, type
idx() { idx_claim "$1" $P; }
ws() { rcli HGET ${P}workspaces "$1"; }
check_eq "s3 (workspace staging): instance indexed" "$(printf 'prod/app\taws_instance.web[0]\taws_instance')" \
	"$(idx @123456789012:eu-west-1:i-0aaaaaaaaaaaaaaa0)"
# these states' ARNs name no valid account: the sources' #account= options
# scope them (the ARN's region wins over #region=, the state says it)
check_eq "http backend: indexed in the option's account" "$(printf 'prod/net\taws_vpc.v\taws_vpc')" \
	"$(idx @222222222222:eu-west-1:vpc-http1)"
check_eq "hcp: indexed in the option's account" "$(printf 'hcp/prod\taws_vpc.v\taws_vpc')" \
	"$(idx @777777777777:eu-west-1:vpc-hcp7)"
check_eq "prod/bad (no options): nothing loaded, nothing unscoped" "" "$(idx vpc-http1)"
check_eq "the status shows the account" '["777777777777"] true' "$(ws hcp/prod | jq -c -j '.accounts, " ", .account_known')"
check_eq "http 404: an empty workspace, no error" "0 null" "$(ws prod/none | jq -r '"\(.resources) \(.last_error)"')"
check "wrong password: the error is shown, without the password" \
	sh -c "redis-cli -p $TD_REDIS_PORT HGET ${P}workspaces prod/bad | jq -e '.last_error | test(\"HTTP 401\")'"
check "no password in the status" sh -c "! redis-cli -p $TD_REDIS_PORT HGETALL ${P}workspaces | grep -qE 'wrong|w0rd|hcp-token'"
check "no secret in the log" sh -c "! grep -qE 'wrong|w0rd|hcp-token|tEst/Secret|sess-tok' '${TD_LOG[state-loader]}'"
check_eq "status names the source kind" "s3 s3://tfstate/env:/staging/app.tfstate" "$(ws prod/app | jq -r '"\(.source) \(.path)"')"

# ---- signatures ----
check "every S3 request of the loader was validly signed" sh -c "[ \$(jq -s '[.[] | select(.kind==\"s3\")] | length' '$LOG') -ge 1 ] && jq -s -e 'all(.[] | select(.kind==\"s3\"); .sig_ok and .region==\"eu-west-1\" and .token==\"sess-tok\")' '$LOG'"
URL="http://127.0.0.1:$PROXYP/tfstate/env:/staging/app.tfstate"
check_eq "the verifier refuses a wrong secret" 403 \
	"$(curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 aws:amz:eu-west-1:s3 -u AKIDTFDRIFTTEST:wrong "$URL")"
check_eq "the verifier accepts the right one" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 aws:amz:eu-west-1:s3 -u 'AKIDTFDRIFTTEST:tEst/Secret+Key' "$URL")"
check "s3 path is <prefix>/<workspace>/<key>" jq -s -e 'any(.[]; .kind=="s3" and .path=="/tfstate/env:/staging/app.tfstate")' "$LOG"

# ---- polling: unchanged -> 304, no new generation ----
GEN="$(rcli GET ${P}gen)"
n0=$(jq -s '[.[] | select(.kind=="s3")] | length' "$LOG")
for _ in $(seq 60); do
	[ "$(jq -s '[.[] | select(.kind=="s3")] | length' "$LOG")" -ge $((n0 + 2)) ] && break
	sleep 0.1
done
check "later polls carry If-None-Match and get 304" \
	jq -s -e '[.[] | select(.kind=="s3")] | .[-1] | .inm != null and .status == 304' "$LOG"
check "http backend polls get 304 too" \
	jq -s -e '[.[] | select(.kind=="http" and .path=="/state/net" and .status != 401)] | .[-1].status == 304' "$LOG"
check_eq "no new generation while nothing changed" "$GEN" "$(rcli GET ${P}gen)"

# ---- a changed object: exactly one reload ----
switches() { grep -c '"index workspaces switched"' "${TD_LOG[state-loader]}"; }
sw0=$(switches)
HCPGEN="$(ws_gen hcp/prod $P)"
sed 's/"serial": 42/"serial": 43/; s/i-0aaaaaaaaaaaaaaa0/i-0ddddddddddddddd0/' "$TD_ROOT/tests/fixtures/states/prod.tfstate" >"$TD_TMP/p43.tfstate"
put_s3 "env:/staging/app.tfstate" "$TD_TMP/p43.tfstate"
for _ in $(seq 60); do [ -n "$(idx @123456789012:eu-west-1:i-0ddddddddddddddd0)" ] && break; sleep 0.1; done
check_eq "the changed object is loaded" "$(printf 'prod/app\taws_instance.web[0]\taws_instance')" "$(idx @123456789012:eu-west-1:i-0ddddddddddddddd0)"
n1=$(jq -s '[.[] | select(.kind=="s3")] | length' "$LOG")
for _ in $(seq 60); do
	[ "$(jq -s '[.[] | select(.kind=="s3")] | length' "$LOG")" -ge $((n1 + 2)) ] && break
	sleep 0.1
done
check_eq "exactly one reload for one change" $((sw0 + 1)) "$(switches)"
check_eq "serial 43 in the status" 43 "$(ws prod/app | jq .serial)"
check_eq "... the other workspaces keep their generation (hcp/prod)" "$HCPGEN" "$(ws_gen hcp/prod $P)"
check_eq "... prod/app's claims name its new generation" "$(ws_gen prod/app $P)" \
	"$(idx_claim_gen @123456789012:eu-west-1:i-0ddddddddddddddd0 $P)"
check_eq "... the old instance id is no longer claimed" "" "$(idx @123456789012:eu-west-1:i-0aaaaaaaaaaaaaaa0)"

# ---- hcp: a new state version is picked up ----
mkstate 8 vpc-hcp8 "$D/hcp-state.json"
for _ in $(seq 60); do [ -n "$(idx @777777777777:eu-west-1:vpc-hcp8)" ] && break; sleep 0.1; done
check_eq "hcp: new state version loaded" "$(printf 'hcp/prod\taws_vpc.v\taws_vpc')" "$(idx @777777777777:eu-west-1:vpc-hcp8)"
check "hcp requests were authorised" sh -c "! jq -s -e 'any(.[]; .kind==\"hcp\" and .status==401)' '$LOG'"

# ---- the credential chain: web identity, ECS, IMDSv2 (each its own session token) ----
stop_service state-loader 10 >/dev/null
echo web-id-jwt >"$TD_TMP/jwt"
printf 'ecs-auth\n' >"$TD_TMP/ecs-auth"
cfg_set state_loader sources "[\"prod/app=s3://tfstate/app.tfstate?region=eu-west-1&workspace=staging&endpoint=http://127.0.0.1:$PROXYP\"]"
write_config
NOIMDS="AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:1 HOME=$TD_TMP"
# profiles: credential_process (prints JSON Version 1, counts its runs) and
# role_arn + source_profile (STS AssumeRole signed with the source's keys)
cat >"$TD_TMP/cred-proc.sh" <<EOP
echo run >>"$TD_TMP/cred-proc.runs"
printf '{"Version":1,"AccessKeyId":"AKIDTFDRIFTTEST","SecretAccessKey":"tEst/Secret+Key","SessionToken":"process-tok","Expiration":"2999-01-01T00:00:00Z"}'
EOP
printf '[profile ssoprof]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = TfDrift\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n[profile badrole]\nrole_arn = arn:aws:iam::1:role/other\nsource_profile = base\n[profile proc]\ncredential_process = sh %s/cred-proc.sh\n[profile role]\nrole_arn = arn:aws:iam::1:role/tfdrift-assumed\nsource_profile = base\nregion = eu-west-1\nrole_session_name = tfdrift-it\n' \
	"$TD_TMP" >"$TD_TMP/aws-config"
printf '[base]\naws_access_key_id = AKIDTFDRIFTTEST\naws_secret_access_key = tEst/Secret+Key\n' >"$TD_TMP/aws-creds"
PROFILES="AWS_CONFIG_FILE=$TD_TMP/aws-config AWS_SHARED_CREDENTIALS_FILE=$TD_TMP/aws-creds"
# the token `aws sso login` caches, named by the SHA-1 of the session name
mkdir -p "$TD_TMP/.aws/sso/cache"
printf '{"accessToken":"sso-access-token","expiresAt":"2999-01-01T00:00:00Z"}' \
	>"$TD_TMP/.aws/sso/cache/$(printf corp | sha1sum | cut -d' ' -f1).json"
declare -A CHAIN=(
	[sts]="AWS_ROLE_ARN=arn:aws:iam::1:role/tfdrift AWS_WEB_IDENTITY_TOKEN_FILE=$TD_TMP/jwt AWS_ENDPOINT_URL_STS=http://127.0.0.1:$AWSP $NOIMDS"
	[ecs]="AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:$AWSP/ecs/creds AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$TD_TMP/ecs-auth $NOIMDS"
	[imds]="AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:$AWSP HOME=$TD_TMP"
	[process]="AWS_PROFILE=proc $PROFILES $NOIMDS"
	[role]="AWS_PROFILE=role $PROFILES AWS_ENDPOINT_URL_STS=http://127.0.0.1:$AWSP $NOIMDS"
	[sso]="AWS_PROFILE=ssoprof $PROFILES AWS_ENDPOINT_URL_SSO=http://127.0.0.1:$AWSP $NOIMDS"
)
for how in sts ecs imds process role sso; do
	rcli FLUSHALL >/dev/null
	TD_INSTANCE=loader-$how TD_ENV="${CHAIN[$how]}" start_service state-loader
	for _ in $(seq 100); do
		[ "$(rcli HGET ${P}workspaces prod/app | jq -r .serial 2>/dev/null)" = 43 ] && break
		sleep 0.1
	done
	check_eq "credentials from $how: the S3 state is loaded" 43 "$(rcli HGET ${P}workspaces prod/app | jq -r .serial)"
	check "credentials from $how: requests signed, with the $how session token" \
		jq -s -e "[.[] | select(.kind==\"s3\")] | .[-1] | .sig_ok and .token==\"$how-tok\"" "$LOG"
	[ "$how" = process ] && {
		# a few polls (1 s) more: the credentials expire in 2999, so the process ran once
		n=$(jq -s '[.[] | select(.kind=="s3")] | length' "$LOG")
		for _ in $(seq 60); do
			[ "$(jq -s '[.[] | select(.kind=="s3")] | length' "$LOG")" -ge $((n + 2)) ] && break
			sleep 0.1
		done
		check_eq "credential_process: run once, its Expiration honoured" 1 "$(wc -l <"$TD_TMP/cred-proc.runs")"
	}
	stop_service "loader-$how" 10 >/dev/null
done
check "AssumeRole: signed (SigV4, sts) with the source profile's key, in the profile's region" jq -s -e \
	'[.[] | select(.action=="AssumeRole")] | length >= 1 and all(.sig_ok and .status==200 and .region=="eu-west-1" and .session=="tfdrift-it" and .token==null)' "$LOG"
check_eq "AssumeRole: asked once (the credentials are cached until shortly before they expire)" 1 \
	"$(jq -s '[.[] | select(.action=="AssumeRole")] | length' "$LOG")"
rcli FLUSHALL >/dev/null
TD_INSTANCE=loader-badrole TD_ENV="AWS_PROFILE=badrole $PROFILES AWS_ENDPOINT_URL_STS=http://127.0.0.1:$AWSP $NOIMDS" start_service state-loader
for _ in $(seq 100); do [ "$(rcli HGET ${P}workspaces prod/app | jq -r .last_error 2>/dev/null)" != null ] && [ -n "$(rcli HGET ${P}workspaces prod/app)" ] && break; sleep 0.1; done
check "a refused AssumeRole: the error names the source, the profile, the role and STS's code" sh -c \
	"redis-cli -p $TD_REDIS_PORT HGET ${P}workspaces prod/app | jq -e '.last_error | test(\"^s3://tfstate/env:/staging/app.tfstate: profile badrole: sts AssumeRole arn:aws:iam::1:role/other: HTTP 403 AccessDenied\")'"
stop_service loader-badrole 10 >/dev/null
# ---- workspace discovery (workspace=*), paged: one key per ListObjectsV2 page ----
mkstate 3 vpc-dev3 "$TD_TMP/dev.tfstate"
check "a second workspace object stored" put_s3 "env:/dev/app.tfstate" "$TD_TMP/dev.tfstate"
check "an unrelated key stored" put_s3 "env:/dev/other.tfstate" "$TD_TMP/dev.tfstate"
for w in qa1 qa2 zz; do
	mkstate 5 "vpc-$w" "$TD_TMP/$w.tfstate"
	put_s3 "env:/$w/app.tfstate" "$TD_TMP/$w.tfstate"
done
rcli FLUSHALL >/dev/null
cfg_set state_loader sources "[\"prod/all=s3://tfstate/app.tfstate?region=eu-west-1&workspace=*&max_keys=1&endpoint=http://127.0.0.1:$PROXYP\"]"
write_config
TD_INSTANCE=loader-discover TD_ENV="AWS_ACCESS_KEY_ID=AKIDTFDRIFTTEST AWS_SECRET_ACCESS_KEY=tEst/Secret+Key" start_service state-loader
for _ in $(seq 100); do [ "$(rcli HLEN ${P}workspaces)" = 6 ] && break; sleep 0.1; done
check_eq "discovered on 6 pages: the default workspace and five more" \
	"prod/all prod/all/dev prod/all/qa1 prod/all/qa2 prod/all/staging prod/all/zz" \
	"$(rcli HKEYS ${P}workspaces | sort | xargs)"
check_eq "discovered dev workspace indexed" "$(printf 'prod/all/dev\taws_vpc.v\taws_vpc')" "$(idx vpc-dev3)"
check_eq "the workspace on the last page is indexed" "$(printf 'prod/all/zz\taws_vpc.v\taws_vpc')" "$(idx vpc-zz)"
check_eq "default workspace (no object): empty" 0 "$(rcli HGET ${P}workspaces prod/all | jq .resources)"
check "the listing request was signed" jq -s -e 'any(.[]; .kind=="s3" and (.path | test("list-type=2")) and .sig_ok and .status==200)' "$LOG"
check "later pages carry the continuation token, signed" jq -s -e '[.[] | select(.kind=="s3" and (.path | test("continuation-token=")))] | length >= 5 and all(.sig_ok and .status==200)' "$LOG"
stop_service loader-discover 10 >/dev/null

# ---- discovered workspaces are answered by the listing: no GET while their ETag is listed ----
# 20 more workspaces (25 in all, 6 pages of 5 keys); every poll after the first
# GETs asks only for the listing pages (and the source's own default key)
for i in $(seq -w 1 20); do
	mkstate 6 "vpc-w$i" "$TD_TMP/w.tfstate"
	put_s3 "env:/w$i/app.tfstate" "$TD_TMP/w.tfstate" || bail "put w$i failed"
done
rcli FLUSHALL >/dev/null
cfg_set state_loader sources "[\"prod/all=s3://tfstate/app.tfstate?region=eu-west-1&workspace=*&max_keys=5&endpoint=http://127.0.0.1:$PROXYP\"]"
cfg_set state_loader poll_interval 2s
write_config
TD_INSTANCE=loader-listing TD_ENV="AWS_ACCESS_KEY_ID=AKIDTFDRIFTTEST AWS_SECRET_ACCESS_KEY=tEst/Secret+Key" start_service state-loader
for _ in $(seq 200); do [ "$(rcli HLEN ${P}workspaces)" = 26 ] && [ -n "$(idx vpc-w20)" ] && break; sleep 0.1; done
check_eq "26 workspaces discovered and loaded" 26 "$(rcli HLEN ${P}workspaces)"
# s3_gets FROM_LINE [KEY_REGEX] — GETs of discovered workspaces' objects logged after FROM_LINE
s3_gets() {
	tail -n +"$(($1 + 1))" "$LOG" | jq -s -c --arg re "${2:-.}" \
		'[.[] | select(.kind=="s3" and .method=="GET" and (.path | test("^/tfstate/env:/[^/]+/app.tfstate$")) and (.path | test($re)))]'
}
listings() { # FROM_LINE — first listing pages logged after FROM_LINE
	tail -n +"$(($1 + 1))" "$LOG" | jq -s '[.[] | select(.kind=="s3" and (.path | test("list-type=2")) and (.path | test("continuation-token") | not))] | length'
}
n0=$(wc -l <"$LOG")
# two listings later every workspace has been checked again (each within a
# poll interval and a tenth)
for _ in $(seq 300); do
	[ "$(listings "$n0")" -ge 3 ] && [ "$(metric state-loader tfdrift_state_listing_unchanged_total)" -ge 25 ] && break
	sleep 0.1
done
check "the listing answered every discovered workspace's check" \
	test "$(metric state-loader tfdrift_state_listing_unchanged_total)" -ge 25
check_eq "... with no GET of their objects: only listing pages went out" "[]" "$(s3_gets "$n0")"
check "... and the listing pages were signed and answered" sh -c "tail -n +$((n0 + 1)) '$LOG' | jq -s -e '[.[] | select(.kind==\"s3\" and (.path | test(\"list-type=2\")))] | length >= 12 and all(.sig_ok and .status==200)'"
# a changed object: the next listing shows another ETag, and the workspace is fetched at once
n1=$(wc -l <"$LOG")
mkstate 7 vpc-w07b "$TD_TMP/w.tfstate"
put_s3 "env:/w07/app.tfstate" "$TD_TMP/w.tfstate"
for _ in $(seq 150); do [ -n "$(idx vpc-w07b)" ] && break; sleep 0.1; done
check_eq "the changed workspace is loaded" "$(printf 'prod/all/w07\taws_vpc.v\taws_vpc')" "$(idx vpc-w07b)"
check_eq "... by one GET of its object (200), and no other workspace's" '[["/tfstate/env:/w07/app.tfstate",200]]' \
	"$(s3_gets "$n1" | jq -c '[.[] | [.path, .status]]')"
stop_service loader-listing 10 >/dev/null
check "no credential secret in the logs" sh -c "! grep -qE 'tEst/Secret|sts-tok|ecs-tok|imds-tok|web-id-jwt|process-tok|role-tok|sso-tok|sso-access-token' '$TD_TMP'/logs/loader-*.log"
finish
