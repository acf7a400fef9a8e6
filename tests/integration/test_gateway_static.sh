#!/usr/bin/env bash
# The api-gateway serving the web UI's build output (api_gateway.static_dir):
# files with their Content-Type, HEAD, no token needed while /api/v1 still
# wants one, ETag / Last-Modified and 304, Cache-Control, the SPA fallback to
# index.html, and every way out of the root refused (.., encoded and
# double-encoded dots, backslashes, a symlink leaving the root) while a file
# outside the root is never returned.  Also: a static_dir that does not exist
# stops the gateway at start with a message naming the key.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
# shellcheck source=../lib/gateway.sh
source "$(dirname "$0")/../lib/gateway.sh"
need sha256sum

# ---- a build output with a symlink escaping it ----------------------------------------
WEB="$TD_TMP/web"
mkdir -p "$WEB/assets" "$WEB/img" "$TD_TMP/outside"
printf '<!doctype html><title>tfdrift</title><div id="app"></div>\n' >"$WEB/index.html"
printf 'console.log("app");\n' >"$WEB/assets/app-3f2a1c.js"
printf 'body{margin:0}\n' >"$WEB/assets/app-3f2a1c.css"
printf '<svg xmlns="http://www.w3.org/2000/svg"/>\n' >"$WEB/img/logo.svg"
printf '{"name":"tfdrift"}\n' >"$WEB/manifest.webmanifest"
printf 'raw\n' >"$WEB/data.bin"
printf 'TOP-SECRET-OUTSIDE\n' >"$TD_TMP/outside/secret.txt"
ln -s "$TD_TMP/outside/secret.txt" "$WEB/leak.txt"
ln -s "$TD_TMP/outside" "$WEB/outdir"
ln -s "$WEB/img/logo.svg" "$WEB/logo-link.svg" # inside the root: allowed
# dotfiles, FIFOs and devices are never served (a FIFO opened for reading
# would wait for a writer and hold a worker thread)
printf 'DOT-SECRET=1\n' >"$WEB/.env"
mkdir -p "$WEB/.git" && printf 'DOT-SECRET-GIT\n' >"$WEB/.git/config"
printf 'DOT-SECRET-HIDDEN\n' >"$WEB/assets/.hidden.js"
mkfifo "$WEB/pipe.js" "$WEB/assets/stream.js"
HAVE_DEV=0
mknod "$WEB/zero.js" c 1 5 2>/dev/null && HAVE_DEV=1

start_postgres
gw_tokens
cfg_set api_gateway static_dir "\"$WEB\""
write_config
start_service api-gateway
wait_admin api-gateway 30 || bail "api-gateway did not come up"
wait_http "$TD_API_URL/index.html" 30 || bail "the web UI is not served"

# fetch PATH [curl args...]: sets CODE, HDRS (lower-cased) and BODY
fetch() {
	local path="$1"
	shift
	: >"$TD_TMP/h"
	: >"$TD_TMP/b"
	CODE="$(curl -s --path-as-is --max-time 10 -D "$TD_TMP/h" -o "$TD_TMP/b" -w '%{http_code}' \
		"$@" "$TD_API_URL$path" 2>/dev/null)" || true
	HDRS="$(tr -d '\r' <"$TD_TMP/h" | tr 'A-Z' 'a-z')"
	BODY="$(cat "$TD_TMP/b")"
}
hdr() { sed -n "s/^$1: //p" <<<"$HDRS" | head -n 1; }

# ---- files and their types -------------------------------------------------------------
fetch /
check_eq "/ is index.html" 200 "$CODE" api-gateway
check_eq "... its body" "$(cat "$WEB/index.html")" "$BODY" api-gateway
check_eq "... text/html" "text/html; charset=utf-8" "$(hdr content-type)" api-gateway
check_eq "... Cache-Control no-cache" "no-cache" "$(hdr cache-control)" api-gateway
check "... with a CSP allowing its own scripts" grep -q "^content-security-policy: default-src 'self'" <<<"$HDRS"
check "... nosniff" grep -q '^x-content-type-options: nosniff' <<<"$HDRS"

declare -A want=(
	[/index.html]="text/html; charset=utf-8"
	[/assets/app-3f2a1c.js]="text/javascript; charset=utf-8"
	[/assets/app-3f2a1c.css]="text/css; charset=utf-8"
	[/img/logo.svg]="image/svg+xml"
	[/manifest.webmanifest]="application/manifest+json"
	[/data.bin]="application/octet-stream"
	[/logo-link.svg]="image/svg+xml"
)
for p in "${!want[@]}"; do
	fetch "$p"
	check_eq "GET $p: 200" 200 "$CODE" api-gateway
	check_eq "... Content-Type ${want[$p]}" "${want[$p]}" "$(hdr content-type)" api-gateway
