/*
 * auth.c - bearer token and HS256 JWS checks.
 *
 * Only HS256 is accepted: the header's "alg" must say so, which also
 * closes the "alg":"none" downgrade. The signature is compared in constant
 * time before the payload is even parsed.
 */
#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"

#define MAX_SECRET_FILE 4096
#define MAX_TOKEN_LEN 8192

/* Reads a small secret file, trimming trailing whitespace. */
static char *
read_secret(const char *path, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t n;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "cannot read secret file %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	if ((buf = malloc(MAX_SECRET_FILE + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	n = fread(buf, 1, MAX_SECRET_FILE + 1, f);
	if (n > MAX_SECRET_FILE) {
		snprintf(err, errlen, "secret file %s is larger than %d bytes",
		    path, MAX_SECRET_FILE);
		goto fail;
	}
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		n--;
	buf[n] = '\0';
	if (n == 0) {
		snprintf(err, errlen, "secret file %s is empty", path);
		goto fail;
	}
	goto out;
fail:
	free(buf);
	buf = NULL;
out:
	fclose(f);
	return buf;
}

int
auth_load(auth *a, const char *jws_secret_file, const char *token_file,
    char *err, size_t errlen)
{
	char *text;
	long n;

	memset(a, 0, sizeof(*a));
	if (jws_secret_file != NULL) {
		if ((text = read_secret(jws_secret_file, err, errlen)) == NULL)
			return -1;
		a->jws_key = malloc(strlen(text) + 1);
		n = a->jws_key ? base64url_decode(text, strlen(text),
		    a->jws_key, strlen(text) + 1) : -1;
		free(text);
		if (n < 32) {
			snprintf(err, errlen, "JWS secret in %s must be a "
			    "BASE64URL key of at least 256 bits",
			    jws_secret_file);
			auth_free(a);
			return -1;
		}
		a->jws_key_len = (size_t)n;
	}
	if (token_file != NULL) {
		if ((a->token = read_secret(token_file, err, errlen)) == NULL) {
			auth_free(a);
			return -1;
		}
		a->token_len = strlen(a->token);
	}
	return 0;
}

void
auth_free(auth *a)
{
	if (a->jws_key != NULL)
		memset(a->jws_key, 0, a->jws_key_len);
	if (a->token != NULL)
		memset(a->token, 0, a->token_len);
	free(a->jws_key);
	free(a->token);
	memset(a, 0, sizeof(*a));
}

int
auth_enabled(const auth *a)
{
	return a->jws_key != NULL || a->token != NULL;
}

static json_t *
decode_json_part(const char *part, size_t len)
{
	uint8_t buf[MAX_TOKEN_LEN];
	long n = base64url_decode(part, len, buf, sizeof(buf));

	if (n < 0)
		return NULL;
	return json_loadb((const char *)buf, (size_t)n, 0, NULL);
}

static int
jws_valid(const auth *a, const char *jws, int64_t now_s)
{
	const char *dot1, *dot2;
	uint8_t sig[SHA256_DIGEST_LEN + 4], mac[SHA256_DIGEST_LEN];
	json_t *header = NULL, *payload = NULL, *v;
	int ok = 0;
	long n;

	if (strlen(jws) > MAX_TOKEN_LEN ||
	    (dot1 = strchr(jws, '.')) == NULL ||
	    (dot2 = strchr(dot1 + 1, '.')) == NULL || strchr(dot2 + 1, '.'))
		return 0;
	n = base64url_decode(dot2 + 1, strlen(dot2 + 1), sig, sizeof(sig));
	if (n != SHA256_DIGEST_LEN)
		return 0;
	hmac_sha256(a->jws_key, a->jws_key_len, jws, (size_t)(dot2 - jws),
	    mac);
	if (!timingsafe_equal(mac, sig, sizeof(mac)))
		return 0;
	header = decode_json_part(jws, (size_t)(dot1 - jws));
	payload = decode_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	if (header == NULL || payload == NULL || !json_is_object(payload))
		goto out;
	v = json_object_get(header, "alg");
	if (!json_is_string(v) || strcmp(json_string_value(v), "HS256") != 0)
		goto out;
	v = json_object_get(payload, "exp");
	if (v != NULL && (!json_is_number(v) || json_number_value(v) <=
	    (double)now_s))
		goto out;
	v = json_object_get(payload, "nbf");
	if (v != NULL && (!json_is_number(v) || json_number_value(v) >
	    (double)now_s))
		goto out;
	ok = 1;
out:
	json_decref(header);
	json_decref(payload);
	return ok;
}

int
auth_check(const auth *a, const char *header, int64_t now_s,
    const char **reason)
{
	const char *value;

	if (!auth_enabled(a))
		return 0;
	if (header == NULL) {
		*reason = "Authorization header is missing.";
		return -1;
	}
	if (strncasecmp(header, "Bearer ", 7) != 0 || header[7] == '\0') {
		*reason = "Malformed Authorization header.";
		return -1;
	}
	value = header + 7;
	if (a->token != NULL && strlen(value) == a->token_len &&
	    timingsafe_equal(value, a->token, a->token_len))
		return 0;
	if (a->jws_key != NULL && jws_valid(a, value, now_s))
		return 0;
	*reason = a->jws_key != NULL ? "JWT Validate Fail" :
	    "Invalid bearer token.";
	return -1;
}
