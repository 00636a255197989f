#include "vmm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/boot.h"
#include "vmm/cpuid.h"
#include "vmm/msr_policy.h"
#include "vmm/x86.h"

/* Below 4 GiB, above the MMIO devices; VMX needs them when the guest is not unrestricted. */
#define KVM_TSS_GPA 0xfffbd000ULL
#define KVM_IDENTITY_MAP_GPA 0xfffbc000ULL

static int fail(char *err, size_t errlen, int e, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, strerror(e));
	return -e;
}

int kvm_has_tsc_exit(int sys_fd)
{
	return ioctl(sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_TSC_EXIT_DETVM) > 0;
}

int kvm_tsc_exit_available(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int have = kvm_has_tsc_exit(fd);
	close(fd);
	return have;
}

int kvm_vm_create(struct kvm_vm *k, const struct guest_mem *mem, int dirty_log,
		  enum tsc_exit_want tsc, char *err, size_t errlen)
{
	memset(k, 0, sizeof(*k));
	k->sys_fd = k->vm_fd = k->vcpu_fd = -1;
	k->sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (k->sys_fd < 0)
		return fail(err, errlen, errno, "cannot open /dev/kvm");
	int v = ioctl(k->sys_fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		snprintf(err, errlen, "KVM API version %d, detvm needs %d", v, KVM_API_VERSION);
		kvm_vm_destroy(k);
		return -ENOTSUP;
	}
	int r;
	k->vm_fd = ioctl(k->sys_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0) {
		r = fail(err, errlen, errno, "KVM_CREATE_VM");
		goto err_out;
	}
	/* Optional on hosts with unrestricted guests; failures here are harmless. */
	ioctl(k->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_GPA);
	uint64_t idmap = KVM_IDENTITY_MAP_GPA;
	ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);

	for (unsigned i = 0; i < mem->nslots; i++) {
		struct kvm_userspace_memory_region reg = {
			.slot = i,
			.flags = dirty_log ? KVM_MEM_LOG_DIRTY_PAGES : 0,
			.guest_phys_addr = mem->slots[i].gpa,
			.memory_size = mem->slots[i].size,
			.userspace_addr = (uintptr_t)mem->slots[i].host,
		};
		if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &reg) < 0) {
			r = fail(err, errlen, errno, "KVM_SET_USER_MEMORY_REGION");
			goto err_out;
		}
	}
	k->nslots = mem->nslots;
	k->dirty_log = dirty_log;
	int have = kvm_has_tsc_exit(k->sys_fd);
	if (tsc == TSC_EXIT_ON || (tsc == TSC_EXIT_AUTO && have)) {
		/* before the vCPU: it takes its RDTSC intercepts when it is created */
		struct kvm_enable_cap cap = { .cap = KVM_CAP_X86_TSC_EXIT_DETVM, .args = { 1 } };
		if (!have) {
			snprintf(err, errlen, "this KVM does not let detvm see RDTSC (no "
				 "KVM_CAP_X86_TSC_EXIT_DETVM; see scripts/kvm-detvm)");
			r = -ENOTSUP;
			goto err_out;
		}
		if (ioctl(k->vm_fd, KVM_ENABLE_CAP, &cap) < 0) {
			r = fail(err, errlen, errno, "KVM_ENABLE_CAP(KVM_CAP_X86_TSC_EXIT_DETVM)");
			goto err_out;
		}
		k->tsc_exit = 1;
	}

	k->vcpu_fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, 0);
	if (k->vcpu_fd < 0) {
		r = fail(err, errlen, errno, "KVM_CREATE_VCPU");
		goto err_out;
	}
	int sz = ioctl(k->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz < (int)sizeof(struct kvm_run)) {
		r = fail(err, errlen, sz < 0 ? errno : EINVAL, "KVM_GET_VCPU_MMAP_SIZE");
		goto err_out;
	}
	k->run = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, k->vcpu_fd, 0);
	if (k->run == MAP_FAILED) {
		k->run = NULL;
		r = fail(err, errlen, errno, "mmap of kvm_run");
		goto err_out;
	}
	k->run_size = sz;
	return 0;

err_out:
	kvm_vm_destroy(k);
	return r;
}

void kvm_vm_destroy(struct kvm_vm *k)
{
	if (k->run)
		munmap(k->run, k->run_size);
	if (k->vcpu_fd >= 0)
		close(k->vcpu_fd);
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->sys_fd >= 0)
		close(k->sys_fd);
	k->run = NULL;
	k->sys_fd = k->vm_fd = k->vcpu_fd = -1;
}

