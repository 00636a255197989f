/* SPDX-License-Identifier: MIT */
/*
 * The ring-3 <-> ring-0 contract of the detvm test guest.  Shared by the kernel
 * (kernel/) and the programs (user/); nothing else may be shared between them.
 *
 * Syscall ABI: `int $0x80` with the number in rax, arguments in rdi, rsi,
 * rdx, r10, r8; the result comes back in rax (negative = error); all other
 * registers are preserved.
 *
 * Why not SYSCALL: on the nested development host (DESIGN.md, host facts) a
 * ring-3 SYSCALL jumps to LSTAR but stays in ring 3 (measured: the entry
 * code then faults with CS=0x23, also with LSTAR at 1 MiB), and SYSRETQ
 * faults.  `int $0x80` there raises #UD at the instruction instead of using
 * the gate; the kernel recognises the bytes CD 80 at the #UD's RIP and treats
 * it as the system call, so the same image also works where the DPL-3 gate at
 * vector 0x80 is taken normally (real KVM).
 */
#ifndef GUEST_ABI_H
#define GUEST_ABI_H

#define SYS_WRITE	1	/* (buf, len): bytes to COM1 -> len */
#define SYS_EXIT	2	/* (code): end the calling task */
#define SYS_YIELD	3	/* (): let the next runnable task run */
#define SYS_SLEEP	4	/* (n): block n ticks; 0 = until the next interrupt */
#define SYS_TICKS	5	/* (): timer ticks since boot */
#define SYS_RTC		6	/* (struct guest_rtc *): raw CMOS clock registers */
#define SYS_SPAWN	7	/* (entry, arg, stack_top) -> task id */
#define SYS_POWEROFF	8	/* (code): write code to port 0xf4, never returns */
#define SYS_PORTNOP	9	/* (): one OUT to port 0x80, i.e. one VM exit */
#define SYS_BLK_INFO	10	/* () -> capacity in 512-byte sectors, <0 = no disk */
#define SYS_BLK_IO	11	/* (write, sector, buf, nsect) -> 0 or <0 */
#define SYS_NET_SEND	12	/* (buf, len) -> 0 or <0 */
#define SYS_NET_RECV	13	/* (buf, max) -> frame length, 0 = none yet, <0 = error */
#define SYS_NET_INFO	14	/* () -> 0 if a net device is up, <0 if not */
#define SYS_HOSTILE	15	/* (dev, kind): post a malformed virtqueue chain */
#define SYS_DEV_RESET	16	/* (dev): reset and re-initialise a virtio device */
#define SYS_KSPIN	17	/* (n): spin in ring 0, IF on, until n ticks -> loop iterations */
#define SYS_RAM_TOP	18	/* (): end of RAM below 4 GiB, from the PVH memory map */
#define SYS_RDTSC	19	/* (): the TSC, read in ring 0 */

/* dev argument of SYS_HOSTILE / SYS_DEV_RESET */
#define GDEV_BLK	0
#define GDEV_NET	1

/* kinds of malformed chains for SYS_HOSTILE (see kernel/virtio.c) */
#define HOSTILE_OUT_OF_RAM	0	/* buffer at 256 GiB */
#define HOSTILE_WRAP		1	/* buffer that wraps the address space */
#define HOSTILE_HUGE_LEN	2	/* 4 GiB-ish length starting inside RAM */
#define HOSTILE_LOOP		3	/* descriptor chain that loops */
#define HOSTILE_BAD_NEXT	4	/* next index beyond the queue */
#define HOSTILE_BAD_HEAD	5	/* avail ring names a head beyond the queue */
#define HOSTILE_AVAIL_JUMP	6	/* avail index moved by far more than the size */
#define HOSTILE_NKINDS		7

/* SYS_RTC result: CMOS registers exactly as read (BCD or binary per reg_b). */
struct guest_rtc {
	unsigned char sec, min, hour, wday, mday, mon, year, century;
	unsigned char reg_a, reg_b, reg_d, pad;
};

/* Ring-3 memory: two user-accessible 2 MiB pages, identity mapped. */
#define USER_BASE	0x400000UL
#define USER_END	0x800000UL
#define USTACK0_SIZE	16384	/* user/ustart.c: ustack0[] */

/* RAM from here (to SYS_RAM_TOP, below 3 GiB) is ring 3's too: memtouch's scratch. */
#define USER_SCRATCH	0x1000000UL

#endif
