/*
 * main.c - medallion-retailapp: simulates the retail app writing purchase
 * orders to PostgreSQL, to feed the pipeline.
 *
 * Each event is one transaction: NEW inserts an order and its NEW history
 * row; INTRANSIT and DELIVERED move a random order whose last status is the
 * one before. Events are weighted 2:1:1 (--mix sets others), branches
 * 3,2,2,1,...; simulated
 * time advances 1-59 minutes per event from the latest time in the
 * database (--event-gap sets another mean gap, e.g. 10s for 30 events
 * every 5 minutes, as a benchmark of a real schedule wants). --connections K runs K writer threads, each with its own
 * connection, so transactions overlap. --bulk loads a large consistent
 * history with COPY. SIGINT finishes the current transactions and prints
 * the summary.
 */
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "db.h"
#include "duration.h"
#include "log.h"
#include "medallion_version.h"
#include "sim.h"

#define MAX_CONNECTIONS 256
/* With --seed and an empty database: 2026-01-01 08:00:00 UTC. */
#define SEEDED_EPOCH_US 1767254400000000LL

typedef struct app {
	/* options */
	long events;			/* -1: until SIGINT */
	double rate;			/* events per second, 0 = flat out */
	int64_t event_gap_us;		/* mean simulated gap, 0: 1-59 min */
	sim_mix mix;			/* weights of NEW, INTRANSIT, DELIVERED */
	int connections;
	int connections_set;
	int seeded;
	uint64_t seed;
	long bulk;
	int quiet, json, color;
	int check;			/* --check: health check only */
	const char *dsn;
	/* shared state, under lock */
	pthread_mutex_t lock;
	long tickets;			/* events handed out */
	int64_t clock_us;		/* simulated time */
	long counts[3];
	int reconnects;
	int failed;
	int64_t started_us;
} app;

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: medallion-retailapp [options]\n"
"\n"
"Simulates the retail app: writes purchase orders and their lifecycle\n"
"(NEW -> INTRANSIT -> DELIVERED) to PostgreSQL, one transaction per event.\n"
"Connects with libpq's environment (PGHOST, PGPORT, PGDATABASE, PGUSER,\n"
"PGPASSFILE, PGSERVICE) or --dsn; the role needs medallion_app's rights.\n"
"\n"
"  --events N          stop after N events (default: run until SIGINT)\n"
"  --rate R            events per second over all connections; 0 = as fast\n"
"                      as possible (default 0)\n"
"  --connections K     concurrent writers, each with its own connection and\n"
"                      overlapping transactions (default 1, max %d)\n"
"  --event-gap D       mean simulated time between events, a duration\n"
"                      (10s, 2m; at least 1s); each gap is whole seconds\n"
"                      from 1 to twice D (default: 1 to 59 minutes)\n"
"  --mix N:I:D         weights of NEW, INTRANSIT and DELIVERED events\n"
"                      (default 2:1:1, which leaves half the orders\n"
"                      undelivered; 1:1:1 delivers them all in time)\n"
"  --seed S            seed the random choices: a single-connection run on\n"
"                      the same database state repeats exactly\n"
"  --bulk ORDERS       first load ORDERS complete lifecycles with COPY, for\n"
"                      benchmarks: one transaction per connection, in\n"
"                      parallel (default: one connection per CPU)\n"
"  --dsn DSN           libpq connection string instead of the environment\n"
"                      (no passwords in it: use PGPASSFILE)\n"
"  --check             connect once, check the schema and the role's\n"
"                      rights, and exit (0 ready, 1 not): a health check\n"
"  --quiet             no line per event, only the summary\n"
"  --json              events and summary as JSON lines\n"
"  --version, --help\n"
"\n"
"Exit status: 0 done or stopped by SIGINT, 1 database error, 2 bad usage.\n",
	    MAX_CONNECTIONS);
}

static int
parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static void
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "medallion-retailapp: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'medallion-retailapp --help'.\n");
	exit(2);
}

