/* What the wires of net/transport.c share; not for users of the link. */
#ifndef DETVM_NET_TRANSPORT_PRIV_H
#define DETVM_NET_TRANSPORT_PRIV_H

#include <stdarg.h>

#include "net/transport.h"
#include "net/transport_auth.h"

enum transport_wire { WIRE_TCP = 1, WIRE_RDMA = 2 };

/* The most a wire carries in one message: TRANSPORT_MAX_MSG and a seal's tag. */
#define WIRE_MAX_MSG (TRANSPORT_MAX_MSG + AUTH_TAG_BYTES)

/* Milliseconds left until deadline (a monotonic ms value; -1: none), for poll(). */
int link_ms_left(int64_t deadline);
int64_t link_deadline(int timeout_ms);
/* All of buf to fd (a stream socket), waiting for room until the deadline (-1: none).
 * 0, -ETIMEDOUT, or -errno. */
int link_write_all(int fd, const void *buf, size_t len, int64_t deadline);
/* Exactly len bytes from fd before the deadline: 0, -ETIMEDOUT, -ECONNRESET (closed). */
int link_read_all(int fd, void *buf, size_t len, int64_t deadline);
/* The wake_fd was written: clears it; 1 if it was, else 0. */
int link_woken(struct transport *t);
void link_fail(struct transport *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A message of len bytes came where the caller took cap (wire sizes, a seal's tag in
 * them on a keyed link): says so in the caller's terms. Returns -EMSGSIZE. */
int link_too_big(struct transport *t, size_t len, size_t cap);

/* The accepting side of a link on a connected stream fd (closed on failure): the hello
 * within hello_ms, then the wire. What transport_accept does once a peer connected;
 * also the fuzz target's way in (tests/fuzz/link). */
int transport_accept_stream(struct transport **out, int fd, const char *peer, const char *spec,
			    const struct transport_terms *terms, int hello_ms, char *err, size_t errlen);

/* The wires: each takes the connected side channel fd (closed on failure). */
int transport_tcp_new(struct transport **out, int fd, const char *peer, char *err, size_t errlen);
int transport_rdma_new(struct transport **out, int fd, const char *peer, const char *device, int server,
		       int64_t deadline, char *err, size_t errlen);

#endif
