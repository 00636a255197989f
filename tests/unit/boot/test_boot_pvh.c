/* ELF64 + PVH note loader: what lands in guest memory, and every refusal's message. */
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
	uint8_t *img = test_make_elf(&size, 8);

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
	/* Refusals come before any write. */
	assert_int_equal(guest_mem_read(&f->m, BOOT_INFO_GPA, got, sizeof(got)), 0);
	assert_memory_equal(got, zero, sizeof(got));
	assert_int_equal(guest_mem_read(&f->m, TEST_ELF_PADDR, got, sizeof(got)), 0);
	assert_memory_equal(got, zero, sizeof(got));
}

static uint64_t gdt_desc(struct boot_fixture *f, unsigned sel)
{
	uint64_t d;

	assert_int_equal(guest_mem_read(&f->m, f->out.gdt_gpa + sel, &d, 8), 0);
	return d;
}

static void test_load(void **state)
{
	struct boot_fixture *f = *state;
	const char *cmdline = "console=ttyS0 nolapic";
	uint8_t initrd[5000];
	struct boot_config cfg = { .cmdline = cmdline, .initrd = initrd, .initrd_size = sizeof(initrd) };
	struct boot_hvm_start_info si;
	struct boot_hvm_modlist_entry mod;
	struct boot_hvm_memmap_entry map[8];
	struct boot_e820_entry e820[8];
	struct boot_segment seg;
	uint8_t *p;

	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i ^ 0x5a);
	/* Stale bytes where bss goes: the loader must clear them. */
	memset(guest_mem_ptr(&f->m, TEST_ELF_PADDR, TEST_ELF_MEMSZ), 0xcc, TEST_ELF_MEMSZ);

	assert_int_equal(boot_fixture_load(f, &cfg), 0);
	assert_int_equal(f->out.mode, BOOT_MODE_PVH32);
	assert_int_equal(f->out.entry, TEST_ELF_ENTRY);
	assert_int_equal(f->out.arg, BOOT_INFO_GPA);
	assert_int_equal(f->out.cr3, 0);
	assert_int_equal(f->out.image_start, TEST_ELF_PADDR);
	assert_int_equal(f->out.image_end, TEST_ELF_PADDR + TEST_ELF_MEMSZ);

	p = guest_mem_ptr(&f->m, TEST_ELF_PADDR, TEST_ELF_MEMSZ);
	for (size_t i = 0; i < TEST_ELF_FILESZ; i++)
		assert_int_equal(p[i], test_pattern(i));
	for (size_t i = TEST_ELF_FILESZ; i < TEST_ELF_MEMSZ; i++)
		assert_int_equal(p[i], 0);

	assert_int_equal(guest_mem_read(&f->m, BOOT_INFO_GPA, &si, sizeof(si)), 0);
	assert_int_equal(si.magic, 0x336ec578);
	assert_int_equal(si.version, 1);
	assert_int_equal(si.flags, 0);
	assert_int_equal(si.rsdp_paddr, 0);
	assert_int_equal(si.cmdline_paddr, f->out.cmdline_gpa);
	assert_string_equal((char *)guest_mem_ptr(&f->m, si.cmdline_paddr, strlen(cmdline) + 1),
			    cmdline);

	unsigned n = boot_e820(&f->m, e820, 8);
	assert_int_equal(si.memmap_entries, n);
	assert_int_equal(guest_mem_read(&f->m, si.memmap_paddr, map, n * sizeof(map[0])), 0);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(map[i].addr, e820[i].addr);
		assert_int_equal(map[i].size, e820[i].size);
		assert_int_equal(map[i].type, e820[i].type);
		assert_int_equal(map[i].reserved, 0);
	}

	assert_int_equal(si.nr_modules, 1);
	assert_int_equal(guest_mem_read(&f->m, si.modlist_paddr, &mod, sizeof(mod)), 0);
	assert_int_equal(mod.paddr, f->out.initrd_gpa);
	assert_int_equal(mod.size, sizeof(initrd));
	assert_int_equal(f->out.initrd_size, sizeof(initrd));
	assert_int_equal(mod.paddr % 4096, 0);
	/* As high as possible: the page-aligned slot just below the end of RAM. */
	assert_int_equal(mod.paddr, (256 * MiB - sizeof(initrd)) & ~0xfffULL);
	assert_memory_equal(guest_mem_ptr(&f->m, mod.paddr, sizeof(initrd)), initrd, sizeof(initrd));

	/* Flat 32-bit code at 0x10, flat data at 0x18, busy TSS at 0x20. */
	assert_int_equal(f->out.gdt_gpa, BOOT_GDT_GPA);
	assert_int_equal(f->out.gdt_limit, 0x2f);
	assert_int_equal(gdt_desc(f, 0), 0);
	boot_gdt_decode(gdt_desc(f, 0x10), &seg);
	assert_int_equal(seg.base, 0);
	assert_int_equal(seg.limit, 0xffffffff);
	assert_int_equal(seg.type, 0xb);
	assert_int_equal(seg.s, 1);
	assert_int_equal(seg.present, 1);
	assert_int_equal(seg.db, 1);
	assert_int_equal(seg.l, 0);
	assert_int_equal(seg.g, 1);
	boot_gdt_decode(gdt_desc(f, 0x18), &seg);
	assert_int_equal(seg.limit, 0xffffffff);
	assert_int_equal(seg.type, 0x3);
	assert_int_equal(seg.db, 1);
	assert_int_equal(seg.present, 1);
	boot_gdt_decode(gdt_desc(f, 0x20), &seg);
	assert_int_equal(seg.base, BOOT_TSS_GPA);
	assert_int_equal(seg.limit, 0x67);
	assert_int_equal(seg.type, 0xb);
	assert_int_equal(seg.s, 0);
}

