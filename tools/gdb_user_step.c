#include "tools/gdb_user_step.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "tools/gdb_target.h"
#include "vmm/x86.h"

#define VEC_SYSCALL 0x80	/* the INT gate a guest may use for system calls */

/* The handler of long-mode IDT vector v and its IST index; 0, or -EFAULT. */
static int gate(struct machine *m, const struct kvm_sregs *s, unsigned v, uint64_t *handler, unsigned *ist)
{
	struct x86_gate g;
	if (x86_idt_gate(m, s, NULL, v, &g) || !g.in_limit || !g.present)
		return -EFAULT;
	*handler = g.handler;
	*ist = g.ist;
	return 0;
}

int user_step_idt_handler(struct machine *m, unsigned v, uint64_t *handler)
{
	const struct kvm_sregs *s = &m->kvm.run->s.regs.sregs;
	unsigned ist;
	if (!(s->efer & X86_EFER_LMA))
		return -EFAULT;	/* long mode only */
	return gate(m, s, v, handler, &ist);
}

/* The segment register a ring-3 selector loads, from the guest's GDT. 0, or -EFAULT. */
static int segment(struct machine *m, const struct kvm_sregs *s, uint64_t sel, struct kvm_segment *seg)
{
	uint8_t d[8];
	if ((sel & 4) || (sel | 7) > s->gdt.limit || gdb_read_memory(m, s->gdt.base + (sel & ~7ULL), d, 8) != 8)
		return -EFAULT;
	x86_segment_from_descriptor(d, (uint16_t)sel, seg);
	return seg->present ? 0 : -EFAULT;
}

int user_step_arm(struct user_step *u, struct machine *m)
{
	const struct kvm_sregs *s = &m->kvm.run->s.regs.sregs;
	uint64_t top, sys_handler = 0;
	unsigned ist, sys_ist;
	u->armed = 0;
	if (!(s->efer & X86_EFER_LMA) || gate(m, s, X86_VEC_DB, &u->db_handler, &ist))
		return -EFAULT;	/* long mode only */
	/* the #DB frame goes on the gate's IST stack, else on the TSS's ring-0 stack */
	uint64_t at = s->tr.base + (ist ? X86_TSS64_IST(ist) : X86_TSS64_RSP0);
	if (gdb_read_memory(m, at, (uint8_t *)&top, 8) != 8)
		return -EFAULT;
	u->frame = (top & ~15ULL) - sizeof(u->saved);
	if (gdb_read_memory(m, u->frame, u->saved, sizeof(u->saved)) != sizeof(u->saved))
		return -EFAULT;
	if (ioctl(m->kvm.vcpu_fd, KVM_GET_DEBUGREGS, &u->dregs) < 0)
		return -errno;
	struct kvm_guest_debug d = { .control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP |
						KVM_GUESTDBG_USE_HW_BP };
	d.arch.debugreg[0] = u->db_handler;
	d.arch.debugreg[7] = X86_DR7_L(0);
	if (!gate(m, s, VEC_SYSCALL, &sys_handler, &sys_ist) && sys_handler != u->db_handler) {
		d.arch.debugreg[1] = sys_handler;
		d.arch.debugreg[7] |= X86_DR7_L(1);
	}
	if (ioctl(m->kvm.vcpu_fd, KVM_SET_GUEST_DEBUG, &d) < 0)
		return -errno;
	u->armed = 1;
	return 0;
}

int user_step_finish(struct user_step *u, struct machine *m)
{
	struct kvm_run *run = m->kvm.run;
	if (!u->armed)
		return 0;
	u->armed = 0;
	if (run->s.regs.regs.rip != u->db_handler || (run->s.regs.sregs.cs.selector & 3))
		return 0;	/* not our #DB: a ring-0 stop like any other */
	uint64_t f[5];	/* RIP, CS, RFLAGS, RSP, SS after the ring-3 instruction */
	if (gdb_read_memory(m, u->frame, (uint8_t *)f, sizeof(f)) != sizeof(f) || (f[1] & 3) != 3)
		return -EFAULT;
	int r = gdb_write_guest(m, u->frame, u->saved, sizeof(u->saved));
	if (r)
		return r;
	struct kvm_regs regs = run->s.regs.regs;	/* the GPRs are the instruction's */
	regs.rip = f[0];
	regs.rflags = f[2] & ~X86_RFLAGS_TF;
	regs.rsp = f[3];
	/* back to ring 3's code and stack segments; nothing else changed, and no interrupt
	 * is pending to inject (KVM_SET_SREGS would queue one from the bitmap) */
	struct kvm_sregs sregs;
	if (ioctl(m->kvm.vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	if (segment(m, &sregs, f[1], &sregs.cs) || segment(m, &sregs, f[4], &sregs.ss))
		return -EFAULT;
	memset(sregs.interrupt_bitmap, 0, sizeof(sregs.interrupt_bitmap));
	if (ioctl(m->kvm.vcpu_fd, KVM_SET_SREGS, &sregs) < 0 || ioctl(m->kvm.vcpu_fd, KVM_SET_REGS, &regs) < 0 ||
	    ioctl(m->kvm.vcpu_fd, KVM_SET_DEBUGREGS, &u->dregs) < 0)
		return -errno;
	run->s.regs.regs = regs;
	run->s.regs.sregs = sregs;
	return 0;
}

int user_step_iret(struct machine *m)
{
	struct kvm_run *run = m->kvm.run;
	struct kvm_regs regs = run->s.regs.regs;
	struct kvm_sregs sregs;
	uint64_t f[5];	/* RIP, CS, RFLAGS, RSP, SS */
	if (gdb_read_memory(m, regs.rsp, (uint8_t *)f, sizeof(f)) != sizeof(f) || (f[1] & 3) != 3)
		return -EFAULT;
	if (ioctl(m->kvm.vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	if (segment(m, &sregs, f[1], &sregs.cs) || segment(m, &sregs, f[4], &sregs.ss))
		return -EFAULT;
	memset(sregs.interrupt_bitmap, 0, sizeof(sregs.interrupt_bitmap));
	regs.rip = f[0];
	regs.rflags = f[2] | X86_RFLAGS_FIXED;
	regs.rsp = f[3];
	if (ioctl(m->kvm.vcpu_fd, KVM_SET_SREGS, &sregs) < 0 || ioctl(m->kvm.vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	run->s.regs.regs = regs;
	run->s.regs.sregs = sregs;
	return 0;
}
