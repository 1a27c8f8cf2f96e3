/*
 * test_s3_client.c - the S3 client (stages/lake/s3.h) against a real Ceph
 * RADOS Gateway, one case per subcommand, driven by tests/s3/client.sh
 * (which starts the gateway with tests/lib/s3-cluster and exports its
 * settings the AWS CLI's way).
 *
 *   test_s3_client CASE [ARG]
 *
 * Cases: basic, race, list, many, multipart, get-many, wrong-secret, unreachable
 * PORT, outage-write KEY, outage-read KEY, roundtrip, expect-auth, bench,
 * throughput.
 * Each reads its settings with s3_config_from_env, prints what it
 * measured as "# ..." lines, and exits 0 when every EXPECT held. Every
 * error message it sees is checked for the secret, and printed, so the
 * shell can check the output too.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "expect.h"
#include "s3.h"

static const char *bucket;

/* Checks a message: non-empty, naming the bucket and what, no secret. */
static void
check_msg(const s3_err *err, const s3_config *cfg, const char *what)
{
	printf("# message: %s\n", err->msg);
	EXPECT(err->msg[0] != '\0', "an empty message");
	EXPECT(strstr(err->msg, bucket) != NULL, "no bucket in: %s",
	    err->msg);
	EXPECT(what == NULL || strstr(err->msg, what) != NULL,
	    "'%s' not in: %s", what, err->msg);
	EXPECT(strstr(err->msg, cfg->secret_key) == NULL,
	    "the secret is in a message");
	EXPECT(getenv("AWS_SECRET_ACCESS_KEY") == NULL ||
	    strstr(err->msg, getenv("AWS_SECRET_ACCESS_KEY")) == NULL,
	    "the secret is in a message");
}

static s3_client *
client_from_env(s3_config *cfg)
{
	s3_err err;
	s3_client *c;

	if (s3_config_from_env(cfg, &err) != 0) {
		fprintf(stderr, "settings: %s\n", err.msg);
		exit(1);
	}
	c = s3_client_new(cfg, bucket, &err);
	if (c == NULL) {
		fprintf(stderr, "client: %s\n", err.msg);
		exit(1);
	}
	return c;
}

static unsigned long long
requests_sent(const s3_client *c)
{
	s3_stats st;

	s3_client_stats(c, &st);
	return (unsigned long long)st.requests;
}

static void
fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		p[i] = (uint8_t)seed;
	}
}

static void
run_id(char *out, size_t len)
{
	snprintf(out, len, "run-%lld", (long long)clock_now_us());
}

/* --- basic: put, get, ranges, size, head, delete, kinds ------------------ */

static void
basic_ranges(s3_client *c, const char *key, const uint8_t *data, size_t n)
{
	uint8_t buf[256];
	uint64_t size = 0;
	size_t got = 0;
	s3_err err;

	EXPECT(s3_get_range(c, key, 100, 10, buf, &got, &size, &err) == 0,
	    "range: %s", err.msg);
	EXPECT(got == 10 && memcmp(buf, data + 100, 10) == 0 && size == n,
	    "range 100+10: got %zu, size %llu", got,
	    (unsigned long long)size);
	EXPECT(s3_get_tail(c, key, 8, buf, &got, &size, &err) == 0,
	    "tail: %s", err.msg);
	EXPECT(got == 8 && memcmp(buf, data + n - 8, 8) == 0 && size == n,
	    "tail 8: got %zu, size %llu", got, (unsigned long long)size);
	EXPECT(s3_get_range(c, key, n - 4, 10, buf, &got, &size, &err) == 0 &&
	    got == 4 && memcmp(buf, data + n - 4, 4) == 0,
	    "a range over the end: %zu bytes", got);
	EXPECT(s3_get_range(c, key, n + 10, 10, buf, &got, &size, &err) == 0 &&
	    got == 0 && size == n, "a range past the end: %zu bytes, size "
	    "%llu", got, (unsigned long long)size);
	EXPECT(s3_get_tail(c, key, sizeof(buf), buf, &got, &size, &err) == 0,
	    "tail: %s", err.msg);
	EXPECT(got == sizeof(buf) && size == n, "tail 256");
}

static void
basic_object(s3_client *c, const s3_config *cfg, const char *key)
{
	uint8_t data[100000], *back = NULL;
	uint64_t size = 0;
	size_t len = 0;
	s3_err err;

	fill_random(data, sizeof(data), 42);
	EXPECT(s3_put(c, key, data, sizeof(data), &err) == 0, "put: %s",
	    err.msg);
	EXPECT(s3_head(c, key, &size, &err) == 0 && size == sizeof(data),
	    "head: %llu %s", (unsigned long long)size, err.msg);
	EXPECT(s3_get_alloc(c, key, &back, &len, &err) == 0, "get: %s",
	    err.msg);
	EXPECT(len == sizeof(data) && back != NULL &&
	    memcmp(back, data, len) == 0, "get returned %zu bytes, not what "
	    "was put", len);
	free(back);
	basic_ranges(c, key, data, sizeof(data));
	EXPECT(s3_delete(c, key, &err) == 0, "delete: %s", err.msg);
	EXPECT(s3_head(c, key, &size, &err) == -1 &&
	    err.kind == S3_ERR_NOT_FOUND && err.http_status == 404,
	    "head after delete: kind %s", s3_err_kind_name(err.kind));
	check_msg(&err, cfg, "404");
	EXPECT(s3_get_alloc(c, key, &back, &len, &err) == -1 &&
	    err.kind == S3_ERR_NOT_FOUND, "get after delete");
	check_msg(&err, cfg, "NoSuchKey");
	EXPECT(s3_delete(c, key, &err) == 0, "deleting an absent key: %s",
	    err.msg);
}

