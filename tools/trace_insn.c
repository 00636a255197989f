/*
 * The instruction tracer of `detvm trace` (trace_insn.h): the run loop's tracer seam.
 *
 * A stop is the guest standing before an instruction; the record is written there, with
 * the state before it executes. Stops come from two places:
 *  - entering(): after delivery point N the guest is about to run. KVM finishes the
 *    exit's instruction (a port or MMIO read, RIP past it) only on the next KVM_RUN, so
 *    the tracer has that done first (immediate_exit); the instruction at RIP is then
 *    (N, 0). An entry that injects an interrupt or exception runs no instruction there:
 *    a hardware breakpoint on the gate's target stops on the handler's first instruction,
 *    which is (N, 0); a host without one runs the handler unstepped to the next exit.
 *  - stepped(): each single-step after that: (N, 1), (N, 2), ...
 *
 * Single-stepping must not change what replay compares, but the CPU's TF, which KVM sets
 * to step, leaks where the guest copies RFLAGS: PUSHF, SYSCALL (into R11) and the frame
 * of an interrupt or exception. The recording never had TF there; each stop clears it
 * from whatever the previous instruction copied it into. A frame is out of reach where the
 * gate clears TF and the handler runs on to its IRET, or to an exit and beyond, without a
 * stop (real VMX and SVM, QEMU's SVM): IRET would give the guest a TF of its own and the
 * stale frame would stay in memory. So the tracer never single-steps through a gate it
 * sees coming, an injected event or an INT n: the guest runs to a breakpoint on the
 * handler instead (hook.gate), where its frame has no TF to leak.
 */
#include "tools/trace_insn.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tools/x86_operand.h"
#include "vmm/exitcode.h"
#include "vmm/log.h"
#include "vmm/mono_clock.h"
#include "vmm/step.h"

/* Single-stepping runs this many times slower than the recording, at most, as far as
 * replay's watchdog for a guest that makes no exits is concerned. */
#define TRACE_STEP_SLOWDOWN 10000

static uint64_t stack_linear(const struct kvm_regs *r, const struct kvm_sregs *s, unsigned mode, uint64_t off)
{
	if (mode == 64)
		return r->rsp + off;
	return s->ss.base + ((r->rsp + off) & (mode == 32 ? 0xffffffffULL : 0xffffULL));
}

/* What the previous instruction copied TF into, cleared (see the top of the file). 0 or
 * -errno. */
static int undo_tf_leak(struct insn_tracer *t, struct machine *m, struct kvm_regs *r, const struct kvm_sregs *s)
{
	if (!t->prev.valid)
		return 0;
	unsigned mode = x86_cpu_mode(s), w = mode / 8;
	uint64_t next = t->prev.rip + t->prev.len;
	if (t->prev.pushf && r->rip == next) {
		x86_clear_tf_at(m, s, stack_linear(r, s, mode, 0));
		return 0;
	}
	if (t->prev.syscall && (r->r11 & X86_RFLAGS_TF)) {
		r->r11 &= ~X86_RFLAGS_TF;
		return kvm_vcpu_set_regs(&m->kvm, r);
	}
	if (r->rip == next)
		return 0;
	/* an interrupt or exception frame, with or without an error code below it: the
	 * interrupted RIP (the faulting or the next instruction), its CS, then RFLAGS */
	for (unsigned off = 0; off <= w; off += w) {
		uint8_t f[24];
		uint64_t v[3] = { 0, 0, 0 };
		uint64_t lin = stack_linear(r, s, mode, off);
		if (x86_read_linear(m, s, &t->tlb, lin, f, 3 * w) != 3 * w)
			continue;
		for (unsigned i = 0; i < 3; i++)
			memcpy(&v[i], f + i * w, w);
		if (v[0] != t->prev.rip && v[0] != next)
			continue;
		uint64_t traced = X86_RFLAGS_TF | X86_RFLAGS_FIXED;	/* a real RFLAGS image, with TF */
		if ((uint16_t)v[1] != t->prev.cs || (v[2] & traced) != traced)
			continue;
		if (t->prev.call && off == 0 && v[0] == next)	/* a return address */
			continue;
		x86_clear_tf_at(m, s, lin + 2 * w);
		return 0;
	}
	return 0;
}

/* The ring the instruction at this stop goes on in: an IRET's or SYSRET's target, else
 * the current one. */
