#!/bin/sh
# Runs once in the postgres container's docker-entrypoint-initdb.d, after
# retail.sql created the roles: sets their passwords from the environment
# (deploy/secrets.env), so no password is ever written into the repo.
set -eu
: "${MEDALLION_APP_PASSWORD:?set it in deploy/secrets.env}"
: "${MEDALLION_PIPELINE_PASSWORD:?set it in deploy/secrets.env}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname retail \
	-v app_pw="$MEDALLION_APP_PASSWORD" -v pipeline_pw="$MEDALLION_PIPELINE_PASSWORD" <<'SQL'
ALTER ROLE medallion_app PASSWORD :'app_pw';
ALTER ROLE medallion_pipeline PASSWORD :'pipeline_pw';
SQL
