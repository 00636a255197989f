/*
 * The x86 side of `detvm trace` (trace_insn.h): positions, CPU modes, where a memory
 * operand points, which registers changed. Pure functions of register state.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tools/trace_insn.h"


int trace_pos_parse(const char *s, struct trace_pos *p)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long e = strtoull(s, &end, 10), n = 0;
	if (errno)
		return -EINVAL;
	if (*end == '+') {
		const char *k = end + 1;
		if (*k < '0' || *k > '9')
			return -EINVAL;
		n = strtoull(k, &end, 10);
		if (errno)
			return -EINVAL;
	}
	if (*end)
		return -EINVAL;
	p->exit = e;
	p->step = n;
	return 0;
}

int trace_pos_cmp(const struct trace_pos *a, const struct trace_pos *b)
{
	if (a->exit != b->exit)
		return a->exit < b->exit ? -1 : 1;
	return a->step < b->step ? -1 : a->step > b->step;
}

unsigned trace_cpu_mode(const struct kvm_sregs *s)
{
	if (!(s->cr0 & CR0_PE))
		return 16;
	if ((s->efer & EFER_LMA) && s->cs.l)
		return 64;
	return s->cs.db ? 32 : 16;
}

/* Register value for an addressing register of Capstone's; its width in *bits. */
static int addr_reg(const struct kvm_regs *r, uint64_t next_rip, unsigned reg, uint64_t *v, unsigned *bits)
{
	static const struct {
		uint16_t r64, r32, r16;
		uint16_t off;
	} gprs[] = {
		{ X86_REG_RAX, X86_REG_EAX, X86_REG_AX, offsetof(struct kvm_regs, rax) },
		{ X86_REG_RBX, X86_REG_EBX, X86_REG_BX, offsetof(struct kvm_regs, rbx) },
		{ X86_REG_RCX, X86_REG_ECX, X86_REG_CX, offsetof(struct kvm_regs, rcx) },
		{ X86_REG_RDX, X86_REG_EDX, X86_REG_DX, offsetof(struct kvm_regs, rdx) },
		{ X86_REG_RSI, X86_REG_ESI, X86_REG_SI, offsetof(struct kvm_regs, rsi) },
		{ X86_REG_RDI, X86_REG_EDI, X86_REG_DI, offsetof(struct kvm_regs, rdi) },
		{ X86_REG_RSP, X86_REG_ESP, X86_REG_SP, offsetof(struct kvm_regs, rsp) },
		{ X86_REG_RBP, X86_REG_EBP, X86_REG_BP, offsetof(struct kvm_regs, rbp) },
		{ X86_REG_R8, X86_REG_R8D, X86_REG_R8W, offsetof(struct kvm_regs, r8) },
		{ X86_REG_R9, X86_REG_R9D, X86_REG_R9W, offsetof(struct kvm_regs, r9) },
		{ X86_REG_R10, X86_REG_R10D, X86_REG_R10W, offsetof(struct kvm_regs, r10) },
		{ X86_REG_R11, X86_REG_R11D, X86_REG_R11W, offsetof(struct kvm_regs, r11) },
		{ X86_REG_R12, X86_REG_R12D, X86_REG_R12W, offsetof(struct kvm_regs, r12) },
		{ X86_REG_R13, X86_REG_R13D, X86_REG_R13W, offsetof(struct kvm_regs, r13) },
		{ X86_REG_R14, X86_REG_R14D, X86_REG_R14W, offsetof(struct kvm_regs, r14) },
		{ X86_REG_R15, X86_REG_R15D, X86_REG_R15W, offsetof(struct kvm_regs, r15) },
	};
	if (reg == X86_REG_RIP || reg == X86_REG_EIP || reg == X86_REG_IP) {
		*v = next_rip;
		*bits = reg == X86_REG_RIP ? 64 : reg == X86_REG_EIP ? 32 : 16;
		return 0;
	}
	for (unsigned i = 0; i < sizeof(gprs) / sizeof(gprs[0]); i++) {
		unsigned b = reg == gprs[i].r64 ? 64 : reg == gprs[i].r32 ? 32 : reg == gprs[i].r16 ? 16 : 0;
		if (b) {
			memcpy(v, (const uint8_t *)r + gprs[i].off, 8);
			*bits = b;
			return 0;
		}
	}
	return -1;
}

