#!/usr/bin/env bash
# check-layout.sh — the "layout" step of `make lint`: no service reaches into
# another.  Knowledge that several programs share lives in libcommon (headers
# libcommon/include/tfdrift/, included as "tfdrift/<module>.h").
#
#   bash scripts/check-layout.sh [ROOT]      (ROOT defaults to the repository)
#
# Rules, each failure printed as FILE:LINE: what is wrong:
#   services/X/*.c|h   quoted includes name a file of services/X ("store.h"),
#                      libcommon's "tfdrift/..." or a header generated from
#                      proto/ ("falco/outputs.pb-c.h"); nothing else
#   services/X/build.mk  names no other services/Y (no objects, no sources)
#   libcommon/**       includes nothing under services/
#   tools/*.c          includes "tfdrift/..." only (and system headers)
#   bench/*.c, tests/unit/*.c, tests/fuzz/*.c  may include the headers of ONE service, the one
#                      they measure or test (an in-process benchmark or a unit
#                      test of a module is that service's); everything shared
#                      comes from "tfdrift/..."; their .deps files list that
#                      service's sources only
# Exits 1 when anything is wrong, 0 otherwise.
set -uo pipefail

ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT" || exit 2
bad=0
fail() {
	echo "$1: $2" >&2
	bad=1
}

# quoted includes of a file as "LINE<TAB>PATH" lines
includes() {
	awk '/^[ \t]*#[ \t]*include[ \t]*"/ {
		s = $0; sub(/^[^"]*"/, "", s); sub(/".*$/, "", s); print FNR "\t" s }' "$1"
}

# the service a path under services/ belongs to ("" when none)
service_of() {
	case "$1" in services/*/*) local r=${1#services/}; echo "${r%%/*}" ;; *) echo "" ;; esac
}

# ---- services ------------------------------------------------------------------
for dir in services/*/; do
	[ -d "$dir" ] || continue
	svc=$(basename "$dir")
	while IFS= read -r -d '' f; do
		while IFS=$'\t' read -r line inc; do
			case "$inc" in
			tfdrift/* | *.pb-c.h) ;;
			*/*)
				fail "$f:$line" "includes \"$inc\": a service includes its own headers (no path) or libcommon's \"tfdrift/...\"; move what $svc shares with another service into libcommon"
				;;
			*)
				[ -f "$(dirname "$f")/$inc" ] || [ -f "$dir$inc" ] ||
					fail "$f:$line" "includes \"$inc\", which is not a file of services/$svc"
				;;
			esac
		done < <(includes "$f")
	done < <(find "$dir" -type f \( -name '*.c' -o -name '*.h' \) -print0)
	mk="${dir}build.mk"
	if [ -f "$mk" ]; then
		# every services/Y a (non-comment) line names, Y other than this service
		while IFS=$'\t' read -r line other; do
			fail "$mk:$line" "names services/$other: a service links and builds only its own files and libcommon"
		done < <(awk -v svc="$svc" '!/^[ \t]*#/ {
			s = $0
			while (match(s, /services\/[A-Za-z0-9_.-]+/)) {
				name = substr(s, RSTART + 9, RLENGTH - 9)
				if (name != svc) print FNR "\t" name
				s = substr(s, RSTART + RLENGTH)
			}
		}' "$mk")
	fi
done

# ---- libcommon -------------------------------------------------------------------
while IFS= read -r -d '' f; do
	while IFS=$'\t' read -r line inc; do
		case "$inc" in *services/*) fail "$f:$line" "libcommon includes a service's header \"$inc\"" ;; esac
	done < <(includes "$f")
done < <(find libcommon -type f \( -name '*.c' -o -name '*.h' \) -print0 2>/dev/null)

# ---- tools -----------------------------------------------------------------------
for f in tools/*.c; do
	[ -f "$f" ] || continue
	while IFS=$'\t' read -r line inc; do
		case "$inc" in
		tfdrift/* | *.pb-c.h) ;;
		*) fail "$f:$line" "a tool includes \"$inc\"; tools use libcommon's \"tfdrift/...\" headers only" ;;
		esac
	done < <(includes "$f")
done

# ---- benches, unit tests and fuzz harnesses: one service at most ----------------------------------
for f in bench/*.c tests/unit/*.c tests/fuzz/*.c; do
	[ -f "$f" ] || continue
	owner=""
	ownerwhere=""
	check_owner() { # $1 where, $2 service
		if [ -z "$owner" ]; then
			owner=$2
			ownerwhere=$1
		elif [ "$owner" != "$2" ]; then
			fail "$1" "uses services/$2 as well as services/$owner ($ownerwhere); a bench or unit test covers one service, shared code comes from libcommon"
		fi
	}
	while IFS=$'\t' read -r line inc; do
		case "$inc" in
		tfdrift/* | *.pb-c.h) ;;
		fuzz.h | arena.h | redacted.h) [[ $f == tests/fuzz/* ]] || fail "$f:$line" "includes tests/fuzz's \"$inc\"" ;;
		*services/*)
			s=${inc##*services/}
			check_owner "$f:$line" "${s%%/*}"
			;;
		*) fail "$f:$line" "includes \"$inc\"; use \"tfdrift/...\" or the one service's own header" ;;
		esac
	done < <(includes "$f")
	deps="${f%.c}.deps"
	if [ -f "$deps" ]; then
		n=0
		while IFS= read -r src || [ -n "$src" ]; do
			n=$((n + 1))
			[ -n "$src" ] || continue
			s=$(service_of "$src")
			if [ -z "$s" ]; then
				fail "$deps:$n" "lists $src; a .deps file names sources of one service (libcommon is always linked)"
			else
				check_owner "$deps:$n" "$s"
			fi
		done <"$deps"
	fi
done

if [ "$bad" -ne 0 ]; then
	echo "layout: FAILED (see CONTRIBUTING.md, Layout)" >&2
	exit 1
fi
echo "layout: no service reaches into another"
