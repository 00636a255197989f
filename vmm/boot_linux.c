/*
 * Linux bzImage through the 64-bit boot protocol (Documentation/x86/boot.rst): the
 * real-mode setup code never runs; detvm fills the zero page itself, builds an identity
 * map of 0..4 GiB and enters startup_64 at load address + 0x200 in long mode.
 */
#include "vmm/boot.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#define SETUP_HDR_START		0x1f1
#define SETUP_HDR_LIMIT		0x290	/* where boot_params' next field begins */
#define SECTOR			512
#define ENTRY64_OFFSET		0x200
#define DEFAULT_LOAD_ADDR	0x100000ULL
#define OLD_INITRD_ADDR_MAX	0x37ffffffULL
#define OLD_CMDLINE_MAX		255
#define PTE_PRESENT		(1ULL << 0)
#define PTE_WRITE		(1ULL << 1)
#define PTE_LARGE		(1ULL << 7)
#define PAGE_2M			(1ULL << 21)
#define PAGE_1G			(1ULL << 30)
#define IDENTITY_GIB		4

_Static_assert(offsetof(struct boot_params, acpi_rsdp_addr) == 0x070, "zero page layout");
_Static_assert(offsetof(struct boot_params, ext_ramdisk_image) == 0x0c0, "zero page layout");
_Static_assert(offsetof(struct boot_params, ext_cmd_line_ptr) == 0x0c8, "zero page layout");
_Static_assert(offsetof(struct boot_params, e820_entries) == 0x1e8, "zero page layout");
_Static_assert(offsetof(struct boot_params, sentinel) == 0x1ef, "zero page layout");
_Static_assert(offsetof(struct boot_params, hdr) == 0x1f1, "zero page layout");
_Static_assert(offsetof(struct boot_params, hdr.version) == 0x206, "setup header layout");
_Static_assert(offsetof(struct boot_params, hdr.cmd_line_ptr) == 0x228, "setup header layout");
_Static_assert(offsetof(struct boot_params, hdr.xloadflags) == 0x236, "setup header layout");
_Static_assert(offsetof(struct boot_params, hdr.pref_address) == 0x258, "setup header layout");
_Static_assert(offsetof(struct boot_params, hdr.kernel_info_offset) == 0x268,
	       "setup header layout");
_Static_assert(offsetof(struct boot_params, e820_table) == 0x2d0, "zero page layout");
_Static_assert(sizeof(struct boot_e820_entry) == 20, "e820 entry layout");
_Static_assert(sizeof(struct boot_params) == 4096, "zero page size");
_Static_assert(BOOT_PD_GPA + IDENTITY_GIB * GUEST_PAGE_SIZE <= BOOT_CMDLINE_GPA,
	       "page tables overlap the command line");

struct linux_image {
	struct boot_params bp;	/* zeroed, with the file's setup header copied in */
	uint64_t kernel_off;	/* protected-mode kernel's offset in the file */
	uint64_t kernel_bytes;
	uint64_t load;		/* GPA it is loaded at */
	uint64_t need;		/* bytes reserved from load: max(file bytes, init_size) */
};

static int is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

/* Copies the setup header the way boot.rst asks: from 0x1f1 to 0x202 + image[0x201]. */
static int read_header(const uint8_t *image, size_t size, struct linux_image *li, char *err,
		       size_t errlen)
{
	struct boot_setup_header *h = &li->bp.hdr;
	uint64_t end = 0x202 + (uint64_t)image[0x201];

	if (end > size)
		return boot_errf(err, errlen, -EINVAL,
				 "image truncated: the setup header ends at 0x%llx but the file "
				 "has %zu bytes",
				 (unsigned long long)end, size);
	if (end > SETUP_HDR_LIMIT)
		end = SETUP_HDR_LIMIT;
	memcpy((uint8_t *)&li->bp + SETUP_HDR_START, image + SETUP_HDR_START, end - SETUP_HDR_START);

	if (h->boot_flag != 0xaa55)
		return boot_errf(err, errlen, -EINVAL,
				 "not a bzImage: boot_flag at 0x1fe is 0x%04x, want 0xaa55",
				 h->boot_flag);
	if (h->version < 0x020c)
		return boot_errf(err, errlen, -EINVAL,
				 "kernel needs boot protocol 2.12+ for the 64-bit entry (found %u.%02u)",
				 h->version >> 8, h->version & 0xff);
	if (!(h->xloadflags & BOOT_XLF_KERNEL_64))
		return boot_errf(err, errlen, -EINVAL,
				 "kernel has no 64-bit entry point (XLF_KERNEL_64 not set in "
				 "xloadflags 0x%x)",
				 h->xloadflags);
	if (!(h->loadflags & BOOT_LOADED_HIGH))
		return boot_errf(err, errlen, -EINVAL,
				 "zImage kernels are not supported (LOADED_HIGH not set in loadflags)");
	return 0;
}

