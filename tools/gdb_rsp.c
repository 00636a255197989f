#include "tools/gdb_rsp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int stopped(const struct rsp *c)
{
	return c->stop && *c->stop;
}

static int loopback(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET)
		return ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24 == 127;
	const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	return sa->ss_family == AF_INET6 &&
	       (IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127));
}

int rsp_listen(struct rsp *c, const char *hostport, unsigned *port, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->lfd = c->fd = -1;
	char host[256];
	const char *colon = strrchr(hostport, ':');
	if (!colon || colon - hostport >= (long)sizeof(host) || !colon[1]) {
		snprintf(err, errlen, "--gdb wants [HOST]:PORT, not '%s'", hostport);
		return -1;
	}
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = 0;
	char *end;
	unsigned long want = strtoul(colon + 1, &end, 10);
	if (*end || want > 65535 || colon[1] == '-' || colon[1] == '+') {
		snprintf(err, errlen, "--gdb %s: the port must be a number from 0 to 65535", hostport);
		return -1;
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai;
	int r = getaddrinfo(host[0] ? host : "127.0.0.1", colon + 1, &hints, &ai);
	if (r) {
		snprintf(err, errlen, "--gdb %s: %s", hostport, gai_strerror(r));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 1)) {
		snprintf(err, errlen, "--gdb %s: %s", hostport, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	struct sockaddr_storage sa;
	socklen_t sl = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	*port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
					       : ((struct sockaddr_in *)&sa)->sin_port);
	c->exposed = !loopback(&sa);
	c->lfd = fd;
	return 0;
}

int rsp_accept(struct rsp *c, int wait)
{
	if (c->fd >= 0)
		return 1;
	struct pollfd p = { c->lfd, POLLIN, 0 };
	for (;;) {
		int n = poll(&p, 1, wait ? -1 : 0);
		if (n < 0 && errno == EINTR && !stopped(c))
			continue;	/* the replay's kick timer */
		if (n <= 0)
			return 0;
		break;
	}
	int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return 0;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->noack = 0;
	c->len = c->pos = 0;
	return 1;
}

/* More bytes from the client; block or not. 1 got some, 0 none now, -1 gone. */
static int fill(struct rsp *c, int wait)
{
	if (c->pos == c->len)
		c->pos = c->len = 0;
	if (c->len == sizeof(c->buf)) {	/* a packet larger than we take: drop it */
		c->pos = c->len = 0;
	}
	for (;;) {
		struct pollfd p = { c->fd, POLLIN, 0 };
		int n = poll(&p, 1, wait ? -1 : 0);
		if (n < 0 && errno == EINTR && !stopped(c))
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		ssize_t got = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (got < 0 && errno == EINTR && !stopped(c))
			continue;
		if (got <= 0)
			return -1;
		c->len += (size_t)got;
		return 1;
	}
}

static int send_all(struct rsp *c, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(c->fd, p, n);
		if (w < 0 && errno == EINTR && !stopped(c))
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int rsp_get(struct rsp *c, char *out, size_t cap)
{
	for (;;) {
		/* skip to a packet start; a 0x03 outside a packet is an interrupt */
		while (c->pos < c->len && c->buf[c->pos] != '$') {
			if (c->buf[c->pos] == 0x03) {
				c->pos++;
				snprintf(out, cap, "\x03");
				return 1;
			}
			c->pos++;
		}
		char *start = c->buf + c->pos;
		char *hash = c->pos < c->len ? memchr(start, '#', c->len - c->pos) : NULL;
		if (hash && (size_t)(hash - c->buf) + 2 < c->len) {
			size_t n = (size_t)(hash - start) - 1;
			unsigned sum = 0, want;
			for (size_t i = 0; i < n; i++)
				sum += (unsigned char)start[1 + i];
			char cs[3] = { hash[1], hash[2], 0 };
			int ok = sscanf(cs, "%2x", &want) == 1 && want == (sum & 0xff);
			c->pos = (size_t)(hash - c->buf) + 3;
			if (!c->noack && send_all(c, ok ? "+" : "-", 1))
				return -1;
			if (!ok)
				continue;
			if (n >= cap)
				n = cap - 1;
			memcpy(out, start + 1, n);
			out[n] = 0;
			return (int)n;
		}
		if (c->pos) {	/* keep the partial packet at the buffer's start */
			memmove(c->buf, c->buf + c->pos, c->len - c->pos);
			c->len -= c->pos;
			c->pos = 0;
		}
		if (fill(c, 1) < 0)
			return -1;
	}
}

int rsp_put(struct rsp *c, const char *payload)
{
	size_t n = strlen(payload);
	char *pkt = malloc(n + 5);
	if (!pkt)
		return -1;
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += (unsigned char)payload[i];
	pkt[0] = '$';
	memcpy(pkt + 1, payload, n);
	snprintf(pkt + 1 + n, 4, "#%02x", sum & 0xff);
	for (;;) {
		if (send_all(c, pkt, n + 4)) {
			free(pkt);
			return -1;
		}
		if (c->noack)
			break;
		/* wait for the acknowledgement; a '-' asks for it again */
		int ack = 0;
		while (!ack) {
			if (c->pos == c->len && fill(c, 1) < 0) {
				free(pkt);
				return -1;
			}
			char ch = c->buf[c->pos];
			if (ch == '+' || ch == '-') {
				c->pos++;
				ack = ch;
			} else if (ch == '$') {
				ack = '+';	/* gdb moved on: take it as received */
			} else {
				c->pos++;
			}
		}
		if (ack == '+')
			break;
	}
	free(pkt);
	return 0;
}

int rsp_poll_interrupt(struct rsp *c)
{
	if (c->fd < 0)
		return 0;
	if (fill(c, 0) < 0)
		return 1;	/* gone: stop, and the next read says so */
	for (size_t i = c->pos; i < c->len; i++)
		if (c->buf[i] == 0x03) {
			memmove(c->buf + i, c->buf + i + 1, c->len - i - 1);
			c->len--;
			return 1;
		}
	return 0;
}

void rsp_close(struct rsp *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->lfd >= 0)
		close(c->lfd);
	c->fd = c->lfd = -1;
}
