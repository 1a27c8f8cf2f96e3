/*
 * main.c - medallion-orchestrator: runs the pipeline through the Spark
 * REST API of medallion-server (or a Spark master), on demand or on a
 * schedule, and keeps its history.
 *
 *   medallion-orchestrator run [--pipeline FILE] [--resume [RUN]]
 *   medallion-orchestrator schedule (--every 5m | --cron "0 * * * *")
 *   medallion-orchestrator watch [--min-interval 200ms] [--max-interval 5m]
 *   medallion-orchestrator history | submit STAGE | status ID | kill ID
 *   medallion-orchestrator wait ID [--timeout 10m]
 *
 * A run submits each stage and follows its status: long-polled against
 * medallion-server (each status answers as soon as the state changes, or
 * after WAIT_MS: the next stage starts within a few milliseconds of the
 * last one's end), polled with back-off (25 ms growing to 2 s) against a
 * Spark master, or when the server answers a long-poll early without a
 * change (it parks only so many). It retries FAILED, ERROR, UNKNOWN and a
 * submission the
 * server no longer knows (a driver lost with a restarted server) with
 * capped exponential back-off and jitter, and stops on KILLED or a
 * timeout (after killing the driver). Every
 * outcome has its own exit code, listed in usage(). Nothing waits without
 * a bound: RELAUNCHING and ERROR end by the stage timeout or the retries.
 *
 * `watch` runs the pipeline when the source commits new rows (watch.c
 * LISTENs for the source's trigger): a run at a time, whatever arrives
 * during one taken by the next, runs at least --min-interval apart, and a
 * heartbeat run after --max-interval without one. Its runs are the same
 * code as `run`'s (start_run), so the history and the run-ownership lease
 * apply as to any other run.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "client.h"
#include "clock.h"
#include "duration.h"
#include "history.h"
#include "log.h"
#include "medallion_version.h"
#include "pipeline.h"
#include "schedule.h"
#include "watch.h"

enum {
	EXIT_OK = 0,
	EXIT_ERROR = 1,		/* configuration, history, refused submission */
	EXIT_USAGE = 2,
	EXIT_FAILED = 3,	/* a stage FAILED after its retries */
	EXIT_STAGE_ERROR = 4,	/* a stage ended in ERROR after its retries */
	EXIT_KILLED = 5,
	EXIT_UNKNOWN = 6,	/* UNKNOWN, or the server forgot the driver */
	EXIT_TIMEOUT = 7,
	EXIT_UNREACHABLE = 8,	/* the server did not answer in time */
	EXIT_BUSY = 9,		/* another orchestrator runs this pipeline */
	EXIT_INTERRUPTED = 130,	/* SIGTERM/SIGINT stopped a run */
};

#define POLL_FIRST_US 25000
#define POLL_MAX_US 2000000
/* A run's lease is renewed this often while it works; it lasts long
 * enough to cover the longest wait between renewals (see lease_for). */
#define LEASE_RENEW_US 5000000
#define LEASE_SLACK_US 120000000
/* A long-poll's wait: the lease is renewed between two at this pace. */
#define WAIT_MS (LEASE_RENEW_US / 1000)

typedef struct orch {
	orch_client *client;
	orch_history *history;
	orch_pipeline pipeline;
	int json;
	int live;		/* progress as a live terminal line */
	int quiet;		/* watch: stage progress and successes at -v */
	int recovered;		/* the last start_run resumed a lost run */
	int64_t wait_timeout_us;
	int64_t patience_us;	/* how long status may fail before we give up */
	int64_t lease_us;	/* the run's lease in the history */
	int64_t run;		/* the run under way, 0 between runs */
	int64_t lease_renewed_at;
	int64_t adopt_run;	/* a lost run whose live driver to follow */
	int adopt_stage;
} orch;

static volatile sig_atomic_t stop_requested;

static void
on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void
usage(FILE *out)
{
	fprintf(out,
"usage: medallion-orchestrator [options] COMMAND [args]\n"
"\n"
"commands:\n"
"  run                  run the pipeline once (--resume [RUN] continues the\n"
"                       newest failed run, or RUN, from its failed stage)\n"
"  schedule             run it on a schedule: --every DURATION or\n"
"                       --cron \"MIN HOUR DOM MON DOW\"; never two at once\n"
"  watch                run it when the source commits new rows (LISTEN on\n"
"                       PostgreSQL, libpq's environment: PGHOST, PGSERVICE,\n"
"                       PGPASSFILE...); a run at a time, what arrives\n"
"                       during one goes into the next\n"
"  history              recent runs and their stage attempts\n"
"  submit STAGE         submit one stage of the pipeline; prints its id\n"
"  status ID            the driver's state\n"
"  kill ID              kill a driver\n"
"  wait ID              wait for a driver to end; exit code by final state\n"
"\n"
"options:\n"
"  --master URL         server (default $MEDALLION_MASTER, $SPARK_REST_URL,\n"
"                       http://127.0.0.1:6066)\n"
"  --pipeline FILE      pipeline file (schemas/json/pipeline.schema.json);\n"
"                       default: ingestion -> transformation -> serving ->\n"
"                       maintenance\n"
"  --history FILE       SQLite history (default $MEDALLION_DATA/orchestrator.db,\n"
"                       else ./data/orchestrator.db, as the server's)\n"
"  --token-file FILE    bearer token for the server (default\n"
"                       $MEDALLION_TOKEN_FILE)\n"
"  --jws-secret-file FILE  HS256 key (base64url) to sign a JWS per request\n"
"                       (default $MEDALLION_JWS_SECRET_FILE)\n"
"  --patience DURATION  how long to retry an unreachable server (default 60s)\n"
"  --every DURATION     schedule: interval, e.g. 30s, 5m, 1h\n"
"  --cron EXPR          schedule: five cron fields, in --tz\n"
"  --tz ZONE            time zone for --cron (default UTC)\n"
"  --catch-up N         schedule: run at most N missed ticks (default 0)\n"
"  --min-interval DURATION  watch: at least this between two runs' starts\n"
"                       (default 200ms)\n"
"  --max-interval DURATION  watch: a heartbeat run after this long without\n"
"                       one, new data or not (default 5m)\n"
"  --poll DURATION      watch: poll the source's newest xid this often (e.g.\n"
"                       50ms) instead of LISTEN: no trigger, nothing added\n"
"                       to its writes (default: LISTEN)\n"
"  --timeout DURATION   wait: give up after this long (default: none)\n"
"  --limit N            history: this many runs (default 20)\n"
"  --retain DURATION    run, schedule, watch: delete runs that ended longer\n"
"                       ago than this, with their attempts: 12h, 90d; 0 or\n"
"                       forever keeps them (default 30d; watch: 1d, as it\n"
"                       may run several times a second)\n"
"  --resume [RUN]       run: continue a failed run\n"
"  --json               JSON output\n"
"  -v                   more logging\n"
"  -h, --help           this help\n"
"\n"
"exit status: 0 finished, 1 error, 2 usage, 3 a stage FAILED, 4 ERROR,\n"
"5 KILLED, 6 UNKNOWN or forgotten by the server, 7 timeout, 8 server\n"
"unreachable, 9 the pipeline is already running (another orchestrator),\n"
"130 stopped by a signal (3, 4 and 6 after the stage's retries)\n");
}

