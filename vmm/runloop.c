/*
 * The vCPU loop. Interrupts are injected and host events delivered only at guest-caused
 * exits (the `sync` delivery policy of DESIGN.md), so where they land is a function of
 * the guest's own execution plus the ordered events.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/exitcode.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/step.h"


static void report(struct machine *m, const char *what)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	if (kvm_vcpu_get_regs(&m->kvm, &r) || kvm_vcpu_get_sregs(&m->kvm, &s)) {
		log_error("%s after %" PRIu64 " exits (registers unavailable)", what, m->stats.exits);
		return;
	}
	uint8_t insn[16];
	const uint8_t *kb;
	unsigned n = exit_insn_bytes(m->kvm.run, &kb);
	if (n)
		memcpy(insn, kb, n);
	else
		n = machine_fetch_insn(m, &r, &s, insn);
	char bytes[64] = "unavailable";
	for (unsigned i = 0; i < n; i++)
		snprintf(bytes + 3 * i, sizeof(bytes) - 3 * i, "%02x%s", insn[i], i + 1 < n ? " " : "");
	log_error("%s at rip 0x%llx (cs 0x%x, cpl %u, cr0 0x%llx) after %" PRIu64
		  " exits; instruction bytes: %s",
		  what, (unsigned long long)r.rip, s.cs.selector, s.cs.dpl, (unsigned long long)s.cr0,
		  m->stats.exits, bytes);
}

/* offer_interrupt(): into the guest; or replay loaded the state of a step point */
#define ENTER_GUEST (-1)
#define AT_STEP_POINT (-2)

static int observer_failure(struct machine *m)
{
	char msg[1024] = "";
	int code = m->obs->ops->failure(m->obs->self, msg, sizeof(msg));
	if (msg[0])	/* empty: the observer reports it itself */
		log_error("%s", msg);
	return code;
}

static int kvm_failure(const char *what, int r)
{
	log_error("%s: %s", what, strerror(-r));
	return DETVM_EXIT_KVM;
}

/*
 * Interrupt from the PIC to the CPU, if the CPU can take one; else ask KVM to tell us.
 * In replay the trace may say where the recording delivered next instead: a step point,
 * whose state replay loads, or a late interrupt window, which the loop single-steps to.
 * ENTER_GUEST, AT_STEP_POINT, or an exit code. *event: what the entry delivers (for a tracer).
 */
static int offer_interrupt(struct machine *m, int *event)
{
	struct kvm_run *run = m->kvm.run;
	int pending = pic_has_interrupt(&m->pic);
	/* an exception this exit raises is delivered first; the interrupt waits for the
	 * window after it, as on hardware, rather than racing it on the same entry */
	int exception = m->exception_queued;
	m->exception_queued = 0;
	run->request_interrupt_window = 0;
	*event = exception ? TRACER_EXCEPTION : TRACER_NO_EVENT;
	int can_take = pending && run->ready_for_interrupt_injection && run->if_flag && !exception;
	/* a held interrupt waits for a later exit, not for a window: the guest could take
	 * it, so KVM would report the window at once, before the guest moved on */
	int held = can_take && m->gate &&
		   m->gate->ops->hold(m->gate->self, m->stats.exits, run->exit_reason == KVM_EXIT_HLT);
	if (can_take && !held) {
		int vector = pic_ack(&m->pic);
		m->stats.interrupts++;
		if (m->obs && m->obs->ops->interrupt(m->obs->self, m->stats.exits, (unsigned)vector,
						     run->s.regs.regs.rip))
			return observer_failure(m);
		int r = kvm_vcpu_interrupt(&m->kvm, (unsigned)vector);
		if (r)
			return kvm_failure("KVM_INTERRUPT", r);
		pending = 0;
		*event = vector;
	} else if (m->obs && m->obs->ops->no_interrupt(m->obs->self, m->stats.exits, run->s.regs.regs.rip, pending)) {
		return observer_failure(m);
	}
	struct step_landmark lm;
	int r = 0;
	if (m->obs && m->obs->ops->step_target(m->obs->self, m->stats.exits, &lm)) {
		if (lm.state) {
			int code = step_restore(m, &lm);
			return code ? code : AT_STEP_POINT;
		}
		r = step_arm(m, STEP_POINT, &lm);
	} else if (pending && !held) {
		int how = m->obs ? m->obs->ops->window(m->obs->self, m->stats.exits, &lm) : OBSERVER_WINDOW_ASK;
		if (how == OBSERVER_WINDOW_STEP)
			r = step_arm(m, STEP_WINDOW, &lm);
		run->request_interrupt_window = how == OBSERVER_WINDOW_ASK;
	}
	if (r)
		return kvm_failure("KVM_SET_GUEST_DEBUG", r);
	if (m->gate && m->gate->ops->pause)
		m->gate->ops->pause(m->gate->self, m->stats.exits);
	return ENTER_GUEST;
}

