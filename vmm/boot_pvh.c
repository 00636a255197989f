/*
 * ELF64 images with a Xen PVH entry note (Linux built with CONFIG_PVH, and detvm's own
 * test guests). Every header, segment and note is bounds-checked against the file
 * before anything is copied, so a truncated or hostile file yields one message and an
 * untouched guest.
 */
#include "vmm/boot.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define XEN_ELFNOTE_PHYS32_ENTRY 18

struct pvh_image {
	Elf64_Ehdr eh;
	uint64_t entry;
	uint64_t start, end;	/* span of the PT_LOAD segments, bss included */
	int have_entry;
	int is_linux;		/* carries notes owned by "Linux" (a vmlinux) */
};

/* Copies program header i into *ph; the table itself may lie anywhere in the file. */
static int read_phdr(const uint8_t *image, size_t size, const Elf64_Ehdr *eh, unsigned i,
		     Elf64_Phdr *ph, char *err, size_t errlen)
{
	uint64_t rel = (uint64_t)i * eh->e_phentsize;

	if (eh->e_phoff > size || rel > size - eh->e_phoff ||
	    sizeof(*ph) > size - eh->e_phoff - rel)
		return boot_errf(err, errlen, -EINVAL,
				 "image truncated: program header %u runs past the end of the file "
				 "(%zu bytes)",
				 i, size);
	memcpy(ph, image + eh->e_phoff + rel, sizeof(*ph));
	return 0;
}

static int check_ehdr(const uint8_t *image, size_t size, Elf64_Ehdr *eh, char *err, size_t errlen)
{
	if (size < EI_NIDENT)
		return boot_errf(err, errlen, -EINVAL,
				 "image truncated: %zu bytes cannot hold an ELF identification", size);
	if (image[EI_CLASS] != ELFCLASS64)
		return boot_errf(err, errlen, -EINVAL,
				 "ELF image is %s, detvm loads ELF64 images with a PVH entry note",
				 image[EI_CLASS] == ELFCLASS32 ? "32-bit (ELFCLASS32)" : "of unknown class");
	if (image[EI_DATA] != ELFDATA2LSB)
		return boot_errf(err, errlen, -EINVAL, "ELF image is not little-endian (EI_DATA %u)",
				 image[EI_DATA]);
	if (size < sizeof(*eh))
		return boot_errf(err, errlen, -EINVAL,
				 "image truncated: %zu bytes is shorter than an ELF64 header (%zu)",
				 size, sizeof(*eh));
	memcpy(eh, image, sizeof(*eh));
	if (eh->e_machine != EM_X86_64)
		return boot_errf(err, errlen, -EINVAL, "ELF image is for machine %u, not x86-64 (%u)",
				 eh->e_machine, EM_X86_64);
	if (eh->e_type != ET_EXEC)
		return boot_errf(err, errlen, -EINVAL,
				 "ELF image is not an executable (e_type %u, want ET_EXEC)", eh->e_type);
	if (eh->e_phnum == 0 || eh->e_phnum == PN_XNUM)
		return boot_errf(err, errlen, -EINVAL, "ELF image has no usable program headers");
	if (eh->e_phentsize < sizeof(Elf64_Phdr))
		return boot_errf(err, errlen, -EINVAL,
				 "ELF program headers are %u bytes, want at least %zu",
				 eh->e_phentsize, sizeof(Elf64_Phdr));
	return 0;
}

/* Scans one PT_NOTE segment's bytes for the PVH entry note. */
static int scan_notes(const uint8_t *p, uint64_t len, uint64_t align, unsigned seg,
		      struct pvh_image *img, char *err, size_t errlen)
{
	uint64_t off = 0;

