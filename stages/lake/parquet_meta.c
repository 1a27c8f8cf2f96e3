/*
 * parquet_meta.c - Parquet footers and page headers in Thrift compact form.
 *
 * Decoding turns FileMetaData into pq_file_meta: the schema tree is
 * flattened into leaves with their definition/repetition levels and our
 * pq_type, and each column chunk's statistics are decoded into typed
 * values. Anything required that is missing, out of range or inconsistent
 * (a chunk count that differs from the leaf count, a negative offset) is
 * an error with a message that names the field.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "parquet_internal.h"

/* Logical type kinds we care about (the LogicalType union's field ids). */
enum { LT_NONE = 0, LT_STRING = 1, LT_MAP = 2, LT_LIST = 3, LT_ENUM = 4,
	LT_DECIMAL = 5, LT_DATE = 6, LT_TIME = 7, LT_TIMESTAMP = 8,
	LT_INTEGER = 10, LT_JSON = 12, LT_UUID = 14 };
/* Converted types. */
enum { CT_UTF8 = 0, CT_ENUM = 4, CT_DECIMAL = 5, CT_DATE = 6,
	CT_TIMESTAMP_MILLIS = 9, CT_TIMESTAMP_MICROS = 10, CT_INT_8 = 15,
	CT_INT_16 = 16, CT_INT_32 = 17, CT_INT_64 = 18, CT_JSON = 19 };

typedef struct schema_elem {
	int type;		/* -1 for groups */
	int type_length;
	int repetition;		/* -1 when unset (the root) */
	char *name;
	int num_children;
	int converted;		/* -1 when unset */
	int scale;
	int precision;
	int logical;		/* LT_* */
	int ts_utc;
	int ts_unit;
	int int_bits;
} schema_elem;

static int
pq_type_is_string(pq_type type)
{
	return type == PQ_STRING || type == PQ_BINARY;
}

static char *
dup_bytes(const uint8_t *p, uint32_t n)
{
	char *s = malloc((size_t)n + 1);

	if (s == NULL)
		return NULL;
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

#define BAD(what) do { lake_err_set(err, "corrupt Parquet footer: %s", \
	what); goto fail; } while (0)

/* Reads the union TimeUnit {1 MILLIS, 2 MICROS, 3 NANOS} */
static int
read_time_unit(thrift_reader *r, int *unit)
{
	int16_t last = 0;
	thrift_field f;
	int rc;

	if (tr_struct_enter(r) == -1)
		return -1;
	while ((rc = tr_next_field(r, &last, &f)) == 1) {
		*unit = f.id;
		if (tr_skip(r, f.type) == -1)
			return -1;
	}
	tr_struct_leave(r);
	return rc;
}

static int
read_logical(thrift_reader *r, schema_elem *e)
{
	int16_t last = 0, last2;
	thrift_field f, g;
	int64_t v;
	int rc, rc2;

	if (tr_struct_enter(r) == -1)
		return -1;
	while ((rc = tr_next_field(r, &last, &f)) == 1) {
		if (f.type != T_STRUCT) {
			if (tr_skip(r, f.type) == -1)
				return -1;
			continue;
		}
		e->logical = f.id;
		if (f.id != LT_TIMESTAMP && f.id != LT_INTEGER &&
		    f.id != LT_DECIMAL) {
			if (tr_skip(r, f.type) == -1)
				return -1;
			continue;
		}
		if (tr_struct_enter(r) == -1)
			return -1;
		last2 = 0;
		while ((rc2 = tr_next_field(r, &last2, &g)) == 1) {
			if (f.id == LT_TIMESTAMP && g.id == 2 &&
			    g.type == T_STRUCT) {
				if (read_time_unit(r, &e->ts_unit) == -1)
					return -1;
				continue;
			}
			if (g.type == T_STRUCT || g.type == T_BINARY ||
			    g.type == T_LIST || g.type == T_MAP ||
			    g.type == T_SET || g.type == T_DOUBLE) {
				if (tr_skip(r, g.type) == -1)
					return -1;
				continue;
			}
			if (tr_int(r, &g, &v) == -1)
				return -1;
			if (f.id == LT_TIMESTAMP && g.id == 1)
				e->ts_utc = (int)v;
			else if (f.id == LT_INTEGER && g.id == 1)
				e->int_bits = (int)v;
			else if (f.id == LT_DECIMAL && g.id == 1)
				e->scale = (int)v;
			else if (f.id == LT_DECIMAL && g.id == 2)
				e->precision = (int)v;
		}
		if (rc2 == -1)
			return -1;
		tr_struct_leave(r);
	}
	tr_struct_leave(r);
	return rc;
}

static int
is_scalar(int type)
{
	return type == T_TRUE || type == T_FALSE || type == T_BYTE ||
	    type == T_I16 || type == T_I32 || type == T_I64;
}

static int
read_schema_elem(thrift_reader *r, schema_elem *e, lake_err *err)
{
	int16_t last = 0;
	thrift_field f;
	const uint8_t *p;
	uint32_t n;
	int64_t v;
	int rc;

	memset(e, 0, sizeof(*e));
	e->type = -1;
	e->repetition = -1;
	e->converted = -1;
	if (tr_struct_enter(r) == -1)
		BAD("schema nested too deep");
	while ((rc = tr_next_field(r, &last, &f)) == 1) {
		if (f.id == 4 && f.type == T_BINARY) {
			if (tr_binary(r, &p, &n) == -1)
				BAD("schema element name");
			free(e->name);
			if ((e->name = dup_bytes(p, n)) == NULL)
				BAD("out of memory");
		} else if (f.id == 10 && f.type == T_STRUCT) {
			if (read_logical(r, e) == -1)
				BAD("schema element logicalType");
		} else if (is_scalar(f.type) && f.id <= 9) {
			if (tr_int(r, &f, &v) == -1)
				BAD("schema element field");
			if (v < INT32_MIN || v > INT32_MAX)
				BAD("schema element value out of range");
			switch (f.id) {
			case 1: e->type = (int)v; break;
			case 2: e->type_length = (int)v; break;
			case 3: e->repetition = (int)v; break;
			case 5: e->num_children = (int)v; break;
			case 6: e->converted = (int)v; break;
			case 7: e->scale = (int)v; break;
			case 8: e->precision = (int)v; break;
			default: break;
			}
		} else if (tr_skip(r, f.type) == -1)
			BAD("schema element");
	}
	if (rc == -1)
		BAD("schema element");
	tr_struct_leave(r);
	if (e->name == NULL)
		BAD("schema element without a name");
	return 0;
fail:
	return -1;
}