static int
case_basic(void)
{
	static const char *odd[] = {
		"with space/and+plus=eq&amp?q#h.bin", "caf\xc3\xa9/\xe2\x82\xac.json",
		"date=2026-11-01/part-00000-x.parquet", "a/b//c", "~tilde*(x)!",
	};
	char key[256], id[64];
	uint8_t *back = NULL, buf[8];
	uint64_t size = 1;
	size_t len = 1, i, got = 1;
	s3_config cfg;
	s3_client *c = client_from_env(&cfg);
	s3_err err;

	run_id(id, sizeof(id));
	snprintf(key, sizeof(key), "%s/basic/obj", id);
	basic_object(c, &cfg, key);
	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		snprintf(key, sizeof(key), "%s/odd/%s", id, odd[i]);
		EXPECT(s3_put(c, key, odd[i], strlen(odd[i]), &err) == 0,
		    "put '%s': %s", key, err.msg);
		EXPECT(s3_get_alloc(c, key, &back, &len, &err) == 0 &&
		    len == strlen(odd[i]) && memcmp(back, odd[i], len) == 0,
		    "get '%s': %s", key, err.msg);
		free(back);
	}
	snprintf(key, sizeof(key), "%s/basic/empty", id);
	EXPECT(s3_put(c, key, "", 0, &err) == 0, "put empty: %s", err.msg);
	EXPECT(s3_get_alloc(c, key, &back, &len, &err) == 0 && len == 0,
	    "get empty: %s", err.msg);
	free(back);
	EXPECT(s3_get_tail(c, key, 8, buf, &got, &size, &err) == 0 &&
	    got == 0 && size == 0, "tail of an empty object: %s", err.msg);
	EXPECT(s3_put(c, "bad/../key", "x", 1, &err) == -1 &&
	    err.kind == S3_ERR_CONFIG, "a '..' key is refused before sending");
	s3_config_wipe(&cfg);
	s3_client_free(c);
	return expect_report("basic");
}

/* --- race: put-if-absent, one winner ------------------------------------- */

#define RACE_WRITERS 4
#define RACE_ROUNDS 25

typedef struct racer {
	int id;
	const char *run;
	pthread_barrier_t *start;
	int won[RACE_ROUNDS];
	int other_errors;
	char first_error[512];
} racer;

static void *
race_writer(void *arg)
{
	racer *r = arg;
	s3_config cfg;
	s3_client *c = client_from_env(&cfg);
	char key[128], body[64];
	s3_err err;
	int round;

	for (round = 0; round < RACE_ROUNDS; round++) {
		snprintf(key, sizeof(key), "%s/race/_delta_log/%020d.json",
		    r->run, round);
		snprintf(body, sizeof(body), "writer %d round %d\n", r->id,
		    round);
		pthread_barrier_wait(r->start);
		if (s3_put_if_absent(c, key, body, strlen(body), &err) == 0)
			r->won[round] = 1;
		else if (err.kind != S3_ERR_EXISTS && r->other_errors++ == 0)
			snprintf(r->first_error, sizeof(r->first_error), "%s",
			    err.msg);
		else if (round == 0)
			printf("# a loser's message: %s\n", err.msg);
	}
	s3_config_wipe(&cfg);
	s3_client_free(c);
	return NULL;
}

static int
case_race(void)
{
	racer r[RACE_WRITERS];
	pthread_t t[RACE_WRITERS];
	pthread_barrier_t start;
	char id[64];
	int i, round, multi_winner = 0, no_winner = 0;

	run_id(id, sizeof(id));
	pthread_barrier_init(&start, NULL, RACE_WRITERS);
	for (i = 0; i < RACE_WRITERS; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].id = i;
		r[i].run = id;
		r[i].start = &start;
		pthread_create(&t[i], NULL, race_writer, &r[i]);
	}
	for (i = 0; i < RACE_WRITERS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
	for (round = 0; round < RACE_ROUNDS; round++) {
		int winners = 0;

		for (i = 0; i < RACE_WRITERS; i++)
			winners += r[i].won[round];
		multi_winner += winners > 1;
		no_winner += winners == 0;
	}
	for (i = 0; i < RACE_WRITERS; i++)
		EXPECT(r[i].other_errors == 0, "writer %d: %d errors not "
		    "'exists', the first: %s", i, r[i].other_errors,
		    r[i].first_error);
	EXPECT(multi_winner == 0 && no_winner == 0, "%d of %d rounds had "
	    "several winners, %d none", multi_winner, RACE_ROUNDS, no_winner);
	printf("# %d rounds of %d writers: one winner each\n", RACE_ROUNDS,
	    RACE_WRITERS);
	return expect_report("race");
}

