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
	[ -n "$GEN" ] && [ "$(rcli HLEN ${P}workspaces)" = "$NWS" ] && break
	GEN=""
	sleep 0.2
done
check "the state-loader is alive" alive state-loader
check "a generation holding all $NWS workspaces was switched" test -n "$GEN"
[ -n "$GEN" ] || {
	show_log state-loader
	finish
}
check "no 'redis unavailable' in the log" sh -c "! grep -q 'redis unavailable' '${TD_LOG[state-loader]}'"
check "no 'index generation not written' in the log" \
	sh -c "! grep -q 'index generation not written' '${TD_LOG[state-loader]}'"

# ---- every identifier resolves ----
got="$TD_TMP/idx.tsv"
rcli --raw HGETALL "${P}g:$GEN:idx" | paste - - | sort >"$got"
sort "$GEN_DIR/expected.tsv" >"$TD_TMP/expected.sorted"
check_eq "index size equals the expected identifiers" "$(wc -l <"$TD_TMP/expected.sorted")" "$(wc -l <"$got")"
missing="$(comm -23 "$TD_TMP/expected.sorted" "$got" | head -5)"
check_eq "every expected identifier resolves to its workspace, address and type" "" "$missing"
extra="$(comm -13 "$TD_TMP/expected.sorted" "$got" | head -5)"
check_eq "nothing unexpected in the index" "" "$extra"

# ---- every indexed instance has its attributes ----
rcli --scan --pattern "${P}g:$GEN:res:*" | sed "s|^${P}g:$GEN:res:||" | sort >"$TD_TMP/res.txt"
# a key is workspace:address; workspace names hold no ':'
tr '\t' ':' <"$GEN_DIR/instances.tsv" | sort >"$TD_TMP/res.expected"
check_eq "one attributes key per indexed instance" "$(wc -l <"$TD_TMP/res.expected")" "$(wc -l <"$TD_TMP/res.txt")"
check_eq "the keys are those of the indexed instances" "" "$(comm -3 "$TD_TMP/res.expected" "$TD_TMP/res.txt" | head -3)"
# spot checks of the values: small and large objects come back whole
check "a small object is stored whole" sh -c \
	"redis-cli -p $TD_REDIS_PORT GET '${P}g:$GEN:res:org/ws-439:module.network.aws_vpc.main' | jq -e '.cidr_block == \"10.0.0.0/16\"'"
big="$(awk -F'\t' '$2 ~ /aws_lambda_function/ { print $1 ":" $2; exit }' "$GEN_DIR/instances.tsv")"
check "a lambda function's attributes parse" sh -c \
	"redis-cli -p $TD_REDIS_PORT GET '${P}g:$GEN:res:$big' | jq -e '.function_name | startswith(\"fn-\")'"

# ---- graph: a node hash per workspace ----
nodes_keys="$(rcli --scan --pattern "${P}g:$GEN:nodes:*" | wc -l)"
check_eq "a node hash per workspace" "$NWS" "$nodes_keys"
# nodes: the current instances and the data source (deposed ones are not nodes)
rcli HKEYS "${P}g:$GEN:nodes:org/ws-0" | sort >"$TD_TMP/nodes.txt"
{
	awk -F'\t' '$1 == "org/ws-0" { print $2 }' "$GEN_DIR/instances.tsv"
	echo data.aws_ami.ubuntu
} | sort >"$TD_TMP/nodes.expected"
check_eq "workspace 0's nodes are its instances and its data source" "" \
	"$(comm -3 "$TD_TMP/nodes.expected" "$TD_TMP/nodes.txt" | head -3)"
check_eq "readyz is ready" ready "$(curl -s "$(admin_url state-loader)/readyz" | jq -r .status)"
check_eq "no index write errors counted" 0 "$(metric state-loader tfdrift_state_index_write_errors_total)"
finish
