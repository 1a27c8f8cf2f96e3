#!/bin/bash
# trigger-cost.sh - what retail.sql's notify triggers (orders_notify,
# ordershistory_notify: a NOTIFY per writing transaction, for
# `medallion-orchestrator watch`) cost the retail app's writes: its
# events/s on 4 connections, as fast as it goes, with the triggers and
# without them, alternated ROUNDS times on one cluster, while a session
# LISTENs (as watch does). Prints each round and the medians, and the
# load average.
# Usage: bench/freshness/trigger-cost.sh [BUILD-DIR]
#   (env: EVENTS=4000 per round, ROUNDS=5, CONNECTIONS=4, PG_DURABLE=1 for
#    fsync and synchronous_commit on, where a NOTIFY's commit-time lock
#    also covers the WAL flush)
set -euo pipefail
export LC_ALL=C
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
events=${EVENTS:-4000}
rounds=${ROUNDS:-5}
conns=${CONNECTIONS:-4}
app=$build/retailapp/medallion-retailapp
work=$(mktemp -d /tmp/medallion-trigger-cost.XXXXXX)
chmod 711 "$work"
listener=
trap 'exec 9>&-; [ -z "$listener" ] || kill "$listener" 2>/dev/null; "$src/tests/lib/pg-cluster" stop "$work/pg" >/dev/null 2>&1; rm -rf "$work"' EXIT
eval "$("$src/tests/lib/pg-cluster" start "$work/pg")"
app_env=$("$src/tests/lib/pg-cluster" env "$work/pg" medallion_app)
admin_env=$("$src/tests/lib/pg-cluster" env "$work/pg" admin)
psql_admin() { (eval "$admin_env"; "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -Atc "$1"); }

(eval "$app_env"; "$app" --bulk 20000 --seed 1 --quiet 2>/dev/null)
# A listener, as watch keeps one: LISTEN, then idle on an open session
# (psql reading a FIFO this script holds open).
mkfifo "$work/listen.in"
(eval "$admin_env"; exec "$PG_BINDIR/psql" -X -q <"$work/listen.in" >/dev/null 2>&1) &
listener=$!
exec 9>"$work/listen.in"
echo "LISTEN medallion_source;" >&9
# rate: events/s of one round, from the wall clock around it.
rate() {
	local t0 t1
	t0=$EPOCHREALTIME
	(eval "$app_env"; "$app" --events "$events" --connections "$conns" --seed "$1" --quiet 2>/dev/null)
	t1=$EPOCHREALTIME
	echo "$events / ($t1 - $t0)" | bc -l
}
triggers() {
	psql_admin "ALTER TABLE orders $1 TRIGGER orders_notify;
	    ALTER TABLE ordershistory $1 TRIGGER ordershistory_notify"
}
with=() without=()
for ((i = 1; i <= rounds; i++)); do
	triggers ENABLE
	with+=("$(rate $((2 * i)))")
	triggers DISABLE
	without+=("$(rate $((2 * i + 1)))")
	printf 'round %d: with %.0f events/s, without %.0f\n' "$i" "${with[-1]}" "${without[-1]}"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mw=$(median "${with[@]}") mo=$(median "${without[@]}")
printf 'retail app, %d events x %d rounds on %d connections%s:\n' "$events" "$rounds" "$conns" \
	"$([ "${PG_DURABLE:-0}" = 1 ] && echo ", durable (fsync, synchronous_commit)" || echo ", throwaway cluster (fsync off)")"
printf '  median with the notify triggers %.0f events/s, without %.0f: %.1f%% %s\n' "$mw" "$mo" \
	"$(echo "($mo - $mw) / $mo * 100" | bc -l | tr -d -)" "$(echo "$mw < $mo" | bc -l | sed 's/1/slower/;s/0/faster/')"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