/* --- list and many: parallel puts, pages, start-after -------------------- */

#define LIST_KEYS 1234

typedef struct collected {
	char **keys;
	size_t n;
	size_t stop_at;		/* stop after this many; 0: never */
} collected;

static int
collect(const char *key, uint64_t size, void *arg)
{
	collected *col = arg;

	(void)size;
	col->keys[col->n++] = strdup(key);
	return col->stop_at != 0 && col->n == col->stop_at;
}

static void
collected_free(collected *col)
{
	size_t i;

	for (i = 0; i < col->n; i++)
		free(col->keys[i]);
	col->n = 0;
}

/* Writes n keys PREFIX/%06zu with s3_put_many; the items (owned). */
static s3_put_item *
put_numbered(s3_client *c, const char *prefix, size_t n, char ***keys)
{
	s3_put_item *items = calloc(n, sizeof(*items));
	s3_err err;
	size_t i;

	*keys = calloc(n, sizeof(**keys));
	for (i = 0; i < n; i++) {
		if (asprintf(&(*keys)[i], "%s/%06zu", prefix, i) < 0)
			exit(1);
		items[i].key = (*keys)[i];
		items[i].data = (*keys)[i];
		items[i].len = strlen((*keys)[i]);
	}
	EXPECT(s3_put_many(c, items, n, &err) == 0, "put_many: %s", err.msg);
	return items;
}

static void
free_numbered(s3_put_item *items, char **keys, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	free(items);
}

static int
case_list(void)
{
	s3_config cfg;
	s3_client *c = client_from_env(&cfg);
	collected col = { calloc(LIST_KEYS + 10, sizeof(char *)), 0, 0 };
	char id[64], prefix[128], other[128], after[160];
	s3_put_item *items;
	s3_stats st0, st1;
	char **keys;
	int64_t t0;
	s3_err err;
	size_t i, ordered = 1;

	run_id(id, sizeof(id));
	snprintf(prefix, sizeof(prefix), "%s/list/t", id);
	snprintf(other, sizeof(other), "%s/list/t2/x", id);
	EXPECT(s3_put(c, other, "x", 1, &err) == 0, "put: %s", err.msg);
	t0 = clock_mono_us();
	items = put_numbered(c, prefix, LIST_KEYS, &keys);
	printf("# put_many of %d keys: %.0f ms\n", LIST_KEYS,
	    (double)(clock_mono_us() - t0) / 1000);

	snprintf(prefix, sizeof(prefix), "%s/list/t/", id);
	s3_client_stats(c, &st0);
	t0 = clock_mono_us();
	EXPECT(s3_list(c, prefix, NULL, collect, &col, &err) == 0, "list: %s",
	    err.msg);
	s3_client_stats(c, &st1);
	printf("# list of %zu keys: %llu requests, %.0f ms\n", col.n,
	    (unsigned long long)(st1.requests - st0.requests),
	    (double)(clock_mono_us() - t0) / 1000);
	EXPECT(col.n == LIST_KEYS, "listed %zu keys, not %d", col.n,
	    LIST_KEYS);
	EXPECT(st1.requests - st0.requests >= 2, "more than 1000 keys in "
	    "one page?");
	for (i = 0; i < col.n && i < LIST_KEYS; i++)
		ordered &= strcmp(col.keys[i], keys[i]) == 0;
	EXPECT(ordered, "keys out of order or missing");
	collected_free(&col);

	snprintf(after, sizeof(after), "%s/list/t/%06d", id, 1000);
	EXPECT(s3_list(c, prefix, after, collect, &col, &err) == 0,
	    "list with start-after: %s", err.msg);
	EXPECT(col.n == LIST_KEYS - 1001 && col.n > 0 &&
	    strcmp(col.keys[0], keys[1001]) == 0, "start-after listed %zu, "
	    "first %s", col.n, col.n ? col.keys[0] : "-");
	collected_free(&col);

	snprintf(after, sizeof(after), "%s/list/t/%06d", id, 10);
	col.stop_at = 5;
	EXPECT(s3_list(c, prefix, after, collect, &col, &err) == 1 &&
	    col.n == 5 && strcmp(col.keys[0], keys[11]) == 0,
	    "a list stopped by its callback: %zu", col.n);
	collected_free(&col);
	col.stop_at = 0;

	t0 = clock_mono_us();
	EXPECT(s3_delete_many(c, (const char *const *)keys, LIST_KEYS,
	    &err) == 0, "delete_many: %s", err.msg);
	printf("# delete_many of %d keys: %.0f ms\n", LIST_KEYS,
	    (double)(clock_mono_us() - t0) / 1000);
	EXPECT(s3_list(c, prefix, NULL, collect, &col, &err) == 0 &&
	    col.n == 0, "after delete_many, %zu keys are left", col.n);
	collected_free(&col);
	free(col.keys);
	free_numbered(items, keys, LIST_KEYS);
	s3_config_wipe(&cfg);
	s3_client_free(c);
	return expect_report("list");
}

