/*
 * Landmarks: delivery points that KVM cannot place exactly by itself.
 *  - An interrupt window that a host reports late (an emulated ring 0 does): record logs
 *    the registers where it opened (ExitRecord.landmark); replay single-steps (or runs to
 *    a hardware breakpoint) until the state equals what the recording saw.
 *  - The `step` fallback of DESIGN.md: a guest that runs without exits while input is
 *    due is stopped by a kick; record logs its vCPU state and the pages it may have
 *    written since its last exit, and delivers (Landmark events). The guest took no input
 *    in between, so replay loads that state instead of running there: searching for it
 *    would cost a stop per instruction or per pass over its RIP, millions in a spin loop,
 *    and single-stepping cannot follow a guest through an interrupt gate at all.
 */
#include "vmm/step.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/exitcode.h"
#include "vmm/insn.h"
#include "vmm/log.h"
#include "vmm/mono_clock.h"
#include "vmm/page_delta.h"
#include "vmm/vcpu_state.h"
#include "vmm/x86.h"

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

/* Where RIP points, linearly: CS's base counts outside long mode. */
static uint64_t linear_rip(const struct kvm_sregs *s, uint64_t rip)
{
	return rip + (s->efer & X86_EFER_LMA ? 0 : s->cs.base);
}

unsigned machine_fetch_insn(struct machine *m, const struct kvm_regs *r, const struct kvm_sregs *s,
			    uint8_t *buf)
{
	uint64_t lin = linear_rip(s, r->rip);
	unsigned n = 16;
	/* stop at the page end rather than translate the next page */
	if ((lin & 4095) + n > 4096)
		n = 4096 - (lin & 4095);
	return x86_read_linear(m, s, NULL, lin, buf, n) == n ? n : 0;
}

/*
 * A single-stepped PUSHF pushes the TF that the stepping set (KVM steps with the CPU's TF),
 * a flag the recording never had: it would reach registers and memory and the landmark
 * would never compare equal. So the instruction about to be stepped is looked at, and
 * after a PUSHF the pushed value's TF (bit 8: its second byte, at RSP + 1) is cleared.
 */
static void note_pushf(struct machine *m)
{
	const struct kvm_regs *r = &m->kvm.run->s.regs.regs;
	const struct kvm_sregs *s = &m->kvm.run->s.regs.sregs;
	uint8_t insn[16];
	m->step.pushf_next = 0;
	if (m->step.single != 1)	/* run to a breakpoint: no TF */
		return;
	unsigned n = machine_fetch_insn(m, r, s, insn), len = n ? insn_pushf_len(insn, n, s->cs.l) : 0;
	m->step.pushf_next = len ? r->rip + len : 0;
}

static void undo_pushed_tf(struct machine *m)
{
	const struct kvm_regs *r = &m->kvm.run->s.regs.regs;
	const struct kvm_sregs *s = &m->kvm.run->s.regs.sregs;
	uint64_t sp = s->cs.l ? r->rsp : s->ss.db ? (uint32_t)r->rsp : (uint16_t)r->rsp;
	x86_clear_tf_at(m, s, (s->cs.l ? 0 : s->ss.base) + sp);
}

/*
 * Where hardware breakpoints do not work, a late ring-0 window is still run to at full
 * speed: a HLT written over the first byte of the landmark's instruction stops the guest
 * there (HLT in ring 0 always exits to detvm, which owns the interrupt controller), the
 * byte is put back and RIP set back onto it. The debugger and the tracer look at guest
 * memory and step themselves: with them the search single-steps as before.
 */
static int halt_usable(const struct machine *m)
{
	return m->step.kind == STEP_WINDOW && !m->step_breakpoints && !m->dbg && !m->tracer &&
	       !m->step.halt_failed;
}

static void halt_remove(struct machine *m)
{
	if (!m->step.halt_set)
		return;
	uint8_t *p = guest_mem_ptr(&m->mem, m->step.halt_gpa, 1);
	if (p && *p == X86_OP_HLT)	/* else the guest wrote the byte itself: its write stays */
		*p = m->step.halt_orig;
	guest_mem_mark_dirty(&m->mem, m->step.halt_gpa, 1);
	m->step.halt_set = 0;
}

static int halt_insert(struct machine *m)
{
	if (m->step.halt_set)
		return 0;
	const struct kvm_sregs *s = &m->kvm.run->s.regs.sregs;
	uint64_t gpa;
	uint8_t *p = x86_linear_to_gpa(m, s, linear_rip(s, m->step.rip), &gpa) ? NULL : guest_mem_ptr(&m->mem, gpa, 1);
	if (!p)
		return -EFAULT;
	m->step.halt_gpa = gpa;
	m->step.halt_orig = *p;
	*p = X86_OP_HLT;
	guest_mem_mark_dirty(&m->mem, gpa, 1);
	m->step.halt_set = 1;
	return 0;
}

