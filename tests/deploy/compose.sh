#!/bin/bash
# compose.sh - the deployment files, without a Docker engine (fast; e2e.sh
# runs them for real): compose.yaml validates with Debian's docker-compose,
# with secrets from deploy/make-secrets in a temp folder; secrets are files
# read through *_FILE variables and never environment values; every
# service has a health check and bounded logs; the postgres check goes over
# TCP; the image is multi-stage on Debian 12, builds no tests, and its
# build context leaves out secrets and the git history; run-service knows
# every mode a container runs; and no password sits in the committed files.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

src=$MEDALLION_SOURCE_DIR
compose=$(command -v docker-compose || true)
if [ -z "$compose" ]; then
	h_skip "docker-compose is not installed (apt-get install docker-compose)"
fi
export MEDALLION_SECRETS=$H_TMP/secrets
"$src/deploy/make-secrets" "$MEDALLION_SECRETS" >/dev/null
h_eq "make-secrets writes four secrets, mode 0600" \
	"$(stat -c '%n %a' "$MEDALLION_SECRETS"/* | sed 's|.*/||' | paste -sd' ')" \
	"app_password 600 pipeline_password 600 postgres_password 600 server_token 600"
before=$(md5sum "$MEDALLION_SECRETS"/* | md5sum)
"$src/deploy/make-secrets" "$MEDALLION_SECRETS" >/dev/null
h_eq "... and never changes one that exists" "$(md5sum "$MEDALLION_SECRETS"/* | md5sum)" "$before"

dc() { (cd "$src" && "$compose" -f compose.yaml "$@"); }
dc config -q 2>"$H_TMP/err"
h_eq "compose.yaml validates with docker-compose config" "$?" 0
[ -s "$H_TMP/err" ] && sed 's/^/#   /' "$H_TMP/err" >&2
dc config > "$H_TMP/resolved.yaml" 2>/dev/null
resolved=$(cat "$H_TMP/resolved.yaml")
h_eq "the services are postgres, server, orchestrator and retailapp" \
	"$(dc config --services 2>/dev/null | sort | paste -sd' ')" "orchestrator postgres retailapp server"

# One YAML block per service, from the resolved file.
service() { awk -v s="  $1:" '$0 == s {on = 1; next} on && /^  [a-z]/ {on = 0} on' "$H_TMP/resolved.yaml"; }
for s in postgres server orchestrator retailapp; do
	h_match "$s has a health check" "$(service "$s")" 'healthcheck:'
	h_match "$s's logs are capped" "$(service "$s")" "max-size: 10m"
done
h_match "postgres is checked over TCP (ready means the real server)" "$(service postgres)" "pg_isready.*- -h.*- 127.0.0.1"
h_match "postgres reads its password from a file" "$(service postgres)" 'POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password'
h_match "postgres loads the schema from schemas/postgres at init" "$(cat "$src/compose.yaml")" 'schemas/postgres/retail.sql:/docker-entrypoint-initdb.d/'
h_match "postgres keeps its data in a named volume" "$(service postgres)" '- pgdata:/var/lib/postgresql/data'
h_check_fails "no service takes an env_file (passwords as plain variables)" grep -q 'env_file' "$src/compose.yaml"
h_match "the orchestrator gets the token by MEDALLION_TOKEN_FILE" "$(service orchestrator)" 'MEDALLION_TOKEN_FILE: /run/secrets/server_token'
h_match "the server's port is published on loopback only" "$(service server)" '- 127.0.0.1:[0-9]+:6066'
h_match "secrets come from files" "$resolved" "file: $MEDALLION_SECRETS/server_token"
for mode in $(grep -oE 'command: \["[a-z]+"' "$src/compose.yaml" | grep -oE '[a-z]+"$' | tr -d '"' | grep -vx postgres); do
	h_check "run-service knows the mode a container runs: $mode" grep -qE "^$mode\)" "$src/scripts/run-service"
	h_check "... and its health check: $mode" grep -qE "^	$mode\)" "$src/scripts/run-service"
done

h_eq "the Dockerfile is multi-stage on Debian 12" "$(grep -c '^FROM debian:12' "$src/Dockerfile")" 2
h_match "... builds no tests and lets warnings pass" "$(cat "$src/Dockerfile")" '-Dtests=false -Dwerror=false'
h_check_fails "... and installs no PostgreSQL client" grep -q 'postgresql-client' "$src/Dockerfile"
h_match "... and its image runs deploy/entrypoint" "$(cat "$src/Dockerfile")" 'ENTRYPOINT \["/usr/local/bin/medallion-entrypoint"\]'
h_check ".dockerignore leaves out everything not listed (.git, secrets, builds)" \
	bash -c "head -5 '$src/.dockerignore' | grep -qx '\*' && ! grep -q '^!deploy/secrets' '$src/.dockerignore'"
h_eq "no secret file is committed" "$(cd "$src" && git ls-files deploy | grep -cE '^deploy/secrets(/|\.env$)|pgpass$|server_token$|_password$')" 0
h_eq "no password literal in compose.yaml" "$(grep -ciE 'password: *[^$ /]' "$src/compose.yaml")" 0
h_done
