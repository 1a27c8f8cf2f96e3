/*
 * metrics.c - Prometheus text exposition for GET /metrics.
 *
 * Request counts by status code live in memory (atomics, bumped by the
 * HTTP threads). Submissions by state and the submit-to-RUNNING latency
 * histogram are read from the state store at scrape time, so they survive
 * restarts and agree with what status answers; parked long-polls come
 * from longpoll.c. Both store figures are counters that
 * triggers keep up to date in the store (server.sql), so a scrape reads
 * 22 rows whatever the number of submissions; the histogram's buckets
 * are the rows of launch_latency.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

static const int counted_codes[METRICS_NCODES - 1] = {
	200, 400, 403, 404, 405, 413, 429, 468, 500, 503, 0,
};

void
metrics_count(metrics *m, int status)
{
	int i;

	for (i = 0; counted_codes[i] != 0; i++) {
		if (counted_codes[i] == status) {
			atomic_fetch_add(&m->requests[i], 1);
			return;
		}
	}
	atomic_fetch_add(&m->requests[METRICS_NCODES - 1], 1);
}

/* Renders one bucket row as the cumulative Prometheus bucket. */
struct histogram {
	FILE *f;
	long long cumulative;
	int64_t sum_us;
};

static void
bucket_line(int64_t le_us, int64_t n, int64_t sum_us, void *arg)
{
	struct histogram *h = arg;

	h->cumulative += n;
	h->sum_us += sum_us;
	if (le_us == INT64_MAX)
		fprintf(h->f, "medallion_launch_latency_seconds_bucket{le=\"+Inf\"}"
		    " %lld\n", h->cumulative);
	else
		fprintf(h->f, "medallion_launch_latency_seconds_bucket{le=\"%g\"}"
		    " %lld\n", (double)le_us / 1e6, h->cumulative);
}

static void
state_line(const char *state, int64_t n, void *arg)
{
	fprintf(arg, "medallion_submissions{state=\"%s\"} %lld\n", state,
	    (long long)n);
}

char *
metrics_render(server *s, size_t *len)
{
	struct histogram h = {NULL, 0, 0};
	char *buf = NULL;
	FILE *f;
	size_t i;

	if ((f = open_memstream(&buf, len)) == NULL)
		return NULL;
	fprintf(f, "# HELP medallion_submissions Submissions (drivers) by "
	    "driver state.\n# TYPE medallion_submissions gauge\n");
	if (store_count_by_state(s->st, state_line, f) == -1)
		goto err;

	fprintf(f, "# HELP medallion_launch_latency_seconds Time from "
	    "submission to RUNNING.\n"
	    "# TYPE medallion_launch_latency_seconds histogram\n");
	h.f = f;
	if (store_launch_histogram(s->st, bucket_line, &h) == -1)
		goto err;
	fprintf(f, "medallion_launch_latency_seconds_sum %.6f\n"
	    "medallion_launch_latency_seconds_count %lld\n",
	    (double)h.sum_us / 1e6, h.cumulative);

	fprintf(f, "# HELP medallion_http_requests_total HTTP requests "
	    "answered, by status code.\n"
	    "# TYPE medallion_http_requests_total counter\n");
	for (i = 0; counted_codes[i] != 0; i++)
		fprintf(f, "medallion_http_requests_total{code=\"%d\"} %lld\n",
		    counted_codes[i], atomic_load(&s->metrics.requests[i]));
	fprintf(f, "medallion_http_requests_total{code=\"other\"} %lld\n",
	    atomic_load(&s->metrics.requests[METRICS_NCODES - 1]));
	fprintf(f, "# HELP medallion_status_waits_total Status requests parked "
	    "to wait for a state change (?waitMs).\n"
	    "# TYPE medallion_status_waits_total counter\n"
	    "medallion_status_waits_total %lld\n"
	    "# HELP medallion_status_waiting Status requests parked now.\n"
	    "# TYPE medallion_status_waiting gauge\n"
	    "medallion_status_waiting %d\n", longpoll_total(s->lp),
	    longpoll_parked(s->lp));
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
err:
	fclose(f);
	free(buf);
	return NULL;
}
