/*
 * What the run loop tells the record/replay engine, and asks it. Run mode installs no
 * observer; record logs each call into the trace; replay checks each call against the
 * trace and stops the loop at the first mismatch. The call order per guest-caused exit
 * N is fixed, so a trace is a sequence in exactly this order:
 *   exit(N) -> [device work: clock reads, disk status] -> [host events due at N]
 *   -> [checkpoint(N)] -> [interrupt(N)] -> guest runs -> exit(N+1) ...
 * A `step` delivery point takes a position too, in place of the exit:
 *   step_point(N+1) -> [host events due at N+1] -> [checkpoint(N+1)] -> [interrupt(N+1)]
 */
#ifndef DETVM_VMM_OBSERVER_H
#define DETVM_VMM_OBSERVER_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/vcpu_state.h"
#include "vmm/x86.h"

#define OBSERVER_DIGEST_BYTES 16

struct run_digest {
	uint8_t regs[OBSERVER_DIGEST_BYTES];
	uint8_t mem[OBSERVER_DIGEST_BYTES];
};

/* A 4 KiB page of guest memory as a step point carries it: the whole page (data), or
 * the bytes that differ from the page at the point's last exit (delta, data NULL; see
 * vmm/page_delta.h). */
struct page_image {
	uint64_t gpa;
	const uint8_t *data;
	const uint8_t *delta;
	size_t delta_len;
};

/*
 * A `step` delivery point: where the live host stopped a guest that had run without
 * exits while input was due (DESIGN.md). It takes the next position, last_exit + 1.
 * Between last_exit and here the guest took no input, so its state here follows from its
 * state there: `state` and `pages` (every page it may have written since) are that state,
 * which replay loads instead of running the guest here. An interrupt-window landmark, or
 * a step point of an older trace, has no state: replay runs to it and compares.
 */
struct step_landmark {
	uint64_t last_exit;
	uint64_t rip;
	uint8_t regs[OBSERVER_DIGEST_BYTES];	/* observer_regs_landmark() there */
	uint8_t mem[OBSERVER_DIGEST_BYTES];	/* the memory digest there (zeros untracked) */
	int has_mem;				/* mem is to be compared */
	uint64_t elapsed_ns;	/* recording host time from last_exit to here; 0 unknown */
	const struct vcpu_state *state;		/* NULL: none */
	const struct page_image *pages;
	size_t npages;
};

enum { OBSERVER_WINDOW_ASK, OBSERVER_WINDOW_NONE, OBSERVER_WINDOW_STEP };

struct run_observer_ops {
	/* Guest-caused exit `position` (1-based), before it is handled. run->s.regs holds
	 * the registers; mem is the memory digest there where the loop took one (interrupt
	 * windows, which need a landmark), else NULL. Nonzero stops the run (a divergence
	 * or a trace error). */
	int (*exit)(void *self, uint64_t position, const struct kvm_run *run, const uint8_t *mem);
	/* An interrupt with this vector is about to be injected at `position`. */
	int (*interrupt)(void *self, uint64_t position, unsigned vector, uint64_t rip);
	/* The loop enters the guest after delivery point `position` without injecting one
	 * (there is one such entry per position); `pending`: the PIC holds one the guest
	 * cannot take yet. Replay fails if the recording injected here, or waited for an
	 * interrupt window next while nothing is pending now. */
	int (*no_interrupt)(void *self, uint64_t position, uint64_t rip, int pending);
	/* Whether to take a checkpoint now, after exit `position` was handled. */
	int (*want_checkpoint)(void *self, uint64_t position);
	int (*checkpoint)(void *self, uint64_t position, uint64_t rip, const struct run_digest *d);
	/* Replay: the recording ended after exit `position`: stop here with *code. */
	int (*should_stop)(void *self, uint64_t position, int *code);
	/* An interrupt is pending after exit `position` and the guest cannot take it yet:
	 * how to wait for the window. Live: OBSERVER_WINDOW_ASK, KVM reports it. Replay:
	 * ASK only where the recording's next exit is that window; OBSERVER_WINDOW_STEP
	 * where that window carries a landmark (lm filled: the loop steps to it); else
	 * OBSERVER_WINDOW_NONE: the recording's guest exited otherwise
	 * first, and a host that reports windows late may report one earlier this time. */
	int (*window)(void *self, uint64_t position, struct step_landmark *lm);
	/* A `step` delivery point, at position lm->last_exit + 1: record logs it, replay
	 * checks that the trace has it next. */
	int (*step_point)(void *self, const struct step_landmark *lm);
	/* Replay: the trace's next event is a step point after exit `position`; the loop
	 * must single-step to it. 1 and *lm filled. */
	int (*step_target)(void *self, uint64_t position, struct step_landmark *lm);
	/* A host-caused return from KVM_RUN (signal, kick): time to flush buffers. */
	int (*host_exit)(void *self);
	/* The run ended with `code`; d is NULL when the state at the end is not a guest
	 * exit boundary (timeout, interrupt) and so cannot be compared. */
	int (*end)(void *self, uint64_t position, int code, const char *why, const struct run_digest *d);
	/* One line saying why the observer stopped the run, and the exit code to use. */
	int (*failure)(void *self, char *msg, unsigned len);
};