#define MANY 300

static int
case_many(void)
{
	s3_config cfg;
	s3_client *c = client_from_env(&cfg);
	char id[64], prefix[128], **keys, **keys2;
	s3_put_item *items, *items2;
	int64_t t0, parallel_us, serial_us;
	uint8_t *back;
	size_t len, i, same = 0;
	s3_err err;

	run_id(id, sizeof(id));
	snprintf(prefix, sizeof(prefix), "%s/many/p", id);
	t0 = clock_mono_us();
	items = put_numbered(c, prefix, MANY, &keys);
	parallel_us = clock_mono_us() - t0;
	for (i = 0; i < MANY; i++) {
		if (s3_get_alloc(c, keys[i], &back, &len, &err) == 0) {
			same += len == strlen(keys[i]) &&
			    memcmp(back, keys[i], len) == 0;
			free(back);
		}
	}
	EXPECT(same == MANY, "%zu of %d objects read back as written", same,
	    MANY);

	/* The same writes, one after another, for comparison. */
	snprintf(prefix, sizeof(prefix), "%s/many/s", id);
	items2 = calloc(MANY, sizeof(*items2));
	keys2 = calloc(MANY, sizeof(*keys2));
	t0 = clock_mono_us();
	for (i = 0; i < MANY; i++) {
		if (asprintf(&keys2[i], "%s/%06zu", prefix, i) < 0)
			exit(1);
		EXPECT(s3_put(c, keys2[i], keys2[i], strlen(keys2[i]),
		    &err) == 0, "put: %s", err.msg);
	}
	serial_us = clock_mono_us() - t0;
	printf("# %d small PUTs: %.0f ms in parallel (%d at once), %.0f ms "
	    "one after another\n", MANY, (double)parallel_us / 1000,
	    cfg.max_parallel, (double)serial_us / 1000);
	/* Not compared: on loopback the gateway's CPU, not the round trip,
	 * bounds both (test_s3_canned times parallelism against a slow
	 * peer). */

	/* put_many with if_absent: all exist now. */
	for (i = 0; i < MANY; i++)
		items[i].if_absent = 1;
	EXPECT(s3_put_many(c, items, MANY, &err) == -1 &&
	    err.kind == S3_ERR_EXISTS, "if_absent over existing keys: %s",
	    s3_err_kind_name(err.kind));
	for (i = 0, same = 0; i < MANY; i++)
		same += items[i].err.kind == S3_ERR_EXISTS;
	EXPECT(same == MANY, "%zu of %d items say exists", same, MANY);
	printf("# %s\n", err.msg);
	EXPECT(s3_delete_many(c, (const char *const *)keys, MANY, &err) == 0,
	    "delete_many: %s", err.msg);
	EXPECT(s3_delete_many(c, (const char *const *)keys2, MANY, &err) == 0,
	    "delete_many: %s", err.msg);
	free_numbered(items, keys, MANY);
	free_numbered(items2, keys2, MANY);
	s3_config_wipe(&cfg);
	s3_client_free(c);
	return expect_report("many");
}

/* --- multipart ------------------------------------------------------------ */

static int
case_multipart(void)
{
	size_t n = 12 * 1024 * 1024 + 12345, len = 0, got = 0;
	uint8_t *data = malloc(n), *back = NULL, buf[64];
	s3_config cfg;
	s3_client *c;
	s3_stats st0, st1;
	char id[64], key[128];
	uint64_t size = 0;
	int64_t t0;
	s3_err err;

	if (s3_config_from_env(&cfg, &err) != 0)
		return 1;
	cfg.part_size = 5 * 1024 * 1024;
	cfg.multipart_threshold = 5 * 1024 * 1024;
	c = s3_client_new(&cfg, bucket, &err);
	if (c == NULL || data == NULL)
		return 1;
	fill_random(data, n, 7);
	run_id(id, sizeof(id));
	snprintf(key, sizeof(key), "%s/multipart/big.parquet", id);
	s3_client_stats(c, &st0);
	t0 = clock_mono_us();
	EXPECT(s3_put(c, key, data, n, &err) == 0, "multipart: %s", err.msg);
	s3_client_stats(c, &st1);
	printf("# multipart PUT of %zu bytes: %llu requests, %.0f ms\n", n,
	    (unsigned long long)(st1.requests - st0.requests),
	    (double)(clock_mono_us() - t0) / 1000);
	EXPECT(st1.requests - st0.requests == 5, "create + 3 parts + complete "
	    "are 5 requests, not %llu",
	    (unsigned long long)(st1.requests - st0.requests));
	EXPECT(s3_get_alloc(c, key, &back, &len, &err) == 0, "get: %s",
	    err.msg);
	EXPECT(len == n && memcmp(back, data, n) == 0, "the object read back "
	    "(%zu bytes) differs from the %zu written", len, n);
	EXPECT(s3_get_range(c, key, 5 * 1024 * 1024 - 32, 64, buf, &got,
	    &size, &err) == 0 && got == 64 && size == n &&
	    memcmp(buf, data + 5 * 1024 * 1024 - 32, 64) == 0,
	    "a range across parts: %s", err.msg);
	free(back);
	EXPECT(s3_delete(c, key, &err) == 0, "delete: %s", err.msg);
	free(data);
	s3_config_wipe(&cfg);
	s3_client_free(c);
	return expect_report("multipart");
}

