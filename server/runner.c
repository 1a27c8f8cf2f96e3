/*
 * runner.c - medallion-runner, the supervisor of one driver.
 *
 * The server starts one runner per driver it launches. The runner claims
 * the driver in the state store (only the holder of the claim token can),
 * starts the stage in its own process group with no shell, sends its
 * stdout and stderr to <log-dir>/<id>.stdout|.stderr, waits, and records
 * the outcome itself: FINISHED, FAILED, KILLED or ERROR. Because it writes
 * the store directly, the server may crash or restart meanwhile and
 * nothing is lost.
 *
 * Kill: the server sets kill_requested and sends the runner SIGTERM; the
 * runner sends SIGTERM to the stage's process group, then SIGKILL after the
 * grace period. kill_requested is also polled once a second, in case the
 * signal was sent before the runner's pid was known.
 *
 * Supervise (spark.driver.supervise=true): a non-zero exit relaunches the
 * stage after a back-off that doubles from --relaunch-backoff-ms up to 30 s
 * (reset after a run of 10 s or more), at most --max-relaunches times, and
 * the driver shows RELAUNCHING while it waits.
 *
 * Lease: while it supervises, the runner renews a lease in the state store
 * about every second (lease_until = now + --lease-ms). A runner that is
 * stopped (SIGSTOP) or hung stops renewing, and the server ends its driver
 * UNKNOWN and kills the stage's group when the lease runs out. A runner
 * that resumes afterwards finds its renewal refused: it stops its stage
 * (if any is left) and exits without recording anything over UNKNOWN.
 *
 * Outcome: a state file that cannot be written (disk full) must not lose
 * the outcome of a stage that ran: the runner tries again, 100 ms doubling
 * to 2 s, for up to 10 minutes, renewing its lease between tries, and
 * says on its stderr (the server's log) what failed. The server leaves
 * leases alone while the state cannot be written (driver.c).
 *
 * The stage's environment is the runner's own: the server builds it. The
 * claim token comes in it too, as MEDALLION_RUNNER_TOKEN (argv is
 * readable by every user, the environment only by ours): the runner
 * reads it, wipes its bytes (so /proc/<pid>/environ no longer shows it)
 * and removes it before any stage starts. Once it has begun, the runner
 * removes the driver's environment file (<state>.env/<id>): it holds the
 * values in its environment for every relaunch.
 *
 * Notify: after each state it records (RUNNING, RELAUNCHING, RUNNING
 * again, the outcome), the runner sends a byte on the server's
 * notification socket (--notify-fd, inherited), which wakes status
 * requests waiting for that change (server/longpoll.c). The send never
 * blocks and its failure is ignored: a server that is gone or busy loses
 * only speed, since waiters are also checked periodically. The fd is
 * close-on-exec here, so stages do not inherit it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "proc.h"
#include "store.h"

extern char **environ;

#define RELAUNCH_BACKOFF_CAP_US (30 * 1000000LL)
#define RELAUNCH_RESET_AFTER_US (10 * 1000000LL)
#define LEASE_RENEW_EVERY_US (1000000LL)
#define RECORD_RETRY_FOR_US (10 * 60 * 1000000LL)
#define RECORD_BACKOFF_CAP_US (2 * 1000000LL)

typedef struct runner {
	const char *state_path;
	const char *id;
	int64_t token;
	const char *stage_path;
	const char *log_dir;
	int64_t grace_us;
	int max_relaunches;
	int64_t backoff_us;
	int64_t lease_us;	/* how long a renewal holds the lease */
	int64_t next_renew_us;	/* monotonic: when to renew next */
	int renew_failing;	/* the last renewal failed (not refused) */
	int notify_fd;		/* the server's notification socket, or -1 */
	store *st;
	sigset_t signals;	/* SIGCHLD and SIGTERM, blocked, waited on */
} runner;

typedef enum run_outcome {
	RUN_EXITED,		/* status in *status */
	RUN_KILLED,		/* kill requested; status in *status */
	RUN_SPAWN_FAILED,	/* errno in *status */
	RUN_LEASE_LOST,		/* the server ended the driver; stage stopped */
} run_outcome;

static void
usage(void)
{
	fprintf(stderr, "usage: MEDALLION_RUNNER_TOKEN=N medallion-runner "
	    "--state FILE --id ID --stage-path PATH --log-dir DIR [--grace-ms N] "
	    "[--max-relaunches N] [--relaunch-backoff-ms N] [--lease-ms N] "
	    "[--notify-fd FD]\n"
	    "medallion-runner is started by medallion-server; it is not meant "
	    "to be run by hand.\n");
	exit(2);
}

static int64_t
parse_int(const char *s, const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0)
		fatalx("invalid %s '%s': expected a non-negative integer", what,
		    s);
	return v;
}