/* --- progress ------------------------------------------------------ */

static void
progress(orch *o, const char *stage, const char *id, driver_state state,
    int64_t since_us, int changed)
{
	double secs = (clock_mono_us() - since_us) / 1e6;

	if (o->live) {
		fprintf(stderr, "\r\033[K%-15s %-28s %-11s %6.1fs", stage, id,
		    driver_state_name(state), secs);
		if (changed && driver_state_final(state))
			fputc('\n', stderr);
		fflush(stderr);
	} else if (changed && o->quiet) {
		log_debug("%s: %s %s after %.2f s", stage, id,
		    driver_state_name(state), secs);
	} else if (changed) {
		log_info("%s: %s %s after %.2f s", stage, id,
		    driver_state_name(state), secs);
	}
}

static int
exit_for_state(driver_state state)
{
	switch (state) {
	case DRIVER_FINISHED:
		return EXIT_OK;
	case DRIVER_FAILED:
		return EXIT_FAILED;
	case DRIVER_ERROR:
		return EXIT_STAGE_ERROR;
	case DRIVER_KILLED:
		return EXIT_KILLED;
	default:
		return EXIT_UNKNOWN;
	}
}

/* Sleeps us, waking early when a stop is requested. */
static void
nap(int64_t us)
{
	int64_t end = clock_mono_us() + us;

	while (!stop_requested) {
		int64_t left = end - clock_mono_us();

		if (left <= 0)
			break;
		clock_sleep_us(left > 100000 ? 100000 : left);
	}
}

/* Capped exponential back-off with equal jitter. */
static int64_t
retry_delay(const orch_stage *s, int attempt)
{
	int64_t d = s->backoff_us;

	for (int i = 1; i < attempt && d < s->max_backoff_us; i++)
		d *= 2;
	if (d > s->max_backoff_us)
		d = s->max_backoff_us;
	return d / 2 + (int64_t)((double)(d / 2) * (rand() / (RAND_MAX + 1.0)));
}

/* --- one stage ----------------------------------------------------- */

typedef struct attempt_result {
	int exit;		/* EXIT_* for this attempt */
	char state[32];
	char message[512];
} attempt_result;

/* A lease outlasting the longest wait between two renewals: a status or
 * create retried for the patience, or a back-off between attempts. */
static int64_t
lease_for(const orch_pipeline *p, int64_t patience_us)
{
	int64_t longest = 0;

	for (int i = 0; i < p->nstages; i++)
		if (p->stages[i].max_backoff_us > longest)
			longest = p->stages[i].max_backoff_us;
	return patience_us + longest + LEASE_SLACK_US;
}

/* Keeps the run's lease alive while it works (cheap: a write every
 * LEASE_RENEW_US at most). */
static void
renew_lease(orch *o)
{
	int64_t now = clock_mono_us();

	if (o->run <= 0 || now - o->lease_renewed_at < LEASE_RENEW_US)
		return;
	orch_history_renew(o->history, o->run, o->lease_us);
	o->lease_renewed_at = now;
}

/*
 * One status request, counted against --patience: ORCH_OK with *st, or
 * the failure with err filled and *expired set once status requests have
 * kept failing (server away, or answering nonsense) for longer than the
 * patience. *failing_since (0 at first) carries the count between calls.
 */
static orch_result
status_within_patience(orch *o, const char *id, driver_state known,
    int64_t wait_ms, orch_status *st, int64_t *failing_since, int *expired,
    char *err, size_t errlen)
{
	int64_t asked_at = clock_mono_us();
	orch_result rc = orch_status_wait(o->client, id, known, wait_ms, st,
	    err, errlen);

	*expired = 0;
	if (rc == ORCH_OK) {
		*failing_since = 0;
		return rc;
	}
	if (*failing_since == 0)
		*failing_since = asked_at;
	*expired = clock_mono_us() - *failing_since > o->patience_us;
	return rc;
}

/* Ends an attempt whose status could not be had for --patience. */
static void
unreachable(orch *o, int64_t run, int index, const orch_stage *s,
    int attempt, const char *id, int64_t submitted_at, int64_t running_at,
    const char *err, attempt_result *res)
{
	if (o->live)
		fputc('\n', stderr);
	snprintf(res->state, sizeof(res->state), "UNREACHABLE");
	snprintf(res->message, sizeof(res->message), "no usable status of "
	    "%.40s for %.0f s (--patience): %.250s; it may still run: ask "
	    "with 'status %.40s'", id, o->patience_us / 1e6, err, id);
	orch_history_attempt(o->history, run, index, s->name, attempt, id,
	    "UNREACHABLE", submitted_at, running_at, clock_now_us(), -1,
	    res->message);
	res->exit = EXIT_UNREACHABLE;
}

