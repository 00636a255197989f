/*
 * Which MSRs the guest may reach through KVM. Most MSRs are guest state KVM keeps
 * (EFER, STAR, PAT, the MTRRs...) and behave deterministically. Some return the host's
 * time or hardware state on every read -- the TSC, APERF/MPERF, thermal and energy
 * status, performance counters, KVM's paravirtual clocks -- and would be inputs nothing
 * records. Those are filtered: an access exits to detvm (a guest-caused exit, so it has
 * a position and is checked on replay) and raises #GP, as on a CPU without them.
 */
#ifndef DETVM_VMM_MSR_POLICY_H
#define DETVM_VMM_MSR_POLICY_H

#include <stdint.h>

struct msr_range {
	uint32_t base;
	uint32_t count;
	const char *what;
};

extern const struct msr_range msr_policy_denied[];
extern const unsigned msr_policy_ndenied;

int msr_policy_denies(uint32_t index);

#endif
