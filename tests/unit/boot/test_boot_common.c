/* Format detection, the e820 builder, descriptor decoding, and truncation sweeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/boot/boot_images.h"
#include "vmm/boot.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static int load(struct guest_mem *m, const uint8_t *img, size_t n, char *err)
{
	struct boot_config cfg = { .cmdline = "console=ttyS0" };
	struct boot_setup out;
	uint8_t *copy = test_dup(img, n);
	int rc = boot_load(m, copy, n, &cfg, &out, err, 256);

	free(copy);
	return rc;
}

static void test_e820_256m(void **state)
{
	struct guest_mem m;
	struct boot_e820_entry e[8];

	assert_int_equal(guest_mem_init(&m, 256 * MiB), 0);
	assert_int_equal(boot_e820(&m, e, 8), 3);
	assert_int_equal(e[0].addr, 0);
	assert_int_equal(e[0].size, 0x9fc00);
	assert_int_equal(e[0].type, BOOT_E820_RAM);
	assert_int_equal(e[1].addr, 0x9fc00);
	assert_int_equal(e[1].size, 0x100000 - 0x9fc00);
	assert_int_equal(e[1].type, BOOT_E820_RESERVED);
	assert_int_equal(e[2].addr, 0x100000);
	assert_int_equal(e[2].size, 256 * MiB - 0x100000);
	assert_int_equal(e[2].type, BOOT_E820_RAM);
	/* A short array gets the first entries, and the count says how many were filled. */
	assert_int_equal(boot_e820(&m, e, 2), 2);
	guest_mem_destroy(&m);
}

static void test_e820_4g(void **state)
{
	struct guest_mem m;
	struct boot_e820_entry e[8];

	/* MAP_NORESERVE: 4 GiB of address space, no memory until touched. */
	assert_int_equal(guest_mem_init(&m, 4 * GiB), 0);
	assert_int_equal(m.nslots, 2);
	assert_int_equal(boot_e820(&m, e, 8), 4);
	assert_int_equal(e[2].addr, 0x100000);
	assert_int_equal(e[2].size, GUEST_MEM_HOLE_START - 0x100000);
	assert_int_equal(e[3].addr, GUEST_MEM_HIGH_START);
	assert_int_equal(e[3].size, 4 * GiB - GUEST_MEM_HOLE_START);
	assert_int_equal(e[3].type, BOOT_E820_RAM);
	guest_mem_destroy(&m);
}

static void test_empty_and_garbage(void **state)
{
	struct guest_mem m;
	char err[256];
	uint8_t *junk = malloc(65536);

	assert_int_equal(guest_mem_init(&m, 256 * MiB), 0);
	assert_true(load(&m, (const uint8_t *)"", 0, err) < 0);
	assert_non_null(strstr(err, "image is empty"));

	assert_true(load(&m, (const uint8_t *)"\x7f" "EL", 3, err) < 0);
	assert_non_null(strstr(err, "not a bzImage or an ELF image with a PVH entry note"));

	srand(42);
	for (size_t i = 0; i < 65536; i++)
		junk[i] = (uint8_t)rand();
	junk[0] = 0;
	assert_true(load(&m, junk, 65536, err) < 0);
	assert_non_null(strstr(err, "not a bzImage or an ELF image with a PVH entry note"));

	/* "HdrS" alone makes it a bzImage candidate; the header checks then refuse it. */
	memcpy(junk + 0x202, "HdrS", 4);
	junk[0x201] = 0x6a;
	assert_true(load(&m, junk, 65536, err) < 0);
	assert_non_null(strstr(err, "boot_flag"));
	free(junk);
	guest_mem_destroy(&m);
}

static void test_ram_too_small(void **state)
{
	struct guest_mem m;
	char err[256];
	size_t n;
	uint8_t *img = test_make_elf(&n, 8);

	assert_int_equal(guest_mem_init(&m, 1 * MiB), 0);
	assert_true(load(&m, img, n, err) < 0);
	assert_non_null(strstr(err, "too small"));
	free(img);
	guest_mem_destroy(&m);
}

static void test_gdt_decode(void **state)
{
	struct boot_segment s;

	boot_gdt_decode(0x00af9b000000ffffULL, &s);
	assert_int_equal(s.base, 0);
	assert_int_equal(s.limit, 0xffffffff);
	assert_int_equal(s.type, 0xb);
	assert_int_equal(s.s, 1);
	assert_int_equal(s.present, 1);
	assert_int_equal(s.l, 1);
	assert_int_equal(s.db, 0);
	assert_int_equal(s.g, 1);

	boot_gdt_decode(0x12408b345678abcdULL, &s);
	assert_int_equal(s.base, 0x12345678);
	assert_int_equal(s.limit, 0xabcd);
	assert_int_equal(s.type, 0xb);
	assert_int_equal(s.s, 0);
	assert_int_equal(s.g, 0);
}

/* Every prefix of a valid image must be refused with a message and never read past the
 * end (the copies are exact-size, so ASan catches an overread). */
static void sweep(uint8_t *img, size_t n)
{
	struct guest_mem m;
	char err[256];

	assert_int_equal(guest_mem_init(&m, 64 * MiB), 0);
	for (size_t len = 0; len < n; len++) {
		err[0] = '\0';
		assert_true(load(&m, img, len, err) < 0);
		assert_true(strlen(err) > 0);
	}
	assert_int_equal(load(&m, img, n, err), 0);
	guest_mem_destroy(&m);
}

static void test_truncation_sweep_elf(void **state)
{
	size_t n;
	uint8_t *img = test_make_elf(&n, 8);

	sweep(img, n);
	free(img);
}

static void test_truncation_sweep_bzimage(void **state)
{
	size_t n;
	uint8_t *img = test_make_bzimage(&n);

	sweep(img, n);
	free(img);
}

/* Flipping bytes of the headers must never crash or overread; results may be anything. */
static void test_header_fuzz(void **state)
{
	struct guest_mem m;
	char err[256];
	size_t n;

	assert_int_equal(guest_mem_init(&m, 64 * MiB), 0);
	srand(7);
	for (int kind = 0; kind < 2; kind++) {
		uint8_t *orig = kind ? test_make_bzimage(&n) : test_make_elf(&n, 8);
		size_t hot = kind ? 0x300 : 0x180;	/* header bytes worth mutating */

		for (int iter = 0; iter < 3000; iter++) {
			uint8_t *img = test_dup(orig, n);

			for (int k = 0; k < 1 + rand() % 4; k++)
				img[(size_t)rand() % hot] = (uint8_t)rand();
			(void)load(&m, img, n, err);
			free(img);
		}
		free(orig);
	}
	guest_mem_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e820_256m),
		cmocka_unit_test(test_e820_4g),
		cmocka_unit_test(test_empty_and_garbage),
		cmocka_unit_test(test_ram_too_small),
		cmocka_unit_test(test_gdt_decode),
		cmocka_unit_test(test_truncation_sweep_elf),
		cmocka_unit_test(test_truncation_sweep_bzimage),
		cmocka_unit_test(test_header_fuzz),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
