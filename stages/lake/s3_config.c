/*
 * s3_config.c - where an S3 lake is and who we are there: s3:// URIs, key
 * rules, and the AWS CLI's settings (environment variables and the shared
 * credentials file), validated here so the rest of the client can trust
 * them.
 *
 * Precedence follows the AWS CLI and SDKs: a key and secret in the
 * environment win over the shared credentials file (AWS_PROFILE picks its
 * profile, "default" otherwise); AWS_ENDPOINT_URL_S3 wins over
 * AWS_ENDPOINT_URL, and either means path-style addressing (MinIO, Ceph
 * RGW); without one, AWS's regional endpoint with virtual-hosted style
 * (s3_client_new falls back to path-style for a bucket with a '.').
 * Secrets are copied into the config and never into a message: messages
 * name where the credentials came from instead.
 */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "s3_internal.h"

#define MIB ((size_t)1024 * 1024)

const char *
s3_err_kind_name(s3_err_kind kind)
{
	switch (kind) {
	case S3_ERR_NONE:
		return "none";
	case S3_ERR_NOT_FOUND:
		return "not found";
	case S3_ERR_EXISTS:
		return "exists";
	case S3_ERR_AUTH:
		return "auth refused";
	case S3_ERR_UNREACHABLE:
		return "unreachable";
	case S3_ERR_TRANSIENT:
		return "transient faults exhausted";
	case S3_ERR_CONFIG:
		return "configuration";
	case S3_ERR_OTHER:
		return "other";
	}
	return "unknown";
}

size_t
s3_format(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (len == 0)
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		buf[0] = '\0';
		return 0;
	}
	return (size_t)n < len ? (size_t)n : len - 1;
}

void
s3_err_set(s3_err *err, s3_err_kind kind, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->kind = kind;
	err->http_status = 0;
	err->code[0] = '\0';
}

/* The first control character's offset, or -1 when there is none. */
static long
control_char_at(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
			return (long)i;
	return -1;
}

