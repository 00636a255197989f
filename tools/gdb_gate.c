/*
 * No single-step through an interrupt gate the guest is about to go through: an injected
 * interrupt, INT n, INT1, INT3, INTO, UD2. Stepped, the CPU pushes KVM's trap flag into the
 * interrupt frame and the gate clears it; on a host that makes no stop inside the handler
 * (QEMU's SVM in the KVM host VM, `detvm doctor`: no hardware breakpoints) the handler
 * runs on to its IRET with TF in its frame, and nothing takes it out: the IRET hands the
 * guest a trap flag of its own (a #DB the recording never had), or the stale frame changes
 * a checkpoint's memory digest (`diverged at exit N: expected the checkpoint's memory
 * digest`). So the gate is entered without TF: where ring-0 hardware breakpoints work,
 * the guest runs to a breakpoint on the handler's first instruction (one step, as a host
 * that stops in the handler counts it); elsewhere the handler runs unstepped to the
 * guest's next exit, and stepping goes on from there (a breakpoint between the gate and
 * that exit is not hit). Every pass over the same code decides the same way, so positions
 * (exit, steps) stay the same in every pass.
 */
#include <string.h>

#include "tools/gdb_server.h"
#include "tools/gdb_target.h"
#include "vmm/insn.h"
#include "vmm/kvm.h"
#include "vmm/x86.h"

int gdb_gate_ahead(struct gdb_server *s, struct machine *m, int injecting)
{
	const struct kvm_regs *r = &m->kvm.run->s.regs.regs;
	int long_mode = !!(m->kvm.run->s.regs.sregs.efer & X86_EFER_LMA);
	int vector = -1;
	if (!injecting) {
		uint8_t b[2];
		size_t n = gdb_read_memory(m, r->rip, b, sizeof(b));
		vector = insn_gate_vector(b, (unsigned)n, long_mode, !!(r->rflags & X86_RFLAGS_OF));
		if (vector < 0)
			return -1;
	}
	uint64_t handler;
	if ((s->bp_rings & 1) && m->step.kind == STEP_NONE) {
		/* an injected event: where breakpoints work, the host's step stops on the
		 * handler's first instruction, where one_step takes TF out of the frame
		 * (measured: this machine's nested KVM) */
		if (injecting)
			return -1;
		if (!user_step_idt_handler(m, (unsigned)vector, &handler) &&
		    !kvm_vcpu_set_debug_bps(&m->kvm, 0, &handler, 1)) {
			s->dbg.stepping = 1;	/* its stop comes as a step's */
			return DEBUGGER_STEP_KEEP;
		}
	}
	s->free_run = 1;
	return 0;
}
