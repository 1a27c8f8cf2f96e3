/*
 * lake_stage.h - the command-line frame every stage shares (ingestion,
 * transformation, serving): --lake DIR or MEDALLION_LAKE, -v, --help,
 * --version, at most one option of the stage's own (ingestion's
 * --table), and a run that starts over when another writer won a
 * commit. Exit status: 0 done, 1 failure (or the stage's own status for
 * a kind of failure), 2 usage.
 */
#ifndef LAKE_STAGE_H
#define LAKE_STAGE_H

#include <stdio.h>

#include "lake_err.h"

#define LAKE_STAGE_EXIT_USAGE 2

/* One attempt: DELTA_OK, DELTA_CONFLICT (start over) or DELTA_ERROR. */
typedef int (*lake_stage_run)(const char *lake, lake_err *err);

typedef struct lake_stage {
	const char *name;
	void (*usage)(FILE *out);
	lake_stage_run run;
	/* Optional: --option VALUE, repeatable; take_option returns 0, or
	 * the exit status to stop with (after its own message). */
	const char *option;
	int (*take_option)(const char *value);
	/* Optional: the exit status of a failed run, instead of 1. */
	int (*failure_status)(void);
} lake_stage;

int lake_stage_run_main(int argc, char **argv, const lake_stage *stage);

/* The frame for a stage with no options of its own. */
int lake_stage_main(int argc, char **argv, const char *name,
    void (*usage)(FILE *out), lake_stage_run run);

#endif