static int locate_kernel(const struct guest_mem *m, size_t size, struct linux_image *li,
			 char *err, size_t errlen)
{
	const struct boot_setup_header *h = &li->bp.hdr;
	uint64_t low_end = m->slots[0].size;
	unsigned sects = h->setup_sects ? h->setup_sects : 4;
	char ram[32];

	li->kernel_off = (uint64_t)(sects + 1) * SECTOR;
	if (li->kernel_off >= size)
		return boot_errf(err, errlen, -EINVAL,
				 "image truncated: setup_sects=%u puts the kernel at offset 0x%llx, "
				 "past the end of the file (%zu bytes)",
				 h->setup_sects, (unsigned long long)li->kernel_off, size);
	li->kernel_bytes = size - li->kernel_off;
	if (li->kernel_bytes <= ENTRY64_OFFSET)
		return boot_errf(err, errlen, -EINVAL,
				 "image truncated: the kernel has 0x%llx bytes, its 64-bit entry is at "
				 "offset 0x%x",
				 (unsigned long long)li->kernel_bytes, ENTRY64_OFFSET);
	if ((uint64_t)h->syssize * 16 > li->kernel_bytes)
		return boot_errf(err, errlen, -EINVAL,
				 "image truncated: syssize says the kernel has 0x%llx bytes, the "
				 "file holds 0x%llx",
				 (unsigned long long)h->syssize * 16,
				 (unsigned long long)li->kernel_bytes);
	li->need = li->kernel_bytes > h->init_size ? li->kernel_bytes : h->init_size;

	/*
	 * Load where the kernel will run anyway: at pref_address, aligned for a relocatable
	 * kernel, so the decompressor does not first move itself. A relocatable kernel that
	 * does not fit there may still fit at the aligned 1 MiB mark.
	 */
	uint64_t align = h->relocatable_kernel && is_pow2(h->kernel_alignment) ? h->kernel_alignment : 1;
	uint64_t pref = h->pref_address ? h->pref_address : DEFAULT_LOAD_ADDR;
	li->load = h->relocatable_kernel ? align_up(pref, align) : pref;
	if (h->relocatable_kernel && (li->load > low_end || li->need > low_end - li->load))
		li->load = align_up(DEFAULT_LOAD_ADDR, align);
	if (li->load > low_end || li->need > low_end - li->load)
		return boot_errf(err, errlen, -E2BIG,
				 "image too large for %s of guest RAM: the kernel needs 0x%llx bytes "
				 "(init_size 0x%x) at 0x%llx",
				 boot_ram_text(m, ram, sizeof(ram)), (unsigned long long)li->need,
				 h->init_size, (unsigned long long)li->load);
	return boot_check_range(m, li->load, li->need, "kernel", err, errlen);
}

/* PML4 -> one PDPT -> four PDs of 2 MiB pages: identity map of 0..4 GiB, which holds the
 * kernel, boot_params, the command line and the initrd (all in low RAM). 2 MiB pages
 * need no CPUID feature, unlike 1 GiB ones. */
