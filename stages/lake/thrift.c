/*
 * thrift.c - Thrift compact protocol encoder and bounded decoder.
 *
 * Integers are zigzag varints; a field header packs the id delta and the
 * type in one byte when the delta is 1..15. The decoder never trusts a
 * length: each is checked against the bytes left before use, and skip()
 * recursion is bounded by THRIFT_MAX_DEPTH.
 */
#include <stdlib.h>
#include <string.h>

#include "thrift.h"

/* --- writer -------------------------------------------------------- */

static void
put_byte(thrift_writer *w, uint8_t c)
{
	lake_buf_append(w->out, &c, 1);
}

void
lake_put_varint(lake_buf *out, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	lake_buf_append(out, tmp, n);
}

int
lake_get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t out = 0;
	int shift = 0;

	while (p < end && shift <= 63) {
		uint8_t c = *p++;

		out |= (uint64_t)(c & 0x7f) << shift;
		if ((c & 0x80) == 0) {
			*v = out;
			*pp = p;
			return 0;
		}
		shift += 7;
	}
	return -1;
}

static void
put_varint(thrift_writer *w, uint64_t v)
{
	lake_put_varint(w->out, v);
}

static uint64_t
zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static void
put_field_header(thrift_writer *w, int16_t id, int type)
{
	int16_t last = w->last_id[w->depth];
	int delta = id - last;

	if (delta > 0 && delta <= 15)
		put_byte(w, (uint8_t)(delta << 4 | type));
	else {
		put_byte(w, (uint8_t)type);
		put_varint(w, zigzag(id));
	}
	w->last_id[w->depth] = id;
}

void
tw_init(thrift_writer *w, lake_buf *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
}

void
tw_i32(thrift_writer *w, int16_t id, int32_t v)
{
	put_field_header(w, id, T_I32);
	put_varint(w, zigzag(v));
}

void
tw_i64(thrift_writer *w, int16_t id, int64_t v)
{
	put_field_header(w, id, T_I64);
	put_varint(w, zigzag(v));
}

void
tw_byte(thrift_writer *w, int16_t id, int8_t v)
{
	put_field_header(w, id, T_BYTE);
	put_byte(w, (uint8_t)v);
}

void
tw_bool(thrift_writer *w, int16_t id, int v)
{
	put_field_header(w, id, v ? T_TRUE : T_FALSE);
}

void
tw_binary(thrift_writer *w, int16_t id, const void *p, size_t n)
{
	put_field_header(w, id, T_BINARY);
	put_varint(w, n);
	lake_buf_append(w->out, p, n);
}

void
tw_string(thrift_writer *w, int16_t id, const char *s)
{
	tw_binary(w, id, s, strlen(s));
}

static void
push(thrift_writer *w)
{
	if (w->depth + 1 >= THRIFT_MAX_DEPTH) {
		w->out->failed = 1;
		return;
	}
	w->last_id[++w->depth] = 0;
}

void
tw_struct_begin(thrift_writer *w, int16_t id)
{
	put_field_header(w, id, T_STRUCT);
	push(w);
}

void
tw_struct_end(thrift_writer *w)
{
	put_byte(w, T_STOP);
	if (w->depth > 0)
		w->depth--;
}

void
tw_list_begin(thrift_writer *w, int16_t id, int elem_type, uint32_t n)
{
	put_field_header(w, id, T_LIST);
	if (n <= 14)
		put_byte(w, (uint8_t)(n << 4 | elem_type));
	else {
		put_byte(w, (uint8_t)(0xF0 | elem_type));
		put_varint(w, n);
	}
}

void
tw_elem_i32(thrift_writer *w, int32_t v)
{
	put_varint(w, zigzag(v));
}

void
tw_elem_i64(thrift_writer *w, int64_t v)
{
	put_varint(w, zigzag(v));
}

/* A boolean element is one byte: 1 true, 0 false (the compact spec;
 * readers take anything but 1 as false). */
void
tw_elem_bool(thrift_writer *w, int v)
{
	put_byte(w, v ? 1 : 0);
}

void
tw_elem_binary(thrift_writer *w, const void *p, size_t n)
{
	put_varint(w, n);
	lake_buf_append(w->out, p, n);
}

void
tw_elem_string(thrift_writer *w, const char *s)
{
	size_t n = strlen(s);

	put_varint(w, n);
	lake_buf_append(w->out, s, n);
}

void
tw_elem_struct_begin(thrift_writer *w)
{
	push(w);
}

void
tw_end(thrift_writer *w)
{
	put_byte(w, T_STOP);
}

/* --- reader -------------------------------------------------------- */

void
tr_init(thrift_reader *r, const uint8_t *p, size_t n)
{
	r->p = p;
	r->end = p + n;
	r->depth = 0;
	r->failed = 0;
}

static int
bad(thrift_reader *r)
{
	r->failed = 1;
	return -1;
}

