#include "tools/gdb_server.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/gdb_target.h"
#include "vmm/exitcode.h"
#include "vmm/log.h"
#include "vmm/mono_clock.h"
#include "vmm/probe.h"
#include "vmm/vcpu_state.h"
#include "vmm/x86.h"

static int pos_cmp(struct gdb_pos a, struct gdb_pos b)
{
	if (a.exits != b.exits)
		return a.exits < b.exits ? -1 : 1;
	return a.steps < b.steps ? -1 : a.steps > b.steps;
}

static int mode_steps(struct gdb_server *s, struct machine *m);

static void stop(struct gdb_server *s, int signal, const char *why)
{
	s->mode = GDB_STOP;
	s->signal = signal;
	snprintf(s->why, sizeof(s->why), "%s", why);
}

static struct gdb_pos cp_pos(struct gdb_server *s, size_t t)
{
	return (struct gdb_pos){ s->cps.cp[t].exits, s->cps.cp[t].steps };
}

/* A checkpoint here where the policy says so; a failure turns reverse execution off. */
static void checkpoint(struct gdb_server *s, struct machine *m)
{
	char err[256];
	if (checkpoints_at(&s->cps, m, s->rp, s->pos.steps, err, sizeof(err))) {
		s->reverse_ok = 0;
		snprintf(s->reverse_off, sizeof(s->reverse_off), "%s", err);
		log_warn("gdb: reverse execution is off: %s", err);
	}
}

/* Puts checkpoint t back; the loop resumes there. -1, or an exit code. */
static int go_back(struct gdb_server *s, struct machine *m, size_t t)
{
	char err[256];
	int code = checkpoints_restore(&s->cps, t, m, s->rp, err, sizeof(err));
	if (code) {
		log_error("going back: %s", err);
		return code;
	}
	s->pos = s->prev = cp_pos(s, t);
	s->dbg.resume = s->pos.steps ? DEBUGGER_RESUME_STEP : DEBUGGER_RESUME_POINT;
	s->free_run = 0;
	s->rp->mute = 1;
	gdb_watch_refresh(s, m);
	return -1;
}

/* The latest checkpoint strictly before position p; -1 none. */
static long checkpoint_before(struct gdb_server *s, struct gdb_pos p)
{
	if (p.steps)
		return checkpoints_find(&s->cps, p.exits, p.steps - 1);
	return p.exits ? checkpoints_find(&s->cps, p.exits - 1, UINT64_MAX) : -1;
}

static void reverse_done(struct gdb_server *s)
{
	s->op_ns = mono_clock_ns() - s->op_ns;
	log_debug("gdb: went back to exit %" PRIu64 " + %" PRIu64 " steps in %.1f ms (%" PRIu64 " exits re-run)",
		  s->pos.exits, s->pos.steps, (double)s->op_ns / 1e6, s->op_exits);
}

/* Back to the start of the history: gdb hears it reached the beginning of the log. */
static int at_begin(struct gdb_server *s, struct machine *m)
{
	int code = go_back(s, m, 0);
	if (code >= 0)
		return code;
	stop(s, 5, "replaylog:begin;");
	reverse_done(s);
	return gdb_serve(s, m);
}

/* The search from checkpoint s->cp to s->target is over: go to its last hit, or search
 * the interval before that checkpoint. -1 or an exit code. */
static int search_end(struct gdb_server *s, struct machine *m)
{
	if (s->found && s->hit_coarse) {
		/* a write in an interval run at full speed: search it again, stepping it */
		s->fine_from = s->hit_seg;
		s->target = s->hit_seen;
		s->target_inclusive = 0;
		s->cp = checkpoints_find(&s->cps, s->hit_seg, 0);
		s->found = s->hit_coarse = 0;
		return go_back(s, m, (size_t)s->cp);
	}
	if (s->found) {
		int code = go_back(s, m, (size_t)s->cp);
		if (code >= 0)
			return code;
		if (!pos_cmp(s->hit, cp_pos(s, (size_t)s->cp))) {	/* the hit is the checkpoint itself */
			stop(s, 5, s->hit_why);
			reverse_done(s);
			return gdb_serve(s, m);
		}
		s->mode = GDB_GOTO;
		s->target = s->hit;
		return -1;
	}
	if (s->cp <= 0)
		return at_begin(s, m);
	s->target = cp_pos(s, (size_t)s->cp);
	s->target_inclusive = 1;
	s->cp--;
	s->found = 0;
	if (!s->search_steps && !s->nbp && !s->naw)
		s->fine_from = s->target.exits;
	else
		s->fine_from = s->cps.cp[s->cp].exits;
	return go_back(s, m, (size_t)s->cp);
}

