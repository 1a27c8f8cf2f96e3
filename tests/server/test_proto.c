/*
 * test_proto - unit tests for server/proto.c, stage.c and auth.c: path
 * routing and ErrorServlet texts, create validation, unknown fields,
 * stage resolution, the environment policy, and JWS checks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "proto.h"
#include "sha256.h"
#include "stage.h"

#include "expect.h"


static void
expect_route(const char *method, const char *path, proto_action action,
    int status, const char *id, const char *msg_prefix)
{
	proto_route r;

	proto_route_path(method, path, &r);
	EXPECT(r.action == action, "%s %s: action %d, want %d", method, path,
	    r.action, action);
	EXPECT(r.status == status, "%s %s: status %d, want %d", method, path,
	    r.status, status);
	if (id != NULL)
		EXPECT(strcmp(r.id, id) == 0, "%s %s: id '%s', want '%s'",
		    method, path, r.id, id);
	if (msg_prefix != NULL)
		EXPECT(strncmp(r.message, msg_prefix, strlen(msg_prefix)) == 0,
		    "%s %s: message '%s', want prefix '%s'", method, path,
		    r.message, msg_prefix);
}

static void
test_routing(void)
{
	proto_route r;

	expect_route("POST", "/v1/submissions/create", PROTO_ROUTE_CREATE, 0,
	    NULL, NULL);
	expect_route("POST", "/v1/submissions/create/x", PROTO_ROUTE_CREATE, 0,
	    NULL, NULL);
	expect_route("POST", "/v1/submissions/kill/anything",
	    PROTO_ROUTE_KILL, 0, "anything", NULL);
	expect_route("POST", "/v1/submissions/kill/any/thing",
	    PROTO_ROUTE_KILL, 0, "any", NULL);
	expect_route("POST", "/v1/submissions/kill", PROTO_ROUTE_KILL, 400, "",
	    "Submission ID is missing in kill request.");
	expect_route("POST", "/v1/submissions/kill/", PROTO_ROUTE_KILL, 400,
	    "", "Submission ID is missing in kill request.");
	expect_route("POST", "/v1/submissions/kill//x", PROTO_ROUTE_KILL, 400,
	    "", NULL);
	expect_route("GET", "/v1/submissions/status/any/thing",
	    PROTO_ROUTE_STATUS, 0, "any", NULL);
	expect_route("GET", "/v1/submissions/status", PROTO_ROUTE_STATUS, 400,
	    "", "Submission ID is missing in status request.");
	expect_route("POST", "/v1/submissions/killall", PROTO_ROUTE_KILLALL, 0,
	    NULL, NULL);
	expect_route("POST", "/v1/submissions/clear", PROTO_ROUTE_CLEAR, 0,
	    NULL, NULL);
	expect_route("GET", "/v1/submissions/readyz", PROTO_ROUTE_READYZ, 0,
	    NULL, NULL);
	expect_route("GET", "/", PROTO_ROUTE_ERROR, 400, NULL,
	    "Missing protocol version. Please submit requests through "
	    "http://[host]:[port]/v1/submissions/...");
	expect_route("GET", "", PROTO_ROUTE_ERROR, 400, NULL,
	    "Missing protocol version.");
	expect_route("GET", "/v1", PROTO_ROUTE_ERROR, 400, NULL,
	    "Missing the /submissions prefix.");
	expect_route("GET", "/v1/", PROTO_ROUTE_ERROR, 400, NULL,
	    "Missing the /submissions prefix.");
	expect_route("POST", "/v1/submissions", PROTO_ROUTE_ERROR, 400, NULL,
	    "Missing an action: please specify one of /create, /kill, "
	    "/killall, /clear, /status, or /readyz.");
	expect_route("GET", "/v1/submissions/bad", PROTO_ROUTE_ERROR, 400,
	    NULL, "Missing an action");
	expect_route("GET", "/bad-version", PROTO_ROUTE_ERROR, 468, NULL,
	    "Unknown protocol version 'bad-version'.");
	expect_route("DELETE", "/v1/foo", PROTO_ROUTE_ERROR, 468, NULL,
	    "Unknown protocol version 'v1'.");
	expect_route("GET", "/v1/submissions", PROTO_ROUTE_LIST, 0, NULL,
	    NULL);
	proto_route_path("GET", "/v1/submissions/create", &r);
	EXPECT(r.action == PROTO_ROUTE_CREATE && !r.method_ok,
	    "GET /create must be a wrong-method answer");
	proto_route_path("HEAD", "/v1/submissions/status/x", &r);
	EXPECT(r.method_ok, "HEAD runs the GET handler");
}

static int
parse(const char *body, proto_create *req, char *msg, size_t len)
{
	return proto_parse_create(body, strlen(body), req, msg, len);
}

static void
expect_bad(const char *body, const char *want)
{
	proto_create req;
	char msg[512] = "";

	EXPECT(parse(body, &req, msg, sizeof(msg)) == -1,
	    "accepted bad body %s", body);
	EXPECT(strstr(msg, want) != NULL, "body %s: message '%s' lacks '%s'",
	    body, msg, want);
}

#define VALID "\"action\":\"CreateSubmissionRequest\",\"clientSparkVersion\":" \
	"\"4.0.0\",\"appResource\":\"ingestion\",\"mainClass\":\"x\","

static void
test_create(void)
{
	proto_create req;
	char msg[512];

	EXPECT(parse("{" VALID "\"sparkProperties\":{\"spark.driver."
	    "supervise\":\"TRUE\",\"spark.driver.cores\":2},\"appArgs\":[1,"
	    "\"b\"],\"tomato\":\"x\",\"message\":null}", &req, msg,
	    sizeof(msg)) == 0, "valid body refused: %s", msg);
	EXPECT(req.supervise == 1, "supervise not parsed");
	EXPECT(strcmp(json_string_value(json_array_get(req.app_args, 0)),
	    "1") == 0, "a number in appArgs is coerced to text");
	EXPECT(json_array_size(req.unknown_fields) == 2 &&
	    strcmp(json_string_value(json_array_get(req.unknown_fields, 0)),
	    "tomato") == 0 &&
	    strcmp(json_string_value(json_array_get(req.unknown_fields, 1)),
	    "message") == 0, "unknownFields must be [tomato, message]");
	proto_create_free(&req);

	EXPECT(parse("{" VALID "\"sparkProperties\":{}}", &req, msg,
	    sizeof(msg)) == 0 && req.unknown_fields == NULL,
	    "no unknownFields on a clean body");
	proto_create_free(&req);

	expect_bad("", "Malformed request: the request body is empty");
	expect_bad("\"hello, world\"", "Malformed request");
	expect_bad("[1, 2]", "not a JSON object");
	expect_bad("{\"fraction\":\"CreateSubmissionRequest\"}",
	    "the 'action' field is missing");
	expect_bad("{" VALID, "invalid JSON");
	expect_bad("{\"action\":\"Bogus\"}", "unknown action 'Bogus'");
	expect_bad("{\"action\":\"KillSubmissionResponse\","
	    "\"serverSparkVersion\":\"1\",\"submissionId\":\"x\","
	    "\"success\":true}",
	    "Received message of unexpected type KillSubmissionResponse.");
	expect_bad("{\"action\":\"CreateSubmissionRequest\"}",
	    "'clientSparkVersion' is missing");
	expect_bad("{\"action\":\"CreateSubmissionRequest\","
	    "\"clientSparkVersion\":\"1\",\"sparkProperties\":{}}",
	    "'appResource' is missing");
	expect_bad("{" VALID "\"sparkProperties\":null}",
	    "'sparkProperties' is missing");
	expect_bad("{\"action\":\"CreateSubmissionRequest\","
	    "\"clientSparkVersion\":\"1\",\"appResource\":\"a\","
	    "\"sparkProperties\":{}}", "Main class is missing.");
	expect_bad("{" VALID "\"sparkProperties\":{\"spark.driver.cores\":"
	    "\"one hundred feet\"}}", "spark.driver.cores");
	expect_bad("{" VALID "\"sparkProperties\":{\"spark.driver.supervise\":"
	    "\"nope, never\"}}", "spark.driver.supervise");
	expect_bad("{" VALID "\"sparkProperties\":{\"spark.cores.max\":"
	    "\"two men\"}}", "spark.cores.max");
	expect_bad("{" VALID "\"sparkProperties\":{\"spark.driver.memory\":"
	    "\"lots\"}}", "spark.driver.memory");
	expect_bad("{" VALID "\"sparkProperties\":{},\"appArgs\":{}}",
	    "'appArgs' must be an array of strings");
	expect_bad("{" VALID "\"sparkProperties\":{},\"environmentVariables\":"
	    "[]}", "'environmentVariables' must be an object");
}

static void
touch_stage(const char *dir, const char *name, int mode)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs("#!/bin/sh\n", f);
	fclose(f);
	chmod(path, (mode_t)mode);
}

static void
test_stages(void)
{
	char dir[] = "/tmp/medallion-stages-XXXXXX", name[64], msg[512];
	proto_create req;
	json_t *argv;

	stage_name_from_resource("hdfs://namenode:8020/jobs/ingestion.py",
	    name, sizeof(name));
	EXPECT(strcmp(name, "ingestion") == 0, "resource -> '%s'", name);
	stage_name_from_resource("serving", name, sizeof(name));
	EXPECT(strcmp(name, "serving") == 0, "plain name -> '%s'", name);
	stage_name_from_resource("local:/opt/x/transformation.tar.gz?x=1",
	    name, sizeof(name));
	EXPECT(strcmp(name, "transformation.tar") == 0, "ext -> '%s'", name);

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		expect_failures++;
		return;
	}
	touch_stage(dir, "ingestion", 0755);
	touch_stage(dir, "serving", 0755);
	touch_stage(dir, "notes", 0644);
	EXPECT(stage_is_registered(dir, "ingestion"), "ingestion registered");
	EXPECT(!stage_is_registered(dir, "notes"), "non-executable refused");
	EXPECT(!stage_is_registered(dir, "../etc"), "path refused");

	EXPECT(parse("{\"action\":\"CreateSubmissionRequest\","
	    "\"clientSparkVersion\":\"1\",\"appResource\":\"\",\"mainClass\":"
	    "\"org.apache.spark.deploy.SparkSubmit\",\"appArgs\":["
	    "\"hdfs://nn/jobs/ingestion.py\",\"--full\"],\"sparkProperties\":"
	    "{}}", &req, msg, sizeof(msg)) == 0, "pyspark body: %s", msg);
	EXPECT(stage_resolve(dir, &req, name, sizeof(name), &argv, msg,
	    sizeof(msg)) == 0 && strcmp(name, "ingestion") == 0 &&
	    json_array_size(argv) == 1, "appArgs[0] names the stage");
	json_decref(argv);
	proto_create_free(&req);

	EXPECT(parse("{" VALID "\"sparkProperties\":{\"spark.app.name\":"
	    "\"serving\"}}", &req, msg, sizeof(msg)) == 0, "%s", msg);
	json_object_set_new(req.json, "appResource", json_string("nope"));
	req.app_resource = "nope";
	EXPECT(stage_resolve(dir, &req, name, sizeof(name), &argv, msg,
	    sizeof(msg)) == 0 && strcmp(name, "serving") == 0,
	    "spark.app.name names the stage");
	json_decref(argv);
	json_object_set_new(req.spark_properties, "spark.app.name",
	    json_string("bogus"));
	EXPECT(stage_resolve(dir, &req, name, sizeof(name), &argv, msg,
	    sizeof(msg)) == -1 && strstr(msg, "ingestion, serving") != NULL,
	    "unknown stage lists registered ones: %s", msg);
	proto_create_free(&req);

	EXPECT(stage_env_allowed("PGHOST", msg, sizeof(msg)), "PGHOST ok");
	EXPECT(!stage_env_allowed("LD_PRELOAD", msg, sizeof(msg)) &&
	    strstr(msg, "LD_PRELOAD") != NULL, "LD_PRELOAD refused");
	EXPECT(!stage_env_allowed("PATH", msg, sizeof(msg)), "PATH refused");
	EXPECT(!stage_env_allowed("BAD-NAME", msg, sizeof(msg)),
	    "bad name refused");
	snprintf(msg, sizeof(msg), "rm -rf %s", dir);
	if (system(msg) != 0)
		expect_failures++;
}

static void
make_jws(const uint8_t *key, size_t keylen, const char *payload, char *out,
    size_t outlen)
{
	const char *header = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	uint8_t mac[32];
	char h[128], p[256], s[64];

	base64url_encode(header, strlen(header), h, sizeof(h));
	base64url_encode(payload, strlen(payload), p, sizeof(p));
	snprintf(out, outlen, "%s.%s", h, p);
	hmac_sha256(key, keylen, out, strlen(out), mac);
	base64url_encode(mac, sizeof(mac), s, sizeof(s));
	snprintf(out + strlen(out), outlen - strlen(out), ".%s", s);
}

static void
test_auth(void)
{
	uint8_t key[32];
	char keytext[64], path[] = "/tmp/medallion-jws-XXXXXX", jws[512],
	    header[600], err[256];
	const char *why;
	auth a;
	int fd;

	memset(key, 7, sizeof(key));
	base64url_encode(key, sizeof(key), keytext, sizeof(keytext));
	fd = mkstemp(path);
	if (fd < 0 || write(fd, keytext, strlen(keytext)) < 0) {
		expect_failures++;
		return;
	}
	close(fd);
	EXPECT(auth_load(&a, path, NULL, err, sizeof(err)) == 0, "%s", err);
	EXPECT(auth_check(&a, NULL, 1000, &why) == -1 &&
	    strcmp(why, "Authorization header is missing.") == 0, "missing");
	EXPECT(auth_check(&a, "Basic xyz", 1000, &why) == -1 &&
	    strcmp(why, "Malformed Authorization header.") == 0, "malformed");
	make_jws(key, sizeof(key), "{\"sub\":\"a\",\"exp\":2000}", jws,
	    sizeof(jws));
	snprintf(header, sizeof(header), "Bearer %s", jws);
	EXPECT(auth_check(&a, header, 1000, &why) == 0, "valid JWS refused");
	EXPECT(auth_check(&a, header, 3000, &why) == -1 &&
	    strcmp(why, "JWT Validate Fail") == 0, "expired JWS accepted");
	header[strlen(header) - 2] ^= 1;
	EXPECT(auth_check(&a, header, 1000, &why) == -1, "bad signature");
	auth_free(&a);
	unlink(path);
}

int
main(void)
{
	test_routing();
	test_create();
	test_stages();
	test_auth();
	return expect_report("test_proto");
}