/* A host-side call failed: the observer's verdict if it stopped the run, else ours. */
static int host_failure(struct machine *m, int r, const char *what)
{
	int code;
	if (m->obs && m->obs->ops->should_stop(m->obs->self, m->stats.exits, &code))
		return code;
	log_error("%s: %s", what, strerror(-r));
	return DETVM_EXIT_HOST;
}

/* Hands due host events to devices; -1 when all went well, else an exit code. */
static int deliver(struct machine *m)
{
	int n = m->io->ops->deliver_due(m->io, m->stats.exits);
	if (n < 0)
		return host_failure(m, n, "delivering host events");
	m->stats.events += n;
	return -1;
}

static void serve_request(struct machine *m)
{
	if (m->request && __atomic_load_n(&m->request->pending, __ATOMIC_ACQUIRE))
		m->request->fn(m->request->ctx, m);
}

/* HLT with interrupts on: sleep until a device raises a line. */
static int halt(struct machine *m)
{
	if (!m->kvm.run->if_flag && !pic_has_interrupt(&m->pic)) {
		report(m, "guest halted with interrupts disabled: it can never wake");
		return DETVM_EXIT_HALTED;
	}
	m->halted = 1;
	int code = -1;
	while (code < 0 && !pic_has_interrupt(&m->pic) && !*m->stop) {
		serve_request(m);
		int r = m->io->ops->idle_wait(m->io, m->stats.exits);
		if (r == -ENOENT) {
			report(m, "guest halted with no interrupt source armed: it can never wake");
			code = DETVM_EXIT_HALTED;
		} else if (r < 0 && r != -EINTR) {
			code = host_failure(m, r, "waiting for host events");
		} else {
			code = deliver(m);
		}
	}
	m->halted = 0;
	return code;
}

static int stopped(struct machine *m)
{
	if (*m->stop == 2) {
		log_error("timeout after %" PRIu64 " exits", m->stats.exits);
		return DETVM_EXIT_TIMEOUT;
	}
	log_error("interrupted after %" PRIu64 " exits", m->stats.exits);
	return DETVM_EXIT_INTERRUPTED;
}

static int end_of_guest(struct machine *m)
{
	if (m->ex.reset_requested)
		log_info("guest requested a reset after %" PRIu64 " exits", m->stats.exits);
	if (m->ex.poweroff_code) {
		log_error("guest powered off reporting failure %u", m->ex.poweroff_code);
		return DETVM_EXIT_GUEST_FAIL;
	}
	return DETVM_EXIT_OK;
}

