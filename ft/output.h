/*
 * The output rule of the FT primary: console bytes, transmitted frames and disk writes
 * leave the primary only once the backup holds the log that produced them.
 *
 * A hostio between the recorder and the live host (recorder -> ft_hold -> host_run):
 * inputs pass through untouched; each output is queued instead of done. At the next
 * delivery point the recorder's open block is flushed to the link, so the exit that made
 * the output is in a piece the backup will acknowledge; the output waits for that ACK
 * and is then done, in order. Disk reads see queued writes. Only outputs wait: the guest
 * runs on, until HOLD_MAX_BYTES are queued, and then it waits too.
 */
#ifndef DETVM_FT_OUTPUT_H
#define DETVM_FT_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "ft/arbiter.h"
#include "ft/fence.h"
#include "ft/link.h"
#include "vmm/hostio.h"

#define FT_HOLD_MAX_BYTES (16u << 20)

struct ft_output;

struct ft_hold {
	struct hostio io;		/* what the recorder sends outputs to */
	struct hostio *inner;		/* the live host */
	struct ft_link *link;
	int (*flush)(void *ctx);	/* the recorder's open block to the link now */
	void *flush_ctx;
	struct ft_output *head, *tail;	/* queued outputs, oldest first */
	size_t held_bytes;
	int unmarked;			/* outputs queued since the last flush */
	int unsynced;			/* a disk flush among them: the piece must be made durable */
	/* the backup is gone: 1 go on alone (every output goes at once), 0 halt (none
	 * goes again); asked once */
	int (*lost)(void *ctx);
	void *lost_ctx;
	int alone, halted;
	const struct arbiter *authority;	/* alone: while it holds (NULL: no arbiter) */
	struct ft_fence *fence;		/* the shared disks' (NULL: none) */
	int fenced;			/* the arbiter lost, or a newer generation wrote: halted */
	uint64_t stall_at;		/* a test's hook: SIGSTOP before this disk write (0 never) */
	uint64_t disk_writes;		/* released so far */
	int seq_fd;			/* console side channel, -1 none */
	uint64_t console_off;
	uint64_t outputs, released, waited_ms;	/* counters */
};

void ft_hold_init(struct ft_hold *h, struct hostio *inner, struct ft_link *link);
/* What flushes the recorder's block to the link (set once the recorder exists). */
void ft_hold_set_flush(struct ft_hold *h, int (*flush)(void *ctx), void *ctx);
/* Everything still queued goes out once the backup acknowledged it (waits at most
 * timeout_ms); 0, or -EPIPE / -ETIMEDOUT with outputs left behind. */
int ft_hold_drain(struct ft_hold *h, int timeout_ms);
void ft_hold_destroy(struct ft_hold *h);
/* The backup is gone: asks lost() once; 0 when going on alone, -EPIPE when halted. */
int ft_hold_lost(struct ft_hold *h);

/* The console side channel: "OFFSET LENGTH\n" to fd (if >= 0) before each chunk of
 * console output, OFFSET counting the guest's console bytes since boot; advances *off.
 * A reader following the primary and then its backup drops what it has seen by OFFSET
 * and notices a gap. */
void ft_console_seq(int fd, uint64_t *off, size_t len);

#endif