/* Maps a primitive schema element to our type; -1 when unsupported. */
static int
leaf_type(const schema_elem *e, pq_leaf *leaf)
{
	int lt = e->logical, ct = e->converted;

	leaf->time_unit = 2;
	leaf->decimal_precision = e->precision;
	leaf->decimal_scale = e->scale;
	if (lt == LT_DECIMAL || ct == CT_DECIMAL) {
		if (e->type == PT_INT32 || e->type == PT_INT64 ||
		    ((e->type == PT_FIXED || e->type == PT_BYTE_ARRAY) &&
		    e->precision <= 18)) {
			leaf->type = PQ_DECIMAL;
			return 0;
		}
		leaf->type = PQ_BINARY;	/* too wide for int64: raw bytes */
		return 0;
	}
	switch (e->type) {
	case PT_BOOLEAN:
		leaf->type = PQ_BOOLEAN;
		return 0;
	case PT_INT32:
		if (lt == LT_DATE || ct == CT_DATE)
			leaf->type = PQ_DATE;
		else if ((lt == LT_INTEGER && e->int_bits == 8) ||
		    ct == CT_INT_8)
			leaf->type = PQ_INT8;
		else if ((lt == LT_INTEGER && e->int_bits == 16) ||
		    ct == CT_INT_16)
			leaf->type = PQ_INT16;
		else
			leaf->type = PQ_INT32;
		return 0;
	case PT_INT64:
		if (lt == LT_TIMESTAMP) {
			leaf->type = e->ts_utc ? PQ_TIMESTAMP :
			    PQ_TIMESTAMP_NTZ;
			leaf->time_unit = e->ts_unit ? e->ts_unit : 2;
		} else if (ct == CT_TIMESTAMP_MICROS ||
		    ct == CT_TIMESTAMP_MILLIS) {
			leaf->type = PQ_TIMESTAMP;
			leaf->time_unit = ct == CT_TIMESTAMP_MILLIS ? 1 : 2;
		} else
			leaf->type = PQ_INT64;
		return 0;
	case PT_INT96:
		leaf->type = PQ_TIMESTAMP;
		leaf->time_unit = 3;
		return 0;
	case PT_FLOAT:
		leaf->type = PQ_FLOAT;
		return 0;
	case PT_DOUBLE:
		leaf->type = PQ_DOUBLE;
		return 0;
	case PT_BYTE_ARRAY:
		leaf->type = (lt == LT_STRING || lt == LT_ENUM ||
		    lt == LT_JSON || ct == CT_UTF8 || ct == CT_ENUM ||
		    ct == CT_JSON) ? PQ_STRING : PQ_BINARY;
		return 0;
	case PT_FIXED:
		if (e->type_length <= 0)
			return -1;
		leaf->type = PQ_BINARY;
		return 0;
	default:
		return -1;
	}
}

typedef struct tree_walk {
	schema_elem *elems;
	int nelems;
	int next;
	pq_file_meta *m;
	lake_err *err;
} tree_walk;

static int
walk(tree_walk *t, int nchildren, const char *prefix, int def, int rep,
    int depth)
{
	lake_err *err = t->err;

	if (depth > 32)
		BAD("schema nested too deep");
	for (int c = 0; c < nchildren; c++) {
		schema_elem *e;
		char path[1024];
		int d = def, rp = rep;

		if (t->next >= t->nelems)
			BAD("schema has fewer elements than num_children say");
		e = &t->elems[t->next++];
		if (e->repetition == REP_OPTIONAL)
			d++;
		else if (e->repetition == REP_REPEATED) {
			d++;
			rp++;
		}
		if (snprintf(path, sizeof(path), "%s%s%s", prefix,
		    *prefix ? "." : "", e->name) >= (int)sizeof(path))
			BAD("schema path too long");
		if (e->num_children > 0) {
			if (walk(t, e->num_children, path, d, rp,
			    depth + 1) == -1)
				goto fail;
		} else {
			pq_leaf *leaf;

			if (e->type < 0)
				BAD("leaf without a type");
			if (t->m->nleaves >= t->nelems)
				BAD("too many leaves");
			leaf = &t->m->leaves[t->m->nleaves];
			memset(leaf, 0, sizeof(*leaf));
			leaf->physical = e->type;
			leaf->type_length = e->type_length;
			leaf->repetition = e->repetition < 0 ? REP_REQUIRED :
			    e->repetition;
			leaf->max_def = d;
			leaf->max_rep = rp;
			leaf->top_level = depth == 0;
			if (leaf_type(e, leaf) == -1) {
				lake_err_set(err, "column %s: unsupported "
				    "physical type %d", path, e->type);
				goto fail;
			}
			if ((leaf->path = strdup(path)) == NULL)
				BAD("out of memory");
			t->m->nleaves++;
		}
	}
	return 0;
fail:
	return -1;
}

static int
read_schema(thrift_reader *r, pq_file_meta *m, lake_err *err)
{
	schema_elem *elems = NULL;
	tree_walk t;
	uint32_t n = 0, i;
	int et, rc = -1;

	if (tr_list_begin(r, &et, &n) == -1 || et != T_STRUCT || n == 0)
		BAD("schema list");
	if ((elems = calloc(n, sizeof(*elems))) == NULL)
		BAD("out of memory");
	for (i = 0; i < n; i++)
		if (read_schema_elem(r, &elems[i], err) == -1)
			goto fail;
	if ((m->leaves = calloc(n, sizeof(*m->leaves))) == NULL)
		BAD("out of memory");
	t.elems = elems;
	t.nelems = (int)n;
	t.next = 1;
	t.m = m;
	t.err = err;
	if (elems[0].num_children < 0)
		BAD("root num_children");
	if (walk(&t, elems[0].num_children, "", 0, 0, 0) == -1)
		goto fail;
	rc = 0;
fail:
	for (i = 0; elems != NULL && i < n; i++)
		free(elems[i].name);
	free(elems);
	return rc;
}

