/*
 * Format detection and what both loaders share: the e820 map, the GDT/TSS, the command
 * line, initrd placement and range checks against the guest's RAM.
 */
#include "vmm/boot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PAGE_MASK (GUEST_PAGE_SIZE - 1)

int boot_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

const char *boot_ram_text(const struct guest_mem *m, char *buf, size_t len)
{
	if (m->size % (1ULL << 20))
		snprintf(buf, len, "%llu KiB", (unsigned long long)(m->size >> 10));
	else
		snprintf(buf, len, "%llu MiB", (unsigned long long)(m->size >> 20));
	return buf;
}

static unsigned e820_add(struct boot_e820_entry *e, unsigned n, unsigned max, uint64_t addr,
			 uint64_t end, uint32_t type)
{
	if (end <= addr)
		return n;
	if (n < max)
		e[n] = (struct boot_e820_entry){ addr, end - addr, type };
	return n + 1;
}

unsigned boot_e820(const struct guest_mem *m, struct boot_e820_entry *e, unsigned max)
{
	uint64_t low = m->nslots ? m->slots[0].size : 0;
	unsigned n = 0;

	/* The EBDA/BIOS area is reserved whether or not RAM backs it: Linux expects the
	 * legacy hole and would otherwise hand the low 1 MiB tail to its page allocator. */
	n = e820_add(e, n, max, 0, low < BOOT_EBDA_START ? low : BOOT_EBDA_START, BOOT_E820_RAM);
	n = e820_add(e, n, max, BOOT_EBDA_START, BOOT_HIGH_MEM_START, BOOT_E820_RESERVED);
	n = e820_add(e, n, max, BOOT_HIGH_MEM_START, low, BOOT_E820_RAM);
	if (m->nslots > 1)
		n = e820_add(e, n, max, m->slots[1].gpa, m->slots[1].gpa + m->slots[1].size,
			     BOOT_E820_RAM);
	return n < max ? n : max;
}

int boot_check_range(const struct guest_mem *m, uint64_t gpa, uint64_t len, const char *what,
		     char *err, size_t errlen)
{
	char ram[32];

	if (len == 0)
		return 0;
	if (gpa + len < gpa)
		return boot_errf(err, errlen, -E2BIG, "%s at 0x%llx (0x%llx bytes) wraps around",
				 what, (unsigned long long)gpa, (unsigned long long)len);
	if (gpa < BOOT_LOADER_END)
		return boot_errf(err, errlen, -EINVAL,
				 "%s (0x%llx-0x%llx) overlaps the loader's structures below 0x%llx",
				 what, (unsigned long long)gpa, (unsigned long long)(gpa + len),
				 (unsigned long long)BOOT_LOADER_END);
	/* The BIOS area below 1 MiB is reserved in the e820 map for the guest's sake, but
	 * detvm has no BIOS there: like QEMU, it loads what an image puts there (linkers
	 * place the ELF headers of a kernel linked at 1 MiB just below it). */
	if (guest_mem_ptr(m, gpa, len))
		return 0;
	return boot_errf(err, errlen, -E2BIG, "%s (0x%llx-0x%llx) lies outside the %s of guest RAM",
			 what, (unsigned long long)gpa, (unsigned long long)(gpa + len),
			 boot_ram_text(m, ram, sizeof(ram)));
}

int boot_check_cmdline(const struct boot_config *cfg, size_t max, char *err, size_t errlen)
{
	size_t len = cfg->cmdline ? strlen(cfg->cmdline) : 0;

	if (max > BOOT_CMDLINE_AREA - 1)
		max = BOOT_CMDLINE_AREA - 1;
	if (len > max)
		return boot_errf(err, errlen, -E2BIG,
				 "command line too long: %zu bytes, the kernel accepts at most %zu",
				 len, max);
	return 0;
}

int boot_place_initrd(const struct guest_mem *m, const struct boot_config *cfg, uint64_t floor,
		      uint64_t ceil, uint64_t *gpa, char *err, size_t errlen)
{
	uint64_t low_end = m->nslots ? m->slots[0].size : 0;
	uint64_t size = cfg->initrd_size;

	*gpa = 0;
	if (!cfg->initrd || !size)
		return 0;
	if (ceil > low_end)
		ceil = low_end;
	floor = (floor + PAGE_MASK) & ~PAGE_MASK;
	if (floor < BOOT_HIGH_MEM_START)
		floor = BOOT_HIGH_MEM_START;
	/* Highest placement: the kernel's decompressor and Linux's memblock both start
	 * allocating from the bottom, so the top of RAM is the last place they touch. */
	if (ceil < floor || size > ceil - floor || ((ceil - size) & ~PAGE_MASK) < floor)
		return boot_errf(err, errlen, -E2BIG,
				 "initrd too large: %zu bytes do not fit between the kernel's end "
				 "0x%llx and 0x%llx",
				 cfg->initrd_size, (unsigned long long)floor, (unsigned long long)ceil);
	*gpa = (ceil - size) & ~PAGE_MASK;
	return 0;
}

