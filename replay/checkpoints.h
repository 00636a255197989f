/*
 * In-memory checkpoints of a replay, for going backwards (the gdb stub): each holds the
 * machine state (vmm/machine_state.h), the replayer's place in the trace, and full
 * copies of the guest pages changed since the previous checkpoint (the first: every
 * nonzero page). Going back to checkpoint t writes back, for every page changed since
 * t, its latest copy at or before t. Their total size stays under a budget: past it,
 * checkpoints are merged into their successors, the closest-spaced first.
 */
#ifndef DETVM_REPLAY_CHECKPOINTS_H
#define DETVM_REPLAY_CHECKPOINTS_H

#include <stddef.h>
#include <stdint.h>

#include "replay/checkpoint_disks.h"
#include "replay/replay.h"
#include "vmm/machine.h"
#include "vmm/state_io.h"

struct checkpoint {
	uint64_t exits;			/* the delivery point after this exit ... */
	uint64_t steps;			/* ... or this many single-steps past it */
	struct state_out state;		/* machine_state_save() */
	int exception_queued;
	int request_window;		/* the run loop asked KVM for an interrupt window */
	struct replay_place place;
	uint64_t npages;
	uint64_t *pages;		/* page indices (guest_mem slot order), ascending */
	uint8_t *data;			/* npages * 4 KiB */
	struct block_copies blocks;	/* disk blocks written since the previous one */
};

struct checkpoints {
	struct checkpoint *cp;
	size_t n, cap;
	size_t base;		/* the digest's changed set is relative to cp[base] */
	uint64_t bytes, budget;
	uint64_t taken, merged;
	uint64_t last_ns;	/* host time when the frontier checkpoint was taken */
	int full;		/* over budget with nothing left to merge: no more taken */
	struct cp_disks *disks;	/* the replay's disks, watched; NULL: none */
};

void checkpoints_init(struct checkpoints *s, uint64_t budget);
void checkpoints_destroy(struct checkpoints *s);
/* Keeps the replay's disks too (call before the run starts). 0 or -ENOMEM. */
int checkpoints_watch_disks(struct checkpoints *s, struct replayer *rp);
/*
 * At a delivery point (steps 0), or between instructions `steps` single-steps past one,
 * with nothing half done: takes a checkpoint where the policy says so, or, re-running
 * known history, notes passing one. 0, or -errno with err holding one line.
 */
int checkpoints_at(struct checkpoints *s, struct machine *m, struct replayer *p, uint64_t steps, char *err,
		   size_t errlen);
/* The latest checkpoint at or before (exits, steps); -1: none. */
long checkpoints_find(const struct checkpoints *s, uint64_t exits, uint64_t steps);
/* Puts the machine and the replayer back to checkpoint t. 0, or a detvm exit code with
 * err holding one line. */
int checkpoints_restore(struct checkpoints *s, size_t t, struct machine *m, struct replayer *p, char *err,
			size_t errlen);

#endif
