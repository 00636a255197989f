/*
 * The replayer: a hostio whose every input comes from a trace (no stdin, no network
 * peer, no wall clock), and a run observer that checks each guest-caused exit, injected
 * interrupt and checkpoint against the trace. The first mismatch stops the run with
 * "diverged at exit N (rip ...): expected ..., got ...".
 */
#ifndef DETVM_REPLAY_REPLAY_H
#define DETVM_REPLAY_REPLAY_H

#include <stdint.h>

#include "logs/trace.h"
#include "vmm/hostio.h"
#include "vmm/irq_gate.h"
#include "vmm/observer.h"

#define REPLAY_MAX_DISKS 4
#define REPLAY_EXIT_DIVERGED 6	/* detvm's exit status for a divergence */
#define REPLAY_EXIT_TRACE 7	/* ... and for a trace it cannot read to its end */

struct replayer {
	struct hostio io;
	struct run_observer obs;
	struct trace_reader *r;		/* owned */
	struct trace_event cur;		/* the next event, not yet consumed */
	int have;			/* cur is valid */
	int status;			/* when !have: 0 clean end, or the reader's error */
	uint64_t position;
	uint64_t rip;			/* at the last exit, for messages */
	int out_fd;			/* console output */
	int disk_fd[REPLAY_MAX_DISKS];
	uint64_t disk_size[REPLAY_MAX_DISKS];
	unsigned ndisks;
	uint64_t frames_discarded;	/* guest transmits: there is no peer in replay */
	uint64_t events;		/* consumed */
	uint64_t checkpoints;		/* compared and equal */
	uint64_t step_points;		/* step delivery points reached */
	uint64_t progress_ns;		/* host monotonic time of the last exit or step point */
	int failed;			/* exit status to stop with, 0 while all matches */
	char msg[768];
	int ended;			/* the recording's End was reached and matched */
	int end_code;
	int mute;			/* console output not written: replay re-runs what it showed */
	struct vcpu_state step_state;	/* the next step point's, decoded */
	struct page_image *step_pages;
	size_t step_pages_cap;
	struct irq_gate gate;		/* a chaos trace's: see replayer_follow_chaos */
	uint32_t chaos_max;
	int chaos_holding;		/* holding since exit chaos_from */
	uint64_t chaos_from;
	/* told before each disk write lands (replay checkpoints keep what it overwrites) */
	void (*disk_writing)(void *ctx, unsigned disk, uint64_t off, uint64_t len);
	void *disk_ctx;
};

/* Where the replayer stands in the trace, to come back to (reverse execution). */
struct replay_place {
	struct trace_mark mark;
	uint64_t position, rip, events, checkpoints, step_points, frames_discarded;
};

/* Takes ownership of r (positioned after the header). out_fd receives the console. */
void replayer_init(struct replayer *p, struct trace_reader *r, int out_fd);
/* A disk for the guest: a private copy of the recorded snapshot (the fd is owned). */
void replayer_add_disk(struct replayer *p, int fd, uint64_t size);
void replayer_destroy(struct replayer *p);
/* The trace is a chaos recording whose delays were at most max_delay exits: p->gate
 * injects a deliverable interrupt only where the trace has one (install it as the
 * machine's gate). */
void replayer_follow_chaos(struct replayer *p, uint32_t max_delay);
/* The place now: 0, or -1 where there is none to come back to (failed, or no event left). */
int replayer_place(const struct replayer *p, struct replay_place *pl);
/* Back to a place taken earlier: 0, or an exit code (the trace cannot be read again). */
int replayer_return(struct replayer *p, const struct replay_place *pl);

#endif
