#include "vmm/file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int transfer(int fd, void *buf, size_t len, uint64_t off, int write)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = write ? pwrite(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done))
				  : pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

int file_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	return transfer(fd, buf, len, off, 0);
}

int file_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	return transfer(fd, (void *)buf, len, off, 1);
}

int file_write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int file_open_regular(const char *path, int flags)
{
	/* O_NONBLOCK: opening a FIFO would otherwise wait for a writer (regular files ignore it) */
	int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return -errno;
	int r = fstat(fd, &st) < 0 ? -errno : S_ISREG(st.st_mode) ? 0 : FILE_ERR_NOT_REGULAR;
	if (r) {
		close(fd);
		return r;
	}
	return fd;
}

int file_create_private(const char *path)
{
	/* no O_TRUNC yet: an earlier file keeps its mode, so it loses group and other access
	 * first, and one that belongs to someone else (fchmod fails) is not emptied */
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	struct stat st;
	if (fd < 0)
		return -errno;
	int r = fstat(fd, &st) < 0 ? -errno : 0;
	if (!r && S_ISREG(st.st_mode) && (st.st_mode & 077) && fchmod(fd, st.st_mode & 0700) < 0)
		r = -errno;
	if (!r && S_ISREG(st.st_mode) && ftruncate(fd, 0) < 0)	/* a FIFO or device is written as it is */
		r = -errno;
	if (r) {
		close(fd);
		return r;
	}
	return fd;
}

int file_create_temp(const char *path, char *tmp, size_t len)
{
	if ((size_t)snprintf(tmp, len, "%s.tmp.XXXXXX", path) >= len)
		return -ENAMETOOLONG;
	int fd = mkostemp(tmp, O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

const char *file_strerror(int err)
{
	if (err == FILE_ERR_NOT_REGULAR)
		return "not a regular file";
	if (err == -ELOOP)
		return "a symbolic link (refused: detvm never writes through one)";
	return strerror(-err);
}

/* [pos, end) by read and write, for files copy_file_range cannot copy between. */
static int copy_by_rw(int in, int out, off_t pos, off_t end)
{
	uint8_t buf[65536];
	while (pos < end) {
		size_t n = end - pos < (off_t)sizeof(buf) ? (size_t)(end - pos) : sizeof(buf);
		int r = file_pread_full(in, buf, n, (uint64_t)pos);
		if (!r)
			r = file_pwrite_full(out, buf, n, (uint64_t)pos);
		if (r) {
			errno = -r;
			return -1;
		}
		pos += (off_t)n;
	}
	return 0;
}

/* Copies [pos, end) of in to the same offsets of out. 0, or -1 with errno set. */
static int copy_range(int in, int out, off_t pos, off_t end)
{
	while (pos < end) {
		off_t o = pos;
		ssize_t n = copy_file_range(in, &pos, out, &o, (size_t)(end - pos), 0);
		if (n < 0 && errno == EINTR)
			continue;
		/* a filesystem without it (9p: EXDEV even within one directory) */
		if (n < 0 && (errno == EXDEV || errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL))
			return copy_by_rw(in, out, pos, end);
		if (n <= 0) {
			if (!n)
				errno = EIO;	/* the source shrank under us */
			return -1;
		}
	}
	return 0;
}

/*
 * Copies all of src into the empty file out; the size copied, or -1 with err set. Only
 * the data extents are copied and the size set at the end, so a sparse disk image
 * gives a sparse snapshot (a 20 GiB image with 1 GiB written costs 1 GiB beside the
 * trace, and less where the filesystem shares extents).
 */
off_t file_copy_sparse(const char *src, int out, char *err, size_t errlen)
{
	int in = file_open_regular(src, O_RDONLY);
	struct stat st;
	off_t size = -1;
	if (in < 0 || fstat(in, &st) < 0) {
		snprintf(err, errlen, "cannot open disk '%s': %s", src, file_strerror(in < 0 ? in : -errno));
		goto out;
	}
	for (off_t pos = 0; pos < st.st_size;) {
		off_t data = lseek(in, pos, SEEK_DATA), hole;
		if (data < 0 && errno == ENXIO)
			break;	/* only a hole is left */
		if (data < 0) {		/* no SEEK_DATA here: copy everything */
			data = pos;
			hole = st.st_size;
		} else if ((hole = lseek(in, data, SEEK_HOLE)) < 0 || hole > st.st_size) {
			hole = st.st_size;
		}
		if (copy_range(in, out, data, hole)) {
			snprintf(err, errlen, "cannot copy disk '%s': %s", src, strerror(errno));
			goto out;
		}
		pos = hole;
	}
	if (ftruncate(out, st.st_size) < 0) {
		snprintf(err, errlen, "cannot copy disk '%s': %s", src, strerror(errno));
		goto out;
	}
	size = st.st_size;
out:
	if (in >= 0)
		close(in);
	return size;
}
