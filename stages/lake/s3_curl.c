/*
 * s3_curl.c - libcurl's functions, resolved with dlopen(3) and dlsym(3) the
 * first time an S3 client is made (see s3_curl.h for why). A process
 * that never makes one never loads libcurl.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "s3_curl.h"

#define CURL_SONAME "libcurl.so.4"	/* Debian's libcurl4 */

static struct {
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_perform)(CURLM *, int *);
	CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd *, unsigned, int,
	    int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	const char *(*multi_strerror)(CURLMcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} fn;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[256];
static int loaded;

#define RESOLVE(field, name) do {					\
	*(void **)&fn.field = dlsym(lib, name);				\
	if (fn.field == NULL) {						\
		snprintf(load_error, sizeof(load_error), "%s has no %s", \
		    CURL_SONAME, name);					\
		return;							\
	}								\
} while (0)

static void
load(void)
{
	void *lib = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (lib == NULL) {
		snprintf(load_error, sizeof(load_error), "cannot load %s "
		    "(Debian: apt-get install libcurl4): %s", CURL_SONAME,
		    dlerror());
		return;
	}
	RESOLVE(global_init, "curl_global_init");
	RESOLVE(global_cleanup, "curl_global_cleanup");
	RESOLVE(easy_init, "curl_easy_init");
	RESOLVE(easy_cleanup, "curl_easy_cleanup");
	RESOLVE(easy_reset, "curl_easy_reset");
	RESOLVE(easy_setopt, "curl_easy_setopt");
	RESOLVE(easy_getinfo, "curl_easy_getinfo");
	RESOLVE(easy_strerror, "curl_easy_strerror");
	RESOLVE(multi_init, "curl_multi_init");
	RESOLVE(multi_cleanup, "curl_multi_cleanup");
	RESOLVE(multi_add_handle, "curl_multi_add_handle");
	RESOLVE(multi_remove_handle, "curl_multi_remove_handle");
	RESOLVE(multi_perform, "curl_multi_perform");
	RESOLVE(multi_poll, "curl_multi_poll");
	RESOLVE(multi_info_read, "curl_multi_info_read");
	RESOLVE(multi_setopt, "curl_multi_setopt");
	RESOLVE(multi_strerror, "curl_multi_strerror");
	RESOLVE(slist_append, "curl_slist_append");
	RESOLVE(slist_free_all, "curl_slist_free_all");
	loaded = 1;
}

int
s3_curl_load(char *why, size_t len)
{
	pthread_once(&once, load);
	if (!loaded && why != NULL && len > 0)
		snprintf(why, len, "%s", load_error);
	return loaded ? 0 : -1;
}

/* Every wrapper but global_init runs only after a client was made, so
 * libcurl is there; global_init loads it. */
CURLcode
s3c_global_init(long flags)
{
	return s3_curl_load(NULL, 0) == 0 ? fn.global_init(flags) :
	    CURLE_FAILED_INIT;
}

void s3c_global_cleanup(void) { fn.global_cleanup(); }
CURL *s3c_easy_init(void) { return fn.easy_init(); }
void s3c_easy_cleanup(CURL *h) { fn.easy_cleanup(h); }
void s3c_easy_reset(CURL *h) { fn.easy_reset(h); }

CURLcode
s3c_easy_setopt(CURL *h, CURLoption o, intptr_t v)
{
	return fn.easy_setopt(h, o, v);
}

CURLcode
s3c_easy_getinfo(CURL *h, CURLINFO i, void *out)
{
	return fn.easy_getinfo(h, i, out);
}

const char *
s3c_easy_strerror(CURLcode c)
{
	return loaded ? fn.easy_strerror(c) : "libcurl not loaded";
}

CURLM *s3c_multi_init(void) { return fn.multi_init(); }
CURLMcode s3c_multi_cleanup(CURLM *m) { return fn.multi_cleanup(m); }

CURLMcode
s3c_multi_add_handle(CURLM *m, CURL *h)
{
	return fn.multi_add_handle(m, h);
}

CURLMcode
s3c_multi_remove_handle(CURLM *m, CURL *h)
{
	return fn.multi_remove_handle(m, h);
}

CURLMcode
s3c_multi_perform(CURLM *m, int *running)
{
	return fn.multi_perform(m, running);
}

CURLMcode
s3c_multi_poll(CURLM *m, struct curl_waitfd *fds, unsigned n, int timeout_ms,
    int *numfds)
{
	return fn.multi_poll(m, fds, n, timeout_ms, numfds);
}

CURLMsg *
s3c_multi_info_read(CURLM *m, int *left)
{
	return fn.multi_info_read(m, left);
}

CURLMcode
s3c_multi_setopt(CURLM *m, CURLMoption o, intptr_t v)
{
	return fn.multi_setopt(m, o, v);
}

const char *
s3c_multi_strerror(CURLMcode c)
{
	return loaded ? fn.multi_strerror(c) : "libcurl not loaded";
}

struct curl_slist *
s3c_slist_append(struct curl_slist *l, const char *s)
{
	return fn.slist_append(l, s);
}

void
s3c_slist_free_all(struct curl_slist *l)
{
	if (loaded)
		fn.slist_free_all(l);
}