static int
get_varint(thrift_reader *r, uint64_t *v)
{
	return lake_get_varint(&r->p, r->end, v) == -1 ? bad(r) : 0;
}

static int64_t
unzigzag(uint64_t u)
{
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

int
tr_next_field(thrift_reader *r, int16_t *last_id, thrift_field *f)
{
	uint8_t c;
	int delta;

	if (r->p >= r->end)
		return bad(r);
	c = *r->p++;
	if (c == T_STOP)
		return 0;
	f->type = c & 0x0f;
	delta = c >> 4;
	if (delta != 0)
		f->id = (int16_t)(*last_id + delta);
	else {
		uint64_t u;

		if (get_varint(r, &u) == -1)
			return -1;
		f->id = (int16_t)unzigzag(u);
	}
	if (f->type > T_STRUCT)
		return bad(r);
	*last_id = f->id;
	return 1;
}

int
tr_int(thrift_reader *r, const thrift_field *f, int64_t *v)
{
	uint64_t u;

	switch (f->type) {
	case T_TRUE:
		*v = 1;
		return 0;
	case T_FALSE:
		*v = 0;
		return 0;
	case T_BYTE:
		if (r->p >= r->end)
			return bad(r);
		*v = (int8_t)*r->p++;
		return 0;
	case T_I16:
	case T_I32:
	case T_I64:
		if (get_varint(r, &u) == -1)
			return -1;
		*v = unzigzag(u);
		return 0;
	default:
		return bad(r);
	}
}

int
tr_binary(thrift_reader *r, const uint8_t **p, uint32_t *n)
{
	uint64_t len;

	if (get_varint(r, &len) == -1)
		return -1;
	if (len > (uint64_t)(r->end - r->p))
		return bad(r);
	*p = r->p;
	*n = (uint32_t)len;
	r->p += len;
	return 0;
}

int
tr_list_begin(thrift_reader *r, int *elem_type, uint32_t *n)
{
	uint8_t c;
	uint64_t size;

	if (r->p >= r->end)
		return bad(r);
	c = *r->p++;
	*elem_type = c & 0x0f;
	size = c >> 4;
	if (size == 15 && get_varint(r, &size) == -1)
		return -1;
	/* Every element takes at least one byte, except booleans in maps. */
	if (size > (uint64_t)(r->end - r->p))
		return bad(r);
	*n = (uint32_t)size;
	return 0;
}

int
tr_struct_enter(thrift_reader *r)
{
	if (++r->depth > THRIFT_MAX_DEPTH)
		return bad(r);
	return 0;
}

void
tr_struct_leave(thrift_reader *r)
{
	r->depth--;
}

int
tr_skip(thrift_reader *r, int type)
{
	uint64_t u;
	const uint8_t *p;
	uint32_t n, i;
	int et, kt, vt;
	int16_t last = 0;
	thrift_field f;
	int rc;

	switch (type) {
	case T_TRUE:
	case T_FALSE:
		return 0;
	case T_BYTE:
		if (r->p >= r->end)
			return bad(r);
		r->p++;
		return 0;
	case T_I16:
	case T_I32:
	case T_I64:
		return get_varint(r, &u);
	case T_DOUBLE:
		if (r->end - r->p < 8)
			return bad(r);
		r->p += 8;
		return 0;
	case T_BINARY:
		return tr_binary(r, &p, &n);
	case T_LIST:
	case T_SET:
		if (tr_list_begin(r, &et, &n) == -1 || tr_struct_enter(r) == -1)
			return -1;
		for (i = 0; i < n; i++) {
			if (et == T_TRUE || et == T_FALSE)
				rc = tr_skip(r, T_BYTE);
			else
				rc = tr_skip(r, et);
			if (rc == -1)
				return -1;
		}
		tr_struct_leave(r);
		return 0;
	case T_MAP:
		if (get_varint(r, &u) == -1)
			return -1;
		if (u == 0)
			return 0;
		if (u > (uint64_t)(r->end - r->p) || r->p >= r->end)
			return bad(r);
		kt = *r->p >> 4;
		vt = *r->p & 0x0f;
		r->p++;
		if (tr_struct_enter(r) == -1)
			return -1;
		for (i = 0; i < u; i++) {
			if (tr_skip(r, kt == T_TRUE || kt == T_FALSE ? T_BYTE :
			    kt) == -1 || tr_skip(r, vt == T_TRUE || vt == T_FALSE ?
			    T_BYTE : vt) == -1)
				return -1;
		}
		tr_struct_leave(r);
		return 0;
	case T_STRUCT:
		if (tr_struct_enter(r) == -1)
			return -1;
		while ((rc = tr_next_field(r, &last, &f)) == 1)
			if (tr_skip(r, f.type) == -1)
				return -1;
		tr_struct_leave(r);
		return rc;
	default:
		return bad(r);
	}
}

size_t
tr_consumed(const thrift_reader *r, const uint8_t *start)
{
	return (size_t)(r->p - start);
}
