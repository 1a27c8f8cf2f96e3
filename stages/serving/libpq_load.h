/*
 * libpq_load.h - libpq, loaded when first needed.
 *
 * The serving stage talks to PostgreSQL only when gold is published there
 * (MEDALLION_GOLD_DSN). Linking libpq would make every run load it and the
 * thirty-odd libraries it pulls in (TLS, Kerberos, LDAP): about 4 ms, a
 * third of a small incremental run. So the few functions serving uses are
 * looked up with dlopen(3) on first use instead.
 */
#ifndef LIBPQ_LOAD_H
#define LIBPQ_LOAD_H

#include <libpq-fe.h>

#include "lake_err.h"

typedef struct libpq_api {
	PGconn *(*connectdb)(const char *conninfo);
	ConnStatusType (*status)(const PGconn *conn);
	char *(*error_message)(const PGconn *conn);
	PGresult *(*exec)(PGconn *conn, const char *query);
	PGresult *(*exec_params)(PGconn *conn, const char *command,
	    int nparams, const Oid *types, const char *const *values,
	    const int *lengths, const int *formats, int result_format);
	ExecStatusType (*result_status)(const PGresult *res);
	char *(*result_error_message)(const PGresult *res);
	void (*clear)(PGresult *res);
	void (*finish)(PGconn *conn);
} libpq_api;

/* The functions, loading libpq the first time; NULL (and err) if absent. */
const libpq_api *libpq_load(lake_err *err);

#endif
