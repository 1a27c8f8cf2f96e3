/*
 * copy_decode.c - decoding COPY binary messages (see copy_decode.h).
 *
 * Every length is checked against the message before it is read, so a
 * surprise (a truncated message, a length that points past the end, a
 * field of the wrong width) ends in an error that names the table and
 * the column, never in a bad read.
 */
#include <string.h>

#include "copy_decode.h"

/* Microseconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01. */
#define PG_EPOCH_US 946684800000000LL

/* PGCOPY\n\377\r\n\0, then the flags and extension length words. */
#define COPY_SIGNATURE "PGCOPY\n\377\r\n\0"
#define COPY_SIGNATURE_LEN 11
#define COPY_HEADER_LEN 19
/* Flags bit 16: each tuple carries an OID; bits 17-31: unknown, and a
 * reader must refuse the stream when one is set. */
#define COPY_FLAGS_CRITICAL 0xffff0000u

static uint32_t
be32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 |
	    (uint32_t)u[2] << 8 | u[3];
}

static uint64_t
be64(const char *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

int64_t
copy_timestamp_to_unix(int64_t pg_us)
{
	int64_t unix_us;

	/* PostgreSQL's own -infinity and +infinity are the int64 extremes. */
	if (pg_us == INT64_MIN)
		return COPY_TS_MINUS_INFINITY;
	if (pg_us == INT64_MAX ||
	    __builtin_add_overflow(pg_us, PG_EPOCH_US, &unix_us))
		return COPY_TS_INFINITY;
	/* Only a value PostgreSQL cannot send lands on -INT64_MAX exactly;
	 * it reads as -infinity, which it is as near as makes no odds. */
	return unix_us;
}

long
copy_decode_header(const char *table, const char *p, size_t len,
    lake_err *err)
{
	uint32_t flags, ext;

	if (len < COPY_HEADER_LEN || memcmp(p, COPY_SIGNATURE,
	    COPY_SIGNATURE_LEN) != 0) {
		lake_err_set(err, "%s: COPY did not start with the binary "
		    "signature (%zu bytes)", table, len);
		return -1;
	}
	flags = be32(p + COPY_SIGNATURE_LEN);
	ext = be32(p + COPY_SIGNATURE_LEN + 4);
	if (flags & COPY_FLAGS_CRITICAL) {
		lake_err_set(err, "%s: COPY header has flags 0x%08x (OIDs or a "
		    "newer format this reader does not know)", table, flags);
		return -1;
	}
	if (ext > len - COPY_HEADER_LEN) {
		lake_err_set(err, "%s: COPY header extension of %u bytes does "
		    "not fit in its %zu-byte message", table, ext, len);
		return -1;
	}
	return COPY_HEADER_LEN + (long)ext;
}

/* Decodes one non-null field of column c, flen bytes at p, into v. */
static int
decode_field(const pq_column_def *c, const char *p, int32_t flen,
    pq_value *v)
{
	switch (c->type) {
	case PQ_INT32:
		if (flen != 4)
			return -1;
		v->v.i32 = (int32_t)be32(p);
		return 0;
	case PQ_INT64:		/* xid8 */
		if (flen != 8)
			return -1;
		v->v.i64 = (int64_t)be64(p);
		return 0;
	case PQ_TIMESTAMP:
		if (flen != 8)
			return -1;
		v->v.i64 = copy_timestamp_to_unix((int64_t)be64(p));
		return 0;
	case PQ_STRING:
		v->v.s.ptr = p;
		v->v.s.len = (uint32_t)flen;
		return 0;
	default:
		return -1;	/* a schema this decoder was not written for */
	}
}

int
copy_decode_tuple(const char *table, const pq_schema *schema,
    const char *p, size_t len, pq_value *row, int row_cap, lake_err *err)
{
	const char *end = p + len;
	int16_t nfields;

	if (schema->ncols > row_cap) {
		lake_err_set(err, "%s: %d columns, but the decoder has room for "
		    "%d", table, schema->ncols, row_cap);
		return COPY_ERROR;
	}
	if (len < 2) {
		lake_err_set(err, "%s: malformed COPY data: a %zu-byte tuple",
		    table, len);
		return COPY_ERROR;
	}
	nfields = (int16_t)((unsigned char)p[0] << 8 | (unsigned char)p[1]);
	p += 2;
	if (nfields == -1)
		return COPY_END;
	if (nfields != schema->ncols) {
		lake_err_set(err, "%s: COPY sent %d fields, expected %d", table,
		    nfields, schema->ncols);
		return COPY_ERROR;
	}
	for (int c = 0; c < nfields; c++) {
		const pq_column_def *col = &schema->cols[c];
		pq_value *v = &row[c];
		int32_t flen;

		memset(v, 0, sizeof(*v));
		if (end - p < 4) {
			lake_err_set(err, "%s: malformed COPY data: the tuple "
			    "ends before column %s", table, col->name);
			return COPY_ERROR;
		}
		flen = (int32_t)be32(p);
		p += 4;
		if (flen == -1) {
			v->is_null = 1;
			continue;
		}
		if (flen < 0 || flen > end - p || decode_field(col, p, flen,
		    v) == -1) {
			lake_err_set(err, "%s: malformed COPY data: column %s "
			    "has length %d (%td bytes left)", table, col->name,
			    flen, end - p);
			return COPY_ERROR;
		}
		p += flen;
	}
	/* One tuple per message: more bytes would be rows silently lost. */
	if (p != end) {
		lake_err_set(err, "%s: malformed COPY data: %td bytes after the "
		    "tuple's last column", table, end - p);
		return COPY_ERROR;
	}
	return COPY_ROW;
}
