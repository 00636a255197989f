/*
 * The FT link's key: proving it in the hello and sealing every message after (net/
 * transport.c uses this; users of the link see only transport_terms).
 *
 * The pair shares a key file. Each side sends a fresh 32-byte nonce in its hello; the
 * connecting side then proves the key with HMAC-SHA256(key, "client" || both hellos), the
 * accepting side checks it before it proves its own. A capture of a real pair's hello
 * proves nothing later: the other side's nonce is new. Both directions then get their
 * own key, HKDF-SHA256 of the key salted by both nonces, and every message is sealed
 * with ChaCha20-Poly1305 under a nonce that is its sequence number in that direction: a
 * message altered, replayed, dropped or reordered fails to open and ends the link.
 */
#ifndef DETVM_NET_TRANSPORT_AUTH_H
#define DETVM_NET_TRANSPORT_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_KEY_BYTES 32
#define AUTH_NONCE_BYTES 32
#define AUTH_PROOF_BYTES 32
#define AUTH_TAG_BYTES 16

struct link_aead;

/* The proof of the key over the transcript, for role "client" or "server". */
void auth_proof(const uint8_t key[AUTH_KEY_BYTES], const char *role, const void *transcript, size_t len,
		uint8_t out[AUTH_PROOF_BYTES]);
/* 1 if the proof is right (compared in constant time). */
int auth_proof_ok(const uint8_t key[AUTH_KEY_BYTES], const char *role, const void *transcript, size_t len,
		  const uint8_t proof[AUTH_PROOF_BYTES]);

/* The sealing state for one link: salt is both nonces; server says which direction is
 * ours. NULL when out of memory. */
struct link_aead *link_aead_new(const uint8_t key[AUTH_KEY_BYTES], const uint8_t *salt, size_t saltlen,
				int server);
void link_aead_free(struct link_aead *a);
/* msg (len bytes) sealed: a buffer of len + AUTH_TAG_BYTES owned by a, valid until the
 * next seal; NULL when out of memory. */
const uint8_t *link_aead_seal(struct link_aead *a, const void *msg, size_t len);
/* A buffer of cap bytes to receive a sealed message into (owned by a); NULL: no memory. */
uint8_t *link_aead_inbox(struct link_aead *a, size_t cap);
/* Opens the n bytes in the inbox into out (cap bytes): the message's length, or -EPROTO
 * when it does not authenticate, -EMSGSIZE when over cap. The sequence number it expected
 * in *seq. */
long link_aead_open(struct link_aead *a, size_t n, void *out, size_t cap, uint64_t *seq);

#endif
