#!/usr/bin/env bash
# Bare binaries under systemd: deploy/systemd/install.sh --destdir puts the
# six binaries, the units, config.yaml and a 0600 tfdrift.env in place;
# systemd-analyze verify finds nothing wrong with any unit (no unknown key, the
# binary exists), each unit's exposure (systemd-analyze security) is low; the
# installed binaries read the installed config; a second install keeps the
# edited config and secrets.  (No systemd runs here: the units are not started.)
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
need systemd-analyze

D="$TD_TMP/root"
SERVICES=(ingest state-loader correlator persistence api-gateway notifier)
BUILD="$BUILD" bash "$TD_ROOT/deploy/systemd/install.sh" --destdir "$D" >"$TD_TMP/install.out" 2>&1
check_eq "install.sh --destdir succeeds" 0 "$?" || sed 's/^/#   /' "$TD_TMP/install.out"
missing=""
for s in "${SERVICES[@]}"; do
	[ -x "$D/usr/local/bin/tfdrift-$s" ] || missing+="bin/tfdrift-$s "
	[ -f "$D/etc/systemd/system/tfdrift-$s.service" ] || missing+="tfdrift-$s.service "
done
[ -f "$D/etc/systemd/system/tfdrift.target" ] || missing+="tfdrift.target "
check_eq "the six binaries, six units and tfdrift.target are installed" "" "$missing"
check_eq "config.yaml 644, tfdrift.env 600" "644|600" \
	"$(stat -c %a "$D/etc/tfdrift/config.yaml")|$(stat -c %a "$D/etc/tfdrift/tfdrift.env")"

# verify each unit with ExecStart pointing where the binary is in DESTDIR
mkdir -p "$TD_TMP/units"
for u in "$D"/etc/systemd/system/tfdrift*; do
	sed "s#/usr/local/bin/#$D/usr/local/bin/#" "$u" >"$TD_TMP/units/$(basename "$u")"
done
out="$(cd "$TD_TMP/units" && systemd-analyze verify --man=no ./tfdrift-*.service ./tfdrift.target 2>&1)"
check_eq "systemd-analyze verify: no warning for any unit" "" "$out"
printf '[Service]\nExecStart=/bin/true\nRestartPreventExitStatuss=2\n' >"$TD_TMP/units/typo.service"
out="$(cd "$TD_TMP/units" && systemd-analyze verify --man=no ./typo.service 2>&1)"
check_eq "... which does catch a misspelt key" "yes" "$(grep -q "Unknown key 'RestartPreventExitStatuss'" <<<"$out" && echo yes || echo "$out")"
worst=""
for s in "${SERVICES[@]}"; do
	level="$(systemd-analyze security --offline=yes --no-pager "$TD_TMP/units/tfdrift-$s.service" 2>/dev/null |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')"
	diag "tfdrift-$s.service exposure: ${level:-?}"
	awk -v l="${level:-10}" 'BEGIN { exit !(l <= 2.0) }' || worst+="$s=${level:-?} "
done
check_eq "every unit's exposure level (systemd-analyze security) is at most 2.0" "" "$worst"
check "every unit runs as the unprivileged user tfdrift with the state directory /var/lib/tfdrift" \
	sh -c "! grep -L '^User=tfdrift' '$D'/etc/systemd/system/tfdrift-*.service | grep -q . && ! grep -L '^StateDirectory=tfdrift' '$D'/etc/systemd/system/tfdrift-*.service | grep -q ."
check_eq "every unit turns glibc's per-thread malloc caches off (memory flat), before tfdrift.env" "6" \
	"$(for u in "$D"/etc/systemd/system/tfdrift-*.service; do
		awk '/^Environment=GLIBC_TUNABLES=glibc.malloc.tcache_count=0$/ { t = 1 } /^EnvironmentFile=/ && t { print "ok"; exit }' "$u"
	done | grep -c ok)"
check_eq "a configuration error (exit 2) is not restarted" "6" \
	"$(grep -l '^RestartPreventExitStatus=2' "$D"/etc/systemd/system/tfdrift-*.service | wc -l)"

# the installed binaries take the installed config as the units start them
"$D/usr/local/bin/tfdrift-ingest" --config "$D/etc/tfdrift/config.yaml" replay --print \
	"$TD_ROOT/examples/events/demo-cloudtrail.json" >"$TD_TMP/replay.out" 2>"$TD_TMP/replay.err"
check_eq "the installed tfdrift-ingest reads the installed config.yaml" "0|19" "$?|$(wc -l <"$TD_TMP/replay.out")"
check "the installed binaries answer --version" sh -c "for s in ${SERVICES[*]}; do '$D/usr/local/bin/tfdrift-'\$s --version >/dev/null || exit 1; done"

# a reinstall keeps what the operator edited
echo "# edited" >>"$D/etc/tfdrift/config.yaml"
echo "TFDRIFT_API_GATEWAY_TOKENS=me:admin:00" >>"$D/etc/tfdrift/tfdrift.env"
BUILD="$BUILD" bash "$TD_ROOT/deploy/systemd/install.sh" --destdir "$D" >"$TD_TMP/install2.out" 2>&1
check_eq "a second install keeps the edited config.yaml and tfdrift.env" "0|1|1" \
	"$?|$(grep -c '^# edited' "$D/etc/tfdrift/config.yaml")|$(grep -c '^TFDRIFT_API_GATEWAY_TOKENS=me:admin:00' "$D/etc/tfdrift/tfdrift.env")"
finish