/* 1 when key has a "." or ".." segment. */
static int
has_dot_segment(const char *key)
{
	const char *seg = key, *end;
	size_t n;

	for (;;) {
		end = strchr(seg, '/');
		n = end != NULL ? (size_t)(end - seg) : strlen(seg);
		if ((n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return 1;
		if (end == NULL)
			return 0;
		seg = end + 1;
	}
}

int
s3_bucket_check(const char *b, size_t n, s3_err *err)
{
	size_t i;

	if (n < 3 || n > S3_BUCKET_MAX) {
		s3_err_set(err, S3_ERR_CONFIG, "a bucket name of %zu "
		    "characters: S3 bucket names have 3 to 63", n);
		return -1;
	}
	for (i = 0; i < n; i++) {
		char ch = b[i];
		int alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');

		if (alnum || ((ch == '.' || ch == '-') && i > 0 && i < n - 1))
			continue;
		s3_err_set(err, S3_ERR_CONFIG, "bucket name '%.*s' may hold "
		    "only lowercase letters, digits, '.' and '-', and must "
		    "start and end with a letter or digit",
		    control_char_at(b) < 0 ? (int)n : 0, b);
		return -1;
	}
	return 0;
}

int
s3_key_check(const char *key, s3_err *err)
{
	size_t n = strlen(key);
	long at;

	if (n == 0 || n > S3_KEY_MAX) {
		s3_err_set(err, S3_ERR_CONFIG,
		    "an object key of %zu bytes: S3 keys have 1 to 1024", n);
		return -1;
	}
	at = control_char_at(key);
	if (at >= 0) {
		/* The key itself is not shown: it would carry the control
		 * character into a terminal or a log. */
		s3_err_set(err, S3_ERR_CONFIG, "an object key holds control "
		    "character 0x%02x at byte %ld: such keys cannot be "
		    "listed back", (unsigned char)key[at], at);
		return -1;
	}
	if (has_dot_segment(key)) {
		s3_err_set(err, S3_ERR_CONFIG, "object key '%.200s' has a "
		    "'.' or '..' segment, which URLs fold away", key);
		return -1;
	}
	return 0;
}

int
s3_uri_parse(const char *text, s3_uri *out, s3_err *err)
{
	const char *rest, *slash;
	s3_err why;
	size_t blen;

	memset(out, 0, sizeof(*out));
	if (strncmp(text, "s3://", 5) == 0)
		rest = text + 5;
	else if (strncmp(text, "s3a://", 6) == 0)
		rest = text + 6;
	else {
		s3_err_set(err, S3_ERR_CONFIG, "%s is not an S3 URI: write "
		    "s3://bucket/prefix", control_char_at(text) < 0 ?
		    text : "the lake location");
		return -1;
	}
	slash = strchr(rest, '/');
	blen = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	if (s3_bucket_check(rest, blen, err) != 0)
		return -1;
	memcpy(out->bucket, rest, blen);
	if (slash == NULL || slash[1] == '\0')
		return 0;
	if (s3_key_check(slash + 1, &why) != 0) {
		s3_err_set(err, S3_ERR_CONFIG, "the prefix of s3://%s/ is not "
		    "a valid key: %s", out->bucket, why.msg);
		return -1;
	}
	snprintf(out->prefix, sizeof(out->prefix), "%s", slash + 1);
	return 0;
}

void
s3_config_defaults(s3_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->region, sizeof(cfg->region), "us-east-1");
	cfg->retry_budget_us = 30 * 1000000LL;
	cfg->retry_base_us = 50 * 1000LL;
	cfg->retry_cap_us = 2 * 1000000LL;
	cfg->connect_timeout_us = 5 * 1000000LL;
	cfg->stall_timeout_us = 30 * 1000000LL;
	cfg->max_parallel = 8;
	cfg->part_size = 8 * MIB;
	cfg->multipart_threshold = 16 * MIB;
}

void
s3_config_wipe(s3_config *cfg)
{
	explicit_bzero(cfg->secret_key, sizeof(cfg->secret_key));
	explicit_bzero(cfg->session_token, sizeof(cfg->session_token));
}

/* Copies value into field; -1 with a message naming what when too long. */
static int
set_field(char *field, size_t size, const char *value, const char *what,
    s3_err *err)
{
	size_t n = strlen(value);

	if (n >= size) {
		s3_err_set(err, S3_ERR_CONFIG, "%s is too long (%zu bytes, "
		    "at most %zu)", what, n, size - 1);
		return -1;
	}
	memcpy(field, value, n + 1);
	return 0;
}

static const char *
env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Checks "scheme://host[:port]" and stores it without a trailing '/'. */
static int
set_endpoint(s3_config *cfg, const char *url, const char *from,
    s3_err *err)
{
	size_t n = strlen(url), i;
	const char *host;

	while (n > 0 && url[n - 1] == '/')
		n--;
	if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else
		host = NULL;
	if (host == NULL || (size_t)(host - url) >= n ||
	    memchr(host, '/', n - (size_t)(host - url)) != NULL ||
	    n >= sizeof(cfg->endpoint)) {
		s3_err_set(err, S3_ERR_CONFIG, "%s='%.200s' is not an "
		    "endpoint: write http(s)://host[:port], with no path",
		    from, url);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (isspace((unsigned char)url[i]) || url[i] == '@' ||
		    url[i] == '?' || url[i] == '#') {
			s3_err_set(err, S3_ERR_CONFIG, "%s='%.200s' is not "
			    "an endpoint: write http(s)://host[:port] with no "
			    "user, query or spaces", from, url);
			return -1;
		}
	}
	memcpy(cfg->endpoint, url, n);
	cfg->endpoint[n] = '\0';
	cfg->path_style = 1;
	return 0;
}

static int
config_endpoint(s3_config *cfg, s3_err *err)
{
	const char *url, *from = "AWS_ENDPOINT_URL_S3";

	url = env_nonempty(from);
	if (url == NULL)
		url = env_nonempty(from = "AWS_ENDPOINT_URL");
	if (url != NULL)
		return set_endpoint(cfg, url, from, err);
	/* AWS itself: virtual-hosted style on the regional endpoint. */
	snprintf(cfg->endpoint, sizeof(cfg->endpoint),
	    "https://s3.%s.amazonaws.com", cfg->region);
	cfg->path_style = 0;
	return 0;
}

static int
config_region(s3_config *cfg, s3_err *err)
{
	const char *r, *from = "AWS_REGION";
	size_t i;

	r = env_nonempty(from);
	if (r == NULL)
		r = env_nonempty(from = "AWS_DEFAULT_REGION");
	if (r == NULL)
		return 0;
	for (i = 0; r[i] != '\0'; i++) {
		if (!isalnum((unsigned char)r[i]) && r[i] != '-') {
			s3_err_set(err, S3_ERR_CONFIG, "%s='%.64s' is not a "
			    "region name (letters, digits and '-', e.g. "
			    "us-east-1)", from, r);
			return -1;
		}
	}
	return set_field(cfg->region, sizeof(cfg->region), r, from, err);
}

/* The shared credentials file's path: owned string, or NULL. */
static char *
credentials_path(void)
{
	const char *file = env_nonempty("AWS_SHARED_CREDENTIALS_FILE");
	const char *home = getenv("HOME");
	char *path = NULL;

	if (home == NULL || home[0] == '\0') {
		struct passwd *pw = getpwuid(getuid());

		home = pw != NULL ? pw->pw_dir : NULL;
	}
	if (file != NULL && strncmp(file, "~/", 2) == 0 && home != NULL) {
		if (asprintf(&path, "%s/%s", home, file + 2) < 0)
			path = NULL;
	} else if (file != NULL) {
		path = strdup(file);
	} else if (home != NULL) {
		if (asprintf(&path, "%s/.aws/credentials", home) < 0)
			path = NULL;
	}
	return path;
}

static int
config_credentials_env(s3_config *cfg, const char *key, s3_err *err)
{
	const char *secret = env_nonempty("AWS_SECRET_ACCESS_KEY");
	const char *token = env_nonempty("AWS_SESSION_TOKEN");

	if (secret == NULL) {
		s3_err_set(err, S3_ERR_CONFIG, "AWS_ACCESS_KEY_ID is set but "
		    "AWS_SECRET_ACCESS_KEY is not: set both, or neither to "
		    "use the shared credentials file");
		return -1;
	}
	if (set_field(cfg->access_key, sizeof(cfg->access_key), key,
	    "AWS_ACCESS_KEY_ID", err) != 0 ||
	    set_field(cfg->secret_key, sizeof(cfg->secret_key), secret,
	    "AWS_SECRET_ACCESS_KEY", err) != 0 ||
	    set_field(cfg->session_token, sizeof(cfg->session_token),
	    token != NULL ? token : "", "AWS_SESSION_TOKEN", err) != 0)
		return -1;
	snprintf(cfg->credentials_from, sizeof(cfg->credentials_from),
	    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
	return 0;
}

static int
config_credentials(s3_config *cfg, s3_err *err)
{
	const char *key = env_nonempty("AWS_ACCESS_KEY_ID");
	const char *profile = env_nonempty("AWS_PROFILE");
	char *path;
	int rc;

	if (key != NULL)
		return config_credentials_env(cfg, key, err);
	if (env_nonempty("AWS_SECRET_ACCESS_KEY") != NULL) {
		s3_err_set(err, S3_ERR_CONFIG, "AWS_SECRET_ACCESS_KEY is set "
		    "but AWS_ACCESS_KEY_ID is not: set both");
		return -1;
	}
	path = credentials_path();
	if (path == NULL) {
		s3_err_set(err, S3_ERR_CONFIG, "no S3 credentials: set "
		    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
		    "AWS_SHARED_CREDENTIALS_FILE (HOME is not set)");
		return -1;
	}
	rc = s3_credentials_from_file(cfg, path,
	    profile != NULL ? profile : "default", err);
	free(path);
	return rc;
}

static int
config_ca_bundle(s3_config *cfg, s3_err *err)
{
	const char *path = env_nonempty("AWS_CA_BUNDLE");

	if (path == NULL)
		return 0;
	if (access(path, R_OK) != 0) {
		s3_err_set(err, S3_ERR_CONFIG, "AWS_CA_BUNDLE=%.200s cannot "
		    "be read: %s", path, strerror(errno));
		return -1;
	}
	return set_field(cfg->ca_bundle, sizeof(cfg->ca_bundle), path,
	    "AWS_CA_BUNDLE", err);
}

int
s3_config_from_env(s3_config *cfg, s3_err *err)
{
	s3_config_defaults(cfg);
	if (config_region(cfg, err) != 0 || config_endpoint(cfg, err) != 0 ||
	    config_ca_bundle(cfg, err) != 0 ||
	    config_credentials(cfg, err) != 0) {
		s3_config_wipe(cfg);
		return -1;
	}
	return 0;
}

/* Trims spaces at both ends of s in place; returns s. */
static char *
trim(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

typedef struct profile_read {
	const char *profile;
	int in_profile;
	int found;
	int have_key;
	int have_secret;
} profile_read;

/* One "name = value" line of the wanted profile. */
static int
profile_setting(s3_config *cfg, profile_read *pr, char *line,
    const char *where, s3_err *err)
{
	char *eq = strchr(line, '='), *name, *value;

	if (eq == NULL)
		return 0;	/* not a setting: ignored, as the CLI does */
	*eq = '\0';
	name = trim(line);
	value = trim(eq + 1);
	if (strcmp(name, "aws_access_key_id") == 0) {
		pr->have_key = value[0] != '\0';
		return set_field(cfg->access_key, sizeof(cfg->access_key),
		    value, where, err);
	}
	if (strcmp(name, "aws_secret_access_key") == 0) {
		pr->have_secret = value[0] != '\0';
		return set_field(cfg->secret_key, sizeof(cfg->secret_key),
		    value, where, err);
	}
	if (strcmp(name, "aws_session_token") == 0 ||
	    strcmp(name, "aws_security_token") == 0)
		return set_field(cfg->session_token,
		    sizeof(cfg->session_token), value, where, err);
	return 0;
}

/* One line of the file: a [section], a comment or a setting. */
static int
profile_line(s3_config *cfg, profile_read *pr, char *raw,
    const char *where, s3_err *err)
{
	char *line = trim(raw);
	size_t n = strlen(line);

	if (n == 0 || line[0] == '#' || line[0] == ';')
		return 0;
	if (line[0] == '[' && line[n - 1] == ']') {
		line[n - 1] = '\0';
		pr->in_profile = strcmp(trim(line + 1), pr->profile) == 0;
		pr->found |= pr->in_profile;
		return 0;
	}
	return pr->in_profile ? profile_setting(cfg, pr, line, where, err) :
	    0;
}

int
s3_credentials_from_file(s3_config *cfg, const char *path,
    const char *profile, s3_err *err)
{
	profile_read pr = { profile, 0, 0, 0, 0 };
	char where[320], *line = NULL;
	size_t cap = 0;
	FILE *f;
	int rc = 0;

	snprintf(where, sizeof(where), "profile %.64s in %.200s", profile,
	    path);
	f = fopen(path, "r");
	if (f == NULL) {
		s3_err_set(err, S3_ERR_CONFIG, "no S3 credentials: "
		    "AWS_ACCESS_KEY_ID is not set and the credentials file "
		    "%.200s cannot be read (%s)", path, strerror(errno));
		return -1;
	}
	cfg->access_key[0] = cfg->secret_key[0] = cfg->session_token[0] =
	    '\0';
	while (rc == 0 && getline(&line, &cap, f) >= 0)
		rc = profile_line(cfg, &pr, line, where, err);
	if (line != NULL)
		explicit_bzero(line, cap);
	free(line);
	fclose(f);
	if (rc == 0 && !pr.found) {
		s3_err_set(err, S3_ERR_CONFIG, "no [%.64s] section in the "
		    "credentials file %.200s (AWS_PROFILE chooses the "
		    "profile)", profile, path);
		rc = -1;
	} else if (rc == 0 && (!pr.have_key || !pr.have_secret)) {
		s3_err_set(err, S3_ERR_CONFIG, "%s lacks "
		    "aws_access_key_id or aws_secret_access_key", where);
		rc = -1;
	}
	if (rc != 0) {
		s3_config_wipe(cfg);
		return -1;
	}
	snprintf(cfg->credentials_from, sizeof(cfg->credentials_from), "%s",
	    where);
	return 0;
}