static void test_load_no_initrd_no_cmdline(void **state)
{
	struct boot_fixture *f = *state;
	struct boot_hvm_start_info si;

	free(f->img);
	f->img = test_make_elf(&f->size, 4);	/* a .long entry, as non-Linux kernels emit */
	assert_int_equal(boot_fixture_load(f, NULL), 0);
	assert_int_equal(f->out.entry, TEST_ELF_ENTRY);
	assert_int_equal(f->out.initrd_gpa, 0);
	assert_int_equal(f->out.initrd_size, 0);
	assert_int_equal(guest_mem_read(&f->m, BOOT_INFO_GPA, &si, sizeof(si)), 0);
	assert_int_equal(si.nr_modules, 0);
	assert_int_equal(si.modlist_paddr, 0);
	assert_string_equal((char *)guest_mem_ptr(&f->m, si.cmdline_paddr, 1), "");
}

static void test_load_4g_memmap(void **state)
{
	struct boot_fixture *f = *state;
	struct boot_hvm_start_info si;
	struct boot_hvm_memmap_entry map[4];
	uint8_t initrd[100] = { 1, 2, 3 };
	struct boot_config cfg = { .initrd = initrd, .initrd_size = sizeof(initrd) };

	guest_mem_destroy(&f->m);
	assert_int_equal(guest_mem_init(&f->m, 4 * GiB), 0);
	assert_int_equal(boot_fixture_load(f, &cfg), 0);
	assert_int_equal(guest_mem_read(&f->m, BOOT_INFO_GPA, &si, sizeof(si)), 0);
	assert_int_equal(si.memmap_entries, 4);
	assert_int_equal(guest_mem_read(&f->m, si.memmap_paddr, map, sizeof(map)), 0);
	assert_int_equal(map[3].addr, GUEST_MEM_HIGH_START);
	assert_int_equal(map[3].size, 4 * GiB - GUEST_MEM_HOLE_START);
	assert_int_equal(map[3].type, 1);
	/* The initrd stays in low RAM, below the MMIO hole. */
	assert_int_equal(f->out.initrd_gpa, GUEST_MEM_HOLE_START - 4096);
}