/* --- many ranged GETs ------------------------------------------------------ */

#define GETS 40

/*
 * s3_get_many over objects of 1 byte to 300 KiB: each read whole (a
 * suffix of its size, as the prefetch reads a small file), its tail, a
 * range inside and one past its end, beside an absent key and an invalid
 * one, which fail alone with their kinds; then the same whole reads in
 * parallel and one after another.
 */
static int
case_get_many(void)
{
	s3_config cfg;
	s3_client *c = client_from_env(&cfg);
	char id[64], *keys[GETS], absent[128];
	uint8_t *data[GETS];
	size_t size[GETS], i, ok = 0;
	s3_put_item puts[GETS];
	s3_get_item items[4 * GETS + 2], whole[GETS];
	int64_t t0, parallel_us, serial_us;
	s3_err err;

	run_id(id, sizeof(id));
	memset(puts, 0, sizeof(puts));
	for (i = 0; i < GETS; i++) {
		size[i] = i == 0 ? 1 : (i * 7919) % (300 * 1024) + 1;
		data[i] = malloc(size[i]);
		fill_random(data[i], size[i], i + 1);
		if (asprintf(&keys[i], "%s/getmany/%02zu", id, i) < 0)
			exit(1);
		puts[i] = (s3_put_item){ .key = keys[i], .data = data[i],
			.len = size[i] };
	}
	EXPECT(s3_put_many(c, puts, GETS, &err) == 0, "put_many: %s",
	    err.msg);

	memset(items, 0, sizeof(items));
	for (i = 0; i < GETS; i++) {
		s3_get_item *w = &items[4 * i], *t = w + 1, *r = w + 2,
		    *past = w + 3;

		*w = (s3_get_item){ .key = keys[i], .len = size[i], .tail = 1 };
		*t = (s3_get_item){ .key = keys[i], .len = 8, .tail = 1 };
		*r = (s3_get_item){ .key = keys[i], .offset = size[i] / 3,
			.len = size[i] / 2 + 1 };
		*past = (s3_get_item){ .key = keys[i], .offset = size[i] + 5,
			.len = 10 };
		w->buf = malloc(w->len);
		t->buf = malloc(t->len);
		r->buf = malloc(r->len);
		past->buf = malloc(past->len);
	}
	snprintf(absent, sizeof(absent), "%s/getmany/absent", id);
	items[4 * GETS] = (s3_get_item){ .key = absent, .len = 10,
		.buf = malloc(10) };
	items[4 * GETS + 1] = (s3_get_item){ .key = "bad/../key", .len = 10,
		.buf = malloc(10) };
	EXPECT(s3_get_many(c, items, 4 * GETS + 2, &err) == -1 &&
	    err.kind == S3_ERR_NOT_FOUND && strstr(err.msg, "2 failed"),
	    "two bad items fail the call: %s", err.msg);
	printf("# %s\n", err.msg);
	for (i = 0; i < GETS; i++) {
		s3_get_item *w = &items[4 * i], *t = w + 1, *r = w + 2,
		    *past = w + 3;
		size_t tl = size[i] < 8 ? size[i] : 8;

		ok += w->err.kind == S3_ERR_NONE && w->got == size[i] &&
		    w->object_size == size[i] &&
		    memcmp(w->buf, data[i], size[i]) == 0;
		ok += t->err.kind == S3_ERR_NONE && t->got == tl &&
		    t->object_size == size[i] &&
		    memcmp(t->buf, data[i] + size[i] - tl, tl) == 0;
		ok += r->err.kind == S3_ERR_NONE && r->object_size == size[i] &&
		    r->got == (r->offset + r->len <= size[i] ? r->len :
		    size[i] - r->offset) &&
		    memcmp(r->buf, data[i] + r->offset, r->got) == 0;
		ok += past->err.kind == S3_ERR_NONE && past->got == 0 &&
		    past->object_size == size[i];
	}
	EXPECT(ok == 4 * GETS, "%zu of %d reads gave the object's bytes and "
	    "size", ok, 4 * GETS);
	EXPECT(items[4 * GETS].err.kind == S3_ERR_NOT_FOUND &&
	    items[4 * GETS].err.http_status == 404,
	    "the absent key: kind %s",
	    s3_err_kind_name(items[4 * GETS].err.kind));
	check_msg(&items[4 * GETS].err, &cfg, "NoSuchKey");
	EXPECT(strstr(items[4 * GETS].err.msg, absent) != NULL, "the key in "
	    "the message");
	EXPECT(items[4 * GETS + 1].err.kind == S3_ERR_CONFIG, "an invalid "
	    "key is a configuration error: %s",
	    s3_err_kind_name(items[4 * GETS + 1].err.kind));

	/* Whole reads: all at once, then one after another. */
	for (i = 0; i < GETS; i++)
		whole[i] = items[4 * i];	/* their buffers, borrowed */
	t0 = clock_mono_us();
	EXPECT(s3_get_many(c, whole, GETS, &err) == 0, "%s", err.msg);
	parallel_us = clock_mono_us() - t0;
	t0 = clock_mono_us();
	for (i = 0; i < GETS; i++)
		EXPECT(s3_get_tail(c, keys[i], size[i], whole[i].buf,
		    &whole[i].got, NULL, &err) == 0, "%s", err.msg);
	serial_us = clock_mono_us() - t0;
	printf("# %d GETs of 1 B-300 KiB: %.0f ms in parallel (%d at once), "
	    "%.0f ms one after another\n", GETS, (double)parallel_us / 1000,
	    cfg.max_parallel, (double)serial_us / 1000);
	for (i = 0; i < 4 * GETS + 2; i++)
		free(items[i].buf);
	EXPECT(s3_delete_many(c, (const char *const *)keys, GETS, &err) == 0,
	    "delete_many: %s", err.msg);
	for (i = 0; i < GETS; i++) {
		free(keys[i]);
		free(data[i]);
	}
	s3_config_wipe(&cfg);
	s3_client_free(c);
	return expect_report("get-many");
}

