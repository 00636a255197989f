/* bzImage loader (64-bit boot protocol): zero page, page tables, GDT, and refusals. */
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

static int setup(void **state)
{
	size_t size;
	uint8_t *img = test_make_bzimage(&size);

	return boot_fixture_new(state, img, size);
}

static int teardown(void **state)
{
	return boot_fixture_free(state);
}

static void expect_error(struct boot_fixture *f, const struct boot_config *cfg, const char *text)
{
	uint8_t zero[64] = { 0 }, got[64];

	assert_true(boot_fixture_load(f, cfg) < 0);
	if (!strstr(f->err, text))
		fail_msg("error \"%s\" lacks \"%s\"", f->err, text);
	assert_int_equal(guest_mem_read(&f->m, BOOT_INFO_GPA + 0x1f0, got, sizeof(got)), 0);
	assert_memory_equal(got, zero, sizeof(got));
	assert_int_equal(guest_mem_read(&f->m, 0x100000, got, sizeof(got)), 0);
	assert_memory_equal(got, zero, sizeof(got));
}

static struct boot_params *params(struct boot_fixture *f)
{
	return guest_mem_ptr(&f->m, f->out.arg, sizeof(struct boot_params));
}

static void test_load(void **state)
{
	struct boot_fixture *f = *state;
	const char *cmdline = "console=ttyS0 root=/dev/vda";
	uint8_t initrd[10000];
	struct boot_config cfg = { .cmdline = cmdline, .initrd = initrd, .initrd_size = sizeof(initrd) };
	struct boot_e820_entry e820[8];
	struct boot_segment seg;
	uint64_t d;

	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i * 13);
	assert_int_equal(boot_fixture_load(f, &cfg), 0);
	assert_int_equal(f->out.mode, BOOT_MODE_LINUX64);
	assert_int_equal(f->out.entry, 0x100200);
	assert_int_equal(f->out.arg, BOOT_INFO_GPA);
	assert_int_equal(f->out.cr3, BOOT_PML4_GPA);
	assert_int_equal(f->out.image_start, 0x100000);
	assert_int_equal(f->out.image_end, 0x100000 + TEST_BZ_INIT_SIZE);

	const uint8_t *k = guest_mem_ptr(&f->m, 0x100000, TEST_BZ_KERNEL);
	for (size_t i = 0; i < TEST_BZ_KERNEL; i++)
		assert_int_equal(k[i], test_pattern(i));

	struct boot_params *bp = params(f);
	assert_non_null(bp);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.version, 0x020f);
	assert_int_equal(bp->hdr.header, BOOT_HDR_MAGIC);
	assert_int_equal(bp->hdr.boot_flag, 0xaa55);
	assert_int_equal(bp->hdr.vid_mode, 0xffff);
	assert_int_equal(bp->hdr.code32_start, 0x100000);
	assert_int_equal(bp->hdr.setup_data, 0);
	assert_int_equal(bp->sentinel, 0);
	assert_int_equal(bp->hdr.loadflags & BOOT_LOADED_HIGH, BOOT_LOADED_HIGH);
	assert_int_equal(bp->hdr.cmd_line_ptr, f->out.cmdline_gpa);
	assert_int_equal(bp->ext_cmd_line_ptr, 0);
	assert_string_equal((char *)guest_mem_ptr(&f->m, bp->hdr.cmd_line_ptr, strlen(cmdline) + 1),
			    cmdline);

	assert_int_equal(bp->hdr.ramdisk_image, f->out.initrd_gpa);
	assert_int_equal(bp->hdr.ramdisk_size, sizeof(initrd));
	assert_int_equal(bp->ext_ramdisk_image, 0);
	assert_int_equal(bp->ext_ramdisk_size, 0);
	assert_int_equal(f->out.initrd_gpa, (256 * MiB - sizeof(initrd)) & ~0xfffULL);
	assert_memory_equal(guest_mem_ptr(&f->m, f->out.initrd_gpa, sizeof(initrd)), initrd,
			    sizeof(initrd));

	unsigned n = boot_e820(&f->m, e820, 8);
	assert_int_equal(bp->e820_entries, n);
	assert_memory_equal(bp->e820_table, e820, n * sizeof(e820[0]));

	/* Identity map of all of 0..4 GiB, checked at every 2 MiB page and a few odd spots. */
	for (uint64_t va = 0; va < 4 * GiB; va += 2 * MiB)
		assert_int_equal(test_walk(&f->m, f->out.cr3, va + 0x1234), va + 0x1234);
	assert_int_equal(test_walk(&f->m, f->out.cr3, 0xffffffffULL), 0xffffffffULL);
	assert_int_equal(test_walk(&f->m, f->out.cr3, 4 * GiB), UINT64_MAX);
	/* The tables themselves stay clear of the loader's other structures. */
	assert_true(f->out.cr3 >= BOOT_INFO_GPA + 4096);

	/* __BOOT_CS 64-bit code, __BOOT_DS flat data. */
	assert_int_equal(guest_mem_read(&f->m, f->out.gdt_gpa + 0x10, &d, 8), 0);
	boot_gdt_decode(d, &seg);
	assert_int_equal(seg.type, 0xb);
	assert_int_equal(seg.s, 1);
	assert_int_equal(seg.present, 1);
	assert_int_equal(seg.dpl, 0);
	assert_int_equal(seg.l, 1);
	assert_int_equal(seg.db, 0);
	assert_int_equal(seg.g, 1);
	assert_int_equal(seg.limit, 0xffffffff);
	assert_int_equal(guest_mem_read(&f->m, f->out.gdt_gpa + 0x18, &d, 8), 0);
	boot_gdt_decode(d, &seg);
	assert_int_equal(seg.type, 0x3);
	assert_int_equal(seg.s, 1);
	assert_int_equal(seg.db, 1);
	assert_int_equal(seg.l, 0);
	assert_int_equal(seg.base, 0);
	assert_int_equal(seg.limit, 0xffffffff);
	assert_int_equal(f->out.gdt_limit, BOOT_GDT_LIMIT);
}

