/*
 * launch_latency.c - measures how long it takes from a request to start a
 * program until that program runs, through medallion-server (POST
 * /v1/submissions/create) and through a bare posix_spawn, and prints
 * p50/p99 of each and their ratios.
 *
 *   launch-latency URL STAMP-PROGRAM STAGE-NAME ITERATIONS TMPDIR STATE-DB
 *
 * The launched program is `stamp`, which writes its start time to a file.
 * Two figures for the server: until the driver is RUNNING (the time the
 * runner recorded in the state file, what a status poll reports), and
 * until the stage program itself runs (its stamp). The time origin is
 * just before the request. Between iterations the previous launch is
 * waited for, so runs do not overlap.
 */
#include <curl/curl.h>
#include <sqlite3.h>
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Waits (up to 30 s) for the stamp file and returns its number, or -1. */
static long long
read_stamp(const char *path)
{
	long long v = -1;
	int i;

	for (i = 0; i < 300000; i++) {
		FILE *f = fopen(path, "r");

		if (f != NULL) {
			if (fscanf(f, "%lld", &v) != 1)
				v = -1;
			fclose(f);
			unlink(path);
			return v;
		}
		usleep(100);
	}
	fprintf(stderr, "launch-latency: %s never appeared\n", path);
	return -1;
}

struct reply {
	char text[4096];
	size_t len;
};

static size_t
keep(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;

	if (len > sizeof(r->text) - 1 - r->len)
		len = sizeof(r->text) - 1 - r->len;
	memcpy(r->text + r->len, p, len);
	r->len += len;
	r->text[r->len] = '\0';
	return size * n;
}

/* Copies the submissionId of a create reply into id, or returns -1. */
static int
submission_id(const char *reply, char *id, size_t len)
{
	const char *p = strstr(reply, "\"submissionId\"");
	size_t n;

	if (p == NULL || (p = strchr(p + 14, '"')) == NULL)
		return -1;
	n = strcspn(++p, "\"");
	if (n == 0 || n >= len)
		return -1;
	memcpy(id, p, n);
	id[n] = '\0';
	return 0;
}

static long long
via_server(CURL *c, const char *url, const char *stage, const char *stamp,
    long long *t0_out, char *id, size_t idlen)
{
	char body[8192], create[1024];
	struct reply reply = {.len = 0};
	long long t0;
	struct curl_slist *h = curl_slist_append(NULL,
	    "Content-Type: application/json");

	snprintf(create, sizeof(create), "%s/v1/submissions/create", url);
	snprintf(body, sizeof(body), "{\"action\":\"CreateSubmissionRequest\","
	    "\"clientSparkVersion\":\"4.0.0\",\"appResource\":\"%s\","
	    "\"mainClass\":\"stamp\",\"appArgs\":[\"%s\"],"
	    "\"sparkProperties\":{}}", stage, stamp);
	curl_easy_setopt(c, CURLOPT_URL, create);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
	*t0_out = t0 = now_ns();
	if (curl_easy_perform(c) != CURLE_OK) {
		fprintf(stderr, "launch-latency: POST %s failed\n", create);
		curl_slist_free_all(h);
		return -1;
	}
	curl_slist_free_all(h);
	if (submission_id(reply.text, id, idlen) == -1) {
		fprintf(stderr, "launch-latency: create refused: %s\n",
		    reply.text);
		return -1;
	}
	return read_stamp(stamp) - t0;
}

static long long
via_spawn(const char *program, const char *stamp)
{
	char *argv[] = {(char *)program, (char *)stamp, NULL};
	long long t0 = now_ns(), t;
	pid_t pid;
	int st, rc;

	rc = posix_spawn(&pid, program, NULL, NULL, argv, environ);
	if (rc != 0) {
		fprintf(stderr, "launch-latency: posix_spawn %s: %s\n", program,
		    strerror(rc));
		return -1;
	}
	t = read_stamp(stamp);
	waitpid(pid, &st, 0);
	return t < 0 ? -1 : t - t0;
}