/* Starts a search from checkpoint s->cp for the last hit before (at, for a write) target.
 * Watchpoints alone need no stepping but in the target's own interval: a write seen at
 * a delivery point is searched again in the interval before it, stepping that alone. */
static int search(struct gdb_server *s, struct machine *m, struct gdb_pos target, int one_step, int forward)
{
	s->search_steps = one_step;
	s->forward = forward;
	s->target = target;
	s->target_inclusive = 0;
	s->found = s->hit_coarse = 0;
	s->fine_from = !one_step && !s->nbp && !s->naw ? target.exits : s->cps.cp[s->cp].exits;
	if (forward)	/* the first write after where the run started */
		s->fine_from = s->from.exits;
	s->mode = GDB_SEARCH;
	return go_back(s, m, (size_t)s->cp);
}

int gdb_reverse(struct gdb_server *s, struct machine *m, int one_step)
{
	if (!s->reverse_ok) {
		rsp_put(&s->rsp, "E01");
		log_error("gdb: cannot go backwards: %s", s->reverse_off);
		return 0;
	}
	s->op_ns = mono_clock_ns();
	s->op_exits = 0;
	s->gdb_waits = 1;
	if (!s->cps.n || pos_cmp(s->pos, cp_pos(s, 0)) <= 0) {
		stop(s, 5, "replaylog:begin;");	/* nothing before here is kept */
		return gdb_serve(s, m);
	}
	if (one_step && s->pos.steps >= 2) {	/* the previous instruction is in this interval */
		struct gdb_pos to = { s->pos.exits, s->pos.steps - 1 };
		long t = checkpoints_find(&s->cps, to.exits, to.steps);
		int code = go_back(s, m, (size_t)t);
		if (code >= 0)
			return code;
		if (!pos_cmp(to, s->pos)) {	/* a checkpoint right there */
			stop(s, 5, "");
			reverse_done(s);
			return gdb_serve(s, m);
		}
		s->target = to;
		s->hit_why[0] = 0;
		s->mode = GDB_GOTO;
		return -1;
	}
	s->cp = checkpoint_before(s, s->pos);
	if (s->cp < 0)
		return at_begin(s, m);
	return search(s, m, s->pos, one_step, 0);
}

/* A boundary while searching: note a hit before the target, or end the search there. */
static int search_at(struct gdb_server *s, struct machine *m, int stepped)
{
	/* the target itself is no hit, but a write seen there was made just before it */
	int end = pos_cmp(s->pos, s->target) >= 0;
	/* where a breakpoint or an access may count: before the target, or at it when the
	 * target is an earlier interval's end */
	int open = !end || (s->target_inclusive && !pos_cmp(s->pos, s->target));
	int w = gdb_watch_changed(s, m);
	if (s->forward) {	/* stop on the first write after s->from, just after it */
		if ((w >= 0 && pos_cmp(s->prev, s->from) >= 0) || end) {
			char why[64];
			snprintf(why, sizeof(why), "watch:%" PRIx64 ";", s->wp[w >= 0 ? w : 0].addr);
			stop(s, 5, why);
			reverse_done(s);
		}
		return -1;
	}
	const char *why = NULL;
	struct gdb_pos at = s->pos;
	char buf[64];
	int a;
	if (s->search_steps) {
		why = stepped && !end ? "" : NULL;
	} else if (w >= 0) {
		/* going backwards, a write is met just before the instruction that made it */
		snprintf(buf, sizeof(buf), "watch:%" PRIx64 ";", s->wp[w].addr);
		why = buf;
		at = s->prev;
		s->hit_coarse = !stepped && s->prev.exits < s->fine_from;
		s->hit_seg = s->prev.exits;
		s->hit_seen = s->pos;
	} else if (stepped && open && gdb_at_breakpoint(s, m)) {
		why = "swbreak:;";
	} else if (open && (a = s->naw ? gdb_access_next(s->aw, s->naw, m) : -1) >= 0) {
		/* backwards, an access is met just before the instruction that makes it */
		snprintf(buf, sizeof(buf), "%s:%" PRIx64 ";", s->aw[a].kinds & GDB_ACCESS_WRITE ? "awatch" : "rwatch",
			 s->aw[a].addr);
		why = buf;
	}
	if (why) {
		if (w < 0)
			s->hit_coarse = 0;
		s->found = 1;
		s->hit = at;
		snprintf(s->hit_why, sizeof(s->hit_why), "%s", why);
	}
	return end ? search_end(s, m) : -1;
}

