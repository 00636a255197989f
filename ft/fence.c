#include "ft/fence.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/file_io.h"
#include "vmm/log.h"

int ft_fence_open(struct ft_fence *f, const char *const *disks, unsigned n, uint64_t gen, char *err, size_t errlen)
{
	memset(f, 0, sizeof(*f));
	for (unsigned d = 0; d < FT_FENCE_MAX; d++)
		f->fd[d] = -1;
	f->gen = gen;
	f->n = n < FT_FENCE_MAX ? n : FT_FENCE_MAX;
	for (unsigned d = 0; d < f->n; d++) {
		char path[4200];
		if (!disks[d])	/* read-only: nobody writes it */
			continue;
		snprintf(path, sizeof(path), "%s.fence", disks[d]);
		f->fd[d] = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (f->fd[d] < 0) {
			int e = errno;
			snprintf(err, errlen, "cannot open the fence of the shared disk, %s: %s", path, strerror(e));
			ft_fence_close(f);
			return -e;
		}
	}
	return 0;
}

static int lock(int fd, short type)
{
	struct flock l = { .l_type = type, .l_whence = SEEK_SET };
	int r;
	while ((r = fcntl(fd, F_SETLKW, &l)) < 0 && errno == EINTR)
		;
	return r < 0 ? -errno : 0;
}

int ft_fence_enter(struct ft_fence *f, unsigned d)
{
	if (f->stale)
		return -ESTALE;
	if (d >= f->n || f->fd[d] < 0)
		return 0;
	int fd = f->fd[d], r = lock(fd, F_WRLCK);
	if (r)
		return r;
	char buf[32] = "";
	ssize_t got = pread(fd, buf, sizeof(buf) - 1, 0);
	uint64_t owner = got > 0 ? strtoull(buf, NULL, 10) : 0;
	if (owner > f->gen) {
		lock(fd, F_UNLCK);
		f->stale = 1;
		log_error("the shared disk %u was written by generation %" PRIu64 ", this side is generation %" PRIu64
			  ": fenced off, writing nothing more", d, owner, f->gen);
		return -ESTALE;
	}
	if (owner < f->gen) {
		int n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", f->gen);
		r = file_pwrite_full(fd, buf, (size_t)n, 0);
		if (!r && (ftruncate(fd, n) < 0 || fdatasync(fd) < 0))
			r = -errno;
		if (r) {
			lock(fd, F_UNLCK);
			return r;
		}
	}
	return 0;
}

void ft_fence_leave(struct ft_fence *f, unsigned d)
{
	if (d < f->n && f->fd[d] >= 0)
		lock(f->fd[d], F_UNLCK);
}

int ft_fence_disk_write(struct ft_fence *f, struct hostio *io, unsigned d, uint64_t off, const void *buf,
			size_t len)
{
	int r = f ? ft_fence_enter(f, d) : 0;
	if (r)
		return r;
	r = hostio_disk_write(io, d, off, buf, len);
	if (f)
		ft_fence_leave(f, d);
	return r;
}

void ft_fence_close(struct ft_fence *f)
{
	for (unsigned d = 0; d < f->n; d++) {	/* n is 0 in one never opened */
		if (f->fd[d] >= 0)
			close(f->fd[d]);
		f->fd[d] = -1;
	}
	f->n = 0;
}
