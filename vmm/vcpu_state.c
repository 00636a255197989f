#include "vmm/vcpu_state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

/* MSRs some other part of the state holds, or that a guest under detvm never gets. */
static int msr_left_out(uint32_t i)
{
	return i == 0x10 || i == 0x3b || i == 0x6e0 ||	/* TSC, TSC_ADJUST, TSC_DEADLINE */
	       i == 0x1b ||				/* APIC base: in sregs */
	       i == 0xc0000080 || i == 0xc0000100 || i == 0xc0000101 ||	/* EFER, FS/GS base */
	       i == 0x11 || i == 0x12 ||		/* KVM's old paravirtual clock */
	       (i >= 0x4b564d00 && i <= 0x4b564dff) ||	/* KVM paravirtual MSRs */
	       (i >= 0x40000000 && i <= 0x400000ff);	/* Hyper-V's */
}

/* KVM_GET_MSRS of n entries; how many it read, or -errno. */
static int get_msrs(struct kvm_vm *k, struct kvm_msr_entry *e, unsigned n)
{
	struct kvm_msrs *m = malloc(sizeof(*m) + n * sizeof(*e));
	if (!m)
		return -ENOMEM;
	m->nmsrs = n;
	m->pad = 0;
	memcpy(m->entries, e, n * sizeof(*e));
	int r = ioctl(k->vcpu_fd, KVM_GET_MSRS, m);
	if (r > 0)
		memcpy(e, m->entries, (size_t)r * sizeof(*e));
	free(m);
	return r < 0 ? -errno : r;
}

/* Appends msr to index[] where this vCPU can read it (KVM lists some MSRs that its CPUID
 * does not allow reading): 0, or -E2BIG where the state has no room left. */
static int keep_if_readable(struct kvm_vm *k, uint32_t msr, uint32_t *index, unsigned *out, unsigned max)
{
	struct kvm_msr_entry e = { .index = msr };
	if (get_msrs(k, &e, 1) != 1)
		return 0;
	if (*out == max)
		return -E2BIG;
	index[(*out)++] = msr;
	return 0;
}

/*
 * The machine-check banks: KVM keeps them per vCPU and lets the guest write them without
 * an exit, but does not list them for saving (a VMM saves them by MCG_CAP's bank count,
 * as QEMU does). Linux writes every bank's control at boot and reads it back; a state
 * without them (a step point, a snapshot) loses those writes. Per bank: CTL, STATUS,
 * ADDR, MISC at 0x400 + 4i, and CTL2 at 0x280 + i where the vCPU has it (Intel's CMCI).
 */
#define MSR_MCG_CAP 0x179u
static int add_mce_banks(struct kvm_vm *k, uint32_t *index, unsigned *out, unsigned max)
{
	struct kvm_msr_entry cap = { .index = MSR_MCG_CAP };
	if (get_msrs(k, &cap, 1) != 1)
		return 0;
	int r = 0;
	for (uint32_t bank = 0; bank < (cap.data & 0xff) && !r; bank++) {
		for (uint32_t reg = 0; reg < 4 && !r; reg++)
			r = keep_if_readable(k, 0x400 + 4 * bank + reg, index, out, max);
		if (!r)
			r = keep_if_readable(k, 0x280 + bank, index, out, max);
	}
	return r;
}

/* KVM's list from a system ioctl (KVM_GET_MSR_INDEX_LIST or its feature twin); NULL with
 * *err where it cannot be had (-ENOTTY, -EINVAL: this KVM has no such list). */
static struct kvm_msr_list *kvm_list(struct kvm_vm *k, unsigned long req, int *err)
{
	struct kvm_msr_list probe = { .nmsrs = 0 };
	*err = 0;
	if (ioctl(k->sys_fd, req, &probe) < 0 && errno != E2BIG) {
		*err = -errno;
		return NULL;
	}
	struct kvm_msr_list *l = malloc(sizeof(*l) + probe.nmsrs * sizeof(uint32_t));
	if (!l) {
		*err = -ENOMEM;
		return NULL;
	}
	l->nmsrs = probe.nmsrs;
	if (ioctl(k->sys_fd, req, l) < 0) {
		*err = -errno;
		free(l);
		return NULL;
	}
	return l;
}

static int listed(const uint32_t *index, unsigned n, uint32_t msr)
{
	for (unsigned i = 0; i < n; i++)
		if (index[i] == msr)
			return 1;
	return 0;
}

/*
 * KVM's MSRs to save, and those it lists only as features but keeps per vCPU and lets the
 * guest write without an exit (AMD's DE_CFG: Linux sets its LFENCE bit and reads it back
 * to choose code). Writing a state back only writes MSRs whose value differs.
 */
