/*
 * test_size.c - byte sizes: bare numbers, each binary unit in any case,
 * and refusals: no digits, zero or negative, an unknown unit, and a size
 * that does not fit int64 (refused, never wrapped).
 */
#include <stdint.h>

#include "expect.h"
#include "size.h"

int
main(void)
{
	int64_t b = 0;

	EXPECT(size_parse("134217728", &b) == 0 && b == 134217728, "bare");
	EXPECT(size_parse("512k", &b) == 0 && b == 512 * 1024, "k");
	EXPECT(size_parse("128MiB", &b) == 0 && b == 128LL << 20, "MiB");
	EXPECT(size_parse("1G", &b) == 0 && b == 1LL << 30, "G");
	EXPECT(size_parse("3kb", &b) == 0 && b == 3072, "kb");
	EXPECT(size_parse("", &b) == -1, "empty is refused");
	EXPECT(size_parse("MiB", &b) == -1, "a unit alone is refused");
	EXPECT(size_parse("0", &b) == -1, "zero is refused");
	EXPECT(size_parse("-5k", &b) == -1, "negative is refused");
	EXPECT(size_parse("5 k", &b) == -1, "a space is refused");
	EXPECT(size_parse("5t", &b) == -1, "an unknown unit is refused");
	EXPECT(size_parse("8589934592G", &b) == -1, "2^63 bytes overflow");
	EXPECT(size_parse("8589934591G", &b) == 0 &&
	    b == 8589934591LL << 30, "just under 2^63 fits");
	EXPECT(size_parse("99999999999999999999", &b) == -1,
	    "past strtoll is refused");
	return expect_report("test_size");
}