	while (len - off >= 12) {
		uint32_t namesz, descsz, type;

		memcpy(&namesz, p + off, 4);
		memcpy(&descsz, p + off + 4, 4);
		memcpy(&type, p + off + 8, 4);
		uint64_t name_off = off + 12;
		uint64_t desc_off = name_off + ((namesz + align - 1) & ~(align - 1));
		if (desc_off > len || descsz > len - desc_off)
			return boot_errf(err, errlen, -EINVAL,
					 "image truncated: a note in segment %u runs past the end of "
					 "the segment",
					 seg);
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 && !memcmp(p + name_off, "Xen", 4)) {
			uint64_t entry = 0;

			/* Linux emits a .quad on x86-64, other kernels a .long: accept both. */
			if (descsz == 4) {
				uint32_t e32;
				memcpy(&e32, p + desc_off, 4);
				entry = e32;
			} else if (descsz == 8) {
				memcpy(&entry, p + desc_off, 8);
			} else {
				return boot_errf(err, errlen, -EINVAL,
						 "PVH entry note has a %u-byte descriptor (want 4 or 8)",
						 descsz);
			}
			if (entry >> 32)
				return boot_errf(err, errlen, -EINVAL,
						 "PVH entry 0x%llx is above 4 GiB (it is a 32-bit entry)",
						 (unsigned long long)entry);
			img->entry = entry;
			img->have_entry = 1;
		}
		if (namesz == 6 && !memcmp(p + name_off, "Linux", 6))
			img->is_linux = 1;
		uint64_t next = desc_off + ((descsz + align - 1) & ~(align - 1));
		if (next > len)
			break;
		off = next;
	}
	return 0;
}

int boot_pvh_is_linux(const uint8_t *image, size_t size)
{
	Elf64_Ehdr eh;
	struct pvh_image img = { 0 };
	if (check_ehdr(image, size, &eh, NULL, 0))
		return 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if (read_phdr(image, size, &eh, i, &ph, NULL, 0))
			return 0;
		if (ph.p_type != PT_NOTE || ph.p_offset > size || ph.p_filesz > size - ph.p_offset)
			continue;
		if (scan_notes(image + ph.p_offset, ph.p_filesz, ph.p_align == 8 ? 8 : 4, i, &img, NULL, 0))
			return 0;
	}
	return img.is_linux;
}

/* Validates every program header and finds the entry; writes nothing. */
static int parse(const struct guest_mem *m, const uint8_t *image, size_t size,
		 struct pvh_image *img, char *err, size_t errlen)
{
	unsigned loads = 0;
	int rc;

	memset(img, 0, sizeof(*img));
	rc = check_ehdr(image, size, &img->eh, err, errlen);
	if (rc)
		return rc;
	img->start = UINT64_MAX;
	for (unsigned i = 0; i < img->eh.e_phnum; i++) {
		Elf64_Phdr ph;
		char what[32];

		rc = read_phdr(image, size, &img->eh, i, &ph, err, errlen);
		if (rc)
			return rc;
		if (ph.p_type != PT_LOAD && ph.p_type != PT_NOTE)
			continue;
		if (ph.p_offset > size || ph.p_filesz > size - ph.p_offset)
			return boot_errf(err, errlen, -EINVAL,
					 "image truncated: segment %u (file bytes 0x%llx+0x%llx) runs "
					 "past the end of the file (%zu bytes)",
					 i, (unsigned long long)ph.p_offset,
					 (unsigned long long)ph.p_filesz, size);
		if (ph.p_type == PT_NOTE) {
			rc = scan_notes(image + ph.p_offset, ph.p_filesz, ph.p_align == 8 ? 8 : 4, i,
					img, err, errlen);
			if (rc)
				return rc;
			continue;
		}
		if (ph.p_filesz > ph.p_memsz)
			return boot_errf(err, errlen, -EINVAL,
					 "segment %u has more file bytes (0x%llx) than memory (0x%llx)",
					 i, (unsigned long long)ph.p_filesz,
					 (unsigned long long)ph.p_memsz);
		if (ph.p_memsz == 0)
			continue;
		snprintf(what, sizeof(what), "segment %u", i);
		rc = boot_check_range(m, ph.p_paddr, ph.p_memsz, what, err, errlen);
		if (rc)
			return rc;
		if (ph.p_paddr < img->start)
			img->start = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > img->end)
			img->end = ph.p_paddr + ph.p_memsz;
		loads++;
	}
	if (!img->have_entry)
		return boot_errf(err, errlen, -EINVAL,
				 "ELF image has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
	if (!loads)
		return boot_errf(err, errlen, -EINVAL, "ELF image has no loadable segment");
	if (img->entry < img->start || img->entry >= img->end)
		return boot_errf(err, errlen, -EINVAL,
				 "PVH entry 0x%llx is outside the loaded image 0x%llx-0x%llx",
				 (unsigned long long)img->entry, (unsigned long long)img->start,
				 (unsigned long long)img->end);
	return 0;
}

