/* The thin layer over /dev/kvm: one VM, one vCPU, no in-kernel irqchip or PIT. */
#ifndef DETVM_VMM_KVM_H
#define DETVM_VMM_KVM_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/guest_mem.h"

struct boot_setup;

/*
 * detvm's KVM change (scripts/kvm-detvm/): with this VM capability RDTSC and RDTSCP exit
 * to user space as a KVM_EXIT_X86_RDMSR of MSR 0x10 with this reason. Out of tree, so its
 * number is far from upstream's.
 */
#define KVM_CAP_X86_TSC_EXIT_DETVM 0x44545343
#define KVM_MSR_EXIT_REASON_TSC_DETVM (1 << 3)

enum tsc_exit_want {
	TSC_EXIT_AUTO,		/* where KVM has the capability */
	TSC_EXIT_OFF,		/* the guest reads the host's TSC */
	TSC_EXIT_ON,		/* or fail */
};

struct kvm_vm {
	int sys_fd;
	int vm_fd;
	int vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	unsigned nslots;
	int dirty_log;		/* slots registered with KVM_MEM_LOG_DIRTY_PAGES */
	int tsc_exit;		/* RDTSC and RDTSCP exit to detvm */
};

/* Opens /dev/kvm, creates the VM and vCPU and maps guest memory; k->tsc_exit says
 * whether RDTSC and RDTSCP exit to detvm (TSC_EXIT_ON: -ENOTSUP where KVM cannot). err
 * gets one line. */
int kvm_vm_create(struct kvm_vm *k, const struct guest_mem *mem, int dirty_log,
		  enum tsc_exit_want tsc, char *err, size_t errlen);
/* Whether this KVM (an open /dev/kvm) has KVM_CAP_X86_TSC_EXIT_DETVM. */
int kvm_has_tsc_exit(int sys_fd);
/* The same for this host's /dev/kvm, before a VM exists (0 where it cannot be opened). */
int kvm_tsc_exit_available(void);
void kvm_vm_destroy(struct kvm_vm *k);

/* Routes the MSRs vmm/msr_policy.c denies to userspace exits (KVM_EXIT_X86_RDMSR/WRMSR). */
int kvm_vm_set_msr_policy(struct kvm_vm *k);
/* KVM_GET_SUPPORTED_CPUID filtered through the CPUID policy, then KVM_SET_CPUID2. */
int kvm_vcpu_set_cpuid_policy(struct kvm_vm *k);
/* The policy's table for this host: up to *n entries into e; *n becomes the count. */
int kvm_policy_cpuid(struct kvm_vm *k, struct kvm_cpuid_entry2 *e, unsigned *n, unsigned extra);
int kvm_vcpu_set_cpuid(struct kvm_vm *k, const struct kvm_cpuid_entry2 *e, unsigned n);
/* Registers and control state for the boot protocol the loader chose. */
int kvm_vcpu_set_boot_state(struct kvm_vm *k, const struct boot_setup *b);

/* KVM_RUN; 0 after an exit, -EINTR for a host-caused return, other -errno on failure. */
int kvm_vcpu_run(struct kvm_vm *k);
/* KVM completes a PIO, MMIO or MSR exit on the next KVM_RUN, writing registers (and RIP);
 * this does that without entering the guest (immediate_exit). 0; 1 when KVM ended that
 * KVM_RUN with an exit of its own (run->exit_reason: a single-step stop after the
 * instruction); or -errno. */
int kvm_vcpu_complete_exit(struct kvm_vm *k);
int kvm_vcpu_interrupt(struct kvm_vm *k, unsigned vector);
/*
 * KVM_SET_GUEST_DEBUG: KVM_DEBUG_STEP, a KVM_EXIT_DEBUG after each instruction (the CPU's
 * TF, which an IRET or POPF of the guest clears and an interrupt gate masks: call it again
 * after each stop); KVM_DEBUG_HW_BP, a hardware instruction breakpoint at hw_bp (DR0; the
 * exit comes before it executes). 0 turns debugging off.
 */
#define KVM_DEBUG_STEP 1u
#define KVM_DEBUG_HW_BP 2u
/* KVM_DEBUG_SW_BP: an INT3 the guest executes exits (KVM_EXIT_DEBUG, exception 3, RIP on
 * the INT3) instead of reaching the guest's #BP handler. */
#define KVM_DEBUG_SW_BP 4u
int kvm_vcpu_set_debug(struct kvm_vm *k, unsigned what, uint64_t hw_bp);
/* The same with up to 4 instruction breakpoints (DR0..DR3); what: KVM_DEBUG_STEP and
 * KVM_DEBUG_SW_BP. */
int kvm_vcpu_set_debug_bps(struct kvm_vm *k, unsigned what, const uint64_t *bp, unsigned nbp);
/* What the CPU would have done for an INT3: RIP past it, then #BP (a trap). */
int kvm_vcpu_inject_breakpoint(struct kvm_vm *k);
/* 1 if an exception, interrupt or NMI is half delivered or the vCPU is in an interrupt
 * shadow (the stop is not a plain instruction boundary), 0 if not, -errno. */
int kvm_vcpu_event_pending(struct kvm_vm *k);
int kvm_vcpu_get_regs(struct kvm_vm *k, struct kvm_regs *r);
int kvm_vcpu_get_sregs(struct kvm_vm *k, struct kvm_sregs *s);
int kvm_vcpu_set_regs(struct kvm_vm *k, const struct kvm_regs *r);
/* Guest-virtual to guest-physical through the vCPU's page tables. */
int kvm_vcpu_translate(struct kvm_vm *k, struct kvm_translation *t);

#endif
