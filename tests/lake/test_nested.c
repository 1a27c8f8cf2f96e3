/*
 * test_nested.c - unit tests of the nested writer's nulls and of the
 * level encoding under them.
 *
 * The nested writer pads a leaf's missing rows with null entries only
 * when the leaf is next touched or its row group is written, so these
 * tests write rows that touch few leaves (sparse rows, whole row groups
 * where some leaves get no entry at all, a leaf touched only in the
 * last row of a group) and read every leaf back level by level against
 * what the eager writer stored: one (rep 0, def 0) entry for each row
 * that left the leaf out. Also: a required leaf left out, and a row
 * group cut inside a row, are refused; the byte encoder of levels
 * writes what the 32-bit one writes, and both decode back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encoding.h"
#include "expect.h"
#include "parquet.h"
#include "parquet_internal.h"

/*
 * s: struct { n int64, m map<string,string> }, t int32 (optional),
 * u string (optional).
 */
static const pq_node nodes[] = {
	{ "s", PQ_REP_OPTIONAL, 2, PQ_STRING, PQ_GROUP_STRUCT },
	{ "n", PQ_REP_OPTIONAL, 0, PQ_INT64, PQ_GROUP_STRUCT },
	{ "m", PQ_REP_OPTIONAL, 1, PQ_STRING, PQ_GROUP_MAP },
	{ "key_value", PQ_REP_REPEATED, 2, PQ_STRING, PQ_GROUP_STRUCT },
	{ "key", PQ_REP_REQUIRED, 0, PQ_STRING, PQ_GROUP_STRUCT },
	{ "value", PQ_REP_OPTIONAL, 0, PQ_STRING, PQ_GROUP_STRUCT },
	{ "t", PQ_REP_OPTIONAL, 0, PQ_INT32, PQ_GROUP_STRUCT },
	{ "u", PQ_REP_OPTIONAL, 0, PQ_STRING, PQ_GROUP_STRUCT },
};
#define NNODES ((int)(sizeof(nodes) / sizeof(nodes[0])))
enum { LEAF_N, LEAF_KEY, LEAF_VALUE, LEAF_T, LEAF_U, NLEAVES };

/* The levels and values one leaf should read back, row after row. */
typedef struct want_leaf {
	int16_t *rep, *def;
	int64_t *num;		/* n and t */
	char **str;		/* key, value, u */
	int64_t n, cap;
} want_leaf;

static void
want_add(want_leaf *w, int rep, int def, int64_t num, const char *str)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 1024;
		w->rep = realloc(w->rep, (size_t)w->cap * sizeof(int16_t));
		w->def = realloc(w->def, (size_t)w->cap * sizeof(int16_t));
		w->num = realloc(w->num, (size_t)w->cap * sizeof(int64_t));
		w->str = realloc(w->str, (size_t)w->cap * sizeof(char *));
		if (!w->rep || !w->def || !w->num || !w->str) {
			perror("realloc");
			exit(1);
		}
	}
	w->rep[w->n] = (int16_t)rep;
	w->def[w->n] = (int16_t)def;
	w->num[w->n] = num;
	w->str[w->n] = str ? strdup(str) : NULL;
	w->n++;
}

static void
want_free(want_leaf *w)
{
	for (int64_t i = 0; i < w->n; i++)
		free(w->str[i]);
	free(w->rep);
	free(w->def);
	free(w->num);
	free(w->str);
}

typedef struct writer_state {
	pq_nested_writer *w;
	want_leaf want[NLEAVES];
	int touched[NLEAVES];
	int failures;
} writer_state;

static void
put(writer_state *s, int leaf, int rep, int def, int64_t num,
    const char *str)
{
	int is_string = leaf == LEAF_KEY || leaf == LEAF_VALUE ||
	    leaf == LEAF_U;
	int max_def = pq_nested_writer_max_def(s->w, leaf);
	pq_value v;
	lake_err err;

	memset(&v, 0, sizeof(v));
	if (is_string && str != NULL) {
		v.v.s.ptr = str;
		v.v.s.len = (uint32_t)strlen(str);
	} else if (leaf == LEAF_T)
		v.v.i32 = (int32_t)num;
	else
		v.v.i64 = num;
	if (pq_nested_put(s->w, leaf, rep, def, def == max_def ? &v : NULL,
	    &err) == -1 && s->failures++ < 5)
		EXPECT(0, "put leaf %d: %s", leaf, err.msg);
	want_add(&s->want[leaf], rep, def, def == max_def ? num : 0,
	    def == max_def && is_string ? str : NULL);
	s->touched[leaf] = 1;
}

