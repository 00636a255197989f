/*
 * snapshot_open (replay/snapshot.h) on snapshots made by hand: a well-formed one with a
 * small header opens; one whose header is 2 MB of empty CpuidEntry records (~100 MB once
 * unpacked), with its self-checksum made right, is refused (7) in one line before
 * protobuf-c takes that memory.
 */
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
#include "replay/snapshot.h"
#include "vmm/exitcode.h"

static char path[] = "/tmp/detvm-snap-open.XXXXXX";

/* magic, version 1, the header, an empty state and no memory, then the SHA-256 */
static void write_snapshot(const uint8_t *hdr, uint32_t hlen)
{
	static const uint32_t version = 1;
	static const uint64_t slen = 0;
	struct sha256_ctx c;
	uint8_t digest[SHA256_DIGEST_LEN];
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(sha256_init(&c), 0);
#define PUT(p, n) do { sha256_update(&c, p, n); assert_int_equal(fwrite(p, 1, n, f), n); } while (0)
	PUT("DETVMSNP", 8);
	PUT(&version, 4);
	PUT(&hlen, 4);
	PUT(hdr, hlen);
	PUT(&slen, 8);
#undef PUT
	sha256_final(&c, digest);
	assert_int_equal(fwrite(digest, 1, sizeof(digest), f), sizeof(digest));
	assert_int_equal(fclose(f), 0);
}

static void test_small_header_opens(void **state)
{
	/* TraceHeader { config (3) = VmConfig { mem_bytes (1) = 1 MiB } } */
	static const uint8_t hdr[] = { 3 << 3 | 2, 4, 1 << 3, 0x80, 0x80, 0x40 };
	struct snapshot s;
	char err[256];

	write_snapshot(hdr, sizeof(hdr));
	assert_int_equal(snapshot_open(&s, path, err, sizeof(err)), 0);
	assert_int_equal(s.hdr->config->mem_bytes, 1 << 20);
	snapshot_close(&s);
}

static void test_header_of_empty_records(void **state)
{
	size_t cpuid = 1000000, vlen = 2 * cpuid, hlen = 1 + 3 + vlen;	/* vlen < 2^21 */
	uint8_t *hdr = malloc(hlen), *p = hdr;
	struct snapshot s;
	char err[256];

	assert_non_null(hdr);
	/* TraceHeader { config (3) = VmConfig { cpuid (8) = CpuidEntry {} x cpuid } } */
	*p++ = 3 << 3 | 2;
	*p++ = (uint8_t)(vlen | 0x80);
	*p++ = (uint8_t)(vlen >> 7 | 0x80);
	*p++ = (uint8_t)(vlen >> 14);
	for (size_t i = 0; i < cpuid; i++) {
		*p++ = 8 << 3 | 2;
		*p++ = 0;
	}
	write_snapshot(hdr, (uint32_t)hlen);
	free(hdr);
	assert_int_equal(snapshot_open(&s, path, err, sizeof(err)), DETVM_EXIT_TRACE);
	assert_null(strchr(err, '\n'));
	assert_non_null(strstr(err, "unpacks to more memory than any snapshot's"));
	snapshot_close(&s);
}

static int setup(void **state)
{
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	return unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_header_opens),
		cmocka_unit_test(test_header_of_empty_records),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
