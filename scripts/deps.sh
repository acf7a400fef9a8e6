#!/usr/bin/env bash
# deps.sh — `make deps`: installs the Debian 12 packages tfdrift-falco needs to
# build, run and test.  What is already there is skipped; when nothing is
# missing it does nothing at all (no apt-get update, no network).
#
# Two kinds of requirement:
#   PACKAGES  libraries and toolchains, checked with dpkg (headers and .pc files
#             have no command to look for);
#   COMMANDS  tools checked by command name, because they may come from outside
#             Debian (Node.js from NodeSource brings its own npm, for example):
#             the Debian package is installed only when the command is absent.
set -euo pipefail

PACKAGES=(
	# build
	build-essential make pkg-config gcc clang
	protobuf-c-compiler libprotobuf-c-dev protobuf-compiler
	libnng-dev libgrpc-dev libhiredis-dev libpq-dev libmicrohttpd-dev libcjson-dev
	libyaml-dev libcurl4-openssl-dev zlib1g-dev libssl-dev libwslay-dev
	# unit tests
	libcmocka-dev
	# make lint
	clang-format clang-tidy cppcheck
	# make fuzz: clang's libFuzzer runtime (only recommended by clang-14)
	libclang-rt-14-dev
	# make run and the integration tests: PostgreSQL 15 server binaries
	# (/usr/lib/postgresql/15/bin) and Redis
	postgresql
)

# command:package
COMMANDS=(
	git:git
	psql:postgresql-client
	redis-server:redis-server
	redis-cli:redis-tools
	curl:curl
	jq:jq
	python3:python3
	ss:iproute2
	gzip:gzip
	# browser and API-contract tests (npm packages are installed by the tests)
	node:nodejs
	npm:npm
	chromium:chromium
	# make bench
	wrk:wrk
	# tests/integration/test_deploy_compose.sh: `docker-compose config`
	docker-compose:docker-compose
	# tests/integration/test_deploy_systemd.sh: systemd-analyze verify/security
	systemd-analyze:systemd
	# tests/integration/test_deploy_docker.sh: readelf (NEEDED libraries)
	readelf:binutils
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
for entry in "${COMMANDS[@]}"; do
	cmd=${entry%%:*}
	pkg=${entry#*:}
	if ! command -v "$cmd" >/dev/null 2>&1; then
		missing+=("$pkg")
	fi
done

install_debian() {
	# de-duplicate, keep order
	local -A seen=()
	local todo=() p
	for p in "${missing[@]}"; do
		[ -n "${seen[$p]:-}" ] && continue
		seen[$p]=1
		todo+=("$p")
	done

	echo "deps: installing ${todo[*]}" >&2
	SUDO=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 || {
			echo "deps: not root and no sudo; install these yourself: ${todo[*]}" >&2
			exit 1
		}
		SUDO=(sudo)
	fi
	export DEBIAN_FRONTEND=noninteractive
	"${SUDO[@]}" apt-get update -qq
	"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${todo[@]}" >/dev/null

	# Make sure what was asked for is now really there.
	still=()
	for entry in "${COMMANDS[@]}"; do
		command -v "${entry%%:*}" >/dev/null 2>&1 || still+=("${entry%%:*}")
	done
	if [ "${#still[@]}" -gt 0 ]; then
		echo "deps: still missing after install: ${still[*]}" >&2
		exit 1
	fi
	echo "deps: done" >&2
}

[ "${#missing[@]}" -eq 0 ] || install_debian

# npm packages of the test peers (tests/peers/package-lock.json) and of the
# deployment checks (tests/deploy/package-lock.json): installed once, again
# only when a lock file changes.
for peers in "$(dirname "${BASH_SOURCE[0]}")/../tests/peers" "$(dirname "${BASH_SOURCE[0]}")/../tests/deploy"; do
	if [ -f "$peers/package-lock.json" ] &&
		{ [ ! -d "$peers/node_modules" ] || [ "$peers/package-lock.json" -nt "$peers/node_modules/.package-lock.json" ]; }; then
		echo "deps: npm ci in tests/$(basename "$peers")" >&2
		(cd "$peers" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
	fi
done

# npm packages of the web UI (services/web/package-lock.json: the build, vitest,
# playwright-core and axe for the browser tests; no browser is downloaded, the
# tests drive Debian's chromium).  `make web` does the same when the lock changes.
web="$(dirname "${BASH_SOURCE[0]}")/../services/web"
if [ -f "$web/package-lock.json" ] &&
	{ [ ! -d "$web/node_modules" ] || [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; }; then
	echo "deps: npm ci in services/web" >&2
	(cd "$web" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
