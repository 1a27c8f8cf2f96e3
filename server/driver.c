/*
 * driver.c - starting queued drivers, killing them, and noticing lost ones.
 *
 * The scheduler runs on the server's main thread: woken by a create (via
 * the self-pipe) or every 100 ms, it reaps exited runners, claims queued
 * drivers while fewer than --max-running hold a slot, and starts one
 * medallion-runner per claim. Every 2 s (and at start) it checks that each
 * unfinished driver still has a live runner: a claim whose runner never
 * began goes back to the queue; a running driver whose runner died is
 * marked UNKNOWN and its stage's process group is stopped, so nothing runs
 * twice and nothing stays RUNNING forever. A runner that is alive but no
 * longer renews its lease (stopped by SIGSTOP, hung) is treated the same
 * once the lease has run out: a pid check alone cannot see it.
 *
 * Kill asks the runner (kill_requested and SIGTERM). When the runner
 * cannot act, because its lease ran out or it is gone, the server kills
 * the stage's process group and the runner itself, and records KILLED; a
 * kill asked of a runner that stops before acting on it is completed the
 * same way when its lease runs out.
 *
 * A runner's environment is built here, each source replacing the
 * variables of the ones before it (never a second entry of one name, which
 * a stage's getenv would not see): a fixed PATH and locale,
 * MEDALLION_LAKE, the operator's --stage-env entries,
 * MEDALLION_SUBMISSION_ID, then the request's (already vetted: names that
 * change how a process runs are refused at create) variables, whose
 * values come from the driver's environment file (store_env_load), never
 * from the state. Last, MEDALLION_RUNNER_TOKEN, the claim token: in the
 * environment (readable only by our uid) rather than argv (readable by
 * all); the runner reads it and removes it before it starts the stage.
 * The server's own environment is not inherited.
 *
 * State changes wake parked status requests (longpoll.c): a runner gets
 * the notification socket as fd RUNNER_NOTIFY_FD (--notify-fd) and sends
 * on it after each state it records; the server notifies after each one
 * it records itself here (kill, lost and silent runners, launch errors)
 * and whenever it reaps a runner.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "proc.h"
#include "server.h"

#define CLAIM_GRACE_US (10 * 1000000LL)
/* Where a runner finds the notification socket (see above). */
#define RUNNER_NOTIFY_FD 3
#define RECOVER_EVERY_US (2 * 1000000LL)

void
driver_wake(server *s)
{
	char c = 1;

	(void)!write(s->wake_fd[1], &c, 1);
}

