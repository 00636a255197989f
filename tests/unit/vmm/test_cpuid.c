#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/cpuid.h"

static unsigned host_table(struct kvm_cpuid_entry2 *e)
{
	unsigned n = 0;
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 0x16 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 1, .ecx = 0xffffffff, .edx = 0xffffffff };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 7, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
					    .eax = 1, .ebx = 0xffffffff, .ecx = 0xffffffff, .edx = 0xffffffff };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 7, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
					    .eax = 0xff };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0xd, .eax = 7 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x15, .eax = 1 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x40000000, .ebx = 0x4b4d564b };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x40000001, .eax = 0xffffffff };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x80000001, .edx = 0xffffffff };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x80000007, .edx = 0xffffffff };
	return n;
}

static void test_policy_hides_nondeterminism(void **state)
{
	struct kvm_cpuid_entry2 e[16];
	unsigned n = host_table(e);
	cpuid_policy_apply(e, &n, CPUID_EXTRA_NONE);
	const struct kvm_cpuid_entry2 *l1 = cpuid_find(e, n, 1, 0);
	assert_non_null(l1);
	assert_int_equal(l1->edx & CPUID_1_EDX_TSC, 0);
	assert_int_equal(l1->edx & CPUID_1_EDX_APIC, 0);
	assert_int_equal(l1->ecx & CPUID_1_ECX_TSC_DEADLINE, 0);
	assert_int_equal(l1->ecx & CPUID_1_ECX_RDRAND, 0);
	assert_int_equal(l1->ecx & (CPUID_1_ECX_XSAVE | CPUID_1_ECX_OSXSAVE | CPUID_1_ECX_AVX), 0);
	assert_int_not_equal(l1->edx & 1, 0);	/* FPU stays */
	assert_int_not_equal(l1->ecx & 1, 0);	/* SSE3 stays */
	const struct kvm_cpuid_entry2 *l7 = cpuid_find(e, n, 7, 0);
	assert_non_null(l7);
	assert_int_equal(l7->ebx & CPUID_7_EBX_RDSEED, 0);
	assert_int_equal(l7->ecx & (3u << 3), 0);	/* PKU, OSPKE: PKRU needs XSAVE to be carried */
	assert_int_not_equal(l7->ecx & (1u << 2), 0);	/* UMIP stays */
	assert_int_equal(l7->eax, 0);
	assert_int_equal(cpuid_find(e, n, 7, 1)->eax, 0);
	assert_int_equal(cpuid_find(e, n, 0x80000001, 0)->edx & CPUID_80000001_EDX_RDTSCP, 0);
	assert_int_equal(cpuid_find(e, n, 0x80000007, 0)->edx & CPUID_80000007_EDX_INVARIANT_TSC, 0);
}

static void test_policy_drops_leaves(void **state)
{
	struct kvm_cpuid_entry2 e[16];
	unsigned n = host_table(e), before = n;
	cpuid_policy_apply(e, &n, CPUID_EXTRA_NONE);
	assert_int_equal(n, before - 4);
	assert_null(cpuid_find(e, n, 0xd, 0));
	assert_null(cpuid_find(e, n, 0x15, 0));
	assert_null(cpuid_find(e, n, 0x40000000, 0));	/* no KVM signature: no kvmclock */
	assert_null(cpuid_find(e, n, 0x40000001, 0));
	/* idempotent: applying twice changes nothing */
	struct kvm_cpuid_entry2 again[16];
	memcpy(again, e, sizeof(e));
	unsigned m = n;
	cpuid_policy_apply(again, &m, CPUID_EXTRA_NONE);
	assert_int_equal(m, n);
	assert_memory_equal(again, e, n * sizeof(e[0]));
}

/* Only where RDTSC exits to the virtual TSC: the TSC and its invariance shown, nothing else */
static void test_policy_vtsc_shows_the_tsc(void **state)
{
	struct kvm_cpuid_entry2 plain[16], vtsc[16];
	unsigned n = host_table(plain), m = host_table(vtsc);
	cpuid_policy_apply(plain, &n, CPUID_EXTRA_NONE);
	cpuid_policy_apply(vtsc, &m, CPUID_EXTRA_VTSC);
	assert_int_equal(m, n);
	const struct kvm_cpuid_entry2 *l1 = cpuid_find(vtsc, m, 1, 0);
	assert_int_not_equal(l1->edx & CPUID_1_EDX_TSC, 0);
	assert_int_equal(l1->ecx & CPUID_1_ECX_TSC_DEADLINE, 0);	/* no local APIC timer */
	assert_int_not_equal(cpuid_find(vtsc, m, 0x80000007, 0)->edx & CPUID_80000007_EDX_INVARIANT_TSC, 0);
	/* RDTSCP also hands out TSC_AUX, and the frequency leaves stay gone */
	assert_int_equal(cpuid_find(vtsc, m, 0x80000001, 0)->edx & CPUID_80000001_EDX_RDTSCP, 0);
	assert_null(cpuid_find(vtsc, m, 0x15, 0));
	/* everything else as the base policy */
	struct kvm_cpuid_entry2 *v1 = (struct kvm_cpuid_entry2 *)l1;
	v1->edx &= ~CPUID_1_EDX_TSC;
	((struct kvm_cpuid_entry2 *)cpuid_find(vtsc, m, 0x80000007, 0))->edx &= ~CPUID_80000007_EDX_INVARIANT_TSC;
	assert_memory_equal(vtsc, plain, n * sizeof(plain[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_hides_nondeterminism),
		cmocka_unit_test(test_policy_drops_leaves),
		cmocka_unit_test(test_policy_vtsc_shows_the_tsc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
