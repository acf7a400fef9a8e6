#!/usr/bin/env bash
# The api-gateway's reads of the per-workspace index (docs/redis-keys.md,
# services/api-gateway/graph.h) against a real Redis written by hand in the
# state-loader's layout (each workspace at its own generation, P wsgen), with
# real PostgreSQL: resources are read at their workspace's generation (never
# an older one still in Redis), graph pages walk every workspace at its own
# generation, a cursor carries the generation of the workspace it resumes in
# and is refused once that workspace switched (or the workspaces before it
# changed) but not when another one did; /health says P gen; every response
# matches the OpenAPI document.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/gateway.sh
source "$(dirname "$0")/../lib/gateway.sh"
need jq redis-cli node

start_postgres
start_redis
gw_tokens
write_config
start_up persistence api-gateway
wait_ready persistence 30 || bail "persistence is not ready (migrations)"
wait_ready api-gateway 30 || bail "api-gateway is not ready"
T="$TOK_VIEWER"
P=tfdrift:

# N nodes NAME[i] (i = 0..N-1) of type TYPE into a nodes hash: more than
# hash-max-listpack-entries (512), so Redis keeps a real hash table and HSCAN
# pages through it
NODES="for i = 0, tonumber(ARGV[1]) - 1 do
  redis.call('HSET', KEYS[1], ARGV[2] .. '[' .. i .. ']', '{\"type\":\"' .. ARGV[3] .. '\",\"mode\":\"managed\"}')
end
return redis.call('HLEN', KEYS[1])"
nodes() { rcli EVAL "$NODES" 1 "$1" "$2" "$3" "$4" >/dev/null; }
record() { printf '{"source":"local","path":"/states/%s.tfstate","serial":%s,"resources":%s}' "$1" "$2" "$3"; }

# a/app at generation 10 (600 instances), b/net at 12 (600 subnets), c/none
# never loaded (a status record, no generation); generation 3 of a/app is an
# older one still in Redis (its grace not over)
rcli HSET "${P}workspaces" a/app "$(record a-app 4 601)" b/net "$(record b-net 9 601)" \
	c/none '{"source":"local","path":"/states/none.tfstate","serial":0,"resources":0,"last_error":"not found"}' >/dev/null
nodes "${P}g:10:nodes:a/app" 600 aws_instance.web aws_instance
rcli HSET "${P}g:10:nodes:a/app" aws_security_group.web '{"type":"aws_security_group","mode":"managed"}' >/dev/null
rcli HSET "${P}g:10:res:a/app" 'aws_instance.web[0]' '{"id":"i-1","instance_type":"t3.micro"}' \
	aws_security_group.web '{"id":"sg-1"}' >/dev/null
rcli HSET "${P}g:10:edges:a/app" 'aws_instance.web[0]' '["aws_security_group.web"]' >/dev/null
nodes "${P}g:12:nodes:b/net" 600 aws_subnet.a aws_subnet
rcli HSET "${P}g:12:nodes:b/net" aws_security_group.web '{"type":"aws_security_group","mode":"managed"}' >/dev/null
rcli HSET "${P}g:12:res:b/net" aws_security_group.web '{"id":"sg-2"}' >/dev/null
# large attributes are stored packed (zlib, tfdrift/attrs_codec.h)
hset_packed "${P}g:12:res:b/net" aws_vpc.main \
	"{\"id\":\"vpc-1\",\"cidr_block\":\"10.0.0.0/16\",\"tags\":{\"note\":\"$(printf 'x%.0s' $(seq 1 400))\"}}"
# and one that is neither JSON nor zlib
printf '\x78\x9cnot a zlib stream' | rcli -x HSET "${P}g:12:res:b/net" aws_subnet.bad >/dev/null
rcli HSET "${P}g:3:nodes:a/app" aws_instance.old '{"type":"aws_instance","mode":"managed"}' >/dev/null
rcli HSET "${P}g:3:res:a/app" 'aws_instance.web[0]' '{"id":"i-1","instance_type":"t1.stale"}' >/dev/null
rcli HSET "${P}wsgen" a/app 10 b/net 12 >/dev/null
rcli SET "${P}gen" 12 >/dev/null
NALL=1202

