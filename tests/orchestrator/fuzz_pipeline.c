/*
 * fuzz_pipeline.c - libFuzzer target for the orchestrator's pipeline file
 * parser (orchestrator/pipeline.c, orch_pipeline_parse), durations
 * included (common/duration.c). Checked:
 *  - any text ends in a pipeline or an error message, never a bad read,
 *    a leak (ASan) or an overflow (UBSan);
 *  - a pipeline that loads has stages with names, resources and
 *    non-negative timeouts and backoffs (no wrapped duration), and finds
 *    each of its stages by name.
 * Environment values are not resolved: that reads files the text names.
 * A wrong answer aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_stage(const orch_pipeline *p, const orch_stage *s)
{
	if (s->name == NULL || *s->name == '\0' || s->app_resource == NULL ||
	    s->main_class == NULL || s->app_args == NULL ||
	    s->spark_properties == NULL)
		abort();
	if (s->timeout_us < 0 || s->backoff_us < 0 || s->max_backoff_us < 0 ||
	    s->retries < 0 || s->retries > 100 || s->nenv < 0)
		abort();
	if (orch_pipeline_find(p, s->name) < 0)
		abort();
	for (int k = 0; k < s->nenv; k++)
		if (s->env[k].name == NULL)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	orch_pipeline p;
	char err[512] = "";

	if (orch_pipeline_parse((const char *)data, size, "fuzz.json", &p, err,
	    sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	if (p.nstages < 1 || p.name == NULL)
		abort();
	for (int i = 0; i < p.nstages; i++)
		check_stage(&p, &p.stages[i]);
	orch_pipeline_free(&p);
	return 0;
}
