/*
 * vcpu_state on real KVM (a probe VM; ctest runs it through tests/kvmhost where /dev/kvm
 * is missing): what is read can be put back -- registers, x87/SSE, MSRs -- so that the
 * guest goes on from there, and a port read KVM has yet to complete cannot write over
 * the state loaded after it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

#include <cmocka.h>

#include "vmm/probe.h"
#include "vmm/vcpu_state.h"

#define MSR_LSTAR 0xc0000082u
#define MSR_KERNEL_GS_BASE 0xc0000102u

/* mov dx,PORT; 1: inc rax; out dx,eax; in eax,dx; jmp 1b */
static const uint8_t code[] = { 0x66, 0xba, PROBE_PORT, 0, 0x48, 0xff, 0xc0, 0xef, 0xed, 0xeb, 0xf9 };

static void run_to(struct probe *p, uint8_t direction)
{
	assert_int_equal(kvm_vcpu_run(&p->kvm), 0);
	const struct kvm_run *run = p->kvm.run;
	if (run->exit_reason != KVM_EXIT_IO || run->io.direction != direction)
		fail_msg("exit %u (io direction %u) at rip 0x%llx, want a port %s", run->exit_reason,
			 run->io.direction, (unsigned long long)run->s.regs.regs.rip,
			 direction == KVM_EXIT_IO_OUT ? "write" : "read");
}

static uint8_t io_byte(const struct probe *p)
{
	return *((const uint8_t *)p->kvm.run + p->kvm.run->io.data_offset);
}

static uint64_t msr(const struct vcpu_state *st, uint32_t index)
{
	for (unsigned i = 0; i < st->nmsrs; i++)
		if (st->msrs[i].index == index)
			return st->msrs[i].data;
	fail_msg("MSR 0x%x is not in the state", index);
	return 0;
}

static void set_msr(struct probe *p, uint32_t index, uint64_t value)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m = { .h.nmsrs = 1, .e = { .index = index, .data = value } };
	assert_int_equal(ioctl(p->kvm.vcpu_fd, KVM_SET_MSRS, &m), 1);
}

/* 1 where this vCPU can read the MSR (its value in *v), else 0 */
static int get_msr(struct probe *p, uint32_t index, uint64_t *v)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m = { .h.nmsrs = 1, .e.index = index };
	int r = ioctl(p->kvm.vcpu_fd, KVM_GET_MSRS, &m);
	*v = m.e.data;
	return r == 1;
}

static void test_msr_list(void **state)
{
	struct probe p;
	uint32_t idx[VCPU_STATE_MAX_MSRS];
	unsigned n = VCPU_STATE_MAX_MSRS;
	assert_int_equal(probe_make(&p, code, sizeof(code), 0), 0);
	p.kvm.run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	assert_int_equal(vcpu_state_msr_list(&p.kvm, idx, &n), 0);
	int lstar = 0, kgs = 0;
	for (unsigned i = 0; i < n; i++) {
		lstar |= idx[i] == MSR_LSTAR;
		kgs |= idx[i] == MSR_KERNEL_GS_BASE;
		/* held elsewhere, or never the guest's */
		assert_true(idx[i] != 0x10 && idx[i] != 0xc0000080 && idx[i] != 0xc0000100 && idx[i] != 0x1b);
		assert_false(idx[i] >= 0x4b564d00 && idx[i] <= 0x4b564dff);
	}
	assert_true(lstar && kgs);
	/* every feature MSR this vCPU can read is carried too (AMD's DE_CFG among them) */
	struct {
		struct kvm_msr_list h;
		uint32_t i[256];
	} fl = { .h.nmsrs = 256 };
	if (ioctl(p.kvm.sys_fd, KVM_GET_MSR_FEATURE_INDEX_LIST, &fl) == 0) {
		unsigned features = 0;
		for (unsigned f = 0; f < fl.h.nmsrs; f++) {
			uint64_t v;
			if (!get_msr(&p, fl.i[f], &v))
				continue;
			int found = 0;
			for (unsigned i = 0; i < n; i++)
				found |= idx[i] == fl.i[f];
			if (!found)
				fail_msg("feature MSR 0x%x is readable but not in the state", fl.i[f]);
			features++;
		}
		print_message("%u readable feature MSRs carried\n", features);
	}
	probe_free(&p);
}

/* Lets KVM finish the exit it reported (some hosts complete a port access on the next
 * KVM_RUN, some before they report it): the vCPU then stands after the instruction. */
static void settle(struct probe *p)
{
	p->kvm.run->immediate_exit = 1;
	assert_int_equal(kvm_vcpu_run(&p->kvm), -EINTR);
	p->kvm.run->immediate_exit = 0;
}

static void give(struct probe *p, uint8_t v)
{
	*((uint8_t *)p->kvm.run + p->kvm.run->io.data_offset) = v;
}

/* A probe VM running `code` in ring 0, registers on every exit; the MSRs to carry. */
static unsigned start(struct probe *p, uint32_t *idx)
{
	unsigned n = VCPU_STATE_MAX_MSRS;
	assert_int_equal(probe_make(p, code, sizeof(code), 0), 0);
	p->kvm.run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	assert_int_equal(vcpu_state_msr_list(&p->kvm, idx, &n), 0);
	return n;
}

