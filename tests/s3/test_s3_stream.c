/*
 * test_s3_stream.c - data files written to an S3 lake go out with bounded
 * memory (stages/lake/lake_store_s3.c), against a real S3 server (driven
 * by tests/s3/stream.sh, which starts a throwaway Ceph RGW):
 *
 *   test_s3_stream big URI MIB   writes MIB MiB through one lake_out
 *                                (closed without sync, made durable by
 *                                its barrier), reads it back in ranges
 *                                and compares, and checks that the peak
 *                                RSS stayed well under the file's size
 *   test_s3_stream small DIR N   N small files closed without sync cost
 *                                no request until their barrier, then N
 *                                PUTs, sent together
 *   test_s3_stream budget DIR    files closed without sync past the held
 *                                budget go up before their barrier, and
 *                                the barrier still makes every one
 *                                durable; a large temp object is never
 *                                sent under its temp name
 *   test_s3_stream abort DIR     an aborted stream leaves no object (the
 *                                shell checks for multipart uploads), a
 *                                closed one deleted before its barrier
 *                                neither
 *   test_s3_stream fail URI      a stream into a bucket that does not
 *                                exist fails, naming bucket, key, status
 *                                and S3 code
 *
 * The bytes are a xorshift stream (incompressible, reproducible from
 * their offset's seed). Exit 0 when every check passed.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "expect.h"
#include "lake_store.h"

#define MIB ((size_t)1 << 20)
/* AddressSanitizer keeps freed memory in quarantine (256 MiB): the peak
 * RSS says nothing of ours there, so it is printed, not checked. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_CHECKED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_CHECKED 0
#endif
#endif
#ifndef RSS_CHECKED
#define RSS_CHECKED 1
#endif
#define CHUNK ((size_t)256 << 10)	/* a Parquet page's size */

/* Fills buf with the bytes of stream seed from 8-byte aligned offset
 * off (each 8 bytes a function of seed and their offset). */
static void
fill(uint8_t *buf, size_t len, uint64_t seed, uint64_t off)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t x = seed ^ ((off + i) * 0x9E3779B97F4A7C15ull);

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(buf + i, &x, len - i < 8 ? len - i : 8);
	}
}

