#!/usr/bin/env bash
# A bad configuration stops every binary before it starts: exit status 2 and a
# message on stderr naming the file, the line and section.key (or, for an
# environment override, the variable and section.key).
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"

# expect_config_error NAME SERVICE FILE WANT... [-- ENV=VALUE...]
# Runs the service with FILE; wants exit 2 and every WANT (a fixed string; a
# WANT of the form "@FILE:LINE" also accepts the file's base name) on stderr.
expect_config_error() {
	local name="$1" s="$2" file="$3"
	shift 3
	local want=() envs=() w rc err missing=""
	while [ $# -gt 0 ] && [ "$1" != -- ]; do want+=("$1"); shift; done
	[ "${1:-}" = -- ] && shift
	envs=("$@")
	err="$TD_TMP/stderr.$s.$RANDOM"
	env "${envs[@]}" timeout 10 "$TD_BIN/tfdrift-$s" --config "$file" >/dev/null 2>"$err"
	rc=$?
	for w in "${want[@]}"; do
		case "$w" in
		@*)
			w="${w#@}"
			grep -qF "$w" "$err" || grep -qF "$(basename "$w")" "$err" || missing+=" '$w'"
			;;
		*) grep -qF "$w" "$err" || missing+=" '$w'" ;;
		esac
	done
	if [ "$rc" = 124 ]; then
		not_ok "$name" "did not exit within 10 s (it started?)"
	elif [ "$rc" != 2 ]; then
		not_ok "$name" "exit status $rc, want 2"
	elif [ -n "$missing" ]; then
		not_ok "$name" "stderr does not name$missing"
	else
		ok "$name"
		return 0
	fi
	sed 's/^/#   stderr: /' "$err" | head -n 10
	return 1
}

# write_bad FILE SECTION LINE4 [LINE5] — a small config whose 4th (and 5th)
# line is the one under test.
write_bad() {
	{
		echo "shared:"
		echo "  log_level: info"
		echo "$2:"
		echo "$3"
		[ -n "${4:-}" ] && echo "$4"
	} >"$1"
}

for s in "${TD_SERVICES[@]}"; do
	sec="${TD_SECTION[$s]}"
	if [ ! -x "$TD_BIN/tfdrift-$s" ]; then
		not_ok "$s: binary exists" "$TD_BIN/tfdrift-$s is missing"
		continue
	fi
	dir="$TD_TMP/$s"
	mkdir -p "$dir"

	f="$dir/unknown-key.yaml"
	write_bad "$f" "$sec" "  admin_port: 0" "  no_such_key: 1"
	expect_config_error "$s: unknown key -> exit 2 naming $sec.no_such_key at line 5" \
		"$s" "$f" "@$f:5" "$sec.no_such_key"

	f="$dir/wrong-type.yaml"
	write_bad "$f" "$sec" "  admin_port: abc"
	expect_config_error "$s: wrong type (admin_port: abc) -> exit 2 naming $sec.admin_port at line 4" \
		"$s" "$f" "@$f:4" "$sec.admin_port"

	f="$dir/out-of-range.yaml"
	write_bad "$f" "$sec" "  admin_port: 70000"
	expect_config_error "$s: out of range (admin_port: 70000) -> exit 2 naming $sec.admin_port at line 4" \
		"$s" "$f" "@$f:4" "$sec.admin_port"

	f="$dir/good.yaml"
	write_bad "$f" "$sec" "  admin_port: 0"
	expect_config_error "$s: bad override TFDRIFT_REDIS_PORT=x -> exit 2 naming redis.port" \
		"$s" "$f" "TFDRIFT_REDIS_PORT" "redis.port" -- TFDRIFT_REDIS_PORT=x
done

# a few more shapes of mistake, on one binary (the loader is shared)
if [ -x "$TD_BIN/tfdrift-ingest" ]; then
	f="$TD_TMP/unknown-section.yaml"
	printf 'shared:\n  log_level: info\nno_such_section:\n  key: 1\n' >"$f"
	expect_config_error "ingest: unknown section -> exit 2 naming no_such_section at line 3" \
		ingest "$f" "@$f:3" "no_such_section"

	f="$TD_TMP/bad-enum.yaml"
	printf 'shared:\n  log_level: loud\n' >"$f"
	expect_config_error "ingest: bad enum (log_level: loud) -> exit 2 naming shared.log_level at line 2" \
		ingest "$f" "@$f:2" "shared.log_level"

	f="$TD_TMP/bad-duration.yaml"
	printf 'shared:\n  log_level: info\n  shutdown_timeout: soon\n' >"$f"
	expect_config_error "ingest: bad duration (shutdown_timeout: soon) -> exit 2 naming shared.shutdown_timeout at line 3" \
		ingest "$f" "@$f:3" "shared.shutdown_timeout"

	f="$TD_TMP/good.yaml"
	printf 'ingest:\n  admin_port: 0\n' >"$f"
	expect_config_error "ingest: out-of-range override TFDRIFT_INGEST_ADMIN_PORT=70000 -> exit 2" \
		ingest "$f" "TFDRIFT_INGEST_ADMIN_PORT" "ingest.admin_port" -- TFDRIFT_INGEST_ADMIN_PORT=70000

	expect_config_error "ingest: missing config file -> exit 2 naming it" \
		ingest "$TD_TMP/does-not-exist.yaml" "$TD_TMP/does-not-exist.yaml"

	f="$TD_TMP/not-yaml.yaml"
	printf 'shared:\n  log_level: [info\n' >"$f"
	expect_config_error "ingest: broken YAML -> exit 2 naming the file" \
		ingest "$f" "@$f"
fi

# one workspace name twice (a file and a bucket) stops the start
write_bad "$TD_TMP/dup.yaml" state_loader "  local_files: [\"prod=$TD_TMP/a.tfstate\", \"dev=$TD_TMP/b.tfstate\"]" \
	'  sources: ["prod=s3://bucket/prod.tfstate#region=us-east-1"]'
expect_config_error "state-loader: a workspace listed twice -> exit 2 naming it" state-loader \
	"$TD_TMP/dup.yaml" 'workspace "prod" is listed twice'

# a source entry's credentials never reach the message (file and environment)
write_bad "$TD_TMP/src.yaml" state_loader "  sources:" '    - "w=https://ci:hunter2@h.example/s#colour=red&token=t0psecret"'
expect_config_error "state-loader: a bad source is named with its credentials as ***" state-loader \
	"$TD_TMP/src.yaml" 'state_loader.sources: "w=https://ci:***@h.example/s#colour=red&token=***"' \
	'unknown option "colour=red"'
check "... and neither the password nor the token is on stderr" \
	bash -c "! grep -qE 'hunter2|t0psecret' $TD_TMP/stderr.state-loader.*"
finish
