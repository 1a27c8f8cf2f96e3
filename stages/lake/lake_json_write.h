/*
 * lake_json_write.h - writing JSON text into a lake_buf, piece by piece.
 *
 * The Delta log's add actions are written this way rather than built as
 * a jansson tree and dumped: an increment over hundreds of partitions
 * commits hundreds of them, each with its statistics as a JSON text
 * inside a JSON string. The caller writes the punctuation itself:
 *
 *	lake_buf_append(b, "{\"size\":", 8);
 *	lake_json_put_int(b, size);
 *
 * Out of memory shows as b->failed, as with every lake_buf.
 */
#ifndef LAKE_JSON_WRITE_H
#define LAKE_JSON_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "lake_buf.h"

/* Appends a C string as is (punctuation, keys known to need no escape). */
void lake_json_put_raw(lake_buf *b, const char *text);
/*
 * Appends s[0..n) as a JSON string, quotes included, escaping '"', '\'
 * and control characters. Returns -1, appending nothing, when s is not
 * valid UTF-8 (JSON text must be).
 */
int lake_json_put_string(lake_buf *b, const char *s, size_t n);
void lake_json_put_int(lake_buf *b, int64_t v);
/* Appends v so that it reads back as the same double; -1 (nothing
 * appended) for NaN and infinities, which JSON cannot express. */
int lake_json_put_double(lake_buf *b, double v);

#endif
