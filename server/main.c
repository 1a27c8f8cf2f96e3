/*
 * main.c - medallion-server: options, start-up, and the scheduler loop.
 *
 * Start-up: open (or migrate) the SQLite state, bind the listening socket
 * (loopback by default; elsewhere only with auth or --insecure), recover
 * drivers a previous server left behind, start the HTTP threads, write
 * --port-file, then loop: the main thread is the scheduler (driver.c).
 * SIGTERM/SIGINT stop the server; running drivers keep running under
 * their runners and record their own outcomes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "duration.h"
#include "log.h"
#include "medallion_version.h"
#include "proto.h"
#include "server.h"

/* Finished drivers older than this are deleted, with their logs. */
#define RETAIN_DEFAULT_US (30 * 86400 * 1000000LL)
/* Retention looks for expired drivers this often, deleting at most
 * RETAIN_BATCH per step; while it finds full batches it steps again on
 * the next scheduler tick (100 ms), so a backlog drains in the background
 * (~600 drivers a second) and a request never waits for more than one
 * batch: 64 rows keep the 99.9th percentile of status requests at ~6 ms
 * while 80,000 expired drivers drain on a loaded 2-core machine (256: 8
 * ms, four times the drain speed). */
#define RETAIN_EVERY_US (1000000LL)
#define RETAIN_BATCH 64

/* The signal handler's only link to the context: a pipe and a flag. */
static volatile sig_atomic_t *signal_stopping;
static int signal_wake_fd = -1;

static void
usage(FILE *f)
{
	fprintf(f,
"usage: medallion-server [options]\n"
"\n"
"A job server speaking Apache Spark's standalone REST submission protocol\n"
"(/v1/submissions/create|status|kill|killall|clear|readyz). It runs only\n"
"registered stages: executables in --stages-dir. State lives in SQLite.\n"
"\n"
"Listening:\n"
"  --host HOST             address to bind (default 127.0.0.1)\n"
"  --port PORT             TCP port, 0 = any free port (default 6066)\n"
"  --port-file FILE        write the bound port here once listening\n"
"  --max-connections N     concurrent connections (default 256)\n"
"  --idle-timeout SECONDS  close idle connections after this (default 30)\n"
"  --request-timeout SECONDS  close a connection whose request (head and\n"
"                          body) has not arrived whole in this; under\n"
"                          connection pressure, after 0.5 s (default 30)\n"
"  --threads N             HTTP worker threads (default 2)\n"
"  --no-long-poll          answer status at once even with ?waitMs=N, as\n"
"                          Spark does (default: a status with waitMs waits\n"
"                          up to N ms, at most 30000, for a state change)\n"
"Files (defaults under --data-dir, itself $MEDALLION_DATA or ./data):\n"
"  --data-dir DIR          folder for the defaults below\n"
"  --state FILE            SQLite state file (default DATA/server.db)\n"
"  --stages-dir DIR        registered stages (default DATA/stages)\n"
"  --log-dir DIR           drivers' stdout/stderr (default DATA/logs)\n"
"  --lake DIR|s3://BUCKET/PREFIX\n"
"                          lake root, given to stages as MEDALLION_LAKE;\n"
"                          the dashboard (/) and /api/gold read its gold\n"
"                          (S3: AWS_* settings of the server's own\n"
"                          environment; pass them to stages by name with\n"
"                          --stage-env AWS_ACCESS_KEY_ID and so on)\n"
"  --history FILE          the orchestrator's history, shown on /ui\n"
"Drivers:\n"
"  --max-running N         drivers running at once; more wait as\n"
"                          SUBMITTED (default 4)\n"
"  --kill-grace-ms MS      SIGTERM to SIGKILL delay on kill (default 10000)\n"
"  --max-relaunches N      relaunches of a supervised driver (default 5)\n"
"  --relaunch-backoff-ms MS first relaunch delay, doubling (default 1000)\n"
"  --lease-timeout-ms MS   a runner renews its lease about every second; a\n"
"                          driver whose runner has not renewed it in this\n"
"                          long (stopped, hung) ends UNKNOWN (default 10000)\n"
"  --stage-env NAME[=VALUE] add a variable to every stage's environment;\n"
"                          NAME alone passes the server's own value\n"
"                          (repeatable; e.g. --stage-env PGHOST)\n"
"  --stage-env-file FILE   NAME=VALUE lines, as --stage-env\n"
"  --retain DURATION       delete finished drivers (and their log files)\n"
"                          that ended longer ago than this: 90s, 12h, 30d;\n"
"                          0 or forever keeps them (default 30d)\n"
"Security:\n"
"  --jws-secret-file FILE  require 'Authorization: Bearer <JWS>' (HS256,\n"
"                          BASE64URL key of >= 256 bits, as Spark's JWSFilter)\n"
"  --token-file FILE       require 'Authorization: Bearer <token in FILE>'\n"
"  --insecure              allow a non-loopback --host without auth\n"
"  --public-dashboard      serve the read-only dashboard (/dashboard) and\n"
"                          /api/gold without auth: gold's aggregates only,\n"
"                          never the API, /ui or logs\n"
"Other:\n"
"  -v, --verbose           debug logging\n"
"  --version, -h/--help\n"
"\n"
"Exit status: 0 after SIGTERM/SIGINT, 1 on a start-up error, 2 on bad usage.\n");
}

