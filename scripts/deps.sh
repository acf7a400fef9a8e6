#!/usr/bin/env bash
# Installs the Debian packages tfdrift-falco needs to build, run and test.
# Packages already present are skipped; nothing is done when all are there.
set -euo pipefail

PACKAGES=(
  build-essential make pkg-config gcc clang
  clang-format clang-tidy cppcheck
  protobuf-c-compiler libprotobuf-c-dev protobuf-compiler
  libnng-dev libgrpc-dev libhiredis-dev libpq-dev libmicrohttpd-dev libcjson-dev
  libyaml-dev libcurl4-openssl-dev zlib1g-dev libssl-dev libwslay-dev
  libcmocka-dev
  postgresql postgresql-client redis-server redis-tools
  curl jq python3 nodejs npm chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
