/*
 * codec.c - the page codecs, over libsnappy, zlib and libzstd.
 *
 * One codec_ctx per reader or writer keeps the zstd contexts, so a file
 * of many pages does not allocate per page.
 *
 * libsnappy is loaded with dlopen(3) on the first SNAPPY page, not linked:
 * it is C++ and brings libstdc++ along, about half a millisecond of
 * start-up for every stage process, while our own tables are ZSTD and
 * only files written by other engines are SNAPPY.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "codec.h"
#include "parquet.h"

struct codec_ctx {
	ZSTD_CCtx *zc;
	ZSTD_DCtx *zd;
};

#define SNAPPY_SONAME "libsnappy.so.1"

/* The four functions of snappy-c.h that the codecs call. */
typedef struct snappy_api {
	snappy_status (*compress)(const char *, size_t, char *, size_t *);
	snappy_status (*uncompress)(const char *, size_t, char *, size_t *);
	size_t (*max_compressed_length)(size_t);
	snappy_status (*uncompressed_length)(const char *, size_t, size_t *);
} snappy_api;

static snappy_api snappy;
static char snappy_load_error[512];
static pthread_once_t snappy_once = PTHREAD_ONCE_INIT;

/* Looks up one symbol into *slot (a function pointer's storage). */
static int
snappy_lookup(void *lib, const char *name, void **slot)
{
	if ((*slot = dlsym(lib, name)) != NULL)
		return 0;
	snprintf(snappy_load_error, sizeof(snappy_load_error), "snappy: %s "
	    "has no %s: %s", SNAPPY_SONAME, name, dlerror());
	return -1;
}

static void
snappy_load(void)
{
	void *lib = dlopen(SNAPPY_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (lib == NULL) {
		snprintf(snappy_load_error, sizeof(snappy_load_error),
		    "snappy: cannot load %s (install Debian's libsnappy1v5): "
		    "%s", SNAPPY_SONAME, dlerror());
		return;
	}
	/* POSIX guarantees a data pointer can hold a function's address. */
	if (snappy_lookup(lib, "snappy_compress",
	    (void **)&snappy.compress) == -1 ||
	    snappy_lookup(lib, "snappy_uncompress",
	    (void **)&snappy.uncompress) == -1 ||
	    snappy_lookup(lib, "snappy_max_compressed_length",
	    (void **)&snappy.max_compressed_length) == -1 ||
	    snappy_lookup(lib, "snappy_uncompressed_length",
	    (void **)&snappy.uncompressed_length) == -1) {
		memset(&snappy, 0, sizeof(snappy));
		dlclose(lib);
	}
}

/* The snappy functions, loaded once per process; NULL if they can't be. */
static const snappy_api *
snappy_get(lake_err *err)
{
	pthread_once(&snappy_once, snappy_load);
	if (snappy.compress == NULL) {
		lake_err_set(err, "%s", snappy_load_error);
		return NULL;
	}
	return &snappy;
}

codec_ctx *
codec_new(void)
{
	return calloc(1, sizeof(codec_ctx));
}

void
codec_free(codec_ctx *c)
{
	if (c == NULL)
		return;
	ZSTD_freeCCtx(c->zc);
	ZSTD_freeDCtx(c->zd);
	free(c);
}

const char *
codec_name(int codec)
{
	switch (codec) {
	case PQ_CODEC_UNCOMPRESSED:
		return "uncompressed";
	case PQ_CODEC_SNAPPY:
		return "snappy";
	case PQ_CODEC_GZIP:
		return "gzip";
	case 3:
		return "lzo";
	case 4:
		return "brotli";
	case 5:
		return "lz4";
	case PQ_CODEC_ZSTD:
		return "zstd";
	case 7:
		return "lz4_raw";
	default:
		return "unknown";
	}
}

static int
gzip_compress(const uint8_t *src, size_t n, lake_buf *out, lake_err *err)
{
	z_stream zs;
	int rc;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + 15, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK) {
		lake_err_set(err, "gzip: cannot initialise the compressor");
		return -1;
	}
	if (lake_buf_reserve(out, deflateBound(&zs, n) + 32) == -1) {
		deflateEnd(&zs);
		lake_err_set(err, "gzip: out of memory");
		return -1;
	}
	zs.next_in = (Bytef *)src;
	zs.avail_in = (uInt)n;
	zs.next_out = out->data;
	zs.avail_out = (uInt)out->cap;
	rc = deflate(&zs, Z_FINISH);
	out->len = zs.total_out;
	deflateEnd(&zs);
	if (rc != Z_STREAM_END) {
		lake_err_set(err, "gzip: compression failed");
		return -1;
	}
	return 0;
}

