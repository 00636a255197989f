#include "tests/unit/boot/boot_images.h"

#include <stdlib.h>
#include <string.h>

uint8_t test_pattern(size_t i)
{
	return (uint8_t)(i * 7 + 1);
}

uint8_t *test_dup(const uint8_t *src, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	if (n)
		memcpy(p, src, n);
	return p;
}

Elf64_Ehdr *test_elf_ehdr(uint8_t *img)
{
	return (Elf64_Ehdr *)img;
}

Elf64_Phdr *test_elf_phdr(uint8_t *img, unsigned i)
{
	return (Elf64_Phdr *)(img + sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr));
}

struct boot_setup_header *test_bz_hdr(uint8_t *img)
{
	return (struct boot_setup_header *)(img + 0x1f1);
}

static size_t put_note(uint8_t *p, const char *name, uint32_t type, const void *desc,
		       uint32_t descsz)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1;
	size_t off = 12;

	memcpy(p, &namesz, 4);
	memcpy(p + 4, &descsz, 4);
	memcpy(p + 8, &type, 4);
	memcpy(p + off, name, namesz);
	off += (namesz + 3) & ~3u;
	memcpy(p + off, desc, descsz);
	off += (descsz + 3) & ~3u;
	return off;
}

uint8_t *test_make_elf(size_t *size, unsigned note_descsz)
{
	uint8_t *img = calloc(1, TEST_ELF_SIZE);
	Elf64_Ehdr *eh = test_elf_ehdr(img);
	uint64_t entry = TEST_ELF_ENTRY;
	uint32_t gnu = 0x12345678;
	size_t notes;

	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = 0xffffffff81000000ULL;	/* the 64-bit entry, which PVH ignores */
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 2;

	notes = put_note(img + TEST_ELF_NOTE_OFF, "GNU", 3, &gnu, 4);
	notes += put_note(img + TEST_ELF_NOTE_OFF + notes, "Xen", 18, &entry, note_descsz);

	Elf64_Phdr *load = test_elf_phdr(img, 0);
	load->p_type = PT_LOAD;
	load->p_flags = PF_R | PF_X | PF_W;
	load->p_offset = TEST_ELF_SEG_OFF;
	load->p_vaddr = 0xffffffff81000000ULL;
	load->p_paddr = TEST_ELF_PADDR;
	load->p_filesz = TEST_ELF_FILESZ;
	load->p_memsz = TEST_ELF_MEMSZ;
	load->p_align = 0x1000;

	Elf64_Phdr *note = test_elf_phdr(img, 1);
	note->p_type = PT_NOTE;
	note->p_offset = TEST_ELF_NOTE_OFF;
	note->p_filesz = notes;
	note->p_memsz = notes;
	note->p_align = 4;

	for (size_t i = 0; i < TEST_ELF_FILESZ; i++)
		img[TEST_ELF_SEG_OFF + i] = test_pattern(i);
	*size = TEST_ELF_SIZE;
	return img;
}

uint8_t *test_make_bzimage(size_t *size)
{
	uint8_t *img = calloc(1, TEST_BZ_SIZE);
	struct boot_setup_header *h = test_bz_hdr(img);

	img[0x1ef] = 0xff;	/* the sentinel: a loader that copies it is clumsy */
	h->setup_sects = TEST_BZ_SETUP_SECTS;
	h->syssize = TEST_BZ_KERNEL / 16;
	h->vid_mode = 0xfffd;
	h->boot_flag = 0xaa55;
	h->jump = 0x6aeb;	/* jmp over the header: 0x202 + 0x6a = 0x26c */
	h->header = BOOT_HDR_MAGIC;
	h->version = 0x020f;
	h->loadflags = BOOT_LOADED_HIGH;
	h->code32_start = 0x100000;
	h->setup_data = 0xdeadbeef;	/* junk the loader must not pass on */
	h->initrd_addr_max = 0x7fffffff;
	h->kernel_alignment = 0x200000;
	h->relocatable_kernel = 0;
	h->min_alignment = 21;
	h->xloadflags = BOOT_XLF_KERNEL_64 | 2;
	h->cmdline_size = 2047;
	h->pref_address = 0x100000;
	h->init_size = TEST_BZ_INIT_SIZE;
	for (size_t i = 0; i < TEST_BZ_KERNEL; i++)
		img[TEST_BZ_KERNEL_OFF + i] = test_pattern(i);
	*size = TEST_BZ_SIZE;
	return img;
}

uint64_t test_walk(const struct guest_mem *m, uint64_t cr3, uint64_t va)
{
	uint64_t table = cr3 & ~0xfffULL, e;
	int shifts[4] = { 39, 30, 21, 12 };

	for (int level = 0; level < 4; level++) {
		uint64_t idx = (va >> shifts[level]) & 511;

		if (guest_mem_read(m, table + idx * 8, &e, 8) || !(e & 1))
			return UINT64_MAX;
		/* PS in a PDPT (1 GiB) or PD (2 MiB) entry ends the walk. */
		if ((level == 1 || level == 2) && (e & 0x80)) {
			uint64_t mask = (1ULL << shifts[level]) - 1;
			return (e & 0x000ffffffffff000ULL & ~mask) | (va & mask);
		}
		table = e & 0x000ffffffffff000ULL;
	}
	return table | (va & 0xfff);
}

int boot_fixture_new(void **state, uint8_t *img, size_t size)
{
	struct boot_fixture *f = calloc(1, sizeof(*f));

	if (!f || !img || guest_mem_init(&f->m, 256ULL << 20)) {
		free(f);
		free(img);
		return -1;
	}
	f->img = img;
	f->size = size;
	*state = f;
	return 0;
}

int boot_fixture_free(void **state)
{
	struct boot_fixture *f = *state;

	guest_mem_destroy(&f->m);
	free(f->img);
	free(f);
	return 0;
}

int boot_fixture_load(struct boot_fixture *f, const struct boot_config *cfg)
{
	uint8_t *copy = test_dup(f->img, f->size);
	int rc;

	f->err[0] = '\0';
	rc = boot_load(&f->m, copy, f->size, cfg, &f->out, f->err, sizeof(f->err));
	free(copy);
	return rc;
}
