#!/usr/bin/env bash
# The Helm chart k8s/tfdrift-falco without a cluster: appVersion is the
# VERSION file; values.yaml, and each example values file merged over it as
# helm does, are valid against values.schema.json (ajv); a typo or a wrong
# type is refused naming the key; every .Values path a template uses is in
# the schema, and every schema property is described; the templates' actions
# are balanced; the defaults carry the full securityContext; the values for
# the upstream Falco chart post to the ingest Service the chart makes.  With
# helm on the PATH, helm lint and helm template (piped into the rendered-
# manifest check) run too; without it that part says it was skipped.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
need node

CHART="$TD_ROOT/k8s/tfdrift-falco"
SCHEMA="$CHART/values.schema.json"
CHECK="$TD_ROOT/tests/deploy/chart_check.js"
[ -d "$TD_ROOT/tests/deploy/node_modules/ajv" ] || bail "tests/deploy/node_modules missing (run: make deps)"
cc() { node "$CHECK" "$@"; }

check_eq "Chart.yaml appVersion is the VERSION file" "\"$(tr -d ' \n' <"$TD_ROOT/VERSION")\"" \
	"$(cc get "$CHART/Chart.yaml" appVersion)"

out="$(cc values "$SCHEMA" "$CHART/values.yaml" "$CHART"/examples/*.yaml 2>&1)"
rc=$?
n_examples="$(ls "$CHART"/examples/*.yaml | wc -l)"
check_eq "values.yaml and the $n_examples example values files are valid against values.schema.json" \
	"0:$((n_examples + 1))" "$rc:$(grep -c '^valid: ' <<<"$out")"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'

# the schema refuses what helm install should refuse
bad() { # NAME YAML EXPECTED_MESSAGE
	printf '%s\n' "$2" >"$TD_TMP/bad.yaml"
	local got
	got="$(cc values "$SCHEMA" "$CHART/values.yaml" "$TD_TMP/bad.yaml" 2>&1)"
	check_eq "the schema refuses $1" "yes" "$(grep -qF -- "$3" <<<"$got" && echo yes || echo "$got")"
}
bad "a misspelt key" $'components:\n  ingest:\n    replica: 2' "bad.yaml: /components/ingest: unknown key 'replica'"
bad "a port out of range" $'adminPort: 70000' "bad.yaml: /adminPort: must be <= 65535"
bad "a string where a number goes" $'redis:\n  port: "6379"' "bad.yaml: /redis/port: must be integer"
bad "an unknown config section" $'config:\n  ingset:\n    http_port: 1' "bad.yaml: /config: must be equal to one of the allowed values"
bad "a malformed API token" $'secrets:\n  apiTokens: "me:root:abc"' "bad.yaml: /secrets/apiTokens: must match pattern"
bad "an unknown seccomp type" $'securityContext:\n  seccompProfile:\n    type: Default' "bad.yaml: /securityContext/seccompProfile/type: must be equal to one of the allowed values"

out="$(cc paths "$SCHEMA" "$CHART/templates" 2>&1)"
check "every .Values path in the templates is in values.schema.json ($(tail -n 1 <<<"$out"))" test "$?" -eq 0 ||
	printf '%s\n' "$out" | sed 's/^/#   /'
mkdir -p "$TD_TMP/tpl"
printf 'x: {{ .Values.components.ingest.replicaz }}\n' >"$TD_TMP/tpl/t.yaml"
out="$(cc paths "$SCHEMA" "$TD_TMP/tpl" 2>&1)"
check_eq "... and a path that is not is named with its file and line" "yes" \
	"$(grep -qF "t.yaml:1: .Values.components.ingest.replicaz: 'components.ingest.replicaz' is not in values.schema.json" <<<"$out" && echo yes || echo "$out")"
out="$(cc described "$SCHEMA" 2>&1)"
check "every property of values.schema.json has a description" test -z "$out" || printf '%s\n' "$out" | sed 's/^/#   /'
out="$(cc balance "$CHART/templates" 2>&1)"
check "every template's if/range/with/define has its end" test -z "$out" || printf '%s\n' "$out" | sed 's/^/#   /'

out="$(python3 "$TD_ROOT/tests/deploy/configmap_keys.py" "$CHART/templates/configmap.yaml" "$TD_ROOT/libcommon/src/config_directives.c" 2>&1)"
check "the rendered config.yaml uses only keys the processes know ($(tail -n 1 <<<"$out"))" test "$?" -eq 0 ||
	printf '%s\n' "$out" | sed 's/^/#   /'
