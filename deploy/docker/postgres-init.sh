#!/bin/sh
# Runs once, when the postgres container initialises its volume: a read-only
# role for Grafana.  The tables do not exist yet (persistence migrates them at
# start), so SELECT is granted by default on whatever tfdrift creates.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
	-v pw="$GRAFANA_DB_PASSWORD" <<'SQL'
CREATE ROLE grafana_reader LOGIN PASSWORD :'pw';
GRANT CONNECT ON DATABASE tfdrift TO grafana_reader;
GRANT USAGE ON SCHEMA public TO grafana_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE tfdrift IN SCHEMA public GRANT SELECT ON TABLES TO grafana_reader;
SQL