/*
 * How long the next status may wait on the server (ms), without passing
 * deadline (monotonic µs, 0 none): 0 when the server offers no long-poll
 * (then the caller sleeps between polls).
 */
static int64_t
status_wait_ms(orch *o, int64_t deadline)
{
	int64_t ms = orch_client_wait_max_ms(o->client), left;

	if (ms <= 0)
		return 0;
	if (ms > WAIT_MS)
		ms = WAIT_MS;
	if (deadline > 0) {
		/* Answered just past the deadline, so the caller sees it. */
		left = (deadline - clock_mono_us()) / 1000 + 1;
		if (left < ms)
			ms = left < 1 ? 1 : left;
	}
	return ms;
}

/*
 * Whether to sleep before the next status: always when polling; when
 * long-polling, only after a failure or an answer that came back early
 * without a change (a server that parks no more waiters, a state that
 * went and came back), so such answers cannot make a busy loop.
 */
static int
nap_before_next(int64_t wait_ms, int failed, int changed, int64_t asked_at)
{
	if (wait_ms == 0 || failed)
		return 1;
	return !changed && clock_mono_us() - asked_at < wait_ms * 1000 / 2;
}

/* Follows id until it ends, the timeout passes, or a stop is requested. */
static void
follow(orch *o, int64_t run, int index, const orch_stage *s, int attempt,
    const char *id, int64_t submitted_at, attempt_result *res)
{
	int64_t start = clock_mono_us(), running_at = 0, delay = POLL_FIRST_US;
	int64_t failing_since = 0, wait_ms, asked_at;
	int expired, must_nap = 0, failed;
	driver_state last = DRIVER_SUBMITTED;
	char err[512];
	orch_status st;

	for (;;) {
		int changed;

		wait_ms = status_wait_ms(o, start + s->timeout_us);
		if (wait_ms == 0 || must_nap) {
			nap(delay);
			delay = delay * 3 / 2 > POLL_MAX_US ? POLL_MAX_US :
			    delay * 3 / 2;
		}
		renew_lease(o);
		asked_at = clock_mono_us();
		failed = status_within_patience(o, id, last, wait_ms, &st,
		    &failing_since, &expired, err, sizeof(err)) != ORCH_OK;
		if (failed) {
			/* Keep asking while the server is away or answers
			 * nonsense, for --patience, then give up on it. */
			if (expired) {
				unreachable(o, run, index, s, attempt, id,
				    submitted_at, running_at, err, res);
				return;
			}
			if (!stop_requested)
				log_warnx("%s: %s; still following %s", s->name,
				    err, id);
			st.state = last;
			st.known = 1;
		}
		must_nap = nap_before_next(wait_ms, failed, st.state != last,
		    asked_at);
		if (wait_ms > 0 && !must_nap)
			delay = POLL_FIRST_US;
		changed = st.state != last;
		if (changed && st.state == DRIVER_RUNNING)
			running_at = clock_now_us();
		last = st.state;
		progress(o, s->name, id, st.state, start, changed);
		if (changed)
			orch_history_attempt(o->history, run, index, s->name,
			    attempt, id, driver_state_name(st.state),
			    submitted_at, running_at,
			    driver_state_final(st.state) ? clock_now_us() : 0,
			    st.exit_code, st.message);
		if (driver_state_final(st.state)) {
			snprintf(res->state, sizeof(res->state), "%s",
			    driver_state_name(st.known ? st.state :
			    DRIVER_NOT_FOUND));
			snprintf(res->message, sizeof(res->message), "%s",
			    st.known ? st.message : "the server no longer "
			    "knows this submission");
			res->exit = exit_for_state(st.state);
			return;
		}
		if (stop_requested) {
			snprintf(res->state, sizeof(res->state), "INTERRUPTED");
			snprintf(res->message, sizeof(res->message), "stopped "
			    "by a signal; driver %s was left %s", id,
			    driver_state_name(last));
			res->exit = EXIT_INTERRUPTED;
			return;
		}
		if (clock_mono_us() - start > s->timeout_us) {
			if (o->live)
				fputc('\n', stderr);
			log_warnx("%s: %s still %s after its %.0f s timeout; "
			    "killing it", s->name, id, driver_state_name(last),
			    s->timeout_us / 1e6);
			if (orch_kill(o->client, id, err, sizeof(err)) !=
			    ORCH_OK)
				log_warnx("%s", err);
			snprintf(res->state, sizeof(res->state), "TIMEOUT");
			snprintf(res->message, sizeof(res->message), "timed out "
			    "after %.0f s while %s", s->timeout_us / 1e6,
			    driver_state_name(last));
			orch_history_attempt(o->history, run, index, s->name,
			    attempt, id, "TIMEOUT", submitted_at, running_at,
			    clock_now_us(), -1, res->message);
			res->exit = EXIT_TIMEOUT;
			return;
		}
	}
}

/*
 * A recovered run starts by following the driver its lost (or
 * interrupted) orchestrator left going, instead of submitting the stage a second time. Returns 1
 * when that driver finished the stage (res filled), 0 to submit as usual,
 * with *attempt the number the next submission takes.
 */
static int
adopt_driver(orch *o, int64_t run, int index, int *attempt,
    attempt_result *res)
{
	const orch_stage *s = &o->pipeline.stages[index];
	char id[128];
	int lost_attempt;

	*attempt = 1;
	if (o->adopt_run <= 0 || index != o->adopt_stage)
		return 0;
	if (orch_history_live_driver(o->history, o->adopt_run, index, id,
	    sizeof(id), &lost_attempt) == -1 ||
	    !orch_valid_submission_id(id))
		return 0;
	log_info("%s: following %s, left going by unfinished run %" PRId64,
	    s->name, id, o->adopt_run);
	orch_history_attempt(o->history, run, index, s->name, 1, id,
	    driver_state_name(DRIVER_SUBMITTED), clock_now_us(), 0, 0, -1,
	    "adopted from an unfinished run");
	follow(o, run, index, s, 1, id, clock_now_us(), res);
	*attempt = 2;
	return res->exit == EXIT_OK;
}

