/*
 * fuzz_request.c - libFuzzer target for everything the server parses from
 * a request before any state changes: the route of a path, the create
 * body with its validation and stage resolution, and the Authorization
 * header (static token and HS256 JWS).
 *
 * Every input is tried as all three. Built and run by fuzz-request.sh;
 * by hand:  tests/server/fuzz-request.sh --time 600
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "proto.h"
#include "stage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
to_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

static void
fuzz_create(const uint8_t *data, size_t size)
{
	proto_create req;
	char msg[1024], name[256];
	const char *key;
	json_t *value, *resp, *argv = NULL;
	char *text;

	if (proto_parse_create((const char *)data, size, &req, msg,
	    sizeof(msg)) != 0)
		return;
	if (stage_resolve("/nonexistent-stages", &req, name, sizeof(name),
	    &argv, msg, sizeof(msg)) == 0)
		json_decref(argv);
	if (req.environment != NULL) {
		json_object_foreach(req.environment, key, value)
			stage_env_allowed(key, msg, sizeof(msg));
	}
	resp = proto_create_response(1, "driver-1", "ok", req.unknown_fields);
	text = proto_dump(resp);
	free(text);
	json_decref(resp);
	proto_create_free(&req);
}

static void
fuzz_route_and_auth(const char *s)
{
	static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
	auth a = {(uint8_t *)key, sizeof(key), "secret-token", 12};
	auth jws_only = {(uint8_t *)key, sizeof(key), NULL, 0};
	proto_route r;
	const char *reason;

	proto_route_path("POST", s, &r);
	proto_route_path("GET", s, &r);
	proto_route_path(s, "/v1/submissions/status/x", &r);
	auth_check(&a, s, 1700000000, &reason);
	auth_check(&jws_only, s, 1700000000, &reason);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	fuzz_create(data, size);
	s = to_string(data, size);
	fuzz_route_and_auth(s);
	free(s);
	return 0;
}