int kvm_policy_cpuid(struct kvm_vm *k, struct kvm_cpuid_entry2 *e, unsigned *n, unsigned extra)
{
	size_t sz = sizeof(struct kvm_cpuid2) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, sz);
	if (!c)
		return -ENOMEM;
	c->nent = CPUID_MAX_ENTRIES;
	int r = 0;
	if (ioctl(k->sys_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		r = -errno;
		goto out;
	}
	cpuid_policy_apply(c->entries, &c->nent, extra);
	if (c->nent > *n) {
		r = -E2BIG;
		goto out;
	}
	memcpy(e, c->entries, c->nent * sizeof(*e));
	*n = c->nent;
out:
	free(c);
	return r;
}

int kvm_vcpu_set_cpuid(struct kvm_vm *k, const struct kvm_cpuid_entry2 *e, unsigned n)
{
	if (n > CPUID_MAX_ENTRIES)
		return -E2BIG;
	size_t sz = sizeof(struct kvm_cpuid2) + n * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, sz);
	if (!c)
		return -ENOMEM;
	c->nent = n;
	memcpy(c->entries, e, n * sizeof(*e));
	int r = ioctl(k->vcpu_fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	free(c);
	return r;
}

int kvm_vcpu_set_cpuid_policy(struct kvm_vm *k)
{
	struct kvm_cpuid_entry2 e[CPUID_MAX_ENTRIES];
	unsigned n = CPUID_MAX_ENTRIES;
	int r = kvm_policy_cpuid(k, e, &n, CPUID_EXTRA_NONE);
	return r ? r : kvm_vcpu_set_cpuid(k, e, n);
}

static struct kvm_segment flat_segment(uint16_t selector, int code, int long_mode)
{
	struct kvm_segment s = {
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = code ? 0xb : 0x3,	/* execute/read or read/write, accessed */
		.present = 1,
		.dpl = 0,
		.db = long_mode && code ? 0 : 1,
		.s = 1,
		.l = long_mode && code,
		.g = 1,
	};
	return s;
}

