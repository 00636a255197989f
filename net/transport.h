/*
 * The link between a fault-tolerant primary and its backup: reliable, ordered messages
 * both ways, whatever the wire. The FT protocol (ft/) sees only this interface.
 *
 *   tcp    one TCP connection (TCP_NODELAY), each message a length-prefixed frame.
 *   rdma   an RC queue pair (libibverbs) set up over a TCP side channel, as rdma-core's
 *          rc_pingpong does: each side registers a receive ring, messages are written
 *          into the peer's ring with RDMA WRITE WITH IMMEDIATE, and the receiver returns
 *          ring space (credits) by SEND. The side channel stays open: a peer process
 *          that dies closes it, which is seen at once.
 *
 * Both start with a hello (magic, version, wire, the FT timings, a nonce): a peer that is
 * not a detvm FT link, of another version or wire, or with other timings, is refused with
 * one line. With a key (transport_terms) each side then proves it holds the key, and
 * every message is sealed (net/transport_auth.h): a peer without the key gets nothing
 * and can say nothing. A peer that sends garbage afterwards (a frame length over the
 * limit, a message that does not authenticate) is an error, never a crash or a hang.
 * Not thread-safe: one thread sends and receives on a link (the FT loop).
 */
#ifndef DETVM_NET_TRANSPORT_H
#define DETVM_NET_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TRANSPORT_VERSION 2
#define TRANSPORT_MAX_MSG (16u << 20)	/* bytes in one message */

struct transport;

struct transport_ops {
	const char *wire;		/* "tcp", "rdma" */
	/* Sends one message (copied before it returns); waits while the peer's window is
	 * full. 0, -EMSGSIZE (over TRANSPORT_MAX_MSG), -EPIPE (the peer is gone), -errno. */
	int (*send)(struct transport *t, const void *msg, size_t len);
	/* The next message into buf (cap bytes): its length; -ETIMEDOUT after timeout_ms
	 * (-1: wait forever, 0: poll); -ECONNRESET when the peer is gone (closed, died, or
	 * the wire failed); -EPROTO for garbage (t->error says what); -EMSGSIZE when it is
	 * larger than cap (the link is unusable after that). */
	ssize_t (*recv)(struct transport *t, void *buf, size_t cap, int timeout_ms);
	void (*destroy)(struct transport *t);
};

struct transport {
	const struct transport_ops *ops;
	char peer[96];			/* "host:port" of the other side, for messages */
	char error[256];		/* the last failure, one line */
	uint64_t sent_msgs, sent_bytes, recv_msgs, recv_bytes;
	/* How long a send may wait for the peer to make room (-1, the default: as long as
	 * it takes). Past it the send fails with -ETIMEDOUT and the link is dead: a peer
	 * that takes nothing, like one that says nothing, may be gone (a partition). */
	int send_timeout_ms;
	struct link_aead *aead;		/* sealing, on a keyed link; else NULL */
	uint64_t auth_failures;		/* messages that did not authenticate (each ends the link) */
	/* An eventfd (-1, the default: none) that ends a recv's wait early, as a timeout
	 * would: the link's own thread is told it has something to send. */
	int wake_fd;
};

#define TRANSPORT_KEY_BYTES 32

/* What both sides of a link must agree on, checked in the hello. */
struct transport_terms {
	const uint8_t *key;		/* TRANSPORT_KEY_BYTES, or NULL: an unauthenticated link */
	uint32_t beat_ms, dead_ms;	/* the FT link's timings (0: not checked) */
};

/* The key from a key file: a regular file of 16 to 4096 secret bytes that only its owner
 * (this user or root) can read, as ssh demands of its keys. 0, or -errno with err. */
int transport_key_load(const char *path, uint8_t key[TRANSPORT_KEY_BYTES], char *err, size_t errlen);

/* A TCP listening socket on "HOST:PORT" (port 0: any; the one chosen is in addr). */
struct transport_listener {
	int fd;
	char addr[96];
	int hello_ms;		/* a peer that connected has this long for its hello */
};

/* Long enough for a loaded peer, short enough that an idle connection (an `nc` that
 * sends nothing) cannot hold a listener that waits for its real peer. */
#define TRANSPORT_HELLO_MS 5000

int transport_listen(struct transport_listener *l, const char *hostport, char *err, size_t errlen);
void transport_listener_close(struct transport_listener *l);
/* The listening socket's fd, to poll for a peer. */
static inline int transport_listener_fd(const struct transport_listener *l) { return l->fd; }

/*
 * Accepts one peer on l and sets up a link of the given wire ("tcp" or "rdma"; for rdma
 * an optional "rdma:DEVICE" names the RDMA device, else the first with an IPv4 GID) on
 * the given terms. Waits at most timeout_ms for the peer (-1 forever). 0 and *out, or
 * -errno with err; -EPROTO: a peer connected but was refused (no hello within
 * l->hello_ms, not a detvm FT peer, another version, wire or terms, without the key): the
 * listener is still good for the next one.
 */
int transport_accept(struct transport **out, struct transport_listener *l, const char *wire,
		     const struct transport_terms *terms, int timeout_ms, char *err, size_t errlen);
/* Connects to "HOST:PORT" over wire, trying for at most timeout_ms. As above. */
int transport_connect(struct transport **out, const char *hostport, const char *wire,
		      const struct transport_terms *terms, int timeout_ms, char *err, size_t errlen);

/* The wire's send and recv (transport_ops), sealed and opened on a keyed link. A message
 * that does not authenticate: -EPROTO, counted in auth_failures, the link dead. */
int transport_send(struct transport *t, const void *msg, size_t len);
ssize_t transport_recv(struct transport *t, void *buf, size_t cap, int timeout_ms);

void transport_destroy(struct transport *t);

/* 1 if this host has an RDMA device a link could use, else 0 (the name of the first in
 * name, when given). */
int transport_rdma_available(char *name, size_t len);

#endif
