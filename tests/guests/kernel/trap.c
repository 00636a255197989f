// SPDX-License-Identifier: MIT
/*
 * IDT and trap dispatch: exceptions end the run with a report, IRQs go to the
 * timer or the virtio drivers, `int $0x80` from ring 3 is a system call
 * (arriving through its gate, or as #UD on the nested development host).
 */
#include "kernel.h"

struct idt_entry {
	u16 off0, sel;
	u8 ist, type;
	u16 off1;
	u32 off2, zero;
};

static struct idt_entry idt[256] __attribute__((aligned(16)));

struct __attribute__((packed)) desc_ptr {
	u16 limit;
	u64 base;
};

const char *prog_name = "?";
u64 prog_name_len = 1;

void idt_init(void)
{
	struct desc_ptr p = { sizeof(idt) - 1, (u64)idt };

	for (int v = 0; v < 256; v++) {
		u64 a = (u64)isr_stubs + 16 * v;

		idt[v].off0 = (u16)a;
		idt[v].sel = KERNEL_CS;
		/* present, 64-bit interrupt gate (IF off in the kernel), DPL0
		 * except the system-call gate ring 3 may use */
		idt[v].type = v == VEC_SYSCALL ? 0xee : 0x8e;
		idt[v].off1 = (u16)(a >> 16);
		idt[v].off2 = (u32)(a >> 32);
	}
	__asm__ __volatile__("lidt %0" : : "m"(p));
}

static void report(const char *what, u64 v)
{
	kputs(what);
	kputhex(v);
}

/* Any exception is a bug in the guest (or in the VMM): say so and fail. */
static void __attribute__((noreturn)) exception(struct trapframe *tf)
{
	u64 cr2;

	__asm__ __volatile__("mov %%cr2, %0" : "=r"(cr2));
	report("EXCEPTION vector=", tf->vec);
	report(" error=", tf->err);
	report(" rip=", tf->rip);
	report(" cs=", tf->cs);
	report(" rsp=", tf->rsp);
	report(" cr2=", cr2);
	kputs(tf->cs & 3 ? " (ring 3)\n" : " (ring 0)\n");
	kputs("RESULT ");
	kwrite(prog_name, prog_name_len);
	report(" FAIL exception-", tf->vec);
	kputs("\n");
	poweroff(3);
}

void trap_dispatch(struct trapframe *tf)
{
	u64 v = tf->vec;

	if (v == VEC_SYSCALL && (tf->cs & 3)) {
		syscall_dispatch(tf);
		return;
	}
	/* `int $0x80` that raised #UD: the saved RIP is the instruction's. */
	if (v == VEC_UD && (tf->cs & 3) && tf->rip >= USER_BASE &&
	    tf->rip <= USER_END - 2 && *(const u16 *)tf->rip == 0x80cd) {
		tf->rip += 2;
		syscall_dispatch(tf);
		return;
	}
	if (v < IRQ_BASE)
		exception(tf);
	if (v < IRQ_BASE + 16) {
		int irq = (int)(v - IRQ_BASE);

		/* Spurious IRQ 7/15: the PIC's ISR bit is not set, no EOI. */
		if ((irq == 7 || irq == 15)) {
			outb(irq == 7 ? 0x20 : 0xa0, 0x0b);
			if (!(inb(irq == 7 ? 0x20 : 0xa0) & 0x80)) {
				if (irq == 15)
					pic_eoi(0);
				return;
			}
		}
		if (irq == 0) {
			pic_eoi(0);
			sched_tick(tf);
			return;
		}
		virtio_irq(irq);
		pic_eoi(irq);
		sched_wake_io();
		return;
	}
	if (v == 0xff)		/* LAPIC spurious vector (QEMU only): no EOI */
		return;
	exception(tf);
}