static unsigned next_ring(struct insn_tracer *t, struct machine *m, unsigned id, unsigned mode, unsigned cpl)
{
	const struct kvm_regs *r = &m->kvm.run->s.regs.regs;
	const struct kvm_sregs *s = &m->kvm.run->s.regs.sregs;
	unsigned w;
	switch (id) {
	case X86_INS_SYSRET: case X86_INS_SYSEXIT: return 3;
	case X86_INS_IRETQ: w = 8; break;
	case X86_INS_IRETD: w = 4; break;
	case X86_INS_IRET: w = 2; break;
	default: return cpl;
	}
	uint8_t cs;
	return x86_read_linear(m, s, &t->tlb, stack_linear(r, s, mode, w), &cs, 1) == 1 ? cs & 3u : cpl;
}

static void changed_regs(struct insn_tracer *t, struct trace_record *rec, const struct kvm_regs *r,
			 const struct kvm_sregs *s)
{
	trace_changed_regs(rec, r, s, t->have_last ? &t->last_regs : NULL, &t->last_sregs);
	t->last_regs = *r;
	t->last_sregs = *s;
	t->have_last = 1;
}

/* What the decoded instruction may do that the tracer must follow: change the guest's
 * mappings, clear TF (a new KVM_SET_GUEST_DEBUG sets it again), or jump to a known place. */
static void classify(struct insn_tracer *t, const cs_insn *in, csh h)
{
	const cs_x86 *x = &in->detail->x86;
	unsigned id = in->id;
	t->prev.paging = id == X86_INS_INVLPG || id == X86_INS_INVPCID || id == X86_INS_WRMSR || id == X86_INS_LMSW;
	for (unsigned i = 0; i < x->op_count; i++)
		if (x->operands[i].type == X86_OP_REG && x->operands[i].reg >= X86_REG_CR0 &&
		    x->operands[i].reg <= X86_REG_CR15)
			t->prev.paging = 1;
	t->prev.flags = cs_insn_group(h, in, CS_GRP_INT) || cs_insn_group(h, in, CS_GRP_IRET) ||
			id == X86_INS_POPF || id == X86_INS_POPFD || id == X86_INS_POPFQ || id == X86_INS_SYSRET ||
			id == X86_INS_SYSEXIT || id == X86_INS_SYSCALL || id == X86_INS_SYSENTER || id == X86_INS_UD2;
	t->prev.target = 0;
	if ((cs_insn_group(h, in, CS_GRP_JUMP) || cs_insn_group(h, in, CS_GRP_CALL)) && x->op_count == 1 &&
	    x->operands[0].type == X86_OP_IMM && id != X86_INS_LJMP && id != X86_INS_LCALL)
		t->prev.target = (uint64_t)x->operands[0].imm;
}

/* The vector of the interrupt gate this instruction goes through, or -1. */
static int gate_vector(const cs_insn *in, unsigned mode, uint64_t rflags)
{
	const cs_x86 *x = &in->detail->x86;
	switch (in->id) {
	case X86_INS_INT:
		return x->op_count == 1 && x->operands[0].type == X86_OP_IMM ? (int)(x->operands[0].imm & 0xff) : -1;
	case X86_INS_INT1: return 1;
	case X86_INS_INT3: return 3;
	case X86_INS_INTO: return mode == 64 ? 6 : rflags & X86_RFLAGS_OF ? 4 : -1;
	case X86_INS_UD2: return 6;
	default: return -1;
	}
}

/* Reads and decodes the instruction at this stop; writes it if inside the window. */
static void record(struct insn_tracer *t, struct machine *m, int event)
{
	const struct kvm_regs *r = &m->kvm.run->s.regs.regs;
	const struct kvm_sregs *s = &m->kvm.run->s.regs.sregs;
	struct trace_record rec = { .pos = t->pos, .rip = r->rip, .event = event, .unstepped = -1, .loaded = t->loaded };
	rec.mode = x86_cpu_mode(s);
	rec.cpl = s->cr0 & X86_CR0_PE ? s->cs.selector & 3 : 0;
	uint64_t lin = rec.mode == 64 ? r->rip : (s->cs.base + r->rip) & 0xffffffffULL;
	rec.nbytes = (unsigned)x86_read_linear(m, s, &t->tlb, lin, rec.bytes, 15);
	const uint8_t *code = rec.bytes;
	size_t size = rec.nbytes;
	uint64_t addr = r->rip;
	t->prev = (__typeof__(t->prev)){ .valid = 1, .rip = r->rip, .cs = s->cs.selector, .gate = -1 };
	if (rec.nbytes && cs_disasm_iter(t->cs[rec.mode == 64 ? 2 : rec.mode == 32], &code, &size, &addr, t->insn)) {
		const cs_insn *in = t->insn;
		rec.nbytes = in->size;
		rec.mnemonic = in->mnemonic;
		rec.operands = in->op_str;
		t->prev.len = in->size;
		t->prev.pushf = in->id == X86_INS_PUSHF || in->id == X86_INS_PUSHFD || in->id == X86_INS_PUSHFQ;
		t->prev.syscall = in->id == X86_INS_SYSCALL;
		t->prev.call = in->id == X86_INS_CALL || in->id == X86_INS_LCALL;
		t->prev.hlt = in->id == X86_INS_HLT;
		const cs_x86 *x = &in->detail->x86;
		classify(t, in, t->cs[rec.mode == 64 ? 2 : rec.mode == 32]);
		for (unsigned i = 0; i < x->op_count && rec.nmem < TRACE_MAX_MEM; i++)
			if (x->operands[i].type == X86_OP_MEM &&
			    !x86_operand_address(&x->operands[i], r, s, rec.mode, r->rip + in->size, &rec.mem[rec.nmem]))
				rec.nmem++;
		unsigned ring = next_ring(t, m, in->id, rec.mode, rec.cpl);
		if (!(t->step_rings & (1u << ring)))
			rec.unstepped = (int)ring;
		t->prev.gate = gate_vector(in, rec.mode, r->rflags);
		/* handlers run in ring 0: without a breakpoint there it runs unstepped */
		if (t->prev.gate >= 0 && !(t->bp_rings & 1))
			rec.unstepped = 0;
	} else if (!(t->step_rings & (1u << rec.cpl))) {
		rec.unstepped = (int)rec.cpl;
	}
	t->loaded = 0;
	if (!t->open)
		return;
	rec.with_regs = t->regs;
	if (t->regs)
		changed_regs(t, &rec, r, s);
	t->fmt->record(t->out, &rec);
	t->traced++;
}

