/* CRC32C against published vectors (RFC 3720 B.4), software vs SSE4.2, incremental use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "logs/crc32c.h"

static void test_vectors(void **state)
{
	uint8_t buf[32];

	assert_int_equal(crc32c("123456789", 9), 0xE3069283u);
	assert_int_equal(crc32c_sw(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(crc32c("", 0), 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(crc32c(buf, 32), 0x8A9136AAu);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(crc32c(buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(crc32c(buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(crc32c(buf, 32), 0x113FDB5Cu);
}

/* Every length and alignment 0..7: hardware, software and split computations agree. */
static void test_paths_agree(void **state)
{
	static uint8_t buf[4096 + 8];
	uint32_t seed = 12345;

	for (size_t i = 0; i < sizeof(buf); i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
	for (size_t align = 0; align < 8; align++) {
		for (size_t len = 0; len <= 300; len++) {
			uint32_t whole = crc32c(buf + align, len);
			size_t cut = len / 3;

			assert_int_equal(whole, crc32c_sw(0, buf + align, len));
			assert_int_equal(whole, crc32c_extend(crc32c(buf + align, cut),
							      buf + align + cut, len - cut));
		}
	}
	assert_int_equal(crc32c(buf, 4096), crc32c_sw(0, buf, 4096));
	print_message("crc32c: SSE4.2 %s\n", crc32c_hw_available() ? "used" : "not available");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_paths_agree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
