/*
 * pipeline.c - pipeline files and submission requests.
 *
 * The file is validated at load: unknown keys (a "value" someone meant
 * as a secret, a misspelt "retry") are errors that name the key, so a
 * typo never silently changes what runs. Environment values are read when
 * a stage is submitted, from the orchestrator's environment or a file,
 * so secrets stay out of the pipeline file and out of argv.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "medallion_version.h"
#include "pipeline.h"

/* What the default pipeline forwards: the lake and libpq's settings. */
static const char *default_env[] = { "MEDALLION_LAKE", "PGHOST", "PGPORT",
	"PGDATABASE", "PGUSER", "PGPASSFILE", "PGSERVICE", "PGSERVICEFILE",
	"PGSSLMODE", "PGSSLROOTCERT", "PGCONNECT_TIMEOUT", "PGAPPNAME", NULL };
/* maintenance last: it only keeps the tables cheap to read, so a run's
 * gold is published before it starts. */
static const char *default_stages[] = { "ingestion", "transformation",
	"serving", "maintenance", NULL };

int
orch_parse_duration(const char *s, int64_t *us)
{
	return duration_parse(s, us, NULL, 0);
}

static void
stage_defaults(orch_stage *s)
{
	s->timeout_us = 3600000000LL;
	s->retries = 2;
	s->backoff_us = 2000000;
	s->max_backoff_us = 60000000;
}

static int
set_default_env(orch_stage *s)
{
	int n = 0;

	while (default_env[n] != NULL)
		n++;
	if ((s->env = calloc((size_t)n, sizeof(*s->env))) == NULL)
		return -1;
	for (int i = 0; i < n; i++)
		if ((s->env[i].name = strdup(default_env[i])) == NULL)
			return -1;
	s->nenv = n;
	return 0;
}

int
orch_stage_default(orch_stage *s, const char *name)
{
	memset(s, 0, sizeof(*s));
	stage_defaults(s);
	s->name = strdup(name);
	s->app_resource = strdup(name);
	s->main_class = strdup("medallion");
	s->app_args = json_array();
	s->spark_properties = json_pack("{s:s}", "spark.app.name", name);
	if (s->name == NULL || s->app_resource == NULL ||
	    s->main_class == NULL || s->app_args == NULL ||
	    s->spark_properties == NULL || set_default_env(s) == -1)
		return -1;
	return 0;
}

static int
load_default(orch_pipeline *p)
{
	int n = 0;

	while (default_stages[n] != NULL)
		n++;
	p->name = strdup("medallion");
	p->stages = calloc((size_t)n, sizeof(*p->stages));
	if (p->name == NULL || p->stages == NULL)
		return -1;
	for (int i = 0; i < n; i++) {
		p->nstages++;
		if (orch_stage_default(&p->stages[i], default_stages[i]) == -1)
			return -1;
	}
	return 0;
}

static int
check_keys(json_t *obj, const char *const *allowed, const char *where,
    char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		int ok = 0;

		for (int i = 0; allowed[i] != NULL; i++)
			ok |= strcmp(key, allowed[i]) == 0;
		if (!ok) {
			snprintf(err, errlen, "%s: unknown key \"%s\"%s", where,
			    key, strcmp(key, "value") == 0 ? " (values come "
			    "from the environment or a \"file\", never the "
			    "pipeline file)" : "");
			return -1;
		}
	}
	(void)v;
	return 0;
}

