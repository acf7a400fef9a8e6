# tests/lib/gateway.sh — api-gateway helpers for tests/integration/test_gateway*.sh.
# Source after tests/lib/services.sh.
#
#   gw_tokens                 makes a viewer, an operator and an admin token
#                             (TOK_VIEWER, TOK_OPERATOR, TOK_ADMIN) and sets
#                             api_gateway.tokens to their SHA-256 entries
#   gw_req METHOD PATH [TOKEN] [BODY]
#                             one request; sets GW_CODE and GW_BODY, and
#                             records the exchange in $GW_RECORD (JSON lines)
#                             for gw_check_contract
#   gw_expect NAME CODE METHOD PATH [TOKEN] [BODY]
#                             a check that the request answers CODE
#   gw_jq NAME EXPECTED FILTER   a check on GW_BODY through jq -r FILTER
#   gw_check_contract         validates the OpenAPI document and every
#                             recorded response against it (node peer)

GW_RECORD="$TD_TMP/gateway-responses.jsonl"
: >"$GW_RECORD"
GW_CODE=""
GW_BODY=""

# A random token (hex), and the config entry NAME:ROLE:sha256(token).
gw_new_token() {
	head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'
}

gw_tokens() {
	TOK_VIEWER="$(gw_new_token)"
	TOK_OPERATOR="$(gw_new_token)"
	TOK_ADMIN="$(gw_new_token)"
	local hv ho ha
	hv="$(printf '%s' "$TOK_VIEWER" | sha256sum | cut -d' ' -f1)"
	ho="$(printf '%s' "$TOK_OPERATOR" | sha256sum | cut -d' ' -f1)"
	ha="$(printf '%s' "$TOK_ADMIN" | sha256sum | cut -d' ' -f1)"
	cfg_set api_gateway tokens "[\"grafana:viewer:$hv\", \"oncall:operator:$ho\", \"root-admin:admin:$ha\"]"
	export TOK_VIEWER TOK_OPERATOR TOK_ADMIN
}

# gw_req METHOD PATH [TOKEN] [BODY]
gw_req() {
	local method="$1" path="$2" token="${3:-}" body="${4:-}"
	local -a a=(-g -s -o "$TD_TMP/gw.body" -w '%{http_code}' --max-time 20 -X "$method")
	[ -n "$token" ] && a+=(-H "Authorization: Bearer $token")
	[ -n "$body" ] && a+=(-H 'Content-Type: application/json' --data-binary "$body")
	GW_CODE="$(curl "${a[@]}" "$TD_API_URL$path" 2>/dev/null)" || true
	GW_BODY="$(cat "$TD_TMP/gw.body" 2>/dev/null)"
	jq -nc --arg m "$method" --arg p "$path" --arg c "$GW_CODE" --rawfile b "$TD_TMP/gw.body" \
		'{method: $m, path: $p, status: ($c | tonumber? // 0), body: $b}' >>"$GW_RECORD" 2>/dev/null
}

gw_expect() {
	local name="$1" want="$2"
	shift 2
	gw_req "$@"
	if [ "$GW_CODE" = "$want" ]; then
		ok "$name"
		return 0
	fi
	not_ok "$name" "$1 $2 answered $GW_CODE, wanted $want: $(head -c 300 <<<"$GW_BODY")" api-gateway
	return 1
}

gw_jq() {
	local name="$1" want="$2" filter="$3" got
	got="$(jq -r "$filter" <<<"$GW_BODY" 2>&1)"
	check_eq "$name" "$want" "$got" api-gateway
}

gw_check_contract() {
	local out rc n_ok n_bad
	out="$(cd "$TD_ROOT/tests/peers" && node gateway_contract.js \
		"$TD_ROOT/services/api-gateway/openapi.json" "$GW_RECORD" 2>&1)"
	rc=$?
	printf '%s\n' "$out" | grep -E '^(ok|not ok|#) '
	n_ok="$(grep -c '^ok ' <<<"$out")"
	n_bad="$(grep -c '^not ok ' <<<"$out")"
	TD_PASS=$((TD_PASS + n_ok))
	TD_FAIL=$((TD_FAIL + n_bad))
	if [ $rc -ne 0 ] && [ "$n_bad" -eq 0 ]; then
		not_ok "OpenAPI contract checker ran" "exit $rc: $(tail -n 5 <<<"$out")"
	fi
}
