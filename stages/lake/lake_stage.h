/*
 * lake_stage.h - the command-line frame the lake-only stages share
 * (transformation, serving): --lake DIR or MEDALLION_LAKE, -v, --help,
 * --version, and a run that starts over when another writer won a
 * commit. Exit status: 0 done, 1 failure, 2 usage.
 */
#ifndef LAKE_STAGE_H
#define LAKE_STAGE_H

#include <stdio.h>

#include "lake_err.h"

/* One attempt: DELTA_OK, DELTA_CONFLICT (start over) or DELTA_ERROR. */
typedef int (*lake_stage_run)(const char *lake, lake_err *err);

int lake_stage_main(int argc, char **argv, const char *name,
    void (*usage)(FILE *out), lake_stage_run run);

#endif
