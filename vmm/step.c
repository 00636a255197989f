/*
 * Landmarks: delivery points that KVM cannot place exactly by itself, reached again in
 * replay by single-stepping until the state equals what the recording saw.
 *  - An interrupt window that a host reports late (an emulated ring 0 does): record logs
 *    the registers where it opened (ExitRecord.landmark).
 *  - The `step` fallback of DESIGN.md: a guest that runs without exits while input is
 *    due is stopped by a kick; record logs registers and memory there and delivers
 *    (Landmark events). Equal registers and memory with no exit in between mean an
 *    equal future, so delivering at the first equal state is exact.
 */
#include "vmm/step.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "vmm/exitcode.h"
#include "vmm/insn.h"
#include "vmm/log.h"
#include "vmm/mono_clock.h"

/* How long replay looks for a landmark whose trace does not say how long the recording
 * took to get there (else observer_search_budget_ns). */
#define STEP_UNKNOWN_NS (120 * 1000000000ULL)

int step_overdue(struct machine *m)
{
	if (m->step.kind == STEP_NONE || mono_clock_ns() < m->step.deadline_ns)
		return 0;
	log_error("diverged after exit %" PRIu64 ": the recorded %s at rip 0x%" PRIx64 " was not reached "
		  "(%" PRIu64 " stops there in %.1f s)", m->stats.exits,
		  m->step.kind == STEP_POINT ? "step delivery point" : "interrupt window", m->step.rip,
		  m->step.steps, (double)(mono_clock_ns() - m->step.started_ns) / 1e9);
	return DETVM_EXIT_DIVERGED;
}

unsigned machine_fetch_insn(struct machine *m, const struct kvm_regs *r, const struct kvm_sregs *s,
			    uint8_t *buf)
{
	uint64_t lin = r->rip + (s->efer & 0x400 ? 0 : s->cs.base);
	struct kvm_translation t = { .linear_address = lin };
	uint64_t gpa = lin;
	if (s->cr0 & 0x80000000u) {
		if (kvm_vcpu_translate(&m->kvm, &t) || !t.valid)
			return 0;
		gpa = t.physical_address;
	}
	unsigned n = 16;
	/* stop at the page end rather than translate the next page */
	if ((gpa & 4095) + n > 4096)
		n = 4096 - (gpa & 4095);
	return guest_mem_read(&m->mem, gpa, buf, n) ? 0 : n;
}

/*
 * Where hardware breakpoints work, the guest runs at full speed to the landmark's RIP
 * and only stops there (stepping once over it when the state is not yet equal); else
 * every instruction is single-stepped.
 */
static int set_mode(struct machine *m, int single)
{
	if (m->step.single == single)
		return 0;
	m->step.single = single;
	return single ? kvm_vcpu_set_singlestep(&m->kvm, 1) : kvm_vcpu_set_breakpoint(&m->kvm, m->step.rip);
}

int step_arm(struct machine *m, enum step_kind kind, const struct step_landmark *lm)
{
	m->step.kind = kind;
	m->step.rip = lm->rip;
	m->step.steps = 0;
	memcpy(m->step.regs, lm->regs, OBSERVER_DIGEST_BYTES);
	memcpy(m->step.mem, lm->mem, OBSERVER_DIGEST_BYTES);
	m->step.has_mem = lm->has_mem;
	m->step.single = -1;
	uint64_t budget = lm->elapsed_ns ? observer_search_budget_ns(lm->elapsed_ns) : STEP_UNKNOWN_NS;
	m->step.started_ns = mono_clock_ns();
	m->step.deadline_ns = m->step.started_ns + budget;
	return set_mode(m, !m->step_breakpoints);
}

/* Memory must be equal too; the registers decide first (cheap). */
static int memory_equal(struct machine *m, int *equal)
{
	if (!m->track_state) {
		*equal = 1;
		return 0;
	}
	uint8_t d[OBSERVER_DIGEST_BYTES];
	int r = mem_digest_memory(&m->digest, &m->mem, &m->kvm, d);
	if (r) {
		log_error("cannot take a state digest: %s", strerror(-r));
		return DETVM_EXIT_KVM;
	}
	*equal = !memcmp(d, m->step.mem, sizeof(d));
	return 0;
}

int step_reached(struct machine *m)
{
	struct kvm_run *run = m->kvm.run;
	uint8_t d[OBSERVER_DIGEST_BYTES];
	m->stats.steps++;
	observer_regs_landmark(&run->s.regs.regs, d);
	int equal = run->s.regs.regs.rip == m->step.rip && !memcmp(d, m->step.regs, sizeof(d));
	if (equal && m->step.has_mem) {
		int code = memory_equal(m, &equal);
		if (code)
			return code;
	}
	if (equal) {
		m->step.kind = STEP_NONE;
		m->stats.landmarks++;
		int r = kvm_vcpu_set_singlestep(&m->kvm, 0);
		if (r) {
			log_error("cannot stop single-stepping: %s", strerror(-r));
			return DETVM_EXIT_KVM;
		}
		return 1;
	}
	m->step.steps++;
	if ((m->step.steps & 1023) == 0 && step_overdue(m))
		return DETVM_EXIT_DIVERGED;
	/* at the landmark's RIP with another state: one step over it, then run to it again */
	int r = m->step_breakpoints ? set_mode(m, run->s.regs.regs.rip == m->step.rip) : 0;
	if (r) {
		log_error("cannot set a breakpoint or single-step: %s", strerror(-r));
		return DETVM_EXIT_KVM;
	}
	return 0;
}

int step_live_point(struct machine *m, struct step_landmark *lm)
{
	struct kvm_run *run = m->kvm.run;
	/* only a guest that made no exit for a whole kick period needs a point of its own */
	int quiet = m->stats.exits == m->step_exits_at_kick;
	m->step_exits_at_kick = m->stats.exits;
	if (!m->step_rings || m->step.kind != STEP_NONE || !quiet)
		return 0;
	const struct kvm_regs *r = &run->s.regs.regs;
	const struct kvm_sregs *s = &run->s.regs.sregs;
	/* replay must be able to single-step to this instruction: a ring the host steps in */
	if (!(m->step_rings & (1u << (s->cs.selector & 3))))
		return 0;
	if (!run->if_flag || !run->ready_for_interrupt_injection)
		return 0;
	if (!pic_has_interrupt(&m->pic) && !(m->io->ops->due && m->io->ops->due(m->io)))
		return 0;
	int pending = kvm_vcpu_event_pending(&m->kvm);
	if (pending)
		return pending < 0 ? pending : 0;
	/* a REP string instruction stopped half way is a state one step never shows */
	uint8_t insn[16];
	unsigned n = machine_fetch_insn(m, r, s, insn);
	if (!n || insn_is_rep_string(insn, n))
		return 0;
	memset(lm, 0, sizeof(*lm));
	lm->last_exit = m->stats.exits;
	lm->rip = r->rip;
	observer_regs_landmark(r, lm->regs);
	if (m->track_state) {
		int e = mem_digest_memory(&m->digest, &m->mem, &m->kvm, lm->mem);
		if (e)
			return e;
		lm->has_mem = 1;
	}
	return 1;
}
