/*
 * sha256.h - SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), plus the
 * base64url coding JWS needs.
 *
 * Both the server (verifying bearer JWS tokens, as Spark 4's JWSFilter does)
 * and the orchestrator (minting them) need HS256. A self-contained 150-line
 * implementation checked against the FIPS and RFC 4231 test vectors keeps
 * OpenSSL/GnuTLS out of the link line of two small programs.
 */
#ifndef MEDALLION_SHA256_H
#define MEDALLION_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_BLOCK_LEN 64

typedef struct sha256_ctx {
	uint32_t state[8];
	uint64_t bytes;
	uint8_t block[SHA256_BLOCK_LEN];
	size_t used;
} sha256_ctx;

void sha256_init(sha256_ctx *ctx);
void sha256_update(sha256_ctx *ctx, const void *data, size_t len);
void sha256_final(sha256_ctx *ctx, uint8_t out[SHA256_DIGEST_LEN]);
void sha256(const void *data, size_t len, uint8_t out[SHA256_DIGEST_LEN]);

void hmac_sha256(const void *key, size_t key_len, const void *msg,
    size_t msg_len, uint8_t out[SHA256_DIGEST_LEN]);

/* Compares in time independent of where the buffers differ. */
int timingsafe_equal(const void *a, const void *b, size_t len);

/*
 * base64url without padding (RFC 4648 §5). Encode writes at most
 * out_len-1 chars plus NUL and returns the length, or -1 if out is too
 * small. Decode accepts input with or without '=' padding and returns the
 * decoded length, or -1 on a bad character, a short buffer, or a last
 * character with bits set past the data (not the canonical encoding).
 */
long base64url_encode(const void *in, size_t in_len, char *out,
    size_t out_len);
long base64url_decode(const char *in, size_t in_len, uint8_t *out,
    size_t out_len);

#endif