static int
duration_field(json_t *st, const char *key, int64_t *out, const char *where,
    char *err, size_t errlen)
{
	json_t *v = json_object_get(st, key);
	char why[128];

	if (v == NULL)
		return 0;
	if (!json_is_string(v)) {
		snprintf(err, errlen, "%s: %s must be a duration such as \"30s\""
		    ", \"5m\" or \"1h\"", where, key);
		return -1;
	}
	if (duration_parse(json_string_value(v), out, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: %s: %s", where, key, why);
		return -1;
	}
	return 0;
}

static int
load_env(json_t *arr, orch_stage *s, const char *where, char *err,
    size_t errlen)
{
	static const char *env_keys[] = { "name", "fromEnv", "file", NULL };
	size_t i;
	json_t *e;

	if (!json_is_array(arr)) {
		snprintf(err, errlen, "%s: environment must be an array", where);
		return -1;
	}
	s->env = calloc(json_array_size(arr) + 1, sizeof(*s->env));
	if (s->env == NULL)
		goto nomem;
	json_array_foreach(arr, i, e) {
		orch_env *v = &s->env[s->nenv];
		const char *name = json_is_string(e) ? json_string_value(e) :
		    json_string_value(json_object_get(e, "name"));

		if (name == NULL || *name == '\0') {
			snprintf(err, errlen, "%s: environment entry %zu needs "
			    "a name", where, i);
			return -1;
		}
		if (json_is_object(e) && check_keys(e, env_keys, where, err,
		    errlen) == -1)
			return -1;
		if ((v->name = strdup(name)) == NULL)
			goto nomem;
		s->nenv++;
		if (json_is_object(e)) {
			const char *fe = json_string_value(json_object_get(e,
			    "fromEnv"));
			const char *f = json_string_value(json_object_get(e,
			    "file"));

			if ((fe && (v->from_env = strdup(fe)) == NULL) ||
			    (f && (v->file = strdup(f)) == NULL))
				goto nomem;
		}
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int
load_stage(json_t *st, orch_stage *s, int index, char *err, size_t errlen)
{
	static const char *keys[] = { "name", "appResource", "mainClass",
		"appArgs", "sparkProperties", "environment", "timeout",
		"retries", "backoff", "maxBackoff", NULL };
	const char *name = json_string_value(json_object_get(st, "name"));
	json_t *v;
	char where[128];

	stage_defaults(s);
	snprintf(where, sizeof(where), "stage %d", index + 1);
	if (!json_is_object(st) || name == NULL || *name == '\0') {
		snprintf(err, errlen, "%s: needs a \"name\"", where);
		return -1;
	}
	snprintf(where, sizeof(where), "stage %d (%s)", index + 1, name);
	if (check_keys(st, keys, where, err, errlen) == -1)
		return -1;
	s->name = strdup(name);
	v = json_object_get(st, "appResource");
	s->app_resource = strdup(json_is_string(v) ? json_string_value(v) :
	    name);
	v = json_object_get(st, "mainClass");
	s->main_class = strdup(json_is_string(v) ? json_string_value(v) :
	    "medallion");
	v = json_object_get(st, "appArgs");
	if (v != NULL) {
		size_t i;
		json_t *a;

		if (!json_is_array(v))
			goto bad_args;
		json_array_foreach(v, i, a)
			if (!json_is_string(a))
				goto bad_args;
	}
	s->app_args = v ? json_incref(v) : json_array();
	v = json_object_get(st, "sparkProperties");
	if (v != NULL) {
		const char *k;
		json_t *a;

		if (!json_is_object(v))
			goto bad_props;
		json_object_foreach(v, k, a)
			if (!json_is_string(a))
				goto bad_props;
	}
	s->spark_properties = v ? json_deep_copy(v) : json_object();
	if (json_object_get(s->spark_properties, "spark.app.name") == NULL)
		json_object_set_new(s->spark_properties, "spark.app.name",
		    json_string(name));
	if ((v = json_object_get(st, "environment")) != NULL) {
		if (load_env(v, s, where, err, errlen) == -1)
			return -1;
	} else if (set_default_env(s) == -1)
		goto nomem;
	if ((v = json_object_get(st, "retries")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 100) {
			snprintf(err, errlen, "%s: retries must be an integer "
			    "from 0 to 100", where);
			return -1;
		}
		s->retries = (int)json_integer_value(v);
	}
	if (duration_field(st, "timeout", &s->timeout_us, where, err,
	    errlen) == -1 || duration_field(st, "backoff", &s->backoff_us,
	    where, err, errlen) == -1 || duration_field(st, "maxBackoff",
	    &s->max_backoff_us, where, err, errlen) == -1)
		return -1;
	if (s->name == NULL || s->app_resource == NULL ||
	    s->main_class == NULL || s->spark_properties == NULL)
		goto nomem;
	return 0;
bad_args:
	snprintf(err, errlen, "%s: appArgs must be an array of strings", where);
	return -1;
bad_props:
	snprintf(err, errlen, "%s: sparkProperties must map names to strings",
	    where);
	return -1;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* Fills p from a parsed pipeline file; where names it in messages. */
static int
pipeline_from_json(json_t *root, const char *where, orch_pipeline *p,
    char *err, size_t errlen)
{
	static const char *keys[] = { "name", "stages", NULL };
	json_t *stages = json_object_get(root, "stages"), *st;
	size_t i;

	if (!json_is_object(root)) {
		snprintf(err, errlen, "%s: a pipeline file is a JSON object",
		    where);
		return -1;
	}
	if (check_keys(root, keys, where, err, errlen) == -1)
		return -1;
	if (!json_is_array(stages) || json_array_size(stages) == 0) {
		snprintf(err, errlen, "%s: \"stages\" must be a non-empty array",
		    where);
		return -1;
	}
	p->name = strdup(json_string_value(json_object_get(root, "name")) ?:
	    "pipeline");
	p->stages = calloc(json_array_size(stages), sizeof(*p->stages));
	if (p->name == NULL || p->stages == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	json_array_foreach(stages, i, st) {
		p->nstages++;
		if (load_stage(st, &p->stages[i], (int)i, err, errlen) == -1) {
			char inner[512];

			snprintf(inner, sizeof(inner), "%s", err);
			snprintf(err, errlen, "%s: %s", where, inner);
			return -1;
		}
	}
	return 0;
}

int
orch_pipeline_parse(const char *text, size_t len, const char *where,
    orch_pipeline *p, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root;
	int rc;

	memset(p, 0, sizeof(*p));
	if ((root = json_loadb(text, len, 0, &jerr)) == NULL) {
		snprintf(err, errlen, "%s:%d: %s", where, jerr.line, jerr.text);
		return -1;
	}
	rc = pipeline_from_json(root, where, p, err, errlen);
	json_decref(root);
	if (rc == -1)
		orch_pipeline_free(p);
	return rc;
}

int
orch_pipeline_load(const char *path, orch_pipeline *p, char *err,
    size_t errlen)
{
	json_error_t jerr;
	json_t *root;
	int rc;

	memset(p, 0, sizeof(*p));
	if (path == NULL) {
		if (load_default(p) == -1) {
			snprintf(err, errlen, "out of memory");
			orch_pipeline_free(p);
			return -1;
		}
		return 0;
	}
	if ((root = json_load_file(path, 0, &jerr)) == NULL) {
		snprintf(err, errlen, "%s:%d: %s", path, jerr.line, jerr.text);
		return -1;
	}
	rc = pipeline_from_json(root, path, p, err, errlen);
	json_decref(root);
	if (rc == -1)
		orch_pipeline_free(p);
	return rc;
}

void
orch_stage_free(orch_stage *s)
{
	free(s->name);
	free(s->app_resource);
	free(s->main_class);
	json_decref(s->app_args);
	json_decref(s->spark_properties);
	for (int k = 0; k < s->nenv; k++) {
		free(s->env[k].name);
		free(s->env[k].from_env);
		free(s->env[k].file);
	}
	free(s->env);
	memset(s, 0, sizeof(*s));
}

void
orch_pipeline_free(orch_pipeline *p)
{
	for (int i = 0; p->stages != NULL && i < p->nstages; i++)
		orch_stage_free(&p->stages[i]);
	free(p->stages);
	free(p->name);
	memset(p, 0, sizeof(*p));
}

int
orch_pipeline_find(const orch_pipeline *p, const char *stage)
{
	for (int i = 0; i < p->nstages; i++)
		if (strcmp(p->stages[i].name, stage) == 0)
			return i;
	return -1;
}

int
orch_read_first_line(const char *path, char *out, size_t len, char *err,
    size_t errlen)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (f == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fgets(out, (int)len, f) == NULL)
		out[0] = '\0';
	fclose(f);
	n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	return 0;
}

json_t *
orch_stage_request(const orch_stage *s, char *err, size_t errlen)
{
	json_t *env = json_object(), *req;
	char value[4096];

	for (int i = 0; i < s->nenv; i++) {
		const orch_env *e = &s->env[i];

		if (e->file != NULL) {
			if (orch_read_first_line(e->file, value, sizeof(value), err,
			    errlen) == -1) {
				json_decref(env);
				return NULL;
			}
			json_object_set_new(env, e->name, json_string(value));
		} else {
			const char *v = getenv(e->from_env ? e->from_env :
			    e->name);

			if (v != NULL)
				json_object_set_new(env, e->name,
				    json_string(v));
		}
	}
	req = json_pack("{s:s, s:s, s:s, s:s, s:O, s:O, s:o}",
	    "action", "CreateSubmissionRequest",
	    "clientSparkVersion", "3.5.0",
	    "appResource", s->app_resource,
	    "mainClass", s->main_class,
	    "appArgs", s->app_args,
	    "sparkProperties", s->spark_properties,
	    "environmentVariables", env);
	if (req == NULL)
		snprintf(err, errlen, "out of memory");
	return req;
}