/* RUNNING latency: started_us recorded by the runner minus t0. */
static int
running_latency(const char *db_path, char ids[][64], const long long *t0,
    long long *out, int n)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int i;

	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK || sqlite3_prepare_v2(db, "SELECT started_us FROM "
	    "drivers WHERE id = ?", -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "launch-latency: %s: %s\n", db_path,
		    sqlite3_errmsg(db));
		return -1;
	}
	for (i = 0; i < n; i++) {
		sqlite3_bind_text(s, 1, ids[i], -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_ROW) {
			fprintf(stderr, "launch-latency: %s not in %s\n", ids[i],
			    db_path);
			return -1;
		}
		out[i] = sqlite3_column_int64(s, 0) * 1000 - t0[i];
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return 0;
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static long long
pct(long long *v, int n, int p)
{
	int i = (n * p + 99) / 100 - 1;

	return v[i < 0 ? 0 : i];
}

int
main(int argc, char **argv)
{
	long long *srv, *spw, *run, *t0;
	char stamp[4096], (*ids)[64];
	int n, i;
	CURL *c;

	if (argc != 7 || (n = atoi(argv[4])) <= 0) {
		fprintf(stderr, "usage: launch-latency URL STAMP-PROGRAM "
		    "STAGE-NAME ITERATIONS TMPDIR STATE-DB\n");
		return 2;
	}
	snprintf(stamp, sizeof(stamp), "%s/stamp", argv[5]);
	srv = calloc(n, sizeof(*srv));
	spw = calloc(n, sizeof(*spw));
	run = calloc(n, sizeof(*run));
	t0 = calloc(n, sizeof(*t0));
	ids = calloc(n, sizeof(*ids));
	c = curl_easy_init();
	if (srv == NULL || spw == NULL || run == NULL || t0 == NULL ||
	    ids == NULL || c == NULL)
		return 1;
	for (i = 0; i < n; i++) {
		/* Alternate, so both see the same machine conditions. */
		if ((spw[i] = via_spawn(argv[2], stamp)) < 0 ||
		    (srv[i] = via_server(c, argv[1], argv[3], stamp, &t0[i],
		    ids[i], sizeof(ids[i]))) < 0)
			return 1;
		usleep(20000);	/* let the runner record FINISHED */
	}
	if (running_latency(argv[6], ids, t0, run, n) == -1)
		return 1;
	qsort(srv, n, sizeof(*srv), cmp_ll);
	qsort(spw, n, sizeof(*spw), cmp_ll);
	qsort(run, n, sizeof(*run), cmp_ll);
	printf("launch latency over %d launches (microseconds):\n", n);
	printf("  %-34s p50 %8.0f  p99 %8.0f\n", "posix_spawn -> program runs",
	    pct(spw, n, 50) / 1e3, pct(spw, n, 99) / 1e3);
	printf("  %-34s p50 %8.0f  p99 %8.0f   ratio p50 %.2fx p99 %.2fx "
	    "(target <= 3x)\n", "create -> driver RUNNING",
	    pct(run, n, 50) / 1e3, pct(run, n, 99) / 1e3,
	    (double)pct(run, n, 50) / pct(spw, n, 50),
	    (double)pct(run, n, 99) / pct(spw, n, 99));
	printf("  %-34s p50 %8.0f  p99 %8.0f   ratio p50 %.2fx p99 %.2fx\n",
	    "create -> stage program runs",
	    pct(srv, n, 50) / 1e3, pct(srv, n, 99) / 1e3,
	    (double)pct(srv, n, 50) / pct(spw, n, 50),
	    (double)pct(srv, n, 99) / pct(spw, n, 99));
	curl_easy_cleanup(c);
	free(srv);
	free(spw);
	free(run);
	free(t0);
	free(ids);
	return 0;
}
