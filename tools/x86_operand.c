#include "tools/x86_operand.h"

#include <stddef.h>
#include <string.h>

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

int x86_operand_address(const cs_x86_op *op, const struct kvm_regs *r, const struct kvm_sregs *s, unsigned mode,
			uint64_t next_rip, uint64_t *out)
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
