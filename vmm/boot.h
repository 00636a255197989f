/*
 * Boot loaders: put a kernel image into guest memory and say how the vCPU must start.
 * Two formats are understood:
 *   - ELF64 executables carrying a Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY), entered
 *     the way QEMU enters them: 32-bit protected mode, paging off, EBX = hvm_start_info.
 *   - Linux bzImage through the 64-bit boot protocol (2.12+, XLF_KERNEL_64): long mode,
 *     identity-mapped 0..4 GiB, RSI = boot_params, RIP = load address + 0x200.
 * The loaders are pure functions over struct guest_mem, so they are unit-tested without
 * /dev/kvm; the vCPU setup reads struct boot_setup and nothing else.
 */
#ifndef DETVM_VMM_BOOT_H
#define DETVM_VMM_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/guest_mem.h"

/*
 * Fixed guest-physical layout of what the loaders build. Everything sits below
 * BOOT_LOADER_END; a kernel segment or an initrd overlapping [0, BOOT_LOADER_END) is
 * rejected. The e820-reserved BIOS area [0x9fc00, 0x100000) holds nothing of detvm's: an
 * image may load there, as under QEMU.
 */
#define BOOT_GDT_GPA		0x500ULL	/* BOOT_GDT_ENTRIES descriptors */
#define BOOT_TSS_GPA		0x580ULL	/* a zeroed 104-byte TSS for TR */
#define BOOT_TSS_SIZE		0x68
#define BOOT_INFO_GPA		0x7000ULL	/* Linux: boot_params (4 KiB); PVH: hvm_start_info */
#define BOOT_PVH_MODLIST_GPA	0x7040ULL	/* PVH: one boot_hvm_modlist_entry (the initrd) */
#define BOOT_PVH_MEMMAP_GPA	0x7080ULL	/* PVH: up to BOOT_E820_MAX memmap entries */
#define BOOT_PML4_GPA		0x9000ULL	/* Linux: PML4, PML4[0] -> PDPT */
#define BOOT_PDPT_GPA		0xa000ULL	/* Linux: PDPT[0..3] -> the four PDs */
#define BOOT_PD_GPA		0xb000ULL	/* Linux: 4 PDs of 2 MiB pages, 0xb000-0xefff */
#define BOOT_CMDLINE_GPA	0x20000ULL	/* NUL-terminated command line */
#define BOOT_CMDLINE_AREA	0x10000ULL	/* bytes reserved for it, NUL included */
#define BOOT_LOADER_END		0x30000ULL

/* Longest PVH command line accepted (bytes, NUL excluded); bzImage uses cmdline_size. */
#define BOOT_PVH_CMDLINE_MAX	4095

/*
 * GDT at BOOT_GDT_GPA, limit BOOT_GDT_LIMIT. Selector 0x08 is a second null descriptor
 * so that code/data land at the selectors Linux calls __BOOT_CS/__BOOT_DS.
 *   BOOT_SEL_CODE 0x10: flat 4 GiB, execute/read, DPL 0, G=1.
 *                       LINUX64: L=1, D=0 (64-bit code).  PVH32: L=0, D=1 (32-bit code).
 *   BOOT_SEL_DATA 0x18: flat 4 GiB, read/write, DPL 0, G=1, D/B=1 (both modes).
 *   BOOT_SEL_TSS  0x20: busy 32/64-bit TSS (type 0xb), base BOOT_TSS_GPA, limit 0x67;
 *                       a 16-byte system descriptor (0x28 holds base[63:32] = 0).
 * The vCPU loads CS=0x10, DS=ES=FS=GS=SS=0x18, TR=0x20 with the values
 * boot_gdt_decode() gives for those descriptors, so hidden and visible state agree.
 */
#define BOOT_SEL_CODE		0x10
#define BOOT_SEL_DATA		0x18
#define BOOT_SEL_TSS		0x20
#define BOOT_GDT_ENTRIES	6
#define BOOT_GDT_LIMIT		(BOOT_GDT_ENTRIES * 8 - 1)

