#!/usr/bin/env bash
# bench_accuracy.sh — how precise the decisions are on every CloudTrail
# fixture in the repository: the real records of tests/fixtures/cloudtrail/
# against their states, and the demo (examples/) against its states, through
# `tfdrift-correlator explain`.  Prints each set's summary (alerts precise —
# an attribute with old and new values — vs coarse MODIFIED, extractor
# misses, the catalog entries behind coarse alerts) and the share precise.
# Figures only; test_correlator_samples checks the decisions themselves.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build}
X="$BUILD/bin/tfdrift-correlator"
err=$(mktemp)
trap 'rm -f "$err"' EXIT

# share LABEL — the last explain's summary, and its precise share
share() {
	local line p c
	line="$(grep '^explain: [0-9]* events' "$err")"
	p="$(sed -n 's/.*(\([0-9]*\) precise.*/\1/p' <<<"$line")"
	c="$(sed -n 's/.* \([0-9]*\) coarse.*/\1/p' <<<"$line")"
	echo "  $1: ${line#explain: }"
	grep '^explain: coarse' "$err" | sed 's/^explain: /    /'
	if [ $((p + c)) -gt 0 ]; then
		awk -v p="$p" -v c="$c" -v l="$1" 'BEGIN { printf "  %s: %.1f%% of alerts on managed resources precise\n", l, 100 * p / (p + c) }'
	fi
}

states=()
for s in tests/fixtures/cloudtrail/states/*.tfstate; do
	states+=(--state "samples/$(basename "$s" .tfstate)=$s")
done
"$X" explain "${states[@]}" tests/fixtures/cloudtrail/*.json >/dev/null 2>"$err" || echo "  explain failed: $(cat "$err")"
share "real CloudTrail samples (tests/fixtures/cloudtrail)"
"$X" explain --state prod/network=examples/states/prod-network.tfstate \
	--state prod/app=examples/states/prod-app.tfstate \
	examples/events/demo-cloudtrail.json tests/fixtures/cloudtrail/iam-put-role-policy.json \
	>/dev/null 2>"$err" || echo "  explain failed: $(cat "$err")"
share "demo (examples/) and the samples against the demo states"
