/*
 * The virtual TSC, served where KVM lets detvm see RDTSC and RDTSCP (the out-of-tree
 * capability KVM_CAP_X86_TSC_EXIT_DETVM, scripts/kvm-detvm/). A read is a guest-caused
 * exit (a position, checked on replay) and its value is a function of what replay
 * reproduces without an event of its own: the guest clock as the devices last saw it (a
 * clock read or a timer expiry, both already in the trace) and the reads since. Every
 * read moves on by at least VTSC_STEP, so a guest spinning until the TSC passes a value
 * gets there; the clock pulls it forward at every tick.
 */
#ifndef DETVM_VMM_VTSC_H
#define DETVM_VMM_VTSC_H

#include <stdint.h>

#define VTSC_KHZ 1000000ULL	/* 1 GHz: one tick per guest nanosecond */
#define VTSC_STEP 1000ULL	/* ticks a read moves on when the clock has not (1 us) */

struct vtsc {
	uint64_t last;		/* the last value served */
	uint64_t reads;
};

/* The value of the next read, with the devices' guest clock at seen_ns. */
uint64_t vtsc_read(struct vtsc *t, uint64_t seen_ns);

#endif