/* Decodes min/max bytes of a leaf into a typed value. */
static int
stat_value(const pq_leaf *leaf, const uint8_t *p, uint32_t n, pq_value *v)
{
	memset(v, 0, sizeof(*v));
	switch (leaf->type) {
	case PQ_INT32:
	case PQ_DATE:
	case PQ_INT8:
	case PQ_INT16:
		if (n != 4 || leaf->physical != PT_INT32)
			return -1;
		memcpy(&v->v.i32, p, 4);
		return 0;
	case PQ_INT64:
	case PQ_TIMESTAMP:
	case PQ_TIMESTAMP_NTZ:
		if (n != 8 || leaf->physical != PT_INT64)
			return -1;
		memcpy(&v->v.i64, p, 8);
		if (leaf->time_unit == 1)
			v->v.i64 = pq_mul_sat(v->v.i64, 1000);
		else if (leaf->time_unit == 3)
			v->v.i64 /= 1000;
		return 0;
	case PQ_DOUBLE:
		if (n != 8)
			return -1;
		memcpy(&v->v.f64, p, 8);
		return 0;
	case PQ_FLOAT: {
		float f;

		if (n != 4)
			return -1;
		memcpy(&f, p, 4);
		v->v.f64 = f;
		return 0;
	}
	case PQ_BOOLEAN:
		if (n != 1)
			return -1;
		v->v.b = p[0] != 0;
		return 0;
	case PQ_STRING:
	case PQ_BINARY:
		if ((v->v.s.ptr = dup_bytes(p, n)) == NULL)
			return -1;
		v->v.s.len = n;
		return 0;
	default:
		return -1;
	}
}

static int
read_stats(thrift_reader *r, const pq_leaf *leaf, pq_column_stats *s)
{
	const uint8_t *mn = NULL, *mx = NULL, *omn = NULL, *omx = NULL;
	uint32_t nmn = 0, nmx = 0, nomn = 0, nomx = 0;
	int16_t last = 0;
	thrift_field f;
	int64_t v;
	int rc;

	/* A repeated statistics field replaces the earlier one. */
	pq_column_stats_clear(s, leaf->type);
	s->null_count = -1;
	if (tr_struct_enter(r) == -1)
		return -1;
	while ((rc = tr_next_field(r, &last, &f)) == 1) {
		if (f.type == T_BINARY && f.id >= 1 && f.id <= 6 &&
		    f.id != 3 && f.id != 4) {
			const uint8_t *p;
			uint32_t n;

			if (tr_binary(r, &p, &n) == -1)
				return -1;
			if (f.id == 1) { omx = p; nomx = n; }
			else if (f.id == 2) { omn = p; nomn = n; }
			else if (f.id == 5) { mx = p; nmx = n; }
			else { mn = p; nmn = n; }
		} else if (f.id == 3 && is_scalar(f.type)) {
			if (tr_int(r, &f, &v) == -1)
				return -1;
			s->null_count = v;
		} else if (tr_skip(r, f.type) == -1)
			return -1;
	}
	if (rc == -1)
		return -1;
	tr_struct_leave(r);
	/* The deprecated fields used signed byte order: not for strings. */
	if (mn == NULL && mx == NULL && !pq_type_is_string(leaf->type)) {
		mn = omn; nmn = nomn;
		mx = omx; nmx = nomx;
	}
	if (mn == NULL || mx == NULL || leaf->type == PQ_DECIMAL ||
	    leaf->physical == PT_INT96)
		return 0;
	if (stat_value(leaf, mn, nmn, &s->min) == 0 &&
	    stat_value(leaf, mx, nmx, &s->max) == 0)
		s->has_min_max = 1;
	else
		pq_column_stats_clear(s, leaf->type);
	return 0;
}

static int
read_column_meta(thrift_reader *r, const pq_leaf *leaf, pq_chunk_meta *c,
    lake_err *err)
{
	int16_t last = 0;
	thrift_field f;
	int64_t v;
	int rc, seen_type = 0;

	if (tr_struct_enter(r) == -1)
		BAD("column metadata nested too deep");
	while ((rc = tr_next_field(r, &last, &f)) == 1) {
		if (f.id == 12 && f.type == T_STRUCT) {
			if (read_stats(r, leaf, &c->stats) == -1)
				BAD("column statistics");
			continue;
		}
		if (!is_scalar(f.type)) {
			if (tr_skip(r, f.type) == -1)
				BAD("column metadata");
			continue;
		}
		if (tr_int(r, &f, &v) == -1)
			BAD("column metadata");
		switch (f.id) {
		case 1: c->physical = (int)v; seen_type = 1; break;
		case 4: c->codec = (int)v; break;
		case 5: c->num_values = v; break;
		case 6: c->total_uncompressed = v; break;
		case 7: c->total_compressed = v; break;
		case 9: c->data_page_offset = v; break;
		case 11: c->dictionary_page_offset = v; break;
		default: break;
		}
	}
	if (rc == -1)
		BAD("column metadata");
	tr_struct_leave(r);
	if (!seen_type || c->physical != leaf->physical) {
		lake_err_set(err, "corrupt Parquet footer: column %s: chunk "
		    "type disagrees with the schema", leaf->path);
		goto fail;
	}
	if (c->num_values < 0 || c->total_compressed < 0 ||
	    c->total_uncompressed < 0 || c->data_page_offset < 4) {
		lake_err_set(err, "corrupt Parquet footer: column %s: "
		    "negative size or offset", leaf->path);
		goto fail;
	}
	return 0;
fail:
	return -1;
}

