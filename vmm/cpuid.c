#include "vmm/cpuid.h"

#include <stddef.h>
#include <string.h>

/* Leaves dropped whole: XSAVE state, TSC/crystal frequency, and the KVM paravirt range. */
static int leaf_forbidden(uint32_t fn)
{
	return fn == 0xd || fn == 0x15 || fn == 0x16 || (fn >= 0x40000000 && fn <= 0x400000ff);
}

static void clear_bits(struct kvm_cpuid_entry2 *e, unsigned extra)
{
	int vtsc = extra & CPUID_EXTRA_VTSC;
	switch (e->function) {
	case 1:
		/* FMA(12), AVX(28) and F16C(29) need XSAVE-managed state */
		e->ecx &= ~(CPUID_1_ECX_X2APIC | CPUID_1_ECX_TSC_DEADLINE | CPUID_1_ECX_XSAVE |
			    CPUID_1_ECX_OSXSAVE | CPUID_1_ECX_AVX | CPUID_1_ECX_RDRAND | (1u << 12) |
			    (1u << 29));
		/* no local APIC: interrupts come from the userspace 8259A */
		e->edx &= ~(CPUID_1_EDX_APIC | (vtsc ? 0 : CPUID_1_EDX_TSC));
		break;
	case 7:
		if (e->index != 0) {
			e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		}
		e->eax = 0;	/* no further subleaves */
		/* TSC_ADJUST(1), HLE(4), AVX2(5), RTM(11), AVX-512 family(16,17,21,26-28,30,31),
		 * RDSEED(18) */
		e->ebx &= ~((1u << 1) | (1u << 4) | (1u << 5) | (1u << 11) | (1u << 16) | (1u << 17) |
			    CPUID_7_EBX_RDSEED | (1u << 21) | (7u << 26) | (3u << 30));
		/* AVX-512 VBMI etc (1,6,11,12,14), WAITPKG(5: TPAUSE reads the TSC),
		 * VAES/VPCLMULQDQ(9,10), RDPID(22); PKU/OSPKE(3,4): PKRU is XSAVE state, which
		 * KVM hands out (KVM_GET_XSAVE) only for features in the guest's leaf 0xd, gone
		 * here, yet Linux enables PKU without XSAVE and writes PKRU with no exit: a
		 * step point or snapshot would lose it (replay's forked threads differed) */
		e->ecx &= ~((1u << 1) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 9) |
			    (1u << 10) | (1u << 11) | (1u << 12) | (1u << 14) | (1u << 22));
		/* AVX-512 4VNNIW/4FMAPS(2,3), VP2INTERSECT(8), SERIALIZE ok, TSXLDTRK(16),
		 * AMX(22,24,25), AVX512_FP16(23) */
		e->edx &= ~((1u << 2) | (1u << 3) | (1u << 8) | (1u << 16) | (1u << 22) | (1u << 23) |
			    (1u << 24) | (1u << 25));
		break;
	case 0x80000001:
		e->edx &= ~CPUID_80000001_EDX_RDTSCP;
		break;
	case 0x80000007:
		if (!vtsc)
			e->edx &= ~CPUID_80000007_EDX_INVARIANT_TSC;
		break;
	default:
		break;
	}
}

void cpuid_policy_apply(struct kvm_cpuid_entry2 *entries, unsigned *n, unsigned extra)
{
	unsigned out = 0;
	for (unsigned i = 0; i < *n; i++) {
		if (leaf_forbidden(entries[i].function))
			continue;
		struct kvm_cpuid_entry2 e = entries[i];
		clear_bits(&e, extra);
		entries[out++] = e;
	}
	*n = out;
}

const struct kvm_cpuid_entry2 *cpuid_find(const struct kvm_cpuid_entry2 *entries, unsigned n,
					  uint32_t function, uint32_t index)
{
	for (unsigned i = 0; i < n; i++) {
		const struct kvm_cpuid_entry2 *e = &entries[i];
		if (e->function != function)
			continue;
		if ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e->index != index)
			continue;
		return e;
	}
	return NULL;
}
