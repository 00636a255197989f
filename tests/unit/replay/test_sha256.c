/*
 * SHA-256 against the FIPS 180-4 / NIST example vectors, streaming against one-shot at
 * every split point, and sha256_file against coreutils' sha256sum (a second, independent
 * implementation: ours is libcrypto's).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "replay/sha256.h"
#include "vmm/file_io.h"

static void hex_of(const void *data, size_t len, char out[65])
{
	struct sha256_ctx c;
	uint8_t d[32];

	assert_int_equal(sha256_init(&c), 0);
	sha256_update(&c, data, len);
	sha256_final(&c, d);
	sha256_hex(d, out);
}

static void test_nist_vectors(void **state)
{
	static const char abc56[] =
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char hex[65];

	hex_of("", 0, hex);
	assert_string_equal(hex,
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	hex_of("abc", 3, hex);
	assert_string_equal(hex,
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(strlen(abc56), 56);
	hex_of(abc56, 56, hex);
	assert_string_equal(hex,
		"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_million_a(void **state)
{
	struct sha256_ctx c;
	char chunk[1000], hex[65];
	uint8_t d[32];

	/* in 1000-byte pieces, which do not line up with the 64-byte blocks */
	memset(chunk, 'a', sizeof(chunk));
	assert_int_equal(sha256_init(&c), 0);
	for (int i = 0; i < 1000; i++)
		sha256_update(&c, chunk, sizeof(chunk));
	sha256_final(&c, d);
	sha256_hex(d, hex);
	assert_string_equal(hex,
		"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Message lengths around the padding boundaries (55/56/63/64 bytes) must not matter. */
static void test_padding_edges(void **state)
{
	/* sha256 of 'a' * n, from Python hashlib */
	static const struct {
		size_t n;
		const char *hex;
	} v[] = {
		{ 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
		{ 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
		{ 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
		{ 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
	};
	char buf[64], hex[65];

	memset(buf, 'a', sizeof(buf));
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		hex_of(buf, v[i].n, hex);
		assert_string_equal(hex, v[i].hex);
	}
}

static void test_streaming_splits(void **state)
{
	uint8_t msg[200], one[32], two[32];
	struct sha256_ctx c;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 131 + 7);
	assert_int_equal(sha256_init(&c), 0);
	sha256_update(&c, msg, sizeof(msg));
	sha256_final(&c, one);
	for (size_t cut = 0; cut <= sizeof(msg); cut++) {
		assert_int_equal(sha256_init(&c), 0);
		sha256_update(&c, msg, cut);
		sha256_update(&c, msg + cut, sizeof(msg) - cut);
		sha256_final(&c, two);
		assert_memory_equal(one, two, 32);
	}
	/* and byte by byte */
	assert_int_equal(sha256_init(&c), 0);
	for (size_t i = 0; i < sizeof(msg); i++)
		sha256_update(&c, msg + i, 1);
	sha256_final(&c, two);
	assert_memory_equal(one, two, 32);
}

static void test_file(void **state)
{
	char path[] = "/tmp/detvm-sha256.XXXXXX", cmd[128], line[256], hex[65];
	size_t len = 3u * (1u << 20) + 12345;	/* crosses the 1 MiB chunk boundary */
	uint8_t *buf = malloc(len), d[32], want[32];
	struct sha256_ctx c;
	int fd = mkstemp(path);
	FILE *p;

	assert_non_null(buf);
	assert_true(fd >= 0);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i ^ (i >> 9) ^ (i >> 17));
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);

	assert_int_equal(sha256_file(path, d), 0);
	assert_int_equal(sha256_init(&c), 0);
	sha256_update(&c, buf, len);
	sha256_final(&c, want);
	assert_memory_equal(d, want, 32);
	sha256_hex(d, hex);

	if (access("/usr/bin/sha256sum", X_OK) == 0) {
		snprintf(cmd, sizeof(cmd), "/usr/bin/sha256sum %s", path);
		p = popen(cmd, "r");
		assert_non_null(p);
		assert_non_null(fgets(line, sizeof(line), p));
		assert_int_equal(pclose(p), 0);
		assert_true(strlen(line) > 64 && line[64] == ' ');
		line[64] = '\0';
		assert_string_equal(hex, line);
	} else {
		print_message("sha256sum not found: comparison with coreutils skipped\n");
	}
	unlink(path);
	free(buf);

	assert_int_equal(sha256_file("/nonexistent/detvm-sha256", d), -ENOENT);
	/* not regular files: a device never ends, a FIFO never opens */
	assert_int_equal(sha256_file("/tmp", d), FILE_ERR_NOT_REGULAR);
	assert_int_equal(sha256_file("/dev/zero", d), FILE_ERR_NOT_REGULAR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nist_vectors),
		cmocka_unit_test(test_million_a),
		cmocka_unit_test(test_padding_edges),
		cmocka_unit_test(test_streaming_splits),
		cmocka_unit_test(test_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
