#include "tools/gdb_access.h"

#include "tools/capstone_lib.h"

#include "tools/gdb_target.h"

/* A general register's value as an address part (64- and 32-bit names). */
static int reg_value(const struct kvm_regs *r, x86_reg reg, uint64_t next_rip, uint64_t *v)
{
	static const struct {
		x86_reg r64, r32;
		size_t off;
	} gprs[] = {
		{ X86_REG_RAX, X86_REG_EAX, offsetof(struct kvm_regs, rax) },
		{ X86_REG_RBX, X86_REG_EBX, offsetof(struct kvm_regs, rbx) },
		{ X86_REG_RCX, X86_REG_ECX, offsetof(struct kvm_regs, rcx) },
		{ X86_REG_RDX, X86_REG_EDX, offsetof(struct kvm_regs, rdx) },
		{ X86_REG_RSI, X86_REG_ESI, offsetof(struct kvm_regs, rsi) },
		{ X86_REG_RDI, X86_REG_EDI, offsetof(struct kvm_regs, rdi) },
		{ X86_REG_RSP, X86_REG_ESP, offsetof(struct kvm_regs, rsp) },
		{ X86_REG_RBP, X86_REG_EBP, offsetof(struct kvm_regs, rbp) },
		{ X86_REG_R8, X86_REG_R8D, offsetof(struct kvm_regs, r8) },
		{ X86_REG_R9, X86_REG_R9D, offsetof(struct kvm_regs, r9) },
		{ X86_REG_R10, X86_REG_R10D, offsetof(struct kvm_regs, r10) },
		{ X86_REG_R11, X86_REG_R11D, offsetof(struct kvm_regs, r11) },
		{ X86_REG_R12, X86_REG_R12D, offsetof(struct kvm_regs, r12) },
		{ X86_REG_R13, X86_REG_R13D, offsetof(struct kvm_regs, r13) },
		{ X86_REG_R14, X86_REG_R14D, offsetof(struct kvm_regs, r14) },
		{ X86_REG_R15, X86_REG_R15D, offsetof(struct kvm_regs, r15) },
	};
	if (reg == X86_REG_INVALID) {
		*v = 0;
		return 0;
	}
	if (reg == X86_REG_RIP || reg == X86_REG_EIP) {
		*v = next_rip;
		return 0;
	}
	for (size_t i = 0; i < sizeof(gprs) / sizeof(gprs[0]); i++)
		if (reg == gprs[i].r64 || reg == gprs[i].r32) {
			uint64_t x = *(const uint64_t *)((const uint8_t *)r + gprs[i].off);
			*v = reg == gprs[i].r32 ? (uint32_t)x : x;
			return 0;
		}
	return -1;
}

static uint64_t segment_base(const struct kvm_sregs *s, x86_reg seg)
{
	if (seg == X86_REG_FS)
		return s->fs.base;
	if (seg == X86_REG_GS)
		return s->gs.base;
	return 0;	/* long mode: the others are flat */
}

int gdb_access_next(const struct gdb_access *w, unsigned n, struct machine *m)
{
	const struct kvm_regs *r = &m->kvm.run->s.regs.regs;
	const struct kvm_sregs *s = &m->kvm.run->s.regs.sregs;
	uint8_t code[16];
	size_t len = gdb_read_memory(m, r->rip, code, sizeof(code));
	csh cs;
	cs_insn *insn = NULL;
	int hit = -1;
	if (!n || !len || !(s->efer & 0x400) || !s->cs.l || capstone_lib_load(NULL, 0) || cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return -1;	/* long mode only */
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	if (cs_disasm(cs, code, len, r->rip, 1, &insn) == 1) {
		const cs_x86 *x = &insn->detail->x86;
		uint64_t next = r->rip + insn->size;
		for (unsigned i = 0; i < x->op_count && hit < 0; i++) {
			const cs_x86_op *op = &x->operands[i];
			uint64_t base, index;
			if (op->type != X86_OP_MEM || reg_value(r, op->mem.base, next, &base) ||
			    reg_value(r, op->mem.index, next, &index))
				continue;
			uint64_t ea = segment_base(s, op->mem.segment) + base + index * (uint64_t)op->mem.scale +
				      (uint64_t)op->mem.disp;
			unsigned kinds = (op->access & CS_AC_READ ? GDB_ACCESS_READ : 0) |
					 (op->access & CS_AC_WRITE ? GDB_ACCESS_WRITE : 0);
			for (unsigned k = 0; k < n && hit < 0; k++)
				if ((kinds & w[k].kinds) && ea < w[k].addr + w[k].len && w[k].addr < ea + op->size)
					hit = (int)k;
		}
		cs_free(insn, 1);
	}
	cs_close(&cs);
	return hit;
}
