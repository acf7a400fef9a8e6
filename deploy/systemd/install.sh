#!/usr/bin/env bash
# install.sh — tfdrift-falco as bare binaries under systemd, from a checkout
# where `make` has run.
#
#   sudo deploy/systemd/install.sh              install, then: systemctl enable --now tfdrift.target
#   deploy/systemd/install.sh --destdir DIR     the same files under DIR (packaging, tests):
#                                               no user is created, systemctl is not called
#
# Installs the six binaries to PREFIX/bin (/usr/local/bin), the web UI (if
# built) to PREFIX/share/tfdrift/web, the units to /etc/systemd/system, and -
# only where they do not exist yet, so your edits survive a reinstall -
# /etc/tfdrift/config.yaml (from config.example.yaml: every key with its
# default) and /etc/tfdrift/tfdrift.env (secrets, mode 0600).  Creates the
# system user tfdrift.  Environment: BUILD (default build) where `make` put bin/.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
PREFIX=/usr/local
DESTDIR=""
SERVICES=(ingest state-loader correlator persistence api-gateway notifier)

while [ $# -gt 0 ]; do
	case $1 in
	--destdir) DESTDIR=${2:?}; shift ;;
	--prefix) PREFIX=${2:?}; shift ;;
	-h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	*) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
say() { printf 'install: %s\n' "$*" >&2; }

for s in "${SERVICES[@]}"; do
	[ -x "$BUILD/bin/tfdrift-$s" ] || { say "$BUILD/bin/tfdrift-$s is missing: run make first"; exit 1; }
done
if [ -z "$DESTDIR" ] && [ "$(id -u)" -ne 0 ]; then
	say "run as root (or with --destdir DIR)"
	exit 1
fi

install -d -m 755 "$DESTDIR$PREFIX/bin" "$DESTDIR/etc/systemd/system" "$DESTDIR/etc/tfdrift"
for s in "${SERVICES[@]}"; do
	install -m 755 "$BUILD/bin/tfdrift-$s" "$DESTDIR$PREFIX/bin/tfdrift-$s"
done
say "binaries in $PREFIX/bin"
if [ -f "$BUILD/web/index.html" ]; then
	install -d -m 755 "$DESTDIR$PREFIX/share/tfdrift/web"
	cp -R "$BUILD/web/." "$DESTDIR$PREFIX/share/tfdrift/web/"
	say "web UI in $PREFIX/share/tfdrift/web (set api_gateway.static_dir to it)"
fi
install -d -m 755 "$DESTDIR$PREFIX/share/doc/tfdrift-falco"
install -m 644 "$ROOT/README.md" "$DESTDIR$PREFIX/share/doc/tfdrift-falco/README.md"

for u in "$ROOT"/deploy/systemd/tfdrift-*.service "$ROOT/deploy/systemd/tfdrift.target"; do
	sed "s#/usr/local/#$PREFIX/#g" "$u" >"$DESTDIR/etc/systemd/system/$(basename "$u")"
	chmod 644 "$DESTDIR/etc/systemd/system/$(basename "$u")"
done
say "units in /etc/systemd/system: tfdrift.target and tfdrift-{$(IFS=,; echo "${SERVICES[*]}")}.service"

if [ ! -e "$DESTDIR/etc/tfdrift/config.yaml" ]; then
	install -m 644 "$ROOT/config.example.yaml" "$DESTDIR/etc/tfdrift/config.yaml"
	say "wrote /etc/tfdrift/config.yaml (every key at its default): set state_loader.local_files or sources"
else
	say "kept /etc/tfdrift/config.yaml"
fi
if [ ! -e "$DESTDIR/etc/tfdrift/tfdrift.env" ]; then
	install -m 600 "$ROOT/deploy/systemd/tfdrift.env.example" "$DESTDIR/etc/tfdrift/tfdrift.env"
	say "wrote /etc/tfdrift/tfdrift.env (mode 0600): set TFDRIFT_POSTGRES_DSN and the API tokens"
else
	say "kept /etc/tfdrift/tfdrift.env"
fi

if [ -z "$DESTDIR" ]; then
	if ! getent passwd tfdrift >/dev/null; then
		useradd --system --home-dir /var/lib/tfdrift --no-create-home --shell /usr/sbin/nologin tfdrift
		say "created the system user tfdrift"
	fi
	systemctl daemon-reload
	say "done: systemctl enable --now tfdrift.target; journalctl -u 'tfdrift-*' -f"
fi
