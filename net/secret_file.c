#include "net/secret_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

long secret_file_read(const char *path, const char *what, uint8_t *buf, size_t min, size_t cap, char *err,
		      size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot open the %s %s: %s", what, path, strerror(e));
		return -e;
	}
	struct stat st;
	ssize_t n = -1;
	const char *why = NULL;
	char size[64];
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		why = "is not a regular file";
	else if (st.st_uid != geteuid() && st.st_uid != 0)
		why = "belongs to another user";
	else if (st.st_mode & 077)
		why = "is open to other users (chmod 600 it, as ssh asks of its keys)";
	else if ((size_t)st.st_size > cap)
		why = (snprintf(size, sizeof(size), "is over %zu bytes", cap), size);
	else if ((n = read(fd, buf, cap)) < 0 || (size_t)n < min)
		why = (snprintf(size, sizeof(size), "holds under %zu bytes", min), size);
	close(fd);
	if (why) {
		snprintf(err, errlen, "the %s %s %s", what, path, why);
		memset(buf, 0, cap);
		return -EINVAL;
	}
	return (long)n;
}