static int
read_column_chunk(thrift_reader *r, const pq_leaf *leaf, pq_chunk_meta *c,
    lake_err *err)
{
	int16_t last = 0;
	thrift_field f;
	int rc, seen = 0;

	c->dictionary_page_offset = -1;
	c->stats.null_count = -1;
	if (tr_struct_enter(r) == -1)
		BAD("column chunk nested too deep");
	while ((rc = tr_next_field(r, &last, &f)) == 1) {
		if (f.id == 1 && f.type == T_BINARY) {
			lake_err_set(err, "column %s lives in another file; "
			    "external column chunks are not supported",
			    leaf->path);
			goto fail;
		}
		if (f.id == 3 && f.type == T_STRUCT) {
			if (read_column_meta(r, leaf, c, err) == -1)
				goto fail;
			seen = 1;
		} else if (f.id >= 4 && f.id <= 7 && is_scalar(f.type)) {
			/* The page index: where, and how long. */
			int64_t v;

			if (tr_int(r, &f, &v) == -1)
				BAD("column chunk");
			if (f.id == 4)
				c->offset_index_offset = v;
			else if (f.id == 5)
				c->offset_index_length = v > 0 && v <= INT32_MAX ?
				    (int32_t)v : 0;
			else if (f.id == 6)
				c->column_index_offset = v;
			else
				c->column_index_length = v > 0 && v <= INT32_MAX ?
				    (int32_t)v : 0;
		} else if (tr_skip(r, f.type) == -1)
			BAD("column chunk");
	}
	if (rc == -1)
		BAD("column chunk");
	tr_struct_leave(r);
	if (!seen) {
		lake_err_set(err, "corrupt Parquet footer: column %s has no "
		    "metadata", leaf->path);
		goto fail;
	}
	/* An index that points nowhere is as good as none. */
	if (c->offset_index_offset < 4)
		c->offset_index_length = 0;
	if (c->column_index_offset < 4)
		c->column_index_length = 0;
	return 0;
fail:
	return -1;
}

static int
read_row_group(thrift_reader *r, pq_file_meta *m, pq_row_group_meta *g,
    lake_err *err)
{
	int16_t last = 0;
	thrift_field f;
	int64_t v;
	uint32_t n, i;
	int et, rc, seen_columns = 0;

	g->num_rows = -1;
	if (tr_struct_enter(r) == -1)
		BAD("row group nested too deep");
	while ((rc = tr_next_field(r, &last, &f)) == 1) {
		if (f.id == 1 && f.type == T_LIST && !seen_columns) {
			if (tr_list_begin(r, &et, &n) == -1 || et != T_STRUCT)
				BAD("row group column list");
			if ((int64_t)n != m->nleaves)
				BAD("row group column count differs from the "
				    "schema");
			g->chunks = calloc(n ? n : 1, sizeof(*g->chunks));
			if (g->chunks == NULL)
				BAD("out of memory");
			seen_columns = 1;
			for (i = 0; i < n; i++)
				if (read_column_chunk(r, &m->leaves[i],
				    &g->chunks[i], err) == -1)
					goto fail;
		} else if ((f.id == 2 || f.id == 3) && is_scalar(f.type)) {
			if (tr_int(r, &f, &v) == -1)
				BAD("row group");
			if (f.id == 2)
				g->total_byte_size = v;
			else
				g->num_rows = v;
		} else if (tr_skip(r, f.type) == -1)
			BAD("row group");
	}
	if (rc == -1)
		BAD("row group");
	tr_struct_leave(r);
	if (!seen_columns || g->num_rows < 0)
		BAD("row group without columns or num_rows");
	return 0;
fail:
	return -1;
}

int
pq_meta_decode(const uint8_t *p, size_t n, pq_file_meta *m, lake_err *err)
{
	thrift_reader r;
	int16_t last = 0;
	thrift_field f;
	int64_t v, sum = 0;
	uint32_t count, i;
	int et, rc, seen_schema = 0, seen_rows = 0;

	memset(m, 0, sizeof(*m));
	tr_init(&r, p, n);
	while ((rc = tr_next_field(&r, &last, &f)) == 1) {
		if (f.id == 2 && f.type == T_LIST && !seen_schema) {
			if (read_schema(&r, m, err) == -1)
				goto fail;
			seen_schema = 1;
		} else if (f.id == 3 && is_scalar(f.type)) {
			if (tr_int(&r, &f, &v) == -1 || v < 0)
				BAD("num_rows");
			m->num_rows = v;
			seen_rows = 1;
		} else if (f.id == 4 && f.type == T_LIST && seen_schema &&
		    m->row_groups == NULL) {
			if (tr_list_begin(&r, &et, &count) == -1 ||
			    et != T_STRUCT)
				BAD("row group list");
			m->row_groups = calloc(count ? count : 1,
			    sizeof(*m->row_groups));
			if (m->row_groups == NULL)
				BAD("out of memory");
			for (i = 0; i < count; i++) {
				m->nrow_groups++;
				if (read_row_group(&r, m, &m->row_groups[i],
				    err) == -1)
					goto fail;
				sum += m->row_groups[i].num_rows;
			}
		} else if (f.id == 6 && f.type == T_BINARY) {
			const uint8_t *s;
			uint32_t len;

			if (tr_binary(&r, &s, &len) == -1)
				BAD("created_by");
			free(m->created_by);
			m->created_by = dup_bytes(s, len);
		} else if (tr_skip(&r, f.type) == -1)
			BAD("unreadable field");
	}
	if (rc == -1)
		BAD("truncated metadata");
	if (!seen_schema || !seen_rows)
		BAD("schema or num_rows missing");
	if (m->row_groups == NULL && m->num_rows != 0)
		BAD("rows but no row groups");
	if (sum != m->num_rows)
		BAD("num_rows differs from the sum of the row groups");
	return 0;
fail:
	pq_meta_free(m);
	return -1;
}

void
pq_column_stats_clear(pq_column_stats *s, pq_type type)
{
	if (pq_type_is_string(type)) {
		free((char *)s->min.v.s.ptr);
		free((char *)s->max.v.s.ptr);
	}
	memset(&s->min, 0, sizeof(s->min));
	memset(&s->max, 0, sizeof(s->max));
	s->has_min_max = 0;
}

void
pq_meta_free(pq_file_meta *m)
{
	for (int g = 0; g < m->nrow_groups; g++) {
		pq_row_group_meta *rg = &m->row_groups[g];

		for (int c = 0; rg->chunks != NULL && c < m->nleaves; c++)
			pq_column_stats_clear(&rg->chunks[c].stats,
			    m->leaves[c].type);
		free(rg->chunks);
	}
	free(m->row_groups);
	for (int i = 0; i < m->nleaves; i++)
		free(m->leaves[i].path);
	free(m->leaves);
	free(m->created_by);
	memset(m, 0, sizeof(*m));
}

/* --- encoding ------------------------------------------------------ */