static void test_no_pvh_note(void **state)
{
	struct boot_fixture *f = *state;

	test_elf_phdr(f->img, 1)->p_type = PT_NULL;
	expect_error(f, NULL, "ELF image has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
}

static void test_elf32(void **state)
{
	struct boot_fixture *f = *state;

	f->img[EI_CLASS] = ELFCLASS32;
	expect_error(f, NULL, "32-bit");
}

static void test_bad_machine_and_type(void **state)
{
	struct boot_fixture *f = *state;

	test_elf_ehdr(f->img)->e_machine = EM_386;
	expect_error(f, NULL, "not x86-64");
	test_elf_ehdr(f->img)->e_machine = EM_X86_64;
	test_elf_ehdr(f->img)->e_type = ET_DYN;
	expect_error(f, NULL, "not an executable");
	test_elf_ehdr(f->img)->e_type = ET_EXEC;
	f->img[EI_DATA] = ELFDATA2MSB;
	expect_error(f, NULL, "little-endian");
}

static void test_phdr_past_eof(void **state)
{
	struct boot_fixture *f = *state;

	/* Header 0 fits, header 1 straddles the end of the file. */
	test_elf_ehdr(f->img)->e_phoff = f->size - sizeof(Elf64_Phdr) - 8;
	memcpy(f->img + f->size - sizeof(Elf64_Phdr) - 8, test_elf_phdr(f->img, 0), sizeof(Elf64_Phdr));
	expect_error(f, NULL, "image truncated: program header 1 runs past the end of the file");
	test_elf_ehdr(f->img)->e_phoff = UINT64_MAX - 8;
	expect_error(f, NULL, "image truncated: program header 0 runs past the end of the file");
}

static void test_segment_past_eof(void **state)
{
	struct boot_fixture *f = *state;

	test_elf_phdr(f->img, 0)->p_filesz = f->size;
	test_elf_phdr(f->img, 0)->p_memsz = f->size;
	expect_error(f, NULL, "image truncated: segment 0");
	test_elf_phdr(f->img, 0)->p_offset = UINT64_MAX;
	expect_error(f, NULL, "image truncated: segment 0");
}

static void test_note_past_segment(void **state)
{
	struct boot_fixture *f = *state;

	/* The Xen note's descsz claims more bytes than the segment holds. */
	test_elf_phdr(f->img, 1)->p_filesz -= 4;
	expect_error(f, NULL, "note in segment 1 runs past the end of the segment");
}

static void test_segment_outside_ram(void **state)
{
	struct boot_fixture *f = *state;
	Elf64_Phdr *ph = test_elf_phdr(f->img, 0);

	ph->p_paddr = 0x20000000;
	expect_error(f, NULL, "segment 0 (0x20000000-0x20003000) lies outside the 256 MiB of guest RAM");
	ph->p_paddr = 256 * MiB - 0x1000;	/* starts inside, ends outside */
	expect_error(f, NULL, "lies outside the 256 MiB of guest RAM");
	ph->p_paddr = UINT64_MAX - 0x1000;
	expect_error(f, NULL, "wraps around");
	ph->p_paddr = 0x8000;
	expect_error(f, NULL, "overlaps the loader's structures below 0x30000");
}

/* A kernel linked at 1 MiB by ld -Ttext has its ELF headers in a LOAD segment just below:
 * QEMU loads it there, and so does detvm (it has no BIOS in that e820-reserved area). */
static void test_segment_in_bios_area(void **state)
{
	struct boot_fixture *f = *state;
	Elf64_Phdr *ph = test_elf_phdr(f->img, 0);
	const uint64_t at = 0xff000;

	ph->p_paddr = at;
	assert_int_equal(boot_fixture_load(f, NULL), 0);
	assert_int_equal(f->out.image_start, at);
	const uint8_t *p = guest_mem_ptr(&f->m, at, TEST_ELF_FILESZ);
	for (size_t i = 0; i < TEST_ELF_FILESZ; i++)
		assert_int_equal(p[i], test_pattern(i));
	/* the guest is still told that the area is not RAM to allocate */
	struct boot_e820_entry e[8];
	assert_true(boot_e820(&f->m, e, 8) >= 2);
	assert_int_equal(e[1].addr, 0x9fc00);
	assert_int_equal(e[1].type, BOOT_E820_RESERVED);
}

static void test_bad_entry(void **state)
{
	struct boot_fixture *f = *state;
	uint64_t entry = 0x5000000;

	memcpy(f->img + TEST_ELF_NOTE_OFF + 20 + 12 + 4, &entry, 8);
	expect_error(f, NULL, "PVH entry 0x5000000 is outside the loaded image");
	entry = 0x100000000ULL;
	memcpy(f->img + TEST_ELF_NOTE_OFF + 20 + 12 + 4, &entry, 8);
	expect_error(f, NULL, "above 4 GiB");
}

static void test_filesz_over_memsz(void **state)
{
	struct boot_fixture *f = *state;

	test_elf_phdr(f->img, 0)->p_memsz = 0x100;
	expect_error(f, NULL, "more file bytes");
}

static void test_cmdline_too_long(void **state)
{
	struct boot_fixture *f = *state;
	char *cmdline = malloc(BOOT_PVH_CMDLINE_MAX + 2);
	struct boot_config cfg = { .cmdline = cmdline };

	memset(cmdline, 'a', BOOT_PVH_CMDLINE_MAX + 1);
	cmdline[BOOT_PVH_CMDLINE_MAX + 1] = '\0';
	expect_error(f, &cfg, "command line too long: 4096 bytes, the kernel accepts at most 4095");
	cmdline[BOOT_PVH_CMDLINE_MAX] = '\0';
	assert_int_equal(boot_fixture_load(f, &cfg), 0);
	free(cmdline);
}

static void test_initrd_too_large(void **state)
{
	struct boot_fixture *f = *state;
	size_t size = 255 * MiB;
	uint8_t *initrd = malloc(size);
	struct boot_config cfg = { .initrd = initrd, .initrd_size = size };

	expect_error(f, &cfg, "initrd too large");
	free(initrd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_no_initrd_no_cmdline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_4g_memmap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_pvh_note, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elf32, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_machine_and_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_phdr_past_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segment_past_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_note_past_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segment_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segment_in_bios_area, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filesz_over_memsz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_too_large, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