/* Ends the row; the leaves it left out read back as (0, 0). */
static void
end_row(writer_state *s)
{
	lake_err err;

	for (int l = 0; l < NLEAVES; l++) {
		if (!s->touched[l])
			want_add(&s->want[l], 0, 0, 0, NULL);
		s->touched[l] = 0;
	}
	if (pq_nested_end_row(s->w, &err) == -1 && s->failures++ < 5)
		EXPECT(0, "end row: %s", err.msg);
}

/*
 * Row i of the sparse pattern. Rows in [1000, 2000) are a row group of
 * their own (cut before and after) that touches only u, so s's leaves
 * and t get no entry in it; the row before the second cut touches t as
 * the group's very last row. Elsewhere leaves come and go at different
 * strides, maps of 0-3 entries, some values null.
 */
static void
write_row(writer_state *s, int i)
{
	char key[32], val[32], u[32];

	snprintf(u, sizeof(u), "u-%d", i);
	if (i >= 1000 && i < 2000) {
		put(s, LEAF_U, 0, 1, 0, u);
		if (i == 1999)
			put(s, LEAF_T, 0, 1, i, NULL);
		return;
	}
	if (i % 7 == 0) {
		put(s, LEAF_N, 0, 0, 0, NULL);	/* s null */
		put(s, LEAF_KEY, 0, 0, 0, NULL);
		put(s, LEAF_VALUE, 0, 0, 0, NULL);
	} else if (i % 3 == 0) {
		put(s, LEAF_N, 0, i % 2 ? 2 : 1, i, NULL);
		for (int k = 0; k < i % 4; k++) {
			snprintf(key, sizeof(key), "k%d", k);
			snprintf(val, sizeof(val), "v%d-%d", k, i);
			put(s, LEAF_KEY, k > 0, 3, 0, key);
			put(s, LEAF_VALUE, k > 0, k == 1 ? 3 : 4, 0, val);
		}
		if (i % 4 == 0) {	/* an empty map */
			put(s, LEAF_KEY, 0, 2, 0, NULL);
			put(s, LEAF_VALUE, 0, 2, 0, NULL);
		}
	}
	/* else: s left out, a null struct by padding */
	if (i % 5 == 0)
		put(s, LEAF_T, 0, i % 10 ? 1 : 0, i, NULL);
	if (i % 11 == 0)
		put(s, LEAF_U, 0, 1, 0, u);
}

/* Compares leaf l of the file with what was written, row group by row
 * group; 0 when equal. */
static int
check_leaf(pq_reader *r, int l, const want_leaf *w)
{
	pq_leaf_batch b;
	lake_err err;
	int64_t at = 0;
	int bad = 0;

	for (int g = 0; g < pq_reader_num_row_groups(r) && !bad; g++) {
		int64_t vi = 0;

		memset(&b, 0, sizeof(b));
		if (pq_reader_read_leaf(r, g, l, &b, &err) == -1) {
			EXPECT(0, "leaf %d group %d: %s", l, g, err.msg);
			return -1;
		}
		for (int64_t i = 0; i < b.nlevels && !bad; i++, at++) {
			int rep = b.rep ? b.rep[i] : 0;
			int max_def = pq_reader_leaf_max_def(r, l);

			if (at >= w->n || rep != w->rep[at] ||
			    b.def[i] != w->def[at]) {
				EXPECT(0, "leaf %d entry %lld: levels (%d, %d), "
				    "want (%d, %d)", l, (long long)at, rep,
				    b.def[i], at < w->n ? w->rep[at] : -1,
				    at < w->n ? w->def[at] : -1);
				bad = 1;
				break;
			}
			if (b.def[i] != max_def)
				continue;
			if (w->str[at] != NULL) {
				uint32_t len = b.values.offsets[vi + 1] -
				    b.values.offsets[vi];

				bad = len != strlen(w->str[at]) || memcmp(
				    b.values.data + b.values.offsets[vi],
				    w->str[at], len) != 0;
			} else if (l == LEAF_T)
				bad = b.values.v.i32[vi] != w->num[at];
			else
				bad = b.values.v.i64[vi] != w->num[at];
			EXPECT(!bad, "leaf %d entry %lld: value differs", l,
			    (long long)at);
			vi++;
		}
		pq_leaf_batch_free(&b);
	}
	EXPECT(bad || at == w->n, "leaf %d: %lld entries, want %lld", l,
	    (long long)at, (long long)w->n);
	return bad || at != w->n ? -1 : 0;
}

