/*
 * Host network backends for guest NICs: where a guest's Ethernet frames go and come
 * from. They know nothing of the rest of detvm; the VMM wires them to its hostio:
 *   guest tx:  hostio net_send  -> net_backend_send()   (vCPU thread)
 *   guest rx:  reader thread    -> on_frame()           -> post an event for the vCPU
 *
 * Specs:
 *   tap:IFNAME   a TAP interface via /dev/net/tun (IFF_TAP | IFF_NO_PI). It is created
 *                if missing and left down: bring it up and address it from the host.
 *   unix:PATH    a SOCK_DGRAM unix socket, one frame per datagram. detvm autobinds an
 *                abstract address and connects to PATH, where the peer has bound; the
 *                same peer works with QEMU's -netdev dgram,local.type=unix,...
 *                remote.type=unix,remote.path=PATH.
 */
#ifndef DETVM_NET_BACKEND_H
#define DETVM_NET_BACKEND_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NET_BACKEND_MAX_FRAME 65536

/*
 * Called on the backend's reader thread for every received frame; frame is valid only
 * during the call. It must not call back into the backend's close.
 */
typedef void (*net_frame_fn)(void *opaque, const uint8_t *frame, size_t len);

struct net_backend;

struct net_backend_ops {
	const char *scheme;		/* "tap", "unix" */
	/* Open nb->fd for arg (the part after "scheme:"), non-blocking. 0 or -errno with
	 * a message in err. */
	int (*open)(struct net_backend *nb, const char *arg, char *err, size_t errlen);
	/* One frame into buf: its length, -EAGAIN when none, -EMSGSIZE (consumed, dropped)
	 * when it was larger than len, other -errno on failure. */
	ssize_t (*recv)(struct net_backend *nb, uint8_t *buf, size_t len);
};

struct net_backend {
	const struct net_backend_ops *ops;
	int fd;
	int stop_fd;			/* eventfd that tells the reader to leave */
	pthread_t reader;
	int reader_started;
	net_frame_fn on_frame;
	void *opaque;
	char name[64];			/* the spec, for messages */
	uint8_t rx_buf[NET_BACKEND_MAX_FRAME];
	/* counters; rx_* are written by the reader thread only */
	uint64_t tx_frames;
	uint64_t tx_dropped;		/* the host would block or the peer is gone */
	uint64_t rx_frames;
	uint64_t rx_dropped;		/* oversized frames */
	int reader_error;		/* -errno that stopped the reader, 0 if none */
};

/*
 * Open the backend described by spec ("tap:IFNAME", "unix:PATH") and, if on_frame is not
 * NULL, start its reader thread. 0 with *out set, or -errno with a one-line message in
 * err (e.g. "unknown network backend 'foo': use tap:IFNAME or unix:PATH").
 */
int net_backend_open(struct net_backend **out, const char *spec, net_frame_fn on_frame,
		     void *opaque, char *err, size_t errlen);
/*
 * Send one frame without blocking. 0, or -errno when it was dropped (-EAGAIN when the
 * host side is full, -ECONNREFUSED when a unix peer is gone, -EMSGSIZE, ...). Dropping
 * is what a wire does, so callers count it rather than fail.
 */
int net_backend_send(struct net_backend *nb, const uint8_t *frame, size_t len);
/* Stop and join the reader, close the descriptors, free nb. NULL is fine. */
void net_backend_close(struct net_backend *nb);

extern const struct net_backend_ops net_tap_ops;
extern const struct net_backend_ops net_unix_ops;

#endif