int
codec_compress(codec_ctx *c, int codec, int level, const uint8_t *src,
    size_t n, lake_buf *out, lake_err *err)
{
	const snappy_api *sn;
	size_t bound, got;

	out->len = 0;
	switch (codec) {
	case PQ_CODEC_UNCOMPRESSED:
		lake_buf_append(out, src, n);
		break;
	case PQ_CODEC_SNAPPY:
		if ((sn = snappy_get(err)) == NULL)
			return -1;
		bound = sn->max_compressed_length(n);
		if (lake_buf_reserve(out, bound) == -1)
			break;
		got = bound;
		if (sn->compress((const char *)src, n, (char *)out->data,
		    &got) != SNAPPY_OK) {
			lake_err_set(err, "snappy: compression failed");
			return -1;
		}
		out->len = got;
		break;
	case PQ_CODEC_GZIP:
		return gzip_compress(src, n, out, err);
	case PQ_CODEC_ZSTD:
		if (c->zc == NULL && (c->zc = ZSTD_createCCtx()) == NULL)
			break;
		bound = ZSTD_compressBound(n);
		if (lake_buf_reserve(out, bound) == -1)
			break;
		got = ZSTD_compressCCtx(c->zc, out->data, bound, src, n, level);
		if (ZSTD_isError(got)) {
			lake_err_set(err, "zstd: %s", ZSTD_getErrorName(got));
			return -1;
		}
		out->len = got;
		break;
	default:
		lake_err_set(err, "cannot write codec %s", codec_name(codec));
		return -1;
	}
	if (out->failed) {
		lake_err_set(err, "%s: out of memory", codec_name(codec));
		return -1;
	}
	return 0;
}

static int
gzip_decompress(const uint8_t *src, size_t n, uint8_t *dst, size_t dst_len,
    lake_err *err)
{
	z_stream zs;
	int rc;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + 15) != Z_OK) {
		lake_err_set(err, "gzip: cannot initialise the decompressor");
		return -1;
	}
	zs.next_in = (Bytef *)src;
	zs.avail_in = (uInt)n;
	zs.next_out = dst;
	zs.avail_out = (uInt)dst_len;
	rc = inflate(&zs, Z_FINISH);
	inflateEnd(&zs);
	if (rc != Z_STREAM_END || zs.total_out != dst_len) {
		lake_err_set(err, "gzip: corrupt page (inflated %lu of %zu "
		    "bytes)", (unsigned long)zs.total_out, dst_len);
		return -1;
	}
	return 0;
}

int
codec_decompress(codec_ctx *c, int codec, const uint8_t *src, size_t n,
    uint8_t *dst, size_t dst_len, lake_err *err)
{
	const snappy_api *sn;
	size_t got;

	switch (codec) {
	case PQ_CODEC_UNCOMPRESSED:
		if (n != dst_len) {
			lake_err_set(err, "page sizes disagree (%zu stored, "
			    "%zu expected)", n, dst_len);
			return -1;
		}
		memcpy(dst, src, n);
		return 0;
	case PQ_CODEC_SNAPPY:
		if ((sn = snappy_get(err)) == NULL)
			return -1;
		if (sn->uncompressed_length((const char *)src, n, &got) !=
		    SNAPPY_OK || got != dst_len) {
			lake_err_set(err, "snappy: corrupt page or wrong "
			    "uncompressed size");
			return -1;
		}
		if (sn->uncompress((const char *)src, n, (char *)dst,
		    &got) != SNAPPY_OK || got != dst_len) {
			lake_err_set(err, "snappy: corrupt page");
			return -1;
		}
		return 0;
	case PQ_CODEC_GZIP:
		return gzip_decompress(src, n, dst, dst_len, err);
	case PQ_CODEC_ZSTD:
		if (c->zd == NULL && (c->zd = ZSTD_createDCtx()) == NULL) {
			lake_err_set(err, "zstd: out of memory");
			return -1;
		}
		got = ZSTD_decompressDCtx(c->zd, dst, dst_len, src, n);
		if (ZSTD_isError(got) || got != dst_len) {
			lake_err_set(err, "zstd: corrupt page (%s)",
			    ZSTD_isError(got) ? ZSTD_getErrorName(got) :
			    "wrong size");
			return -1;
		}
		return 0;
	default:
		lake_err_set(err, "codec %s is not supported (use snappy, "
		    "gzip, zstd or none)", codec_name(codec));
		return -1;
	}
}