static void
on_signal(int sig)
{
	char c = 1;

	(void)sig;
	if (signal_stopping != NULL)
		*signal_stopping = 1;
	if (signal_wake_fd >= 0)
		(void)!write(signal_wake_fd, &c, 1);
}

static long
parse_long(const char *s, const char *opt, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "medallion-server: %s must be an integer from "
		    "%ld to %ld, not '%s'\n", opt, lo, hi, s);
		exit(2);
	}
	return v;
}

/* --retain: a duration (common/duration.c), or "forever"; 0 keeps
 * drivers forever too. */
static int64_t
parse_retention(const char *s)
{
	char err[256];
	int64_t us;

	if (strcmp(s, "forever") == 0)
		return 0;
	if (duration_parse(s, &us, err, sizeof(err)) == -1) {
		fprintf(stderr, "medallion-server: --retain: %s, or forever\n",
		    err);
		exit(2);
	}
	return us;
}

static int
valid_env_entry(const char *entry)
{
	size_t n = strcspn(entry, "=");
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!((entry[i] >= 'A' && entry[i] <= 'Z') || (entry[i] >= 'a' &&
		    entry[i] <= 'z') || entry[i] == '_' || (i > 0 &&
		    entry[i] >= '0' && entry[i] <= '9')))
			return 0;
	return 1;
}

static void
add_stage_env(server *s, const char *entry)
{
	char *value;

	if (!valid_env_entry(entry))
		fatalx("--stage-env '%s': expected NAME or NAME=VALUE", entry);
	if (strchr(entry, '=') != NULL) {
		value = strdup(entry);
	} else {
		const char *v = getenv(entry);

		if (v == NULL) {
			log_warnx("--stage-env %s: not set in the server's "
			    "environment; ignored", entry);
			return;
		}
		if (asprintf(&value, "%s=%s", entry, v) < 0)
			value = NULL;
	}
	s->stage_env = realloc(s->stage_env, (s->nstage_env + 2) *
	    sizeof(*s->stage_env));
	if (value == NULL || s->stage_env == NULL)
		fatalx("out of memory");
	s->stage_env[s->nstage_env++] = value;
	s->stage_env[s->nstage_env] = NULL;
}

static void
load_stage_env_file(server *s, const char *path)
{
	char line[8192];
	int lineno = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		fatal("cannot open --stage-env-file %s", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (strchr(line, '=') == NULL || !valid_env_entry(line))
			fatalx("%s:%d: expected NAME=VALUE", path, lineno);
		add_stage_env(s, line);
	}
	fclose(f);
}

