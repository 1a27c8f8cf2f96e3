#!/bin/bash
# docker-entrypoint.sh - a stand-in for the official postgres image's
# entrypoint, for machines that cannot pull images. Written for the
# deployment test from the image's documented interface only:
#
#   POSTGRES_PASSWORD / POSTGRES_PASSWORD_FILE   superuser password
#   POSTGRES_USER / _FILE [postgres], POSTGRES_DB / _FILE [$POSTGRES_USER]
#   PGDATA [/var/lib/postgresql/data], POSTGRES_INITDB_ARGS
#   /docker-entrypoint-initdb.d/*.sql and *.sh, run once on an empty PGDATA
#   (an executable .sh is run, any other .sh is sourced)
#
# On first start it runs initdb, then a temporary server on the Unix socket
# only for the init scripts, then the real server on every address. It
# starts as root, reads the *_FILE secrets, and drops to the postgres user.
set -Eeuo pipefail

# file_env VAR [DEFAULT]: VAR from VAR or from the file named by VAR_FILE.
file_env() {
	local var=$1 file_var="${1}_FILE" def=${2:-} val
	if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
		echo "entrypoint: both $var and $file_var are set; set one" >&2
		exit 1
	fi
	val=$def
	if [ -n "${!var:-}" ]; then
		val=${!var}
	elif [ -n "${!file_var:-}" ]; then
		val=$(<"${!file_var}")
	fi
	export "$var"="$val"
	unset "$file_var"
}

setup_env() {
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	export PGDATA=${PGDATA:-/var/lib/postgresql/data}
}

init_cluster() {
	if [ -z "$POSTGRES_PASSWORD" ]; then
		echo "entrypoint: the database is uninitialized and no" \
		    "superuser password is set: set POSTGRES_PASSWORD_FILE" >&2
		exit 1
	fi
	# shellcheck disable=SC2086
	initdb --username="$POSTGRES_USER" --auth-local=trust \
	    --auth-host=scram-sha-256 \
	    --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
	    ${POSTGRES_INITDB_ARGS:-} >/dev/null
	printf 'host all all all scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
	pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
	if [ "$POSTGRES_DB" != postgres ]; then
		psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" \
		    --dbname postgres -q --set db="$POSTGRES_DB" \
		    <<<'CREATE DATABASE :"db";'
	fi
	local f
	for f in /docker-entrypoint-initdb.d/*; do
		case $f in
		*.sh)
			echo "entrypoint: running $f"
			if [ -x "$f" ]; then "$f"; else . "$f"; fi
			;;
		*.sql)
			echo "entrypoint: running $f"
			psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" \
			    --no-psqlrc --dbname "$POSTGRES_DB" -q -f "$f"
			;;
		*) ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
	echo "entrypoint: initialization done; starting the server"
}

main() {
	if [ "${1:-}" != postgres ]; then
		exec "$@"
	fi
	setup_env
	if [ "$(id -u)" = 0 ]; then
		mkdir -p "$PGDATA" /var/run/postgresql
		chown -R postgres:postgres "$PGDATA" /var/run/postgresql
		chmod 700 "$PGDATA"
		exec setpriv --reuid=postgres --regid=postgres --init-groups \
		    "$BASH_SOURCE" "$@"
	fi
	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		init_cluster
	fi
	unset POSTGRES_PASSWORD
	shift
	exec postgres -c listen_addresses='*' "$@"
}

main "$@"