static void
parse_args(runner *r, int argc, char **argv)
{
	static const struct option opts[] = {
		{"state", required_argument, NULL, 's'},
		{"id", required_argument, NULL, 'i'},
		{"stage-path", required_argument, NULL, 'p'},
		{"log-dir", required_argument, NULL, 'l'},
		{"grace-ms", required_argument, NULL, 'g'},
		{"max-relaunches", required_argument, NULL, 'm'},
		{"relaunch-backoff-ms", required_argument, NULL, 'b'},
		{"lease-ms", required_argument, NULL, 'L'},
		{"notify-fd", required_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	int c;

	r->grace_us = 10 * 1000000LL;
	r->max_relaunches = 5;
	r->backoff_us = 1000000;
	r->lease_us = 10 * 1000000LL;
	r->notify_fd = -1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': r->state_path = optarg; break;
		case 'i': r->id = optarg; break;
		case 'p': r->stage_path = optarg; break;
		case 'l': r->log_dir = optarg; break;
		case 'g': r->grace_us = parse_int(optarg, "--grace-ms") * 1000;
			break;
		case 'm': r->max_relaunches = (int)parse_int(optarg,
		    "--max-relaunches"); break;
		case 'b': r->backoff_us = parse_int(optarg,
		    "--relaunch-backoff-ms") * 1000; break;
		case 'L': r->lease_us = parse_int(optarg, "--lease-ms") * 1000;
			break;
		case 'n': r->notify_fd = (int)parse_int(optarg, "--notify-fd");
			break;
		default: usage();
		}
	}
	if (r->state_path == NULL || r->id == NULL || r->stage_path == NULL ||
	    r->log_dir == NULL || optind != argc)
		usage();
}

/* The notification socket stays ours: stages must not inherit it. An fd
 * that is not open (a hand-started runner) is simply not used. */
static void
keep_notify_fd(runner *r)
{
	if (r->notify_fd >= 0 && fcntl(r->notify_fd, F_SETFD, FD_CLOEXEC) ==
	    -1)
		r->notify_fd = -1;
}

