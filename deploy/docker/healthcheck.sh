#!/bin/sh
# tfdrift-healthcheck — the image's HEALTHCHECK: asks the tfdrift process of
# this container (PID 1, or the one named in $1) for /readyz on its admin
# port.  The port is $TFDRIFT_<SECTION>_ADMIN_PORT when set, else the
# process's default (ingest 9101, state-loader 9102, correlator 9103,
# persistence 9104, api-gateway 9105, notifier 9106).  Exit 0 when ready.
set -eu
name=${1:-$(tr '\0' '\n' </proc/1/cmdline | head -n 1)}
name=${name##*/}
case $name in
tfdrift-ingest) var=TFDRIFT_INGEST_ADMIN_PORT port=9101 ;;
tfdrift-state-loader) var=TFDRIFT_STATE_LOADER_ADMIN_PORT port=9102 ;;
tfdrift-correlator) var=TFDRIFT_CORRELATOR_ADMIN_PORT port=9103 ;;
tfdrift-persistence) var=TFDRIFT_PERSISTENCE_ADMIN_PORT port=9104 ;;
tfdrift-api-gateway) var=TFDRIFT_API_GATEWAY_ADMIN_PORT port=9105 ;;
tfdrift-notifier) var=TFDRIFT_NOTIFIER_ADMIN_PORT port=9106 ;;
*)
	echo "tfdrift-healthcheck: '$name' is not a tfdrift process" >&2
	exit 1
	;;
esac
eval "port=\${$var:-$port}"
exec curl -fsS -m 3 -o /dev/null "http://127.0.0.1:$port/readyz"
