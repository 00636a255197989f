/*
 * The disks of replay checkpoints (replay/checkpoints.h): replay writes the guest's disk
 * writes into private copies, so going back must put those blocks back too. As with
 * pages, a checkpoint holds copies of the 4 KiB blocks written since the previous one
 * (their content at the checkpoint); a block's content before its first write is kept
 * once. Going back to checkpoint t writes, for every block written since t, its latest
 * copy at or before t, else that original.
 */
#ifndef DETVM_REPLAY_CHECKPOINT_DISKS_H
#define DETVM_REPLAY_CHECKPOINT_DISKS_H

#include <stddef.h>
#include <stdint.h>

#include "replay/replay.h"

#define CP_BLOCK 4096u

/* Copies of blocks, sorted by (disk, block). */
struct block_copies {
	size_t n;
	uint64_t *key;			/* disk << 48 | block */
	uint8_t *data;			/* n * CP_BLOCK */
};

struct cp_disks {
	struct replayer *rp;
	unsigned n;
	uint64_t blocks[REPLAY_MAX_DISKS];
	uint64_t *dirty[REPLAY_MAX_DISKS];	/* written since the frontier checkpoint */
	uint8_t **orig[REPLAY_MAX_DISKS];	/* content before the first write, per block */
	uint64_t bytes;				/* of the originals */
	int err;				/* -errno: a block could not be kept */
};

/* Watches rp's disk writes from now on. 0 or -ENOMEM. */
int cp_disks_init(struct cp_disks *d, struct replayer *rp);
void cp_disks_destroy(struct cp_disks *d);
/* The blocks written since the frontier into out (content now); forgets them. 0 or -errno. */
int cp_disks_take(struct cp_disks *d, struct block_copies *out);
/* Re-running known history, passing a checkpoint: what was written is its copies already. */
void cp_disks_passed(struct cp_disks *d);
/* a's copies joined to b's (b's win: they are later). 0 or -ENOMEM; a is then empty. */
int block_copies_merge(struct block_copies *a, struct block_copies *b);
void block_copies_free(struct block_copies *c);
/* Back to checkpoint t of cps (their block copies at stride apart), base the frontier:
 * 0 or -errno. */
int cp_disks_restore(struct cp_disks *d, const struct block_copies *const *cps, size_t t, size_t base);

#endif
