/*
 * Whether an interrupt the guest could take now is injected now or held. The run loop
 * asks at every delivery point where the PIC has an interrupt and the vCPU can take it;
 * without a gate it injects at once (the `sync` behaviour of DESIGN.md). Chaos runs and
 * recordings install a seeded policy (vmm/chaos.h); replay of a chaos trace installs one
 * that holds wherever the trace says the recording did not inject.
 */
#ifndef DETVM_VMM_IRQ_GATE_H
#define DETVM_VMM_IRQ_GATE_H

#include <stdint.h>

struct irq_gate_ops {
	/* An interrupt is deliverable at delivery point `position`; `halted`: the guest
	 * stopped on HLT, which only an interrupt may end. 1 holds it past this point (the
	 * loop enters the guest without it and without asking for an interrupt window),
	 * 0 injects it. */
	int (*hold)(void *self, uint64_t position, int halted);
	/* Live runs only, optional: called at every delivery point just before the guest
	 * is entered; it may keep the vCPU off the CPU for a while, as a host that
	 * deschedules it would, so host timers fire at other points of the guest's
	 * progress. Nothing the guest sees is logged here: what the pause changes reaches
	 * the trace as the usual timer events and interrupts at their positions. */
	void (*pause)(void *self, uint64_t position);
};

struct irq_gate {
	const struct irq_gate_ops *ops;
	void *self;
};

#endif
