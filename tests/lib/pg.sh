# pg.sh - a throwaway PostgreSQL for shell tests. Source after harness.sh:
#
#   pg_start                    start a cluster under $H_TMP, with database
#                               `retail` and the schema loaded; stopped and
#                               deleted at exit, also on failure or ^C
#   eval "$(pg_env_app)"        libpq settings for medallion_app
#   eval "$(pg_env_pipeline)"   ... for medallion_pipeline (read only)
#   eval "$(pg_env_admin)"      ... for the superuser
#   pg_psql_admin ARGS...       psql as superuser on retail (or $PG_DB),
#                               with ON_ERROR_STOP
#   pg_ctl_cluster ARGS...      pg_ctl on the cluster as its owner (e.g.
#                               `-m immediate stop`, `-w restart`)
#
# pg_start exports PG_HOST (the socket folder), PG_PORT and PG_SUPERUSER,
# and sets no PG* variable itself. It wraps tests/lib/pg-cluster, which the
# demo and benchmarks use directly.

PG_CLUSTER=$MEDALLION_SOURCE_DIR/tests/lib/pg-cluster

pg_start() {
	local dir=$H_TMP/pg out
	chmod 711 "$H_TMP"	# the cluster may run as user postgres
	h_defer "'$PG_CLUSTER' stop '$dir'"
	out=$("$PG_CLUSTER" start "$dir") || { echo "Bail out! PostgreSQL did not start"; exit 1; }
	eval "$out"
	PG_DIR=$dir
}

pg_env_app() { "$PG_CLUSTER" env "$PG_DIR" medallion_app; }
pg_env_pipeline() { "$PG_CLUSTER" env "$PG_DIR" medallion_pipeline; }
pg_env_admin() { "$PG_CLUSTER" env "$PG_DIR" admin; }

pg_psql_admin() {
	"$PG_BINDIR/psql" -h "$PG_HOST" -p "$PG_PORT" -U "$PG_SUPERUSER" \
		-d "${PG_DB:-retail}" -X -q -v ON_ERROR_STOP=1 "$@"
}

pg_ctl_cluster() {
	local ctl=("$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" "$@")
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "${ctl[@]}"
	else
		"${ctl[@]}"
	fi
}
