#!/usr/bin/env bash
# The web UI's vitest unit tests (services/web/tests/unit: API client, URL
# state, diff rendering, reconnect and catch-up), each reported as one
# "ok - web: ..." line; then tsc (strict) and eslint over the sources.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
need node npm
WEB="$TD_ROOT/services/web"
[ -d "$WEB/node_modules/vitest" ] || bail "no services/web/node_modules (make web runs npm ci)"
cd "$WEB" || bail "no $WEB"
npm run --silent gen >/dev/null 2>&1 || bail "openapi-typescript could not generate the API types"
out="$TD_TMP/vitest.tap"
npx vitest run --reporter=tap-flat >"$out" 2>&1
rc=$?
# "ok 3 - file > suite > name # time=..." -> "ok - web: suite > name"
sed -nE 's/^(not ok|ok) [0-9]+ - tests\/unit\/[^>]*> (.*)$/\1 - web: \2/p' "$out" | sed -E 's/ # time=[0-9.]+m?s$//'
if [ "$rc" -ne 0 ] && ! grep -q '^not ok' "$out"; then
	not_ok "vitest ran" "$(tail -20 "$out")"
fi
check "tsc --noEmit (strict) passes" npx tsc -b
check "eslint passes" npx eslint src tests bench
finish