/* A port or MMIO exit's instruction finished, unstepped: KVM reports those with RIP still
 * on the instruction and ends it at the next entry. 0 or an exit code. */
static int complete_exit(struct machine *m)
{
	unsigned why = m->kvm.run->exit_reason;
	if (why != KVM_EXIT_IO && why != KVM_EXIT_MMIO)
		return 0;
	int r = vcpu_complete_exit(&m->kvm);
	if (r)
		log_error("gdb: cannot finish exit %" PRIu64 ": %s", m->stats.exits, strerror(-r));
	return r ? DETVM_EXIT_KVM : 0;
}

/* Running forward: whether gdb asked to stop (checked every so often: a syscall each). */
static int interrupted(struct gdb_server *s, unsigned every)
{
	if (++s->polls % every)
		return 0;
	return rsp_poll_interrupt(&s->rsp);
}

static int boundary(struct gdb_server *s, struct machine *m, int stepped)
{
	switch (s->mode) {
	case GDB_SEARCH: {
		int code = search_at(s, m, stepped);
		if (code >= 0 || s->mode != GDB_STOP)
			return code;
		break;	/* a forward watchpoint stop: served below */
	}
	case GDB_GOTO:
		if (!pos_cmp(s->pos, s->target)) {
			stop(s, 5, s->hit_why);
			gdb_watch_refresh(s, m);
			reverse_done(s);
		}
		break;
	case GDB_STEP:
		if (stepped)
			stop(s, 5, "");
		gdb_watch_refresh(s, m);
		break;
	case GDB_CONTINUE: {
		int w = gdb_watch_changed(s, m);
		char why[64];
		if (gdb_accessed(s, m, mode_steps(s, m), why, sizeof(why)) >= 0) {
			stop(s, 5, why);
		} else if (stepped && gdb_at_breakpoint(s, m)) {
			stop(s, 5, "swbreak:;");
		} else if (w >= 0 && !stepped && s->prev.exits < m->stats.exits && s->reverse_ok &&
			   (s->cp = checkpoints_find(&s->cps, s->prev.exits, 0)) >= 0) {
			/* run at full speed, the write is somewhere in the interval before this
			 * exit: step that interval again to stop just after it */
			s->op_ns = mono_clock_ns();
			s->op_exits = 0;
			s->from = s->prev;
			return search(s, m, s->pos, 0, 1);
		} else if (w >= 0) {
			snprintf(why, sizeof(why), "watch:%" PRIx64 ";", s->wp[w].addr);
			stop(s, 5, why);
		} else if (interrupted(s, stepped ? 256 : 16) || (!stepped && m->stats.exits == s->interrupt_at)) {
			s->interrupt_at = 0;
			stop(s, 2, "");
		}
		break;
	}
	case GDB_STOP:
	case GDB_DETACHED:
		break;
	}
	if (s->mode != GDB_STOP)
		return -1;
	/*
	 * Stopped at an exit (Ctrl-C, an attach, a watchpoint): its port or MMIO instruction
	 * is finished first. Half done, it shows the same RIP as the step before it, which is
	 * where reverse-stepi goes: gdb would see it not move. Finished, it is the state a
	 * checkpoint here holds (checkpoints finish it too), whichever way this was reached.
	 */
	int code = stepped ? 0 : complete_exit(m);
	if (code)
		return code;
	uint64_t t0 = mono_clock_ns();
	code = gdb_serve(s, m);
	/* time stopped is not time the guest ran: the replay's no-progress checks skip it */
	uint64_t stopped = mono_clock_ns() - t0;
	s->rp->progress_ns = 0;
	if (m->step.kind != STEP_NONE)
		m->step.deadline_ns += stopped;
	return code;
}

