#include "net/transport_auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "net/secret_file.h"
#include "net/transport.h"

#define KEY_FILE_MIN 16
#define KEY_FILE_MAX 4096

struct link_aead {
	EVP_CIPHER_CTX *tx, *rx;
	uint64_t tx_seq, rx_seq;
	uint8_t *out, *in;
	size_t out_cap, in_cap;
};

int transport_key_load(const char *path, uint8_t key[TRANSPORT_KEY_BYTES], char *err, size_t errlen)
{
	uint8_t buf[KEY_FILE_MAX];
	long n = secret_file_read(path, "key file", buf, KEY_FILE_MIN, sizeof(buf), err, errlen);
	if (n < 0) {
		if (n == -EINVAL && strstr(err, "holds under"))	/* say how to make one */
			snprintf(err + strlen(err), errlen - strlen(err),
				 " (make one with `(umask 077; head -c 32 /dev/urandom > FILE)`)");
		return (int)n;
	}
	/* a fixed-size key whatever the file holds; the label keeps it apart from any other
	 * use of the same bytes */
	unsigned len = 0;
	HMAC(EVP_sha256(), "detvm-ft key", 12, buf, (size_t)n, key, &len);
	OPENSSL_cleanse(buf, sizeof(buf));
	return len == TRANSPORT_KEY_BYTES ? 0 : -EIO;
}

void auth_proof(const uint8_t key[AUTH_KEY_BYTES], const char *role, const void *transcript, size_t len,
		uint8_t out[AUTH_PROOF_BYTES])
{
	size_t rl = strlen(role) + 1;
	uint8_t *msg = malloc(rl + len);
	unsigned n = 0;
	memset(out, 0, AUTH_PROOF_BYTES);	/* on failure: proves nothing, the other side refuses */
	if (!msg)
		return;
	memcpy(msg, role, rl);
	memcpy(msg + rl, transcript, len);
	HMAC(EVP_sha256(), key, AUTH_KEY_BYTES, msg, rl + len, out, &n);
	free(msg);
}

int auth_proof_ok(const uint8_t key[AUTH_KEY_BYTES], const char *role, const void *transcript, size_t len,
		  const uint8_t proof[AUTH_PROOF_BYTES])
{
	uint8_t want[AUTH_PROOF_BYTES];
	auth_proof(key, role, transcript, len, want);
	static const uint8_t zero[AUTH_PROOF_BYTES];
	return !CRYPTO_memcmp(want, proof, AUTH_PROOF_BYTES) && CRYPTO_memcmp(want, zero, AUTH_PROOF_BYTES);
}

/* HKDF-SHA256 (RFC 5869) for one 32-byte output block. */
static void hkdf(const uint8_t key[AUTH_KEY_BYTES], const uint8_t *salt, size_t saltlen, const char *info,
		 uint8_t out[32])
{
	uint8_t prk[32], msg[64];
	unsigned n = 0;
	size_t il = strlen(info);
	HMAC(EVP_sha256(), salt, (int)saltlen, key, AUTH_KEY_BYTES, prk, &n);
	memcpy(msg, info, il);
	msg[il] = 1;
	HMAC(EVP_sha256(), prk, sizeof(prk), msg, il + 1, out, &n);
	OPENSSL_cleanse(prk, sizeof(prk));
}

static EVP_CIPHER_CTX *cipher(const uint8_t key[AUTH_KEY_BYTES], const uint8_t *salt, size_t saltlen,
			      const char *info, int enc)
{
	uint8_t k[32];
	hkdf(key, salt, saltlen, info, k);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (c && !EVP_CipherInit_ex(c, EVP_chacha20_poly1305(), NULL, k, NULL, enc)) {
		EVP_CIPHER_CTX_free(c);
		c = NULL;
	}
	OPENSSL_cleanse(k, sizeof(k));
	return c;
}

struct link_aead *link_aead_new(const uint8_t key[AUTH_KEY_BYTES], const uint8_t *salt, size_t saltlen,
				int server)
{
	struct link_aead *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->tx = cipher(key, salt, saltlen, server ? "detvm-ft server to client" : "detvm-ft client to server", 1);
	a->rx = cipher(key, salt, saltlen, server ? "detvm-ft client to server" : "detvm-ft server to client", 0);
	if (!a->tx || !a->rx) {
		link_aead_free(a);
		return NULL;
	}
	return a;
}

void link_aead_free(struct link_aead *a)
{
	if (!a)
		return;
	EVP_CIPHER_CTX_free(a->tx);
	EVP_CIPHER_CTX_free(a->rx);
	free(a->out);
	free(a->in);
	free(a);
}

/* Each direction has its own key, so the sequence number alone makes every nonce new. */
static void nonce_of(uint64_t seq, uint8_t iv[12])
{
	memset(iv, 0, 12);
	for (int i = 0; i < 8; i++)
		iv[4 + i] = (uint8_t)(seq >> (8 * i));
}

static int grow(uint8_t **buf, size_t *cap, size_t want)
{
	if (want <= *cap)
		return 0;
	uint8_t *b = realloc(*buf, want);
	if (!b)
		return -ENOMEM;
	*buf = b;
	*cap = want;
	return 0;
}

const uint8_t *link_aead_seal(struct link_aead *a, const void *msg, size_t len)
{
	uint8_t iv[12];
	int n = 0, fin = 0;
	if (grow(&a->out, &a->out_cap, len + AUTH_TAG_BYTES))
		return NULL;
	nonce_of(a->tx_seq++, iv);
	if (!EVP_EncryptInit_ex(a->tx, NULL, NULL, NULL, iv) ||
	    (len && !EVP_EncryptUpdate(a->tx, a->out, &n, msg, (int)len)) ||
	    !EVP_EncryptFinal_ex(a->tx, a->out + n, &fin) ||
	    !EVP_CIPHER_CTX_ctrl(a->tx, EVP_CTRL_AEAD_GET_TAG, AUTH_TAG_BYTES, a->out + len))
		return NULL;
	return a->out;
}

uint8_t *link_aead_inbox(struct link_aead *a, size_t cap)
{
	return grow(&a->in, &a->in_cap, cap) ? NULL : a->in;
}

long link_aead_open(struct link_aead *a, size_t n, void *out, size_t cap, uint64_t *seq)
{
	uint8_t iv[12];
	int got = 0, fin = 0;
	*seq = a->rx_seq;
	if (n < AUTH_TAG_BYTES)
		return -EPROTO;
	size_t len = n - AUTH_TAG_BYTES;
	if (len > cap)
		return -EMSGSIZE;
	nonce_of(a->rx_seq, iv);
	if (!EVP_DecryptInit_ex(a->rx, NULL, NULL, NULL, iv) ||
	    (len && !EVP_DecryptUpdate(a->rx, out, &got, a->in, (int)len)) ||
	    !EVP_CIPHER_CTX_ctrl(a->rx, EVP_CTRL_AEAD_SET_TAG, AUTH_TAG_BYTES, a->in + len) ||
	    EVP_DecryptFinal_ex(a->rx, (uint8_t *)out + got, &fin) <= 0) {
		if (len)
			memset(out, 0, len);	/* nothing unauthenticated reaches the caller */
		return -EPROTO;
	}
	a->rx_seq++;
	return (long)len;
}
