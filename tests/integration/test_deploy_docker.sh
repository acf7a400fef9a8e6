#!/usr/bin/env bash
# The image (deploy/docker/Dockerfile) without a Docker engine: the runtime
# stage installs exactly the Debian packages whose libraries the six binaries
# it copies link (readelf NEEDED, mapped with dpkg -S), plus ca-certificates
# and curl, and no -dev package; the build stage has every -dev package the
# Makefile builds with; three stages (build, web, runtime on debian-slim) with
# pinned tags; a non-root USER, a HEALTHCHECK, a .dockerignore keeping .git,
# build/ and node_modules out.  The HEALTHCHECK script is run against a real
# ingest: 0 while it is ready, not 0 once it is gone.  With a Docker engine the
# image is built too; without one that part says it was skipped.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
need readelf dpkg curl

DF="$TD_ROOT/deploy/docker/Dockerfile"
# the runtime stage: from the last FROM to the end
awk '/^FROM /{ s = "" } { s = s $0 "\n" } END { printf "%s", s }' "$DF" >"$TD_TMP/runtime"
# the packages of the runtime stage's apt-get install (continued lines joined)
sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$TD_TMP/runtime" | grep 'apt-get install' |
	sed 's/.*--no-install-recommends//; s/&&.*//' | tr ' ' '\n' | grep -v '^$' | sort -u >"$TD_TMP/runtime.pkgs"
# the binaries it copies from the build stage
sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$TD_TMP/runtime" | grep '^COPY --from=build' | tr ' ' '\n' |
	sed -n 's#^/build/bin/##p' | sort -u >"$TD_TMP/bins"
check_eq "the runtime stage copies the six processes" \
	"tfdrift-api-gateway tfdrift-correlator tfdrift-ingest tfdrift-notifier tfdrift-persistence tfdrift-state-loader" \
	"$(tr '\n' ' ' <"$TD_TMP/bins" | sed 's/ $//')"

check_eq "the runtime stage turns glibc's per-thread malloc caches off (memory flat)" 1 \
	"$(grep -c '^ENV GLIBC_TUNABLES=glibc.malloc.tcache_count=0$' "$TD_TMP/runtime")"

# Debian package of a library path (usrmerge: /lib and /usr/lib are one)
pkg_of() {
	local f="$1" c p
	for c in "$f" "$(readlink -f "$f")" "${f#/usr}" "/usr$f" "$(readlink -f "$f" | sed 's#^/usr##')"; do
		p="$(dpkg -S "$c" 2>/dev/null | head -n 1 | cut -d: -f1)"
		[ -n "$p" ] && { echo "$p"; return 0; }
	done
	echo "UNKNOWN($f)"
}
: >"$TD_TMP/needed.pkgs"
# The image is built with the regular flags.  A sanitizer build (make
# test-asan) links libasan/libubsan and, linked that way, grpc's own
# dependencies directly: its NEEDED list says nothing about the image, so the
# two package checks run on the regular build (make test) only.
# (readelf's output is read whole first: under pipefail, grep -q leaving early
# would make readelf die of SIGPIPE and the test misread the build.)
SANITIZED=0
needed_ingest="$(readelf -d "$TD_BIN/tfdrift-ingest" 2>/dev/null)"
if grep -q 'Shared library: \[libasan' <<<"$needed_ingest"; then
	SANITIZED=1