int step_halt_hit(struct machine *m)
{
	struct kvm_run *run = m->kvm.run;
	if (!m->step.halt_set || run->exit_reason != KVM_EXIT_HLT || run->s.regs.regs.rip != m->step.rip + 1)
		return 0;
	struct kvm_regs r = run->s.regs.regs;
	r.rip = m->step.rip;
	int e = kvm_vcpu_set_regs(&m->kvm, &r);
	if (e)
		return e;
	run->s.regs.regs.rip = r.rip;
	halt_remove(m);
	return 1;
}

int step_debug_apply(struct machine *m)
{
	uint64_t bp[2];
	unsigned nbp = 0;
	int step = m->step.kind != STEP_NONE && m->step.single;
	if (m->step.kind != STEP_NONE && !m->step.single && m->step_breakpoints)
		bp[nbp++] = m->step.rip;
	if (m->tracer && m->tracer->stepping && !m->tracer->gate)
		step = 1;
	if (m->tracer && m->tracer->stepping && m->tracer->entry_bp)
		bp[nbp++] = m->tracer->entry_bp;
	if (m->step.kind != STEP_NONE && !step && halt_usable(m)) {
		if (halt_insert(m)) {
			/* the landmark's page is not mapped now: single-step this search */
			m->step.halt_failed = 1;
			m->step.single = step = 1;
		}
	} else {
		halt_remove(m);
	}
	return kvm_vcpu_set_debug_bps(&m->kvm, step, bp, nbp);
}

/* Runs to the landmark's RIP (and stops there only) rather than stepping every instruction. */
static int by_breakpoint(const struct machine *m)
{
	return m->step_breakpoints || halt_usable(m);
}

/*
 * Where hardware breakpoints work, the guest runs at full speed to the landmark's RIP
 * and only stops there (stepping once over it when the state is not yet equal); else
 * every instruction is single-stepped. Single-stepping is asked for again at every stop:
 * KVM steps with the CPU's TF, which the guest's own IRET, POPF or SYSRET clears, and
 * KVM sets it again only when asked.
 */
static int set_mode(struct machine *m, int single)
{
	if (m->step.single == single && !single)
		return 0;
	m->step.single = single;
	return step_debug_apply(m);
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
	m->step.halt_failed = 0;
	uint64_t budget = !lm->elapsed_ns ? STEP_UNKNOWN_NS
			  : observer_budget_ns(lm->elapsed_ns, by_breakpoint(m) ? OBSERVER_SEARCH_SLOWDOWN
										: OBSERVER_STEPPED_SLOWDOWN);
	m->step.started_ns = mono_clock_ns();
	m->step.deadline_ns = m->step.started_ns + budget;
	int r = set_mode(m, !by_breakpoint(m));
	note_pushf(m);
	return r;
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
	if (m->step.pushf_next && run->s.regs.regs.rip == m->step.pushf_next)
		undo_pushed_tf(m);
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
		int r = step_debug_apply(m);
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
	int r = set_mode(m, by_breakpoint(m) ? run->s.regs.regs.rip == m->step.rip : 1);
	if (r) {
		log_error("cannot set a breakpoint or single-step: %s", strerror(-r));
		return DETVM_EXIT_KVM;
	}
	note_pushf(m);
	return 0;
}

int step_restore(struct machine *m, const struct step_landmark *lm)
{
	for (size_t i = 0; i < lm->npages; i++) {
		uint64_t gpa = lm->pages[i].gpa;
		uint8_t *p = gpa & (GUEST_PAGE_SIZE - 1) ? NULL : guest_mem_ptr(&m->mem, gpa, GUEST_PAGE_SIZE);
		if (!p) {
			log_error("the trace is corrupt: the step delivery point after exit %" PRIu64
				  " holds a page at 0x%" PRIx64 ", which is not a page of guest RAM", lm->last_exit, gpa);
			return DETVM_EXIT_TRACE;
		}
		/* a change is applied to the page as it is here, at the point's last exit */
		if (lm->pages[i].data) {
			memcpy(p, lm->pages[i].data, GUEST_PAGE_SIZE);
		} else if (page_delta_apply(p, lm->pages[i].delta, lm->pages[i].delta_len)) {
			log_error("the trace is corrupt: the step delivery point after exit %" PRIu64
				  " holds a malformed change to page 0x%" PRIx64, lm->last_exit, gpa);
			return DETVM_EXIT_TRACE;
		}
		guest_mem_mark_dirty(&m->mem, gpa, GUEST_PAGE_SIZE);
	}
	const char *what;
	int r = vcpu_state_set(&m->kvm, lm->state, &what);
	if (r) {
		log_error("the trace is corrupt: KVM refused the %s of the step delivery point after exit %"
			  PRIu64 " (%s)", what, lm->last_exit, strerror(-r));
		return DETVM_EXIT_TRACE;
	}
	/* what the run loop reads of the vCPU is as KVM left it at the last exit: make it what
	 * KVM said when the recording stopped the guest here */
	struct kvm_run *run = m->kvm.run;
	const struct kvm_vcpu_events *ev = &lm->state->events;
	run->s.regs.regs = lm->state->regs;
	run->s.regs.sregs = lm->state->sregs;
	run->if_flag = !!(lm->state->regs.rflags & 0x200);
	run->ready_for_interrupt_injection = run->if_flag && !ev->interrupt.shadow && !ev->interrupt.injected &&
					     !ev->exception.injected && !ev->nmi.injected;
	m->stats.landmarks++;
	m->stats.states_loaded++;
	return 0;
}

