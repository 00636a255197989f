/*
 * The tcp wire: each message a frame of a 4-byte little-endian length and the bytes. A
 * frame may arrive in pieces across recv() calls that time out: what came is kept.
 */
#include "net/transport_priv.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

struct tcp_link {
	struct transport t;
	int fd;
	uint8_t hdr[4];
	size_t hdr_got;		/* bytes of the current frame's length read */
	uint32_t len;		/* the current frame's length, once hdr_got == 4 */
	uint8_t *buf;		/* its bytes so far */
	size_t got, cap;
	int dead;		/* -errno that ended the link */
};

static int tcp_send(struct transport *t, const void *msg, size_t len)
{
	struct tcp_link *l = (struct tcp_link *)t;
	if (len > WIRE_MAX_MSG)
		return -EMSGSIZE;
	if (l->dead)
		return -EPIPE;
	uint8_t hdr[4] = { (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), (uint8_t)(len >> 24) };
	/* one sendmsg for small messages: one segment, no Nagle wait even without NODELAY */
	struct iovec iov[2] = { { hdr, 4 }, { (void *)msg, len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;
	while ((n = sendmsg(l->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT)) < 0 && errno == EINTR)
		;
	if (n < 0 && errno != EAGAIN) {
		l->dead = errno == EPIPE || errno == ECONNRESET ? -EPIPE : -errno;
		link_fail(t, "sending to %s: %s", t->peer, strerror(errno));
		return l->dead;
	}
	size_t done = n < 0 ? 0 : (size_t)n;
	int64_t deadline = link_deadline(t->send_timeout_ms);
	int r = 0;
	if (done < 4)
		r = link_write_all(l->fd, hdr + done, 4 - done, deadline);
	if (!r)
		r = link_write_all(l->fd, (const uint8_t *)msg + (done > 4 ? done - 4 : 0),
				   len - (done > 4 ? done - 4 : 0), deadline);
	if (r) {
		l->dead = r;
		link_fail(t, "sending to %s: %s", t->peer, strerror(-r));
		return r;
	}
	t->sent_msgs++;
	t->sent_bytes += len;
	return 0;
}

/* What is there without waiting: 1 progress, 0 nothing, or -errno. */
static int pull(struct tcp_link *l, void *dst, size_t want, size_t *got)
{
	ssize_t n = recv(l->fd, dst, want, MSG_DONTWAIT);
	if (n > 0) {
		*got += (size_t)n;
		return 1;
	}
	if (n == 0)
		return -ECONNRESET;
	return errno == EAGAIN || errno == EINTR ? 0 : -errno;
}

static ssize_t tcp_recv(struct transport *t, void *out, size_t cap, int timeout_ms)
{
	struct tcp_link *l = (struct tcp_link *)t;
	int64_t deadline = link_deadline(timeout_ms);
	if (l->dead)
		return l->dead;
	for (;;) {
		int r;
		if (l->hdr_got < 4) {
			r = pull(l, l->hdr + l->hdr_got, 4 - l->hdr_got, &l->hdr_got);
			if (r > 0 && l->hdr_got == 4) {
				l->len = l->hdr[0] | l->hdr[1] << 8 | l->hdr[2] << 16 | (uint32_t)l->hdr[3] << 24;
				if (l->len > WIRE_MAX_MSG) {
					link_fail(t, "%s sent garbage: a message of %u bytes (at most %u)", t->peer,
						  l->len, WIRE_MAX_MSG);
					return l->dead = -EPROTO;
				}
				if (l->len > l->cap) {
					uint8_t *b = realloc(l->buf, l->len);
					if (!b)
						return -ENOMEM;
					l->buf = b;
					l->cap = l->len;
				}
				l->got = 0;
			}
		} else {
			r = l->got < l->len ? pull(l, l->buf + l->got, l->len - l->got, &l->got) : 1;
		}
		if (r < 0) {
			link_fail(t, r == -ECONNRESET ? "%s closed the link" : "receiving from %s: %s", t->peer,
				  strerror(-r));
			return l->dead = r == -ECONNRESET ? -ECONNRESET : r;
		}
		if (l->hdr_got == 4 && l->got == l->len) {
			l->hdr_got = 0;
			if (l->len > cap) {
				return l->dead = link_too_big(t, l->len, cap);
			}
			if (l->len)	/* an empty message may come before any buffer exists */
				memcpy(out, l->buf, l->len);
			t->recv_msgs++;
			t->recv_bytes += l->len;
			return l->len;
		}
		if (r > 0)
			continue;
		struct pollfd pf[2] = { { .fd = l->fd, .events = POLLIN }, { .fd = t->wake_fd, .events = POLLIN } };
		int p = poll(pf, t->wake_fd >= 0 ? 2 : 1, link_ms_left(deadline));
		if (p == 0 || (p > 0 && !pf[0].revents && link_woken(t)))
			return -ETIMEDOUT;
		if (p < 0 && errno != EINTR)
			return -errno;
	}
}

static void tcp_destroy(struct transport *t)
{
	struct tcp_link *l = (struct tcp_link *)t;
	close(l->fd);
	free(l->buf);
	free(l);
}

static const struct transport_ops tcp_ops = {
	.wire = "tcp",
	.send = tcp_send,
	.recv = tcp_recv,
	.destroy = tcp_destroy,
};

int transport_tcp_new(struct transport **out, int fd, const char *peer, char *err, size_t errlen)
{
	struct tcp_link *l = calloc(1, sizeof(*l));
	if (!l) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l->t.ops = &tcp_ops;
	l->t.wake_fd = -1;
	l->fd = fd;
	snprintf(l->t.peer, sizeof(l->t.peer), "%s", peer);
	*out = &l->t;
	return 0;
}