/* Acts on one guest-caused exit; -1 to keep running, else the detvm exit code. */
static int act(struct machine *m, enum exit_action a)
{
	struct kvm_run *run = m->kvm.run;
	int r;
	switch (a) {
	case EXIT_ACT_CONTINUE:
	case EXIT_ACT_IRQ_WINDOW:
	case EXIT_ACT_HOST:
		return -1;
	case EXIT_ACT_HALT:
		r = deliver(m);
		return r >= 0 ? r : halt(m);
	case EXIT_ACT_INJECT_BP:
		m->stats.breakpoints++;
		r = kvm_vcpu_inject_breakpoint(&m->kvm);
		if (r) {
			log_error("cannot inject #BP: %s", strerror(-r));
			return DETVM_EXIT_KVM;
		}
		return -1;
	case EXIT_ACT_POWEROFF:
		return end_of_guest(m);
	case EXIT_ACT_SHUTDOWN:
		report(m, "guest triple fault (shutdown)");
		return DETVM_EXIT_TRIPLE_FAULT;
	case EXIT_ACT_INTERNAL: {
		char what[96];
		snprintf(what, sizeof(what), "KVM internal error (suberror %u%s)", run->internal.suberror,
			 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? ": emulation failure" : "");
		report(m, what);
		return DETVM_EXIT_KVM;
	}
	case EXIT_ACT_FAIL_ENTRY: {
		char what[96];
		snprintf(what, sizeof(what), "VM entry failed (hardware reason 0x%llx)",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		report(m, what);
		return DETVM_EXIT_KVM;
	}
	case EXIT_ACT_UNKNOWN:
	default: {
		char what[96];
		snprintf(what, sizeof(what), "unhandled exit reason %u (%s)", run->exit_reason,
			 exit_reason_name(run->exit_reason));
		report(m, what);
		return DETVM_EXIT_UNKNOWN;
	}
	}
}

static int checkpoint(struct machine *m)
{
	struct run_digest d;
	int r = mem_digest_take(&m->digest, &m->mem, &m->kvm, &d);
	if (r) {
		log_error("cannot take a state digest: %s", strerror(-r));
		return DETVM_EXIT_KVM;
	}
	if (m->obs->ops->checkpoint(m->obs->self, m->stats.exits, m->kvm.run->s.regs.regs.rip, &d))
		return observer_failure(m);
	return -1;
}

/* What every delivery point does once its own work is done; -1 to keep running. */
static int delivery_point(struct machine *m, int deliver_now)
{
	int code;
	if (*m->stop)
		return stopped(m);
	if (deliver_now && (code = deliver(m)) >= 0)
		return code;
	if (m->obs && m->obs->ops->want_checkpoint(m->obs->self, m->stats.exits)) {
		code = checkpoint(m);
		if (code >= 0)
			return code;
	}
	if (m->obs && m->obs->ops->should_stop(m->obs->self, m->stats.exits, &code))
		return code;
	serve_request(m);
	if (m->max_exits && m->stats.exits >= m->max_exits) {
		log_error("stopped at the exit limit (%" PRIu64 " exits)", m->max_exits);
		return DETVM_EXIT_TIMEOUT;
	}
	return m->dbg ? m->dbg->ops->point(m->dbg->self, m) : -1;
}

/* Everything after a guest-caused exit was counted; -1 to keep running. */
static int after_guest_exit(struct machine *m, enum exit_action a)
{
	struct kvm_run *run = m->kvm.run;
	/* a window's place may need memory to be told apart: see ExitRecord.landmark */
	uint8_t digest[OBSERVER_DIGEST_BYTES];
	const uint8_t *mem = NULL;
	if (m->obs && m->track_state && observer_window_has_landmark(run)) {
		int r = mem_digest_memory(&m->digest, &m->mem, &m->kvm, digest);
		if (r) {
			log_error("cannot take a state digest: %s", strerror(-r));
			return DETVM_EXIT_KVM;
		}
		mem = digest;
	}
	if (m->obs && m->obs->ops->exit(m->obs->self, m->stats.exits, run, mem))
		return observer_failure(m);
	int code = act(m, a);
	if (code >= 0)
		return code;
	m->exception_queued = a == EXIT_ACT_INJECT_BP ||
			      ((run->exit_reason == KVM_EXIT_X86_RDMSR || run->exit_reason == KVM_EXIT_X86_WRMSR) &&
			       run->msr.error);
	return delivery_point(m, a != EXIT_ACT_HALT);	/* a halt delivered already */
}

/* A `step` delivery point: it takes the next position, as an exit would. */
static int step_point(struct machine *m, const struct step_landmark *lm)
{
	m->stats.exits++;
	m->stats.step_points++;
	if (m->obs && m->obs->ops->step_point(m->obs->self, lm))
		return observer_failure(m);
	return delivery_point(m, 1);
}

/* Replay stands at the recording's step point (stepped there, or its state loaded: mem is
 * NULL then, and the digest is taken here); -1 to keep running, else a code. */
static int step_point_reached(struct machine *m, const uint8_t *mem)
{
	struct kvm_run *run = m->kvm.run;
	struct step_landmark lm = { .last_exit = m->stats.exits, .rip = run->s.regs.regs.rip, .has_mem = 1 };
	observer_regs_landmark(&run->s.regs.regs, lm.regs);
	if (mem) {
		memcpy(lm.mem, mem, sizeof(lm.mem));
	} else if (m->track_state) {
		int r = mem_digest_memory(&m->digest, &m->mem, &m->kvm, lm.mem);
		if (r) {
			log_error("cannot take a state digest: %s", strerror(-r));
			return DETVM_EXIT_KVM;
		}
	}
	return step_point(m, &lm);
}

#define HOST_EXIT_POINT (-2)	/* host_exit() made a delivery point */

/* A host-caused return from KVM_RUN; -1 to keep running, HOST_EXIT_POINT when it became
 * a delivery point, else an exit code. */
static int host_exit(struct machine *m)
{
	m->stats.host_exits++;
	if (m->obs && m->obs->ops->host_exit(m->obs->self))
		return observer_failure(m);
	int code = step_overdue(m);
	if (code)
		return code;
	struct step_landmark lm;
	int r = step_live_point(m, &lm);
	if (r < 0) {
		log_error("cannot check for a step delivery point: %s", strerror(-r));
		return DETVM_EXIT_KVM;
	}
	if (!r)
		return -1;
	code = step_point(m, &lm);
	return code >= 0 ? code : HOST_EXIT_POINT;
}

/* Single-step armed for the debugger where it wants it; step.c's own stepping is left as
 * step.c set it. 0, -1 where the debugger stepped the guest itself, or an exit code. */
static int debugger_arm(struct machine *m)
{
	int want = m->dbg->ops->wants_step(m->dbg->self, m);
	if (want == DEBUGGER_STEP_DONE)
		return m->dbg->exit_code > 0 ? m->dbg->exit_code : -1;
	if ((!want && !m->dbg->stepping) || want == DEBUGGER_STEP_KEEP)
		return 0;
	m->dbg->stepping = want;
	/* step.c's own way to a landmark stays armed: its breakpoint, or its stepping */
	unsigned landmark = 0;
	if (m->step.kind != STEP_NONE)
		landmark = m->step_breakpoints && m->step.single != 1 ? KVM_DEBUG_HW_BP : KVM_DEBUG_STEP;
	/* asked again at every entry: the guest's IRET or POPF clears TF */
	int r = kvm_vcpu_set_debug(&m->kvm, (want ? KVM_DEBUG_STEP : 0) | landmark, m->step.rip);
	return r ? kvm_failure("KVM_SET_GUEST_DEBUG", r) : 0;
}

static int run_until_end(struct machine *m)
{
	struct kvm_run *run = m->kvm.run;
	int guest_exit = 1;	/* the start is a delivery point too */
	if (m->halted) {	/* restored where it waited in HLT */
		int code = halt(m);
		if (code >= 0)
			return code;
	}
	if (m->dbg) {
		int code = m->dbg->ops->point(m->dbg->self, m);
		if (code >= 0)
			return code;
	}
	for (;;) {
		if (m->dbg && m->dbg->resume) {	/* the debugger put an earlier state back */
			guest_exit = m->dbg->resume == DEBUGGER_RESUME_POINT;
			m->dbg->resume = DEBUGGER_RESUME_NONE;
		}
		if (*m->stop)
			return stopped(m);
		if (guest_exit) {
			int event;
			int code = offer_interrupt(m, &event);
			if (code == AT_STEP_POINT) {
				code = step_point_reached(m, NULL);
				if (code >= 0)
					return code;
				continue;	/* a delivery point like any other */
			}
			if (code != ENTER_GUEST)
				return code;
			if (m->tracer && (code = m->tracer->ops->entering(m->tracer, m, event)) >= 0)
				return code;
		}
		if (m->dbg) {
			int code = debugger_arm(m);
			if (code > 0)
				return code;
			if (code < 0) {
				guest_exit = 0;	/* no entry, nothing to offer again */
				continue;
			}
		}
		int r = kvm_vcpu_run(&m->kvm);
		if (r == -EINTR || r == -EAGAIN) {
			int code = host_exit(m);
			if (code >= 0)
				return code;
			guest_exit = code == HOST_EXIT_POINT;
			continue;
		}
		if (r) {
			log_error("KVM_RUN: %s", strerror(-r));
			return DETVM_EXIT_KVM;
		}
		if (m->step.kind != STEP_NONE && run->exit_reason == KVM_EXIT_HLT) {
			r = step_halt_hit(m);
			if (r < 0)
				return kvm_failure("KVM_SET_REGS", r);
			if (r)
				run->exit_reason = KVM_EXIT_DEBUG;
		}
		if (m->dbg && m->dbg->stepping && run->exit_reason == KVM_EXIT_DEBUG) {
			int code = m->dbg->ops->stepped(m->dbg->self, m);
			if (code >= 0)
				return code;
			if (m->dbg->resume)
				continue;
			if (m->step.kind == STEP_NONE && !m->tracer) {
				guest_exit = 0;
				continue;
			}
		}
		if (run->exit_reason == KVM_EXIT_DEBUG && (m->step.kind != STEP_NONE || m->tracer)) {
			enum step_kind kind = m->step.kind;
			/* a landmark reached is the next position: its instruction is traced there */
			int reached = kind == STEP_NONE ? 0 : step_reached(m);
			if (reached == 0) {
				int code = m->tracer ? m->tracer->ops->stepped(m->tracer, m) : -1;
				if (code >= 0)
					return code;
				guest_exit = 0;
				continue;
			}
			if (reached > 1)
				return reached;
			if (kind == STEP_POINT) {
				int code = step_point_reached(m, m->step.mem);	/* step_reached compared it */
				if (code >= 0)
					return code;
				guest_exit = 1;
				continue;
			}
			/* this instruction boundary is where the recording's window opened */
			run->exit_reason = KVM_EXIT_IRQ_WINDOW_OPEN;
		}
		enum exit_action a = exit_handle(&m->ex, run);
		if (!exit_action_is_guest(a)) {
			m->stats.host_exits++;
			guest_exit = 0;
			continue;
		}
		guest_exit = 1;
		m->stats.exits++;
		if (run->exit_reason < sizeof(m->stats.by_reason) / sizeof(m->stats.by_reason[0]))
			m->stats.by_reason[run->exit_reason]++;
		int code = after_guest_exit(m, a);
		if (code >= 0)
			return code;
	}
}

int machine_run(struct machine *m)
{
	int code = run_until_end(m);
	if (!m->obs || code == DETVM_EXIT_DIVERGED || code == DETVM_EXIT_TRACE)
		return code;
	struct run_digest d, *dp = NULL;
	if (detvm_exit_at_boundary(code) && !mem_digest_take(&m->digest, &m->mem, &m->kvm, &d))
		dp = &d;
	char why[64];
	snprintf(why, sizeof(why), "detvm exit status %d", code);
	if (m->obs->ops->end(m->obs->self, m->stats.exits, code, why, dp))
		return observer_failure(m);
	return code;
}

static void print_virtio(FILE *f, const char *name, unsigned i, const struct virtio_mmio *t)
{
	uint64_t bad_chains = 0, bad_rings = 0;
	for (unsigned q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++) {
		bad_chains += t->queues[q].bad_chains;
		bad_rings += t->queues[q].bad_rings;
	}
	fprintf(f, "%s%u: bad chains %" PRIu64 ", bad rings %" PRIu64 ", bad register accesses %" PRIu64,
		name, i, bad_chains, bad_rings, t->bad_accesses);
}

/* Resident KiB of a mapping. */
static uint64_t resident_of(const uint8_t *base, uint64_t size)
{
	uint64_t kib = 0;
	size_t pages = size / 4096;
	unsigned char *vec = malloc(pages);
	if (vec && !mincore((void *)base, size, vec))
		for (size_t i = 0; i < pages; i++)
			kib += (vec[i] & 1) * 4;
	free(vec);
	return kib;
}

/* Resident KiB of the whole process and of guest RAM, so the VMM's own share is known. */
static void resident_kib(const struct machine *m, uint64_t *total, uint64_t *guest)
{
	*total = *guest = 0;
	FILE *s = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	while (s && fgets(line, sizeof(line), s))
		if (sscanf(line, "Rss: %" SCNu64, total) == 1)
			break;
	if (s)
		fclose(s);
	*guest = resident_of(m->mem.base, m->mem.size);
}

void machine_print_stats(const struct machine *m, FILE *f)
{
	uint64_t rss, guest_rss;
	resident_kib(m, &rss, &guest_rss);
	const struct machine_stats *s = &m->stats;
	fprintf(f, "exits: %" PRIu64 " (io %" PRIu64 ", mmio %" PRIu64 ", hlt %" PRIu64
		   ", irq-window %" PRIu64 ", internal %" PRIu64 ", msr %" PRIu64 ", step points %" PRIu64
		   "), host exits %" PRIu64 "\n",
		s->exits, s->by_reason[KVM_EXIT_IO], s->by_reason[KVM_EXIT_MMIO], s->by_reason[KVM_EXIT_HLT],
		s->by_reason[KVM_EXIT_IRQ_WINDOW_OPEN], s->by_reason[KVM_EXIT_INTERNAL_ERROR],
		s->by_reason[KVM_EXIT_X86_RDMSR] + s->by_reason[KVM_EXIT_X86_WRMSR], s->step_points,
		s->host_exits);
	fprintf(f, "interrupts injected: %" PRIu64 ", breakpoints injected: %" PRIu64
		   ", host events: %" PRIu64 ", landmarks reached: %" PRIu64 " (%" PRIu64 " debug stops)\n",
		s->interrupts, s->breakpoints, s->events, s->landmarks, s->steps);
	fprintf(f, "unclaimed: pio reads %" PRIu64 " writes %" PRIu64 ", mmio reads %" PRIu64
		   " writes %" PRIu64 "\n", m->pio.unclaimed_reads, m->pio.unclaimed_writes,
		m->mmio.unclaimed_reads, m->mmio.unclaimed_writes);
	fprintf(f, "pit: interrupts %" PRIu64 ", lost ticks %" PRIu64 "; rtc: interrupts %" PRIu64
		   "; uart: tx %" PRIu64 " bytes, rx dropped %" PRIu64 "; guest errors: pic %" PRIu64
		   ", pit %" PRIu64 ", rtc %" PRIu64 ", uart %" PRIu64 ", i8042 %" PRIu64 "\n",
		m->pit.irqs, m->pit.lost_ticks, m->rtc.irqs, m->com1.tx_bytes, m->com1.rx_dropped,
		m->pic.guest_errors, m->pit.guest_errors, m->rtc.guest_errors, m->com1.guest_errors,
		m->kbd.guest_errors);
	if (m->ex.tsc)
		fprintf(f, "tsc: virtual, %" PRIu64 " reads served (last %" PRIu64 "), %" PRIu64
			   " writes refused\n", m->tsc.reads, m->tsc.last, m->ex.tsc_writes);
	if (m->shadow.copy)
		fprintf(f, "step shadow: %" PRIu64 " pages carried by step points (%" PRIu64 " as changes), %"
			   PRIu64 " written ones left out as unchanged; %" PRIu64 " pages copied in %" PRIu64
			   " updates, %" PRIu64 " KiB resident (at most guest RAM)\n", s->step_pages,
			s->step_changes, s->step_pages_unchanged,
			m->shadow.copied, m->shadow.updates, resident_of(m->shadow.copy, m->shadow.size));
	fprintf(f, "memory: resident %" PRIu64 " KiB, of which guest RAM %" PRIu64
		   " KiB; VMM beyond guest RAM %" PRIu64 " KiB\n",
		rss, guest_rss, rss > guest_rss ? rss - guest_rss : 0);
	for (unsigned i = 0; i < m->nblk; i++) {
		const struct virtio_blk *b = &m->blk[i];
		print_virtio(f, "virtio-blk", i, &b->mmio);
		fprintf(f, ", requests %" PRIu64 ", io errors %" PRIu64 ", unsupported %" PRIu64
			   ", bad requests %" PRIu64 "\n", b->requests, b->io_errors, b->unsupported,
			b->bad_requests);
	}
	for (unsigned i = 0; i < m->nnet; i++) {
		const struct virtio_net *n = &m->net[i];
		print_virtio(f, "virtio-net", i, &n->mmio);
		fprintf(f, ", tx %" PRIu64 " (errors %" PRIu64 ", bad %" PRIu64 "), rx %" PRIu64
			   " (dropped %" PRIu64 ")\n", n->tx_frames, n->tx_errors, n->tx_bad, n->rx_frames,
			n->rx_dropped + n->rx_dropped_down + n->rx_too_big);
	}
}
