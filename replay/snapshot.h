/*
 * Snapshot files (`detvm snapshot`, `--restore`): a running machine's whole state at a
 * delivery point, to run, record or replay from later.
 *
 *   "DETVMSNP" | u32 format version | u32 header bytes | TraceHeader (the machine's
 *   configuration, as a trace has it; its disks are copies beside the snapshot,
 *   SNAPSHOT.diskN) | u64 state bytes | machine state (vmm/machine_state.h) | memory:
 *   1 MiB chunks, each u64 chunk index, a 256-bit map of its non-zero pages and an LZ4
 *   block of those pages, ended by index UINT64_MAX | SHA-256 of everything before it.
 *
 * The digest is checked before anything is believed, so a truncated or damaged file is
 * refused in one line; the file is written under a temporary name and renamed, so a
 * crash never leaves half a snapshot under the real name.
 */
#ifndef DETVM_REPLAY_SNAPSHOT_H
#define DETVM_REPLAY_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "logs/trace.h"
#include "vmm/machine.h"
#include "vmm/machine_state.h"

#define SNAPSHOT_FORMAT_VERSION 1

/* What a save reports. */
struct snapshot_info {
	uint64_t exits;		/* positions the machine had run */
	uint64_t bytes;		/* size of the file */
	uint64_t pages;		/* non-zero guest pages stored */
};

/*
 * Saves m (stopped at a delivery point) to path: its configuration cfg, disk copies
 * beside it, its state and memory, the guest clock at clock_ns (machine_state_save()). 0, or -errno with err holding one line.
 */
int snapshot_save(const char *path, struct machine *m, const struct machine_config *cfg, uint64_t clock_ns,
		  struct snapshot_info *info, char *err, size_t errlen);

struct snapshot {
	uint8_t *map;		/* the whole file, read-only */
	size_t len;
	Detvm__TraceHeader *hdr;
	const uint8_t *state, *mem;
	size_t state_len, mem_len;
	uint8_t sha256[32];	/* of the file, for a trace that starts from it */
};

/* Opens and checks a snapshot. 0, or a detvm exit code (DETVM_EXIT_USAGE: no such file;
 * DETVM_EXIT_TRACE: not a snapshot, truncated or damaged) with err holding one line. */
int snapshot_open(struct snapshot *s, const char *path, char *err, size_t errlen);
/* Loads memory and state into m, built from s->hdr's configuration. 0, or -errno. */
int snapshot_apply(const struct snapshot *s, struct machine *m, struct machine_saved *saved, char *err,
		   size_t errlen);
void snapshot_close(struct snapshot *s);

#endif
