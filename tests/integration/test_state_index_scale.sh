#!/usr/bin/env bash
# The index of many realistic states (issue 11): 440 workspaces (40 of 120
# instances, 400 of 4 to 10) over 16 resource types, with attribute objects of
# 1 byte to ~150 KB as real states have (tests/lib/gen_states.py), loaded by a
# real state-loader into a real Redis.  Every identifier the generator expects
# (derived from identifiers.tsv in Python, independently of the C code) must
# resolve to its workspace, address and type; every indexed instance must have
# its attributes stored; the graph holds every workspace.  Before the fix the
# HSET/MSET batches overflowed after 256 small pairs and no generation was
# ever switched ("pipeline: Out of memory", or a crash).
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"

need python3
GEN_DIR="$TD_TMP/states"
python3 "$TD_ROOT/tests/lib/gen_states.py" "$GEN_DIR" --workspaces 40 --instances 120 \
	--small-workspaces 400 --small-instances 10 --seed 11 2>"$TD_TMP/gen.err" ||
	bail "gen_states.py failed: $(cat "$TD_TMP/gen.err")"
diag "$(cat "$TD_TMP/gen.err")"
NWS="$(jq length "$GEN_DIR/sources.json")"

start_redis
cfg_set state_loader local_files "$(cat "$GEN_DIR/sources.json")"
cfg_set state_loader poll_interval 300s
write_config
start_service state-loader

P=tfdrift:
# ready means Redis reachable and every source loaded; the first generation
# may still be on its way: wait for one that holds every workspace
deadline=$(($(date +%s) + 120))
GEN=""
while [ "$(date +%s)" -lt "$deadline" ]; do
	alive state-loader || break
	GEN="$(rcli GET ${P}gen)"
	[ -n "$GEN" ] && [ "$(rcli HLEN ${P}workspaces)" = "$NWS" ] &&
		[ "$(rcli HLEN ${P}wsgen)" = "$NWS" ] && break
	GEN=""
	sleep 0.2
done
check "the state-loader is alive" alive state-loader
check "all $NWS workspaces were switched to a generation" test -n "$GEN"
[ -n "$GEN" ] || {
	show_log state-loader
	finish
}
check "no 'redis unavailable' in the log" sh -c "! grep -q 'redis unavailable' '${TD_LOG[state-loader]}'"
check "no 'index generation not written' in the log" \
	sh -c "! grep -q 'index generation not written' '${TD_LOG[state-loader]}'"

# ---- every identifier resolves ----
# P idx: field -> claims, one line each, the first answers (docs/redis-keys.md);
# one line per field here: "field<TAB>workspace<TAB>address<TAB>type<TAB>gen<TAB>order"
FIRST_CLAIMS="local out, h = {}, redis.call('HGETALL', KEYS[1])
for i = 1, #h, 2 do
  local v = h[i + 1]
  local nl = string.find(v, '\n', 1, true)
  if nl then v = string.sub(v, 1, nl - 1) end
  out[#out + 1] = h[i] .. '\t' .. v
end
return out"
rcli --raw EVAL "$FIRST_CLAIMS" 1 "${P}idx" >"$TD_TMP/claims.tsv"
got="$TD_TMP/idx.tsv"
cut -f1-4 "$TD_TMP/claims.tsv" | sort >"$got"
sort "$GEN_DIR/expected.tsv" >"$TD_TMP/expected.sorted"
check_eq "index size equals the expected identifiers" "$(wc -l <"$TD_TMP/expected.sorted")" "$(wc -l <"$got")"
missing="$(comm -23 "$TD_TMP/expected.sorted" "$got" | head -5)"
check_eq "every expected identifier resolves to its workspace, address and type" "" "$missing"
extra="$(comm -13 "$TD_TMP/expected.sorted" "$got" | head -5)"
check_eq "nothing unexpected in the index" "" "$extra"
# each claim names its workspace's current generation
rcli --raw HGETALL "${P}wsgen" | paste - - >"$TD_TMP/wsgen.tsv"
badgen="$(awk -F'\t' 'NR == FNR { g[$1] = $2; next } $5 != g[$2] { print; n++ } n == 3 { exit }' \
	"$TD_TMP/wsgen.tsv" "$TD_TMP/claims.tsv")"
check_eq "every claim names its workspace's generation (P wsgen)" "" "$badgen"

# ---- every indexed instance has its attributes ----
# P g:<gen>:res:<workspace>: address -> attributes, at each workspace's generation;
# "workspace<TAB>address" per field of every workspace's hash
RES_FIELDS="local out, w = {}, redis.call('HGETALL', KEYS[1])
for i = 1, #w, 2 do
  for _, a in ipairs(redis.call('HKEYS', ARGV[1] .. w[i + 1] .. ':res:' .. w[i])) do
    out[#out + 1] = w[i] .. '\t' .. a
  end
end
return out"
rcli --raw EVAL "$RES_FIELDS" 1 "${P}wsgen" "${P}g:" | sort >"$TD_TMP/res.txt"
sort "$GEN_DIR/instances.tsv" >"$TD_TMP/res.expected"
check_eq "one attributes field per indexed instance" "$(wc -l <"$TD_TMP/res.expected")" "$(wc -l <"$TD_TMP/res.txt")"
check_eq "the fields are those of the indexed instances" "" "$(comm -3 "$TD_TMP/res.expected" "$TD_TMP/res.txt" | head -3)"
# spot checks of the values: small and large objects come back whole
res() { rcli HGET "${P}g:$(ws_gen "$1" $P):res:$1" "$2" | attrs_json; }
res org/ws-439 module.network.aws_vpc.main >"$TD_TMP/small.json"
check "a small object is stored whole" jq -e '.cidr_block == "10.0.0.0/16"' "$TD_TMP/small.json"
IFS=$'\t' read -r bigws bigaddr < <(awk -F'\t' '$2 ~ /aws_lambda_function/ { print; exit }' "$GEN_DIR/instances.tsv")
res "$bigws" "$bigaddr" >"$TD_TMP/big.json"
check "a lambda function's attributes parse" jq -e '.function_name | startswith("fn-")' "$TD_TMP/big.json"

# ---- graph: a node hash per workspace, at its generation ----
NODE_HASHES="local n, w = 0, redis.call('HGETALL', KEYS[1])
for i = 1, #w, 2 do
  n = n + redis.call('EXISTS', ARGV[1] .. w[i + 1] .. ':nodes:' .. w[i])
end
return n"
check_eq "a node hash per workspace" "$NWS" "$(rcli EVAL "$NODE_HASHES" 1 "${P}wsgen" "${P}g:")"
# nodes: the current instances and the data source (deposed ones are not nodes)
rcli HKEYS "${P}g:$(ws_gen org/ws-0 $P):nodes:org/ws-0" | sort >"$TD_TMP/nodes.txt"
{
	awk -F'\t' '$1 == "org/ws-0" { print $2 }' "$GEN_DIR/instances.tsv"
	echo data.aws_ami.ubuntu
} | sort >"$TD_TMP/nodes.expected"
check_eq "workspace 0's nodes are its instances and its data source" "" \
	"$(comm -3 "$TD_TMP/nodes.expected" "$TD_TMP/nodes.txt" | head -3)"
check_eq "readyz is ready" ready "$(curl -s "$(admin_url state-loader)/readyz" | jq -r .status)"
check_eq "no index write errors counted" 0 "$(metric state-loader tfdrift_state_index_write_errors_total)"
finish
