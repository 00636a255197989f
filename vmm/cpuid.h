/*
 * The CPUID policy: what the guest is told it may use. Anything whose result depends on
 * the host's timing or entropy (TSC, TSC-deadline, RDRAND, RDSEED, RDPID/RDTSCP, TSX) or
 * on paravirtual state the VMM does not log (KVM leaves: kvmclock, steal time, PV EOI)
 * is hidden (the TSC is shown where detvm serves it: CPUID_EXTRA_VTSC), and so is XSAVE
 * with everything that needs it (AVX and up), because some hosts cannot emulate XSAVE in
 * guest ring 0 (and PKU, whose PKRU only XSAVE carries). The policy is a pure function
 * over KVM's supported-CPUID table, so it is unit-tested and recorded in traces.
 */
#ifndef DETVM_VMM_CPUID_H
#define DETVM_VMM_CPUID_H

#include <linux/kvm.h>
#include <stdint.h>

/* 3: the TSC shown where RDTSC exits to the virtual TSC (CPUID_EXTRA_VTSC) */
#define CPUID_POLICY_VERSION 3
#define CPUID_MAX_ENTRIES 256

/* What a guest may see beyond the base policy. */
enum cpuid_extra {
	CPUID_EXTRA_NONE = 0,
	/* The TSC and its invariance: only where RDTSC exits to detvm's virtual TSC (which
	 * runs at one fixed rate), so a guest's reads replay */
	CPUID_EXTRA_VTSC = 1,
};

/* Rewrites entries[0..*n) in place and drops the leaves the policy forbids. */
void cpuid_policy_apply(struct kvm_cpuid_entry2 *entries, unsigned *n, unsigned extra);
/* The entry for (function, index), or NULL. */
const struct kvm_cpuid_entry2 *cpuid_find(const struct kvm_cpuid_entry2 *entries, unsigned n,
					  uint32_t function, uint32_t index);

/* Bits the policy clears, named for tests and for `detvm doctor`. */
#define CPUID_1_ECX_X2APIC (1u << 21)
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_ECX_XSAVE (1u << 26)
#define CPUID_1_ECX_OSXSAVE (1u << 27)
#define CPUID_1_ECX_AVX (1u << 28)
#define CPUID_1_ECX_RDRAND (1u << 30)
#define CPUID_1_EDX_TSC (1u << 4)
#define CPUID_1_EDX_APIC (1u << 9)
#define CPUID_7_EBX_RDSEED (1u << 18)
#define CPUID_80000001_EDX_RDTSCP (1u << 27)
#define CPUID_80000007_EDX_INVARIANT_TSC (1u << 8)

#endif
