/*
 * Fencing the shared disks: the arbiter's generation is the token. PATH.fence beside
 * each shared disk holds the newest generation that wrote the disk. Every write by a
 * side takes an fcntl lock on it, checks that no newer generation has written, raises
 * it to its own (durably, before the data), writes, and lets go. A primary that stood
 * still while its backup went live (generation G+1) therefore writes nothing more when
 * it resumes, wherever it stood -- even in the middle of releasing held writes -- and
 * halts.
 *
 * Why a lock file and not etcd: the check must sit next to the write, on the storage both
 * sides share, atomic with it; an fcntl lock is that on a local or NFS filesystem (lockd),
 * costs microseconds, and holds for a side the arbiter cannot reach. Checking the etcd
 * lease before each batch would still leave the window between the check and the write
 * open.
 */
#ifndef DETVM_FT_FENCE_H
#define DETVM_FT_FENCE_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/hostio.h"

#define FT_FENCE_MAX 8

struct ft_fence {
	int fd[FT_FENCE_MAX];	/* PATH.fence of each shared disk, -1: not fenced */
	unsigned n;
	uint64_t gen;		/* this side's generation: it writes as that */
	int stale;		/* a newer generation wrote: nothing more from this side */
};

/* Opens (creating, 0600) DISK.fence for each of the n disks (NULL: a read-only one, not
 * fenced); gen is the side's generation. 0, or -errno with err. */
int ft_fence_open(struct ft_fence *f, const char *const *disks, unsigned n, uint64_t gen, char *err, size_t errlen);
/* Before writing disk d: 0 (locked: write, then ft_fence_leave), or -ESTALE (a newer
 * generation wrote it: said once, in one line; nothing may be written from here on) or
 * -errno. */
int ft_fence_enter(struct ft_fence *f, unsigned d);
void ft_fence_leave(struct ft_fence *f, unsigned d);
/* hostio_disk_write to io, inside the fence of disk d when f is not NULL: its result, or
 * -ESTALE (nothing written: a newer generation wrote the disk). */
int ft_fence_disk_write(struct ft_fence *f, struct hostio *io, unsigned d, uint64_t off, const void *buf,
			size_t len);
void ft_fence_close(struct ft_fence *f);

#endif