/* Whether the mode single-steps the next entry (before the ring and HLT rules). */
static int mode_steps(struct gdb_server *s, struct machine *m)
{
	switch (s->mode) {
	case GDB_STEP:
		return 1;
	case GDB_SEARCH:
		return m->stats.exits >= s->fine_from;
	case GDB_CONTINUE:	/* write watchpoints alone are checked at exits (see boundary) */
		return s->nbp || s->naw || (s->nwp && !s->reverse_ok);
	case GDB_GOTO:	/* at full speed up to the target's exit */
		return s->target.steps && m->stats.exits == s->target.exits;
	default:
		return 0;
	}
}

/* At a delivery point the state is read and saved: stepping off. 0 or an exit code. */
static int unarm(struct gdb_server *s, struct machine *m)
{
	if (!s->dbg.stepping)
		return 0;
	s->dbg.stepping = 0;
	int r = kvm_vcpu_set_debug(&m->kvm, 0, 0);
	if (r)
		log_error("gdb: cannot stop single-stepping at exit %" PRIu64 ": %s", m->stats.exits, strerror(-r));
	return r ? DETVM_EXIT_KVM : 0;
}

/*
 * Leaving a delivery point towards a stepped entry: a port or MMIO exit's instruction is
 * finished first, unstepped. Finished by the stepped entry, it would end in a single-step
 * stop, which an unstepped pass over the same exit does not have, and the steps since
 * this exit must count the same in every pass. 0 or an exit code.
 */
static int finish_exit(struct gdb_server *s, struct machine *m)
{
	return s->dbg.resume || !mode_steps(s, m) ? 0 : complete_exit(m);
}

static int dbg_point(void *self, struct machine *m)
{
	struct gdb_server *s = self;
	int code = unarm(s, m);
	if (code)
		return code;
	s->free_run = 0;
	s->us.armed = 0;	/* the entry ended in an exit: no #DB was delivered */
	s->prev = s->pos;
	s->pos = (struct gdb_pos){ m->stats.exits, 0 };
	if (s->mode == GDB_SEARCH || s->mode == GDB_GOTO)
		s->op_exits++;
	/* the next exit's console output was shown already if it ran before */
	s->rp->mute = m->stats.exits < s->high_exits;
	if (m->stats.exits > s->high_exits)
		s->high_exits = m->stats.exits;
	/* the first checkpoint at the first exit: at the start, before the vCPU ever ran,
	 * KVM has no exit to complete and refuses to save its state */
	if (s->reverse_ok && s->mode != GDB_DETACHED && s->started)
		checkpoint(s, m);
	s->started = 1;
	/* without --gdb-wait, gdb may attach while the replay runs */
	if (s->rsp.fd < 0 && s->mode == GDB_CONTINUE && ++s->accept_polls % 64 == 0 && rsp_accept(&s->rsp, 0))
		stop(s, 5, "");
	code = boundary(s, m, 0);
	return code >= 0 ? code : (finish_exit(s, m) ?: -1);
}

/*
 * Single-stepping runs the guest with TF set, and KVM sets it again when it re-injects
 * an exception it intercepted, so an event delivered in a step can push RFLAGS with TF
 * on the guest's stack, where the guest's IRET would later take it back (a #DB the
 * recording never had) and checkpoint digests would see it. Put such a frame back as the
 * recording had it. A 64-bit frame: RIP, CS, RFLAGS, RSP, SS, at RSP, or above an error
 * code and the handler's first push.
 */
