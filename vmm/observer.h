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
	/* A host-caused return from KVM_RUN (signal, kick): time to flush buffers. */
	int (*host_exit)(void *self);
	/* The run ended with `code`; d is NULL when the state at the end is not a guest
	 * exit boundary (timeout, interrupt) and so cannot be compared. */
	int (*end)(void *self, uint64_t position, int code, const char *why, const struct run_digest *d);
	/* One line saying why the observer stopped the run, and the exit code to use. */
	int (*failure)(void *self, char *msg, unsigned len);
};

struct run_observer {
	const struct run_observer_ops *ops;
	void *self;
};

#endif
