/*
 * test_sha256 - SHA-256 against FIPS 180-4 examples, HMAC-SHA256 against
 * RFC 4231 test cases 1, 2 and 6, and base64url round trips (RFC 4648).
 */
#include <stdio.h>
#include <string.h>

#include "sha256.h"

static int failures;

static void
expect_hex(const char *what, const uint8_t *got, const char *want_hex)
{
	char hex[2 * SHA256_DIGEST_LEN + 1];
	int i;

	for (i = 0; i < SHA256_DIGEST_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", got[i]);
	if (strcmp(hex, want_hex) != 0) {
		fprintf(stderr, "%s: got %s want %s\n", what, hex, want_hex);
		failures++;
	}
}

static void
test_sha256(void)
{
	uint8_t d[SHA256_DIGEST_LEN];
	sha256_ctx ctx;
	int i;

	sha256("abc", 3, d);
	expect_hex("sha256(abc)", d,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256("", 0, d);
	expect_hex("sha256()", d,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
	    d);
	expect_hex("sha256(448 bits)", d,
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	sha256_init(&ctx);
	for (i = 0; i < 1000000; i += 1000) {
		static char a[1000];
		memset(a, 'a', sizeof(a));
		sha256_update(&ctx, a, sizeof(a));
	}
	sha256_final(&ctx, d);
	expect_hex("sha256(million a)", d,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void
test_hmac(void)
{
	uint8_t key[131], d[SHA256_DIGEST_LEN];

	memset(key, 0x0b, 20);
	hmac_sha256(key, 20, "Hi There", 8, d);
	expect_hex("rfc4231 case 1", d,
	    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d);
	expect_hex("rfc4231 case 2", d,
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	memset(key, 0xaa, sizeof(key));
	hmac_sha256(key, sizeof(key),
	    "Test Using Larger Than Block-Size Key - Hash Key First", 54, d);
	expect_hex("rfc4231 case 6", d,
	    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void
test_base64url(void)
{
	const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba",
	    "foobar", "\xfb\xff"};
	const char *coded[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE",
	    "Zm9vYmFy", "-_8"};
	char out[32];
	uint8_t back[32];
	size_t i;

	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		long n = base64url_encode(plain[i], strlen(plain[i]), out,
		    sizeof(out));
		long m = base64url_decode(coded[i], strlen(coded[i]), back,
		    sizeof(back));
		if (n < 0 || strcmp(out, coded[i]) != 0) {
			fprintf(stderr, "encode(%s) = %s, want %s\n", plain[i],
			    out, coded[i]);
			failures++;
		}
		if (m != (long)strlen(plain[i]) ||
		    memcmp(back, plain[i], (size_t)m) != 0) {
			fprintf(stderr, "decode(%s) wrong\n", coded[i]);
			failures++;
		}
	}
	if (base64url_decode("a$bc", 4, back, sizeof(back)) != -1 ||
	    base64url_decode("abcde", 5, back, sizeof(back)) != -1 ||
	    base64url_decode("Zh", 2, back, sizeof(back)) != -1 ||
	    base64url_decode("Zm9", 3, back, sizeof(back)) != -1 ||
	    base64url_decode("Zg", 2, back, sizeof(back)) != 1 ||
	    base64url_encode("foobar", 6, out, 8) != -1) {
		fprintf(stderr, "bad input or short buffer accepted\n");
		failures++;
	}
	if (!timingsafe_equal("abc", "abc", 3) ||
	    timingsafe_equal("abc", "abd", 3)) {
		fprintf(stderr, "timingsafe_equal wrong\n");
		failures++;
	}
}

int
main(void)
{
	test_sha256();
	test_hmac();
	test_base64url();
	if (failures == 0)
		printf("test_sha256: all passed\n");
	return failures ? 1 : 0;
}