static void write_page_tables(struct guest_mem *m)
{
	uint64_t table[512];

	memset(table, 0, sizeof(table));
	table[0] = BOOT_PDPT_GPA | PTE_PRESENT | PTE_WRITE;
	guest_mem_write(m, BOOT_PML4_GPA, table, sizeof(table));

	memset(table, 0, sizeof(table));
	for (unsigned i = 0; i < IDENTITY_GIB; i++)
		table[i] = (BOOT_PD_GPA + i * GUEST_PAGE_SIZE) | PTE_PRESENT | PTE_WRITE;
	guest_mem_write(m, BOOT_PDPT_GPA, table, sizeof(table));

	for (unsigned i = 0; i < IDENTITY_GIB; i++) {
		for (unsigned j = 0; j < 512; j++)
			table[j] = (i * PAGE_1G + j * PAGE_2M) | PTE_PRESENT | PTE_WRITE | PTE_LARGE;
		guest_mem_write(m, BOOT_PD_GPA + i * GUEST_PAGE_SIZE, table, sizeof(table));
	}
}

static void fill_params(const struct guest_mem *m, struct linux_image *li, uint64_t initrd_gpa,
			uint64_t initrd_size)
{
	struct boot_params *bp = &li->bp;
	struct boot_setup_header *h = &bp->hdr;

	h->type_of_loader = 0xff;	/* no assigned loader id */
	h->vid_mode = 0xffff;		/* "normal": no mode switch asked for */
	h->code32_start = (uint32_t)li->load;
	h->cmd_line_ptr = (uint32_t)BOOT_CMDLINE_GPA;
	bp->ext_cmd_line_ptr = (uint32_t)(BOOT_CMDLINE_GPA >> 32);
	h->ramdisk_image = (uint32_t)initrd_gpa;
	h->ramdisk_size = (uint32_t)initrd_size;
	bp->ext_ramdisk_image = (uint32_t)(initrd_gpa >> 32);
	bp->ext_ramdisk_size = (uint32_t)(initrd_size >> 32);
	/* We pass no setup_data list; whatever the file held there is not a GPA. */
	h->setup_data = 0;
	/*
	 * CAN_USE_HEAP/heap_end_ptr describe the real-mode setup's heap and KEEP_SEGMENTS is
	 * obsolete: with the 64-bit entry no setup code runs and startup_64 loads its own
	 * GDT, so both stay as the image has them (clear).
	 */
	bp->e820_entries = (uint8_t)boot_e820(m, bp->e820_table, BOOT_E820_MAX);
}

int boot_load_linux(struct guest_mem *m, const uint8_t *image, size_t size,
		    const struct boot_config *cfg, struct boot_setup *out, char *err, size_t errlen)
{
	struct linux_image li;
	uint64_t initrd_gpa, initrd_max;
	int rc;

	memset(&li, 0, sizeof(li));
	rc = read_header(image, size, &li, err, errlen);
	if (rc)
		return rc;
	rc = locate_kernel(m, size, &li, err, errlen);
	if (rc)
		return rc;
	rc = boot_check_cmdline(cfg, li.bp.hdr.cmdline_size ? li.bp.hdr.cmdline_size : OLD_CMDLINE_MAX,
				err, errlen);
	if (rc)
		return rc;
	initrd_max = li.bp.hdr.initrd_addr_max ? li.bp.hdr.initrd_addr_max : OLD_INITRD_ADDR_MAX;
	/* initrd_addr_max is the highest byte the initrd may occupy, so +1 is the ceiling. */
	rc = boot_place_initrd(m, cfg, li.load + li.need, initrd_max + 1, &initrd_gpa, err, errlen);
	if (rc)
		return rc;

	guest_mem_write(m, li.load, image + li.kernel_off, li.kernel_bytes);
	fill_params(m, &li, initrd_gpa, initrd_gpa ? cfg->initrd_size : 0);
	guest_mem_write(m, BOOT_INFO_GPA, &li.bp, sizeof(li.bp));
	write_page_tables(m);
	boot_write_common(m, BOOT_MODE_LINUX64, cfg, initrd_gpa, out);
	out->entry = li.load + ENTRY64_OFFSET;
	out->arg = BOOT_INFO_GPA;
	out->cr3 = BOOT_PML4_GPA;
	out->image_start = li.load;
	out->image_end = li.load + li.need;
	return 0;
}