static void
test_sparse_rows(const char *dir)
{
	char path[512];
	pq_writer_opts opts;
	writer_state s;
	pq_reader *r;
	lake_err err;
	int rows = 5000;

	memset(&s, 0, sizeof(s));
	snprintf(path, sizeof(path), "%s/sparse.parquet", dir);
	pq_writer_opts_default(&opts);
	opts.row_group_bytes = 24 << 10;	/* and cuts by size */
	s.w = pq_nested_writer_open(path, nodes, NNODES, &opts, &err);
	EXPECT(s.w != NULL, "open: %s", err.msg);
	if (s.w == NULL)
		return;
	for (int i = 0; i < rows; i++) {
		if ((i == 1000 || i == 2000) &&
		    pq_nested_writer_cut(s.w, &err) == -1)
			EXPECT(0, "cut: %s", err.msg);
		write_row(&s, i);
		end_row(&s);
	}
	EXPECT(pq_nested_writer_close(s.w, &err) == 0, "close: %s", err.msg);
	if ((r = pq_reader_open(path, &err)) == NULL) {
		EXPECT(0, "reopen: %s", err.msg);
		goto out;
	}
	EXPECT(pq_reader_num_rows(r) == rows, "rows: %lld",
	    (long long)pq_reader_num_rows(r));
	EXPECT(pq_reader_num_row_groups(r) > 3, "several row groups");
	for (int l = 0; l < NLEAVES; l++)
		check_leaf(r, l, &s.want[l]);
	/* The row group of rows [1000, 2000): s's leaves hold only nulls. */
	for (int g = 0, first = 0; g < pq_reader_num_row_groups(r); g++) {
		pq_leaf_batch b;

		if (first == 1000) {
			memset(&b, 0, sizeof(b));
			EXPECT(pq_reader_row_group_rows(r, g) == 1000 &&
			    pq_reader_read_leaf(r, g, LEAF_KEY, &b, &err) ==
			    0 && b.nlevels == 1000 && b.nvalues == 0,
			    "an all-null map leaf: %lld levels, %lld values",
			    (long long)b.nlevels, (long long)b.nvalues);
			pq_leaf_batch_free(&b);
		}
		first += (int)pq_reader_row_group_rows(r, g);
	}
	pq_reader_close(r);
out:
	for (int l = 0; l < NLEAVES; l++)
		want_free(&s.want[l]);
}

