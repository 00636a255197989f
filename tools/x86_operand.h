/*
 * Where a memory operand Capstone decoded points, from the registers at the stop before
 * its instruction: the one computation behind the addresses `detvm trace` writes and the
 * accesses gdb's rwatch and awatch catch. Callers include this instead of Capstone's
 * header and have called capstone_lib_load() (tools/capstone_lib.h).
 */
#ifndef DETVM_TOOLS_X86_OPERAND_H
#define DETVM_TOOLS_X86_OPERAND_H

#include <linux/kvm.h>
#include <stdint.h>

#include "tools/capstone_lib.h"

/* The linear address of memory operand op in CPU mode `mode` (vmm/x86.h's
 * x86_cpu_mode()); next_rip: RIP after the instruction, for RIP-relative ones. 0, or -1
 * for a register it does not know. */
int x86_operand_address(const cs_x86_op *op, const struct kvm_regs *r, const struct kvm_sregs *s, unsigned mode,
			uint64_t next_rip, uint64_t *out);

#endif
