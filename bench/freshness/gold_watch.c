/*
 * gold_watch.c - records each new source watermark /api/gold shows, and
 * when it was first seen, for bench/freshness/run.sh.
 *
 *   gold-watch URL INTERVAL_MS OUT
 *
 * Polls URL (a medallion-server's /api/gold) every INTERVAL_MS on one
 * kept-alive connection, with If-None-Match: gold's last ETag, so an
 * unchanged gold costs the server a 304 and us nothing to parse. Each 200
 * is parsed for source_watermark; when its xid_bound differs from the
 * last one seen, one line goes to OUT:
 *
 *   SEEN_US XID_BOUND SNAPSHOT_AT_US
 *
 * SEEN_US is the wall clock (µs since the epoch, the clock PostgreSQL's
 * commit timestamps use on this machine) when the answer had arrived:
 * the first moment a client of /api/gold could know. A gold without a
 * watermark (null) is skipped. Runs until SIGTERM or SIGINT, then prints
 * what it did (polls, 200s, 304s, failures) on stderr and exits 0; 1 when
 * it cannot start or write OUT. A failed poll (the server restarting) is
 * counted and retried at the next interval, its first message printed.
 *
 * C rather than a script: a poll every few ms in Python costs a few
 * percent of a core on a 2-core machine the pipeline shares with it.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "clock.h"

#define ETAG_MAX 128
#define BODY_MAX (4u << 20)

typedef struct watch {
	CURL *curl;
	FILE *out;
	char etag[ETAG_MAX];	/* the ETag of the last 200, "" before */
	char *body;		/* the answer being received */
	size_t body_len;
	char bound[32];		/* the last xid_bound written */
	long polls, fresh, unchanged, failed;
} watch;

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	watch *w = arg;
	size_t len = size * n;
	char *grown;

	if (w->body_len + len > BODY_MAX)
		return 0;	/* curl fails the transfer: counted as failed */
	if ((grown = realloc(w->body, w->body_len + len + 1)) == NULL)
		return 0;
	memcpy(grown + w->body_len, data, len);
	w->body = grown;
	w->body_len += len;
	w->body[w->body_len] = '\0';
	return len;
}

/* Keeps the ETag header's value (quotes included) for If-None-Match. */
static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	watch *w = arg;
	size_t len = size * n, v;

	if (len > 5 && strncasecmp(data, "ETag:", 5) == 0) {
		for (v = 5; v < len && data[v] == ' '; v++)
			;
		while (len > v && (data[len - 1] == '\r' ||
		    data[len - 1] == '\n' || data[len - 1] == ' '))
			len--;
		if (len - v < sizeof(w->etag)) {
			memcpy(w->etag, data + v, len - v);
			w->etag[len - v] = '\0';
		}
	}
	return size * n;
}

/* "2026-11-29T15:00:00.123456Z" -> µs since the epoch, or -1. */
static int64_t
parse_utc_us(const char *s)
{
	struct tm tm;
	long frac = 0;
	int digits = 0;
	const char *p;

	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
			frac = frac * 10 + (*p - '0');
	for (; digits < 6; digits++)
		frac *= 10;
	return (int64_t)timegm(&tm) * 1000000 + frac;
}

/* Writes a line for a new watermark in w->body; -1 when OUT fails. */
static int
note_answer(watch *w, int64_t seen_us)
{
	json_t *doc, *wm;
	const char *bound, *at;
	int rc = 0;

	if ((doc = json_loadb(w->body, w->body_len, 0, NULL)) == NULL)
		return 0;	/* not gold: nothing to note */
	wm = json_object_get(doc, "source_watermark");
	bound = json_string_value(json_object_get(wm, "xid_bound"));
	at = json_string_value(json_object_get(wm, "snapshot_at"));
	if (bound != NULL && at != NULL && strcmp(bound, w->bound) != 0 &&
	    strlen(bound) < sizeof(w->bound)) {
		snprintf(w->bound, sizeof(w->bound), "%s", bound);
		if (fprintf(w->out, "%" PRId64 " %s %" PRId64 "\n", seen_us,
		    bound, parse_utc_us(at)) < 0 || fflush(w->out) != 0)
			rc = -1;
	}
	json_decref(doc);
	return rc;
}

/* One conditional GET; -1 only when OUT cannot be written. */
static int
poll_once(watch *w)
{
	struct curl_slist *h = NULL;
	char cond[ETAG_MAX + 32], err[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;

	w->body_len = 0;
	if (w->etag[0] != '\0') {
		snprintf(cond, sizeof(cond), "If-None-Match: %s", w->etag);
		h = curl_slist_append(NULL, cond);
	}
	curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(w->curl, CURLOPT_ERRORBUFFER, err);
	rc = curl_easy_perform(w->curl);
	curl_slist_free_all(h);
	w->polls++;
	if (rc == CURLE_OK)
		curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status == 304) {
		w->unchanged++;
		return 0;
	}
	if (status != 200) {
		if (w->failed++ == 0)
			fprintf(stderr, "gold-watch: a poll failed (%s), "
			    "retrying each interval\n", rc != CURLE_OK ?
			    (err[0] ? err : curl_easy_strerror(rc)) :
			    "an answer other than 200 or 304");
		return 0;
	}
	w->fresh++;
	return note_answer(w, clock_now_us());
}

static int
watch_open(watch *w, const char *url, const char *path)
{
	memset(w, 0, sizeof(*w));
	if ((w->out = fopen(path, "w")) == NULL) {
		fprintf(stderr, "gold-watch: cannot open %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	if ((w->curl = curl_easy_init()) == NULL) {
		fprintf(stderr, "gold-watch: cannot start libcurl\n");
		fclose(w->out);
		return -1;
	}
	curl_easy_setopt(w->curl, CURLOPT_URL, url);
	curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(w->curl, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(w->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(w->curl, CURLOPT_HEADERDATA, w);
	curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
	return 0;
}

/* 0, or -1 when OUT could not be written whole. */
static int
watch_close(watch *w)
{
	int rc = fclose(w->out) == 0 ? 0 : -1;

	curl_easy_cleanup(w->curl);
	free(w->body);
	return rc;
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	long interval_ms;
	char *end;
	watch w;
	int rc = 0;

	if (argc != 4 || (interval_ms = strtol(argv[2], &end, 10)) < 1 ||
	    *end != '\0') {
		fprintf(stderr, "usage: gold-watch URL INTERVAL_MS OUT\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "gold-watch: cannot start libcurl\n");
		return 1;
	}
	if (watch_open(&w, argv[1], argv[3]) == -1)
		return 1;
	while (!stop && rc == 0) {
		rc = poll_once(&w);
		clock_sleep_us(interval_ms * 1000);
	}
	if (rc == -1 || watch_close(&w) == -1) {
		fprintf(stderr, "gold-watch: cannot write %s: %s\n", argv[3],
		    strerror(errno));
		return 1;
	}
	fprintf(stderr, "gold-watch: %ld polls, %ld new answers, %ld "
	    "unchanged (304), %ld failed\n", w.polls, w.fresh, w.unchanged,
	    w.failed);
	curl_global_cleanup();
	return 0;
}
