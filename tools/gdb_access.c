#include "tools/gdb_access.h"

#include "tools/gdb_target.h"
#include "tools/x86_operand.h"
#include "vmm/x86.h"

int gdb_access_next(const struct gdb_access *w, unsigned n, struct machine *m)
{
	const struct kvm_regs *r = &m->kvm.run->s.regs.regs;
	const struct kvm_sregs *s = &m->kvm.run->s.regs.sregs;
	uint8_t code[16];
	size_t len = gdb_read_memory(m, r->rip, code, sizeof(code));
	csh cs;
	cs_insn *insn = NULL;
	int hit = -1;
	if (!n || !len || x86_cpu_mode(s) != 64 || capstone_lib_load(NULL, 0) ||
	    cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return -1;	/* 64-bit code only */
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	if (cs_disasm(cs, code, len, r->rip, 1, &insn) == 1) {
		const cs_x86 *x = &insn->detail->x86;
		uint64_t next = r->rip + insn->size;
		for (unsigned i = 0; i < x->op_count && hit < 0; i++) {
			const cs_x86_op *op = &x->operands[i];
			uint64_t ea;
			if (op->type != X86_OP_MEM || x86_operand_address(op, r, s, 64, next, &ea))
				continue;
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
