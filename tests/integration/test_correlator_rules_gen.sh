#!/usr/bin/env bash
# deploy/falco/rules/terraform_drift.yaml is what tfdrift-rules-gen makes of
# the catalog today (stale -> fail), is YAML Falco can read, lists every
# catalog event under its eventSource, and outputs every ct.* field ingest
# rebuilds a record from.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"

RULES=deploy/falco/rules/terraform_drift.yaml
"$TD_BIN/tfdrift-rules-gen" >"$TD_TMP/rules.yaml"
check_eq "tfdrift-rules-gen exits 0" "0" "$?"
if cmp -s "$RULES" "$TD_TMP/rules.yaml"; then
	ok "$RULES is up to date with the catalog"
else
	not_ok "$RULES is up to date with the catalog" \
		"run: build/bin/tfdrift-rules-gen > $RULES ($(diff "$RULES" "$TD_TMP/rules.yaml" | grep -c '^[<>]') lines differ)"
fi

json="$(python3 -c 'import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' "$TD_TMP/rules.yaml" 2>&1)"
check_eq "it is YAML: a list of 4 items (plugin requirement + 3 rules)" "4" "$(jq 'length' <<<"$json" 2>&1)"
check_eq "the rules' priorities" "CRITICAL ERROR WARNING" \
	"$(jq -r '[.[] | select(.rule) | .priority] | join(" ")' <<<"$json")"
check_eq "every rule excludes failed and read-only calls" "3" \
	"$(jq '[.[] | select(.rule) | select(.condition | contains("not ct.error exists") and contains("ct.readonly != \"true\""))] | length' <<<"$json")"

# every catalog event, under its own source
missing=0
for f in libcommon/src/domain/catalog/*.tsv; do
	src="$(sed -n 's/^@source //p' "$f")"
	while IFS=$'\t' read -r ev _; do
		case "$ev" in '#'* | '@'* | '') continue ;; esac
		if ! grep -qE "ct.src = \"$src\" and ct.name in \(([A-Za-z0-9]+, )*$ev[,)]" "$TD_TMP/rules.yaml"; then
			missing=$((missing + 1))
			[ $missing -le 5 ] && diag "not in the rules: $src $ev"
		fi
	done <"$f"
done
check_eq "every catalog event is in a rule under its eventSource" "0" "$missing"

fields_missing=""
for f in ct.id ct.time ct.src ct.name ct.region ct.user ct.user.arn ct.user.identitytype \
	ct.user.principalid ct.user.accountid ct.recipientaccountid ct.srcip ct.useragent \
	ct.error ct.readonly ct.eventtype ct.request ct.response ct.resources; do
	jq -e --arg f "%$f " '[.[] | select(.rule) | .output | contains($f)] | all' <<<"$json" >/dev/null ||
		fields_missing+=" $f"
done
check_eq "every rule outputs the ct.* fields ingest needs" "" "$fields_missing"
finish
