// SPDX-License-Identifier: MIT
/*
 * kmain: bring up the machine (GDT/TSS, IDT, PIC, PIT, COM1,
 * LAPIC virtual wire, virtio) and start the ring-3 program.  Choosing and
 * running the program is ring 3's business (user/ustart.c): the kernel only
 * hands it a copy of the command line.
 */
#include "kernel.h"

#define XEN_HVM_START_MAGIC	0x336ec578

struct hvm_start_info {
	u32 magic, version, flags, nr_modules;
	u64 modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	u32 memmap_entries, reserved;
};

struct __attribute__((packed)) tss64 {
	u32 reserved0;
	u64 rsp[3];
	u64 reserved1;
	u64 ist[7];
	u64 reserved2;
	u16 reserved3;
	u16 iomap_base;
};

/* PVH memory map entry; type 1 is RAM */
struct hvm_memmap_entry {
	u64 addr, size;
	u32 type, reserved;
};

u64 ram_top;

/* The highest end of RAM below 4 GiB (what the identity map reaches), for memtouch. */
static void find_ram_top(const struct hvm_start_info *si)
{
	const struct hvm_memmap_entry *e = (const struct hvm_memmap_entry *)si->memmap_paddr;

	for (u32 i = 0; si->version >= 1 && e && i < si->memmap_entries; i++) {
		u64 end = e[i].addr + e[i].size;

		if (e[i].type == 1 && end <= 0x100000000UL && end > ram_top)
			ram_top = end;
	}
}

static struct tss64 tss __attribute__((aligned(16)));

/* Ring-3 symbols (user/ustart.c) */
extern char ustart[];
extern char ucmdline[];
extern char ustack0[];
#define UCMDLINE_MAX	1024

static void tss_init(void)
{
	u64 base = (u64)&tss;
	u64 limit = sizeof(tss) - 1;

	tss.rsp[0] = (u64)boot_stack_top;
	tss.iomap_base = sizeof(tss);	/* no I/O bitmap: ring 3 gets no ports */
	/* 16-byte system descriptor: type 9 (available 64-bit TSS), present */
	gdt[5] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89UL << 40 |
		 ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
	gdt[6] = base >> 32;
	__asm__ __volatile__("ltr %w0" : : "r"(0x28));
}

/* Length of "prog=NAME" on the command line, for crash reports. */
static void find_prog(const char *s)
{
	for (; *s; s++) {
		if ((s[0] == 'p' && s[1] == 'r' && s[2] == 'o' && s[3] == 'g' &&
		     s[4] == '=') && (s == ucmdline || s[-1] == ' ')) {
			u64 n = 0;

			s += 5;
			while (s[n] && s[n] != ' ')
				n++;
			prog_name = s;
			prog_name_len = n;
			return;
		}
	}
	prog_name = "hello";
	prog_name_len = 5;
}

/* hz=N: the timer rate (default 100; 19..10000, the PIT's 16-bit divisor bounds it). */
static u32 find_hz(const char *s)
{
	for (; *s; s++) {
		if (s[0] == 'h' && s[1] == 'z' && s[2] == '=' && (s == ucmdline || s[-1] == ' ')) {
			u32 v = 0;

			for (s += 3; *s >= '0' && *s <= '9' && v < 100000; s++)
				v = v * 10 + (u32)(*s - '0');
			return v < 19 ? 19 : v > 10000 ? 10000 : v;
		}
	}
	return 100;
}

void kmain(u32 info_pa)
{
	struct hvm_start_info *si = (struct hvm_start_info *)(u64)info_pa;
	const char *cmd = "";
	u64 n = 0;

	uart_init();
	tss_init();
	idt_init();
	pic_init();
	lapic_virtual_wire();
	kputs("detvm-guest: kernel up\n");

	if (si && si->magic == XEN_HVM_START_MAGIC)
		find_ram_top(si);
	if (si && si->magic == XEN_HVM_START_MAGIC && si->cmdline_paddr)
		cmd = (const char *)si->cmdline_paddr;
	else
		kputs("INFO no PVH start info, empty command line\n");
	while (cmd[n] && n < UCMDLINE_MAX - 1)
		n++;
	memcpy(ucmdline, cmd, n);
	ucmdline[n] = 0;
	find_prog(ucmdline);
	pit_init(find_hz(ucmdline));
	pic_unmask(0);
	virtio_probe(ucmdline);
	sched_start((u64)ustart, (u64)ucmdline, (u64)ustack0 + USTACK0_SIZE);
}