static void
free_strings(char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* A growing "NAME=VALUE" list in which a later entry replaces an earlier
 * one of the same name. */
typedef struct env_list {
	char **items;		/* NULL-terminated */
	size_t n, cap;
	int failed;		/* out of memory: the list is incomplete */
} env_list;

/* Takes ownership of entry (NULL: a failed allocation). */
static void
env_put(env_list *l, char *entry)
{
	size_t name_len, i;
	char **grown;

	if (entry == NULL) {
		l->failed = 1;
		return;
	}
	name_len = strcspn(entry, "=");
	for (i = 0; i < l->n; i++) {
		if (strncmp(l->items[i], entry, name_len + 1) == 0) {
			free(l->items[i]);
			l->items[i] = entry;
			return;
		}
	}
	if (l->n + 1 >= l->cap) {
		size_t cap = l->cap == 0 ? 16 : l->cap * 2;

		if ((grown = realloc(l->items, cap * sizeof(*grown))) == NULL) {
			free(entry);
			l->failed = 1;
			return;
		}
		l->items = grown;
		l->cap = cap;
	}
	l->items[l->n++] = entry;
	l->items[l->n] = NULL;
}

static void
env_putf(env_list *l, const char *name, const char *value)
{
	char *entry;

	env_put(l, asprintf(&entry, "%s=%s", name, value) < 0 ? NULL : entry);
}

/*
 * envp for a runner (see the top of this file for the order); values is
 * the request's variables as a JSON object (NULL: none). NULL when out of
 * memory or values is not an object of strings.
 */
static char **
runner_environment(server *s, const char *id, const char *values,
    int64_t token)
{
	json_t *env = values ? json_loads(values, 0, NULL) : json_object(), *v;
	env_list l = {NULL, 0, 0, 0};
	const char *name;
	char token_s[32];
	size_t i;

	if (!json_is_object(env))
		goto err;
	env_put(&l, strdup("PATH=/usr/local/bin:/usr/bin:/bin"));
	env_put(&l, strdup("LANG=C.UTF-8"));
	if (s->lake_dir != NULL)
		env_putf(&l, "MEDALLION_LAKE", s->lake_dir);
	for (i = 0; i < s->nstage_env; i++)
		env_put(&l, strdup(s->stage_env[i]));
	env_putf(&l, "MEDALLION_SUBMISSION_ID", id);
	json_object_foreach(env, name, v) {
		if (!json_is_string(v))
			goto err;
		env_putf(&l, name, json_string_value(v));
	}
	snprintf(token_s, sizeof(token_s), "%lld", (long long)token);
	env_putf(&l, "MEDALLION_RUNNER_TOKEN", token_s);
	if (l.failed)
		goto err;
	json_decref(env);
	return l.items;
err:
	json_decref(env);
	free_strings(l.items);
	return NULL;
}

/*
 * The values of the driver's variables, from its environment file: NULL
 * (none needed) when the request named none. -1 with why in msg when
 * they are needed and cannot be read.
 */
static int
driver_env_values(server *s, const store_driver *d, char **values,
    char *msg, size_t msglen)
{
	json_t *names = json_loads(d->env_json ? d->env_json : "[]", 0, NULL);
	int needed = json_is_array(names) && json_array_size(names) > 0;

	json_decref(names);
	*values = NULL;
	if (!needed)
		return 0;
	if ((*values = store_env_load(s->st, d->id)) != NULL)
		return 0;
	snprintf(msg, msglen, "cannot read the values of its environment "
	    "variables (%.200s) from %s.env/%s: %s; submit it again",
	    d->env_json, s->state_path, d->id, strerror(errno));
	return -1;
}

static int
spawn_runner(server *s, const store_driver *d, const char *values,
    int64_t token, pid_t *pid)
{
	char stage_path[4096], grace[32], relaunches[32], backoff[32],
	    lease[32], notify[16];
	char *argv[] = {"medallion-runner", "--state", (char *)s->state_path,
	    "--id", (char *)d->id, "--stage-path",
	    stage_path, "--log-dir", (char *)s->log_dir, "--grace-ms", grace,
	    "--max-relaunches", relaunches, "--relaunch-backoff-ms", backoff,
	    "--lease-ms", lease, "--notify-fd", notify, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	char **envp;
	int rc;

	if ((size_t)snprintf(stage_path, sizeof(stage_path), "%s/%s",
	    s->stages_dir, d->stage) >= sizeof(stage_path))
		return ENAMETOOLONG;
	snprintf(grace, sizeof(grace), "%lld", (long long)s->grace_ms);
	snprintf(relaunches, sizeof(relaunches), "%d", s->max_relaunches);
	snprintf(backoff, sizeof(backoff), "%lld",
	    (long long)s->relaunch_backoff_ms);
	snprintf(lease, sizeof(lease), "%lld", (long long)s->lease_timeout_ms);
	snprintf(notify, sizeof(notify), "%d", RUNNER_NOTIFY_FD);
	if ((envp = runner_environment(s, d->id, values, token)) == NULL)
		return ENOMEM;
	/* The socket is close-on-exec in the server; dup2 gives the runner
	 * a copy without the flag (glibc clears it too when the numbers are
	 * equal), and the runner sets it again so its stage has none. */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, longpoll_notify_fd(s->lp),
	    RUNNER_NOTIFY_FD);
	/* Its own process group: a ^C to the server's terminal, or the
	 * server's death, does not stop running drivers. */
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGMASK);
	rc = posix_spawn(pid, s->runner_path, &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	free_strings(envp);
	return rc;
}

static void
launch(server *s, const char *id, int64_t token)
{
	store_driver d;
	char msg[1024], *values = NULL;
	pid_t pid;
	int rc = 0;

	if (store_get_driver(s->st, id, &d) != 1)
		return;
	if (driver_env_values(s, &d, &values, msg, sizeof(msg)) == -1)
		rc = -1;
	else if ((rc = spawn_runner(s, &d, values, token, &pid)) != 0)
		snprintf(msg, sizeof(msg), "cannot start the stage runner "
		    "%.300s: %s", s->runner_path, strerror(rc));
	free(values);
	if (rc != 0) {
		log_warnx("%s: %s", id, msg);
		/* Give the driver its terminal state from here. */
		store_runner_begin(s->st, id, token, 0, "", clock_now_us(), 0);
		store_runner_end(s->st, id, DRIVER_ERROR, -1, 0, msg,
		    clock_now_us());
		longpoll_notify(s->lp);
	} else {
		store_set_runner_pid(s->st, id, pid);
		log_debug("%s: started runner %d for stage %s", id, (int)pid,
		    d.stage);
	}
	store_driver_free(&d);
}

static void
schedule(server *s)
{
	char id[64];
	int64_t token;
	int active;

	if (s->stopping)
		return;
	active = store_count_active(s->st);
	while (active >= 0 && active < s->max_running) {
		if (store_claim_next(s->st, clock_now_us(), id, sizeof(id),
		    &token) != 1)
			break;
		launch(s, id, token);
		active++;
	}
}

static void
reap_children(server *s)
{
	int status, reaped = 0;

	while (waitpid(-1, &status, WNOHANG) > 0)
		reaped++;
	/* A runner that ended without recording an outcome is lost: look
	 * now rather than at the next periodic check. */
	if (reaped > 0) {
		longpoll_notify(s->lp);
		driver_recover(s);
	}
}

/* 1 if the runner of a RUNNING/RELAUNCHING driver is gone (or never
 * began within the grace), so it will never record an outcome. */
static int
runner_is_gone(const store_driver *d, int64_t now)
{
	if (d->runner_start[0] != '\0')
		return !proc_is_same(d->runner_pid, d->runner_start);
	return now - d->started_us >= CLAIM_GRACE_US;
}

/* 1 if the runner's lease has run out (a runner from before leases, with
 * none, is judged by its pid alone). */
static int
lease_ran_out(const store_driver *d, int64_t now)
{
	return d->lease_until_us > 0 && d->lease_until_us < now;
}

/* 1 if a process of the stage's group was still there to be killed. */
static int
stop_stage_group(const store_driver *d, const char *why)
{
	if (d->stage_pid <= 0 || killpg(d->stage_pid, SIGKILL) == -1)
		return 0;
	log_warnx("%s: stopped the stage's process group %d (%s)", d->id,
	    (int)d->stage_pid, why);
	return 1;
}

/*
 * The message says what is known: a stage that was still running was
 * stopped by us; one that had already ended ended on its own, and only
 * its outcome is lost (a runner gives up when it cannot write the state
 * file for minutes, and says so in the server's log).
 */
static void
recover_orphan(server *s, const store_driver *d, int64_t now)
{
	char msg[512];
	int stage_alive = d->stage_pid > 0 && killpg(d->stage_pid, 0) == 0;

	/* Recorded first, stopped after: a record that fails (state file
	 * full) is tried again at the next pass with the same facts. */
	if (stage_alive || d->stage_pid <= 0)
		snprintf(msg, sizeof(msg), "the stage runner (pid %d) exited "
		    "without recording an outcome; the stage was stopped and "
		    "its result is unknown", (int)d->runner_pid);
	else
		snprintf(msg, sizeof(msg), "the stage runner (pid %d) exited "
		    "without recording an outcome: the stage had already "
		    "ended, but its outcome could not be recorded (the server's "
		    "log says why, e.g. the state file could not be written); "
		    "its result is unknown", (int)d->runner_pid);
	if (store_mark_lost(s->st, d->id, DRIVER_UNKNOWN, msg, now) != 1)
		return;
	longpoll_notify(s->lp);
	log_warnx("%s: %s", d->id, msg);
	stop_stage_group(d, "its runner is gone");
}

/*
 * The runner is alive but silent. The driver is ended first, by an UPDATE
 * that checks the lease again (a renewal meanwhile wins), and only then is
 * the stage stopped. The runner is left alone: should it resume, it finds
 * its lease taken and exits without writing. A kill asked before ends as
 * KILLED, since the server carried it out.
 */
static void
recover_silent_runner(server *s, const store_driver *d, int64_t now)
{
	driver_state state = d->kill_requested ? DRIVER_KILLED : DRIVER_UNKNOWN;
	char msg[512];

	snprintf(msg, sizeof(msg), "%sthe stage runner (pid %d) stopped "
	    "renewing its lease: stopped or hung (none for %lld ms); %s",
	    d->kill_requested ? "killed on request by the server itself: " :
	    "", (int)d->runner_pid, (long long)s->lease_timeout_ms,
	    d->kill_requested ? "its stage was stopped" : "the stage was "
	    "stopped and its result is unknown");
	if (store_expire_lease(s->st, d->id, state, msg, now) != 1)
		return;
	longpoll_notify(s->lp);
	log_warnx("%s: %s", d->id, msg);
	stop_stage_group(d, "its runner's lease ran out");
}

/*
 * A runner cannot renew its lease while the state file cannot be written
 * (disk full), so leases are judged only once the state has been
 * writable for a whole lease period: a probe write finds out, and the
 * last failure (ours, a create's, a probe's) must be that long ago.
 * Runners, which keep trying to record their outcome meanwhile, then win.
 */
static int
leases_can_be_judged(server *s, int64_t now)
{
	if (store_probe_write(s->st, now) == -1)
		return 0;
	return now - store_last_write_failure_us(s->st) >=
	    s->lease_timeout_ms * 1000;
}

static int
recover_one(const store_driver *d, void *arg)
{
	server *s = arg;
	int64_t now = clock_now_us();

	if (d->state == DRIVER_SUBMITTED) {
		if (d->claimed_us == 0 || now - d->claimed_us < CLAIM_GRACE_US)
			return 0;
		if (d->runner_pid > 0 && kill(d->runner_pid, 0) == 0)
			return 0;
		if (store_requeue(s->st, d->id, d->claim_token) == 1)
			log_info("%s: its runner never started; queued again",
			    d->id);
		return 0;
	}
	/* RUNNING or RELAUNCHING: is its runner alive, and renewing? */
	if (runner_is_gone(d, now))
		recover_orphan(s, d, now);
	else if (lease_ran_out(d, now) && leases_can_be_judged(s, now))
		recover_silent_runner(s, d, now);
	return 0;
}

void
driver_recover(server *s)
{
	s->last_recover_us = clock_mono_us();
	store_list_unfinished(s->st, recover_one, s);
	/* Values of drivers no longer queued (ended, or begun: their runner
	 * has them) are not kept; the runner removes its own, this catches
	 * kills of queued drivers and runners that died first. */
	store_env_sweep(s->st, clock_now_us());
}

/*
 * Queued drivers start first: a tick woken by a create launches its
 * driver before reaping the runner that just ended (the previous stage's,
 * in a pipeline), whose recovery pass (every unfinished driver, the
 * environment folder) would otherwise sit between the create and the
 * launch. Reaping first would free no slot: slots are counted from the
 * states that runners record before they exit.
 */
void
driver_tick(server *s)
{
	schedule(s);
	reap_children(s);
	if (clock_mono_us() - s->last_recover_us >= RECOVER_EVERY_US)
		driver_recover(s);
}

/*
 * Kill of a running driver whose runner cannot act (lease run out, or
 * gone): the server ends it KILLED, then stops the stage's group and the
 * runner. 1 done, 0 someone else ended it first, -1 the state could not
 * be written (nothing was stopped).
 */
static int
kill_by_server(server *s, const store_driver *d)
{
	char msg[512];
	int rc;

	snprintf(msg, sizeof(msg), "killed on request by the server itself: "
	    "its stage runner (pid %d) had stopped renewing its lease "
	    "(stopped or hung); its stage was stopped", (int)d->runner_pid);
	if ((rc = store_mark_lost(s->st, d->id, DRIVER_KILLED, msg,
	    clock_now_us())) != 1)
		return rc;
	longpoll_notify(s->lp);
	log_warnx("%s: %s", d->id, msg);
	stop_stage_group(d, "killed on request");
	if (d->runner_start[0] != '\0' &&
	    proc_is_same(d->runner_pid, d->runner_start))
		kill(d->runner_pid, SIGKILL);
	return 1;
}

int
driver_kill(server *s, const char *id)
{
	store_driver d;
	pid_t runner = 0;
	int64_t now = clock_now_us();
	int rc;

	if ((rc = store_get_driver(s->st, id, &d)) != 1)
		return rc;
	if ((d.state == DRIVER_RUNNING || d.state == DRIVER_RELAUNCHING) &&
	    (lease_ran_out(&d, now) || runner_is_gone(&d, now))) {
		rc = kill_by_server(s, &d);
		store_driver_free(&d);
		return rc;
	}
	store_driver_free(&d);
	rc = store_request_kill(s->st, id, now, &runner);
	/* A queued driver is KILLED now; a running one only flagged. */
	if (rc == 1 && runner == 0)
		longpoll_notify(s->lp);
	/* The runner also polls kill_requested, so a lost signal only
	 * delays the kill by a second; a runner that stops before acting
	 * is dealt with when its lease runs out (recover_silent_runner). */
	if (rc == 1 && runner > 0)
		kill(runner, SIGTERM);
	return rc;
}