static void close_window(struct insn_tracer *t)
{
	if (t->open)
		t->ended_ns = mono_clock_ns();
	t->open = 0;
	t->done = 1;
	t->hook.stepping = 0;
}

/* Replay's watchdog: single-stepped time counts 1/TRACE_STEP_SLOWDOWN of itself. */
static void credit_watchdog(struct insn_tracer *t)
{
	uint64_t now = mono_clock_ns(), spent = now - t->credit_ns;
	t->credit_ns = now;
	if (!t->progress_ns || !*t->progress_ns)
		return;
	uint64_t p = *t->progress_ns + spent - spent / TRACE_STEP_SLOWDOWN;
	*t->progress_ns = p > now ? now : p;
}

static uint64_t handler_address(struct insn_tracer *t, struct machine *m, unsigned vector);

/* The guest stands at t->pos; -1 to go on, else an exit code. */
static int stop(struct insn_tracer *t, struct machine *m, int event)
{
	/* KVM's TF stays set from stop to stop unless the guest cleared it (an IRET, POPF or
	 * SYSRET, an interrupt gate), which the instruction or an unexpected RIP tells; the
	 * ioctl that sets it again is a third of a step's cost, so it is made only then */
	uint64_t rip = m->kvm.run->s.regs.regs.rip;
	int apply = t->must_apply || !t->prev.valid || t->prev.flags ||
		    (rip != t->prev.rip + t->prev.len && (!t->prev.target || rip != t->prev.target));
	t->must_apply = 0;
	if (t->prev.valid && t->prev.paging)
		x86_tlb_flush(&t->tlb);
	if (t->has_to && trace_pos_cmp(&t->pos, &t->to) >= 0) {
		close_window(t);
		apply = 1;
	} else {
		if (!t->open && trace_pos_cmp(&t->pos, &t->from) >= 0) {
			t->open = 1;
			t->started_ns = mono_clock_ns();
		}
		record(t, m, event);
		t->pos.step++;
		if ((t->pos.step & 255) == 0)
			credit_watchdog(t);
		/* KVM's emulator ends a single-stepped HLT with a debug stop in place of the HLT
		 * exit, so the guest would run on instead of waiting for its interrupt: let it
		 * halt, and step again from the delivery point after */
		if (t->prev.valid && t->prev.hlt) {
			t->hook.stepping = 0;
			apply = 1;
		}
		if (t->prev.valid && t->prev.gate >= 0) {
			t->hook.gate = 1;
			t->hook.entry_bp = handler_address(t, m, (unsigned)t->prev.gate);
			apply = 1;
		}
	}
	int r = apply ? step_debug_apply(m) : 0;
	if (r) {
		log_error("cannot single-step: %s", strerror(-r));
		return DETVM_EXIT_KVM;
	}
	return -1;
}

/* Where the gate for `vector` sends the guest (a linear address); 0 if it cannot be read. */
static uint64_t handler_address(struct insn_tracer *t, struct machine *m, unsigned vector)
{
	struct x86_gate g;
	return x86_idt_gate(m, &m->kvm.run->s.regs.sregs, &t->tlb, vector, &g) ? 0 : g.handler;
}

