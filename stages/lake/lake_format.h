/*
 * lake_format.h - printing lake values as CSV (RFC 4180) or JSON text.
 *
 * Dates print as YYYY-MM-DD and timestamps as "YYYY-MM-DD HH:MM:SS.ffffff"
 * (UTC, see README "Time zones"); doubles with 17 significant digits so
 * they read back exactly. In CSV a null is an empty field and an empty
 * string is "" (quoted); in JSON a null is null.
 */
#ifndef LAKE_FORMAT_H
#define LAKE_FORMAT_H

#include <stdio.h>

#include "parquet.h"

enum { LAKE_CSV, LAKE_JSON };

void lake_format_date(char *buf, size_t len, int32_t days);
void lake_format_timestamp(char *buf, size_t len, int64_t micros);
void lake_print_csv_string(FILE *out, const char *s, size_t n);
void lake_print_json_string(FILE *out, const char *s, size_t n);
/* Prints cell row of column batch b. */
void lake_print_cell(FILE *out, int mode, const pq_column_batch *b,
    int64_t row, const pq_column_def *def);
const char *lake_type_name(pq_type t);

#endif
