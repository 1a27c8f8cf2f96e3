/*
 * stage.h - which stage a submission runs, and with what environment.
 *
 * The server runs only registered stages: executables directly inside
 * --stages-dir. A request names one the way Spark clients do (appResource,
 * else appArgs[0] under org.apache.spark.deploy.SparkSubmit, else
 * spark.app.name); see stage_resolve(). Environment variables a request
 * sends are checked by stage_env_allowed(): names that change how a process
 * loads or runs (LD_*, PATH, ...) are refused. Nothing is ever run through
 * a shell. This closes the hole of CVE-2018-11770.
 */
#ifndef SERVER_STAGE_H
#define SERVER_STAGE_H

#include <jansson.h>
#include <stddef.h>

#include "proto.h"

/* The stage name a path or URI denotes: its file name without extension
 * ("hdfs://nn:8020/jobs/ingestion.py" -> "ingestion"). */
void stage_name_from_resource(const char *resource, char *name, size_t len);

/* 1 if name is a valid stage name with an executable file in dir. */
int stage_is_registered(const char *dir, const char *name);


/*
 * Resolves req to a registered stage. On success returns 0, fills name
 * and *argv (a new JSON array of the stage's arguments). On failure
 * returns -1 with a message naming the registered stages.
 */
int stage_resolve(const char *dir, const proto_create *req, char *name,
    size_t namelen, json_t **argv, char *msg, size_t msglen);

/* 1 if a request may set variable name; else 0 and why in msg. */
int stage_env_allowed(const char *name, char *msg, size_t msglen);

#endif