int vcpu_state_msr_list(struct kvm_vm *k, uint32_t *index, unsigned *n)
{
	static const unsigned long lists[] = { KVM_GET_MSR_INDEX_LIST, KVM_GET_MSR_FEATURE_INDEX_LIST };
	unsigned out = 0;
	int r = 0;
	for (unsigned which = 0; which < 2 && !r; which++) {
		struct kvm_msr_list *l = kvm_list(k, lists[which], &r);
		if (!l) {
			/* an old KVM without the feature list */
			if (which == 1 && (r == -ENOTTY || r == -EINVAL))
				r = 0;
			break;
		}
		for (unsigned i = 0; i < l->nmsrs && !r; i++)
			if (!msr_left_out(l->indices[i]) && !listed(index, out, l->indices[i]))
				r = keep_if_readable(k, l->indices[i], index, &out, *n);
		free(l);
	}
	if (!r)
		r = add_mce_banks(k, index, &out, *n);
	*n = out;
	return r;
}

int vcpu_state_get(struct kvm_vm *k, const uint32_t *index, unsigned n, struct vcpu_state *st)
{
	memset(st, 0, sizeof(*st));
	if (n > VCPU_STATE_MAX_MSRS)
		return -E2BIG;
	if (ioctl(k->vcpu_fd, KVM_GET_REGS, &st->regs) < 0 || ioctl(k->vcpu_fd, KVM_GET_SREGS, &st->sregs) < 0 ||
	    ioctl(k->vcpu_fd, KVM_GET_FPU, &st->fpu) < 0 ||
	    ioctl(k->vcpu_fd, KVM_GET_VCPU_EVENTS, &st->events) < 0 ||
	    ioctl(k->vcpu_fd, KVM_GET_DEBUGREGS, &st->debugregs) < 0)
		return -errno;
	for (unsigned i = 0; i < n; i++)
		st->msrs[i].index = index[i];
	int r = get_msrs(k, st->msrs, n);
	if (r < 0)
		return r;
	if ((unsigned)r != n)
		return -EIO;
	st->nmsrs = n;
	return 0;
}

/* Only the MSRs whose value differs: KVM refuses host writes to a few MSRs it lists. */
static int set_msrs(struct kvm_vm *k, const struct vcpu_state *st)
{
	struct kvm_msr_entry now[VCPU_STATE_MAX_MSRS];
	memcpy(now, st->msrs, st->nmsrs * sizeof(now[0]));
	int r = get_msrs(k, now, st->nmsrs);
	if (r < 0)
		return r;
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[VCPU_STATE_MAX_MSRS];
	} set = { .h.nmsrs = 0 };
	for (unsigned i = 0; i < st->nmsrs; i++)
		if (i >= (unsigned)r || now[i].data != st->msrs[i].data)
			set.e[set.h.nmsrs++] = st->msrs[i];
	if (!set.h.nmsrs)
		return 0;
	r = ioctl(k->vcpu_fd, KVM_SET_MSRS, &set);
	if (r < 0)
		return -errno;
	return (unsigned)r == set.h.nmsrs ? 0 : -EINVAL;
}

int vcpu_complete_exit(struct kvm_vm *k)
{
	int r = kvm_vcpu_complete_exit(k);
	/* a single-step stop right after finishing it (a tracer stepping) is no matter here */
	if (r < 0 || (r > 0 && k->run->exit_reason != KVM_EXIT_DEBUG))
		return r > 0 ? -EPROTO : r;
	return 0;
}

int vcpu_state_set(struct kvm_vm *k, const struct vcpu_state *st, const char **what)
{
	if (st->nmsrs > VCPU_STATE_MAX_MSRS) {
		*what = "MSRs";
		return -E2BIG;
	}
	*what = "the completion of the last exit";
	int r = vcpu_complete_exit(k);
	if (r)
		return r;
	struct kvm_vcpu_events ev = st->events;
	ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
	ev.flags &= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM;
	*what = "system registers";
	if (ioctl(k->vcpu_fd, KVM_SET_SREGS, &st->sregs) < 0)
		return -errno;
	*what = "MSRs";
	if ((r = set_msrs(k, st)))
		return r;
	*what = "registers";
	if (ioctl(k->vcpu_fd, KVM_SET_REGS, &st->regs) < 0)
		return -errno;
	*what = "x87/SSE state";
	if (ioctl(k->vcpu_fd, KVM_SET_FPU, &st->fpu) < 0)
		return -errno;
	*what = "debug registers";
	if (ioctl(k->vcpu_fd, KVM_SET_DEBUGREGS, &st->debugregs) < 0)
		return -errno;
	*what = "pending events";
	if (ioctl(k->vcpu_fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	*what = NULL;
	return 0;
}
