/*
 * stage_frame.c - option parsing and the conflict retry loop of a stage;
 * a run that succeeds ends with its time, CPU time (user + system, threads
 * included) and peak memory in the log, which bench/freshness/run.sh reads
 * back per stage.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "clock.h"
#include "delta.h"
#include "lake_store.h"
#include "log.h"
#include "stage_frame.h"
#include "medallion_version.h"

#define MAX_ATTEMPTS 5

int
stage_frame_run_main(int argc, char **argv, const stage_frame *stage)
{
	struct option longopts[] = {
		{ "lake", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ stage->option, required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *lake = getenv("MEDALLION_LAKE");
	char root[LAKE_ROOT_MAX + 1];
	int64_t t0 = clock_mono_us();
	int verbose = 0, ch, status, rc = DELTA_ERROR;
	struct rusage ru;
	lake_err err;

	if (stage->option == NULL)
		longopts[3].name = NULL;	/* ends the table there */
	while ((ch = getopt_long(argc, argv, "hvV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			lake = optarg;
			break;
		case 'o':
			if ((status = stage->take_option(stage->ctx, optarg)) != 0)
				return status;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			stage->usage(stdout);
			return 0;
		case 'V':
			printf("%s (medallion) %s\n", stage->name,
			    MEDALLION_VERSION);
			return 0;
		default:
			stage->usage(stderr);
			return STAGE_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		stage->usage(stderr);
		return STAGE_EXIT_USAGE;
	}
	log_init(stage->name, verbose);
	if (lake == NULL || *lake == '\0') {
		log_warnx("no lake: set MEDALLION_LAKE or pass --lake DIR");
		return STAGE_EXIT_USAGE;
	}
	if (strlen(lake) > LAKE_ROOT_MAX) {
		log_warnx("the lake path is %zu bytes, longer than the %d "
		    "accepted: use a shorter path (a symbolic link to it will "
		    "do)", strlen(lake), LAKE_ROOT_MAX);
		return STAGE_EXIT_USAGE;
	}
	if (lake_store_root(lake, root, sizeof(root), &err) != 0) {
		log_warnx("%s", err.msg);	/* a bad URI, no credentials */
		return 1;
	}
	lake = root;
	for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
		err.msg[0] = '\0';
		rc = stage->run(stage->ctx, lake, &err);
		if (rc != DELTA_CONFLICT)
			break;
		log_warnx("%s; starting over (attempt %d of %d)", err.msg,
		    attempt + 1, MAX_ATTEMPTS);
	}
	if (rc != DELTA_OK) {
		log_warnx("%s", err.msg);
		return stage->failure_status != NULL ?
		    stage->failure_status(stage->ctx) : 1;
	}
	getrusage(RUSAGE_SELF, &ru);
	if (lake_store_is_remote(lake)) {
		lake_store_stats st;

		lake_store_stats_get(&st);
		log_info("S3: %" PRIu64 " requests (%" PRIu64 " retried), %"
		    PRIu64 " bytes up, %" PRIu64 " down", st.requests,
		    st.retries, st.bytes_up, st.bytes_down);
	}
	log_info("done in %.3f s, CPU %.1f ms, peak RSS %ld MiB",
	    (clock_mono_us() - t0) / 1e6, (ru.ru_utime.tv_sec +
	    ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec +
	    ru.ru_stime.tv_usec) / 1e3, ru.ru_maxrss / 1024);
	return 0;
}

int
stage_frame_main(int argc, char **argv, const char *name,
    void (*usage)(FILE *out), stage_frame_run run, void *ctx)
{
	const stage_frame stage = { name, usage, run, NULL, NULL, NULL, ctx };

	return stage_frame_run_main(argc, argv, &stage);
}