/* Plain-encoded bytes of a stats value (for min_value/max_value). */
static size_t
pq_stat_bytes(pq_type type, const pq_value *v, uint8_t tmp[8],
    const uint8_t **bytes)
{
	*bytes = tmp;
	switch (type) {
	case PQ_INT32:
	case PQ_DATE:
		memcpy(tmp, &v->v.i32, 4);
		return 4;
	case PQ_INT64:
	case PQ_TIMESTAMP:
		memcpy(tmp, &v->v.i64, 8);
		return 8;
	case PQ_DOUBLE:
		memcpy(tmp, &v->v.f64, 8);
		return 8;
	case PQ_BOOLEAN:
		tmp[0] = (uint8_t)(v->v.b != 0);
		return 1;
	case PQ_STRING:
		*bytes = (const uint8_t *)v->v.s.ptr;
		return v->v.s.len;
	default:
		return 0;
	}
}

int
pq_stats_value_copy(pq_value *dst, const pq_value *src, pq_type type)
{
	if (pq_type_is_string(type)) {
		char *s = dup_bytes((const uint8_t *)src->v.s.ptr,
		    src->v.s.len);

		if (s == NULL)
			return -1;
		free((char *)dst->v.s.ptr);
		dst->is_null = 0;
		dst->v.s.ptr = s;
		dst->v.s.len = src->v.s.len;
		return 0;
	}
	*dst = *src;
	return 0;
}

int
pq_physical_type(pq_type t)
{
	switch (t) {
	case PQ_INT32:
	case PQ_DATE:
		return PT_INT32;
	case PQ_INT64:
	case PQ_TIMESTAMP:
		return PT_INT64;
	case PQ_DOUBLE:
		return PT_DOUBLE;
	case PQ_BOOLEAN:
		return PT_BOOLEAN;
	default:
		return PT_BYTE_ARRAY;
	}
}

static void
encode_schema_leaf(thrift_writer *w, const pq_column_def *c)
{
	tw_elem_struct_begin(w);
	tw_i32(w, 1, pq_physical_type(c->type));
	tw_i32(w, 3, c->nullable ? REP_OPTIONAL : REP_REQUIRED);
	tw_string(w, 4, c->name);
	switch (c->type) {
	case PQ_STRING:
		tw_i32(w, 6, CT_UTF8);
		tw_struct_begin(w, 10);
		tw_struct_begin(w, LT_STRING);
		tw_struct_end(w);
		tw_struct_end(w);
		break;
	case PQ_DATE:
		tw_i32(w, 6, CT_DATE);
		tw_struct_begin(w, 10);
		tw_struct_begin(w, LT_DATE);
		tw_struct_end(w);
		tw_struct_end(w);
		break;
	case PQ_TIMESTAMP:
		tw_i32(w, 6, CT_TIMESTAMP_MICROS);
		tw_struct_begin(w, 10);
		tw_struct_begin(w, LT_TIMESTAMP);
		tw_bool(w, 1, 1);
		tw_struct_begin(w, 2);
		tw_struct_begin(w, 2);	/* MICROS */
		tw_struct_end(w);
		tw_struct_end(w);
		tw_struct_end(w);
		tw_struct_end(w);
		break;
	case PQ_INT32:
	case PQ_INT64:
		tw_i32(w, 6, c->type == PQ_INT32 ? CT_INT_32 : CT_INT_64);
		tw_struct_begin(w, 10);
		tw_struct_begin(w, LT_INTEGER);
		tw_byte(w, 1, c->type == PQ_INT32 ? 32 : 64);
		tw_bool(w, 2, 1);
		tw_struct_end(w);
		tw_struct_end(w);
		break;
	default:
		break;
	}
	tw_struct_end(w);
}

static void
encode_stats(thrift_writer *w, pq_type type, const pq_column_stats *s)
{
	uint8_t tmp[8];
	const uint8_t *bytes;
	size_t n;

	tw_struct_begin(w, 12);
	if (s->has_min_max && !pq_type_is_string(type)) {
		/* The deprecated pair, for old readers; signed order is right
		 * for numbers. */
		n = pq_stat_bytes(type, &s->max, tmp, &bytes);
		tw_binary(w, 1, bytes, n);
		n = pq_stat_bytes(type, &s->min, tmp, &bytes);
		tw_binary(w, 2, bytes, n);
	}
	tw_i64(w, 3, s->null_count);
	if (s->has_min_max) {
		n = pq_stat_bytes(type, &s->max, tmp, &bytes);
		tw_binary(w, 5, bytes, n);
		n = pq_stat_bytes(type, &s->min, tmp, &bytes);
		tw_binary(w, 6, bytes, n);
	}
	tw_struct_end(w);
}

static void
encode_chunk(thrift_writer *w, const pq_column_def *c, const pq_chunk_out *k)
{
	int nenc = 0, encs[4];

	if (k->used_plain || (!k->used_dictionary && !k->used_delta))
		encs[nenc++] = ENC_PLAIN;
	encs[nenc++] = ENC_RLE;
	if (k->used_dictionary)
		encs[nenc++] = ENC_RLE_DICTIONARY;
	if (k->used_delta)
		encs[nenc++] = ENC_DELTA_BINARY_PACKED;
	tw_elem_struct_begin(w);
	tw_i64(w, 2, k->dictionary_page_offset >= 0 ?
	    k->dictionary_page_offset : k->data_page_offset);
	tw_struct_begin(w, 3);
	tw_i32(w, 1, pq_physical_type(c->type));
	tw_list_begin(w, 2, T_I32, (uint32_t)nenc);
	for (int i = 0; i < nenc; i++)
		tw_elem_i32(w, encs[i]);
	tw_list_begin(w, 3, T_BINARY, 1);
	tw_elem_string(w, c->name);
	tw_i32(w, 4, k->codec);
	tw_i64(w, 5, k->num_values);
	tw_i64(w, 6, k->total_uncompressed);
	tw_i64(w, 7, k->total_compressed);
	tw_i64(w, 9, k->data_page_offset);
	if (k->dictionary_page_offset >= 0)
		tw_i64(w, 11, k->dictionary_page_offset);
	encode_stats(w, c->type, &k->stats);
	tw_struct_end(w);
	if (k->offset_index_length > 0) {
		tw_i64(w, 4, k->offset_index_offset);
		tw_i32(w, 5, k->offset_index_length);
	}
	if (k->column_index_length > 0) {
		tw_i64(w, 6, k->column_index_offset);
		tw_i32(w, 7, k->column_index_length);
	}
	tw_struct_end(w);
}

