/*
 * The x86 architecture as detvm reads it out of a stopped vCPU: register bits, the CPU
 * mode, guest memory by linear address (the vCPU's own page walk, KVM_TRANSLATE), the
 * IDT and GDT. The one place for this knowledge: the run loop's landmark search, the gdb
 * stub and the instruction tracer all read the guest the same way.
 */
#ifndef DETVM_VMM_X86_H
#define DETVM_VMM_X86_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

struct machine;

#define X86_RFLAGS_FIXED (1ULL << 1)	/* reads as 1 in every valid RFLAGS image */
#define X86_RFLAGS_TF (1ULL << 8)
#define X86_RFLAGS_OF (1ULL << 11)
#define X86_RFLAGS_RF (1ULL << 16)
/* What single-stepping puts in RFLAGS that the guest never asked for: left out wherever
 * registers are compared or shown. */
#define X86_RFLAGS_STEPPING (X86_RFLAGS_TF | X86_RFLAGS_RF)

#define X86_CR0_PE (1ULL << 0)
#define X86_CR0_ET (1ULL << 4)
#define X86_CR0_NE (1ULL << 5)
#define X86_CR0_PG (1ULL << 31)

#define X86_EFER_LMA (1ULL << 10)

/* DR7's local enable of DRi; its R/W and LEN fields left 00 make an instruction breakpoint. */
#define X86_DR7_L(i) (1ULL << (2 * (i)))

#define X86_VEC_DB 1
#define X86_VEC_BP 3

/* One-byte instructions detvm writes into guest memory or looks for there. */
#define X86_OP_INT3 0xcc
#define X86_OP_HLT 0xf4

/* Where the 64-bit TSS keeps the ring-0 stack and the interrupt stacks IST1..IST7. */
#define X86_TSS64_RSP0 0x04
#define X86_TSS64_IST(n) (0x24 + 8 * ((n) - 1))

/* 16, 32 or 64: how the CPU decodes instructions at this state. */
unsigned x86_cpu_mode(const struct kvm_sregs *s);

/* The guest-physical address of a linear one (itself while paging is off). 0, or -1 where
 * the guest maps nothing there. */
int x86_linear_to_gpa(struct machine *m, const struct kvm_sregs *s, uint64_t lin, uint64_t *gpa);

/* A small cache of translations for a reader that comes back to the same few pages
 * (instruction fetches): each KVM_TRANSLATE is an ioctl. Its owner flushes it wherever
 * the guest may have changed its mappings. */
#define X86_TLB_SIZE 64
struct x86_tlb {
	struct {
		uint64_t cr3, vpn, gpn;
	} e[X86_TLB_SIZE];
	uint64_t valid;		/* one bit per entry */
};

static inline void x86_tlb_flush(struct x86_tlb *t)
{
	t->valid = 0;
}

/* Reads up to n bytes at a linear address, page by page (through tlb unless NULL): how
 * many could be read from its start (up to the first unmapped page or non-RAM address). */
size_t x86_read_linear(struct machine *m, const struct kvm_sregs *s, struct x86_tlb *tlb, uint64_t lin,
		       void *buf, size_t n);

/* Clears TF in an RFLAGS image the guest keeps at linear address lin, where it is set;
 * the page counts as written. */
void x86_clear_tf_at(struct machine *m, const struct kvm_sregs *s, uint64_t lin);

/* The segment register a selector loads from its 8-byte descriptor d (limit scaled by G). */
void x86_segment_from_descriptor(const uint8_t d[8], uint16_t selector, struct kvm_segment *seg);

/* An IDT entry, as the CPU reads it in the guest's mode: the real-mode vector table, an
 * 8-byte protected-mode gate or a 16-byte long-mode one. */
struct x86_gate {
	uint64_t handler;	/* linear: a protected-mode gate's adds its code segment's base */
	uint16_t selector;
	unsigned ist;		/* long mode: the interrupt stack the gate switches to, else 0 */
	int present;
	int in_limit;		/* the entry lies within the IDT's limit */
};

/* The gate of `vector` (read through tlb unless NULL). 0, or -EFAULT where the entry, or
 * a protected-mode gate's code segment descriptor, cannot be read. Neither the limit nor
 * the present bit is checked: they are in *g. */
int x86_idt_gate(struct machine *m, const struct kvm_sregs *s, struct x86_tlb *tlb, unsigned vector,
		 struct x86_gate *g);

#endif