static void test_null_cmdline(void **state)
{
	struct boot_fixture *f = *state;

	assert_int_equal(boot_fixture_load(f, NULL), 0);
	assert_string_equal((char *)guest_mem_ptr(&f->m, params(f)->hdr.cmd_line_ptr, 1), "");
	assert_int_equal(params(f)->hdr.ramdisk_image, 0);
	assert_int_equal(params(f)->hdr.ramdisk_size, 0);
}

static void test_relocatable(void **state)
{
	struct boot_fixture *f = *state;
	struct boot_setup_header *h = test_bz_hdr(f->img);

	h->relocatable_kernel = 1;
	h->pref_address = 0x1000000;
	assert_int_equal(boot_fixture_load(f, NULL), 0);
	assert_int_equal(f->out.entry, 0x1000200);
	assert_int_equal(params(f)->hdr.code32_start, 0x1000000);

	/* pref_address unaligned: rounded up to kernel_alignment. */
	h->pref_address = 0x1000000 + 0x1000;
	assert_int_equal(boot_fixture_load(f, NULL), 0);
	assert_int_equal(f->out.image_start, 0x1200000);

	/* pref_address past the end of an 8 MiB guest: fall back to aligned 1 MiB. */
	guest_mem_destroy(&f->m);
	assert_int_equal(guest_mem_init(&f->m, 8 * MiB), 0);
	assert_int_equal(boot_fixture_load(f, NULL), 0);
	assert_int_equal(f->out.image_start, 0x200000);
}

static void test_initrd_addr_max(void **state)
{
	struct boot_fixture *f = *state;
	uint8_t initrd[3000] = { 9 };
	struct boot_config cfg = { .initrd = initrd, .initrd_size = sizeof(initrd) };

	test_bz_hdr(f->img)->initrd_addr_max = 0x00ffffff;
	assert_int_equal(boot_fixture_load(f, &cfg), 0);
	assert_int_equal(f->out.initrd_gpa, 0x1000000 - 4096);
	assert_true(f->out.initrd_gpa + sizeof(initrd) - 1 <= 0x00ffffff);
}

