/*
 * s3_curl.h - libcurl for the S3 client, loaded with dlopen(3) at the
 * first S3 client instead of linked.
 *
 * Why: libcurl brings some 28 shared libraries (TLS, SSH, LDAP, Kerberos,
 * IDN...), whose loading costs every process that links it about 6 ms at
 * start, and every stage links the lake library; most runs never talk to
 * S3, and an increment's stage runs in a few ms. So the S3 sources call
 * these wrappers (the curl_* names below are macros for them), which
 * resolve libcurl's functions once, on the first s3_client_new. Include
 * it instead of <curl/curl.h>, after it.
 *
 * The variadic setters and getters pass their one argument on as a
 * 64-bit integer: a long, a pointer, a function pointer or a curl_off_t,
 * all of which travel in the same integer register on the LP64 targets
 * we build for (x86-64, aarch64), which is how libcurl's va_arg reads
 * them back.
 */
#ifndef LAKE_S3_CURL_H
#define LAKE_S3_CURL_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

/* 0 when libcurl is loaded (once); -1 with why filled when it cannot be. */
int s3_curl_load(char *why, size_t len);

CURLcode s3c_global_init(long flags);
void s3c_global_cleanup(void);
CURL *s3c_easy_init(void);
void s3c_easy_cleanup(CURL *h);
void s3c_easy_reset(CURL *h);
CURLcode s3c_easy_setopt(CURL *h, CURLoption o, intptr_t v);
CURLcode s3c_easy_getinfo(CURL *h, CURLINFO i, void *out);
const char *s3c_easy_strerror(CURLcode c);
CURLM *s3c_multi_init(void);
CURLMcode s3c_multi_cleanup(CURLM *m);
CURLMcode s3c_multi_add_handle(CURLM *m, CURL *h);
CURLMcode s3c_multi_remove_handle(CURLM *m, CURL *h);
CURLMcode s3c_multi_perform(CURLM *m, int *running);
CURLMcode s3c_multi_poll(CURLM *m, struct curl_waitfd *fds, unsigned n,
    int timeout_ms, int *numfds);
CURLMsg *s3c_multi_info_read(CURLM *m, int *left);
CURLMcode s3c_multi_setopt(CURLM *m, CURLMoption o, intptr_t v);
const char *s3c_multi_strerror(CURLMcode c);
struct curl_slist *s3c_slist_append(struct curl_slist *l, const char *s);
void s3c_slist_free_all(struct curl_slist *l);

#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_global_init s3c_global_init
#define curl_global_cleanup s3c_global_cleanup
#define curl_easy_init s3c_easy_init
#define curl_easy_cleanup s3c_easy_cleanup
#define curl_easy_reset s3c_easy_reset
#define curl_easy_setopt(h, o, v) s3c_easy_setopt((h), (o), (intptr_t)(v))
#define curl_easy_getinfo(h, i, p) s3c_easy_getinfo((h), (i), (p))
#define curl_easy_strerror s3c_easy_strerror
#define curl_multi_init s3c_multi_init
#define curl_multi_cleanup s3c_multi_cleanup
#define curl_multi_add_handle s3c_multi_add_handle
#define curl_multi_remove_handle s3c_multi_remove_handle
#define curl_multi_perform s3c_multi_perform
#define curl_multi_poll s3c_multi_poll
#define curl_multi_info_read s3c_multi_info_read
#define curl_multi_setopt(m, o, v) s3c_multi_setopt((m), (o), (intptr_t)(v))
#define curl_multi_strerror s3c_multi_strerror
#define curl_slist_append s3c_slist_append
#define curl_slist_free_all s3c_slist_free_all

#endif