# ---- health and workspaces ------------------------------------------------------------------
gw_expect "GET /health" 200 GET /api/v1/health "$T"
gw_jq "... redis generation is P gen (the latest switch)" 12 .checks.redis.generation
gw_expect "GET /workspaces" 200 GET /api/v1/workspaces "$T"
gw_jq "... every workspace with a status, loaded or not" "a/app,b/net,c/none" '[.items[].name] | join(",")'

# ---- resources ------------------------------------------------------------------------------
gw_expect "a resource of a/app" 200 GET "/api/v1/resources/aws_instance.web%5B0%5D?workspace=a/app" "$T"
gw_jq "... read at a/app's generation (10), not an older one" "true|t3.micro" \
	'"\(.in_state)|\(.attributes.instance_type)"'
gw_expect "without workspace: searched in every workspace at its generation" 200 GET /api/v1/resources/aws_vpc.main "$T"
gw_jq "... found in b/net, its packed attributes unpacked" "b/net|10.0.0.0/16|400" \
	'"\(.workspace)|\(.attributes.cidr_block)|\(.attributes.tags.note | length)"'
gw_expect "attributes neither JSON nor zlib: an error, not a guess" 503 GET "/api/v1/resources/aws_subnet.bad?workspace=b/net" "$T"
check "... the log names the workspace and the address" \
	grep -q 'unreadable attributes of aws_subnet.bad in workspace b/net (generation 12)' "${TD_LOG[api-gateway]}"
gw_expect "an address in two workspaces needs one named" 400 GET /api/v1/resources/aws_security_group.web "$T"
gw_jq "... the error says so" true '.error.message | test("more than one workspace")'
gw_expect "... named, it answers" 200 GET "/api/v1/resources/aws_security_group.web?workspace=b/net" "$T"
gw_jq "... from b/net" sg-2 .attributes.id
gw_expect "a workspace never loaded has no resources" 404 GET "/api/v1/resources/aws_vpc.main?workspace=c/none" "$T"

# ---- graph pages ----------------------------------------------------------------------------
# walk PATH_QUERY OUT [CURSOR] — follows next_cursor from PATH_QUERY (from
# CURSOR when given), node ids to OUT, each page's "generation|next_cursor"
# to OUT.pages; stops at the first non-200 (GW_CODE tells) or after STOP_AT
# (a regex) matched a cursor (CUR)
walk() {
	local base="$1" out="$2" path="$1" n=0
	: >"$out"
	: >"$out.pages"
	CUR="${3:-}"
	[ -n "$CUR" ] && path="$base&cursor=$CUR"
	while [ -n "$path" ] && [ $n -lt 200 ]; do
		gw_req GET "$path" "$T"
		[ "$GW_CODE" = 200 ] || return 0
		jq -r '.elements.nodes[].data.id' <<<"$GW_BODY" >>"$out"
		jq -r '"\(.generation)|\(.next_cursor)"' <<<"$GW_BODY" >>"$out.pages"
		n=$((n + 1))
		CUR="$(jq -r '.next_cursor // empty' <<<"$GW_BODY")"
		[ -n "${STOP_AT:-}" ] && [[ "$CUR" =~ $STOP_AT ]] && return 0
		path=""
		[ -n "$CUR" ] && path="$base&cursor=$CUR"
	done
}
walk "/api/v1/graph?limit=100" "$TD_TMP/all.ids"
check_eq "a walk of pages (limit=100) holds every node of every workspace once" "$NALL|$NALL" \
	"$(wc -l <"$TD_TMP/all.ids" | tr -d ' ')|$(sort -u "$TD_TMP/all.ids" | wc -l | tr -d ' ')"
check_eq "... none of an older generation" 0 "$(grep -c 'aws_instance.old' "$TD_TMP/all.ids")"
check "... in several pages ($(wc -l <"$TD_TMP/all.ids.pages"))" test "$(wc -l <"$TD_TMP/all.ids.pages")" -gt 5
check_eq "... each page says P gen" 12 "$(cut -d'|' -f1 "$TD_TMP/all.ids.pages" | sort -u | tr '\n' ' ' | tr -d ' ')"
# a cursor is "<gen of the workspace it resumes in>.<workspace index>.<HSCAN cursor>"
check_eq "... cursors carry their workspace's generation (a/app 10 at 0, b/net 12 at 1)" "" \
	"$(cut -d'|' -f2 "$TD_TMP/all.ids.pages" | grep -v '^null$' | grep -Ev '^(10\.0|12\.1)\.[0-9]+$')"
