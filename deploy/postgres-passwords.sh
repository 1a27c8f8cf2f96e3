#!/bin/sh
# Runs in the postgres container's docker-entrypoint-initdb.d, once, after
# retail.sql created the roles: sets their passwords from the secret files
# named by MEDALLION_APP_PASSWORD_FILE and MEDALLION_PIPELINE_PASSWORD_FILE
# (deploy/secrets/, the only place each password is set). The passwords
# travel from file to server inside psql (\set with backquotes), never
# through an environment variable or a command line. Safe to run again
# after a password file changed (README, "Run it with Docker Compose").
set -eu
: "${MEDALLION_APP_PASSWORD_FILE:?compose.yaml sets it: a secret file}"
: "${MEDALLION_PIPELINE_PASSWORD_FILE:?compose.yaml sets it: a secret file}"
for f in "$MEDALLION_APP_PASSWORD_FILE" "$MEDALLION_PIPELINE_PASSWORD_FILE"; do
	if [ ! -s "$f" ]; then
		echo "postgres-passwords: $f is missing or empty" \
		    "(run deploy/make-secrets)" >&2
		exit 1
	fi
done
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" \
    --dbname retail --no-psqlrc -q <<SQL
\\set app_pw \`head -n 1 '$MEDALLION_APP_PASSWORD_FILE'\`
\\set pipeline_pw \`head -n 1 '$MEDALLION_PIPELINE_PASSWORD_FILE'\`
ALTER ROLE medallion_app PASSWORD :'app_pw';
ALTER ROLE medallion_pipeline PASSWORD :'pipeline_pw';
SQL
echo "postgres-passwords: set the passwords of medallion_app and medallion_pipeline"
