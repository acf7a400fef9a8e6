#!/usr/bin/env bash
# docker-compose.yml without a Docker engine: Debian's docker-compose accepts
# it (`config`) with no .env and with .env.example; every image tag is pinned;
# the journal, spool, PostgreSQL and Redis are on named volumes; Falco 0.44
# posts to ingest's HTTP receiver (listening on 0.0.0.0, published), Falco
# 0.43 is the falco-grpc profile, Prometheus and Grafana the observability
# profile, and Prometheus scrapes every process's admin port; every ${VAR} of
# the file is documented in .env.example; deploy/docker/config.yaml is
# accepted by the real binaries (unknown keys would stop them) and serves the
# web UI from where the image puts it.
# shellcheck source=../lib/services.sh
source "$(dirname "$0")/../lib/services.sh"
need docker-compose node

cd "$TD_ROOT" || bail "cd"
CHECK="$TD_ROOT/tests/deploy/chart_check.js"
[ -d "$TD_ROOT/tests/deploy/node_modules/yaml" ] || bail "tests/deploy/node_modules missing (run: make deps)"
get() { node "$CHECK" get "$@"; }
# no .env of the checkout may change what is checked: a private project dir
mkdir -p "$TD_TMP/p"
dc() { docker-compose --project-directory "$TD_ROOT" -f "$TD_ROOT/docker-compose.yml" "$@"; }

check "docker-compose config accepts docker-compose.yml without a .env (defaults)" \
	env -i PATH="$PATH" HOME="$TD_TMP" docker-compose --project-directory "$TD_TMP/p" -f "$TD_ROOT/docker-compose.yml" config -q
check "... and with .env.example" dc --env-file "$TD_ROOT/.env.example" config -q
dc --env-file "$TD_ROOT/.env.example" config >"$TD_TMP/resolved.yaml" 2>"$TD_TMP/config.err" ||
	bail "docker-compose config: $(cat "$TD_TMP/config.err")"
R="$TD_TMP/resolved.yaml"

services="$(dc --env-file "$TD_ROOT/.env.example" config --services | sort | tr '\n' ' ')"
for s in postgres redis ingest state-loader correlator persistence api-gateway notifier falco falco-grpc prometheus grafana; do
	grep -qw -- "$s" <<<"$services" || not_ok "service $s exists" "services: $services"
done
ok "the stack has PostgreSQL, Redis, the six processes, falco, falco-grpc, Prometheus and Grafana"

unpinned=""
for s in $services; do
	img="$(get "$R" "services.$s.image" | tr -d '"')"
	# a tag after the last ':' that starts with a version number
	[[ "$img" =~ :v?[0-9]+\.[0-9]+[^:/]*$ ]] || unpinned+="$s=$img "
done
check_eq "every image tag is pinned (a version, never latest)" "" "$unpinned"

vol() { # SERVICE TARGET -> the named volume mounted there (short or long syntax)
	get "$R" "services.$1.volumes" | node -e '
		const v = JSON.parse(require("fs").readFileSync(0, "utf8")) || [];
		const named = (s) => /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(s);
		for (const x of v) {
			const [src, target] = typeof x === "string" ? x.split(":") : [x.source, x.target];
			if (target === process.argv[1]) { console.log(named(src) ? src : "bind " + src); process.exit(0); }
		}
		console.log("none");' "$2"
}
check_eq "ingest's journal is on a named volume" "ingest-data" "$(vol ingest /var/lib/tfdrift)"
check_eq "persistence's spool is on a named volume" "persistence-data" "$(vol persistence /var/lib/tfdrift)"
check_eq "PostgreSQL's data is on a named volume" "postgres-data" "$(vol postgres /var/lib/postgresql/data)"
check_eq "Redis's dump is on a named volume" "redis-data" "$(vol redis /data)"

CFG="$TD_ROOT/deploy/docker/config.yaml"
check_eq "ingest's HTTP receiver listens on every address, port 2801" '"0.0.0.0"|2801' \
	"$(get "$CFG" ingest.http_bind)|$(get "$CFG" ingest.http_port)"
check_eq "... and is published" "yes" \
	"$(get "$R" services.ingest.ports | grep -Eq '"(127\.0\.0\.1:)?2801:2801(/tcp)?"|"target":2801' && echo yes || get "$R" services.ingest.ports)"
