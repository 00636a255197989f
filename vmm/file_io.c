#include "vmm/file_io.h"

#include <errno.h>
#include <stdint.h>
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