done
fetch /assets/app-3f2a1c.js
check_eq "a file's bytes are served as they are" "$(cat "$WEB/assets/app-3f2a1c.js")" "$BODY" api-gateway
check_eq "hashed assets are immutable" "public, max-age=31536000, immutable" \
	"$(hdr cache-control)" api-gateway
fetch /img/logo.svg
check_eq "other files are cached briefly" "public, max-age=300" "$(hdr cache-control)" api-gateway

fetch /assets/app-3f2a1c.js -I
check_eq "HEAD: 200" 200 "$CODE" api-gateway
check_eq "... Content-Length of the file" "$(stat -c %s "$WEB/assets/app-3f2a1c.js")" \
	"$(hdr content-length)" api-gateway
check "... no body" bash -c '! grep -q console.log "$1"' _ "$TD_TMP/b"

# ---- auth: the UI needs none, the API still does ---------------------------------------
fetch /index.html
check_eq "static files need no token" 200 "$CODE" api-gateway
fetch /api/v1/drifts
check_eq "/api/v1 still needs a token" 401 "$CODE" api-gateway
fetch /api/v1/nope -H "Authorization: Bearer $TOK_VIEWER"
check_eq "an unknown /api path is the API's 404, not the UI" 404 "$CODE" api-gateway
check_eq "... as a JSON error" not_found "$(jq -r .error.code <<<"$BODY" 2>&1)" api-gateway
fetch /openapi.json
check_eq "/openapi.json is still the contract" "3.1.0" "$(jq -r .openapi <<<"$BODY" 2>&1)" api-gateway
fetch /index.html -X POST
check_eq "POST to a static path: 405" 405 "$CODE" api-gateway
check_eq "... Allow: GET, HEAD" "get, head" "$(hdr allow)" api-gateway

# ---- validators ------------------------------------------------------------------------
fetch /assets/app-3f2a1c.js
ETAG="$(sed -n 's/^etag: //Ip' "$TD_TMP/h" | tr -d '\r' | head -n 1)"
LM="$(sed -n 's/^last-modified: //Ip' "$TD_TMP/h" | tr -d '\r' | head -n 1)"
check "an ETag is sent" test -n "$ETAG"
check_eq "Last-Modified is the file's mtime" \
	"$(TZ=GMT LC_ALL=C date -u -d "@$(stat -c %Y "$WEB/assets/app-3f2a1c.js")" '+%a, %d %b %Y %H:%M:%S GMT')" \
	"$LM" api-gateway
fetch /assets/app-3f2a1c.js -H "If-None-Match: $ETAG"
check_eq "If-None-Match with the ETag: 304" 304 "$CODE" api-gateway
check_eq "... without a body" "" "$BODY" api-gateway
check_eq "... with the ETag" "$(tr 'A-Z' 'a-z' <<<"$ETAG")" "$(hdr etag)" api-gateway
fetch /assets/app-3f2a1c.js -H "If-None-Match: \"other\", W/$ETAG"
check_eq "an ETag in a list (weak form): 304" 304 "$CODE" api-gateway
fetch /assets/app-3f2a1c.js -H 'If-None-Match: "other"'
check_eq "another ETag: 200" 200 "$CODE" api-gateway
fetch /assets/app-3f2a1c.js -H "If-Modified-Since: $LM"
check_eq "If-Modified-Since the mtime: 304" 304 "$CODE" api-gateway
fetch /assets/app-3f2a1c.js -H 'If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT'
check_eq "If-Modified-Since long ago: 200" 200 "$CODE" api-gateway
fetch /assets/app-3f2a1c.js -H 'If-None-Match: "other"' -H "If-Modified-Since: $LM"
check_eq "If-None-Match wins over If-Modified-Since" 200 "$CODE" api-gateway
sleep 1.1
printf 'console.log("app v2");\n' >"$WEB/assets/app-3f2a1c.js"
fetch /assets/app-3f2a1c.js -H "If-None-Match: $ETAG"
check_eq "a changed file no longer matches its old ETag" 200 "$CODE" api-gateway
check_eq "... and its new bytes are served" 'console.log("app v2");' "$BODY" api-gateway

# ---- SPA fallback ----------------------------------------------------------------------
for p in /drifts /drifts/42 /graph/prod%2Fapp /settings/ /resources/aws_instance.web%5B0%5D \
	/resources/module.net.aws_subnet.private; do
	fetch "$p"
	check_eq "client-side route $p: index.html" "200 $(cat "$WEB/index.html")" "$CODE $BODY" api-gateway
