/*
 * Chaos delivery, for live runs and recordings. Two seeded perturbations, both drawn
 * by one splitmix64 sequence from the user's seed:
 *  - delay: an interrupt the guest could take at exit P is held until the first
 *    delivery point at or after exit P + k, k uniform in 0..max_delay. Never at a HLT:
 *    a halted guest can only wait for the interrupt. A delay can only move an
 *    interrupt later in the guest's progress;
 *  - pause: at one delivery point in CHAOS_PAUSE_ODDS the vCPU stays off the CPU for
 *    0..max_pause_us microseconds before it re-enters, as when the host deschedules
 *    it, so the next timer tick lands earlier in the guest's progress.
 * Together they place preemptions where the host's timing rarely puts them. Replay
 * needs neither: the trace has the interrupts and timer events where they landed.
 */
#ifndef DETVM_VMM_CHAOS_H
#define DETVM_VMM_CHAOS_H

#include <stdint.h>

#include "vmm/irq_gate.h"

/* The default bound on a delay, in guest-caused exits: small, because a delay can
 * only push a preemption out of a short racy window, never into it. */
#define CHAOS_DEFAULT_MAX 16
/* The largest --chaos-max accepted. */
#define CHAOS_MAX_MAX 1000000
/* The default bound on one pause, in microseconds (0 turns pauses off): half a
 * 100 Hz tick, so a few pauses move the next tick anywhere in the guest's progress. */
#define CHAOS_DEFAULT_PAUSE_US 5000
#define CHAOS_PAUSE_MAX_US 1000000
/* One delivery point in this many pauses. */
#define CHAOS_PAUSE_ODDS 16

struct chaos {
	struct irq_gate gate;
	uint64_t seed;
	uint32_t max;		/* delay bound, exits */
	uint32_t max_pause_us;
	uint64_t prng;		/* splitmix64 state */
	int holding;		/* a delay is running */
	uint64_t until;		/* ... up to this exit */
	uint64_t delays;	/* interrupts that had a delay drawn */
	uint64_t held_exits;	/* sum of the delays drawn */
	uint64_t pauses;
	uint64_t paused_us;	/* sum of the pauses drawn */
};

void chaos_init(struct chaos *c, uint64_t seed, uint32_t max_delay, uint32_t max_pause_us);
/* splitmix64: the next number of the sequence seeded by chaos_init. */
uint64_t chaos_next(struct chaos *c);

#endif