/* --- refusals and faults --------------------------------------------------- */

static int
case_wrong_secret(void)
{
	s3_config cfg;
	s3_client *c;
	char id[64], key[128], right[S3_SECRET_MAX];
	uint8_t *back;
	size_t len;
	s3_err err;

	if (s3_config_from_env(&cfg, &err) != 0)
		return 1;
	memcpy(right, cfg.secret_key, sizeof(right));
	cfg.secret_key[0] = cfg.secret_key[0] == 'A' ? 'B' : 'A';
	c = s3_client_new(&cfg, bucket, &err);
	if (c == NULL)
		return 1;
	run_id(id, sizeof(id));
	snprintf(key, sizeof(key), "%s/auth/x", id);
	EXPECT(s3_put(c, key, "x", 1, &err) == -1 && err.kind == S3_ERR_AUTH &&
	    err.http_status == 403, "a wrong secret: kind %s, HTTP %ld",
	    s3_err_kind_name(err.kind), err.http_status);
	check_msg(&err, &cfg, "SignatureDoesNotMatch");
	EXPECT(strstr(err.msg, key) != NULL && strstr(err.msg, "403") &&
	    strstr(err.msg, "AWS_SECRET_ACCESS_KEY"), "the message names the "
	    "key, the status and where the secret came from");
	EXPECT(strstr(err.msg, right) == NULL, "the right secret is in it");
	EXPECT(strcmp(err.code, "SignatureDoesNotMatch") == 0, "code '%s'",
	    err.code);
	EXPECT(s3_get_alloc(c, key, &back, &len, &err) == -1 &&
	    err.kind == S3_ERR_AUTH, "GET with a wrong secret: kind %s: %s",
	    s3_err_kind_name(err.kind), err.msg);
	EXPECT(requests_sent(c) == 2, "auth failures are not retried: "
	    "%llu requests", requests_sent(c));
	explicit_bzero(right, sizeof(right));
	s3_config_wipe(&cfg);
	s3_client_free(c);
	return expect_report("wrong-secret");
}

static int
case_unreachable(const char *port)
{
	s3_config cfg;
	s3_client *c;
	int64_t t0, took;
	s3_err err;

	if (s3_config_from_env(&cfg, &err) != 0)
		return 1;
	snprintf(cfg.endpoint, sizeof(cfg.endpoint), "http://127.0.0.1:%s",
	    port);
	cfg.retry_budget_us = 1000000;
	c = s3_client_new(&cfg, bucket, &err);
	if (c == NULL)
		return 1;
	t0 = clock_mono_us();
	EXPECT(s3_put(c, "unreachable/x", "x", 1, &err) == -1 &&
	    err.kind == S3_ERR_UNREACHABLE && err.http_status == 0,
	    "kind %s", s3_err_kind_name(err.kind));
	took = clock_mono_us() - t0;
	check_msg(&err, &cfg, cfg.endpoint);
	EXPECT(strstr(err.msg, "gave up after") != NULL, "no attempts in: %s",
	    err.msg);
	/* It gives up when the next back-off would pass the budget: before
	 * the budget's end, never long after it. */
	EXPECT(requests_sent(c) >= 3 && took < 2000000, "gave up after %llu "
	    "attempts in %lld ms, with a budget of 1 s", requests_sent(c),
	    (long long)took / 1000);
	printf("# unreachable: %s after %lld ms, %llu attempts\n",
	    s3_err_kind_name(err.kind), (long long)took / 1000,
	    requests_sent(c));
	s3_config_wipe(&cfg);
	s3_client_free(c);
	return expect_report("unreachable");
}

