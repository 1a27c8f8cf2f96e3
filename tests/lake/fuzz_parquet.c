/*
 * fuzz_parquet.c - libFuzzer target for the Parquet reader: the footer,
 * page headers, every encoding and codec, through both the flat and the
 * nested (leaf) API. Any input must end in data or an error message,
 * never a crash, leak or out-of-bounds read (ASan/UBSan watch).
 */
#include <stddef.h>
#include <stdint.h>

#include "parquet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lake_err err;
	pq_reader *r = pq_reader_open_mem(data, size, &err);
	pq_batch b = { 0 };

	if (r == NULL)
		return 0;
	for (int g = 0; g < pq_reader_num_row_groups(r) && g < 8; g++) {
		(void)pq_reader_read_row_group(r, g, NULL, 0, &b, &err);
		for (int l = 0; l < pq_reader_num_leaves(r) && l < 16; l++) {
			pq_leaf_batch lb;

			if (pq_reader_read_leaf(r, g, l, &lb, &err) == 0)
				pq_leaf_batch_free(&lb);
		}
		for (int c = 0; c < pq_reader_schema(r)->ncols; c++)
			(void)pq_reader_row_group_stats(r, g, c);
	}
	pq_batch_free(&b);
	pq_reader_close(r);
	return 0;
}
