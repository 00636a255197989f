/* tap:IFNAME -- a TAP interface through /dev/net/tun. */
#include "net/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int tap_open(struct net_backend *nb, const char *ifname, char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd, r;

	if (strlen(ifname) >= IFNAMSIZ) {
		snprintf(err, errlen, "tap:%s: interface name longer than %d characters", ifname,
			 IFNAMSIZ - 1);
		return -EINVAL;
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "tap:%s: cannot open /dev/net/tun: %s%s", ifname, strerror(-r),
			 r == -ENOENT ? " (no tun driver: modprobe tun)" :
			 r == -EACCES || r == -EPERM ? " (needs root or CAP_NET_ADMIN)" : "");
		return r;
	}
	memset(&ifr, 0, sizeof(ifr));
	/* no packet-info prefix: the fd carries bare Ethernet frames */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		snprintf(err, errlen, "tap:%s: cannot create or attach the interface: %s%s", ifname,
			 strerror(-r),
			 r == -EPERM ? " (needs CAP_NET_ADMIN, or a persistent tap owned by this user)" :
			 r == -EBUSY ? " (another process has it open)" :
			 r == -EINVAL ? " (is it a tun, not a tap, interface?)" : "");
		close(fd);
		return r;
	}
	nb->fd = fd;
	return 0;
}

static ssize_t tap_recv(struct net_backend *nb, uint8_t *buf, size_t len)
{
	ssize_t n = read(nb->fd, buf, len);

	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

const struct net_backend_ops net_tap_ops = {
	.scheme = "tap",
	.open = tap_open,
	.recv = tap_recv,
};