/* e820 map shared by both loaders (layout identical to Linux's struct boot_e820_entry). */
#define BOOT_E820_RAM		1
#define BOOT_E820_RESERVED	2
#define BOOT_E820_MAX		128	/* what boot_params can hold */
#define BOOT_EBDA_START		0x9fc00ULL
#define BOOT_HIGH_MEM_START	0x100000ULL

struct boot_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

enum boot_mode { BOOT_MODE_PVH32, BOOT_MODE_LINUX64 };

struct boot_config {
	const char *cmdline;		/* may be NULL: an empty command line is passed */
	const uint8_t *initrd;		/* may be NULL */
	size_t initrd_size;
};

/* How the vCPU must start. Interrupts off in both modes. */
struct boot_setup {
	enum boot_mode mode;
	uint64_t entry;		/* RIP. PVH: the note's 32-bit entry; Linux: load address + 0x200 */
	uint64_t arg;		/* PVH: EBX = BOOT_INFO_GPA (hvm_start_info); Linux: RSI = boot_params */
	uint64_t cr3;		/* Linux: BOOT_PML4_GPA (identity map of 0..4 GiB); PVH: 0, paging off */
	uint64_t gdt_gpa;	/* BOOT_GDT_GPA; see the selectors above */
	uint16_t gdt_limit;	/* BOOT_GDT_LIMIT */
	uint64_t image_start, image_end;	/* [start, end): PVH: the PT_LOAD span incl. bss;
						 * Linux: load address + max(file bytes, init_size) */
	uint64_t cmdline_gpa;	/* BOOT_CMDLINE_GPA */
	uint64_t initrd_gpa, initrd_size;	/* 0, 0 without an initrd */
	int is_linux;		/* a bzImage, or an ELF with "Linux" notes */
};

/*
 * Detects the format (ELF64 with a PVH note, or bzImage), loads it into m and fills *out.
 * Everything is validated before guest memory is written, so on error m is untouched.
 * On error returns -errno (-EINVAL bad image or config, -ENOEXEC unknown format,
 * -E2BIG does not fit) and writes one human-readable line into err (may be NULL).
 */
int boot_load(struct guest_mem *m, const uint8_t *image, size_t size, const struct boot_config *cfg,
	      struct boot_setup *out, char *err, size_t errlen);

/* A bzImage, or an ELF whose notes say it is a Linux vmlinux; checked without loading. */
int boot_image_is_linux(const uint8_t *image, size_t size);
int boot_pvh_is_linux(const uint8_t *image, size_t size);

/* The e820 map both loaders use: fills up to max entries, returns the count. */
unsigned boot_e820(const struct guest_mem *m, struct boot_e820_entry *e, unsigned max);

/* A segment descriptor decoded into the fields KVM's struct kvm_segment wants. */
struct boot_segment {
	uint64_t base;
	uint32_t limit;		/* in bytes - 1, i.e. already scaled by G */
	uint8_t type, s, dpl, present, avl, l, db, g;
};

void boot_gdt_decode(uint64_t desc, struct boot_segment *seg);

/* ---- Structures the guest sees (own definitions, offsets per the protocol docs) ---- */

/* Linux setup header, boot_params offset 0x1f1 (Documentation/x86/boot.rst). */
struct boot_setup_header {
	uint8_t setup_sects;		/* 0x1f1 */
	uint16_t root_flags;
	uint32_t syssize;
	uint16_t ram_size;
	uint16_t vid_mode;		/* 0x1fa */
	uint16_t root_dev;
	uint16_t boot_flag;		/* 0x1fe: 0xaa55 */
	uint16_t jump;			/* 0x200 */
	uint32_t header;		/* 0x202: "HdrS" */
	uint16_t version;		/* 0x206 */
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t type_of_loader;		/* 0x210 */
	uint8_t loadflags;		/* 0x211 */
	uint16_t setup_move_size;
	uint32_t code32_start;		/* 0x214 */
	uint32_t ramdisk_image;		/* 0x218 */
	uint32_t ramdisk_size;		/* 0x21c */
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;		/* 0x224 */
	uint8_t ext_loader_ver;
	uint8_t ext_loader_type;
	uint32_t cmd_line_ptr;		/* 0x228 */
	uint32_t initrd_addr_max;	/* 0x22c */
	uint32_t kernel_alignment;	/* 0x230 */
	uint8_t relocatable_kernel;	/* 0x234 */
	uint8_t min_alignment;
	uint16_t xloadflags;		/* 0x236 */
	uint32_t cmdline_size;		/* 0x238 */
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;
	uint32_t payload_length;
	uint64_t setup_data;		/* 0x250 */
	uint64_t pref_address;		/* 0x258 */
	uint32_t init_size;		/* 0x260 */
	uint32_t handover_offset;
	uint32_t kernel_info_offset;	/* 0x268 */
} __attribute__((packed));

