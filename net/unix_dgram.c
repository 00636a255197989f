/* unix:PATH -- one Ethernet frame per datagram on a SOCK_DGRAM unix socket. */
#include "net/backend.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int unix_open(struct net_backend *nb, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "unix:%s: path longer than %zu bytes", path,
			 sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "unix:%s: socket: %s", path, strerror(-r));
		return r;
	}
	/* autobind: an address of just the family gets a unique abstract name, so the
	 * peer can reply without us leaving a file behind */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa_family_t)) < 0) {
		r = -errno;
		snprintf(err, errlen, "unix:%s: cannot bind a local address: %s", path, strerror(-r));
		goto err_close;
	}
	memcpy(sa.sun_path, path, strlen(path));
	if (connect(fd, (struct sockaddr *)&sa, offsetof(struct sockaddr_un, sun_path) + strlen(path)) < 0) {
		r = -errno;
		snprintf(err, errlen, "unix:%s: cannot connect: %s (is the peer running and bound there?)",
			 path, strerror(-r));
		goto err_close;
	}
	nb->fd = fd;
	return 0;

err_close:
	close(fd);
	return r;
}

static ssize_t unix_recv(struct net_backend *nb, uint8_t *buf, size_t len)
{
	/* MSG_TRUNC: the real length, so an oversized datagram is dropped, not cut */
	ssize_t n = recv(nb->fd, buf, len, MSG_TRUNC);

	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if ((size_t)n > len)
		return -EMSGSIZE;
	return n;
}

const struct net_backend_ops net_unix_ops = {
	.scheme = "unix",
	.open = unix_open,
	.recv = unix_recv,
};