void
pq_meta_encode(lake_buf *out, const pq_schema *schema,
    const pq_row_group_out *rgs, int nrgs, int64_t num_rows,
    const char *created_by)
{
	thrift_writer w;

	tw_init(&w, out);
	tw_i32(&w, 1, 1);
	tw_list_begin(&w, 2, T_STRUCT, (uint32_t)schema->ncols + 1);
	tw_elem_struct_begin(&w);
	tw_string(&w, 4, "schema");
	tw_i32(&w, 5, schema->ncols);
	tw_struct_end(&w);
	for (int i = 0; i < schema->ncols; i++)
		encode_schema_leaf(&w, &schema->cols[i]);
	tw_i64(&w, 3, num_rows);
	tw_list_begin(&w, 4, T_STRUCT, (uint32_t)nrgs);
	for (int g = 0; g < nrgs; g++) {
		const pq_row_group_out *rg = &rgs[g];

		tw_elem_struct_begin(&w);
		tw_list_begin(&w, 1, T_STRUCT, (uint32_t)schema->ncols);
		for (int i = 0; i < schema->ncols; i++)
			encode_chunk(&w, &schema->cols[i], &rg->chunks[i]);
		tw_i64(&w, 2, rg->total_byte_size);
		tw_i64(&w, 3, rg->num_rows);
		tw_i64(&w, 5, rg->file_offset);
		tw_i64(&w, 6, rg->total_compressed);
		tw_struct_end(&w);
	}
	tw_string(&w, 6, created_by);
	tw_list_begin(&w, 7, T_STRUCT, (uint32_t)schema->ncols);
	for (int i = 0; i < schema->ncols; i++) {
		/* ColumnOrder{1: TypeDefinedOrder{}} */
		tw_elem_struct_begin(&w);
		tw_struct_begin(&w, 1);
		tw_struct_end(&w);
		tw_struct_end(&w);
	}
	tw_end(&w);
}

/* --- page index (OffsetIndex and ColumnIndex) ---------------------- */

static int int_stat(const uint8_t *p, uint32_t n, int64_t *out);

/*
 * OffsetIndex{1: page_locations: list<PageLocation{1: offset i64,
 * 2: compressed_page_size i32 (header included), 3: first_row_index
 * i64}>}: the data pages only, the dictionary page is not listed.
 */
void
pq_offset_index_encode(lake_buf *out, const pq_chunk_out *k)
{
	thrift_writer w;

	tw_init(&w, out);
	tw_list_begin(&w, 1, T_STRUCT, (uint32_t)k->npages);
	for (int i = 0; i < k->npages; i++) {
		tw_elem_struct_begin(&w);
		tw_i64(&w, 1, k->pages[i].loc.offset);
		tw_i32(&w, 2, k->pages[i].loc.size);
		tw_i64(&w, 3, k->pages[i].loc.first_row);
		tw_struct_end(&w);
	}
	tw_end(&w);
}

/* An integer as min_value/max_value store it: PLAIN, little-endian. */
static void
elem_int(thrift_writer *w, int64_t v, int width)
{
	int32_t v32 = (int32_t)v;

	if (width == 4)
		tw_elem_binary(w, &v32, 4);
	else
		tw_elem_binary(w, &v, 8);
}

/* The pages' mins (or maxes) as list field id; a null page's is empty. */
static void
put_bounds(thrift_writer *w, int16_t id, const pq_chunk_out *k, int max)
{
	tw_list_begin(w, id, T_BINARY, (uint32_t)k->npages);
	for (int i = 0; i < k->npages; i++)
		if (k->pages[i].has_range)
			elem_int(w, max ? k->pages[i].max : k->pages[i].min,
			    k->index_width);
		else
			tw_elem_binary(w, "", 0);
}

/*
 * ColumnIndex{1: null_pages list<bool>, 2: min_values list<binary>,
 * 3: max_values list<binary>, 4: boundary_order (UNORDERED 0,
 * ASCENDING 1)}: a null page gets empty bounds. A clustered column's
 * pages come in order, which lets a reader binary-search them.
 */
void
pq_column_index_encode(lake_buf *out, const pq_chunk_out *k)
{
	thrift_writer w;
	int ascending = 1, seen = 0;
	int64_t last_min = 0, last_max = 0;

	for (int i = 0; i < k->npages; i++) {
		const pq_page_out *pg = &k->pages[i];

		if (!pg->has_range)
			continue;
		if (seen && (pg->min < last_min || pg->max < last_max))
			ascending = 0;
		last_min = pg->min;
		last_max = pg->max;
		seen = 1;
	}
	tw_init(&w, out);
	tw_list_begin(&w, 1, T_TRUE, (uint32_t)k->npages);
	for (int i = 0; i < k->npages; i++)
		tw_elem_bool(&w, !k->pages[i].has_range);
	put_bounds(&w, 2, k, 0);
	put_bounds(&w, 3, k, 1);
	tw_i32(&w, 4, ascending);
	tw_end(&w);
}

/* One PageLocation struct. */
static int
read_page_loc(thrift_reader *r, pq_page_loc *loc)
{
	int16_t last = 0;
	thrift_field f;
	int64_t v;
	int rc, seen = 0;

	if (tr_struct_enter(r) == -1)
		return -1;
	while ((rc = tr_next_field(r, &last, &f)) == 1) {
		if (f.id >= 1 && f.id <= 3 && is_scalar(f.type)) {
			if (tr_int(r, &f, &v) == -1)
				return -1;
			if (f.id == 1)
				loc->offset = v;
			else if (f.id == 2) {
				if (v <= 0 || v > INT32_MAX)
					return -1;
				loc->size = (int32_t)v;
			} else
				loc->first_row = v;
			seen |= 1 << f.id;
		} else if (tr_skip(r, f.type) == -1)
			return -1;
	}
	tr_struct_leave(r);
	return rc == 0 && seen == 0xe ? 0 : -1;
}

/*
 * A PageLocation in the shape every writer we know gives it (parquet-mr,
 * DuckDB, ours): fields 1, 2 and 3 in order, each with the one-byte
 * field header, then STOP. Decoded without the generic reader, since a
 * big file's offset index has hundreds of entries per column and a
 * lookup reads several. Returns 0, or 1 (r untouched) when the bytes
 * have any other shape: the caller then reads it with read_page_loc.
 */