#define BOOT_HDR_MAGIC		0x53726448	/* "HdrS" */
#define BOOT_LOADED_HIGH	(1u << 0)
#define BOOT_CAN_USE_HEAP	(1u << 7)
#define BOOT_XLF_KERNEL_64	(1u << 0)

/* The zero page (Documentation/x86/zero-page.rst): 4096 bytes. */
struct boot_params {
	uint8_t _pad0[0x70];
	uint64_t acpi_rsdp_addr;	/* 0x070 */
	uint8_t _pad1[0xc0 - 0x78];
	uint32_t ext_ramdisk_image;	/* 0x0c0 */
	uint32_t ext_ramdisk_size;	/* 0x0c4 */
	uint32_t ext_cmd_line_ptr;	/* 0x0c8 */
	uint8_t _pad2[0x1e8 - 0xcc];
	uint8_t e820_entries;		/* 0x1e8 */
	uint8_t _pad3[0x1ef - 0x1e9];
	uint8_t sentinel;		/* 0x1ef */
	uint8_t _pad4;
	struct boot_setup_header hdr;	/* 0x1f1 */
	uint8_t _pad5[0x2d0 - 0x26c];
	struct boot_e820_entry e820_table[BOOT_E820_MAX];	/* 0x2d0 */
	uint8_t _pad6[0x1000 - 0xcd0];
} __attribute__((packed));

/* Xen's hvm_start_info (public/arch-x86/hvm/start_info.h), version 1. */
#define BOOT_HVM_START_MAGIC	0x336ec578
struct boot_hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct boot_hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct boot_hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;		/* BOOT_E820_RAM / BOOT_E820_RESERVED: same numbering */
	uint32_t reserved;
};

/* ---- Shared by boot.c, boot_pvh.c and boot_linux.c; not for other callers ---- */

int boot_load_pvh(struct guest_mem *m, const uint8_t *image, size_t size,
		  const struct boot_config *cfg, struct boot_setup *out, char *err, size_t errlen);
int boot_load_linux(struct guest_mem *m, const uint8_t *image, size_t size,
		    const struct boot_config *cfg, struct boot_setup *out, char *err, size_t errlen);
int boot_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* "256 MiB" style text for the guest's RAM size. */
const char *boot_ram_text(const struct guest_mem *m, char *buf, size_t len);
/* 0 if [gpa, gpa+len) is usable e820 RAM at or above BOOT_LOADER_END, else -E2BIG + err. */
int boot_check_range(const struct guest_mem *m, uint64_t gpa, uint64_t len, const char *what,
		     char *err, size_t errlen);
/* Checks the command line against max bytes (NUL excluded). */
int boot_check_cmdline(const struct boot_config *cfg, size_t max, char *err, size_t errlen);
/* Highest page-aligned GPA for the initrd in [floor, ceil) of low RAM; 0 if none wanted. */
int boot_place_initrd(const struct guest_mem *m, const struct boot_config *cfg, uint64_t floor,
		      uint64_t ceil, uint64_t *gpa, char *err, size_t errlen);
/* Writes GDT, TSS, command line and initrd (all validated before) and fills *out. */
void boot_write_common(struct guest_mem *m, enum boot_mode mode, const struct boot_config *cfg,
		       uint64_t initrd_gpa, struct boot_setup *out);

#endif
