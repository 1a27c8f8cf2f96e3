#!/bin/bash
# compose.sh - the deployment files, without a Docker engine: compose.yaml
# validates with Debian's docker-compose (on a copy of the tree with
# placeholder secret files, since the real ones are never committed);
# every service has a healthcheck or waits on one, takes secrets from
# files, and runs scripts/run-service with a mode it knows; the
# Dockerfile is multi-stage on Debian 12; and no password sits in the
# committed files.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

src=$MEDALLION_SOURCE_DIR
compose=$(command -v docker-compose || true)
if [ -z "$compose" ]; then
	echo "1..0 # SKIP docker-compose is not installed (apt-get install docker-compose)"
	exit 77
fi
copy=$H_TMP/tree
mkdir -p "$copy/deploy"
cp "$src/compose.yaml" "$src/Dockerfile" "$copy/"
cp -r "$src/schemas" "$src/scripts" "$copy/"
cp "$src/deploy/"* "$copy/deploy/"
printf 'POSTGRES_PASSWORD=placeholder\nMEDALLION_APP_PASSWORD=placeholder\nMEDALLION_PIPELINE_PASSWORD=placeholder\n' > "$copy/deploy/secrets.env"
: > "$copy/deploy/pgpass"
: > "$copy/deploy/server_token"

(cd "$copy" && "$compose" -f compose.yaml config -q) 2>"$H_TMP/err"
h_eq "compose.yaml validates with docker-compose config" "$?" 0
[ -s "$H_TMP/err" ] && sed 's/^/#   /' "$H_TMP/err" >&2
(cd "$copy" && "$compose" -f compose.yaml config) > "$H_TMP/resolved.yaml" 2>/dev/null
services=$(cd "$copy" && "$compose" -f compose.yaml config --services 2>/dev/null | sort | paste -sd' ')
h_eq "the services are postgres, server, orchestrator and retailapp" "$services" "orchestrator postgres retailapp server"
h_match "postgres loads the schema from schemas/postgres at init" "$(cat "$src/compose.yaml")" 'schemas/postgres/retail.sql:/docker-entrypoint-initdb.d/'
h_match "postgres keeps its data in a named volume" "$(cat "$src/compose.yaml")" 'pgdata:/var/lib/postgresql/data'
h_eq "every service has a healthcheck or depends on one" \
	"$(grep -cE '^\s+(healthcheck|depends_on):' "$src/compose.yaml" | awk '{print ($1 >= 4)}')" 1
h_match "secrets come from files" "$(cat "$src/compose.yaml")" 'file: deploy/pgpass'
for mode in $(grep -oE 'command: \["[a-z]+"' "$src/compose.yaml" | grep -oE '[a-z]+"$' | tr -d '"'); do
	h_check "run-service knows the mode a container runs: $mode" grep -qE "^$mode\)" "$src/scripts/run-service"
done
h_eq "the Dockerfile is multi-stage on Debian 12" "$(grep -c '^FROM debian:12' "$src/Dockerfile")" 2
h_match "... and its image runs scripts/run-service" "$(cat "$src/Dockerfile")" 'run-service'
h_eq "no secret file is committed" "$(cd "$src" && git ls-files deploy | grep -cE 'secrets.env$|pgpass$|server_token$')" 0
h_eq "no password literal in compose.yaml" "$(grep -ciE 'password: *[^$ ]' "$src/compose.yaml")" 0
h_done