static int
read_page_loc_usual(thrift_reader *r, pq_page_loc *loc)
{
	static const uint8_t header[3] = { 0x10 | T_I64, 0x10 | T_I32,
		0x10 | T_I64 };
	const uint8_t *p = r->p;
	uint64_t v[3];

	for (int i = 0; i < 3; i++)
		if (p >= r->end || *p++ != header[i] ||
		    lake_get_varint(&p, r->end, &v[i]) == -1)
			return 1;
	if (p >= r->end || *p++ != T_STOP)
		return 1;
	loc->offset = (int64_t)(v[0] >> 1) ^ -(int64_t)(v[0] & 1);
	loc->first_row = (int64_t)(v[2] >> 1) ^ -(int64_t)(v[2] & 1);
	if ((v[1] & 1) || v[1] == 0 || (v[1] >> 1) > INT32_MAX)
		return 1;	/* a size of 0 or below: let the reader refuse */
	loc->size = (int32_t)(v[1] >> 1);
	r->p = p;
	return 0;
}

int
pq_offset_index_decode(const uint8_t *p, size_t n, pq_page_loc **locs,
    int *nlocs)
{
	thrift_reader r;
	int16_t last = 0;
	thrift_field f;
	pq_page_loc *out = NULL;
	uint32_t count = 0;
	int et, rc, seen = 0;

	tr_init(&r, p, n);
	while ((rc = tr_next_field(&r, &last, &f)) == 1) {
		if (f.id == 1 && f.type == T_LIST && !seen) {
			if (tr_list_begin(&r, &et, &count) == -1 ||
			    et != T_STRUCT || count > INT32_MAX)
				goto fail;
			if ((out = calloc(count ? count : 1,
			    sizeof(*out))) == NULL)
				goto fail;
			for (uint32_t i = 0; i < count; i++)
				if (read_page_loc_usual(&r, &out[i]) == 1 &&
				    read_page_loc(&r, &out[i]) == -1)
					goto fail;
			seen = 1;
		} else if (tr_skip(&r, f.type) == -1)
			goto fail;
	}
	if (rc == -1 || !seen)
		goto fail;
	*locs = out;
	*nlocs = (int)count;
	return 0;
fail:
	free(out);
	return -1;
}

void
pq_int_index_free(pq_int_index *ix)
{
	free(ix->null_page);
	free(ix->known);
	free(ix->min);
	free(ix->max);
	memset(ix, 0, sizeof(*ix));
}

/* A list of booleans (null_pages) into ix->null_page. */
static int
read_null_pages(thrift_reader *r, pq_int_index *ix)
{
	thrift_field byte = { 0, T_BYTE };
	uint32_t count;
	int64_t v;
	int et;

	if (tr_list_begin(r, &et, &count) == -1 || (et != T_TRUE &&
	    et != T_FALSE) || count > INT32_MAX ||
	    (ix->null_page != NULL && (int)count != ix->npages))
		return -1;
	if (ix->null_page == NULL) {
		ix->npages = (int)count;
		if ((ix->null_page = calloc(count + 1, 1)) == NULL)
			return -1;
	}
	for (uint32_t i = 0; i < count; i++) {
		if (tr_int(r, &byte, &v) == -1)
			return -1;
		ix->null_page[i] = v == 1;
	}
	return 0;
}

/* min_values or max_values into out, marking known pages. */
static int
read_int_bounds(thrift_reader *r, int npages, int64_t *out, uint8_t *known)
{
	const uint8_t *p;
	uint32_t count, len;
	int et;

	if (tr_list_begin(r, &et, &count) == -1 || et != T_BINARY ||
	    (int64_t)count != npages)
		return -1;
	for (uint32_t i = 0; i < count; i++) {
		if (tr_binary(r, &p, &len) == -1)
			return -1;
		if (int_stat(p, len, &out[i]) == -1)
			known[i] = 0;
	}
	return 0;
}

int
pq_column_index_decode_int(const uint8_t *p, size_t n, pq_int_index *ix)
{
	thrift_reader r;
	int16_t last = 0;
	thrift_field f;
	uint8_t *known_max = NULL;
	int rc, seen = 0;

	memset(ix, 0, sizeof(*ix));
	tr_init(&r, p, n);
	while ((rc = tr_next_field(&r, &last, &f)) == 1) {
		if (f.id == 1 && f.type == T_LIST && !(seen & 1)) {
			if (read_null_pages(&r, ix) == -1)
				goto fail;
			ix->known = malloc((size_t)ix->npages + 1);
			known_max = malloc((size_t)ix->npages + 1);
			ix->min = calloc((size_t)ix->npages + 1, 8);
			ix->max = calloc((size_t)ix->npages + 1, 8);
			if (ix->known == NULL || known_max == NULL ||
			    ix->min == NULL || ix->max == NULL)
				goto fail;
			memset(ix->known, 1, (size_t)ix->npages + 1);
			memset(known_max, 1, (size_t)ix->npages + 1);
			seen |= 1;
		} else if ((f.id == 2 || f.id == 3) && f.type == T_LIST &&
		    (seen & 1) && !(seen & (1 << f.id))) {
			if (read_int_bounds(&r, ix->npages, f.id == 2 ?
			    ix->min : ix->max, f.id == 2 ? ix->known :
			    known_max) == -1)
				goto fail;
			seen |= 1 << f.id;
		} else if (tr_skip(&r, f.type) == -1)
			goto fail;
	}
	if (rc == -1 || seen != (1 | 1 << 2 | 1 << 3))
		goto fail;
	for (int i = 0; i < ix->npages; i++)
		ix->known[i] = ix->known[i] && known_max[i] &&
		    !ix->null_page[i] && ix->min[i] <= ix->max[i];
	free(known_max);
	return 0;
fail:
	free(known_max);
	pq_int_index_free(ix);
	return -1;
}

/* --- page headers -------------------------------------------------- */

uint32_t
pq_page_crc(const uint8_t *page, size_t len)
{
	uLong crc = crc32(0L, Z_NULL, 0);

	/* zlib takes uInt lengths: feed a large page in pieces. */
	while (len > 0) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;

		crc = crc32(crc, page, n);
		page += n;
		len -= n;
	}
	return (uint32_t)crc;
}

/* A little-endian signed integer of 4 or 8 bytes. */
static int
int_stat(const uint8_t *p, uint32_t n, int64_t *out)
{
	int32_t v32;

	if (n == 4) {
		memcpy(&v32, p, 4);
		*out = v32;
		return 0;
	}
	if (n == 8) {
		memcpy(out, p, 8);
		return 0;
	}
	return -1;
}

