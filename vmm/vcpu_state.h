/*
 * A vCPU's whole architectural state as KVM hands it out, to be put back later on the
 * same or another VM of the same machine: general and system registers, x87/SSE, pending
 * events (interrupt shadow, NMI state), debug registers and the MSRs KVM keeps for the
 * guest. Replay loads it at a `step` delivery point instead of running there; snapshots
 * and the fault-tolerant backup build on it.
 */
#ifndef DETVM_VMM_VCPU_STATE_H
#define DETVM_VMM_VCPU_STATE_H

#include <linux/kvm.h>
#include <stdint.h>

#include "vmm/kvm.h"

#define VCPU_STATE_MAX_MSRS 512

struct vcpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_vcpu_events events;
	struct kvm_debugregs debugregs;
	unsigned nmsrs;
	struct kvm_msr_entry msrs[VCPU_STATE_MAX_MSRS];
};

/* The MSRs a vcpu_state carries on this host: those KVM lists for saving, that it can
 * read, and that no other part of the state holds, plus the machine-check banks (KVM
 * keeps them but does not list them); the time stamp counter and KVM's paravirtual MSRs
 * are left out (guests under detvm do not get them). 0, or -errno (-E2BIG: more than
 * VCPU_STATE_MAX_MSRS, *n of them). */
int vcpu_state_msr_list(struct kvm_vm *k, uint32_t *index, unsigned *n);

/* Reads the state (msrs: the indexes in index[0..n)); 0 or -errno. */
int vcpu_state_get(struct kvm_vm *k, const uint32_t *index, unsigned n, struct vcpu_state *st);
/* KVM completes a PIO, MMIO or MSR exit on the next KVM_RUN, writing registers (an IN's
 * value into RAX): this has it done now, without entering the guest, so that what
 * vcpu_state_get() reads is the state after the exit. 0 or -errno. */
int vcpu_complete_exit(struct kvm_vm *k);
/*
 * Loads the state, system registers first (they decide the mode), events last. An exit
 * whose I/O KVM completes on the next KVM_RUN is completed first, so it cannot write
 * over what is loaded. 0, or -errno with *what naming the part KVM refused.
 */
int vcpu_state_set(struct kvm_vm *k, const struct vcpu_state *st, const char **what);

#endif