static void test_round_trip(void **state)
{
	struct probe p;
	uint32_t idx[VCPU_STATE_MAX_MSRS];
	unsigned n = start(&p, idx);
	struct vcpu_state st, now;
	const char *what;
	struct kvm_fpu fpu;
	assert_int_equal(ioctl(p.kvm.vcpu_fd, KVM_GET_FPU, &fpu), 0);
	memset(fpu.xmm[3], 0xa5, 16);
	assert_int_equal(ioctl(p.kvm.vcpu_fd, KVM_SET_FPU, &fpu), 0);
	set_msr(&p, MSR_LSTAR, 0x1111);
	set_msr(&p, MSR_KERNEL_GS_BASE, 0x2222);

	run_to(&p, KVM_EXIT_IO_OUT);		/* rax 1 */
	assert_int_equal(io_byte(&p), 1);
	settle(&p);
	assert_int_equal(vcpu_state_get(&p.kvm, idx, n, &st), 0);	/* just after the OUT */
	assert_int_equal(st.regs.rax, 1);
	assert_int_equal(msr(&st, MSR_LSTAR), 0x1111);

	/* the guest goes on; the state moves away */
	run_to(&p, KVM_EXIT_IO_IN);
	give(&p, 0x41);
	run_to(&p, KVM_EXIT_IO_OUT);
	assert_int_equal(io_byte(&p), 0x42);
	settle(&p);
	memset(fpu.xmm[3], 0x5a, 16);
	assert_int_equal(ioctl(p.kvm.vcpu_fd, KVM_SET_FPU, &fpu), 0);
	set_msr(&p, MSR_LSTAR, 0x3333);
	set_msr(&p, MSR_KERNEL_GS_BASE, 0x4444);

	assert_int_equal(vcpu_state_set(&p.kvm, &st, &what), 0);
	assert_null(what);
	assert_int_equal(vcpu_state_get(&p.kvm, idx, n, &now), 0);
	assert_memory_equal(&now.regs, &st.regs, sizeof(st.regs));
	assert_int_equal(now.sregs.cr3, st.sregs.cr3);
	assert_memory_equal(now.fpu.xmm[3], st.fpu.xmm[3], 16);
	assert_int_equal(msr(&now, MSR_LSTAR), 0x1111);
	assert_int_equal(msr(&now, MSR_KERNEL_GS_BASE), 0x2222);
	assert_int_equal(now.nmsrs, st.nmsrs);
	assert_memory_equal(now.msrs, st.msrs, st.nmsrs * sizeof(st.msrs[0]));

	/* and the guest goes on from there: the IN after the first OUT */
	run_to(&p, KVM_EXIT_IO_IN);
	assert_int_equal(p.kvm.run->s.regs.regs.rax, 1);
	give(&p, 0x10);
	run_to(&p, KVM_EXIT_IO_OUT);
	assert_int_equal(io_byte(&p), 0x11);
	probe_free(&p);
}

/* A port read KVM completes on the next KVM_RUN writes EAX and moves RIP: loading a state
 * while one is pending must not let it through afterwards. */
static void test_pending_read(void **state)
{
	struct probe p;
	uint32_t idx[VCPU_STATE_MAX_MSRS];
	unsigned n = start(&p, idx);
	struct vcpu_state st, now;
	const char *what;
	run_to(&p, KVM_EXIT_IO_OUT);
	settle(&p);
	assert_int_equal(vcpu_state_get(&p.kvm, idx, n, &st), 0);	/* after the OUT, rax 1 */
	run_to(&p, KVM_EXIT_IO_IN);
	give(&p, 0x77);
	assert_int_equal(vcpu_state_set(&p.kvm, &st, &what), 0);
	assert_int_equal(vcpu_state_get(&p.kvm, idx, n, &now), 0);
	assert_int_equal(now.regs.rax, 1);
	assert_int_equal(now.regs.rip, st.regs.rip);
	run_to(&p, KVM_EXIT_IO_IN);		/* the same IN again, rax still 1 */
	assert_int_equal(p.kvm.run->s.regs.regs.rax, 1);
	give(&p, 0x20);
	run_to(&p, KVM_EXIT_IO_OUT);
	assert_int_equal(io_byte(&p), 0x21);
	probe_free(&p);
}

/*
 * The machine-check banks, which KVM does not list for saving: Linux enables every bank
 * (CTL all ones) in a stretch without exits at boot and reads the controls back, so a
 * state that lost them made a replay past a step point there take another path.
 */
static void test_mce_banks(void **state)
{
	struct probe p;
	uint32_t idx[VCPU_STATE_MAX_MSRS];
	unsigned n = start(&p, idx);
	struct vcpu_state st, now;
	const char *what;
	uint64_t cap;
	assert_true(get_msr(&p, 0x179, &cap));	/* MCG_CAP */
	unsigned banks = cap & 0xff;
	print_message("this KVM gives a vCPU %u machine-check banks\n", banks);
	assert_true(banks > 0);
	const uint32_t last_ctl = 0x400 + 4 * (banks - 1);
	set_msr(&p, 0x400, ~0ULL);
	set_msr(&p, last_ctl, ~0ULL);
	assert_int_equal(vcpu_state_get(&p.kvm, idx, n, &st), 0);
	assert_true(msr(&st, 0x400) == ~0ULL);
	assert_true(msr(&st, last_ctl) == ~0ULL);
	set_msr(&p, 0x400, 0);
	set_msr(&p, last_ctl, 0);
	assert_int_equal(vcpu_state_set(&p.kvm, &st, &what), 0);
	assert_int_equal(vcpu_state_get(&p.kvm, idx, n, &now), 0);
	assert_true(msr(&now, 0x400) == ~0ULL);
	assert_true(msr(&now, last_ctl) == ~0ULL);
	probe_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msr_list),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_pending_read),
		cmocka_unit_test(test_mce_banks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
