/*
 * Go-live on the FT backup: replay up to exactly the end of the log, then the live host.
 *
 * A hostio and a run observer in front of the replayer. While the log has events, every
 * call goes to the replayer (inputs from the log, each exit checked against it). The
 * first call that finds the log ended because the primary died -- at an exit, a clock
 * read, a delivery point, mid-exit or between exits -- asks may_go_live (the arbiter),
 * and on yes switches, for good, to the live host:
 *  - the guest clock runs on from the last value the replay gave it;
 *  - the timers the devices armed during replay are armed on the live host;
 *  - the shared disks get every block the replay wrote to its private copy (writes the
 *    primary may not have released are issued again: idempotent), then take the writes;
 *  - the console, frames and disk go to the host from here, and the run loop makes its
 *    own delivery points (`step` fallback) as a live run does.
 * Devices keep their state throughout: they never see the switch.
 *
 * The console side channel (seq_fd >= 0): each chunk of console output, replayed or
 * live, is preceded there by a line "OFFSET LENGTH" -- OFFSET counts the guest's console
 * bytes since it booted -- so a reader following the primary and then the backup drops
 * the bytes it has seen and notices a gap.
 */
#ifndef DETVM_FT_GOLIVE_H
#define DETVM_FT_GOLIVE_H

#include <stdint.h>

#include "ft/output.h"
#include "replay/replay.h"
#include "vmm/host_run.h"
#include "vmm/observer.h"

struct machine;

#define FT_GOLIVE_MAX_NICS 4

struct ft_golive {
	struct hostio io;		/* what the devices see */
	struct run_observer obs;	/* what the run loop sees */
	struct replayer *rp;
	struct host_run *live;		/* disks and nics open; started at the switch */
	struct hostio *out;		/* once live: the live host, or what protects it */
	struct run_observer *live_obs;	/* once live: NULL, or the re-protected VM's recorder */
	struct machine *m;
	/* The log ended: may this backup go live? 1 yes; 0 no (the replay then ends as a
	 * trace that stopped, exit 7). Called once. */
	int (*may_go_live)(void *ctx, uint64_t position);
	void *ctx;
	int live_now, refused;
	const struct arbiter *authority;	/* live: while it holds (NULL: no arbiter) */
	struct ft_fence *fence;		/* the shared disks' (NULL: none): live writes go through it */
	int fenced;			/* live, and the arbiter was lost: halting */
	uint64_t armed[HOSTIO_TIMERS];	/* what the devices asked for during replay */
	uint64_t guest_ns;		/* the guest clock as far as replay took it */
	uint8_t *dirty[REPLAY_MAX_DISKS];	/* 4 KiB blocks the replay wrote */
	uint64_t nblocks[REPLAY_MAX_DISKS];
	int seq_fd;
	uint64_t console_off;
	/* console bytes the primary released (the link's MARK; NULL: none come): replayed
	 * console output waits here until the primary has released it (then it is dropped)
	 * or the backup goes live (then it is issued again: the re-issued window) */
	const uint64_t *released;
	uint8_t *pending;
	size_t pending_len;
	uint64_t pending_off;		/* console offset of pending[0] */
	uint64_t console_skipped, console_reissued;	/* replayed bytes dropped, shown */
	const char *nic_spec[FT_GOLIVE_MAX_NICS];	/* backends opened at the switch */
	unsigned nnics;
	/* what happened at the switch */
	uint64_t position, host_ns, blocks_copied;
	int error;			/* -errno of a failed switch (the run then stops) */
};

/* live must hold the shared disks (same order as the replayer's private copies) and
 * any network backends; seq_fd -1 for no side channel. */
int ft_golive_init(struct ft_golive *g, struct replayer *rp, struct host_run *live, int seq_fd,
		   int (*may_go_live)(void *ctx, uint64_t position), void *ctx);
void ft_golive_set_machine(struct ft_golive *g, struct machine *m);
/* Live and re-protected: the devices' host calls go to out (the recorder in front of the
 * output rule in front of the live host) and the run loop's observations to obs. */
void ft_golive_protected(struct ft_golive *g, struct hostio *out, struct run_observer *obs);
/* A backup that started from a transferred state: the clock and console offset it had. */
void ft_golive_restored(struct ft_golive *g, uint64_t guest_ns, uint64_t console_off);
void ft_golive_destroy(struct ft_golive *g);

#endif