/*
 * A data page header's Statistics: min_value and max_value (the fields
 * with a defined sort order; the deprecated min and max are ignored),
 * kept when they are integers.
 */
static int
read_page_stats(thrift_reader *r, pq_page_header *h)
{
	int16_t last = 0;
	thrift_field f;
	const uint8_t *p;
	uint32_t n;
	int have_min = 0, have_max = 0, rc;

	if (tr_struct_enter(r) == -1)
		return -1;
	while ((rc = tr_next_field(r, &last, &f)) == 1) {
		if ((f.id == 5 || f.id == 6) && f.type == T_BINARY) {
			if (tr_binary(r, &p, &n) == -1)
				return -1;
			if (f.id == 5)
				have_max = int_stat(p, n, &h->max_int) == 0;
			else
				have_min = int_stat(p, n, &h->min_int) == 0;
		} else if (tr_skip(r, f.type) == -1)
			return -1;
	}
	tr_struct_leave(r);
	h->has_int_range = have_min && have_max && h->min_int <= h->max_int;
	return rc;
}

static int
read_page_sub(thrift_reader *r, pq_page_header *h, int which)
{
	int16_t last = 0;
	thrift_field f;
	int64_t v;
	int rc;

	if (tr_struct_enter(r) == -1)
		return -1;
	while ((rc = tr_next_field(r, &last, &f)) == 1) {
		if (f.type == T_STRUCT && ((which == 5 && f.id == 5) ||
		    (which == 8 && f.id == 8))) {
			if (read_page_stats(r, h) == -1)
				return -1;
			continue;
		}
		if (!is_scalar(f.type)) {
			if (tr_skip(r, f.type) == -1)
				return -1;
			continue;
		}
		if (tr_int(r, &f, &v) == -1 || v < INT32_MIN || v > INT32_MAX)
			return -1;
		if (f.id == 1)
			h->num_values = (int32_t)v;
		else if (which == 8) {	/* DataPageHeaderV2 */
			switch (f.id) {
			case 2: h->num_nulls = (int32_t)v; break;
			case 3: h->num_rows = (int32_t)v; break;
			case 4: h->encoding = (int)v; break;
			case 5: h->def_levels_len = (int32_t)v; break;
			case 6: h->rep_levels_len = (int32_t)v; break;
			case 7: h->is_compressed = (int)v; break;
			default: break;
			}
		} else if (f.id == 2)
			h->encoding = (int)v;
	}
	tr_struct_leave(r);
	return rc;
}

int
pq_page_header_decode(const uint8_t *p, size_t n, pq_page_header *h,
    size_t *used)
{
	thrift_reader r;
	int16_t last = 0;
	thrift_field f;
	int64_t v;
	int rc;

	memset(h, 0, sizeof(*h));
	h->type = -1;
	h->is_compressed = 1;
	h->num_values = -1;
	tr_init(&r, p, n);
	while ((rc = tr_next_field(&r, &last, &f)) == 1) {
		if ((f.id == 5 || f.id == 7 || f.id == 8) &&
		    f.type == T_STRUCT) {
			if (read_page_sub(&r, h, f.id) == -1)
				return -1;
		} else if (f.id <= 4 && is_scalar(f.type)) {
			if (tr_int(&r, &f, &v) == -1 || v < INT32_MIN ||
			    v > INT32_MAX)
				return -1;
			if (f.id == 1)
				h->type = (int)v;
			else if (f.id == 2)
				h->uncompressed_size = (int32_t)v;
			else if (f.id == 3)
				h->compressed_size = (int32_t)v;
			else {
				h->has_crc = 1;
				h->crc = (uint32_t)(int32_t)v;
			}
		} else if (tr_skip(&r, f.type) == -1)
			return -1;
	}
	if (rc == -1 || h->type < 0 || h->uncompressed_size < 0 ||
	    h->compressed_size < 0)
		return -1;
	if (h->type == PAGE_DATA_V2 && (h->def_levels_len < 0 ||
	    h->rep_levels_len < 0 || h->num_nulls < 0 ||
	    (int64_t)h->def_levels_len + h->rep_levels_len >
	    h->compressed_size || (int64_t)h->def_levels_len +
	    h->rep_levels_len > h->uncompressed_size))
		return -1;
	if ((h->type == PAGE_DATA || h->type == PAGE_DATA_V2 ||
	    h->type == PAGE_DICTIONARY) && h->num_values < 0)
		return -1;
	*used = tr_consumed(&r, p);
	return 0;
}

/*
 * A data page's integer range as its Statistics: min_value and max_value
 * only, in the column's width (num_values counts the page's rows; the
 * page's nulls are not counted here, so null_count is left out).
 */
static void
encode_page_int_range(thrift_writer *w, const pq_page_header *h)
{
	int32_t v32;

	tw_struct_begin(w, 5);
	if (h->int_width == 4) {
		v32 = (int32_t)h->max_int;
		tw_binary(w, 5, &v32, 4);
		v32 = (int32_t)h->min_int;
		tw_binary(w, 6, &v32, 4);
	} else {
		tw_binary(w, 5, &h->max_int, 8);
		tw_binary(w, 6, &h->min_int, 8);
	}
	tw_struct_end(w);
}

void
pq_page_header_encode(lake_buf *out, const pq_page_header *h)
{
	thrift_writer w;

	tw_init(&w, out);
	tw_i32(&w, 1, h->type);
	tw_i32(&w, 2, h->uncompressed_size);
	tw_i32(&w, 3, h->compressed_size);
	if (h->has_crc)
		tw_i32(&w, 4, (int32_t)h->crc);
	if (h->type == PAGE_DICTIONARY) {
		tw_struct_begin(&w, 7);
		tw_i32(&w, 1, h->num_values);
		tw_i32(&w, 2, ENC_PLAIN);
		tw_struct_end(&w);
	} else {
		tw_struct_begin(&w, 5);
		tw_i32(&w, 1, h->num_values);
		tw_i32(&w, 2, h->encoding);
		tw_i32(&w, 3, ENC_RLE);
		tw_i32(&w, 4, ENC_RLE);
		if (h->has_int_range)
			encode_page_int_range(&w, h);
		tw_struct_end(&w);
	}
	tw_end(&w);
}
