/*
 * The FT link's key and seal (net/transport_auth.h, transport_key_load), without a wire.
 * Asserts: a key file open to others, a link, a short or a missing one is refused in one
 * line, and the same bytes give the same key; a proof is right only for its key, role
 * and transcript; sealed messages open in order on the other side only, and one that is
 * altered, replayed, reordered or sent back to its sender does not open.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/transport.h"
#include "net/transport_auth.h"

static char dir[] = "/tmp/detvm-auth.XXXXXX";
static char err[512];

static void put(const char *name, const char *bytes, mode_t mode)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, strlen(bytes)), (ssize_t)strlen(bytes));
	close(fd);
	assert_int_equal(chmod(p, mode), 0);
}

static int load(const char *name, uint8_t key[TRANSPORT_KEY_BYTES])
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	err[0] = 0;
	return transport_key_load(p, key, err, sizeof(err));
}

static void expect_refused(const char *name, const char *why)
{
	uint8_t k[TRANSPORT_KEY_BYTES];
	assert_true(load(name, k) < 0);
	if (!strstr(err, why))
		fail_msg("'%s': '%s' lacks '%s'", name, err, why);
	assert_null(strchr(err, '\n'));
}

static void test_key_file(void **state)
{
	uint8_t a[TRANSPORT_KEY_BYTES], b[TRANSPORT_KEY_BYTES], c[TRANSPORT_KEY_BYTES];
	put("good", "0123456789abcdef0123456789abcdef", 0600);
	put("same", "0123456789abcdef0123456789abcdef", 0400);
	put("other", "0123456789abcdef0123456789abcdeX", 0600);
	put("open", "0123456789abcdef0123456789abcdef", 0640);
	put("short", "0123456789", 0600);
	char link[128], target[128];
	snprintf(link, sizeof(link), "%s/link", dir);
	snprintf(target, sizeof(target), "%s/good", dir);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(load("good", a), 0);
	assert_int_equal(load("same", b), 0);
	assert_int_equal(load("other", c), 0);
	assert_memory_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, c, sizeof(a));
	expect_refused("open", "is open to other users (chmod 600 it");
	expect_refused("short", "holds under 16 bytes");
	expect_refused("link", "cannot open the key file");
	expect_refused("none", "cannot open the key file");
	expect_refused(".", "is not a regular file");
}

static const uint8_t key[AUTH_KEY_BYTES] = "the pair's key, 32 bytes long..";
static const uint8_t other[AUTH_KEY_BYTES] = "another key, also 32 bytes long";

static void test_proof(void **state)
{
	uint8_t p[AUTH_PROOF_BYTES];
	static const char tr[] = "both hellos", tr2[] = "both hellow";
	auth_proof(key, "client", tr, sizeof(tr), p);
	assert_true(auth_proof_ok(key, "client", tr, sizeof(tr), p));
	assert_false(auth_proof_ok(other, "client", tr, sizeof(tr), p));
	assert_false(auth_proof_ok(key, "server", tr, sizeof(tr), p));	/* a proof sent back */
	assert_false(auth_proof_ok(key, "client", tr2, sizeof(tr2), p));	/* another session */
}

struct sealed {
	uint8_t b[64];
	size_t n;
};

static void seal(struct link_aead *a, const char *msg, struct sealed *out)
{
	const uint8_t *s = link_aead_seal(a, msg, strlen(msg));
	assert_non_null(s);
	out->n = strlen(msg) + AUTH_TAG_BYTES;
	memcpy(out->b, s, out->n);
}

static long open_one(struct link_aead *a, const struct sealed *m, char *out)
{
	uint64_t seq;
	memcpy(link_aead_inbox(a, m->n), m->b, m->n);
	memset(out, 0, 64);
	return link_aead_open(a, m->n, out, 63, &seq);
}

static void test_seal(void **state)
{
	static const uint8_t salt[64] = "two nonces";
	struct link_aead *c = link_aead_new(key, salt, sizeof(salt), 0), *s = link_aead_new(key, salt, sizeof(salt), 1);
	struct link_aead *wrong = link_aead_new(other, salt, sizeof(salt), 1);
	struct sealed m[4];
	char out[64];
	seal(c, "first", &m[0]);
	seal(c, "second", &m[1]);
	seal(c, "third", &m[2]);
	seal(c, "", &m[3]);
	assert_memory_not_equal(m[0].b, "first", 5);	/* encrypted */
	assert_int_equal(open_one(wrong, &m[0], out), -EPROTO);
	assert_int_equal(open_one(c, &m[0], out), -EPROTO);	/* back to its sender */
	assert_int_equal(open_one(s, &m[0], out), 5);
	assert_string_equal(out, "first");
	assert_int_equal(open_one(s, &m[0], out), -EPROTO);	/* replayed */
	assert_string_equal(out, "");			/* nothing unauthenticated comes out */
	assert_int_equal(open_one(s, &m[2], out), -EPROTO);	/* reordered */
	struct sealed flipped = m[1];
	flipped.b[2] ^= 0x10;
	assert_int_equal(open_one(s, &flipped, out), -EPROTO);
	flipped = m[1];
	flipped.b[flipped.n - 1] ^= 1;				/* the tag */
	assert_int_equal(open_one(s, &flipped, out), -EPROTO);
	assert_int_equal(open_one(s, &m[1], out), 6);		/* the real one still opens */
	assert_string_equal(out, "second");
	assert_int_equal(open_one(s, &m[2], out), 5);
	assert_int_equal(open_one(s, &m[3], out), 0);
	struct sealed tiny = { .n = 3 };
	assert_int_equal(open_one(s, &tiny, out), -EPROTO);
	link_aead_free(c);
	link_aead_free(s);
	link_aead_free(wrong);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_proof),
		cmocka_unit_test(test_seal),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		r = r ? r : 1;
	return r;
}