/* While the gateway is down: a write (or read) that retries until the
 * shell brings it back. */
static int
case_outage(const char *key, int write)
{
	s3_config cfg;
	s3_client *c = client_from_env(&cfg);
	uint8_t *back = NULL;
	int64_t t0 = clock_mono_us();
	s3_stats st;
	size_t len = 0;
	s3_err err;

	if (write)
		EXPECT(s3_put(c, key, key, strlen(key), &err) == 0,
		    "a PUT across the outage: %s", err.msg);
	else
		EXPECT(s3_get_alloc(c, key, &back, &len, &err) == 0 &&
		    len == strlen(key) && memcmp(back, key, len) == 0,
		    "a GET across the outage: %s", err.msg);
	free(back);
	s3_client_stats(c, &st);
	printf("# %s across the outage: %llu retries, %.1f s\n",
	    write ? "PUT" : "GET", (unsigned long long)st.retries,
	    (double)(clock_mono_us() - t0) / 1e6);
	EXPECT(st.retries > 0, "no retry: was the gateway down?");
	s3_config_wipe(&cfg);
	s3_client_free(c);
	return expect_report(write ? "outage-write" : "outage-read");
}

/* A put and a get with whatever credentials the environment gives. */
static int
case_roundtrip(void)
{
	s3_config cfg;
	s3_client *c = client_from_env(&cfg);
	char id[64], key[128];
	uint8_t *back = NULL;
	size_t len = 0;
	s3_err err;

	printf("# credentials from %s%s\n", cfg.credentials_from,
	    cfg.session_token[0] ? ", with a session token" : "");
	run_id(id, sizeof(id));
	snprintf(key, sizeof(key), "%s/roundtrip", id);
	EXPECT(s3_put(c, key, "hello", 5, &err) == 0, "put: %s", err.msg);
	EXPECT(s3_get_alloc(c, key, &back, &len, &err) == 0 && len == 5 &&
	    memcmp(back, "hello", 5) == 0, "get: %s", err.msg);
	free(back);
	s3_config_wipe(&cfg);
	s3_client_free(c);
	return expect_report("roundtrip");
}

static int
case_expect_auth(void)
{
	s3_config cfg;
	s3_client *c = client_from_env(&cfg);
	s3_err err;

	printf("# credentials from %s\n", cfg.credentials_from);
	EXPECT(s3_put(c, "auth/y", "y", 1, &err) == -1 &&
	    err.kind == S3_ERR_AUTH, "kind %s", s3_err_kind_name(err.kind));
	check_msg(&err, &cfg, cfg.credentials_from);
	s3_config_wipe(&cfg);
	s3_client_free(c);
	return expect_report("expect-auth");
}

/* --- latency --------------------------------------------------------------- */

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void
report(const char *what, int64_t *us, int n)
{
	qsort(us, (size_t)n, sizeof(*us), cmp_i64);
	printf("# %-24s p50 %6.2f ms  p90 %6.2f ms  max %6.2f ms\n", what,
	    (double)us[n / 2] / 1000, (double)us[n * 9 / 10] / 1000,
	    (double)us[n - 1] / 1000);
}

#define BENCH_N 100

static int
case_bench(void)
{
	s3_config cfg;
	s3_client *c = client_from_env(&cfg);
	static uint8_t small[1024], big[1024 * 1024], buf[1024 * 1024];
	int64_t put[BENCH_N], cput[BENCH_N], get[BENCH_N], tail[BENCH_N];
	int64_t bput[20], bget[20], t;
	char id[64], key[128];
	size_t got;
	s3_err err;
	int i;

	run_id(id, sizeof(id));
	fill_random(big, sizeof(big), 3);
	for (i = 0; i < BENCH_N; i++) {
		snprintf(key, sizeof(key), "%s/bench/%d", id, i);
		t = clock_mono_us();
		EXPECT(s3_put(c, key, small, sizeof(small), &err) == 0, "%s",
		    err.msg);
		put[i] = clock_mono_us() - t;
		snprintf(key, sizeof(key), "%s/bench/c%d", id, i);
		t = clock_mono_us();
		EXPECT(s3_put_if_absent(c, key, small, sizeof(small),
		    &err) == 0, "%s", err.msg);
		cput[i] = clock_mono_us() - t;
		t = clock_mono_us();
		EXPECT(s3_get_range(c, key, 0, sizeof(small), buf, &got, NULL,
		    &err) == 0, "%s", err.msg);
		get[i] = clock_mono_us() - t;
		t = clock_mono_us();
		EXPECT(s3_get_tail(c, key, 8, buf, &got, NULL, &err) == 0,
		    "%s", err.msg);
		tail[i] = clock_mono_us() - t;
	}
	for (i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "%s/bench/big%d", id, i);
		t = clock_mono_us();
		EXPECT(s3_put(c, key, big, sizeof(big), &err) == 0, "%s",
		    err.msg);
		bput[i] = clock_mono_us() - t;
		t = clock_mono_us();
		EXPECT(s3_get_range(c, key, 0, sizeof(buf), buf, &got, NULL,
		    &err) == 0, "%s", err.msg);
		bget[i] = clock_mono_us() - t;
	}
	report("PUT 1 KiB", put, BENCH_N);
	report("PUT 1 KiB if absent", cput, BENCH_N);
	report("GET 1 KiB", get, BENCH_N);
	report("GET last 8 bytes", tail, BENCH_N);
	report("PUT 1 MiB", bput, 20);
	report("GET 1 MiB", bget, 20);
	s3_config_wipe(&cfg);
	s3_client_free(c);
	return expect_report("bench");
}

