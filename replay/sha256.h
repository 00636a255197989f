/*
 * SHA-256 (FIPS 180-4), from libcrypto: it uses the CPU's SHA extensions where there are
 * any, which matters here because record and replay both hash every disk image whole.
 * Used to fingerprint the kernel, initrd and disk images a recording was made with, so
 * replay can refuse inputs that changed since.
 */
#ifndef DETVM_REPLAY_SHA256_H
#define DETVM_REPLAY_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32

struct sha256_ctx {
	void *md;	/* libcrypto's EVP_MD_CTX */
};

/* 0, or -ENOMEM when libcrypto cannot set up a context. */
int sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
/* Writes the digest and frees the context; sha256_init starts a new one. */
void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_DIGEST_LEN]);

/* Digest of a file's content, read in 1 MiB chunks. Returns 0 or -errno, or
 * FILE_ERR_NOT_REGULAR (vmm/file_io.h: a FIFO or device never ends). */
int sha256_file(const char *path, uint8_t out[SHA256_DIGEST_LEN]);

/* Lower-case hex of a digest, NUL-terminated. */
void sha256_hex(const uint8_t d[SHA256_DIGEST_LEN], char out[2 * SHA256_DIGEST_LEN + 1]);

#endif
