/*
 * s3_xml.h - the little XML the S3 client reads: error bodies (<Code>,
 * <Message>), InitiateMultipartUpload's <UploadId>, and ListObjectsV2
 * pages (<Contents><Key>/<Size>, <IsTruncated>, <NextContinuationToken>).
 *
 * Not a general XML parser: s3_xml_walk scans elements, attributes
 * (skipped), comments, processing instructions and CDATA, decodes the five
 * named entities and character references, checks that tags nest, and
 * refuses DOCTYPEs (no entity expansion, so no "billion laughs"). Bounded:
 * 32 levels, 64 KiB of text per element. Pure functions over a buffer:
 * no I/O, fuzzed by tests/s3/fuzz-s3-parse.sh.
 */
#ifndef LAKE_S3_XML_H
#define LAKE_S3_XML_H

#include <stddef.h>
#include <stdint.h>

/*
 * Called at the end of each element with its path from the root
 * ("ListBucketResult/Contents/Key") and its text (decoded, NUL-terminated;
 * for an element with children, the text after the last one). Returns 0 to
 * go on; anything else stops the walk, which returns it.
 */
typedef int (*s3_xml_fn)(const char *path, const char *text, size_t len,
    void *arg);

/* 0 when the document was well formed to its end, -1 when not. */
int s3_xml_walk(const char *xml, size_t len, s3_xml_fn fn, void *arg);

/*
 * The text of the first element at path, truncated to out_len - 1 bytes:
 * 1 when found, 0 when absent, -1 when the document is malformed.
 */
int s3_xml_find(const char *xml, size_t len, const char *path, char *out,
    size_t out_len);

typedef struct s3_list_entry {
	char *key;		/* owned by the page */
	uint64_t size;
	int64_t mtime_us;	/* <LastModified>, us since the epoch; -1
				   when absent or unreadable */
} s3_list_entry;

/* One ListObjectsV2 page. */
typedef struct s3_list_page {
	s3_list_entry *entries;
	size_t n;
	int truncated;
	char *next_token;	/* NULL when the page has none */
} s3_list_page;

/*
 * Parses a ListBucketResult into page (owned: s3_list_page_free). 0, or
 * -1 with why set (malformed XML, another root, a <Contents> without a
 * key, a size that is not a number, a truncated page without a token).
 */
int s3_xml_list_parse(const char *xml, size_t len, s3_list_page *page,
    char *why, size_t why_len);
void s3_list_page_free(s3_list_page *page);

/* An ISO 8601 UTC time as S3 writes it ("2026-11-29T17:52:43.000Z") in
 * microseconds since the epoch; -1 when it does not parse. */
int64_t s3_xml_parse_time(const char *text);

#endif