static void test_old_protocol(void **state)
{
	struct boot_fixture *f = *state;

	test_bz_hdr(f->img)->version = 0x0203;
	expect_error(f, NULL, "kernel needs boot protocol 2.12+ for the 64-bit entry (found 2.03)");
}

static void test_no_kernel64(void **state)
{
	struct boot_fixture *f = *state;

	test_bz_hdr(f->img)->xloadflags = 0;
	expect_error(f, NULL, "XLF_KERNEL_64");
	test_bz_hdr(f->img)->xloadflags = BOOT_XLF_KERNEL_64;
	test_bz_hdr(f->img)->loadflags = 0;
	expect_error(f, NULL, "zImage");
}

static void test_truncated_in_setup(void **state)
{
	struct boot_fixture *f = *state;

	f->size = 0x230;
	expect_error(f, NULL,
		     "image truncated: the setup header ends at 0x26c but the file has 560 bytes");
	f->size = 0x300;
	expect_error(f, NULL, "image truncated: setup_sects=1 puts the kernel at offset 0x400");
}

static void test_setup_sects_past_eof(void **state)
{
	struct boot_fixture *f = *state;

	test_bz_hdr(f->img)->setup_sects = 100;
	expect_error(f, NULL,
		     "image truncated: setup_sects=100 puts the kernel at offset 0xca00, past the "
		     "end of the file (5120 bytes)");
	test_bz_hdr(f->img)->setup_sects = 8;	/* the kernel would be 0x200 bytes: no entry */
	expect_error(f, NULL, "64-bit entry is at offset 0x200");
}

static void test_syssize_truncated(void **state)
{
	struct boot_fixture *f = *state;

	test_bz_hdr(f->img)->syssize = TEST_BZ_KERNEL / 16 + 1;
	expect_error(f, NULL, "image truncated: syssize says the kernel has 0x1010 bytes");
}

static void test_too_large_for_ram(void **state)
{
	struct boot_fixture *f = *state;

	test_bz_hdr(f->img)->init_size = 0x10000000;
	expect_error(f, NULL, "image too large for 256 MiB of guest RAM");
	test_bz_hdr(f->img)->init_size = TEST_BZ_INIT_SIZE;
	test_bz_hdr(f->img)->pref_address = 0x20000000;	/* not relocatable: no fallback */
	expect_error(f, NULL, "image too large for 256 MiB of guest RAM");
}

static void test_cmdline_too_long(void **state)
{
	struct boot_fixture *f = *state;
	struct boot_config cfg = { .cmdline = "0123456789abcdefg" };

	test_bz_hdr(f->img)->cmdline_size = 16;
	expect_error(f, &cfg, "command line too long: 17 bytes, the kernel accepts at most 16");
	cfg.cmdline = "0123456789abcdef";
	assert_int_equal(boot_fixture_load(f, &cfg), 0);
}

static void test_initrd_too_large(void **state)
{
	struct boot_fixture *f = *state;
	uint8_t *initrd = malloc(2 * MiB);
	struct boot_config cfg = { .initrd = initrd, .initrd_size = 2 * MiB };

	/* The initrd must sit above the kernel's init_size and below initrd_addr_max. */
	test_bz_hdr(f->img)->initrd_addr_max = 0x100000 + TEST_BZ_INIT_SIZE + 2 * MiB - 2;
	expect_error(f, &cfg, "initrd too large: 2097152 bytes do not fit");
	free(initrd);
}

static void test_bad_boot_flag(void **state)
{
	struct boot_fixture *f = *state;

	test_bz_hdr(f->img)->boot_flag = 0;
	expect_error(f, NULL, "not a bzImage: boot_flag at 0x1fe is 0x0000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_cmdline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relocatable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_addr_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_protocol, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_kernel64, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_in_setup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setup_sects_past_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syssize_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_large_for_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_boot_flag, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
