/*
 * The seam for an instruction tracer (detvm trace): the run loop tells it where the guest
 * is about to run and hands it every single-step stop that is not a landmark of replay's
 * own. The tracer sets `stepping` and calls step_debug_apply() to have every instruction
 * stop; landmark stepping and tracing share the one KVM_SET_GUEST_DEBUG.
 */
#ifndef DETVM_VMM_TRACER_H
#define DETVM_VMM_TRACER_H

struct machine;

#define TRACER_NO_EVENT (-1)	/* the guest resumes where it stopped */
#define TRACER_EXCEPTION (-2)	/* KVM raises an exception on this entry (its vector unknown) */

struct run_tracer;
struct run_tracer_ops {
	/* The loop enters the guest after delivery point m->stats.exits (the start is point
	 * 0). event: the interrupt vector injected on this entry, or TRACER_*. -1 to go on,
	 * else an exit code. */
	int (*entering)(struct run_tracer *t, struct machine *m, int event);
	/* A single-step stop: the guest stands before its next instruction. -1 or a code. */
	int (*stepped)(struct run_tracer *t, struct machine *m);
};

struct run_tracer {
	const struct run_tracer_ops *ops;
	int stepping;		/* every instruction is to stop */
	/* with stepping: the guest is about to go through an interrupt gate (an injected event,
	 * INT n): no single-step across it, since the CPU would push the trap flag into the
	 * guest's frame and, where the gate's handler makes no stop before its IRET (the gate
	 * clears TF), nothing could take it out again; entry_bp stops at the handler instead */
	int gate;
	/* with stepping: also stop before this instruction (the handler a gate goes to); 0 none */
	uint64_t entry_bp;
};

#endif