static char *
join_path(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		fatalx("out of memory");
	return p;
}

static void
make_dir(const char *path)
{
	if (mkdir(path, 0750) == -1 && errno != EEXIST)
		fatal("cannot create folder %s", path);
}

static void
find_runner(server *s)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		fatal("cannot find my own executable in /proc/self/exe");
	self[n] = '\0';
	snprintf(s->runner_path, sizeof(s->runner_path),
	    "%s/medallion-runner", dirname(self));
	if (access(s->runner_path, X_OK) == -1)
		fatal("cannot run the stage runner %s (it is installed next "
		    "to medallion-server)", s->runner_path);
}

static void
parse_args(server *s, int argc, char **argv)
{
	enum { O_HOST = 256, O_PORT, O_PORT_FILE, O_DATA, O_STATE, O_STAGES,
	    O_LOGS, O_LAKE, O_HISTORY, O_MAXRUN, O_GRACE, O_RELAUNCH, O_BACKOFF, O_LEASE, O_MAXCONN,
	    O_IDLE, O_REQUEST_TIMEOUT, O_THREADS, O_ENV, O_ENVFILE, O_JWS,
	    O_TOKEN, O_INSECURE,
	    O_PUBLIC_DASHBOARD, O_NO_LONG_POLL,
	    O_VERSION, O_RETAIN };
	static const struct option opts[] = {
		{"host", required_argument, NULL, O_HOST},
		{"port", required_argument, NULL, O_PORT},
		{"port-file", required_argument, NULL, O_PORT_FILE},
		{"data-dir", required_argument, NULL, O_DATA},
		{"state", required_argument, NULL, O_STATE},
		{"stages-dir", required_argument, NULL, O_STAGES},
		{"log-dir", required_argument, NULL, O_LOGS},
		{"lake", required_argument, NULL, O_LAKE},
		{"history", required_argument, NULL, O_HISTORY},
		{"max-running", required_argument, NULL, O_MAXRUN},
		{"kill-grace-ms", required_argument, NULL, O_GRACE},
		{"max-relaunches", required_argument, NULL, O_RELAUNCH},
		{"relaunch-backoff-ms", required_argument, NULL, O_BACKOFF},
		{"lease-timeout-ms", required_argument, NULL, O_LEASE},
		{"max-connections", required_argument, NULL, O_MAXCONN},
		{"idle-timeout", required_argument, NULL, O_IDLE},
		{"request-timeout", required_argument, NULL, O_REQUEST_TIMEOUT},
		{"threads", required_argument, NULL, O_THREADS},
		{"stage-env", required_argument, NULL, O_ENV},
		{"stage-env-file", required_argument, NULL, O_ENVFILE},
		{"retain", required_argument, NULL, O_RETAIN},
		{"jws-secret-file", required_argument, NULL, O_JWS},
		{"token-file", required_argument, NULL, O_TOKEN},
		{"insecure", no_argument, NULL, O_INSECURE},
		{"public-dashboard", no_argument, NULL, O_PUBLIC_DASHBOARD},
		{"no-long-poll", no_argument, NULL, O_NO_LONG_POLL},
		{"verbose", no_argument, NULL, 'v'},
		{"version", no_argument, NULL, O_VERSION},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *data = getenv("MEDALLION_DATA"), *jws = NULL,
	    *token = NULL;
	char err[512];
	int c, verbose = 0;

	s->host = "127.0.0.1";
	s->port = 6066;
	s->max_running = 4;
	s->grace_ms = 10000;
	s->max_relaunches = 5;
	s->relaunch_backoff_ms = 1000;
	s->lease_timeout_ms = 10000;
	s->max_connections = 256;
	s->idle_timeout_s = 30;
	s->request_timeout_s = 30;
	s->threads = 2;
	s->retain_us = RETAIN_DEFAULT_US;
	if (data == NULL)
		data = "data";
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case O_HOST: s->host = optarg; break;
		case O_PORT: s->port = (int)parse_long(optarg, "--port", 0,
		    65535); break;
		case O_PORT_FILE: s->port_file = optarg; break;
		case O_DATA: data = optarg; break;
		case O_STATE: s->state_path = optarg; break;
		case O_STAGES: s->stages_dir = optarg; break;
		case O_LOGS: s->log_dir = optarg; break;
		case O_LAKE: s->lake_dir = optarg; break;
		case O_HISTORY: s->history_path = optarg; break;
		case O_MAXRUN: s->max_running = (int)parse_long(optarg,
		    "--max-running", 1, 10000); break;
		case O_GRACE: s->grace_ms = parse_long(optarg,
		    "--kill-grace-ms", 0, 3600000); break;
		case O_RELAUNCH: s->max_relaunches = (int)parse_long(optarg,
		    "--max-relaunches", 0, 1000); break;
		case O_BACKOFF: s->relaunch_backoff_ms = parse_long(optarg,
		    "--relaunch-backoff-ms", 0, 3600000); break;
		case O_LEASE: s->lease_timeout_ms = parse_long(optarg,
		    "--lease-timeout-ms", 2000, 3600000); break;
		case O_MAXCONN: s->max_connections = (int)parse_long(optarg,
		    "--max-connections", 1, 100000); break;
		case O_IDLE: s->idle_timeout_s = (int)parse_long(optarg,
		    "--idle-timeout", 1, 86400); break;
		case O_REQUEST_TIMEOUT: s->request_timeout_s =
		    (int)parse_long(optarg, "--request-timeout", 1, 86400);
		    break;
		case O_THREADS: s->threads = (int)parse_long(optarg,
		    "--threads", 1, 64); break;
		case O_ENV: add_stage_env(s, optarg); break;
		case O_ENVFILE: load_stage_env_file(s, optarg); break;
		case O_RETAIN: s->retain_us = parse_retention(optarg); break;
		case O_JWS: jws = optarg; break;
		case O_TOKEN: token = optarg; break;
		case O_INSECURE: s->insecure = 1; break;
		case O_PUBLIC_DASHBOARD: s->public_dashboard = 1; break;
		case O_NO_LONG_POLL: s->no_long_poll = 1; break;
		case 'v': verbose++; break;
		case O_VERSION:
			printf("medallion-server %s (Spark REST protocol v1, "
			    "answering as Spark %s)\n", MEDALLION_VERSION,
			    PROTO_SERVER_SPARK_VERSION);
			exit(0);
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "medallion-server: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		exit(2);
	}
	log_init("medallion-server", verbose);
	if (auth_load(&s->auth, jws, token, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (s->state_path == NULL || s->stages_dir == NULL ||
	    s->log_dir == NULL)
		make_dir(data);
	if (s->state_path == NULL)
		s->state_path = join_path(data, "server.db");
	if (s->stages_dir == NULL)
		s->stages_dir = join_path(data, "stages");
	if (s->log_dir == NULL)
		s->log_dir = join_path(data, "logs");
	make_dir(s->stages_dir);
	make_dir(s->log_dir);
}

static int
is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return 0;
}

/* Binds and listens; returns the socket and sets s->port if it was 0. */
static int
listen_on(server *s)
{
	struct addrinfo hints, *res, *ai;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char port[16];
	int fd = -1, one = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", s->port);
	if ((rc = getaddrinfo(s->host, port, &hints, &res)) != 0)
		fatalx("cannot resolve --host %s: %s", s->host,
		    gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (!is_loopback(ai->ai_addr) && !auth_enabled(&s->auth) &&
		    !s->insecure)
			fatalx("refusing to listen on %s, which is not a "
			    "loopback address, without authentication: give "
			    "--jws-secret-file or --token-file, or --insecure "
			    "if the network is trusted", s->host);
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 512) == 0)
			break;
		rc = errno;
		close(fd);
		fd = -1;
		errno = rc;
	}
	freeaddrinfo(res);
	if (fd == -1)
		fatal("cannot listen on %s port %d", s->host, s->port);
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0)
		s->port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static void