static void
parse_options(app *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{"events", required_argument, NULL, 'e'},
		{"rate", required_argument, NULL, 'r'},
		{"connections", required_argument, NULL, 'c'},
		{"seed", required_argument, NULL, 's'},
		{"event-gap", required_argument, NULL, 'g'},
		{"mix", required_argument, NULL, 'm'},
		{"bulk", required_argument, NULL, 'b'},
		{"dsn", required_argument, NULL, 'd'},
		{"quiet", no_argument, NULL, 'q'},
		{"check", no_argument, NULL, 'C'},
		{"json", no_argument, NULL, 'j'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	long v;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (parse_long(optarg, 0, 1000000000000L, &a->events))
				usage_error("--events wants a count >= 0, not "
				    "'%s'", optarg);
			break;
		case 'r':
			a->rate = strtod(optarg, &end);
			if (*optarg == '\0' || *end != '\0' || a->rate < 0 ||
			    a->rate > 1e7)
				usage_error("--rate wants events per second "
				    "(0 = as fast as possible), not '%s'", optarg);
			break;
		case 'c':
			if (parse_long(optarg, 1, MAX_CONNECTIONS, &v))
				usage_error("--connections wants 1 to 256, not "
				    "'%s'", optarg);
			a->connections = (int)v;
			a->connections_set = 1;
			break;
		case 's':
			if (parse_long(optarg, 0, 0x7fffffffffffffffL, &v))
				usage_error("--seed wants a number >= 0, not '%s'",
				    optarg);
			a->seed = (uint64_t)v;
			a->seeded = 1;
			break;
		case 'g':
			if (duration_parse(optarg, &a->event_gap_us, NULL, 0) ==
			    -1 || a->event_gap_us < 1000000 ||
			    a->event_gap_us > 86400LL * 1000000)
				usage_error("--event-gap wants a duration from 1s "
				    "to 1d (10s, 2m), not '%s'", optarg);
			break;
		case 'm':
			if (sim_mix_parse(optarg, &a->mix) == -1)
				usage_error("--mix wants three weights N:I:D "
				    "from 0 to 1000, not all 0 (e.g. 1:1:1), not "
				    "'%s'", optarg);
			break;
		case 'b':
			if (parse_long(optarg, 1, 1000000000L, &a->bulk))
				usage_error("--bulk wants a number of orders >= 1, "
				    "not '%s'", optarg);
			break;
		case 'd':
			a->dsn = optarg;
			break;
		case 'q':
			a->quiet = 1;
			break;
		case 'C':
			a->check = 1;
			break;
		case 'j':
			a->json = 1;
			break;
		case 'V':
			printf("medallion-retailapp %s\n", MEDALLION_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "Try 'medallion-retailapp --help'.\n");
			exit(2);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
}

static void
format_minute(int64_t us, char *buf, size_t len)
{
	time_t secs = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static const char *
status_color(sim_status s)
{
	switch (s) {
	case SIM_NEW:
		return "\033[36m";
	case SIM_INTRANSIT:
		return "\033[33m";
	case SIM_DELIVERED:
		return "\033[32m";
	}
	return "";
}

/* Called with a->lock held. */
static void
print_event(const app *a, const rdb_event *e)
{
	char when[32];
	json_t *j;

	format_minute(e->time_us, when, sizeof(when));
	if (a->json) {
		j = json_pack("{s:s, s:i, s:s, s:s}", "time", when, "orderid",
		    e->orderid, "branch", e->branch_name, "status",
		    sim_status_name(e->status));
		if (j != NULL) {
			json_dumpf(j, stdout, JSON_COMPACT);
			putchar('\n');
			json_decref(j);
		}
	} else if (a->color) {
		printf("%s ORDER %d %s %s%s\033[0m\n", when, e->orderid,
		    e->branch_name, status_color(e->status),
		    sim_status_name(e->status));
	} else {
		printf("%s ORDER %d %s %s\n", when, e->orderid, e->branch_name,
		    sim_status_name(e->status));
	}
	fflush(stdout);
}

/* Hands out the next event: its ticket number, or -1 when done. */
static long
next_ticket(app *a)
{
	long t = -1;

	pthread_mutex_lock(&a->lock);
	if (!stop_requested && !a->failed &&
	    (a->events < 0 || a->tickets < a->events))
		t = a->tickets++;
	pthread_mutex_unlock(&a->lock);
	return t;
}

static void
pace(const app *a, long ticket)
{
	int64_t due, now;

	if (a->rate <= 0)
		return;
	due = a->started_us + (int64_t)((double)ticket * 1e6 / a->rate);
	while (!stop_requested && (now = clock_mono_us()) < due)
		clock_sleep_us(due - now > 100000 ? 100000 : due - now);
}

typedef struct writer {
	app *a;
	int index;
	pthread_t thread;
} writer;

static void *
writer_main(void *arg)
{
	writer *w = arg;
	app *a = w->a;
	rdb db = {NULL, a->dsn ? a->dsn : "", 0, &stop_requested};
	sim_rng rng;
	rdb_event e;
	sim_status want;
	int64_t t;
	long ticket;

	sim_seed(&rng, a->seeded ? a->seed + (uint64_t)w->index :
	    (uint64_t)clock_now_us() ^ ((uint64_t)w->index << 48));
	if (rdb_connect(&db) == -1)
		goto out;
	while ((ticket = next_ticket(a)) >= 0) {
		pace(a, ticket);
		want = sim_pick_event(&rng, &a->mix);
		pthread_mutex_lock(&a->lock);
		a->clock_us += sim_event_step_us(&rng, a->event_gap_us);
		t = a->clock_us;
		pthread_mutex_unlock(&a->lock);
		if (rdb_event_run(&db, &rng, want, t, &e) == -1) {
			if (!stop_requested) {
				pthread_mutex_lock(&a->lock);
				a->failed = 1;
				pthread_mutex_unlock(&a->lock);
			}
			break;
		}
		pthread_mutex_lock(&a->lock);
		a->counts[e.status]++;
		if (!a->quiet)
			print_event(a, &e);
		pthread_mutex_unlock(&a->lock);
	}
out:
	pthread_mutex_lock(&a->lock);
	a->reconnects += db.reconnects;
	pthread_mutex_unlock(&a->lock);
	rdb_close(&db);
	return NULL;
}

static void
print_summary(const app *a, double seconds)
{
	long total = a->counts[0] + a->counts[1] + a->counts[2];
	double rate = seconds > 0 ? total / seconds : 0;
	json_t *j;

	if (a->json) {
		j = json_pack("{s:{s:I, s:I, s:I, s:I, s:f, s:f, s:i, s:b}}",
		    "summary", "events", (json_int_t)total, "new",
		    (json_int_t)a->counts[0], "intransit",
		    (json_int_t)a->counts[1], "delivered",
		    (json_int_t)a->counts[2], "seconds", seconds,
		    "events_per_second", rate, "reconnects", a->reconnects,
		    "interrupted", (int)stop_requested);
		if (j != NULL) {
			json_dumpf(j, stdout, JSON_COMPACT);
			putchar('\n');
			json_decref(j);
		}
		return;
	}
	fprintf(stderr, "medallion-retailapp: %ld events (NEW %ld, INTRANSIT "
	    "%ld, DELIVERED %ld) in %.2f s, %.0f events/s, %d reconnects%s\n",
	    total, a->counts[0], a->counts[1], a->counts[2], seconds, rate,
	    a->reconnects, stop_requested ? ", stopped by signal" : "");
}

typedef struct bulk_chunk {
	app *a;
	long orders;
	long long first_id;
	int64_t clock_us;
	uint64_t seed;
	int failed;
	pthread_t thread;
} bulk_chunk;

static void *
bulk_chunk_main(void *arg)
{
	bulk_chunk *c = arg;
	rdb db = {NULL, c->a->dsn ? c->a->dsn : "", 0, &stop_requested};
	sim_rng rng;

	sim_seed(&rng, c->seed);
	c->failed = rdb_connect(&db) == -1 || rdb_bulk(&db, rng, c->orders,
	    c->first_id, c->clock_us) == -1;
	rdb_close(&db);
	return NULL;
}

/*
 * --bulk: reserves the order ids, then loads them in one chunk per
 * connection (--connections, default: one per CPU), in parallel. Chunk k
 * covers the k-th slice of ids and of simulated time (orders arrive every
 * 3 s on average), so the history reads as one continuous stretch.
 */
static int
bulk_load(app *a, rdb *db)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int k = a->connections_set ? a->connections : (int)(cpus > 0 ?
	    (cpus > 16 ? 16 : cpus) : 1), i, failed = 0;
	long long first_id;
	bulk_chunk *c;
	int64_t t0 = clock_mono_us();
	long per;

	if (k > a->bulk)
		k = (int)a->bulk;
	if (rdb_bulk_reserve(db, a->bulk, &first_id) == -1)
		return -1;
	if ((c = calloc((size_t)k, sizeof(*c))) == NULL)
		fatalx("out of memory");
	per = a->bulk / k;
	for (i = 0; i < k; i++) {
		c[i].a = a;
		c[i].orders = i == k - 1 ? a->bulk - per * (k - 1) : per;
		c[i].first_id = first_id + (long long)per * i;
		c[i].clock_us = a->clock_us + (int64_t)per * i * 3000000;
		c[i].seed = (a->seeded ? a->seed : (uint64_t)clock_now_us()) +
		    (uint64_t)i * 0x9e3779b9ULL;
		if (pthread_create(&c[i].thread, NULL, bulk_chunk_main,
		    &c[i]) != 0)
			fatalx("cannot start bulk thread %d", i);
	}
	for (i = 0; i < k; i++) {
		pthread_join(c[i].thread, NULL);
		failed |= c[i].failed;
	}
	free(c);
	if (failed)
		return -1;
	/* Events go on after the bulk history. */
	a->clock_us += (int64_t)a->bulk * 3000000 + 6 * 3600 * 1000000LL;
	fprintf(stderr, "medallion-retailapp: bulk: %ld orders, %ld history "
	    "rows in %.2f s over %d connection(s)\n", a->bulk, a->bulk * 3,
	    (clock_mono_us() - t0) / 1e6, k);
	return 0;
}

/* The simulated clock starts at the latest time in the database. */
static int
start_clock(app *a)
{
	rdb db = {NULL, a->dsn ? a->dsn : "", 0, &stop_requested};
	int64_t latest;
	int rc = -1;

	if (rdb_connect(&db) == -1)
		return -1;
	if (rdb_latest_time(&db, &latest) == -1)
		goto out;
	if (latest > 0)
		a->clock_us = latest;
	else if (a->seeded)
		a->clock_us = SEEDED_EPOCH_US;
	else
		a->clock_us = clock_now_us() / 60000000 * 60000000;
	rc = 0;
	if (a->bulk > 0)
		rc = bulk_load(a, &db);
out:
	a->reconnects += db.reconnects;
	rdb_close(&db);
	return rc;
}

int
main(int argc, char **argv)
{
	app a = {.events = -1, .connections = 1};
	writer *w;
	struct sigaction sa;
	int i;

	log_init("medallion-retailapp", 0);
	a.mix = sim_default_mix;
	parse_options(&a, argc, argv);
	if (a.check) {
		char err[1024];

		if (rdb_check(a.dsn ? a.dsn : "", err, sizeof(err)) == -1) {
			log_warnx("%s", err);
			return 1;
		}
		return 0;
	}
	if (a.bulk > 0 && a.events < 0)
		a.events = 0;	/* --bulk alone: load and stop */
	a.color = !a.json && isatty(STDOUT_FILENO) && getenv("NO_COLOR") ==
	    NULL;
	pthread_mutex_init(&a.lock, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (start_clock(&a) == -1)
		return 1;
	w = calloc((size_t)a.connections, sizeof(*w));
	if (w == NULL)
		fatalx("out of memory");
	a.started_us = clock_mono_us();
	for (i = 0; i < a.connections; i++) {
		w[i].a = &a;
		w[i].index = i;
		if (pthread_create(&w[i].thread, NULL, writer_main, &w[i]) != 0)
			fatalx("cannot start writer thread %d", i);
	}
	for (i = 0; i < a.connections; i++)
		pthread_join(w[i].thread, NULL);
	if (a.events != 0)
		print_summary(&a, (clock_mono_us() - a.started_us) / 1e6);
	free(w);
	pthread_mutex_destroy(&a.lock);
	return a.failed ? 1 : 0;
}
