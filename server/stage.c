/*
 * stage.c - resolving submissions to registered stages; environment policy.
 *
 * A stage name is [A-Za-z0-9_.-]+ not starting with '.', so a name can
 * never climb out of --stages-dir. Registration is simply "an executable
 * regular file (or a symlink to one) in that folder", checked at each
 * request, so stages can be added without a restart.
 */
#include "stage.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPARK_SUBMIT_CLASS "org.apache.spark.deploy.SparkSubmit"

/* Names (or prefixes, with a trailing '*') a request may not set. */
static const char *const refused_env[] = {
	"LD_*", "PATH", "IFS", "ENV", "BASH_ENV", "BASH_FUNC_*", "SHELLOPTS",
	"BASHOPTS", "PS4", "GCONV_PATH", "GETCONF_DIR", "HOSTALIASES",
	"LOCALDOMAIN", "LOCPATH", "MALLOC_*", "NLSPATH", "RESOLV_*",
	"RES_OPTIONS", "TMPDIR", "TZDIR", "GLIBC_TUNABLES", "LIBC_*",
	"PYTHON*", "PERL5*", "PERLLIB", "PERLIO*", "RUBY*", "NODE_*",
	"JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH",
	"ASAN_*", "UBSAN_*", "LSAN_*", "MSAN_*", "TSAN_*",
	"MEDALLION_SUBMISSION_ID", "MEDALLION_RUNNER_TOKEN", NULL,
};

static int
valid_stage_name(const char *name)
{
	const char *p;

	if (name[0] == '\0' || name[0] == '.' || strlen(name) > 100)
		return 0;
	for (p = name; *p != '\0'; p++) {
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && *p != '_' && *p != '-' &&
		    *p != '.')
			return 0;
	}
	return 1;
}

void
stage_name_from_resource(const char *resource, char *name, size_t len)
{
	const char *base, *end, *dot;
	size_t n;

	/* Ignore a query or fragment of a URI, then take the last segment. */
	end = resource + strcspn(resource, "?#");
	base = end;
	while (base > resource && base[-1] != '/' && base[-1] != ':')
		base--;
	dot = NULL;
	for (const char *p = base; p < end; p++)
		if (*p == '.' && p != base)
			dot = p;
	if (dot != NULL)
		end = dot;
	n = (size_t)(end - base);
	if (n >= len)
		n = len - 1;
	memcpy(name, base, n);
	name[n] = '\0';
}

int
stage_is_registered(const char *dir, const char *name)
{
	char path[4096];
	struct stat sb;

	if (!valid_stage_name(name))
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		return 0;
	if (stat(path, &sb) == -1 || !S_ISREG(sb.st_mode))
		return 0;
	return access(path, X_OK) == 0;
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Comma-separated registered stage names, sorted ("" when none). */
static void
stage_list(const char *dir, char *buf, size_t len)
{
	char *names[256];
	struct dirent *e;
	size_t n = 0, i, used = 0;
	DIR *d;

	buf[0] = '\0';
	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL && n < 256) {
		if (stage_is_registered(dir, e->d_name) &&
		    (names[n] = strdup(e->d_name)) != NULL)
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), compare_names);
	for (i = 0; i < n; i++) {
		int w = snprintf(buf + used, len - used, "%s%s",
		    i ? ", " : "", names[i]);
		if (w > 0 && (size_t)w < len - used)
			used += (size_t)w;
		free(names[i]);
	}
}

static json_t *
args_from(json_t *app_args, size_t first)
{
	json_t *argv = json_array(), *item;
	size_t i;

	if (argv == NULL)
		return NULL;
	json_array_foreach(app_args, i, item) {
		if (i >= first)
			json_array_append(argv, item);
	}
	return argv;
}

int
stage_resolve(const char *dir, const proto_create *req, char *name,
    size_t namelen, json_t **argv, char *msg, size_t msglen)
{
	json_t *empty = json_array(), *args;
	const char *app_name, *first;
	char registered[1024];
	size_t skip = 0;

	args = req->app_args != NULL ? req->app_args : empty;
	*argv = NULL;
	stage_name_from_resource(req->app_resource, name, namelen);
	if (!stage_is_registered(dir, name)) {
		first = json_string_value(json_array_get(args, 0));
		app_name = json_string_value(json_object_get(
		    req->spark_properties, "spark.app.name"));
		name[0] = '\0';
		if (strcmp(req->main_class, SPARK_SUBMIT_CLASS) == 0 &&
		    first != NULL) {
			stage_name_from_resource(first, name, namelen);
			skip = 1;
		}
		if (!stage_is_registered(dir, name) && app_name != NULL) {
			snprintf(name, namelen, "%s", app_name);
			skip = 0;
		}
	}
	if (!stage_is_registered(dir, name)) {
		stage_list(dir, registered, sizeof(registered));
		snprintf(msg, msglen, "Unknown stage: no registered stage is "
		    "named by appResource '%.200s'%s. Registered stages: %s.",
		    req->app_resource, strcmp(req->main_class,
		    SPARK_SUBMIT_CLASS) == 0 ? ", appArgs[0] or spark.app.name"
		    : " or spark.app.name",
		    registered[0] ? registered : "(none)");
		json_decref(empty);
		return -1;
	}
	*argv = args_from(args, skip);
	json_decref(empty);
	return *argv != NULL ? 0 : -1;
}

static int
valid_env_name(const char *name)
{
	const char *p;

	if (!((*name >= 'A' && *name <= 'Z') || (*name >= 'a' &&
	    *name <= 'z') || *name == '_'))
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '_'))
			return 0;
	return p - name <= 128;
}

int
stage_env_allowed(const char *name, char *msg, size_t msglen)
{
	int i;

	if (!valid_env_name(name)) {
		snprintf(msg, msglen, "Environment variable name '%.100s' is "
		    "not valid: use letters, digits and '_'.", name);
		return 0;
	}
	for (i = 0; refused_env[i] != NULL; i++) {
		const char *pat = refused_env[i];
		size_t n = strlen(pat);
		int match = pat[n - 1] == '*' ?
		    strncmp(name, pat, n - 1) == 0 : strcmp(name, pat) == 0;

		if (match) {
			snprintf(msg, msglen, "Environment variable '%s' is not "
			    "allowed: it changes how the stage process loads "
			    "or runs. Configure it on the server instead "
			    "(--stage-env).", name);
			return 0;
		}
	}
	return 1;
}