write_port_file(const server *s)
{
	char tmp[4096];
	FILE *f;

	if (s->port_file == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", s->port_file);
	if ((f = fopen(tmp, "w")) == NULL)
		fatal("cannot write --port-file %s", tmp);
	fprintf(f, "%d\n", s->port);
	if (fclose(f) != 0 || rename(tmp, s->port_file) == -1)
		fatal("cannot write --port-file %s", s->port_file);
}

/*
 * One retention step on the scheduler thread: at most RETAIN_BATCH
 * expired drivers and their logs. Returns 1 when the batch was full (more
 * may be waiting), so the next tick steps again without waiting a second.
 */
static int
retain_step(server *s, int backlog)
{
	int64_t now = clock_mono_us();
	int n;

	if (s->retain_us <= 0 || (!backlog && now - s->last_retain_us <
	    RETAIN_EVERY_US))
		return 0;
	s->last_retain_us = now;
	n = api_forget_finished(s, clock_now_us() - s->retain_us,
	    RETAIN_BATCH);
	if (n < 0) {
		log_warnx("retention: cannot delete expired drivers from %s; "
		    "trying again in a second", s->state_path);
		return 0;
	}
	if (n > 0)
		log_debug("retention: deleted %d finished driver(s)", n);
	return n == RETAIN_BATCH;
}

static void
run_scheduler(server *s)
{
	int backlog = 0;

	struct pollfd pfd = {s->wake_fd[0], POLLIN, 0};
	char drain[64];

	while (!s->stopping) {
		if (poll(&pfd, 1, 100) > 0)
			while (read(s->wake_fd[0], drain, sizeof(drain)) > 0)
				;
		if (s->stopping)
			break;
		driver_tick(s);
		backlog = retain_step(s, backlog);
	}
}

int
main(int argc, char **argv)
{
	server s;
	struct sigaction sa;
	http_server *http;
	char err[512];
	int fd;
	size_t i;

	memset(&s, 0, sizeof(s));
	gold_tag_init(&s.gold_tag);
	parse_args(&s, argc, argv);
	find_runner(&s);
	if (pipe2(s.wake_fd, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("pipe");
	signal_stopping = &s.stopping;
	signal_wake_fd = s.wake_fd[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((s.st = store_open(s.state_path, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	/* Before any runner starts: runners inherit its notification end.
	 * Half the connections at most wait parked; the rest stay free. */
	if ((s.lp = longpoll_new(s.st, s.max_connections / 2, err,
	    sizeof(err))) == NULL)
		fatalx("%s", err);
	fd = listen_on(&s);
	driver_recover(&s);
	if ((http = http_start(&s, fd)) == NULL)
		fatalx("cannot start the HTTP server on %s:%d", s.host, s.port);
	write_port_file(&s);
	atomic_store(&s.ready, 1);
	log_info("listening on http://%s:%d (state %s, stages %s, %d "
	    "running at most)", s.host, s.port, s.state_path, s.stages_dir,
	    s.max_running);
	driver_tick(&s);
	run_scheduler(&s);

	log_info("stopping; running drivers continue under their runners");
	atomic_store(&s.ready, 0);
	http_stop(http);
	longpoll_free(s.lp);
	store_close(s.st);
	gold_tag_free(&s.gold_tag);
	auth_free(&s.auth);
	for (i = 0; i < s.nstage_env; i++)
		free(s.stage_env[i]);
	free(s.stage_env);
	close(s.wake_fd[0]);
	close(s.wake_fd[1]);
	return 0;
}