grep '^conditional:' <<<"$out" | sed 's/^/# /'
sed 's/"http_bind" "0.0.0.0"/"http_bnd" "0.0.0.0"/' "$CHART/templates/configmap.yaml" >"$TD_TMP/cm.tpl"
check_eq "... and names one it does not" "unknown: ingest.http_bnd" \
	"$(python3 "$TD_ROOT/tests/deploy/configmap_keys.py" "$TD_TMP/cm.tpl" "$TD_ROOT/libcommon/src/config_directives.c" | grep '^unknown')"

v="$CHART/values.yaml"
check_eq "defaults: non-root, uid 10001, RuntimeDefault seccomp for the pod" "true|10001|\"RuntimeDefault\"" \
	"$(cc get "$v" podSecurityContext.runAsNonRoot)|$(cc get "$v" podSecurityContext.runAsUser)|$(cc get "$v" podSecurityContext.seccompProfile.type)"
check_eq "defaults: read-only root, no escalation, capabilities dropped, RuntimeDefault for the container" \
	'true|false|["ALL"]|"RuntimeDefault"' \
	"$(cc get "$v" securityContext.readOnlyRootFilesystem)|$(cc get "$v" securityContext.allowPrivilegeEscalation)|$(cc get "$v" securityContext.capabilities.drop)|$(cc get "$v" securityContext.seccompProfile.type)"
check "the ingest and persistence templates are StatefulSets with a data claim" \
	grep -q 'volumeClaimTemplates:' "$CHART/templates/workloads.yaml"
check "the headless bus Services publish not-ready addresses" \
	grep -q 'publishNotReadyAddresses: true' "$CHART/templates/services.yaml"

# the upstream Falco chart's values: CloudTrail plugin, http_output to ingest
FV="$TD_ROOT/k8s/falco-values.yaml"
check_eq "falco-values.yaml: the cloudtrail plugin reads an SQS queue" "yes" \
	"$(cc get "$FV" 'falco.plugins[0].open_params' | grep -q '^"sqs://' && [ "$(cc get "$FV" 'falco.plugins[0].name')" = '"cloudtrail"' ] && echo yes || echo no)"
check_eq "falco-values.yaml: http_output posts to the chart's ingest-http Service and port" \
	"\"http://tfdrift-tfdrift-ingest-http.tfdrift.svc:$(cc get "$v" components.ingest.ports.http)/api/v1/falco/events\"" \
	"$(cc get "$FV" falco.http_output.url)"
check_eq "falco-values.yaml: from the namespace the NetworkPolicy admits" "\"falco\"" "$(cc get "$v" networkPolicy.falcoNamespace)"

# the Secret the README and the production example tell users to create: kubectl
# (client side, no cluster) accepts each key name the chart reads, and the
# keys they create are the chart's
if command -v kubectl >/dev/null 2>&1; then
	args=()
	for k in postgresDsn redisPassword apiTokens falcoHttpToken slackWebhookUrl; do
		args+=("--from-literal=$(cc get "$v" "secrets.keys.$k" | tr -d '"')=x")
	done
	out="$(kubectl create secret generic tfdrift-secrets --dry-run=client -o json "${args[@]}" 2>&1)"
	check_eq "kubectl create secret --dry-run=client takes every key name of secrets.keys" "5" \
		"$(node -e 'console.log(Object.keys(JSON.parse(require("fs").readFileSync(0,"utf8")).data).length)' <<<"$out" 2>/dev/null || echo "$out")"
	documented="$(cat "$TD_ROOT/README.md" "$CHART/examples/values-production.yaml" |
		sed -n 's/.*--from-literal=\([a-z-]*\)=.*/\1/p' | sort -u)"
	unknown="$(for k in $documented; do grep -q "\"$k\"" <<<"$(cc get "$v" secrets.keys)" || printf '%s ' "$k"; done)"
	check_eq "the Secret keys the README and the production example create are the chart's" "" "$unknown"
else
	diag "SKIPPED: kubectl is not on the PATH (Secret key names not checked)"
fi

if command -v helm >/dev/null 2>&1; then
	check "helm lint" helm lint "$CHART" --set secrets.postgresDsn=host=pg
	for f in "" "$CHART"/examples/*.yaml; do
		name="${f:+$(basename "$f")}"
		out="$(helm template tfdrift "$CHART" -n tfdrift --set secrets.postgresDsn=host=pg ${f:+-f "$f"} 2>&1 | node "$CHECK" rendered 2>&1)"
		check "helm template ${name:-(defaults)} renders what the chart promises" test "$?" -eq 0 ||
			printf '%s\n' "$out" | sed 's/^/#   /'
	done
else
	diag "SKIPPED: helm is not on the PATH, so helm lint and helm template | chart_check.js rendered did not run"
fi
finish
