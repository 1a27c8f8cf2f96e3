/*
 * fuzz_s3_parse.c - libFuzzer target for the S3 client's parsers of
 * untrusted text: the XML reader (ListObjectsV2 pages, error bodies:
 * what a server, or anything on the path to it, sends back) and s3://
 * URIs and keys (what a user types). The first byte picks the parser;
 * besides crashes and leaks (ASan, UBSan), it checks what the parsers
 * promise: listed keys are non-empty strings of their stated length, a
 * found text is NUL-terminated within its buffer, an accepted URI has a
 * valid bucket and a prefix without control characters.
 * Run by tests/s3/fuzz-s3-parse.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"
#include "s3_xml.h"

static void
check_list(const char *xml, size_t len)
{
	s3_list_page pg;
	char why[64];
	size_t i;

	if (s3_xml_list_parse(xml, len, &pg, why, sizeof(why)) != 0) {
		if (memchr(why, '\0', sizeof(why)) == NULL)
			abort();
		return;
	}
	for (i = 0; i < pg.n; i++)
		if (pg.entries[i].key == NULL || pg.entries[i].key[0] == '\0')
			abort();
	if (pg.truncated && pg.next_token == NULL)
		abort();
	s3_list_page_free(&pg);
}

static void
check_find(const char *xml, size_t len)
{
	char out[16];
	int rc = s3_xml_find(xml, len, "Error/Code", out, sizeof(out));

	if (rc < -1 || rc > 1 || memchr(out, '\0', sizeof(out)) == NULL)
		abort();
}

static void
check_uri(const char *text)
{
	s3_uri u;
	s3_err err;
	size_t i;

	if (s3_uri_parse(text, &u, &err) != 0) {
		if (err.kind != S3_ERR_CONFIG || strchr(err.msg, '\n') != NULL)
			abort();
		return;
	}
	if (strlen(u.bucket) < 3 || strlen(u.bucket) > S3_BUCKET_MAX)
		abort();
	for (i = 0; u.prefix[i] != '\0'; i++)
		if ((unsigned char)u.prefix[i] < 0x20)
			abort();
	if (u.prefix[0] != '\0' && s3_key_check(u.prefix, &err) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size == 0)
		return 0;
	text = malloc(size);
	if (text == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0:
		check_list(text, size - 1);
		break;
	case 1:
		check_find(text, size - 1);
		break;
	default:
		check_uri(text);
		break;
	}
	free(text);
	return 0;
}