int kvm_vcpu_set_boot_state(struct kvm_vm *k, const struct boot_setup *b)
{
	struct kvm_sregs s;
	if (ioctl(k->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	int lm = b->mode == BOOT_MODE_LINUX64;
	s.cs = flat_segment(BOOT_SEL_CODE, 1, lm);
	s.ds = s.es = s.fs = s.gs = s.ss = flat_segment(BOOT_SEL_DATA, 0, lm);
	s.gdt.base = b->gdt_gpa;
	s.gdt.limit = b->gdt_limit;
	s.idt.base = 0;
	s.idt.limit = 0;
	/* VM entry wants a busy TSS in TR; the loader wrote one, the guest will load its own */
	s.tr = (struct kvm_segment){ .base = BOOT_TSS_GPA, .limit = BOOT_TSS_SIZE - 1,
				     .selector = BOOT_SEL_TSS, .type = 11, .present = 1 };
	s.ldt = (struct kvm_segment){ .unusable = 1 };
	if (lm) {
		s.cr3 = b->cr3;
		s.cr4 = 1u << 5;			/* PAE */
		s.cr0 = X86_CR0_PG | X86_CR0_ET | X86_CR0_PE | X86_CR0_NE;
		s.efer = 0x500;				/* LME | LMA */
	} else {
		s.cr0 = 0x11;				/* PE, ET: 32-bit protected, no paging */
		s.cr3 = 0;
		s.cr4 = 0;
		s.efer = 0;
	}
	if (ioctl(k->vcpu_fd, KVM_SET_SREGS, &s) < 0)
		return -errno;

	struct kvm_regs r = { .rip = b->entry, .rflags = 0x2 };
	if (lm)
		r.rsi = b->arg;
	else
		r.rbx = b->arg;
	if (ioctl(k->vcpu_fd, KVM_SET_REGS, &r) < 0)
		return -errno;
	return 0;
}

int kvm_vcpu_run(struct kvm_vm *k)
{
	if (ioctl(k->vcpu_fd, KVM_RUN, 0) < 0)
		return -errno;
	return 0;
}

int kvm_vcpu_complete_exit(struct kvm_vm *k)
{
	k->run->immediate_exit = 1;
	int r = ioctl(k->vcpu_fd, KVM_RUN, 0);
	k->run->immediate_exit = 0;
	if (r == 0)
		return 1;
	return errno == EINTR ? 0 : -errno;
}

int kvm_vcpu_set_regs(struct kvm_vm *k, const struct kvm_regs *r)
{
	return ioctl(k->vcpu_fd, KVM_SET_REGS, r) < 0 ? -errno : 0;
}

int kvm_vcpu_interrupt(struct kvm_vm *k, unsigned vector)
{
	struct kvm_interrupt irq = { .irq = vector };
	return ioctl(k->vcpu_fd, KVM_INTERRUPT, &irq) < 0 ? -errno : 0;
}

int kvm_vcpu_inject_breakpoint(struct kvm_vm *k)
{
	struct kvm_regs r;
	if (ioctl(k->vcpu_fd, KVM_GET_REGS, &r) < 0)
		return -errno;
	r.rip += 1;
	if (ioctl(k->vcpu_fd, KVM_SET_REGS, &r) < 0)
		return -errno;
	struct kvm_vcpu_events ev;
	if (ioctl(k->vcpu_fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	ev.exception.injected = 1;
	ev.exception.nr = 3;
	ev.exception.has_error_code = 0;
	ev.flags = 0;
	return ioctl(k->vcpu_fd, KVM_SET_VCPU_EVENTS, &ev) < 0 ? -errno : 0;
}

int kvm_vcpu_get_regs(struct kvm_vm *k, struct kvm_regs *r)
{
	return ioctl(k->vcpu_fd, KVM_GET_REGS, r) < 0 ? -errno : 0;
}

int kvm_vcpu_get_sregs(struct kvm_vm *k, struct kvm_sregs *s)
{
	return ioctl(k->vcpu_fd, KVM_GET_SREGS, s) < 0 ? -errno : 0;
}

int kvm_vcpu_translate(struct kvm_vm *k, struct kvm_translation *t)
{
	return ioctl(k->vcpu_fd, KVM_TRANSLATE, t) < 0 ? -errno : 0;
}

int kvm_vcpu_set_debug(struct kvm_vm *k, unsigned what, uint64_t hw_bp)
{
	return kvm_vcpu_set_debug_bps(k, what & ~KVM_DEBUG_HW_BP, &hw_bp, what & KVM_DEBUG_HW_BP ? 1 : 0);
}

int kvm_vcpu_set_debug_bps(struct kvm_vm *k, unsigned what, const uint64_t *bp, unsigned nbp)
{
	struct kvm_guest_debug d = { .control = what || nbp ? KVM_GUESTDBG_ENABLE : 0 };
	if (what & KVM_DEBUG_STEP)
		d.control |= KVM_GUESTDBG_SINGLESTEP;
	if (what & KVM_DEBUG_SW_BP)
		d.control |= KVM_GUESTDBG_USE_SW_BP;
	if (nbp > 4)
		return -EINVAL;
	for (unsigned i = 0; i < nbp; i++) {
		/* DRi = bp[i]; DR7: Li set, R/Wi = 00 (instruction fetch), LENi = 00 */
		d.control |= KVM_GUESTDBG_USE_HW_BP;
		d.arch.debugreg[i] = bp[i];
		d.arch.debugreg[7] |= X86_DR7_L(i);
	}
	return ioctl(k->vcpu_fd, KVM_SET_GUEST_DEBUG, &d) < 0 ? -errno : 0;
}

int kvm_vcpu_event_pending(struct kvm_vm *k)
{
	struct kvm_vcpu_events e;
	if (ioctl(k->vcpu_fd, KVM_GET_VCPU_EVENTS, &e) < 0)
		return -errno;
	return e.exception.injected || e.exception.pending || e.interrupt.injected ||
	       e.nmi.injected || e.nmi.pending || e.interrupt.shadow;
}

int kvm_vm_set_msr_policy(struct kvm_vm *k)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_X86_USER_SPACE_MSR,
				      .args = { KVM_MSR_EXIT_REASON_FILTER } };
	if (ioctl(k->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		return -errno;
	/* an all-zero bitmap denies every MSR of its range; the rest stay KVM's */
	static uint8_t none[0x100 / 8];
	struct kvm_msr_filter f = { .flags = KVM_MSR_FILTER_DEFAULT_ALLOW };
	if (msr_policy_ndenied > KVM_MSR_FILTER_MAX_RANGES)
		return -E2BIG;
	for (unsigned i = 0; i < msr_policy_ndenied; i++)
		f.ranges[i] = (struct kvm_msr_filter_range){
			.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
			.nmsrs = msr_policy_denied[i].count,
			.base = msr_policy_denied[i].base,
			.bitmap = none,
		};
	return ioctl(k->vm_fd, KVM_X86_SET_MSR_FILTER, &f) < 0 ? -errno : 0;
}