gw_expect "one workspace's graph" 200 GET "/api/v1/graph?workspace=a/app&limit=1000" "$T"
gw_jq "... its nodes, at its generation" "601|aws_instance.web[0]->aws_security_group.web" \
	'"\(.elements.nodes | length)|\(.elements.edges | map(.data.source + "->" + .data.target) | map(sub("a/app:"; ""; "g")) | join(","))"'

# a walk of one workspace: its cursors name it at index 0
walk "/api/v1/graph?limit=100&workspace=b/net" "$TD_TMP/bnet.ids"
check_eq "a walk of b/net alone: its nodes once, and nothing else" "601|601|0" \
	"$(wc -l <"$TD_TMP/bnet.ids" | tr -d ' ')|$(sort -u "$TD_TMP/bnet.ids" | wc -l | tr -d ' ')|$(grep -vc '^b/net:' "$TD_TMP/bnet.ids")"
check_eq "... its cursors carry b/net's generation at index 0" "" \
	"$(cut -d'|' -f2 "$TD_TMP/bnet.ids.pages" | grep -v '^null$' | grep -Ev '^12\.0\.[0-9]+$')"

# a cursor in a/app, then a/app switches to generation 14: refused
STOP_AT='^10\.0\.[1-9]' walk "/api/v1/graph?limit=100" "$TD_TMP/a.ids"
check "a cursor in the middle of a/app ($CUR)" test -n "$CUR"
rcli COPY "${P}g:10:nodes:a/app" "${P}g:14:nodes:a/app" >/dev/null
rcli HSET "${P}wsgen" a/app 14 >/dev/null
rcli SET "${P}gen" 14 >/dev/null
gw_expect "once a/app switched (14), its cursor is refused" 400 GET "/api/v1/graph?limit=100&cursor=$CUR" "$T"
gw_jq "... start again" true '.error.message | test("start again")'

# a cursor in b/net survives a/app switching again
STOP_AT='^12\.1\.[1-9]' walk "/api/v1/graph?limit=100" "$TD_TMP/b.ids"
check "a cursor in the middle of b/net ($CUR)" test -n "$CUR"
rcli COPY "${P}g:14:nodes:a/app" "${P}g:16:nodes:a/app" >/dev/null
rcli HSET "${P}wsgen" a/app 16 >/dev/null
rcli SET "${P}gen" 16 >/dev/null
B_CUR="$CUR"
STOP_AT='' walk "/api/v1/graph?limit=100" "$TD_TMP/b2.ids" "$CUR"
check_eq "another workspace switching does not end a walk in b/net" 200 "$GW_CODE"
check_eq "... the walk ends with every node once" "$NALL|$NALL" \
	"$(cat "$TD_TMP/b.ids" "$TD_TMP/b2.ids" | wc -l | tr -d ' ')|$(cat "$TD_TMP/b.ids" "$TD_TMP/b2.ids" | sort -u | wc -l | tr -d ' ')"

# a workspace before it goes away: the index in the cursor names another one
rcli HDEL "${P}wsgen" a/app >/dev/null
gw_expect "a/app removed: b/net's cursor (index 1) is refused" 400 GET "/api/v1/graph?limit=100&cursor=$B_CUR" "$T"
walk "/api/v1/graph?limit=100" "$TD_TMP/c.ids"
check_eq "... a new walk holds b/net's nodes alone" "601|0" \
	"$(sort -u "$TD_TMP/c.ids" | wc -l | tr -d ' ')|$(grep -c '^a/app:' "$TD_TMP/c.ids")"
rcli DEL "${P}gen" >/dev/null
gw_expect "no P gen: an empty graph" 200 GET "/api/v1/graph?limit=100" "$T"
gw_jq "... generation 0, no nodes" "0|0|null" '"\(.generation)|\(.elements.nodes | length)|\(.next_cursor)"'
gw_expect "... and a cursor is refused" 400 GET "/api/v1/graph?limit=100&cursor=$B_CUR" "$T"

gw_check_contract
finish
