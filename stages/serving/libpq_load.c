/*
 * libpq_load.c - looks up the libpq functions serving uses, once, with
 * dlopen(3)/dlsym(3). The library stays loaded until the process exits.
 */
#include <dlfcn.h>
#include <stddef.h>

#include "libpq_load.h"

#define LIBPQ_SONAME "libpq.so.5"

static libpq_api api;
static int loaded;

/* Looks up one symbol into *slot (a function pointer's storage). */
static int
lookup(void *lib, const char *name, void **slot, lake_err *err)
{
	if ((*slot = dlsym(lib, name)) == NULL) {
		lake_err_set(err, "%s has no %s: %s", LIBPQ_SONAME, name,
		    dlerror());
		return -1;
	}
	return 0;
}

const libpq_api *
libpq_load(lake_err *err)
{
	void *lib;

	if (loaded)
		return &api;
	if ((lib = dlopen(LIBPQ_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		lake_err_set(err, "cannot load %s to publish gold to "
		    "PostgreSQL (install Debian's libpq5): %s", LIBPQ_SONAME,
		    dlerror());
		return NULL;
	}
	/* POSIX guarantees a data pointer can hold a function's address. */
	if (lookup(lib, "PQconnectdb", (void **)&api.connectdb, err) == -1 ||
	    lookup(lib, "PQstatus", (void **)&api.status, err) == -1 ||
	    lookup(lib, "PQerrorMessage", (void **)&api.error_message,
	    err) == -1 ||
	    lookup(lib, "PQexec", (void **)&api.exec, err) == -1 ||
	    lookup(lib, "PQexecParams", (void **)&api.exec_params,
	    err) == -1 ||
	    lookup(lib, "PQresultStatus", (void **)&api.result_status,
	    err) == -1 ||
	    lookup(lib, "PQresultErrorMessage",
	    (void **)&api.result_error_message, err) == -1 ||
	    lookup(lib, "PQclear", (void **)&api.clear, err) == -1 ||
	    lookup(lib, "PQfinish", (void **)&api.finish, err) == -1) {
		dlclose(lib);
		return NULL;
	}
	loaded = 1;
	return &api;
}
