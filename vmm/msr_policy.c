#include "vmm/msr_policy.h"

const struct msr_range msr_policy_denied[] = {
	{ 0x10, 3, "TSC and KVM's first paravirtual clock MSRs" },
	{ 0x3b, 1, "TSC_ADJUST" },
	{ 0xc1, 8, "performance counters PMC0-7" },
	{ 0xe7, 2, "MPERF and APERF" },
	{ 0x186, 10, "performance event selectors" },
	{ 0x198, 2, "PERF_STATUS and PERF_CTL" },
	{ 0x19c, 1, "THERM_STATUS" },
	{ 0x1b1, 1, "PACKAGE_THERM_STATUS" },
	{ 0x309, 3, "fixed-function performance counters" },
	{ 0x38d, 4, "global performance counter control" },
	{ 0x606, 0x6e1 - 0x606, "RAPL energy and power, and TSC_DEADLINE" },
	{ 0x770, 8, "hardware P-state (HWP) status" },
	{ 0x4b564d00, 0x100, "KVM paravirtual MSRs (kvmclock, steal time, PV EOI)" },
};
const unsigned msr_policy_ndenied = sizeof(msr_policy_denied) / sizeof(msr_policy_denied[0]);

int msr_policy_denies(uint32_t index)
{
	for (unsigned i = 0; i < msr_policy_ndenied; i++)
		if (index - msr_policy_denied[i].base < msr_policy_denied[i].count)
			return 1;
	return 0;
}
