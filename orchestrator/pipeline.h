/*
 * pipeline.h - what the orchestrator runs: stages in order, each with its
 * submission fields, environment, timeout and retry policy. Loaded from a
 * JSON pipeline file (schemas/json/pipeline.schema.json) or the built-in
 * default: ingestion -> transformation -> serving.
 */
#ifndef ORCH_PIPELINE_H
#define ORCH_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef struct orch_env {
	char *name;
	char *from_env;		/* variable to read, or NULL */
	char *file;		/* file to read, or NULL */
} orch_env;

typedef struct orch_stage {
	char *name;
	char *app_resource;
	char *main_class;
	json_t *app_args;		/* array of strings */
	json_t *spark_properties;	/* object of strings */
	orch_env *env;
	int nenv;
	int64_t timeout_us;
	int retries;
	int64_t backoff_us;
	int64_t max_backoff_us;
} orch_stage;

typedef struct orch_pipeline {
	char *name;
	orch_stage *stages;
	int nstages;
} orch_pipeline;

/* Loads path, or the default when path is NULL. */
int orch_pipeline_load(const char *path, orch_pipeline *p, char *err,
    size_t errlen);
/* Parses a pipeline file's text held in memory; where names it in
 * messages (tests and the fuzz target use it). */
int orch_pipeline_parse(const char *text, size_t len, const char *where,
    orch_pipeline *p, char *err, size_t errlen);
void orch_pipeline_free(orch_pipeline *p);
int orch_pipeline_find(const orch_pipeline *p, const char *stage);
/* A stage with the default settings (for `submit` of any stage). */
int orch_stage_default(orch_stage *s, const char *name);
void orch_stage_free(orch_stage *s);

/* Builds the CreateSubmissionRequest for a stage (a new reference). */
json_t *orch_stage_request(const orch_stage *s, char *err, size_t errlen);

/* The first line of a file, without its line ending (secrets, values). */
int orch_read_first_line(const char *path, char *out, size_t len, char *err,
    size_t errlen);

/* "90s", "5m", "250ms", "2h", "1d" (a bare number is seconds); -1 for
 * text that is not one or that overflows (common/duration.h). */
int orch_parse_duration(const char *s, int64_t *us);

#endif