/* Runs one stage with its retries; returns EXIT_*. */
static int
run_stage(orch *o, int64_t run, int index, attempt_result *res)
{
	const orch_stage *s = &o->pipeline.stages[index];
	char id[128], err[512];
	int first;

	if (adopt_driver(o, run, index, &first, res))
		return EXIT_OK;
	for (int attempt = first; attempt <= s->retries + 1; attempt++) {
		json_t *req = orch_stage_request(s, err, sizeof(err));
		int64_t submitted_at;
		orch_result rc;

		if (req == NULL) {
			snprintf(res->state, sizeof(res->state), "ERROR");
			snprintf(res->message, sizeof(res->message), "%s", err);
			return EXIT_ERROR;
		}
		submitted_at = clock_now_us();
		rc = orch_create(o->client, req, id, sizeof(id), err,
		    sizeof(err));
		json_decref(req);
		if (rc != ORCH_OK) {
			int down = rc == ORCH_UNREACHABLE;

			snprintf(res->state, sizeof(res->state), "%s",
			    down ? "UNREACHABLE" : "REFUSED");
			snprintf(res->message, sizeof(res->message), "%.100s: "
			    "%.400s", s->name, err);
			orch_history_attempt(o->history, run, index, s->name,
			    attempt, NULL, res->state, submitted_at, 0,
			    clock_now_us(), -1, err);
			return down ? EXIT_UNREACHABLE : EXIT_ERROR;
		}
		orch_history_attempt(o->history, run, index, s->name, attempt,
		    id, driver_state_name(DRIVER_SUBMITTED), submitted_at, 0, 0,
		    -1, NULL);
		follow(o, run, index, s, attempt, id, submitted_at, res);
		/* A driver whose outcome was lost (its runner died with a
		 * restarted server or container) is retried like a failure:
		 * every stage is idempotent, so a rerun finishes what the
		 * lost one did or finds it already committed. */
		if (res->exit != EXIT_FAILED && res->exit != EXIT_STAGE_ERROR &&
		    res->exit != EXIT_UNKNOWN)
			return res->exit;
		if (attempt <= s->retries && !stop_requested) {
			int64_t d = retry_delay(s, attempt);

			log_warnx("%s: %s (%s); retry %d of %d in %.1f s",
			    s->name, res->state, res->message, attempt,
			    s->retries, d / 1e6);
			nap(d);
		}
	}
	return res->exit;
}

/* --- run ----------------------------------------------------------- */

static const char *
run_state_name(int code, const attempt_result *res)
{
	switch (code) {
	case EXIT_OK:
		return "FINISHED";
	case EXIT_TIMEOUT:
		return "TIMEOUT";
	case EXIT_UNREACHABLE:
		return "UNREACHABLE";
	case EXIT_INTERRUPTED:
		return "INTERRUPTED";
	default:
		return res->state[0] ? res->state : "ERROR";
	}
}

static int
run_pipeline(orch *o, const char *trigger, int64_t scheduled_at,
    int64_t resumed_from, int first_stage)
{
	int64_t run, t0 = clock_mono_us();
	attempt_result res;
	json_t *stages = json_array();
	int code = EXIT_OK, index = first_stage;

	orch_busy busy;

	memset(&res, 0, sizeof(res));
	run = orch_history_run_begin(o->history, o->pipeline.name, trigger,
	    scheduled_at, resumed_from, o->lease_us, &busy);
	if (run == -1) {
		json_decref(stages);
		log_warnx("pipeline %s is already running as run %" PRId64
		    " (orchestrator pid %" PRId64 " on %s); not starting a "
		    "second", o->pipeline.name, busy.run, busy.pid, busy.host);
		return EXIT_BUSY;
	}
	o->run = run;
	o->lease_renewed_at = clock_mono_us();
	o->adopt_run = resumed_from;
	o->adopt_stage = first_stage;
	log_debug("run %" PRId64 " of %s on %s", run, o->pipeline.name,
	    orch_client_master(o->client));
	for (; index < o->pipeline.nstages; index++) {
		int64_t s0 = clock_mono_us();

		memset(&res, 0, sizeof(res));
		code = run_stage(o, run, index, &res);
		json_array_append_new(stages, json_pack("{s:s, s:s, s:f}",
		    "stage", o->pipeline.stages[index].name, "state",
		    res.state, "seconds", (clock_mono_us() - s0) / 1e6));
		if (code != EXIT_OK)
			break;
	}
	orch_history_run_end(o->history, run, run_state_name(code, &res), code,
	    code == EXIT_OK ? -1 : index, code == EXIT_OK ? NULL : res.message);
	o->run = 0;
	o->adopt_run = 0;
	if (code != EXIT_OK)
		log_warnx("run %" PRId64 " stopped at %s: %s (exit %d)", run,
		    o->pipeline.stages[index].name, res.message, code);
	else if (o->quiet)
		log_debug("run %" PRId64 " finished in %.2f s", run,
		    (clock_mono_us() - t0) / 1e6);
	else
		log_info("run %" PRId64 " finished in %.2f s", run,
		    (clock_mono_us() - t0) / 1e6);
	if (o->json) {
		json_t *doc = json_pack("{s:I, s:s, s:i, s:f, s:o}", "run_id",
		    (json_int_t)run, "state", run_state_name(code, &res),
		    "exit_code", code, "seconds", (clock_mono_us() - t0) / 1e6,
		    "stages", stages);
		char *text = json_dumps(doc, JSON_COMPACT);

		if (text != NULL)
			puts(text);
		free(text);
		json_decref(doc);
	} else
		json_decref(stages);
	fflush(stdout);
	return code;
}

/*
 * A run of the pipeline, or, when its newest run did not finish (its
 * orchestrator died mid-run, or a signal stopped it and left its driver
 * going), that run resumed: its live driver is followed, never submitted
 * a second time beside it, and nothing it finished is submitted again.
 */
