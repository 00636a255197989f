/*
 * SHA-256 (FIPS 180-4), streaming. Used to fingerprint the kernel, initrd and disk images
 * a recording was made with, so replay can refuse inputs that changed since.
 */
#ifndef DETVM_REPLAY_SHA256_H
#define DETVM_REPLAY_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_BLOCK_LEN 64

struct sha256_ctx {
	uint32_t h[8];
	uint64_t bytes;			/* message length so far */
	uint8_t buf[SHA256_BLOCK_LEN];	/* partial block: bytes % 64 of them are valid */
};

void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
/* Writes the digest; c must be re-initialised before it is used again. */
void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_DIGEST_LEN]);

/* Digest of a file's content, read in 1 MiB chunks. Returns 0 or -errno. */
int sha256_file(const char *path, uint8_t out[SHA256_DIGEST_LEN]);

/* Lower-case hex of a digest, NUL-terminated. */
void sha256_hex(const uint8_t d[SHA256_DIGEST_LEN], char out[2 * SHA256_DIGEST_LEN + 1]);

#endif
