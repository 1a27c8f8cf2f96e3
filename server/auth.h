/*
 * auth.h - bearer authentication, compatible with Spark 4's JWSFilter.
 *
 * With a JWS secret, a request needs "Authorization: Bearer <JWS>": an
 * HS256-signed JWT, checked against the secret (a BASE64URL key of at
 * least 256 bits, as Spark's secretKey), rejected once expired ("exp") or
 * not yet valid ("nbf"). With a token file, the bearer value must equal
 * the file's token. Both compare in constant time. Failures are 403 with
 * JWSFilter's texts.
 */
#ifndef SERVER_AUTH_H
#define SERVER_AUTH_H

#include <stddef.h>
#include <stdint.h>

typedef struct auth {
	uint8_t *jws_key;
	size_t jws_key_len;
	char *token;
	size_t token_len;
} auth;

/* Loads secrets from files (either may be NULL). 0, or -1 with err. */
int auth_load(auth *a, const char *jws_secret_file, const char *token_file,
    char *err, size_t errlen);
void auth_free(auth *a);
int auth_enabled(const auth *a);
/*
 * Checks an Authorization header value (NULL when absent) at time now_s.
 * Returns 0 when allowed, else -1 and *reason points at a static text.
 */
int auth_check(const auth *a, const char *header, int64_t now_s,
    const char **reason);

#endif