fi
while read -r b; do
	[ -x "$TD_BIN/$b" ] || bail "no binary $TD_BIN/$b (run: make)"
	declare -A where=()
	while read -r lib _ path _; do where[$lib]=$path; done < <(ldd "$TD_BIN/$b" | grep '=>')
	for lib in $(readelf -d "$TD_BIN/$b" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
		echo "$(pkg_of "${where[$lib]:-$lib}") $b $lib" >>"$TD_TMP/needed.map"
	done
	unset where
done <"$TD_TMP/bins"
cut -d' ' -f1 "$TD_TMP/needed.map" | sort -u >"$TD_TMP/needed.pkgs"
diag "the binaries link: $(tr '\n' ' ' <"$TD_TMP/needed.pkgs")"
missing="$(comm -23 "$TD_TMP/needed.pkgs" "$TD_TMP/runtime.pkgs" | tr '\n' ' ')"
if [ "$SANITIZED" = 1 ]; then
	diag "sanitizer build: the runtime-package checks run under make test (regular build)"
	missing=""
fi
check_eq "every package whose library a binary links is installed in the runtime stage" "" "$missing"
[ -z "$missing" ] || grep -F "$(comm -23 "$TD_TMP/needed.pkgs" "$TD_TMP/runtime.pkgs")" "$TD_TMP/needed.map" | sed 's/^/#   /'
extra="$(comm -13 "$TD_TMP/needed.pkgs" "$TD_TMP/runtime.pkgs" | grep -vx 'ca-certificates\|curl' | tr '\n' ' ')"
[ "$SANITIZED" = 0 ] || extra=""
check_eq "... and nothing else but ca-certificates and curl (only runtime libraries)" "" "$extra"
check_eq "no -dev package, compiler or npm in the runtime stage" "" \
	"$(grep -E -- '-dev$|^(gcc|clang|make|build-essential|npm|nodejs)$' "$TD_TMP/runtime.pkgs" | tr '\n' ' ')"

# the build stage has what the Makefile builds with (deps.sh's -dev packages)
# (cmocka and libclang-rt-*-dev, libFuzzer's runtime, are for make test and make fuzz only)
build_stage="$(awk '/^FROM .* AS build/{ s = 1 } /^FROM .* AS web/{ s = 0 } s' "$DF" | tr -s ' \\\n' '\n')"
want_dev="$(sed -n '/^PACKAGES=(/,/^)/p' "$TD_ROOT/scripts/deps.sh" | tr ' \t' '\n\n' | grep -- '-dev$' | grep -v -e cmocka -e libclang-rt | sort -u)"
lacking=""
for p in $want_dev protobuf-c-compiler pkg-config; do grep -qx -- "$p" <<<"$build_stage" || lacking+="$p "; done
check_eq "the build stage installs every -dev package of scripts/deps.sh (but the test-only cmocka and libclang-rt, libFuzzer)" "" "$lacking"

# the build stage's make command names targets the Makefile has (dry run)
targets="$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$DF" | grep 'RUN make ' | tr ' ' '\n' | grep '^/build/bin/tfdrift-[a-z-]*$' | sed "s#^/build#$TD_TMP/b#")"
check "the build stage's make targets exist (make -n BUILD=... $(wc -w <<<"$targets") binaries)" \
	make -n -C "$TD_ROOT" BUILD="$TD_TMP/b" $targets
check_eq "... the six processes" "6" "$(wc -w <<<"$targets")"
check_eq "three stages: build, web, runtime" "build web " \
	"$(sed -n 's/^FROM [^ ]* AS \([a-z]*\).*/\1/p' "$DF" | tr '\n' ' ')$(grep -c '^FROM ' "$DF" | sed 's/^3$//')"
check_eq "every base image tag is pinned (major.minor.*, no latest)" "" \
	"$(grep -E '^ARG [A-Z_]*IMAGE=' "$DF" | sed 's/.*=//' | grep -Ev ':[0-9]+\.[0-9]+' | tr '\n' ' ')"
check "the runtime is debian-slim" grep -q '^ARG DEBIAN_IMAGE=debian:[0-9.]*-slim$' "$DF"
check "the runtime runs as a non-root numeric user" grep -qx 'USER 10001:10001' "$TD_TMP/runtime"
check "the runtime has a HEALTHCHECK" grep -q '^HEALTHCHECK .*tfdrift-healthcheck' "$TD_TMP/runtime"
check "the web stage builds services/web with npm ci && npm run build when it has a package.json" \
	grep -q 'if \[ -f package.json \]; then.*npm ci .*&& npm run build' <(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$DF")
for p in .git build/ '**/node_modules/' run/; do
	check ".dockerignore keeps $p out of the build context" grep -qxF "$p" "$TD_ROOT/.dockerignore"
done

# the HEALTHCHECK script against a real process
write_config
start_up ingest
wait_ready ingest 20 || diag "ingest not ready: $(curl -s "$(admin_url ingest)/readyz")"
HC="$TD_ROOT/deploy/docker/healthcheck.sh"
check "tfdrift-healthcheck: 0 while ingest is ready" \
	env TFDRIFT_INGEST_ADMIN_PORT="${TD_PORT[ingest.admin_port]}" sh "$HC" tfdrift-ingest
stop_service ingest
if env TFDRIFT_INGEST_ADMIN_PORT="${TD_PORT[ingest.admin_port]}" sh "$HC" tfdrift-ingest 2>/dev/null; then
	not_ok "tfdrift-healthcheck: not 0 once ingest is gone" "it said healthy"
else
	ok "tfdrift-healthcheck: not 0 once ingest is gone"
fi
out="$(sh "$HC" bash 2>&1)"
check_eq "tfdrift-healthcheck: a process that is not tfdrift's is named" \
	"tfdrift-healthcheck: 'bash' is not a tfdrift process" "$out"

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
	check "docker build" docker build -q -f "$DF" -t "tfdrift-falco:test-$$" "$TD_ROOT"
	check "the image runs as uid 10001 and has the six binaries" sh -c \
		"docker run --rm --entrypoint sh tfdrift-falco:test-$$ -c 'id -u; ls /usr/local/bin/tfdrift-*' | grep -q '^10001$'"
	docker rmi "tfdrift-falco:test-$$" >/dev/null 2>&1
else
	diag "SKIPPED: no Docker engine here (docker info fails), so the image was not built"
fi
finish