static void untrace_frame(struct gdb_server *s, struct machine *m)
{
	uint64_t rsp = m->kvm.run->s.regs.regs.rsp, q[7];
	if (rsp == s->entry_rsp || gdb_read_memory(m, rsp, (uint8_t *)q, sizeof(q)) != sizeof(q))
		return;
	for (unsigned b = 0; b < 3; b++) {
		uint64_t cs = q[b + 1], flags = q[b + 2], ss = q[b + 4];
		if ((flags & X86_RFLAGS_TF) && (flags & X86_RFLAGS_FIXED) && !(flags >> 22) && cs && cs <= 0xffff &&
		    ss <= 0xffff && (cs & 3) == (ss & 3)) {
			x86_clear_tf_at(m, &m->kvm.run->s.regs.sregs, rsp + 8 * (b + 2));
			return;
		}
	}
}

/* One instruction further, however it got there. -1, or an exit code. */
static int one_step(struct gdb_server *s, struct machine *m)
{
	s->free_run = 0;
	s->steps++;
	s->rp->progress_ns = mono_clock_ns();	/* stepping is progress, however slow */
	untrace_frame(s, m);
	s->prev = s->pos;
	s->pos.steps++;
	/* long runs of steps get checkpoints inside them, so going back one is short */
	if (s->reverse_ok && s->mode != GDB_DETACHED && m->step.kind == STEP_NONE)
		checkpoint(s, m);
	return boundary(s, m, 1);
}

static int dbg_stepped(void *self, struct machine *m)
{
	struct gdb_server *s = self;
	int r = user_step_finish(&s->us, m);
	if (r) {
		log_error("gdb: cannot finish a ring-3 single-step at exit %" PRIu64 ": %s", m->stats.exits,
			  strerror(-r));
		return DETVM_EXIT_KVM;
	}
	return one_step(s, m);
}

/*
 * Before a step: a frame the IRET about to run will take is cleaned of TF, wherever that
 * TF came from. 1 where the next instruction must not be stepped: a HLT, which a pending
 * single-step trap ends at once (the guest would run on instead of halting); 2 for an
 * IRET into ring 3.
 */
static int before_step(struct machine *m)
{
	const struct kvm_regs *r = &m->kvm.run->s.regs.regs;
	uint8_t insn[2];
	uint64_t flags;
	size_t n = gdb_read_memory(m, r->rip, insn, sizeof(insn));
	if (n >= 1 && insn[0] == X86_OP_HLT)
		return 1;
	int iret = (n >= 1 && insn[0] == 0xcf) || (n == 2 && insn[0] == 0x48 && insn[1] == 0xcf);
	uint64_t cs;
	if (!iret || gdb_read_memory(m, r->rsp + 8, (uint8_t *)&cs, 8) != 8 ||
	    gdb_read_memory(m, r->rsp + 16, (uint8_t *)&flags, 8) != 8)
		return 0;
	if (flags & X86_RFLAGS_TF)
		x86_clear_tf_at(m, &m->kvm.run->s.regs.sregs, r->rsp + 16);
	return (cs & 3) == 3 && !(m->kvm.run->s.regs.sregs.cs.selector & 3) ? 2 : 0;
}

static int dbg_wants_step(void *self, struct machine *m)
{
	struct gdb_server *s = self;
	s->entry_rsp = m->kvm.run->s.regs.regs.rsp;
	s->entry_cs = m->kvm.run->s.regs.sregs.cs.selector;
	int want = mode_steps(s, m);
	if (!want) {
		s->interrupts_seen = m->stats.interrupts;
		return 0;
	}
	/*
	 * Where KVM does not single-step guest ring 3 (this host: the trap goes to the
	 * guest's own #DB handler; `detvm doctor` says so), the guest runs freely there and
	 * on into ring 0 until the next single-step stop or delivery point, with KVM's debug
	 * state left as it was: re-armed at a host exit it would start stepping wherever a
	 * signal happened to stop the guest, which no other pass over the same code repeats.
	 */
	/* an interrupt injected at this entry takes the guest to ring 0 before any ring-3
	 * instruction runs: stepped, the entry stops on the handler's first instruction */
	int injecting = m->stats.interrupts != s->interrupts_seen;
	s->interrupts_seen = m->stats.interrupts;
	if (!s->free_run && !injecting && (m->kvm.run->s.regs.sregs.cs.selector & 3) == 3 &&
	    !(s->step_rings & 8)) {
		/* by the guest's #DB handler and a ring-0 breakpoint (gdb_user_step.h); not
		 * while an interrupt window is asked for, which KVM then reports late */
		if (s->user_steps && m->step.kind == STEP_NONE && !m->kvm.run->request_interrupt_window &&
		    !user_step_arm(&s->us, m)) {
			s->dbg.stepping = 1;
			return DEBUGGER_STEP_KEEP;
		}
		s->free_run = 1;
	}
	if (s->free_run)
		return DEBUGGER_STEP_KEEP;
	int gate = gdb_gate_ahead(s, m, injecting);
	if (gate >= 0)
		return gate;
	int how = before_step(m);
	if (how == 2 && !(s->step_rings & 8)) {
		/* the trap after an IRET into ring 3 never comes: the IRET is done here */
		if (s->user_steps && !injecting && m->step.kind == STEP_NONE &&
		    !m->kvm.run->request_interrupt_window && !user_step_iret(m)) {
			s->dbg.exit_code = one_step(s, m);
			return DEBUGGER_STEP_DONE;
		}
		s->free_run = 1;
		return DEBUGGER_STEP_KEEP;
	}
	if (how == 1) {	/* to the HLT's exit unstepped */
		s->free_run = 1;
		return 0;
	}
	return 1;
}