/* The peak resident set of this process so far, in KiB (VmHWM). */
static long
peak_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static uint64_t
requests(void)
{
	lake_store_stats st;

	lake_store_stats_get(&st);
	return st.requests;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes len bytes of stream seed to name, a page at a time. */
static int
write_stream(const char *name, uint64_t seed, size_t len, int mode,
    lake_err *err)
{
	uint8_t *chunk = malloc(CHUNK);
	lake_out *o = lake_out_create(name, 0, err);
	int rc = -1;

	if (chunk == NULL || o == NULL)
		goto out;
	for (size_t off = 0; off < len; off += CHUNK) {
		size_t n = len - off < CHUNK ? len - off : CHUNK;

		fill(chunk, n, seed, off);
		if (lake_out_write(o, chunk, n, err) != 0) {
			lake_out_abort(o);
			o = NULL;
			goto out;
		}
	}
	rc = lake_out_close(o, mode, err);
	o = NULL;
out:
	if (o != NULL)
		lake_out_abort(o);
	free(chunk);
	return rc;
}

/* Reads name back a MiB at a time: 0 when it is len bytes of seed. */
static int
check_stream(const char *name, uint64_t seed, size_t len, lake_err *err)
{
	uint8_t *got = malloc(MIB), *want = malloc(MIB);
	lake_in *in = lake_in_open(name, -1, err);
	uint64_t size = 0;
	int rc = -1;

	if (got == NULL || want == NULL || in == NULL)
		goto out;
	if (lake_in_size(in, &size, err) != 0 || size != len) {
		EXPECT(0, "%s: %" PRIu64 " bytes, want %zu", name, size, len);
		goto out;
	}
	for (size_t off = 0; off < len; off += MIB) {
		size_t n = len - off < MIB ? len - off : MIB, k = 0;

		if (lake_in_read_at(in, off, n, got, &k, err) != 0 || k != n)
			goto out;
		fill(want, n, seed, off);
		if (memcmp(got, want, n) != 0) {
			EXPECT(0, "%s: bytes differ in the MiB at %zu", name,
			    off);
			goto out;
		}
	}
	rc = 0;
out:
	lake_in_close(in);
	free(got);
	free(want);
	return rc;
}

static void
test_big(const char *name, size_t mib)
{
	size_t len = mib * MIB + 12345;	/* a short last part */
	uint64_t r0 = requests();
	long before = peak_rss_kib(), peak;
	double t0 = now_s(), t1;
	lake_err err;

	EXPECT(write_stream(name, 1, len, LAKE_OUT_LATER, &err) == 0,
	    "write: %s", err.msg);
	EXPECT(lake_store_sync_file(name, &err) == 0, "barrier: %s", err.msg);
	t1 = now_s();
	peak = peak_rss_kib();
	printf("# wrote %zu MiB in %.2f s (%.0f MiB/s), %" PRIu64 " requests;"
	    " peak RSS %ld MiB (%ld MiB before)\n", mib, t1 - t0,
	    (double)mib / (t1 - t0), requests() - r0, peak / 1024,
	    before / 1024);
	/* Parts of 8 MiB, a few in flight, the writer's page, the client. */
	EXPECT(!RSS_CHECKED || (peak < (long)(len / 1024) / 4 &&
	    peak < 80 * 1024),
	    "peak RSS %ld KiB for a file of %zu KiB", peak, len / 1024);
	EXPECT(requests() - r0 <= len / (8 * MIB) + 3, "%" PRIu64
	    " requests: a create, a part each 8 MiB, a complete",
	    requests() - r0);
	EXPECT(check_stream(name, 1, len, &err) == 0, "read back: %s",
	    err.msg);
	peak = peak_rss_kib();
	EXPECT(!RSS_CHECKED || peak < (long)(len / 1024) / 4, "peak RSS %ld "
	    "KiB after reading it back", peak);
	EXPECT(lake_store_delete(name, &err) == 0, "%s", err.msg);
}

static void
test_small(const char *dir, int n)
{
	char name[4096];
	uint64_t r0 = requests(), r1;
	double t0, t1;
	lake_err err;
	uint64_t size;

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s/f%04d", dir, i);
		EXPECT(write_stream(name, (uint64_t)i, 10000 + (size_t)i,
		    LAKE_OUT_LATER, &err) == 0, "%s: %s", name, err.msg);
	}
	EXPECT(requests() == r0, "%" PRIu64 " requests before the barrier",
	    requests() - r0);
	t0 = now_s();
	EXPECT(lake_store_sync_tree(dir, &err) == 0, "barrier: %s", err.msg);
	t1 = now_s();
	r1 = requests();
	printf("# %d files at the barrier: %" PRIu64 " requests in %.3f s\n",
	    n, r1 - r0, t1 - t0);
	EXPECT(r1 - r0 == (uint64_t)n, "%" PRIu64 " requests for %d files",
	    r1 - r0, n);
	for (int i = 0; i < n; i += n / 7 + 1) {
		snprintf(name, sizeof(name), "%s/f%04d", dir, i);
		EXPECT(check_stream(name, (uint64_t)i, 10000 + (size_t)i,
		    &err) == 0, "%s: %s", name, err.msg);
	}
	snprintf(name, sizeof(name), "%s/f%04d", dir, n - 1);
	EXPECT(lake_store_stat(name, &size, NULL, &err) == 0 &&
	    size == 10000 + (size_t)n - 1, "stat: %s", err.msg);
}

static int
count(const lake_store_entry *e, void *arg)
{
	(void)e;
	(*(int *)arg)++;
	return 0;
}

