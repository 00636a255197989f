#include "replay/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "vmm/file_io.h"

#define SHA256_FILE_CHUNK (1u << 20)

int sha256_init(struct sha256_ctx *c)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(md);
		c->md = NULL;
		return -ENOMEM;
	}
	c->md = md;
	return 0;
}

void sha256_update(struct sha256_ctx *c, const void *data, size_t len)
{
	/* cannot fail for SHA-256 once initialised (no engine, no allocation) */
	if (c->md && len)
		EVP_DigestUpdate(c->md, data, len);
}

void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_DIGEST_LEN])
{
	unsigned n = 0;
	if (!c->md || !EVP_DigestFinal_ex(c->md, out, &n) || n != SHA256_DIGEST_LEN) {
		for (unsigned i = 0; i < SHA256_DIGEST_LEN; i++)
			out[i] = 0;
	}
	EVP_MD_CTX_free(c->md);
	c->md = NULL;
}

int sha256_file(const char *path, uint8_t out[SHA256_DIGEST_LEN])
{
	struct sha256_ctx c;
	uint8_t *buf;
	int fd, ret = 0;

	fd = file_open_regular(path, O_RDONLY);
	if (fd < 0)
		return fd;
	buf = malloc(SHA256_FILE_CHUNK);
	if (!buf || sha256_init(&c)) {
		ret = -ENOMEM;
		goto err_free;
	}
	for (;;) {
		ssize_t n = read(fd, buf, SHA256_FILE_CHUNK);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		if (n == 0)
			break;
		sha256_update(&c, buf, (size_t)n);
	}
	sha256_final(&c, out);
err_free:
	free(buf);
	close(fd);
	return ret;
}

void sha256_hex(const uint8_t d[SHA256_DIGEST_LEN], char out[2 * SHA256_DIGEST_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < SHA256_DIGEST_LEN; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * SHA256_DIGEST_LEN] = '\0';
}
