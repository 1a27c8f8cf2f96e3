/*
 * metrics.c - Prometheus text exposition for GET /metrics.
 *
 * Request counts by status code live in memory (atomics, bumped by the
 * HTTP threads). Submissions by state and the submit-to-RUNNING latency
 * histogram are read from the state store at scrape time, so they survive
 * restarts and agree with what status answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

static const int counted_codes[METRICS_NCODES - 1] = {
	200, 400, 403, 404, 405, 413, 429, 468, 500, 503, 0,
};

static const double latency_buckets[] = {
	0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
#define NBUCKETS (sizeof(latency_buckets) / sizeof(latency_buckets[0]))

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

struct histogram {
	long long counts[NBUCKETS];
	long long total;
	double sum;
};

static void
observe(int64_t us, void *arg)
{
	struct histogram *h = arg;
	double secs = (double)us / 1e6;
	size_t i;

	for (i = 0; i < NBUCKETS; i++)
		if (secs <= latency_buckets[i])
			h->counts[i]++;
	h->total++;
	h->sum += secs;
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
	struct histogram h;
	char *buf = NULL;
	FILE *f;
	size_t i;

	memset(&h, 0, sizeof(h));
	if ((f = open_memstream(&buf, len)) == NULL)
		return NULL;
	fprintf(f, "# HELP medallion_submissions Submissions (drivers) by "
	    "driver state.\n# TYPE medallion_submissions gauge\n");
	store_count_by_state(s->st, state_line, f);

	store_launch_latencies(s->st, observe, &h);
	fprintf(f, "# HELP medallion_launch_latency_seconds Time from "
	    "submission to RUNNING.\n"
	    "# TYPE medallion_launch_latency_seconds histogram\n");
	for (i = 0; i < NBUCKETS; i++)
		fprintf(f, "medallion_launch_latency_seconds_bucket{le=\"%g\"} "
		    "%lld\n", latency_buckets[i], h.counts[i]);
	fprintf(f, "medallion_launch_latency_seconds_bucket{le=\"+Inf\"} "
	    "%lld\nmedallion_launch_latency_seconds_sum %.6f\n"
	    "medallion_launch_latency_seconds_count %lld\n", h.total, h.sum,
	    h.total);

	fprintf(f, "# HELP medallion_http_requests_total HTTP requests "
	    "answered, by status code.\n"
	    "# TYPE medallion_http_requests_total counter\n");
	for (i = 0; counted_codes[i] != 0; i++)
		fprintf(f, "medallion_http_requests_total{code=\"%d\"} %lld\n",
		    counted_codes[i], atomic_load(&s->metrics.requests[i]));
	fprintf(f, "medallion_http_requests_total{code=\"other\"} %lld\n",
	    atomic_load(&s->metrics.requests[METRICS_NCODES - 1]));
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