static void write_segments(struct guest_mem *m, const uint8_t *image, size_t size,
			   const struct pvh_image *img)
{
	for (unsigned i = 0; i < img->eh.e_phnum; i++) {
		Elf64_Phdr ph;

		/* parse() has checked every header and range already. */
		if (read_phdr(image, size, &img->eh, i, &ph, NULL, 0) || ph.p_type != PT_LOAD ||
		    !ph.p_memsz)
			continue;
		uint8_t *dst = guest_mem_ptr(m, ph.p_paddr, ph.p_memsz);
		if (!dst)
			continue;
		memcpy(dst, image + ph.p_offset, ph.p_filesz);
		/* bss: guest RAM may hold an earlier boot's bytes (reset, restore). */
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		guest_mem_mark_dirty(m, ph.p_paddr, ph.p_memsz);
	}
}

static void write_start_info(struct guest_mem *m, uint64_t initrd_gpa, uint64_t initrd_size)
{
	struct boot_e820_entry e820[BOOT_E820_MAX];
	struct boot_hvm_memmap_entry map[BOOT_E820_MAX];
	struct boot_hvm_start_info si = {
		.magic = BOOT_HVM_START_MAGIC,
		.version = 1,
		.cmdline_paddr = BOOT_CMDLINE_GPA,
		.memmap_paddr = BOOT_PVH_MEMMAP_GPA,
	};
	unsigned n = boot_e820(m, e820, BOOT_E820_MAX);

	memset(map, 0, sizeof(map));
	for (unsigned i = 0; i < n; i++) {
		map[i].addr = e820[i].addr;
		map[i].size = e820[i].size;
		map[i].type = e820[i].type;
	}
	si.memmap_entries = n;
	if (initrd_gpa) {
		struct boot_hvm_modlist_entry mod = { .paddr = initrd_gpa, .size = initrd_size };

		si.nr_modules = 1;
		si.modlist_paddr = BOOT_PVH_MODLIST_GPA;
		guest_mem_write(m, BOOT_PVH_MODLIST_GPA, &mod, sizeof(mod));
	}
	guest_mem_write(m, BOOT_INFO_GPA, &si, sizeof(si));
	guest_mem_write(m, BOOT_PVH_MEMMAP_GPA, map, n * sizeof(map[0]));
}

_Static_assert(sizeof(struct boot_hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(sizeof(struct boot_hvm_modlist_entry) == 32, "hvm_modlist_entry layout");
_Static_assert(sizeof(struct boot_hvm_memmap_entry) == 24, "hvm_memmap_table_entry layout");
_Static_assert(BOOT_INFO_GPA + sizeof(struct boot_hvm_start_info) <= BOOT_PVH_MODLIST_GPA &&
		       BOOT_PVH_MODLIST_GPA + sizeof(struct boot_hvm_modlist_entry) <=
			       BOOT_PVH_MEMMAP_GPA &&
		       BOOT_PVH_MEMMAP_GPA + BOOT_E820_MAX * sizeof(struct boot_hvm_memmap_entry) <=
			       BOOT_PML4_GPA,
	       "PVH structures overlap");

int boot_load_pvh(struct guest_mem *m, const uint8_t *image, size_t size,
		  const struct boot_config *cfg, struct boot_setup *out, char *err, size_t errlen)
{
	struct pvh_image img;
	uint64_t initrd_gpa;
	int rc;

	rc = parse(m, image, size, &img, err, errlen);
	if (rc)
		return rc;
	rc = boot_check_cmdline(cfg, BOOT_PVH_CMDLINE_MAX, err, errlen);
	if (rc)
		return rc;
	/* PVH modules are 64-bit addresses, but Xen keeps everything below 4 GiB; so do we. */
	rc = boot_place_initrd(m, cfg, img.end, GUEST_MEM_HIGH_START, &initrd_gpa, err, errlen);
	if (rc)
		return rc;

	write_segments(m, image, size, &img);
	write_start_info(m, initrd_gpa, cfg->initrd_size);
	boot_write_common(m, BOOT_MODE_PVH32, cfg, initrd_gpa, out);
	out->entry = img.entry;
	out->is_linux = img.is_linux;
	out->arg = BOOT_INFO_GPA;
	out->cr3 = 0;
	out->image_start = img.start;
	out->image_end = img.end;
	return 0;
}
