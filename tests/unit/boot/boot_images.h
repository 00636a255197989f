/* Tiny kernel images synthesized in memory for the boot loader tests. */
#ifndef DETVM_TESTS_BOOT_IMAGES_H
#define DETVM_TESTS_BOOT_IMAGES_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/boot.h"

/* ELF64: Ehdr, PT_LOAD, PT_NOTE at 0x40; notes (a GNU note, then Xen's) at 0x100;
 * segment bytes at 0x1000. */
#define TEST_ELF_SIZE		0x1800
#define TEST_ELF_PADDR		0x100000ULL
#define TEST_ELF_FILESZ		0x800ULL
#define TEST_ELF_MEMSZ		0x3000ULL
#define TEST_ELF_ENTRY		0x100040ULL
#define TEST_ELF_SEG_OFF	0x1000
#define TEST_ELF_NOTE_OFF	0x100

/* bzImage: setup_sects 1, so the kernel starts at 0x400 and runs TEST_BZ_KERNEL bytes. */
#define TEST_BZ_SETUP_SECTS	1
#define TEST_BZ_KERNEL_OFF	0x400
#define TEST_BZ_KERNEL		0x1000
#define TEST_BZ_SIZE		(TEST_BZ_KERNEL_OFF + TEST_BZ_KERNEL)
#define TEST_BZ_INIT_SIZE	0x20000

/* Byte i of a segment or kernel: a pattern that no zeroed page matches by chance. */
uint8_t test_pattern(size_t i);

/* Builds a valid image into a fresh malloc'd buffer of exactly *size bytes. descsz 4 or 8. */
uint8_t *test_make_elf(size_t *size, unsigned note_descsz);
uint8_t *test_make_bzimage(size_t *size);
/* A copy of the first n bytes in a buffer of exactly n bytes, so ASan sees overreads. */
uint8_t *test_dup(const uint8_t *src, size_t n);

Elf64_Ehdr *test_elf_ehdr(uint8_t *img);
Elf64_Phdr *test_elf_phdr(uint8_t *img, unsigned i);
struct boot_setup_header *test_bz_hdr(uint8_t *img);

/* Identity check helper: walks the 4-level tables at cr3 for va; UINT64_MAX if unmapped. */
uint64_t test_walk(const struct guest_mem *m, uint64_t cr3, uint64_t va);

/*
 * The loader tests' fixture: 256 MiB of guest memory and one image. Each load gets a
 * copy of the image of exactly its size, so ASan sees any read past its end.
 */
struct boot_fixture {
	struct guest_mem m;
	uint8_t *img;
	size_t size;
	char err[256];
	struct boot_setup out;
};

/* For cmocka setups: takes ownership of img; -1 when memory runs out. */
int boot_fixture_new(void **state, uint8_t *img, size_t size);
int boot_fixture_free(void **state);
int boot_fixture_load(struct boot_fixture *f, const struct boot_config *cfg);

#endif
