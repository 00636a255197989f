/* Landmark stepping for the run loop (see step.c). */
#ifndef DETVM_VMM_STEP_H
#define DETVM_VMM_STEP_H

#include <stdint.h>

#include "vmm/machine.h"

/* Reads up to 16 bytes at the guest's RIP (through its page tables); how many. */
unsigned machine_fetch_insn(struct machine *m, const struct kvm_regs *r, const struct kvm_sregs *s,
			    uint8_t *buf);
/* KVM_SET_GUEST_DEBUG for all that wants stops now: a landmark search (single-step or
 * breakpoint) and the tracer (single-step). Also re-arms single-stepping, which the guest's
 * own IRET, POPF or SYSRET can clear. 0 or -errno. */
int step_debug_apply(struct machine *m);
/* 1 if this KVM_EXIT_HLT is the HLT step.c wrote at the landmark: the guest now stands on
 * the landmark's instruction, as at a breakpoint; 0 if not; -errno. */
int step_halt_hit(struct machine *m);
/* Start running towards a landmark (its memory is compared too when lm->has_mem). */
int step_arm(struct machine *m, enum step_kind kind, const struct step_landmark *lm);
/* Looking for a landmark past its deadline: prints the divergence and returns
 * DETVM_EXIT_DIVERGED; else 0. */
int step_overdue(struct machine *m);
/* After a single-step exit: 1 reached (stepping stopped), 0 not yet, else an exit code. */
int step_reached(struct machine *m);
/* Replay: loads a step point's state (lm->state set) into the machine, which then stands
 * where the recording delivered. 0, or an exit code (the error printed). */
int step_restore(struct machine *m, const struct step_landmark *lm);
/* Live host exit (a kick): 1 if the guest should get a step delivery point here (lm
 * filled), 0 if not, -errno on a KVM failure. */
int step_live_point(struct machine *m, struct step_landmark *lm);

#endif