static const struct run_debugger_ops gdb_debugger = {
	.point = dbg_point,
	.stepped = dbg_stepped,
	.wants_step = dbg_wants_step,
};

int gdb_server_init(struct gdb_server *s, const char *hostport, int wait, uint64_t budget)
{
	memset(s, 0, sizeof(*s));
	char err[256];
	unsigned port;
	if (rsp_listen(&s->rsp, hostport, &port, err, sizeof(err))) {
		log_error("%s", err);
		return DETVM_EXIT_USAGE;
	}
	s->port = port;
	if (s->rsp.exposed)
		log_warn("gdb: the stub on %s is open to the network: anyone who reaches it can read and change the guest",
			 hostport);
	s->dbg.ops = &gdb_debugger;
	s->dbg.self = s;
	s->mode = wait ? GDB_STOP : GDB_CONTINUE;
	s->signal = 5;
	s->reverse_ok = 1;
	s->step_rings = probe_step_rings();
	s->bp_rings = probe_breakpoint_rings();
	s->user_steps = !(s->step_rings & 8) && (s->bp_rings & 1) && !getenv("DETVM_GDB_NO_USER_STEP");
	/* tests: where a Ctrl-C lands is timing; this puts one at a chosen exit */
	const char *at = getenv("DETVM_GDB_INTERRUPT_AT_EXIT");
	s->interrupt_at = at ? strtoull(at, NULL, 10) : 0;
	checkpoints_init(&s->cps, budget);
	return 0;
}

void gdb_server_attach(struct gdb_server *s, struct machine *m, struct replayer *rp)
{
	s->rp = rp;
	m->dbg = &s->dbg;
	/* said once the replay can start: a trace that cannot be read says only that */
	fprintf(stderr, "detvm: gdb: listening on port %u%s\n", s->port,
		s->mode == GDB_STOP ? "; waiting for gdb to attach (target remote HOST:PORT)" : "");
	/* disk writes go to the replay's private copies: checkpoints keep what they overwrite */
	if (checkpoints_watch_disks(&s->cps, rp)) {
		s->reverse_ok = 0;
		snprintf(s->reverse_off, sizeof(s->reverse_off), "out of memory for watching the disks");
	}
}

void gdb_server_finish(struct gdb_server *s, int code)
{
	if (s->rsp.fd >= 0 && s->mode != GDB_DETACHED) {
		char w[8];
		snprintf(w, sizeof(w), "W%02x", code & 0xff);
		rsp_put(&s->rsp, w);
	}
	log_info("gdb: %" PRIu64 " single-steps; %" PRIu64 " checkpoints taken, %" PRIu64 " merged, %zu kept (%"
		 PRIu64 " KiB)", s->steps, s->cps.taken, s->cps.merged, s->cps.n, s->cps.bytes / 1024);
}

void gdb_server_destroy(struct gdb_server *s)
{
	rsp_close(&s->rsp);
	checkpoints_destroy(&s->cps);
}
