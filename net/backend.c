#include "net/backend.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

static const struct net_backend_ops *const backends[] = { &net_tap_ops, &net_unix_ops };

static void *reader_main(void *arg)
{
	struct net_backend *nb = arg;
	struct pollfd p[2] = {
		{ .fd = nb->fd, .events = POLLIN },
		{ .fd = nb->stop_fd, .events = POLLIN },
	};

	for (;;) {
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			nb->reader_error = -errno;
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		if (!p[0].revents)
			continue;
		n = nb->ops->recv(nb, nb->rx_buf, sizeof(nb->rx_buf));
		if (n > 0) {
			nb->rx_frames++;
			nb->on_frame(nb->opaque, nb->rx_buf, (size_t)n);
		} else if (n == 0 || n == -EMSGSIZE) {
			/* an empty datagram is no Ethernet frame either */
			nb->rx_dropped++;
		} else if (n != -EAGAIN && n != -EINTR && n != -ECONNREFUSED && n != -ECONNRESET) {
			/* ECONNREFUSED/ECONNRESET: a unix peer went away; reading the error
			 * clears it, and the reader keeps going */
			nb->reader_error = (int)n;
			return NULL;
		}
	}
}

static const struct net_backend_ops *find_scheme(const char *spec, const char **arg)
{
	const char *colon = strchr(spec, ':');

	if (!colon)
		return NULL;
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		size_t n = strlen(backends[i]->scheme);

		if ((size_t)(colon - spec) == n && !strncmp(spec, backends[i]->scheme, n)) {
			*arg = colon + 1;
			return backends[i];
		}
	}
	return NULL;
}

int net_backend_open(struct net_backend **out, const char *spec, net_frame_fn on_frame,
		     void *opaque, char *err, size_t errlen)
{
	const struct net_backend_ops *ops;
	struct net_backend *nb;
	const char *arg = NULL;
	int r;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	ops = spec ? find_scheme(spec, &arg) : NULL;
	if (!ops) {
		int n = spec ? (int)strcspn(spec, ":") : 0;

		snprintf(err, errlen, "unknown network backend '%.*s': use tap:IFNAME or unix:PATH",
			 n, spec ? spec : "");
		return -EINVAL;
	}
	if (!*arg) {
		snprintf(err, errlen, "network backend '%s' needs an argument: use tap:IFNAME or unix:PATH",
			 spec);
		return -EINVAL;
	}
	nb = calloc(1, sizeof(*nb));
	if (!nb) {
		snprintf(err, errlen, "%s: out of memory", spec);
		return -ENOMEM;
	}
	nb->ops = ops;
	nb->fd = -1;
	nb->on_frame = on_frame;
	nb->opaque = opaque;
	snprintf(nb->name, sizeof(nb->name), "%s", spec);
	nb->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (nb->stop_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: eventfd: %s", spec, strerror(-r));
		goto err_free;
	}
	r = ops->open(nb, arg, err, errlen);
	if (r)
		goto err_stop_fd;
	if (on_frame) {
		r = -pthread_create(&nb->reader, NULL, reader_main, nb);
		if (r) {
			snprintf(err, errlen, "%s: cannot start the reader thread: %s", spec, strerror(-r));
			goto err_fd;
		}
		nb->reader_started = 1;
	}
	*out = nb;
	return 0;

err_fd:
	close(nb->fd);
err_stop_fd:
	close(nb->stop_fd);
err_free:
	free(nb);
	return r;
}

int net_backend_send(struct net_backend *nb, const uint8_t *frame, size_t len)
{
	ssize_t n;

	if (len > NET_BACKEND_MAX_FRAME) {
		nb->tx_dropped++;
		return -EMSGSIZE;
	}
	do {
		n = write(nb->fd, frame, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		nb->tx_dropped++;
		return -errno;
	}
	if ((size_t)n != len) {
		nb->tx_dropped++;
		return -EIO;
	}
	nb->tx_frames++;
	return 0;
}

void net_backend_close(struct net_backend *nb)
{
	uint64_t one = 1;

	if (!nb)
		return;
	if (nb->reader_started) {
		/* an eventfd write cannot block at count 1; the reader polls it and leaves */
		if (write(nb->stop_fd, &one, sizeof(one)) != sizeof(one))
			abort();
		pthread_join(nb->reader, NULL);
	}
	close(nb->fd);
	close(nb->stop_fd);
	free(nb);
}