static int tracer_entering(struct run_tracer *h, struct machine *m, int event)
{
	struct insn_tracer *t = (struct insn_tracer *)h;
	if (t->done || m->stats.exits < t->from.exit)
		return -1;
	/* what the previous entry or gate expected is over: the guest made an exit */
	t->event = TRACER_NO_EVENT;
	t->hook.gate = 0;
	t->hook.entry_bp = 0;
	/* the exit's instruction finished first, so this is the state the guest goes on from
	 * (a single-step stop KVM makes right after finishing it is that same state) */
	int r = kvm_vcpu_complete_exit(&m->kvm);
	if (r < 0 || (r > 0 && m->kvm.run->exit_reason != KVM_EXIT_DEBUG)) {
		log_error("cannot complete exit %" PRIu64 " before tracing on: %s", m->stats.exits,
			  r < 0 ? strerror(-r) : "KVM stopped the guest");
		return DETVM_EXIT_KVM;
	}
	t->pos = (struct trace_pos){ m->stats.exits, 0 };
	x86_tlb_flush(&t->tlb);	/* the guest ran unwatched */
	t->must_apply = 1;
	t->loaded = m->stats.states_loaded != t->states_loaded;
	t->states_loaded = m->stats.states_loaded;
	t->hook.stepping = 1;
	if (!t->credit_ns)
		t->credit_ns = mono_clock_ns();
	if (event == TRACER_NO_EVENT) {
		t->prev.valid = 0;
		return stop(t, m, TRACER_NO_EVENT);
	}
	/* no instruction runs here: the first stop is the handler's, and its frame holds
	 * this RIP */
	const struct kvm_run *run = m->kvm.run;
	t->prev = (__typeof__(t->prev)){ .valid = 1, .rip = run->s.regs.regs.rip, .cs = run->s.regs.sregs.cs.selector };
	t->event = event;
	t->hook.gate = 1;
	t->hook.entry_bp = event >= 0 ? handler_address(t, m, (unsigned)event) : 0;
	r = step_debug_apply(m);
	if (r) {
		log_error("cannot single-step: %s", strerror(-r));
		return DETVM_EXIT_KVM;
	}
	return -1;
}

static int tracer_stepped(struct run_tracer *h, struct machine *m)
{
	struct insn_tracer *t = (struct insn_tracer *)h;
	if (!t->hook.stepping)
		return -1;
	struct kvm_regs *r = &m->kvm.run->s.regs.regs;
	const struct kvm_sregs *s = &m->kvm.run->s.regs.sregs;
	int err = undo_tf_leak(t, m, r, s);
	if (err) {
		log_error("cannot take the trap flag back from the guest: %s", strerror(-err));
		return DETVM_EXIT_KVM;
	}
	/* an injected event is reported on its handler's first instruction only */
	uint64_t lin = x86_cpu_mode(s) == 64 ? r->rip : (s->cs.base + r->rip) & 0xffffffffULL;
	int event = t->hook.gate && t->hook.entry_bp == lin ? t->event : TRACER_NO_EVENT;
	t->event = TRACER_NO_EVENT;
	if (t->hook.gate)
		t->must_apply = 1;
	t->hook.gate = 0;
	t->hook.entry_bp = 0;
	return stop(t, m, event);
}

static const struct run_tracer_ops tracer_ops = {
	.entering = tracer_entering,
	.stepped = tracer_stepped,
};

int insn_tracer_init(struct insn_tracer *t, const struct trace_format *fmt, FILE *out)
{
	static const cs_mode modes[3] = { CS_MODE_16, CS_MODE_32, CS_MODE_64 };
	memset(t, 0, sizeof(*t));
	t->hook.ops = &tracer_ops;
	t->fmt = fmt;
	t->out = out;
	t->event = TRACER_NO_EVENT;
	char err[300];
	if (capstone_lib_load(err, sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	for (unsigned i = 0; i < 3; i++) {
		cs_err e = cs_open(CS_ARCH_X86, modes[i], &t->cs[i]);
		if (e == CS_ERR_OK)
			e = cs_option(t->cs[i], CS_OPT_DETAIL, CS_OPT_ON);
		if (e != CS_ERR_OK) {
			log_error("cannot open the Capstone disassembler: %s", cs_strerror(e));
			insn_tracer_destroy(t);
			return -1;
		}
	}
	t->insn = cs_malloc(t->cs[2]);
	if (!t->insn) {
		log_error("cannot open the Capstone disassembler: out of memory");
		insn_tracer_destroy(t);
		return -1;
	}
	return 0;
}

void insn_tracer_destroy(struct insn_tracer *t)
{
	if (t->insn)
		cs_free(t->insn, 1);
	t->insn = NULL;
	for (unsigned i = 0; i < 3; i++)
		if (t->cs[i])
			cs_close(&t->cs[i]);
}