done
fetch /drifts/42
check_eq "... revalidated every time" "no-cache" "$(hdr cache-control)" api-gateway
fetch /assets/missing.js
check_eq "a missing file with an extension: 404" 404 "$CODE" api-gateway
fetch /missing.png
check_eq "a missing file with a known extension outside assets/: 404" 404 "$CODE" api-gateway
fetch /assets/missing.web0
check_eq "anything missing under assets/: 404" 404 "$CODE" api-gateway
check_eq "... a JSON error" not_found "$(jq -r .error.code <<<"$BODY" 2>&1)" api-gateway
fetch /img
check_eq "a directory is not a file (the UI takes the route)" "200 $(cat "$WEB/index.html")" \
	"$CODE $BODY" api-gateway

# ---- the way out -----------------------------------------------------------------------
for p in /../outside/secret.txt /assets/../../outside/secret.txt /%2e%2e/outside/secret.txt \
	/assets/%2E%2E/%2e%2e/outside/secret.txt /%2e%2e%2foutside%2fsecret.txt \
	/%252e%252e/outside/secret.txt '/..%5coutside%5csecret.txt' /./index.html \
	/assets/./app-3f2a1c.js; do
	fetch "$p"
	case "$CODE" in
	400 | 404) ok "traversal $p: $CODE" ;;
	*) not_ok "traversal $p" "answered $CODE" api-gateway ;;
	esac
	if grep -q TOP-SECRET <<<"$BODY"; then
		not_ok "... $p leaked the file outside the root" "" api-gateway
	fi
done
fetch /leak.txt
check_eq "a symlink leaving the root: 404" 404 "$CODE" api-gateway
check "... and nothing of the file" bash -c '! grep -q TOP-SECRET "$1"' _ "$TD_TMP/b"
fetch /outdir/secret.txt
check_eq "a directory symlink leaving the root: 404" 404 "$CODE" api-gateway
fetch /../outside/secret.txt
check_eq "a .. segment: 400" 400 "$CODE" api-gateway
check_eq "... a JSON error" bad_request "$(jq -r .error.code <<<"$BODY" 2>&1)" api-gateway

# ---- not regular files, dotfiles --------------------------------------------------------
for p in /.env /.git/config /assets/.hidden.js /img/../.env /.git/ /%2eenv; do
	fetch "$p"
	case "$CODE" in
	400 | 404) ok "dotfile $p: $CODE" ;;
	*) not_ok "dotfile $p" "answered $CODE" api-gateway ;;
	esac
	if grep -q DOT-SECRET <<<"$BODY"; then
		not_ok "... $p served a dotfile's bytes" "" api-gateway
	fi
done
# more FIFO requests at once than the gateway has threads: each must be
# refused at once; a worker blocked in open() would leave them unanswered
: >"$TD_TMP/fifo.codes"
fifo_pids=()
for i in $(seq 1 12); do
	p=/pipe.js
	[ $((i % 2)) = 0 ] && p=/assets/stream.js
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 "$TD_API_URL$p" >>"$TD_TMP/fifo.codes" &
	fifo_pids+=($!)
done
wait "${fifo_pids[@]}"
check_eq "12 concurrent requests for FIFOs: all 404 (none left waiting)" "12 404" \
	"$(sort "$TD_TMP/fifo.codes" | uniq -c | awk '{print $1, $2}' | tr '\n' ' ' | sed 's/ $//')" api-gateway
fetch /index.html
check_eq "... and the gateway serves files after them" 200 "$CODE" api-gateway
if [ "$HAVE_DEV" = 1 ]; then
	fetch /zero.js
	check_eq "a character device under the root: 404" 404 "$CODE" api-gateway
else
	diag "mknod not permitted here: the device case is not checked"
fi
check "the gateway is still up" alive api-gateway
stop_service api-gateway

# ---- a bad static_dir stops the start --------------------------------------------------
cfg_set api_gateway static_dir "\"$TD_TMP/no-such-dir\""
write_config
start_service api-gateway
# A watchdog bounds the wait: a gateway that started anyway is killed (143).
(sleep 15 && kill -TERM "${TD_PID[api-gateway]}" 2>/dev/null) &
WD=$!
wait "${TD_PID[api-gateway]}"
RC=$?
kill "$WD" 2>/dev/null
wait "$WD" 2>/dev/null
TD_PID[api-gateway]=""
check_eq "a missing static_dir: the gateway exits with status 2" 2 "$RC" api-gateway
check "... naming api_gateway.static_dir" grep -q 'api_gateway.static_dir' "${TD_LOG[api-gateway]}"

finish