/*
 * Small objects (3 KiB, an increment's partition files) put and read
 * back 400 at a time with 1, 8, 16 and 32 transfers in flight: what
 * max_parallel buys against this gateway. Figures only.
 */
#define TP_N 400
#define TP_SIZE 3072

static int
case_throughput(void)
{
	static const int widths[] = { 1, 8, 16, 32 };
	static uint8_t data[TP_SIZE], bufs[TP_N][TP_SIZE];
	s3_put_item puts[TP_N];
	s3_get_item gets[TP_N];
	char id[64], *keys[TP_N];
	int64_t t0, put_us, get_us;
	s3_err err;
	size_t i;

	run_id(id, sizeof(id));
	fill_random(data, sizeof(data), 7);
	for (i = 0; i < TP_N; i++)
		if (asprintf(&keys[i], "%s/tp/%04zu", id, i) < 0)
			exit(1);
	for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
		s3_config cfg;
		s3_client *c;

		if (s3_config_from_env(&cfg, &err) != 0)
			return 1;
		cfg.max_parallel = widths[w];
		if ((c = s3_client_new(&cfg, bucket, &err)) == NULL)
			return 1;
		for (i = 0; i < TP_N; i++) {
			puts[i] = (s3_put_item){ .key = keys[i], .data = data,
				.len = sizeof(data) };
			gets[i] = (s3_get_item){ .key = keys[i],
				.len = TP_SIZE, .tail = 1, .buf = bufs[i] };
		}
		t0 = clock_mono_us();
		EXPECT(s3_put_many(c, puts, TP_N, &err) == 0, "%s", err.msg);
		put_us = clock_mono_us() - t0;
		t0 = clock_mono_us();
		EXPECT(s3_get_many(c, gets, TP_N, &err) == 0, "%s", err.msg);
		get_us = clock_mono_us() - t0;
		printf("# %2d in flight: %d PUTs of 3 KiB %4.0f ms (%.2f ms "
		    "each), GETs %4.0f ms (%.2f ms each)\n", widths[w], TP_N,
		    (double)put_us / 1000, (double)put_us / 1000 / TP_N,
		    (double)get_us / 1000, (double)get_us / 1000 / TP_N);
		EXPECT(s3_delete_many(c, (const char *const *)keys, TP_N,
		    &err) == 0, "%s", err.msg);
		s3_config_wipe(&cfg);
		s3_client_free(c);
	}
	for (i = 0; i < TP_N; i++)
		free(keys[i]);
	return expect_report("throughput");
}

int
main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	bucket = getenv("S3_BUCKET");
	if (bucket == NULL) {
		fprintf(stderr, "S3_BUCKET is not set: run from client.sh\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(cmd, "basic") == 0)
		return case_basic();
	if (strcmp(cmd, "race") == 0)
		return case_race();
	if (strcmp(cmd, "list") == 0)
		return case_list();
	if (strcmp(cmd, "many") == 0)
		return case_many();
	if (strcmp(cmd, "multipart") == 0)
		return case_multipart();
	if (strcmp(cmd, "get-many") == 0)
		return case_get_many();
	if (strcmp(cmd, "wrong-secret") == 0)
		return case_wrong_secret();
	if (strcmp(cmd, "unreachable") == 0 && argc == 3)
		return case_unreachable(argv[2]);
	if (strcmp(cmd, "outage-write") == 0 && argc == 3)
		return case_outage(argv[2], 1);
	if (strcmp(cmd, "outage-read") == 0 && argc == 3)
		return case_outage(argv[2], 0);
	if (strcmp(cmd, "roundtrip") == 0)
		return case_roundtrip();
	if (strcmp(cmd, "expect-auth") == 0)
		return case_expect_auth();
	if (strcmp(cmd, "bench") == 0)
		return case_bench();
	if (strcmp(cmd, "throughput") == 0)
		return case_throughput();
	fprintf(stderr, "usage: test_s3_client basic | race | list | many | "
	    "multipart | get-many | wrong-secret | unreachable PORT | outage-write KEY | "
	    "outage-read KEY | roundtrip | expect-auth | bench | "
	    "throughput\n");
	return 2;
}