/* A state was recorded: wake the server's waiters (see the top). */
static void
tell_server(const runner *r)
{
	char c = 1;

	if (r->notify_fd >= 0)
		(void)send(r->notify_fd, &c, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* The claim token, taken out of the environment (see the top). */
static void
take_token(runner *r)
{
	char *value = getenv("MEDALLION_RUNNER_TOKEN");

	if (value == NULL)
		usage();
	r->token = parse_int(value, "MEDALLION_RUNNER_TOKEN");
	explicit_bzero(value, strlen(value));
	if (unsetenv("MEDALLION_RUNNER_TOKEN") == -1)
		fatal("cannot remove MEDALLION_RUNNER_TOKEN from my "
		    "environment");
}

/* Builds argv: the stage path, then the driver's arguments. */
static char **
stage_argv(const runner *r, const char *argv_json)
{
	json_t *args = json_loads(argv_json, 0, NULL), *item;
	char **argv = NULL;
	size_t i, n;

	if (args == NULL || !json_is_array(args))
		goto out;
	n = json_array_size(args);
	if ((argv = calloc(n + 2, sizeof(*argv))) == NULL)
		goto out;
	argv[0] = strdup(r->stage_path);
	json_array_foreach(args, i, item)
		argv[i + 1] = strdup(json_string_value(item) ?
		    json_string_value(item) : "");
out:
	json_decref(args);
	return argv;
}

static void
free_argv(char **argv)
{
	size_t i;

	for (i = 0; argv != NULL && argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

static int
open_log(const runner *r, const char *stream)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s.%s", r->log_dir, r->id,
	    stream) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

static int
spawn_stage(runner *r, char **argv, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	int out = -1, err = -1, rc;

	if ((out = open_log(r, "stdout")) == -1 ||
	    (err = open_log(r, "stderr")) == -1) {
		rc = errno;
		goto done;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, err, 2);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&defaults);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setpgroup(&attr, 0);	/* its own process group */
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(pid, r->stage_path, &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
done:
	if (out != -1)
		close(out);
	if (err != -1)
		close(err);
	return rc;
}

static int
kill_was_requested(runner *r)
{
	store_driver d;
	int requested = 0;

	if (store_get_driver(r->st, r->id, &d) == 1) {
		requested = d.kill_requested;
		store_driver_free(&d);
	}
	return requested;
}

/*
 * Renews the lease when it is due (or now, if force): 1 while the driver
 * is still ours, 0 once the server has taken it (its lease ran out). A
 * renewal that fails (state file unwritable, locked too long) keeps
 * trying: only the server decides that a lease has run out.
 */
static int
keep_lease(runner *r, int force)
{
	int64_t now = clock_mono_us();
	int rc;

	if (!force && now < r->next_renew_us)
		return 1;
	r->next_renew_us = now + LEASE_RENEW_EVERY_US;
	rc = store_runner_renew_lease(r->st, r->id, r->token, clock_now_us() +
	    r->lease_us);
	if (rc < 0 && !r->renew_failing)
		log_warnx("%s: cannot renew my lease in %s (see above); "
		    "trying again every second (the server waits while the "
		    "state cannot be written)", r->id, r->state_path);
	r->renew_failing = rc < 0;
	if (rc == 0)
		log_warnx("%s: the server has ended this driver (my lease ran "
		    "out: I was stopped or hung); stopping its stage and "
		    "exiting without recording an outcome", r->id);
	return rc != 0;
}

/*
 * Waits for the stage to exit, handling kill requests: SIGTERM to the
 * group, SIGKILL after the grace period. Returns 1 if a kill was asked,
 * -1 if the lease was lost (the stage is then killed at once).
 */
static int
wait_stage(runner *r, pid_t pid, int *status)
{
	int64_t kill_deadline = 0, next_poll = clock_mono_us() + 1000000;
	int killing = 0;

	for (;;) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		siginfo_t info;
		int sig;

		if (waitpid(pid, status, WNOHANG) == pid)
			break;
		if (!keep_lease(r, 0)) {
			killpg(pid, SIGKILL);
			waitpid(pid, status, 0);
			return -1;
		}
		sig = sigtimedwait(&r->signals, &info, &ts);
		if (sig == SIGTERM || (!killing && clock_mono_us() >= next_poll &&
		    kill_was_requested(r))) {
			if (!killing) {
				killing = 1;
				kill_deadline = clock_mono_us() + r->grace_us;
				killpg(pid, SIGTERM);
			}
		}
		if (!killing && clock_mono_us() >= next_poll)
			next_poll = clock_mono_us() + 1000000;
		if (killing && clock_mono_us() >= kill_deadline) {
			killpg(pid, SIGKILL);
			kill_deadline = INT64_MAX;
		}
	}
	/* Leave nothing of the stage behind: its group goes with it. */
	killpg(pid, SIGKILL);
	return killing;
}

static run_outcome
run_once(runner *r, char **argv, int *status)
{
	pid_t pid;
	int rc;

	if ((rc = spawn_stage(r, argv, &pid)) != 0) {
		*status = rc;
		return RUN_SPAWN_FAILED;
	}
	store_runner_stage_started(r->st, r->id, pid);
	switch (wait_stage(r, pid, status)) {
	case -1: return RUN_LEASE_LOST;
	case 0: return RUN_EXITED;
	default: return RUN_KILLED;
	}
}

static void
sleep_us(int64_t us)
{
	struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) *
	    1000};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * Records the driver's outcome, trying again while the state cannot be
 * written (see the top). ended_us is when the stage ended, not when the
 * write finally went through. Gives up when the server has ended the
 * driver meanwhile (lease taken), or after RECORD_RETRY_FOR_US.
 */
static void
record_outcome(runner *r, driver_state state, int code, int sig,
    const char *why)
{
	int64_t ended_us = clock_now_us(), backoff = 100000,
	    give_up = clock_mono_us() + RECORD_RETRY_FOR_US;
	int tries = 0;

	while (store_runner_end(r->st, r->id, state, code, sig, why,
	    ended_us) < 0) {
		if (tries++ == 0)
			log_warnx("%s: cannot record its outcome (%s) in %s (see "
			    "above); trying again for up to %lld minutes",
			    r->id, driver_state_name(state), r->state_path,
			    RECORD_RETRY_FOR_US / 60000000);
		if (clock_mono_us() >= give_up) {
			log_warnx("%s: gave up recording its outcome (%s%s%s) "
			    "after %d tries: %s cannot be written; the server "
			    "will show the driver UNKNOWN", r->id,
			    driver_state_name(state),
			    why ? ": " : "", why ? why : "", tries,
			    r->state_path);
			return;
		}
		sleep_us(backoff);
		backoff = backoff * 2 > RECORD_BACKOFF_CAP_US ?
		    RECORD_BACKOFF_CAP_US : backoff * 2;
		if (!keep_lease(r, 1))
			return;
	}
	tell_server(r);
	if (tries > 0)
		log_info("%s: recorded its outcome (%s) after %d failed tries",
		    r->id, driver_state_name(state), tries);
}

static void
describe_exit(int status, char *buf, size_t len, int *code, int *sig)
{
	*code = -1;
	*sig = 0;
	if (WIFEXITED(status)) {
		*code = WEXITSTATUS(status);
		snprintf(buf, len, "stage exited with status %d", *code);
	} else if (WIFSIGNALED(status)) {
		*sig = WTERMSIG(status);
		snprintf(buf, len, "stage was killed by signal %d (%s)", *sig,
		    strsignal(*sig));
	} else {
		snprintf(buf, len, "stage ended with wait status %d", status);
	}
}

/* Sleeps the relaunch back-off; returns 1 if a kill arrived meanwhile,
 * -1 if the lease was lost. */
static int
backoff_sleep(runner *r, int64_t us)
{
	int64_t deadline = clock_mono_us() + us;

	while (clock_mono_us() < deadline) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		siginfo_t info;

		if (!keep_lease(r, 0))
			return -1;
		if (sigtimedwait(&r->signals, &info, &ts) == SIGTERM ||
		    kill_was_requested(r))
			return 1;
	}
	return 0;
}

