#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <linux/kvm.h>

#include "vmm/msr_policy.h"

static void test_time_and_hardware_msrs_denied(void **state)
{
	static const uint32_t denied[] = { 0x10, 0x11, 0x12, 0x3b, 0xc1, 0xe7, 0xe8, 0x19c, 0x1b1,
					   0x309, 0x38f, 0x611, 0x639, 0x6e0, 0x771, 0x4b564d00,
					   0x4b564d01, 0x4b564dff };
	for (unsigned i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
		assert_true(msr_policy_denies(denied[i]));
}

static void test_guest_state_msrs_allowed(void **state)
{
	/* EFER, STAR, LSTAR, FS/GS base, SYSENTER, PAT, MISC_ENABLE, MTRRs, APIC base, TSC_AUX */
	static const uint32_t allowed[] = { 0xc0000080, 0xc0000081, 0xc0000082, 0xc0000100,
					    0xc0000101, 0xc0000102, 0x174, 0x175, 0x176, 0x277,
					    0x1a0, 0x200, 0x2ff, 0xfe, 0x1b, 0xc0000103, 0x48,
					    0x6e1, 0x4b564cff, 0x4b564e00, 0 };
	for (unsigned i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		assert_false(msr_policy_denies(allowed[i]));
}

static void test_fits_kvm_filter(void **state)
{
	/* kvm_vm_set_msr_policy gives each range an all-zero bitmap of at most 0x100 MSRs */
	assert_true(msr_policy_ndenied <= KVM_MSR_FILTER_MAX_RANGES);
	for (unsigned i = 0; i < msr_policy_ndenied; i++) {
		assert_true(msr_policy_denied[i].count > 0);
		assert_true(msr_policy_denied[i].count <= 0x100);
		if (i)	/* sorted and disjoint */
			assert_true(msr_policy_denied[i - 1].base + msr_policy_denied[i - 1].count <=
				    msr_policy_denied[i].base);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_and_hardware_msrs_denied),
		cmocka_unit_test(test_guest_state_msrs_allowed),
		cmocka_unit_test(test_fits_kvm_filter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