/* The landmark digest of a vCPU's general registers and flags (TF and RF excluded:
 * single-stepping sets them). */
static inline void observer_regs_landmark(const struct kvm_regs *r, uint8_t out[OBSERVER_DIGEST_BYTES])
{
	uint64_t v[18] = { r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rsp, r->rbp, r->r8,
			   r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15, r->rip,
			   r->rflags & ~X86_RFLAGS_STEPPING };
	uint64_t a = 0x243f6a8885a308d3ULL, b = 0x13198a2e03707344ULL;
	for (unsigned i = 0; i < 18; i++) {
		a = (a ^ v[i]) * 0x9fb21c651e98df25ULL;
		a ^= a >> 29;
		b = (b + v[i]) * 0xc2b2ae3d27d4eb4fULL;
		b ^= b >> 31;
	}
	for (unsigned i = 0; i < 8; i++) {
		out[i] = (uint8_t)(a >> (8 * i));
		out[8 + i] = (uint8_t)(b >> (8 * i));
	}
}

/* An interrupt window in ring 0 gets a landmark: a host that emulates ring 0 may report
 * it late, at a point replay has to find again (ExitRecord.landmark). */
static inline int observer_window_has_landmark(const struct kvm_run *run)
{
	return run->exit_reason == KVM_EXIT_IRQ_WINDOW_OPEN && (run->s.regs.sregs.cs.selector & 3) == 0;
}

/*
 * How long replay waits for something the recording reached in `recorded_ns` of wall
 * time (an exit, a landmark) before calling it a divergence. Replay is slower where
 * it has to stop often (~8x with breakpoints, ~16x single-stepping here), but 200x
 * means it went elsewhere; never more than 10 minutes, so a trace that says days is
 * answered in minutes.
 */
#define OBSERVER_SEARCH_MIN_NS (2 * 1000000000ULL)
#define OBSERVER_SEARCH_MAX_NS (600 * 1000000000ULL)
#define OBSERVER_SEARCH_SLOWDOWN 200
/* Exits that came this long or longer after the previous one carry their elapsed time
 * (ExitRecord.elapsed_ns); the others took less. */
#define OBSERVER_SLOW_EXIT_NS (100 * 1000000ULL)

/* Single-stepping every instruction (no hardware breakpoints) costs a VM exit each: a
 * stretch of ring-0 code the recording ran in 1.5 ms took 3 s stepped in the KVM host VM. */
#define OBSERVER_STEPPED_SLOWDOWN 5000

static inline uint64_t observer_budget_ns(uint64_t recorded_ns, uint64_t slowdown)
{
	if (recorded_ns > (OBSERVER_SEARCH_MAX_NS - OBSERVER_SEARCH_MIN_NS) / slowdown)
		return OBSERVER_SEARCH_MAX_NS;
	return OBSERVER_SEARCH_MIN_NS + slowdown * recorded_ns;
}

static inline uint64_t observer_search_budget_ns(uint64_t recorded_ns)
{
	return observer_budget_ns(recorded_ns, OBSERVER_SEARCH_SLOWDOWN);
}

struct run_observer {
	const struct run_observer_ops *ops;
	void *self;
};

#endif
