/*
 * thrift.h - the Thrift compact protocol, as far as Parquet needs it.
 *
 * Writing appends to a growable byte buffer (lake_buf); a failed
 * allocation sets buf->failed and later writes do nothing, so callers
 * check once at the end. Reading walks a bounded cursor: every length is
 * checked against the bytes left, nesting is limited, and unknown fields
 * of any type are skipped, so newer files stay readable and corrupt ones
 * give an error instead of an out-of-bounds read.
 */
#ifndef LAKE_THRIFT_H
#define LAKE_THRIFT_H

#include <stddef.h>
#include <stdint.h>

#include "lake_buf.h"

/* Compact protocol type ids. */
enum {
	T_STOP = 0,
	T_TRUE = 1,
	T_FALSE = 2,
	T_BYTE = 3,
	T_I16 = 4,
	T_I32 = 5,
	T_I64 = 6,
	T_DOUBLE = 7,
	T_BINARY = 8,
	T_LIST = 9,
	T_SET = 10,
	T_MAP = 11,
	T_STRUCT = 12,
};

/* Unsigned LEB128, as Thrift and Parquet's encodings both use it. */
void lake_put_varint(lake_buf *out, uint64_t v);
/* Reads one from *p (advanced) without passing end; -1 when malformed. */
int lake_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);

/* --- writer -------------------------------------------------------- */

#define THRIFT_MAX_DEPTH 32

typedef struct thrift_writer {
	lake_buf *out;
	int16_t last_id[THRIFT_MAX_DEPTH];
	int depth;
} thrift_writer;

void tw_init(thrift_writer *w, lake_buf *out);
void tw_i32(thrift_writer *w, int16_t id, int32_t v);
void tw_i64(thrift_writer *w, int16_t id, int64_t v);
void tw_byte(thrift_writer *w, int16_t id, int8_t v);
void tw_bool(thrift_writer *w, int16_t id, int v);
void tw_binary(thrift_writer *w, int16_t id, const void *p, size_t n);
void tw_string(thrift_writer *w, int16_t id, const char *s);
/* A struct field: tw_struct_begin, its fields, tw_struct_end. */
void tw_struct_begin(thrift_writer *w, int16_t id);
void tw_struct_end(thrift_writer *w);
/* A list field header; then elements with the tw_elem_* calls. */
void tw_list_begin(thrift_writer *w, int16_t id, int elem_type, uint32_t n);
void tw_elem_i32(thrift_writer *w, int32_t v);
void tw_elem_i64(thrift_writer *w, int64_t v);
void tw_elem_bool(thrift_writer *w, int v);
void tw_elem_binary(thrift_writer *w, const void *p, size_t n);
void tw_elem_string(thrift_writer *w, const char *s);
void tw_elem_struct_begin(thrift_writer *w);	/* ends with tw_struct_end */
/* The STOP of the outermost struct. */
void tw_end(thrift_writer *w);

/* --- reader -------------------------------------------------------- */

typedef struct thrift_reader {
	const uint8_t *p;
	const uint8_t *end;
	int depth;
	int failed;
} thrift_reader;

typedef struct thrift_field {
	int16_t id;
	int type;
} thrift_field;

void tr_init(thrift_reader *r, const uint8_t *p, size_t n);
/*
 * Next field of the current struct: 1 with f filled, 0 at STOP, -1 bad.
 * last_id is the struct's running field id; start it at 0 per struct.
 */
int tr_next_field(thrift_reader *r, int16_t *last_id, thrift_field *f);
/* Integer of any integer type (byte, i16, i32, i64, and bool fields). */
int tr_int(thrift_reader *r, const thrift_field *f, int64_t *v);
int tr_binary(thrift_reader *r, const uint8_t **p, uint32_t *n);
/* List or set header; the elements are then read by type. */
int tr_list_begin(thrift_reader *r, int *elem_type, uint32_t *n);
/* Skips one value of type. */
int tr_skip(thrift_reader *r, int type);
/* Enter / leave a nested struct (limits depth). */
int tr_struct_enter(thrift_reader *r);
void tr_struct_leave(thrift_reader *r);
size_t tr_consumed(const thrift_reader *r, const uint8_t *start);

#endif