static uint64_t gdt_entry(uint32_t base, uint32_t limit, uint16_t flags)
{
	/* flags: bits 0-7 access byte, bits 12-15 G/DB/L/AVL nibble (kernel GDT_ENTRY style) */
	return ((uint64_t)(base & 0xff000000) << 32) | ((uint64_t)(flags & 0xf0ff) << 40) |
	       ((uint64_t)(limit & 0xf0000) << 32) | ((uint64_t)(base & 0x00ffffff) << 16) |
	       (limit & 0xffff);
}

void boot_gdt_decode(uint64_t desc, struct boot_segment *seg)
{
	uint32_t limit = (uint32_t)((desc & 0xffff) | ((desc >> 32) & 0xf0000));

	seg->base = ((desc >> 16) & 0xffffff) | ((desc >> 32) & 0xff000000);
	seg->type = (desc >> 40) & 0xf;
	seg->s = (desc >> 44) & 1;
	seg->dpl = (desc >> 45) & 3;
	seg->present = (desc >> 47) & 1;
	seg->avl = (desc >> 52) & 1;
	seg->l = (desc >> 53) & 1;
	seg->db = (desc >> 54) & 1;
	seg->g = (desc >> 55) & 1;
	seg->limit = seg->g ? (limit << 12) | 0xfff : limit;
}

void boot_write_common(struct guest_mem *m, enum boot_mode mode, const struct boot_config *cfg,
		       uint64_t initrd_gpa, struct boot_setup *out)
{
	uint64_t gdt[BOOT_GDT_ENTRIES] = { 0 };
	uint8_t tss[BOOT_TSS_SIZE] = { 0 };
	const char *cmdline = cfg->cmdline ? cfg->cmdline : "";

	/* 0xa09b: G, L, present, code exec/read accessed; 0xc09b: G, D, same access. */
	gdt[BOOT_SEL_CODE / 8] = gdt_entry(0, 0xfffff, mode == BOOT_MODE_LINUX64 ? 0xa09b : 0xc09b);
	gdt[BOOT_SEL_DATA / 8] = gdt_entry(0, 0xfffff, 0xc093);
	/* Busy TSS: VMX refuses to enter a guest whose TR is not a busy TSS. */
	gdt[BOOT_SEL_TSS / 8] = gdt_entry((uint32_t)BOOT_TSS_GPA, BOOT_TSS_SIZE - 1, 0x008b);
	guest_mem_write(m, BOOT_GDT_GPA, gdt, sizeof(gdt));
	guest_mem_write(m, BOOT_TSS_GPA, tss, sizeof(tss));
	guest_mem_write(m, BOOT_CMDLINE_GPA, cmdline, strlen(cmdline) + 1);
	if (initrd_gpa)
		guest_mem_write(m, initrd_gpa, cfg->initrd, cfg->initrd_size);

	out->mode = mode;
	out->gdt_gpa = BOOT_GDT_GPA;
	out->gdt_limit = BOOT_GDT_LIMIT;
	out->cmdline_gpa = BOOT_CMDLINE_GPA;
	out->initrd_gpa = initrd_gpa;
	out->initrd_size = initrd_gpa ? cfg->initrd_size : 0;
}

static int is_bzimage(const uint8_t *image, size_t size)
{
	return size >= 0x206 && image[0x202] == 'H' && image[0x203] == 'd' && image[0x204] == 'r' &&
	       image[0x205] == 'S';
}

int boot_image_is_linux(const uint8_t *image, size_t size)
{
	if (!image)
		return 0;
	if (size >= 4 && image[0] == 0x7f && image[1] == 'E' && image[2] == 'L' && image[3] == 'F')
		return boot_pvh_is_linux(image, size);
	return is_bzimage(image, size);
}

int boot_load(struct guest_mem *m, const uint8_t *image, size_t size, const struct boot_config *cfg,
	      struct boot_setup *out, char *err, size_t errlen)
{
	static const struct boot_config none;
	char ram[32];

	if (err && errlen)
		err[0] = '\0';
	memset(out, 0, sizeof(*out));
	if (!cfg)
		cfg = &none;
	if (!image || size == 0)
		return boot_errf(err, errlen, -ENOEXEC, "image is empty (0 bytes)");
	if (!cfg->initrd && cfg->initrd_size)
		return boot_errf(err, errlen, -EINVAL, "initrd size given without initrd data");
	/* The loader's structures and the kernel at 1 MiB need at least that much low RAM. */
	if (m->nslots == 0 || m->slots[0].gpa != 0 || m->slots[0].size < 2 * BOOT_HIGH_MEM_START)
		return boot_errf(err, errlen, -E2BIG,
				 "guest RAM (%s) is too small to boot a kernel: need at least 2 MiB",
				 boot_ram_text(m, ram, sizeof(ram)));
	if (size >= 4 && image[0] == 0x7f && image[1] == 'E' && image[2] == 'L' && image[3] == 'F')
		return boot_load_pvh(m, image, size, cfg, out, err, errlen);
	if (is_bzimage(image, size))
		return boot_load_linux(m, image, size, cfg, out, err, errlen);
	return boot_errf(err, errlen, -ENOEXEC,
			 "not a bzImage or an ELF image with a PVH entry note (%zu bytes, no ELF "
			 "magic and no \"HdrS\" at offset 0x202)",
			 size);
}
