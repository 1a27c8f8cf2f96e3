/*
 * lake_format.c - CSV and JSON text for lake values.
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "days.h"
#include "lake_format.h"

/* Civil date from days since 1970-01-01 (Howard Hinnant's algorithm). */
static void
civil(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t z = days + 719468, era, doe, yoe, doy, mp;

	era = floor_div_i64(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

void
lake_format_date(char *buf, size_t len, int32_t days)
{
	int64_t y;
	int m, d;

	civil(days, &y, &m, &d);
	snprintf(buf, len, "%04" PRId64 "-%02d-%02d", y, m, d);
}

void
lake_format_timestamp(char *buf, size_t len, int64_t micros)
{
	int64_t days = day_of_micros(micros);
	int64_t rest = micros - days * MICROS_PER_DAY;
	int64_t y;
	int m, d;

	civil(days, &y, &m, &d);
	snprintf(buf, len, "%04" PRId64 "-%02d-%02d %02d:%02d:%02d.%06d", y, m,
	    d, (int)(rest / 3600000000LL), (int)(rest / 60000000 % 60),
	    (int)(rest / 1000000 % 60), (int)(rest % 1000000));
}

void
lake_print_csv_string(FILE *out, const char *s, size_t n)
{
	fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			fputc('"', out);
		fputc(s[i], out);
	}
	fputc('"', out);
}

void
lake_print_json_string(FILE *out, const char *s, size_t n)
{
	fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c == '\r')
			fputs("\\r", out);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

const char *
lake_type_name(pq_type t)
{
	switch (t) {
	case PQ_INT32: return "int";
	case PQ_INT64: return "long";
	case PQ_DOUBLE: return "double";
	case PQ_BOOLEAN: return "boolean";
	case PQ_STRING: return "string";
	case PQ_DATE: return "date";
	case PQ_TIMESTAMP: return "timestamp";
	case PQ_FLOAT: return "float";
	case PQ_BINARY: return "binary";
	case PQ_INT8: return "byte";
	case PQ_INT16: return "short";
	case PQ_DECIMAL: return "decimal";
	case PQ_TIMESTAMP_NTZ: return "timestamp_ntz";
	}
	return "unknown";
}

static void
print_decimal(FILE *out, int64_t unscaled, int scale)
{
	uint64_t mag = unscaled < 0 ? (uint64_t)0 - (uint64_t)unscaled :
	    (uint64_t)unscaled;
	char digits[32];
	int n;

	n = snprintf(digits, sizeof(digits), "%0*" PRIu64, scale + 1, mag);
	if (unscaled < 0)
		fputc('-', out);
	if (scale <= 0) {
		fputs(digits, out);
		return;
	}
	fwrite(digits, 1, (size_t)(n - scale), out);
	fputc('.', out);
	fputs(digits + n - scale, out);
}

static void
print_double(FILE *out, double v)
{
	if (isnan(v))
		fputs("NaN", out);
	else if (isinf(v))
		fputs(v > 0 ? "Infinity" : "-Infinity", out);
	else
		fprintf(out, "%.17g", v);
}

void
lake_print_cell(FILE *out, int mode, const pq_column_batch *b, int64_t row,
    const pq_column_def *def)
{
	char buf[64];
	int quote = mode == LAKE_JSON;

	if (b->nulls != NULL && b->nulls[row]) {
		if (mode == LAKE_JSON)
			fputs("null", out);
		return;
	}
	switch (b->type) {
	case PQ_INT32:
	case PQ_INT8:
	case PQ_INT16:
		fprintf(out, "%" PRId32, b->v.i32[row]);
		break;
	case PQ_INT64:
		fprintf(out, "%" PRId64, b->v.i64[row]);
		break;
	case PQ_DECIMAL:
		if (quote)
			fputc('"', out);
		print_decimal(out, b->v.i64[row], def ? def->decimal_scale : 0);
		if (quote)
			fputc('"', out);
		break;
	case PQ_DOUBLE:
	case PQ_FLOAT:
		if (mode == LAKE_JSON && !isfinite(b->v.f64[row]))
			fputs("null", out);
		else
			print_double(out, b->v.f64[row]);
		break;
	case PQ_BOOLEAN:
		fputs(b->v.b[row] ? "true" : "false", out);
		break;
	case PQ_DATE:
		lake_format_date(buf, sizeof(buf), b->v.i32[row]);
		fprintf(out, quote ? "\"%s\"" : "%s", buf);
		break;
	case PQ_TIMESTAMP:
	case PQ_TIMESTAMP_NTZ:
		lake_format_timestamp(buf, sizeof(buf), b->v.i64[row]);
		fprintf(out, quote ? "\"%s\"" : "%s", buf);
		break;
	case PQ_STRING:
	case PQ_BINARY: {
		const char *s = b->data + b->offsets[row];
		size_t n = b->offsets[row + 1] - b->offsets[row];

		if (mode == LAKE_JSON)
			lake_print_json_string(out, s, n);
		else
			lake_print_csv_string(out, s, n);
		break;
	}
	}
}