static void
test_budget(const char *dir)
{
	char name[4096], tmp[4096];
	const size_t each = 4 * MIB + 100;
	const int n = 24;	/* 96 MiB: past the held budget of 64 */
	int listed = 0, early;
	uint64_t r0;
	lake_err err;

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s/g%02d", dir, i);
		EXPECT(write_stream(name, 100 + (uint64_t)i, each,
		    LAKE_OUT_LATER, &err) == 0, "%s: %s", name, err.msg);
	}
	EXPECT(lake_store_list(dir, NULL, 0, count, &listed, &err) == 0,
	    "list: %s", err.msg);
	printf("# %d of %d files of 4 MiB up before their barrier; peak RSS "
	    "%ld MiB\n", listed, n, peak_rss_kib() / 1024);
	/* 64 MiB held, closed and open: the 16th file's writer sends the
	 * 15 closed ones (a batch of at least 16 MiB). */
	EXPECT(listed >= 12 && listed < n, "%d files sent early", listed);
	early = listed;
	EXPECT(!RSS_CHECKED || peak_rss_kib() < 100 * 1024, "peak RSS %ld KiB",
	    peak_rss_kib());
	/* A temp object larger than a part is held whole and never sent,
	 * not even by a barrier over its folder: its link sends it under
	 * the final name. */
	snprintf(tmp, sizeof(tmp), "%s/.tmp-big.json", dir);
	snprintf(name, sizeof(name), "%s/linked", dir);
	r0 = requests();
	EXPECT(write_stream(tmp, 7, 20 * MIB, LAKE_OUT_TEMP, &err) == 0,
	    "temp: %s", err.msg);
	EXPECT(lake_store_sync_tree(dir, &err) == 0, "barrier: %s", err.msg);
	EXPECT(requests() - r0 == (uint64_t)(n - early), "%" PRIu64
	    " requests at the barrier for %d files held", requests() - r0,
	    n - early);
	EXPECT(lake_store_stat(tmp, NULL, NULL, &err) == 0, "the temp is "
	    "still held");
	EXPECT(lake_store_link(tmp, name, 1, &err) == 0, "link: %s", err.msg);
	EXPECT(check_stream(name, 7, 20 * MIB, &err) == 0, "linked: %s",
	    err.msg);
	listed = 0;
	EXPECT(lake_store_list(dir, NULL, 0, count, &listed, &err) == 0 &&
	    listed == n + 1, "%d objects after the barrier, want %d", listed,
	    n + 1);
	for (int i = 0; i < n; i += 5) {
		snprintf(name, sizeof(name), "%s/g%02d", dir, i);
		EXPECT(check_stream(name, 100 + (uint64_t)i, each, &err) == 0,
		    "%s: %s", name, err.msg);
	}
}

static void
test_abort(const char *dir)
{
	char name[4096];
	uint8_t chunk[4096];
	lake_out *o;
	lake_err err;

	/* Three parts sent, then the writer gives up. */
	snprintf(name, sizeof(name), "%s/aborted", dir);
	EXPECT((o = lake_out_create(name, 0, &err)) != NULL, "%s", err.msg);
	memset(chunk, 'a', sizeof(chunk));
	for (size_t off = 0; o != NULL && off < 26 * MIB; off += sizeof(chunk))
		if (lake_out_write(o, chunk, sizeof(chunk), &err) != 0) {
			EXPECT(0, "write: %s", err.msg);
			break;
		}
	lake_out_abort(o);
	EXPECT(lake_store_stat(name, NULL, NULL, &err) ==
	    LAKE_STORE_NOT_FOUND, "an aborted stream leaves no object");
	/* Closed (its upload completes in the background), then deleted
	 * before any barrier: gone too. */
	snprintf(name, sizeof(name), "%s/deleted", dir);
	EXPECT(write_stream(name, 3, 20 * MIB, LAKE_OUT_LATER, &err) == 0,
	    "%s", err.msg);
	EXPECT(lake_store_delete(name, &err) == 0, "delete: %s", err.msg);
	EXPECT(lake_store_stat(name, NULL, NULL, &err) ==
	    LAKE_STORE_NOT_FOUND, "a deleted stream leaves no object");
	EXPECT(lake_store_sync_tree(dir, &err) == 0, "barrier: %s", err.msg);
	EXPECT(lake_store_stat(name, NULL, NULL, &err) ==
	    LAKE_STORE_NOT_FOUND, "... even after a barrier");
}

static void
test_fail(const char *name)
{
	lake_err err = { { 0 }, LAKE_ERR_FAILED };

	EXPECT(write_stream(name, 9, 20 * MIB, LAKE_OUT_LATER, &err) != 0,
	    "a stream into a missing bucket fails");
	printf("# %s\n", err.msg);
	EXPECT(strstr(err.msg, "404") != NULL &&
	    strstr(err.msg, "NoSuchBucket") != NULL &&
	    strstr(err.msg, "/big") != NULL, "the message names key, status "
	    "and code: %s", err.msg);
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 3) {
		fprintf(stderr, "usage: test_s3_stream big|small|budget|abort|"
		    "fail URI [N]\n");
		return 2;
	}
	if (strcmp(argv[1], "big") == 0)
		test_big(argv[2], argc > 3 ? (size_t)atol(argv[3]) : 200);
	else if (strcmp(argv[1], "small") == 0)
		test_small(argv[2], argc > 3 ? atoi(argv[3]) : 200);
	else if (strcmp(argv[1], "budget") == 0)
		test_budget(argv[2]);
	else if (strcmp(argv[1], "abort") == 0)
		test_abort(argv[2]);
	else if (strcmp(argv[1], "fail") == 0)
		test_fail(argv[2]);
	else
		return 2;
	return expect_report(argv[1]);
}
