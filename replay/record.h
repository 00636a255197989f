/*
 * The recorder: a hostio that wraps the live one (run mode) and writes every input it
 * passes to a device into the trace, with its position; and a run observer that logs
 * every guest-caused exit, injected interrupt and checkpoint. Devices subscribe to the
 * recorder's hostio and never see the difference.
 */
#ifndef DETVM_REPLAY_RECORD_H
#define DETVM_REPLAY_RECORD_H

#include <stdint.h>

#include "logs/trace.h"
#include "vmm/hostio.h"
#include "vmm/observer.h"

#define RECORD_CHECKPOINT_EXITS 10000
#define RECORD_CHECKPOINT_NS 1000000000ULL	/* at least once per second of guest time */

struct recorder {
	struct hostio io;		/* what devices see */
	struct hostio *inner;		/* the live host */
	struct run_observer obs;
	struct trace_writer *w;
	uint64_t position;		/* the guest exit the VMM is handling */
	uint64_t guest_ns;		/* latest guest clock value that went into the trace */
	uint64_t last_checkpoint_ns;
	uint64_t checkpoint_exits;
	int error;			/* first writer error, -errno; recording stops on it */
	int end_code;
	int ended;
	struct run_digest final;
	int have_final;
	uint64_t checkpoints;
	uint64_t step_points;
	uint64_t last_exit_ns;		/* host monotonic time the last exit was logged */
	Detvm__PageImage *pages;	/* a step point's pages, as the trace holds them */
	Detvm__PageImage **pagep;
	size_t pages_cap;
};

/* Wraps inner (which must outlive the recorder); devices may subscribe to r->io now. */
void recorder_init(struct recorder *r, struct hostio *inner, uint64_t checkpoint_exits);
/* Creates the trace with its header (opts may be NULL; its sink streams the trace); before
 * this nothing may be logged. 0 or -errno. */
int recorder_start(struct recorder *r, const char *path, const Detvm__TraceHeader *hdr,
		   const struct trace_writer_opts *opts);
/* Writes the open block now (an FT primary whose output waits for it); 0 or -errno. */
int recorder_flush(struct recorder *r);
/* Writes the last block and the footer; 0 or -errno. Frees the writer either way. */
int recorder_close(struct recorder *r);
/* Writes the open block, then reports the writer's counters. */
void recorder_get_stats(struct recorder *r, struct trace_writer_stats *st);

#endif
