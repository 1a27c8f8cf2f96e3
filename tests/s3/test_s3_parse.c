/*
 * test_s3_parse.c - the S3 client's pure parts, no network: s3:// URIs,
 * key rules, the AWS CLI's settings from the environment and the shared
 * credentials file, SigV4 percent-encoding and canonical queries, and the
 * XML reader (ListObjectsV2 pages, error bodies, malformed documents).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "expect.h"
#include "s3.h"
#include "s3_internal.h"
#include "s3_xml.h"

static void
test_uris(void)
{
	static const char *bad[] = {
		"http://bucket/x", "s3://", "s3://ab/x", "s3://Bucket/x",
		"s3://-bucket/x", "s3://bucket-/x", "s3://bu_cket/x",
		"s3://bucket/a/../b", "s3://bucket/./b", "s3://bucket/a\nb",
		"s3://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	s3_uri u;
	s3_err err;
	size_t i;

	EXPECT(s3_uri_parse("s3://my-lake.data/warehouse/sales", &u,
	    &err) == 0 && strcmp(u.bucket, "my-lake.data") == 0 &&
	    strcmp(u.prefix, "warehouse/sales") == 0, "a plain URI: %s",
	    err.msg);
	EXPECT(s3_uri_parse("s3://bucket", &u, &err) == 0 &&
	    strcmp(u.bucket, "bucket") == 0 && u.prefix[0] == '\0',
	    "a bucket alone");
	EXPECT(s3_uri_parse("s3://bucket/", &u, &err) == 0 &&
	    u.prefix[0] == '\0', "a bucket and a slash");
	EXPECT(s3_uri_parse("s3a://bucket/p/", &u, &err) == 0 &&
	    strcmp(u.prefix, "p/") == 0, "s3a:// as Spark writes it");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT(s3_uri_parse(bad[i], &u, &err) == -1 &&
		    err.kind == S3_ERR_CONFIG, "accepted: %s", bad[i]);
		EXPECT(strchr(err.msg, '\n') == NULL, "a newline in: %s",
		    err.msg);
	}
	EXPECT(s3_key_check("a/b/c.json", &err) == 0, "a plain key");
	EXPECT(s3_key_check("..a/b../.c", &err) == 0, "dots inside segments");
	EXPECT(s3_key_check("", &err) == -1, "an empty key");
	EXPECT(s3_key_check("a/\x7f", &err) == -1 &&
	    strstr(err.msg, "0x7f") != NULL, "DEL: %s", err.msg);
}

static void
test_encoding(void)
{
	char out[64], *q;
	s3_param p[3] = { { "start-after", "t/a b+c" }, { "list-type", "2" },
		{ "prefix", "t/\xc3\xa9~" } };
	s3_param flag = { "uploads", "" };

	EXPECT(s3_uri_encode("a b/c+d=e~f_g.h-i", 1, out, sizeof(out)) > 0 &&
	    strcmp(out, "a%20b/c%2Bd%3De~f_g.h-i") == 0, "path: %s", out);
	EXPECT(s3_uri_encode("a/b", 0, out, sizeof(out)) > 0 &&
	    strcmp(out, "a%2Fb") == 0, "query value: %s", out);
	EXPECT(s3_uri_encode("abc", 0, out, 3) == -1, "too small");
	q = s3_query_build(p, 3);
	EXPECT(q != NULL && strcmp(q, "list-type=2&prefix=t%2F%C3%A9~&"
	    "start-after=t%2Fa%20b%2Bc") == 0, "sorted and encoded: %s", q);
	free(q);
	q = s3_query_build(&flag, 1);
	EXPECT(q != NULL && strcmp(q, "uploads=") == 0, "a bare flag: %s", q);
	free(q);
}

/* Unsets every AWS_ variable the client reads. */
static void
clear_env(void)
{
	static const char *names[] = {
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_PROFILE",
		"AWS_SHARED_CREDENTIALS_FILE", "AWS_CA_BUNDLE",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unsetenv(names[i]);
}

static void
test_env(void)
{
	s3_config cfg;
	s3_err err;

	clear_env();
	setenv("HOME", "/nonexistent-home", 1);
	EXPECT(s3_config_from_env(&cfg, &err) == -1 &&
	    err.kind == S3_ERR_CONFIG && strstr(err.msg,
	    "/nonexistent-home/.aws/credentials"), "no credentials: %s",
	    err.msg);

	setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
	EXPECT(s3_config_from_env(&cfg, &err) == -1 &&
	    strstr(err.msg, "AWS_SECRET_ACCESS_KEY is not"), "a key without "
	    "a secret: %s", err.msg);
	setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t", 1);
	EXPECT(s3_config_from_env(&cfg, &err) == 0, "keys: %s", err.msg);
	EXPECT(strcmp(cfg.endpoint, "https://s3.us-east-1.amazonaws.com") ==
	    0 && !cfg.path_style && strcmp(cfg.region, "us-east-1") == 0,
	    "AWS's endpoint, virtual-hosted: %s", cfg.endpoint);
	EXPECT(cfg.session_token[0] == '\0', "no token");

	setenv("AWS_DEFAULT_REGION", "eu-west-3", 1);
	setenv("AWS_SESSION_TOKEN", "tok", 1);
	EXPECT(s3_config_from_env(&cfg, &err) == 0 &&
	    strcmp(cfg.region, "eu-west-3") == 0 &&
	    strcmp(cfg.endpoint, "https://s3.eu-west-3.amazonaws.com") == 0 &&
	    strcmp(cfg.session_token, "tok") == 0, "AWS_DEFAULT_REGION");
	setenv("AWS_REGION", "ap-south-1", 1);
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:7480/", 1);
	EXPECT(s3_config_from_env(&cfg, &err) == 0 &&
	    strcmp(cfg.region, "ap-south-1") == 0 &&
	    strcmp(cfg.endpoint, "http://127.0.0.1:7480") == 0 &&
	    cfg.path_style, "AWS_REGION wins, AWS_ENDPOINT_URL: %s",
	    cfg.endpoint);
	setenv("AWS_ENDPOINT_URL_S3", "https://minio.local:9000", 1);
	EXPECT(s3_config_from_env(&cfg, &err) == 0 &&
	    strcmp(cfg.endpoint, "https://minio.local:9000") == 0,
	    "AWS_ENDPOINT_URL_S3 wins: %s", cfg.endpoint);
	setenv("AWS_ENDPOINT_URL_S3", "minio.local:9000", 1);
	EXPECT(s3_config_from_env(&cfg, &err) == -1 &&
	    strstr(err.msg, "AWS_ENDPOINT_URL_S3"), "no scheme: %s", err.msg);
	setenv("AWS_ENDPOINT_URL_S3", "http://u:p@host/path", 1);
	EXPECT(s3_config_from_env(&cfg, &err) == -1, "a path or user");
	unsetenv("AWS_ENDPOINT_URL_S3");
	setenv("AWS_CA_BUNDLE", "/nonexistent/ca.pem", 1);
	EXPECT(s3_config_from_env(&cfg, &err) == -1 &&
	    strstr(err.msg, "AWS_CA_BUNDLE=/nonexistent/ca.pem cannot be read"),
	    "an unreadable CA bundle: %s", err.msg);
	setenv("AWS_CA_BUNDLE", "/dev/null", 1);
	EXPECT(s3_config_from_env(&cfg, &err) == 0 &&
	    strcmp(cfg.ca_bundle, "/dev/null") == 0, "AWS_CA_BUNDLE");
	unsetenv("AWS_CA_BUNDLE");
	setenv("AWS_REGION", "us east", 1);
	EXPECT(s3_config_from_env(&cfg, &err) == -1 &&
	    strstr(err.msg, "AWS_REGION"), "a bad region: %s", err.msg);
	EXPECT(strstr(err.msg, "s3cr3t") == NULL, "the secret in a message");
	clear_env();
}

static void
test_credentials_file(void)
{
	char path[] = "/tmp/test_s3_parse.XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	s3_config cfg;
	s3_err err;

	fprintf(f, "# comment\n; another\n[default]\naws_access_key_id=D\n"
	    "aws_secret_access_key = dsecret \n\n[ lake ]\n"
	    "  aws_access_key_id   =   L  \naws_secret_access_key=l=sec\n"
	    "aws_session_token=ltok\nregion=eu-west-1\n[half]\n"
	    "aws_access_key_id=H\n");
	fclose(f);
	clear_env();
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	EXPECT(s3_config_from_env(&cfg, &err) == 0 &&
	    strcmp(cfg.access_key, "D") == 0 &&
	    strcmp(cfg.secret_key, "dsecret") == 0 &&
	    cfg.session_token[0] == '\0', "the default profile: %s",
	    err.msg);
	EXPECT(strstr(cfg.credentials_from, "profile default in") != NULL,
	    "from: %s", cfg.credentials_from);
	setenv("AWS_PROFILE", "lake", 1);
	EXPECT(s3_config_from_env(&cfg, &err) == 0 &&
	    strcmp(cfg.access_key, "L") == 0 &&
	    strcmp(cfg.secret_key, "l=sec") == 0 &&
	    strcmp(cfg.session_token, "ltok") == 0, "profile lake: %s",
	    err.msg);
	setenv("AWS_PROFILE", "half", 1);
	EXPECT(s3_config_from_env(&cfg, &err) == -1 &&
	    strstr(err.msg, "lacks"), "a profile without a secret: %s",
	    err.msg);
	setenv("AWS_PROFILE", "nope", 1);
	EXPECT(s3_config_from_env(&cfg, &err) == -1 &&
	    strstr(err.msg, "no [nope] section"), "no such profile: %s",
	    err.msg);
	EXPECT(strstr(err.msg, "l=sec") == NULL &&
	    strstr(err.msg, "dsecret") == NULL, "a secret in: %s", err.msg);
	setenv("AWS_ACCESS_KEY_ID", "E", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "esecret", 1);
	EXPECT(s3_config_from_env(&cfg, &err) == 0 &&
	    strcmp(cfg.access_key, "E") == 0, "the environment wins");
	unlink(path);
	clear_env();
}

static const char list_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>medallion</Name><Prefix>t/</Prefix><KeyCount>2</KeyCount>"
    "<MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>\n"
    "  <Contents><Key>t/a&lt;b&gt;&amp;&quot;&apos;&#65;&#x42;</Key>"
    "<LastModified>2026-11-01T00:00:00.000Z</LastModified>"
    "<ETag>&quot;abc&quot;</ETag><Size>1312</Size>"
    "<StorageClass>STANDARD</StorageClass><Owner><ID>x</ID></Owner>"
    "</Contents>\n"
    "  <Contents><Key><![CDATA[t/<cdata>]]></Key><Size>0</Size></Contents>"
    "<!-- a comment --><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
    "<Empty/></ListBucketResult>\n";

static void
test_xml_list(void)
{
	static const char *bad[] = {
		"", "<ListBucketResult>", "<ListBucketResult></Other>",
		"<A></A>", "<ListBucketResult><Contents><Size>1</Size>"
		"</Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key><Size>-1</Size>"
		"</Contents></ListBucketResult>",
		"<ListBucketResult><IsTruncated>true</IsTruncated>"
		"</ListBucketResult>",
		"<!DOCTYPE x [<!ENTITY a \"b\">]><ListBucketResult/>",
		"<ListBucketResult>&bogus;</ListBucketResult>",
		"<ListBucketResult>&#0;</ListBucketResult>",
		"<ListBucketResult>&#xD800;</ListBucketResult>",
		"<ListBucketResult/><ListBucketResult/>",
		"<ListBucketResult a=b/>",
	};
	s3_list_page pg;
	char why[128];
	size_t i;

	EXPECT(s3_xml_list_parse(list_xml, strlen(list_xml), &pg, why,
	    sizeof(why)) == 0, "a page: %s", why);
	EXPECT(pg.n == 2 && pg.truncated && pg.next_token != NULL &&
	    strcmp(pg.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
	    == 0, "entries %zu, truncated %d", pg.n, pg.truncated);
	EXPECT(pg.n == 2 && strcmp(pg.entries[0].key, "t/a<b>&\"'AB") == 0 &&
	    pg.entries[0].size == 1312 &&
	    strcmp(pg.entries[1].key, "t/<cdata>") == 0 &&
	    pg.entries[1].size == 0, "keys decoded: %s",
	    pg.n ? pg.entries[0].key : "-");
	s3_list_page_free(&pg);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT(s3_xml_list_parse(bad[i], strlen(bad[i]), &pg, why,
		    sizeof(why)) == -1, "accepted: %s", bad[i]);
	EXPECT(s3_xml_list_parse("<ListBucketResult/>", 19, &pg, why,
	    sizeof(why)) == 0 && pg.n == 0 && !pg.truncated, "an empty page");
	s3_list_page_free(&pg);
}

static void
test_xml_find(void)
{
	static const char e[] = "<?xml version=\"1.0\"?><Error><Code>SlowDown"
	    "</Code><Message>Please reduce your request rate.</Message>"
	    "<Resource>/b/k</Resource></Error>";
	char out[64], small[5];
	char deep[2000] = "";
	size_t i;

	EXPECT(s3_xml_find(e, strlen(e), "Error/Code", out, sizeof(out)) ==
	    1 && strcmp(out, "SlowDown") == 0, "code: %s", out);
	EXPECT(s3_xml_find(e, strlen(e), "Error/Message", small,
	    sizeof(small)) == 1 && strcmp(small, "Plea") == 0, "truncated");
	EXPECT(s3_xml_find(e, strlen(e), "Error/Nope", out, sizeof(out)) ==
	    0 && out[0] == '\0', "absent");
	EXPECT(s3_xml_find("not xml", 7, "Error/Code", out, sizeof(out)) ==
	    -1, "not XML");
	EXPECT(s3_xml_find(NULL, 0, "Error/Code", out, sizeof(out)) == -1,
	    "no body");
	for (i = 0; i < 40; i++)
		strcat(deep, "<a>");
	EXPECT(s3_xml_find(deep, strlen(deep), "a", out, sizeof(out)) == -1,
	    "40 levels are refused");
}

int
main(void)
{
	test_uris();
	test_encoding();
	test_env();
	test_credentials_file();
	test_xml_list();
	test_xml_find();
	return expect_report("test_s3_parse");
}
