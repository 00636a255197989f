/*
 * What the run loop tells the record/replay engine, and asks it. Run mode installs no
 * observer; record logs each call into the trace; replay checks each call against the
 * trace and stops the loop at the first mismatch. The call order per guest-caused exit
 * N is fixed, so a trace is a sequence in exactly this order:
 *   exit(N) -> [device work: clock reads, disk status] -> [host events due at N]
 *   -> [checkpoint(N)] -> [interrupt(N)] -> guest runs -> exit(N+1) ...
 */
#ifndef DETVM_VMM_OBSERVER_H
#define DETVM_VMM_OBSERVER_H

#include <linux/kvm.h>
#include <stdint.h>

#define OBSERVER_DIGEST_BYTES 16

struct run_digest {
	uint8_t regs[OBSERVER_DIGEST_BYTES];
	uint8_t mem[OBSERVER_DIGEST_BYTES];
};

struct run_observer_ops {
	/* Guest-caused exit `position` (1-based), before it is handled. run->s.regs holds
	 * the registers. Nonzero stops the run (a divergence or a trace error). */
	int (*exit)(void *self, uint64_t position, const struct kvm_run *run);
	/* An interrupt with this vector is about to be injected at `position`. */
	int (*interrupt)(void *self, uint64_t position, unsigned vector, uint64_t rip);
	/* Whether to take a checkpoint now, after exit `position` was handled. */
	int (*want_checkpoint)(void *self, uint64_t position);
	int (*checkpoint)(void *self, uint64_t position, uint64_t rip, const struct run_digest *d);
	/* Replay: the recording ended after exit `position`: stop here with *code. */
	int (*should_stop)(void *self, uint64_t position, int *code);
	/* Replay: the trace's next exit is an interrupt window at a landmark: the loop must
	 * single-step to it instead of asking KVM for a window. 1 and *rip, digest filled. */
	int (*window_landmark)(void *self, uint64_t position, uint64_t *rip,
			       uint8_t digest[OBSERVER_DIGEST_BYTES]);
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
			   r->rflags & ~((1ULL << 8) | (1ULL << 16)) };
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

struct run_observer {
	const struct run_observer_ops *ops;
	void *self;
};

#endif
