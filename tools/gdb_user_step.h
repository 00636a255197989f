/*
 * Single-stepping guest ring 3 where KVM cannot (this host: the trap of a ring-3 step is
 * delivered to the guest's own #DB handler instead of exiting; `detvm doctor` says
 * single-step-ring3 MISSING) but ring-0 hardware breakpoints work: let that #DB happen,
 * stop on the first instruction of the guest's handler with a hardware breakpoint, and
 * undo the delivery (the frame the CPU pushed, the registers it loaded). What remains is
 * the ring-3 instruction executed, as one step. An instruction that enters ring 0 itself
 * (a system call by INT or #UD) stops as a ring-0 step: by the hardware breakpoint on the
 * INT 0x80 gate's handler, or by KVM's own step where it re-injects an exception.
 */
#ifndef DETVM_TOOLS_GDB_USER_STEP_H
#define DETVM_TOOLS_GDB_USER_STEP_H

#include <linux/kvm.h>
#include <stdint.h>

#include "vmm/machine.h"

struct user_step {
	int armed;			/* the entry now in progress steps ring 3 so */
	uint64_t db_handler;		/* the guest's #DB handler: where the step stops */
	uint64_t frame;			/* where the CPU pushes the #DB frame */
	uint8_t saved[40];		/* what the frame overwrites */
	struct kvm_debugregs dregs;
};

/* Arms a ring-3 step for the next entry (the vCPU is in ring 3). 0, or -errno where the
 * guest's IDT or TSS cannot be read (then ring 3 runs unstepped). */
int user_step_arm(struct user_step *u, struct machine *m);
/* At a single-step or breakpoint stop of an armed entry: where the stop is the guest's
 * #DB handler, the delivery is undone and the vCPU stands after the ring-3 instruction.
 * 0, or -errno. */
int user_step_finish(struct user_step *u, struct machine *m);

/* The handler of IDT vector v of a long-mode guest: 0, or -EFAULT (not long mode, beyond
 * the IDT, not present). */
int user_step_idt_handler(struct machine *m, unsigned v, uint64_t *handler);

/* Does what the IRETQ at RIP into ring 3 would: that step needs no entry (the trap after
 * an IRET into ring 3 never comes here). 0, or -errno. */
int user_step_iret(struct machine *m);

#endif