static void
test_refusals(const char *dir)
{
	static const pq_node req[] = {
		{ "a", PQ_REP_REQUIRED, 0, PQ_INT64, PQ_GROUP_STRUCT },
		{ "b", PQ_REP_OPTIONAL, 0, PQ_INT64, PQ_GROUP_STRUCT },
	};
	char path[512];
	pq_nested_writer *w;
	pq_value v;
	lake_err err;

	snprintf(path, sizeof(path), "%s/required.parquet", dir);
	memset(&v, 0, sizeof(v));
	w = pq_nested_writer_open(path, req, 2, NULL, &err);
	EXPECT(w != NULL, "open: %s", err.msg);
	if (w == NULL)
		return;
	EXPECT(pq_nested_put(w, 0, 0, 0, &v, &err) == 0 &&
	    pq_nested_end_row(w, &err) == 0, "a row with a: %s", err.msg);
	EXPECT(pq_nested_put(w, 1, 0, 1, &v, &err) == 0, "b: %s", err.msg);
	EXPECT(pq_nested_end_row(w, &err) == -1 &&
	    strstr(err.msg, "missing") != NULL,
	    "a row without its required leaf is refused (%s)", err.msg);
	pq_nested_writer_abort(w);

	snprintf(path, sizeof(path), "%s/cut.parquet", dir);
	w = pq_nested_writer_open(path, req, 2, NULL, &err);
	EXPECT(w != NULL, "open: %s", err.msg);
	if (w == NULL)
		return;
	EXPECT(pq_nested_put(w, 0, 0, 0, &v, &err) == 0, "a: %s", err.msg);
	EXPECT(pq_nested_writer_cut(w, &err) == -1,
	    "a row group does not end inside a row");
	EXPECT(pq_nested_put(w, 0, 0, 0, &v, &err) == -1,
	    "a second entry at rep 0 in one row is refused");
	pq_nested_writer_abort(w);
	EXPECT(access(path, F_OK) == -1, "abort removes the file");
}

/* The byte encoder writes the 32-bit one's bytes; both decode back. */
static void
test_level_encoding(void)
{
	size_t sizes[] = { 0, 1, 7, 8, 9, 63, 64, 65, 1000, 4099 };
	uint8_t *v8 = malloc(4099);
	uint32_t *v32 = malloc(4099 * sizeof(uint32_t));
	uint32_t *back = malloc(4099 * sizeof(uint32_t));
	int16_t *back16 = malloc(4099 * sizeof(int16_t));
	unsigned seed = 7;

	if (!v8 || !v32 || !back || !back16) {
		perror("malloc");
		exit(1);
	}
	for (int pattern = 0; pattern < 4; pattern++)
	for (int bw = 0; bw <= 3; bw++)
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k];
		lake_buf a = { 0 }, b = { 0 };
		rle_decoder d;
		int same = 1;

		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			/* random, runs, alternating, runs broken by noise */
			v8[i] = (uint8_t)(pattern == 0 ? seed >> 16 :
			    pattern == 1 ? i / 37 : pattern == 2 ? i % 2 :
			    (seed >> 16) % 13 == 0 ? seed >> 20 : i / 100);
			v8[i] &= (uint8_t)((1u << bw) - 1);
			v32[i] = v8[i];
		}
		enc_rle_u8(&a, v8, n, bw);
		enc_rle_u32(&b, v32, n, bw);
		EXPECT(!a.failed && a.len == b.len && (a.len == 0 ||
		    memcmp(a.data, b.data, a.len) == 0),
		    "u8 and u32 encodings agree (pattern %d, width %d, n %zu)",
		    pattern, bw, n);
		if (rle_init(&d, a.data, a.len, bw) == 0 && rle_get_u32(&d,
		    back, n) == 0) {
			for (size_t i = 0; i < n; i++)
				same &= back[i] == v8[i];
		} else
			same = 0;
		if (rle_init(&d, a.data, a.len, bw) == 0 && rle_get_i16(&d,
		    back16, n) == 0) {
			for (size_t i = 0; i < n; i++)
				same &= back16[i] == v8[i];
		} else
			same = 0;
		EXPECT(same, "levels decode back (pattern %d, width %d, n %zu)",
		    pattern, bw, n);
		lake_buf_free(&a);
		lake_buf_free(&b);
	}
	/* A long run of one level takes a run header and its value. */
	{
		lake_buf a = { 0 };

		memset(v8, 1, 4099);
		enc_rle_u8(&a, v8, 4099, 1);
		EXPECT(a.len == 3, "one run of 4099 ones: %zu bytes", a.len);
		lake_buf_free(&a);
	}
	free(v8);
	free(v32);
	free(back);
	free(back16);
}

int
main(void)
{
	char dir[] = "/tmp/test_nested.XXXXXX";
	char cmd[600];

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_sparse_rows(dir);
	test_refusals(dir);
	test_level_encoding();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return expect_report("test_nested");
}