static int
start_run(orch *o, const char *trigger, int64_t scheduled_at)
{
	int64_t lost;
	int stage;
	char state[16];

	o->recovered = 0;
	orch_history_reap(o->history);
	if (o->history != NULL && orch_history_newest_unfinished(o->history,
	    o->pipeline.name, &lost, &stage, state, sizeof(state)) == 0 &&
	    stage < o->pipeline.nstages) {
		log_warnx("run %" PRId64 " of %s was %s; recovering it from %s",
		    lost, o->pipeline.name, strcmp(state, "LOST") == 0 ?
		    "lost with its orchestrator" : "interrupted by a signal",
		    o->pipeline.stages[stage].name);
		o->recovered = 1;
		return run_pipeline(o, "recover", scheduled_at, lost, stage);
	}
	return run_pipeline(o, trigger, scheduled_at, 0, 0);
}

static int
cmd_run(orch *o, int resume, int64_t resume_run)
{
	int64_t from_run = 0;
	int stage = 0;

	if (!resume)
		return start_run(o, "run", 0);
	orch_history_reap(o->history);
	if (o->history == NULL || orch_history_last_failed(o->history,
	    resume_run, &from_run, &stage) == -1) {
		log_warnx("no failed run to resume%s", resume_run ?
		    " with that id" : "");
		return EXIT_ERROR;
	}
	if (stage >= o->pipeline.nstages) {
		log_warnx("run %" PRId64 " stopped at stage %d, which this "
		    "pipeline does not have", from_run, stage + 1);
		return EXIT_ERROR;
	}
	log_info("resuming run %" PRId64 " from %s", from_run,
	    o->pipeline.stages[stage].name);
	return run_pipeline(o, "resume", 0, from_run, stage);
}

/* --- schedule ------------------------------------------------------ */