static int
supervise(runner *r, const store_driver *d)
{
	char **argv = stage_argv(r, d->argv_json ? d->argv_json : "[]");
	int64_t backoff = r->backoff_us, started;
	char why[256];
	int status = 0, code, sig, relaunches = 0, rc;

	if (argv == NULL) {
		record_outcome(r, DRIVER_ERROR, -1, 0,
		    "cannot start stage: its arguments in the state store are "
		    "unreadable");
		return 1;
	}
	for (;;) {
		run_outcome o;

		started = clock_mono_us();
		o = run_once(r, argv, &status);
		/* A runner stopped while its stage ended must not record an
		 * outcome over the server's UNKNOWN: check the lease first. */
		if (o == RUN_LEASE_LOST || !keep_lease(r, 1))
			break;
		if (o == RUN_SPAWN_FAILED) {
			snprintf(why, sizeof(why), "cannot start stage %s: %s",
			    r->stage_path, strerror(status));
			record_outcome(r, DRIVER_ERROR, -1, 0, why);
			break;
		}
		describe_exit(status, why, sizeof(why), &code, &sig);
		if (code == 0) {
			record_outcome(r, DRIVER_FINISHED, 0, 0, NULL);
			break;
		}
		if (o == RUN_KILLED) {
			record_outcome(r, DRIVER_KILLED, code, sig,
			    "killed on request");
			break;
		}
		if (!d->supervise || relaunches >= r->max_relaunches) {
			if (d->supervise) {
				size_t n = strlen(why);
				snprintf(why + n, sizeof(why) - n, "; gave up "
				    "after %d relaunches", relaunches);
			}
			record_outcome(r, DRIVER_FAILED, code, sig, why);
			break;
		}
		if (clock_mono_us() - started >= RELAUNCH_RESET_AFTER_US)
			backoff = r->backoff_us;
		/* rc: 1 a kill came, -1 the lease was lost, 0 relaunch. */
		if (store_runner_relaunching(r->st, r->id, code, sig) != 1) {
			rc = 1;
		} else {
			tell_server(r);
			rc = backoff_sleep(r, backoff);
		}
		if (rc < 0)
			break;
		if (rc > 0 || store_runner_running_again(r->st, r->id) != 1) {
			record_outcome(r, DRIVER_KILLED, code, sig,
			    "killed on request while waiting to relaunch");
			break;
		}
		tell_server(r);
		relaunches++;
		backoff = backoff * 2 > RELAUNCH_BACKOFF_CAP_US ?
		    RELAUNCH_BACKOFF_CAP_US : backoff * 2;
	}
	free_argv(argv);
	return 0;
}

int
main(int argc, char **argv)
{
	runner r = {0};
	store_driver d = {0};
	char err[512], start[32];
	int rc = 1;

	log_init("medallion-runner", 0);
	parse_args(&r, argc, argv);
	keep_notify_fd(&r);
	take_token(&r);
	/* Block the signals we wait for before anything can send them. */
	sigemptyset(&r.signals);
	sigaddset(&r.signals, SIGCHLD);
	sigaddset(&r.signals, SIGTERM);
	sigprocmask(SIG_BLOCK, &r.signals, NULL);
	signal(SIGINT, SIG_IGN);	/* a terminal's ^C is not for us */
	signal(SIGHUP, SIG_IGN);

	if ((r.st = store_open(r.state_path, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	if (proc_start_time(getpid(), start, sizeof(start)) == -1)
		snprintf(start, sizeof(start), "?");
	if (store_runner_begin(r.st, r.id, r.token, getpid(), start,
	    clock_now_us(), clock_now_us() + r.lease_us) != 1) {
		/* Killed while queued, or claimed again after a restart. */
		rc = 0;
		goto out;
	}
	tell_server(&r);
	store_env_forget(r.st, r.id);
	if (store_get_driver(r.st, r.id, &d) != 1) {
		log_warnx("driver %s vanished from %s", r.id, r.state_path);
		goto out;
	}
	r.next_renew_us = clock_mono_us() + LEASE_RENEW_EVERY_US;
	rc = supervise(&r, &d);
	store_driver_free(&d);
out:
	store_close(r.st);
	return rc;
}