static uint64_t seg_base(const struct kvm_sregs *s, unsigned seg)
{
	switch (seg) {
	case X86_REG_ES: return s->es.base;
	case X86_REG_CS: return s->cs.base;
	case X86_REG_SS: return s->ss.base;
	case X86_REG_FS: return s->fs.base;
	case X86_REG_GS: return s->gs.base;
	default: return s->ds.base;
	}
}

static uint64_t width_mask(unsigned bits)
{
	return bits >= 64 ? ~0ULL : (1ULL << bits) - 1;
}

/* The linear address of a memory operand, as the CPU computes it at this stop. */
int trace_operand_address(const cs_x86_op *op, const struct kvm_regs *r, const struct kvm_sregs *s,
			   unsigned mode, uint64_t next_rip, uint64_t *out)
{
	uint64_t ea = (uint64_t)op->mem.disp, v;
	unsigned bits = mode, b;
	if (op->mem.base != X86_REG_INVALID) {
		if (addr_reg(r, next_rip, op->mem.base, &v, &b))
			return -1;
		ea += v & width_mask(b);
		bits = b;
	}
	if (op->mem.index != X86_REG_INVALID) {
		if (addr_reg(r, next_rip, op->mem.index, &v, &b))
			return -1;
		ea += (v & width_mask(b)) * (uint64_t)op->mem.scale;
		bits = b;
	}
	ea &= width_mask(bits);
	unsigned seg = op->mem.segment;
	if (seg == X86_REG_INVALID)
		seg = op->mem.base == X86_REG_RSP || op->mem.base == X86_REG_ESP || op->mem.base == X86_REG_SP ||
		      op->mem.base == X86_REG_RBP || op->mem.base == X86_REG_EBP || op->mem.base == X86_REG_BP
			      ? X86_REG_SS : X86_REG_DS;
	/* long mode bases only FS and GS */
	if (mode != 64 || seg == X86_REG_FS || seg == X86_REG_GS)
		ea += seg_base(s, seg);
	*out = mode == 64 ? ea : ea & 0xffffffffULL;
	return 0;
}

/* The registers --regs compares, in the order they are written. */
static const struct {
	const char *name;
	uint8_t sregs;		/* in kvm_sregs, else kvm_regs */
	uint8_t size;
	uint16_t off;
} reg_table[TRACE_NREGS] = {
#define R(n) { #n, 0, 8, offsetof(struct kvm_regs, n) }
	R(rax), R(rbx), R(rcx), R(rdx), R(rsi), R(rdi), R(rsp), R(rbp), R(r8), R(r9), R(r10), R(r11),
	R(r12), R(r13), R(r14), R(r15), R(rflags),
#undef R
#define S(n, f, sz) { n, 1, sz, offsetof(struct kvm_sregs, f) }
	S("cs", cs.selector, 2), S("ss", ss.selector, 2), S("ds", ds.selector, 2), S("es", es.selector, 2),
	S("fs", fs.selector, 2), S("gs", gs.selector, 2), S("fs_base", fs.base, 8), S("gs_base", gs.base, 8),
	S("cr0", cr0, 8), S("cr2", cr2, 8), S("cr3", cr3, 8), S("cr4", cr4, 8), S("efer", efer, 8),
#undef S
};

static uint64_t reg_get(const struct kvm_regs *r, const struct kvm_sregs *s, unsigned i)
{
	uint64_t v = 0;
	memcpy(&v, (const uint8_t *)(reg_table[i].sregs ? (const void *)s : (const void *)r) + reg_table[i].off,
	       reg_table[i].size);
	/* single-stepping sets these: not the guest's doing */
	return i == 16 ? v & ~(RFLAGS_TF | RFLAGS_RF) : v;
}

void trace_changed_regs(struct trace_record *rec, const struct kvm_regs *r, const struct kvm_sregs *s,
			const struct kvm_regs *last_r, const struct kvm_sregs *last_s)
{
	for (unsigned i = 0; i < TRACE_NREGS; i++) {
		uint64_t v = reg_get(r, s, i);
		if (last_r && v == reg_get(last_r, last_s, i))
			continue;
		rec->reg_name[rec->nregs] = reg_table[i].name;
		rec->reg_value[rec->nregs++] = v;
	}
}
