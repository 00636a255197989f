/* SPDX-License-Identifier: MIT */
/*
 * Kernel-internal declarations of the detvm test guest.  Ring-0 code is
 * emulated on the development host (~1-2 us per instruction), so everything
 * here is written to execute few instructions: no loops over big buffers, no
 * formatting beyond hex, and work pushed to ring 3 wherever possible.
 */
#ifndef GUEST_KERNEL_H
#define GUEST_KERNEL_H

#include "../abi.h"

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long u64;
typedef long s64;

#define barrier() __asm__ __volatile__("" ::: "memory")

static inline void outb(u16 port, u8 v)
{
	__asm__ __volatile__("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline u8 inb(u16 port)
{
	u8 v;

	__asm__ __volatile__("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outl(u16 port, u32 v)
{
	__asm__ __volatile__("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline u32 mmio_read32(u64 addr)
{
	return *(volatile u32 *)addr;
}

static inline void mmio_write32(u64 addr, u32 v)
{
	*(volatile u32 *)addr = v;
}

/* Frame built by every kernel entry (kernel/entry.S), lowest address first. */
struct trapframe {
	u64 r15, r14, r13, r12, r11, r10, r9, r8;
	u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
	u64 vec, err;
	u64 rip, cs, rflags, rsp, ss;
};

#define VEC_SYSCALL	0x80	/* DPL-3 gate; see abi.h for the #UD path */
#define VEC_UD		6
#define IRQ_BASE	0x20	/* master 8259A; slave at IRQ_BASE + 8 */
#define KERNEL_CS	0x08
#define USER_DS		0x1b
#define USER_CS		0x23

/* kio.c: COM1, PIC, PIT, RTC, LAPIC, power */
void uart_init(void);
void kputs(const char *s);
void kwrite(const char *s, u64 len);
void kputhex(u64 v);
void pic_init(void);
void pic_unmask(int irq);
void pic_eoi(int irq);
void pit_init(u32 hz);
void lapic_virtual_wire(void);
void rtc_read(struct guest_rtc *r);
void poweroff(u32 code) __attribute__((noreturn));
void *memcpy(void *dst, const void *src, u64 n);
void *memset(void *dst, int c, u64 n);

/* trap.c */
void idt_init(void);
void trap_dispatch(struct trapframe *tf);
extern const char *prog_name;	/* for the RESULT line of a crash report */
extern u64 prog_name_len;

/* sched.c */
extern volatile u64 ticks;
extern u64 ram_top;		/* end of the RAM below 4 GiB (PVH memory map) */
void sched_start(u64 entry, u64 arg, u64 stack_top) __attribute__((noreturn));
void sched_tick(struct trapframe *tf);
void sched_wake_io(void);
void syscall_dispatch(struct trapframe *tf);

/* virtio.c */
void virtio_probe(const char *cmdline);
void virtio_irq(int irq);
s64 blk_capacity(void);
s64 blk_io(int write, u64 sector, u64 buf, u64 nsect);
s64 net_ready(void);
s64 net_send(u64 buf, u64 len);
s64 net_recv(u64 buf, u64 max);
s64 virtio_hostile(int dev, int kind);
s64 virtio_reset(int dev);

/* entry.S */
extern char isr_stubs[];
void start_user(struct trapframe *tf) __attribute__((noreturn));
extern char boot_stack_top[];
extern unsigned long long gdt[];

#endif