struct page_list {
	struct machine *m;
	size_t n;
	size_t unchanged;	/* written, but as they were at the last exit */
};

static void count_page(uint64_t page, void *arg)
{
	(*(size_t *)arg)++;
}

/* Room for n pages and their encodings. 0 or -ENOMEM. */
static int reserve(struct machine *m, size_t n)
{
	if (n > m->step_pages_cap) {
		struct page_image *p = realloc(m->step_pages, n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		m->step_pages = p;
		m->step_pages_cap = n;
	}
	if (n > m->step_deltas_cap) {
		uint8_t *d = realloc(m->step_deltas, n * PAGE_DELTA_MAX);
		if (!d)
			return -ENOMEM;
		m->step_deltas = d;
		m->step_deltas_cap = n;
	}
	return 0;
}

/* A written page as the point carries it: what changed since the last exit where the
 * shadow knows the page there, else the whole page; nothing where it did not change. */
static void add_page(uint64_t page, void *arg)
{
	struct page_list *l = arg;
	struct machine *m = l->m;
	uint64_t gpa = guest_mem_page_gpa(&m->mem, page);
	const uint8_t *now = guest_mem_ptr(&m->mem, gpa, GUEST_PAGE_SIZE);
	const uint8_t *base = step_shadow_base(&m->shadow, page);
	struct page_image img = { gpa, now, NULL, 0 };
	if (base) {
		uint8_t *out = m->step_deltas + l->n * PAGE_DELTA_MAX;
		size_t len = page_delta_encode(base, now, out);
		if (!len) {
			l->unchanged++;
			return;
		}
		if (len <= PAGE_DELTA_MAX) {
			img = (struct page_image){ gpa, NULL, out, len };
			m->stats.step_changes++;
		}
	}
	m->step_pages[l->n++] = img;
}

/* A step point is one trace event, at most TRACE_MAX_EVENT_BYTES (16 MiB): a guest that
 * wrote more than this since its last exit gets no point until its next exit. Readers
 * unpack an event within TRACE_UNPACK_BUDGET, which holds ~12,000 pages of one-byte
 * changes: raise that with this (logs_trace_errors reads the largest point back). */
#define STEP_MAX_PAGES 3500

/* The vCPU state and written pages a recorded step point carries: 1, 0 where there are
 * too many pages, or -errno. */
static int capture(struct machine *m, struct step_landmark *lm)
{
	int r = mem_digest_memory(&m->digest, &m->mem, &m->kvm, lm->mem);
	if (!r)
		r = vcpu_state_get(&m->kvm, m->state_msrs, m->nstate_msrs, &m->step_state);
	if (r)
		return r;
	size_t n = 0;
	mem_digest_each_written(&m->digest, count_page, &n);
	if (n > STEP_MAX_PAGES) {
		log_debug("no step delivery point at rip 0x%llx: the guest wrote %zu pages since its "
			  "last exit", (unsigned long long)lm->rip, n);
		return 0;
	}
	r = reserve(m, n);
	if (r)
		return r;
	struct page_list l = { m, 0, 0 };
	mem_digest_each_written(&m->digest, add_page, &l);
	m->stats.step_pages += l.n;
	m->stats.step_pages_unchanged += l.unchanged;
	lm->has_mem = 1;
	lm->state = &m->step_state;
	lm->pages = m->step_pages;
	lm->npages = l.n;
	return 1;
}

/*
 * At the first kick after exits: the shadow takes every page written since its last
 * update (the written set, collected since then, and the VMM's), then the written set
 * starts again from this fetch, whose pages are the shadow's unsure ones: the last exit
 * came before it (vmm/step_shadow.h).
 */
static int update_shadow(struct machine *m)
{
	if (!m->shadow.copy) {
		int r = step_shadow_init(&m->shadow, &m->mem);
		if (r)
			return r;
	}
	step_shadow_update(&m->shadow, &m->mem, m->digest.written);
	mem_digest_forget_written(&m->digest);
	int r = mem_digest_collect(&m->digest, &m->mem, &m->kvm);
	if (!r)
		step_shadow_unsure(&m->shadow, m->digest.written);
	return r;
}

int step_live_point(struct machine *m, struct step_landmark *lm)
{
	struct kvm_run *run = m->kvm.run;
	/* only a guest that made no exit for a whole kick period needs a point of its own */
	int quiet = m->stats.exits == m->step_exits_at_kick;
	m->step_exits_at_kick = m->stats.exits;
	if (!m->step_rings || m->step.kind != STEP_NONE)
		return 0;
	/* A point carries every page written since the guest's last exit: those written since
	 * the last kick before it, a superset kept up to date here. */
	if (m->track_state) {
		int r = quiet ? mem_digest_collect(&m->digest, &m->mem, &m->kvm) : update_shadow(m);
		if (r)
			return r;
	}
	if (!quiet)
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
	return m->track_state ? capture(m, lm) : 1;
}
