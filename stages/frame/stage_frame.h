/*
 * stage_frame.h - the command-line frame every stage shares (ingestion,
 * transformation, serving, maintenance): --lake DIR or MEDALLION_LAKE,
 * -v, --help, --version, at most one option of the stage's own
 * (ingestion's --table), and a run that starts over when another writer
 * won a commit. Exit status: 0 done, 1 failure (or the stage's own
 * status for a kind of failure), 2 usage.
 *
 * A program frame, not lake I/O: it lives beside the stages, and the
 * lake library knows nothing of command lines. Every callback gets the
 * stage's ctx, so what the options chose and how a run ended live in
 * the stage's own struct, not in globals.
 */
#ifndef STAGE_FRAME_H
#define STAGE_FRAME_H

#include <stdio.h>

#include "lake_err.h"

#define STAGE_EXIT_USAGE 2

/* One attempt: DELTA_OK, DELTA_CONFLICT (start over) or DELTA_ERROR. */
typedef int (*stage_frame_run)(void *ctx, const char *lake,
    lake_err *err);

typedef struct stage_frame {
	const char *name;
	void (*usage)(FILE *out);
	stage_frame_run run;
	/* Optional: --option VALUE, repeatable; take_option returns 0, or
	 * the exit status to stop with (after its own message). */
	const char *option;
	int (*take_option)(void *ctx, const char *value);
	/* Optional: the exit status of a failed run, instead of 1. */
	int (*failure_status)(void *ctx);
	void *ctx;		/* handed to every callback */
} stage_frame;

int stage_frame_run_main(int argc, char **argv, const stage_frame *stage);

/* The frame for a stage with no options of its own. */
int stage_frame_main(int argc, char **argv, const char *name,
    void (*usage)(FILE *out), stage_frame_run run, void *ctx);

#endif
