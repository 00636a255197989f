/* Building trace events from what the run loop sees, and describing them in messages. */
#ifndef DETVM_REPLAY_EVENTS_H
#define DETVM_REPLAY_EVENTS_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "logs/trace.pb-c.h"
#include "vmm/observer.h"

/* Storage for one event under construction (the protobuf-c structs point into it). */
struct event_buf {
	Detvm__Event ev;
	union {
		Detvm__ExitRecord exit;
		Detvm__ClockRead clock;
		Detvm__WallclockRead wallclock;
		Detvm__Interrupt interrupt;
		Detvm__TimerFire timer;
		Detvm__ConsoleInput console;
		Detvm__NetRx net_rx;
		Detvm__DiskCompletion disk;
		Detvm__Checkpoint checkpoint;
		Detvm__Landmark landmark;
		Detvm__End end;
	} u;
	uint8_t data[64];	/* PIO string data beyond this is truncated in the record */
	uint8_t landmark[2 * OBSERVER_DIGEST_BYTES];	/* registers, then memory */
};

/*
 * The ExitRecord for a guest-caused exit (written data included, reads without data).
 * An interrupt window that opened in ring 0 also gets a landmark: some hosts emulate
 * ring 0 and report the window wherever they next look, so replay must find the place
 * again: the registers' digest, then mem (the memory digest there) when given, since
 * equal registers alone can recur with other memory. run->s.regs must hold regs and
 * sregs.
 */
void event_from_exit(struct event_buf *b, const struct kvm_run *run, const uint8_t *mem);
/* 1 if two exit records describe the same guest action. */
int event_exit_equal(const Detvm__ExitRecord *a, const Detvm__ExitRecord *b);
/* "pio out 0x3f8 size 1 data 41", "timer 0 at 10000000 ns", ... */
void event_describe(const Detvm__Event *ev, char *out, size_t len);

#endif
