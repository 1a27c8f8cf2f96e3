#!/bin/bash
# e2e.sh - the compose deployment, end to end, on a real Docker engine.
#
# Uses the machine's engine when one answers, else a throwaway dockerd
# (tests/lib/docker-engine) that is stopped and removed at the end, with
# the host's iptables rules as they were. Images that cannot be pulled here
# get local stand-ins, tagged as compose.yaml and the Dockerfile name them:
# debian:12-slim from debootstrap (minbase bookworm) and docker import;
# postgres:15-bookworm from tests/deploy/postgres-standin. Both are saved
# in the cache folder ($MEDALLION_CACHE, else ~/.cache/medallion), so a
# rerun loads them in seconds.
#
# Then the real compose.yaml, with secrets from deploy/make-secrets (mode
# 0600), a 10 s schedule and a free loopback port: every service healthy;
# two pipeline runs FINISHED; gold's CSV and /api/gold agree with SQL on
# the source; the dashboard opens without a token while the API and /ui
# need it; `docker-compose restart server` in the middle of a stage does
# not lose the run (asserted to have landed mid-stage); `down` then `up`
# keeps the lake, the server's state and the run history. Timings and
# image sizes are printed as comments.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

src=$MEDALLION_SOURCE_DIR
# Debian's docker client matches Debian's engine; prefer it to any other.
[ -x /usr/bin/docker ] && export PATH=/usr/bin:$PATH
cache=${MEDALLION_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/medallion}/deploy
mirror=${MEDALLION_DEBIAN_MIRROR:-http://deb.debian.org/debian}
t_start=$(date +%s)

skip() { h_skip "$@"; }

for tool in docker docker-compose curl jq; do
	command -v "$tool" >/dev/null 2>&1 ||
	    skip "$tool is not installed (scripts/install-deps test installs it)"
done

# --- the engine -----------------------------------------------------------

engine_dir=$H_TMP/engine
rc=0
"$src/tests/lib/docker-engine" start "$engine_dir" > "$H_TMP/engine.env" 2> "$H_TMP/engine.err" || rc=$?
h_defer "'$src/tests/lib/docker-engine' stop '$engine_dir'"
if [ "$rc" -eq 77 ]; then
	skip "$(tail -1 "$H_TMP/engine.err")"
elif [ "$rc" -ne 0 ]; then
	cat "$H_TMP/engine.err" >&2
	h_fail "a Docker engine answers"
	h_done
fi
. "$H_TMP/engine.env"
h_log "engine: $(docker version --format '{{.Server.Version}}') ($(cat "$engine_dir/mode"))"

# --- base images: the real ones, else cached or built stand-ins -------------

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

debian_standin() {
	local tar=$cache/debian-12-slim.tar root=$cache/rootfs.tmp
	[ -s "$tar" ] && docker load -q -i "$tar" >/dev/null && return
	command -v debootstrap >/dev/null 2>&1 ||
	    skip "debian:12-slim cannot be pulled and debootstrap is missing"
	rm -rf "$root"
	mkdir -p "$cache"
	debootstrap --variant=minbase bookworm "$root" "$mirror" \
	    > "$H_TMP/debootstrap.log" 2>&1 || {
		tail -5 "$H_TMP/debootstrap.log" >&2
		rm -rf "$root"
		return 1
	}
	# As the real slim image: its apt sources, apt that keeps no package
	# cache, and dpkg that installs no documentation or translations.
	rm -f "$root/etc/apt/sources.list"
	cat > "$root/etc/apt/apt.conf.d/docker-clean" <<-'EOF'
	DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
	Dir::Cache::pkgcache "";
	Dir::Cache::srcpkgcache "";
	EOF
	cat > "$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<-'EOF'
	path-exclude /usr/share/doc/*
	path-include /usr/share/doc/*/copyright
	path-exclude /usr/share/man/*
	path-exclude /usr/share/info/*
	path-exclude /usr/share/locale/*
	path-exclude /usr/share/groff/*
	path-exclude /usr/share/lintian/*
	EOF
	find "$root/usr/share/doc" -mindepth 2 ! -name copyright -type f -delete
	rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* \
	    "$root"/usr/share/locale/* "$root"/var/cache/apt/*.bin
	cat > "$root/etc/apt/sources.list.d/debian.sources" <<-EOF
	Types: deb
	URIs: $mirror
	Suites: bookworm bookworm-updates
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
	tar -C "$root" -c . | docker import --change 'CMD ["bash"]' - \
	    debian:12-slim >/dev/null &&
	    docker save debian:12-slim > "$tar.tmp" && mv "$tar.tmp" "$tar"
	rm -rf "$root"
}

postgres_standin() {
	local dir=$src/tests/deploy/postgres-standin key tar
	key=$(cat "$dir/Dockerfile" "$dir/docker-entrypoint.sh" | sha256sum | cut -c1-12)
	tar=$cache/postgres-15-bookworm-$key.tar
	[ -s "$tar" ] && docker load -q -i "$tar" >/dev/null && return
	docker build -q -t postgres:15-bookworm "$dir" > "$H_TMP/pg-build.log" 2>&1 || {
		tail -20 "$H_TMP/pg-build.log" >&2
		return 1
	}
	rm -f "$cache"/postgres-15-bookworm-*.tar
	docker save postgres:15-bookworm > "$tar.tmp" && mv "$tar.tmp" "$tar"
}

t0=$(date +%s)
have_image debian:12-slim || debian_standin
h_check "debian:12-slim is there (pulled, cached or built)" have_image debian:12-slim
have_image postgres:15-bookworm || postgres_standin
h_check "postgres:15-bookworm is there (pulled, cached or built)" have_image postgres:15-bookworm
h_log "base images ready in $(( $(date +%s) - t0 )) s"

# --- the deployment ---------------------------------------------------------

export COMPOSE_PROJECT_NAME=medallion-e2e-$$
export MEDALLION_IMAGE=medallion:e2e-$$
export MEDALLION_SECRETS=$H_TMP/secrets
export MEDALLION_SCHEDULE="--every 10s"
export MEDALLION_RETAIL_ARGS="--rate 20 --connections 2 --quiet"
port=$(h_freeport)
export MEDALLION_PUBLISH=127.0.0.1:$port
url=http://127.0.0.1:$port
dc() { docker-compose --ansi never -f "$src/compose.yaml" --project-directory "$src" "$@"; }
h_defer "docker rmi -f '$MEDALLION_IMAGE'"
h_defer "docker-compose --ansi never -f '$src/compose.yaml' --project-directory '$src' down -v --remove-orphans -t 5"

"$src/deploy/make-secrets" "$MEDALLION_SECRETS" >/dev/null
h_eq "make-secrets writes four secrets at mode 0600" \
	"$(stat -c %a "$MEDALLION_SECRETS"/* | sort -u | paste -sd' ')" 600
token=$(cat "$MEDALLION_SECRETS/server_token")

t0=$(date +%s)
rc=0
dc build > "$H_TMP/build.log" 2>&1 || rc=$?
h_eq "docker-compose build succeeds" "$rc" 0
[ "$rc" -eq 0 ] || tail -30 "$H_TMP/build.log" >&2
h_log "image built in $(( $(date +%s) - t0 )) s"
size=$(docker image inspect -f '{{.Size}}' "$MEDALLION_IMAGE" 2>/dev/null || echo 0)
base=$(docker image inspect -f '{{.Size}}' debian:12-slim 2>/dev/null || echo 0)
h_log "image sizes: medallion $((size / 1000000)) MB (base debian:12-slim $((base / 1000000)) MB), postgres $(( $(docker image inspect -f '{{.Size}}' postgres:15-bookworm) / 1000000 )) MB"
h_check "the runtime image adds less than 60 MB to its base" test $((size - base)) -lt 60000000
h_check_fails "... and has no PostgreSQL client in it" \
	docker run --rm --entrypoint /bin/sh "$MEDALLION_IMAGE" -c 'command -v psql'

service_health() {	# service_health SERVICE -> healthy|starting|unhealthy|...
	local id
	id=$(dc ps -q "$1" 2>/dev/null)
	[ -n "$id" ] || { echo none; return; }
	docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}no-check{{end}}' "$id"
}
all_healthy() {
	local s
	for s in postgres server orchestrator retailapp; do
		[ "$(service_health "$s")" = healthy ] || return 1
	done
}
# The orchestrator's history, as JSON lines, newest run first.
history() {
	dc exec -T --user medallion orchestrator medallion-orchestrator \
	    --history /var/lib/medallion/orchestrator.db history --json --limit 200
}
finished_runs() { history | jq -s '[.[] | select(.state == "FINISHED")] | length'; }
newest_run() { history | head -1 | jq -r .run_id; }
run_state() { history | jq -r "select(.run_id == $1) | .state"; }
two_runs_finished() { [ "$(finished_runs)" -ge 2 ]; }
run_finished() { [ "$(run_state "$1")" = FINISHED ]; }
# new_run_finished RUN: a run newer than RUN has finished.
new_run_finished() {
	local r
	r=$(newest_run)
	[ "$r" -gt "$1" ] && run_finished "$r"
}
server_healthy() { [ "$(service_health server)" = healthy ]; }
# A secret's value anywhere in the containers' configuration.
secret_in_config() {
	docker inspect $(docker ps -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME") |
	    grep -qF -e "$token" -e "$(cat "$MEDALLION_SECRETS/pipeline_password")" \
	    -e "$(cat "$MEDALLION_SECRETS/app_password")" \
	    -e "$(cat "$MEDALLION_SECRETS/postgres_password")"
}
# q SQL: rows a|b|c from the source database (for tests/lib/gold.sh).
q() { dc exec -T postgres psql -U postgres -d retail -At -c "$1"; }
. "$src/tests/lib/gold.sh"
api() { curl -sS -o "$H_TMP/body" -w '%{http_code}' "$@"; }

t_up=$(date +%s)
dc up -d > "$H_TMP/up.log" 2>&1
h_eq "docker-compose up -d succeeds" "$?" 0
h_check "every service becomes healthy (postgres, server, orchestrator, retailapp)" \
	h_wait_until 240 all_healthy
for s in postgres server orchestrator retailapp; do
	h_log "$s: $(service_health "$s")"
done
h_check "gold appears" h_wait_until 120 curl -fsS -o /dev/null "$url/api/gold"
h_log "up to the first gold: $(( $(date +%s) - t_up )) s"
h_check "at least two pipeline runs finish" h_wait_until 120 two_runs_finished
h_eq "no run failed" "$(history | jq -s '[.[] | select(.state != "FINISHED" and .state != "RUNNING")] | length')" 0
h_check_fails "no secret is in any container's configuration (docker inspect)" secret_in_config

# The dashboard, as README says: open without a token; the rest is not.
h_eq "GET /dashboard needs no token" "$(api "$url/dashboard")" 200
h_check "... and draws the branches" grep -q 'data-branch=' "$H_TMP/body"
h_eq "GET /api/gold needs no token" "$(api "$url/api/gold")" 200
h_eq "GET /ui without the token is refused" "$(api "$url/ui")" 403
h_eq "GET /ui with the token answers" "$(api -H "Authorization: Bearer $token" "$url/ui")" 200
h_eq "the API without the token is refused" "$(api "$url/v1/submissions")" 403

# Gold against SQL, on a source that no longer moves.
dc stop -t 5 retailapp >/dev/null 2>&1
last=$(newest_run)
h_check "a run that starts after the writes stopped finishes" h_wait_until 60 new_run_finished "$last"
curl -fsS -o "$H_TMP/gold.json" "$url/api/gold"
h_eq "/api/gold has every branch the source has" "$(gold_ours "$H_TMP/gold.json" | wc -l)" "$(gold_sql | wc -l)"
h_eq "/api/gold equals SQL on the source" "$(gold_compare "$H_TMP/gold.json")" ""
dc exec -T --user medallion server cat /var/lib/medallion/lake/gold/branch_metrics.csv > "$H_TMP/gold.csv"
h_eq "the gold CSV equals SQL on the source (branch, received, delivered)" \
	"$(tail -n +2 "$H_TMP/gold.csv" | tr -d '\r"' | cut -d, -f1-3 | sort)" \
	"$(gold_sql | cut -d'|' -f1-3 | tr '|' ',' | sort)"

# A server restart in the middle of a stage. New orders are written, then
# a session holds the source tables locked for 20 s, so the next run's
# ingestion waits inside its COPY: the restart is sent while it does.
dc run --rm -T -e MEDALLION_RETAIL_ARGS="--events 3000 --connections 2 --quiet" retailapp > "$H_TMP/events.log" 2>&1
h_eq "3000 more events written" "$?" 0
dc exec -T postgres psql -U postgres -d retail -q -c "BEGIN; LOCK TABLE orders, ordershistory IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(20); COMMIT;" > "$H_TMP/lock.log" 2>&1 &
locker=$!
running_ingestion() {
	curl -fsS -H "Authorization: Bearer $token" "$url/v1/submissions?state=RUNNING" |
	    jq -e '[.submissions[] | select(.stage == "ingestion")] | length > 0' >/dev/null
}
# Waiting on the lock, as PostgreSQL sees it: an ingestion seen RUNNING
# may be one whose COPY began before the lock and ends before the
# restart (the 10 s schedule starts runs while this test waits).
ingestion_waits_on_lock() {
	dc exec -T postgres psql -U postgres -d retail -Atc \
	    "SELECT count(*) FROM pg_stat_activity WHERE usename = 'medallion_pipeline' AND wait_event_type = 'Lock'" |
	    grep -qx '[1-9][0-9]*'
}
h_check "an ingestion starts and waits on the lock" h_wait_until 30 ingestion_waits_on_lock
h_check "... seen RUNNING by the server" running_ingestion
run=$(newest_run)
dc restart -t 10 server > "$H_TMP/restart.log" 2>&1
h_eq "docker-compose restart server succeeds" "$?" 0
wait "$locker"
h_check "the run in flight finishes after the restart" h_wait_until 120 run_finished "$run"
lost=$(history | jq -r "select(.run_id == $run) | [.attempts[] | select(.state == \"UNKNOWN\" or .state == \"NOT_FOUND\")] | length")
h_eq "the restart landed mid-stage: 1 driver lost, then retried" "$lost" 1
h_log "run $run: $(history | jq -c "select(.run_id == $run) | [.attempts[] | .stage + \":\" + .state]")"
h_check "the server is healthy again" h_wait_until 60 server_healthy
curl -fsS -o "$H_TMP/gold.json" "$url/api/gold"
h_eq "after the restart gold still equals SQL (nothing lost or doubled)" "$(gold_compare "$H_TMP/gold.json")" ""

# down, then up: the lake, the server's state and the history are kept.
runs_before=$(history | jq -s 'length')
subs_before=$(curl -fsS -H "Authorization: Bearer $token" "$url/v1/submissions?limit=1000" | jq '.submissions | length')
# Gold's metrics, not its bytes: a scheduled run between here and the
# stop may republish the same metrics (after maintenance compacted
# silver, say), with a new generation time and ETag.
gold_metrics() { curl -fsS "$url/api/gold" | jq -cS '.branches'; }
gold_before=$(gold_metrics)
h_check "gold has branches before the stop" test "$(printf '%s' "$gold_before" | jq 'length')" -gt 0
dc down -t 10 > "$H_TMP/down.log" 2>&1
h_eq "docker-compose down succeeds" "$?" 0
h_eq "... and leaves no container" "$(docker ps -aq --filter label=com.docker.compose.project=$COMPOSE_PROJECT_NAME | wc -l)" 0
# Up again without the writer, so the source stands still and gold can be
# compared before and after.
dc up -d postgres server orchestrator > "$H_TMP/up2.log" 2>&1
services_healthy() {
	local s
	for s in postgres server orchestrator; do
		[ "$(service_health "$s")" = healthy ] || return 1
	done
}
h_check "up again: every service healthy" h_wait_until 240 services_healthy
h_check "the history kept its runs" test "$(history | jq -s 'length')" -ge "$runs_before"
h_check "the server kept its submissions" test \
	"$(curl -fsS -H "Authorization: Bearer $token" "$url/v1/submissions?limit=1000" | jq '.submissions | length')" -ge "$subs_before"
h_eq "the lake kept gold (the same metrics)" "$(gold_metrics)" "$gold_before"
last=$(newest_run)
h_check "a new run after up finishes" h_wait_until 60 new_run_finished "$last"
curl -fsS -o "$H_TMP/gold.json" "$url/api/gold"
h_eq "... and gold still equals SQL" "$(gold_compare "$H_TMP/gold.json")" ""

h_log "deployment test took $(( $(date +%s) - t_start )) s"
h_done