FY="$TD_ROOT/deploy/docker/falco.yaml"
check_eq "falco: the CloudTrail plugin, http_output to ingest's receiver" \
	'"cloudtrail"|true|"http://ingest:2801/api/v1/falco/events"' \
	"$(get "$FY" 'plugins[0].name')|$(get "$FY" http_output.enabled)|$(get "$FY" http_output.url)"
check_eq "falco: no kernel driver (plugins only)" '"nodriver"' "$(get "$FY" engine.kind)"
check_eq "falco runs Falco 0.44 in profile falco" '"falcosecurity/falco:0.44.0"|["falco"]' \
	"$(get "$R" services.falco.image)|$(get "$R" services.falco.profiles)"
GY="$TD_ROOT/deploy/docker/falco-grpc.yaml"
check_eq "falco-grpc runs Falco 0.43 in profile falco-grpc, gRPC output on the shared socket" \
	'"falcosecurity/falco:0.43.0"|["falco-grpc"]|true|"unix:///run/falco/falco.sock"' \
	"$(get "$R" services.falco-grpc.image)|$(get "$R" services.falco-grpc.profiles)|$(get "$GY" grpc_output.enabled)|$(get "$GY" grpc.bind_address)"
check_eq "... ingest sees that socket's volume" "falco-run" "$(vol ingest /run/falco)"
check_eq "Prometheus and Grafana are the observability profile" '["observability"]|["observability"]' \
	"$(get "$R" services.prometheus.profiles)|$(get "$R" services.grafana.profiles)"

# every process's admin port is scraped: the defaults of the directive table
want_ports="$(sed -n 's/^[[:space:]]*{ *"\([a-z_]*\)", *"admin_port", *TD_CFG_INT, *"\([0-9]*\)".*/\2/p' \
	"$TD_ROOT/libcommon/src/config_directives.c" | sort -n | tr '\n' ' ')"
got_ports="$(get "$TD_ROOT/deploy/prometheus/prometheus.yml" 'scrape_configs[0].dns_sd_configs' |
	node -e 'console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).map((c) => c.port).sort().join(" ") + " ")')"
check_eq "Prometheus scrapes every admin port (${want_ports% })" "$want_ports" "$got_ports"
check_eq "... and the compose config keeps the default admin ports" "" "$(grep -n 'admin_port' "$CFG")"
check_eq "Grafana gets the dashboards and both data sources" "yes" \
	"$(get "$R" services.grafana.volumes | grep -q '/var/lib/grafana/dashboards/tfdrift' &&
		get "$R" services.grafana.volumes | grep -q 'datasources/prometheus.yaml' && echo yes || echo no)"

v="$(tr -d ' \n' <"$TD_ROOT/VERSION")"
check_eq "the tfdrift image's tag is the VERSION file (compose default and .env.example)" "$v|$v" \
	"$(sed -n 's/.*image: tfdrift-falco:${TFDRIFT_VERSION:-\([^}]*\)}.*/\1/p' docker-compose.yml | sort -u)|$(sed -n 's/^TFDRIFT_VERSION=//p' .env.example)"

# every ${VAR} in the compose file is in .env.example, and nothing else
used="$(grep -o '\${[A-Z_]*' docker-compose.yml | tr -d '${' | sort -u)"
documented="$(sed -n 's/^\([A-Z_][A-Z_0-9]*\)=.*/\1/p' .env.example | grep -v '^COMPOSE_' | sort -u)"
check_eq "every \${VAR} of docker-compose.yml is in .env.example" "" "$(comm -23 <(echo "$used") <(echo "$documented") | tr '\n' ' ')"
check_eq "... and .env.example has nothing it does not use" "" "$(comm -13 <(echo "$used") <(echo "$documented") | tr '\n' ' ')"
check ".env is git-ignored" git -C "$TD_ROOT" check-ignore -q .env

# the compose config is accepted by the real binaries
# (the loader checks every section's keys, types and bounds, whichever process reads it)
"$TD_BIN/tfdrift-ingest" --config "$CFG" replay --print "$TD_ROOT/examples/events/demo-cloudtrail.json" >/dev/null 2>"$TD_TMP/cfg.err"
check_eq "deploy/docker/config.yaml is a valid configuration (tfdrift-ingest reads every section)" "" \
	"$(grep -v '"level":"info"\|^replay:' "$TD_TMP/cfg.err")"
check_eq "the gateway serves the UI from where the image puts it" "yes" \
	"$(grep -q "COPY --from=web /web $(get "$CFG" api_gateway.static_dir | tr -d '"')\$" "$TD_ROOT/deploy/docker/Dockerfile" && echo yes || echo no)"
finish