static void
fmt_tick(int64_t us, char *buf, size_t len)
{
	time_t s = (time_t)(us / 1000000);
	struct tm tm;

	localtime_r(&s, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S %Z", &tm);
}

static int
cmd_schedule(orch *o, const orch_schedule *sch, int catch_up)
{
	int64_t next = orch_schedule_next(sch, clock_now_us());
	char when[64];

	if (next < 0) {
		log_warnx("the schedule never fires");
		return EXIT_USAGE;
	}
	fmt_tick(next, when, sizeof(when));
	log_info("scheduled; first run at %s", when);
	while (!stop_requested) {
		int64_t now = clock_now_us(), tick, missed = 0, first_missed = 0;

		if (now < next) {
			nap(next - now < 1000000 ? next - now : 1000000);
			continue;
		}
		tick = next;
		start_run(o, "schedule", tick);
		/* Ticks that passed while the run ran: skipped, or caught up
		 * (at most catch_up of them, the newest ones). */
		now = clock_now_us();
		for (int64_t t = orch_schedule_next(sch, tick); t > 0 &&
		    t <= now; t = orch_schedule_next(sch, t)) {
			if (missed++ == 0)
				first_missed = t;
		}
		if (missed > 0) {
			fmt_tick(first_missed, when, sizeof(when));
			if (catch_up == 0)
				log_warnx("skipped %" PRId64 " tick%s from %s: "
				    "the previous run was still going", missed,
				    missed == 1 ? "" : "s", when);
			for (int64_t k = 0; k < missed && k < catch_up &&
			    !stop_requested; k++)
				run_pipeline(o, "catch-up", first_missed, 0, 0);
		}
		next = orch_schedule_next(sch, clock_now_us());
		fmt_tick(next, when, sizeof(when));
		log_debug("next run at %s", when);
	}
	log_info("stopped by a signal");
	return EXIT_OK;
}

/* --- watch --------------------------------------------------------- */

/* After a run that did not finish, the next waits this long, doubling to
 * WATCH_RETRY_MAX_US: a pipeline that keeps failing (or another
 * orchestrator's run under way) is not retried at every commit. */
#define WATCH_RETRY_FIRST_US 1000000
#define WATCH_RETRY_MAX_US 60000000

typedef struct watch_opts {
	int64_t min_interval_us;	/* between two runs' starts */
	int64_t max_interval_us;	/* a heartbeat run after this idle */
	int64_t poll_us;		/* 0: LISTEN; else poll this often */
} watch_opts;

/* The next delay after a run that did not finish. */
static int64_t
watch_retry_delay(int64_t previous)
{
	if (previous <= 0)
		return WATCH_RETRY_FIRST_US;
	return previous * 2 > WATCH_RETRY_MAX_US ? WATCH_RETRY_MAX_US :
	    previous * 2;
}

/* The trigger a watch run gets in the history. */
static const char *
watch_trigger(orch_watch_event why)
{
	switch (why) {
	case ORCH_WATCH_DATA:
		return "watch";
	case ORCH_WATCH_CATCH_UP:
		return "catch-up";
	default:
		return "heartbeat";
	}
}

/* One run for watch: its outcome tells w what the run took. Returns the
 * run's EXIT_*. */
static int
watch_run(orch *o, orch_watch *w, orch_watch_event why)
{
	int code;

	orch_watch_run_starting(w);
	code = start_run(o, watch_trigger(why), 0);
	/* A recovered run may start past ingestion: it took nothing new. */
	if (code != EXIT_OK || o->recovered)
		orch_watch_run_failed(w);
	return code;
}

static int
cmd_watch(orch *o, const watch_opts *wo)
{
	orch_watch *w = orch_watch_new(ORCH_WATCH_CHANNEL, wo->poll_us,
	    &stop_requested);
	int64_t last_start = 0, last_end = clock_mono_us(), retry = 0;
	orch_watch_event ev;

	if (w == NULL) {
		log_warnx("out of memory");
		return EXIT_ERROR;
	}
	log_info("watching the source (channel %s): runs at least %.3f s "
	    "apart, a heartbeat run after %.0f s without one",
	    ORCH_WATCH_CHANNEL, wo->min_interval_us / 1e6,
	    wo->max_interval_us / 1e6);
	while ((ev = orch_watch_wait(w, last_end + wo->max_interval_us,
	    wo->min_interval_us)) != ORCH_WATCH_STOP) {
		int64_t not_before = last_start + wo->min_interval_us, now;

		if (last_end + retry > not_before)
			not_before = last_end + retry;
		/* Whatever commits meanwhile is taken by this one run. */
		if ((now = clock_mono_us()) < not_before)
			nap(not_before - now);
		if (stop_requested)
			break;
		last_start = clock_mono_us();
		if (watch_run(o, w, ev) == EXIT_OK)
			retry = 0;
		else
			retry = watch_retry_delay(retry);
		last_end = clock_mono_us();
		if (retry > 0 && !stop_requested)
			log_warnx("the run did not finish; the next in %.0f s "
			    "at the earliest", retry / 1e6);
	}
	orch_watch_free(w);
	log_info("stopped by a signal");
	return EXIT_OK;
}

/* --- scripting commands -------------------------------------------- */

static int
cmd_submit(orch *o, const char *stage)
{
	int i = orch_pipeline_find(&o->pipeline, stage);
	char id[128], err[512];
	orch_stage adhoc;
	json_t *req;
	orch_result rc;

	/* A stage the pipeline does not describe gets the defaults. */
	if (i < 0 && orch_stage_default(&adhoc, stage) == -1) {
		log_warnx("out of memory");
		return EXIT_ERROR;
	}
	req = orch_stage_request(i >= 0 ? &o->pipeline.stages[i] : &adhoc,
	    err, sizeof(err));
	if (i < 0)
		orch_stage_free(&adhoc);
	if (req == NULL) {
		log_warnx("%s", err);
		return EXIT_ERROR;
	}
	rc = orch_create(o->client, req, id, sizeof(id), err, sizeof(err));
	json_decref(req);
	if (rc != ORCH_OK) {
		log_warnx("%s", err);
		return rc == ORCH_UNREACHABLE ? EXIT_UNREACHABLE : EXIT_ERROR;
	}
	if (o->json)
		printf("{\"submissionId\":\"%s\",\"stage\":\"%s\"}\n", id, stage);
	else
		printf("%s\n", id);
	return EXIT_OK;
}

static int
print_status(orch *o, const char *id, const orch_status *st)
{
	if (o->json) {
		json_t *doc = json_pack("{s:s, s:s, s:b, s:s}", "submissionId",
		    id, "driverState", driver_state_name(st->state), "known",
		    st->known, "message",
		    st->message);
		char *text;

		if (st->exit_code >= 0)
			json_object_set_new(doc, "exitCode",
			    json_integer(st->exit_code));
		text = json_dumps(doc, JSON_COMPACT);
		if (text != NULL)
			puts(text);
		free(text);
		json_decref(doc);
	} else
		printf("%s%s%s\n", driver_state_name(st->state),
		    st->message[0] ? "  " : "",
		    st->message);
	return EXIT_OK;
}

/* A user-typed id goes into a URL only when it has a Spark id's shape. */
static int
id_refused(const char *id)
{
	if (orch_valid_submission_id(id))
		return 0;
	log_warnx("\"%s\" is not a submission id (driver-YYYYMMDDHHMMSS-NNNN)",
	    id);
	return 1;
}

static int
cmd_status(orch *o, const char *id)
{
	orch_status st;
	orch_result rc;
	char err[512];

	if (id_refused(id))
		return EXIT_USAGE;
	if ((rc = orch_status_get(o->client, id, &st, err, sizeof(err))) !=
	    ORCH_OK) {
		log_warnx("%s", err);
		return rc == ORCH_UNREACHABLE || rc == ORCH_BAD_ANSWER ?
		    EXIT_UNREACHABLE : EXIT_ERROR;
	}
	return print_status(o, id, &st);
}

static int
cmd_kill(orch *o, const char *id)
{
	orch_result rc;
	char err[512];

	if (id_refused(id))
		return EXIT_USAGE;
	if ((rc = orch_kill(o->client, id, err, sizeof(err))) != ORCH_OK) {
		log_warnx("%s", err);
		return rc == ORCH_UNREACHABLE ? EXIT_UNREACHABLE : EXIT_ERROR;
	}
	if (o->json)
		printf("{\"submissionId\":\"%s\",\"killed\":true}\n", id);
	return EXIT_OK;
}

static int
cmd_wait(orch *o, const char *id)
{
	int64_t start = clock_mono_us(), delay = POLL_FIRST_US;
	int64_t failing_since = 0, wait_ms, asked_at;
	int expired, failed;
	char err[512];
	driver_state last = DRIVER_STATE_COUNT;	/* none seen yet */
	orch_status st;

	if (id_refused(id))
		return EXIT_USAGE;
	for (;;) {
		/* The first status says whether the server long-polls. */
		wait_ms = last == DRIVER_STATE_COUNT ? 0 : status_wait_ms(o,
		    o->wait_timeout_us > 0 ? start + o->wait_timeout_us : 0);
		asked_at = clock_mono_us();
		failed = status_within_patience(o, id, last, wait_ms, &st,
		    &failing_since, &expired, err, sizeof(err)) != ORCH_OK;
		if (failed) {
			if (expired) {
				log_warnx("%s; gave up after --patience (%.0f "
				    "s)", err, o->patience_us / 1e6);
				return EXIT_UNREACHABLE;
			}
			log_warnx("%s; still waiting for %s", err, id);
		} else {
			progress(o, "wait", id, st.state, start,
			    last != st.state);
			if (driver_state_final(st.state)) {
				print_status(o, id, &st);
				return exit_for_state(st.state);
			}
		}
		if (stop_requested)
			return EXIT_INTERRUPTED;
		if (o->wait_timeout_us > 0 &&
		    clock_mono_us() - start > o->wait_timeout_us) {
			log_warnx("%s is still %s after the timeout", id,
			    last != DRIVER_STATE_COUNT ?
			    driver_state_name(last) : "unreachable");
			return EXIT_TIMEOUT;
		}
		if (nap_before_next(wait_ms, failed, !failed && st.state !=
		    last, asked_at)) {
			nap(delay);
			delay = delay * 3 / 2 > POLL_MAX_US ? POLL_MAX_US :
			    delay * 3 / 2;
		} else {
			delay = POLL_FIRST_US;
		}
		if (!failed)
			last = st.state;
	}
}

/* --- main ---------------------------------------------------------- */

#define WATCH_MIN_INTERVAL_US 200000
#define WATCH_MAX_INTERVAL_US 300000000
/* At up to five runs a second, 30 days of runs would be some 6 GB. */
#define WATCH_RETAIN_DEFAULT_US 86400000000LL

/* --min-interval and --max-interval: a duration; 0 or -1 (message). */
static int
parse_interval(const char *opt, const char *arg, int64_t *us)
{
	char err[256];

	if (duration_parse(arg, us, err, sizeof(err)) == -1) {
		fprintf(stderr, "medallion-orchestrator: %s wants a duration "
		    "such as 200ms, 1s or 5m: %s\n", opt, err);
		return -1;
	}
	if (strcmp(opt, "--max-interval") == 0 && *us < 1000000) {
		fprintf(stderr, "medallion-orchestrator: --max-interval wants "
		    "at least 1s, not %s\n", arg);
		return -1;
	}
	return 0;
}

static const char *
default_master(void)
{
	const char *m = getenv("MEDALLION_MASTER");

	if (m == NULL || *m == '\0')
		m = getenv("SPARK_REST_URL");
	if (m == NULL || *m == '\0')
		m = "http://127.0.0.1:6066";
	return m;
}

/* An environment variable's value, or NULL when unset or empty. */
static const char *
env_or_null(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

static char *
default_history(void)
{
	const char *data = getenv("MEDALLION_DATA");
	char *p;

	if (data != NULL && *data != '\0') {
		if (asprintf(&p, "%s/orchestrator.db", data) == -1)
			return NULL;
		return p;
	}
	/* As the server's --data-dir: ./data, made when missing. */
	if (mkdir("data", 0755) == -1 && errno != EEXIST)
		log_warn("cannot create ./data for the history");
	return strdup("data/orchestrator.db");
}

enum { O_MASTER = 256, O_PIPELINE, O_HISTORY, O_TOKEN, O_JWS, O_PATIENCE,
	O_EVERY, O_CRON, O_TZ, O_CATCHUP, O_TIMEOUT, O_RESUME, O_JSON,
	O_LIMIT, O_RETAIN, O_MIN_INTERVAL, O_MAX_INTERVAL, O_POLL };

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "master", required_argument, NULL, O_MASTER },
		{ "pipeline", required_argument, NULL, O_PIPELINE },
		{ "history", required_argument, NULL, O_HISTORY },
		{ "token-file", required_argument, NULL, O_TOKEN },
		{ "jws-secret-file", required_argument, NULL, O_JWS },
		{ "patience", required_argument, NULL, O_PATIENCE },
		{ "every", required_argument, NULL, O_EVERY },
		{ "cron", required_argument, NULL, O_CRON },
		{ "tz", required_argument, NULL, O_TZ },
		{ "catch-up", required_argument, NULL, O_CATCHUP },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "resume", optional_argument, NULL, O_RESUME },
		{ "json", no_argument, NULL, O_JSON },
		{ "limit", required_argument, NULL, O_LIMIT },
		{ "retain", required_argument, NULL, O_RETAIN },
		{ "min-interval", required_argument, NULL, O_MIN_INTERVAL },
		{ "max-interval", required_argument, NULL, O_MAX_INTERVAL },
		{ "poll", required_argument, NULL, O_POLL },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	orch_client_opts copts = { default_master(),
		env_or_null("MEDALLION_TOKEN_FILE"),
		env_or_null("MEDALLION_JWS_SECRET_FILE"), 60000000, 30000000,
		&stop_requested };
	const char *pipeline_file = NULL, *every = NULL, *cron = NULL;
	const char *tz = "UTC", *cmd;
	char *history_path = NULL, err[1024];
	int verbose = 0, ch, catch_up = 0, resume = 0, rc = EXIT_ERROR;
	int limit = 20;
	int64_t resume_run = 0, us;
	int64_t retain_us = ORCH_HISTORY_RETAIN_DEFAULT_US;
	int retain_set = 0;
	watch_opts wo = { WATCH_MIN_INTERVAL_US, WATCH_MAX_INTERVAL_US, 0 };
	orch_schedule sch;
	struct sigaction sa;
	orch o;

	memset(&o, 0, sizeof(o));
	while ((ch = getopt_long(argc, argv, "hvV", longopts, NULL)) != -1) {
		switch (ch) {
		case O_MASTER: copts.master = optarg; break;
		case O_PIPELINE: pipeline_file = optarg; break;
		case O_HISTORY: history_path = strdup(optarg); break;
		case O_TOKEN: copts.token_file = optarg; break;
		case O_JWS: copts.jws_secret_file = optarg; break;
		case O_EVERY: every = optarg; break;
		case O_CRON: cron = optarg; break;
		case O_TZ: tz = optarg; break;
		case O_JSON: o.json = 1; break;
		case O_RETAIN:
			if (orch_history_parse_retention(optarg, &retain_us,
			    err, sizeof(err)) == -1) {
				fprintf(stderr, "medallion-orchestrator: "
				    "--retain: %s, or forever\n", err);
				rc = EXIT_USAGE;
				goto out;	/* frees --history's copy */
			}
			retain_set = 1;
			break;
		case O_POLL:
			if (parse_interval("--poll", optarg, &wo.poll_us) == -1) {
				rc = EXIT_USAGE;
				goto out;
			}
			if (wo.poll_us < 1000) {
				fprintf(stderr, "medallion-orchestrator: --poll "
				    "wants at least 1ms, not %s\n", optarg);
				rc = EXIT_USAGE;
				goto out;
			}
			break;
		case O_MIN_INTERVAL:
		case O_MAX_INTERVAL:
			if (parse_interval(ch == O_MIN_INTERVAL ?
			    "--min-interval" : "--max-interval", optarg,
			    ch == O_MIN_INTERVAL ? &wo.min_interval_us :
			    &wo.max_interval_us) == -1) {
				rc = EXIT_USAGE;
				goto out;
			}
			break;
		case O_LIMIT:
			limit = atoi(optarg);
			if (limit < 1) {
				fprintf(stderr, "medallion-orchestrator: --limit "
				    "wants a positive count\n");
				return EXIT_USAGE;
			}
			break;
		case O_PATIENCE:
		case O_TIMEOUT:
			if (orch_parse_duration(optarg, &us) == -1) {
				fprintf(stderr, "medallion-orchestrator: %s wants "
				    "a duration such as 30s, 5m or 1h, not %s\n",
				    ch == O_PATIENCE ? "--patience" :
				    "--timeout", optarg);
				return EXIT_USAGE;
			}
			if (ch == O_PATIENCE)
				copts.patience_us = us;
			else
				o.wait_timeout_us = us;
			break;
		case O_CATCHUP:
			catch_up = atoi(optarg);
			if (catch_up < 0 || catch_up > 1000) {
				fprintf(stderr, "medallion-orchestrator: "
				    "--catch-up wants 0 to 1000\n");
				return EXIT_USAGE;
			}
			break;
		case O_RESUME:
			resume = 1;
			if (optarg != NULL)
				resume_run = atoll(optarg);
			break;
		case 'v': verbose = 1; break;
		case 'h': usage(stdout); return EXIT_OK;
		case 'V':
			printf("medallion-orchestrator %s\n", MEDALLION_VERSION);
			return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind++];
	/* "run --resume 3": the run id arrives as a separate word. */
	if (strcmp(cmd, "run") == 0 && resume && optind + 1 == argc &&
	    resume_run == 0) {
		char *end;

		resume_run = strtoll(argv[optind], &end, 10);
		if (*end != '\0' || resume_run <= 0) {
			fprintf(stderr, "medallion-orchestrator: --resume wants "
			    "a run id, not %s\n", argv[optind]);
			return EXIT_USAGE;
		}
		optind++;
	}
	log_init("medallion-orchestrator", verbose);
	setenv("TZ", tz, 1);
	tzset();
	srand((unsigned)(clock_now_us() ^ getpid()));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	o.live = isatty(STDERR_FILENO) && !o.json;
	curl_global_init(CURL_GLOBAL_DEFAULT);

	if (strcmp(cmd, "schedule") == 0) {
		if ((every == NULL) == (cron == NULL)) {
			log_warnx("schedule wants --every DURATION or --cron "
			    "\"EXPR\" (one of them)");
			rc = EXIT_USAGE;
			goto out;
		}
		if (every != NULL && (orch_parse_duration(every, &us) == -1 ||
		    orch_schedule_every(&sch, us) == -1)) {
			log_warnx("--every wants a duration of at least 1s, such "
			    "as 30s, 5m or 1h, not %s", every);
			rc = EXIT_USAGE;
			goto out;
		}
		if (cron != NULL && orch_schedule_cron(&sch, cron, err,
		    sizeof(err)) == -1) {
			log_warnx("%s", err);
			rc = EXIT_USAGE;
			goto out;
		}
		o.live = 0;
	}
	if (strcmp(cmd, "watch") == 0) {
		if (wo.max_interval_us < wo.min_interval_us) {
			log_warnx("--max-interval (%.3f s) is shorter than "
			    "--min-interval (%.3f s)", wo.max_interval_us / 1e6,
			    wo.min_interval_us / 1e6);
			rc = EXIT_USAGE;
			goto out;
		}
		o.live = 0;
		o.quiet = 1;
		if (!retain_set)
			retain_us = WATCH_RETAIN_DEFAULT_US;
	}
	if (orch_pipeline_load(pipeline_file, &o.pipeline, err,
	    sizeof(err)) == -1) {
		log_warnx("%s", err);
		goto out;
	}
	o.patience_us = copts.patience_us;
	o.lease_us = lease_for(&o.pipeline, o.patience_us);
	if ((o.client = orch_client_new(&copts, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		rc = EXIT_USAGE;
		goto out;
	}
	if (strcmp(cmd, "run") == 0 || strcmp(cmd, "schedule") == 0 ||
	    strcmp(cmd, "watch") == 0 || strcmp(cmd, "history") == 0) {
		if (history_path == NULL)
			history_path = default_history();
		if ((o.history = orch_history_open(history_path, err,
		    sizeof(err))) == NULL) {
			log_warnx("%s", err);
			goto out;
		}
		/* Only the commands that write runs delete old ones. */
		if (strcmp(cmd, "history") != 0)
			orch_history_retain(o.history, retain_us);
	}
	if (strcmp(cmd, "run") == 0 && optind == argc)
		rc = cmd_run(&o, resume, resume_run);
	else if (strcmp(cmd, "schedule") == 0 && optind == argc)
		rc = cmd_schedule(&o, &sch, catch_up);
	else if (strcmp(cmd, "watch") == 0 && optind == argc)
		rc = cmd_watch(&o, &wo);
	else if (strcmp(cmd, "history") == 0 && optind == argc &&
	    orch_history_reap(o.history) >= -1)
		rc = orch_history_print(o.history, stdout, limit, o.json) == 0 ?
		    EXIT_OK : EXIT_ERROR;
	else if (strcmp(cmd, "submit") == 0 && optind + 1 == argc)
		rc = cmd_submit(&o, argv[optind]);
	else if (strcmp(cmd, "status") == 0 && optind + 1 == argc)
		rc = cmd_status(&o, argv[optind]);
	else if (strcmp(cmd, "kill") == 0 && optind + 1 == argc)
		rc = cmd_kill(&o, argv[optind]);
	else if (strcmp(cmd, "wait") == 0 && optind + 1 == argc)
		rc = cmd_wait(&o, argv[optind]);
	else {
		log_warnx("unknown command or wrong arguments: %s (try --help)",
		    cmd);
		rc = EXIT_USAGE;
	}
out:
	orch_client_free(o.client);
	orch_history_close(o.history);
	orch_pipeline_free(&o.pipeline);
	free(history_path);
	curl_global_cleanup();
	return rc;
}
