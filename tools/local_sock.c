/* Unix stream sockets only their owner may use (tools/local_sock.h). */
#include "tools/local_sock.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/mono_clock.h"

static int address(struct sockaddr_un *a, const char *path)
{
	*a = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a->sun_path))
		return -ENAMETOOLONG;
	memcpy(a->sun_path, path, strlen(path) + 1);
	return 0;
}

int local_sock_connect(const char *path)
{
	struct sockaddr_un a;
	int r = address(&a, path);
	if (r)
		return r;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return r;
	}
	return fd;
}

/* A socket file at path that nothing listens on any more (its detvm died) goes; anything
 * else at path stays, and says why. 0 when path is free now. */
static int clear_stale(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "control socket '%s': %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "control socket '%s' exists and is not a socket: not replacing it", path);
		return -1;
	}
	int fd = local_sock_connect(path);
	if (fd >= 0) {
		close(fd);
		snprintf(err, errlen, "control socket '%s' is in use (another detvm is running with it)", path);
		return -1;
	}
	if (fd != -ECONNREFUSED) {
		snprintf(err, errlen, "control socket '%s': %s", path, strerror(-fd));
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove the stale control socket '%s': %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int local_sock_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un a;
	if (address(&a, path)) {
		snprintf(err, errlen, "control socket path '%s' is too long (at most %zu bytes)", path,
			 sizeof(a.sun_path) - 1);
		return -1;
	}
	if (clear_stale(path, err, errlen))
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on control socket '%s': %s", path, strerror(errno));
		return -1;
	}
	/* the umask decides the socket file's mode (0777 less it) at bind: never a moment wider than 0600 */
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (r < 0 || listen(fd, 4) < 0) {
		snprintf(err, errlen, "cannot listen on control socket '%s': %s", path, strerror(errno));
		if (!r)
			unlink(path);
		close(fd);
		return -1;
	}
	return fd;
}

int local_sock_peer_ok(int fd, uid_t *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	*uid = (uid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred))
		return 0;
	*uid = cred.uid;
	return cred.uid == geteuid() || cred.uid == 0;
}

ssize_t local_sock_read_line(int fd, char *line, size_t len, int ms)
{
	uint64_t deadline = mono_clock_ns() + (uint64_t)ms * 1000000;
	size_t n = 0;
	for (;;) {
		uint64_t now = mono_clock_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, (int)((deadline - now + 999999) / 1000000));
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		if (n == len - 1)
			return -EMSGSIZE;
		ssize_t k = read(fd, line + n, len - 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k == 0 && n) {	/* the client closed its side after the line */
			line[n] = 0;
			return (ssize_t)n;
		}
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		char *nl = memchr(line + n, '\n', (size_t)k);
		n += (size_t)k;
		if (nl) {
			*nl = 0;
			return nl - line;
		}
	}
}
