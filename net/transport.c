/*
 * Setting up a link: the TCP listener, connect and accept, the hello both sides send, and
 * handing the connection to its wire (transport_tcp.c, transport_rdma.c).
 */
#include "net/transport_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HELLO_MAGIC "detvm-ft"

/* What every version begins with, so that one of another version is told so. */
struct hello {
	char magic[8];
	uint32_t version;	/* little-endian on the wire, as the hosts detvm runs on */
	uint32_t wire;
};

/* The rest of this version's hello. */
struct hello_terms {
	uint32_t beat_ms, dead_ms;
	uint32_t keyed, pad;
	uint8_t nonce[AUTH_NONCE_BYTES];
};

struct greeting {
	struct hello h;
	struct hello_terms t;
};

int link_woken(struct transport *t)
{
	uint64_t v;
	return t->wake_fd >= 0 && read(t->wake_fd, &v, sizeof(v)) == (ssize_t)sizeof(v);
}

int64_t link_deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return -1;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + timeout_ms;
}

int link_ms_left(int64_t deadline)
{
	if (deadline < 0)
		return -1;
	int64_t left = deadline - link_deadline(0);
	return left < 0 ? 0 : left > 1000000 ? 1000000 : (int)left;
}

int link_write_all(int fd, const void *buf, size_t len, int64_t deadline)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };
			int r = poll(&pf, 1, link_ms_left(deadline));
			if (r == 0)
				return -ETIMEDOUT;	/* the peer took nothing for that long */
			continue;
		}
		if (n < 0)
			return errno == EPIPE || errno == ECONNRESET ? -EPIPE : -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int link_read_all(int fd, void *buf, size_t len, int64_t deadline)
{
	uint8_t *p = buf;
	while (len) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int r = poll(&pf, 1, link_ms_left(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		ssize_t n = recv(fd, p, len, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return errno == ECONNRESET ? -ECONNRESET : -errno;
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void link_fail(struct transport *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->error, sizeof(t->error), fmt, ap);
	va_end(ap);
}

int link_too_big(struct transport *t, size_t len, size_t cap)
{
	size_t tag = t->aead ? AUTH_TAG_BYTES : 0;
	link_fail(t, "%s sent a message of %zu bytes, more than the %zu expected", t->peer, len - tag, cap - tag);
	return -EMSGSIZE;
}

static int errf(char *err, size_t errlen, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int errf(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return code;
}

/* "HOST:PORT" or "[V6]:PORT" into getaddrinfo results. */
static int resolve(const char *hostport, int passive, struct addrinfo **res, char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	if (!colon || colon == hostport || !colon[1])
		return errf(err, errlen, -EINVAL, "'%s' is not HOST:PORT", hostport);
	size_t hl = (size_t)(colon - hostport);
	if (hostport[0] == '[' && hl >= 2 && hostport[hl - 1] == ']') {
		hostport++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return errf(err, errlen, -EINVAL, "host name too long in '%s'", hostport);
	memcpy(host, hostport, hl);
	host[hl] = 0;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = passive ? AI_PASSIVE : 0 };
	int r = getaddrinfo(host, colon + 1, &hints, res);
	if (r)
		return errf(err, errlen, -EINVAL, "cannot resolve '%s': %s", hostport, gai_strerror(r));
	return 0;
}

static void name_of(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen)
{
	char h[64], p[16];
	if (getnameinfo(sa, len, h, sizeof(h), p, sizeof(p), NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(out, outlen, "?");
	else
		snprintf(out, outlen, strchr(h, ':') ? "[%s]:%s" : "%s:%s", h, p);
}

int transport_listen(struct transport_listener *l, const char *hostport, char *err, size_t errlen)
{
	struct addrinfo *res;
	l->fd = -1;
	l->hello_ms = TRANSPORT_HELLO_MS;
	int r = resolve(hostport, 1, &res, err, errlen);
	if (r)
		return r;
	for (struct addrinfo *a = res; a && l->fd < 0; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
		int one = 1;
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, a->ai_addr, a->ai_addrlen) || listen(fd, 4)) {
			r = -errno;
			close(fd);
			continue;
		}
		l->fd = fd;
	}
	freeaddrinfo(res);
	if (l->fd < 0)
		return errf(err, errlen, r ? r : -EADDRNOTAVAIL, "cannot listen on %s: %s", hostport,
			    strerror(r ? -r : EADDRNOTAVAIL));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(l->fd, (struct sockaddr *)&ss, &sl);
	name_of((struct sockaddr *)&ss, sl, l->addr, sizeof(l->addr));
	return 0;
}

void transport_listener_close(struct transport_listener *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

static int parse_wire(const char *spec, const char **device)
{
	*device = NULL;
	if (!strcmp(spec, "tcp"))
		return WIRE_TCP;
	if (!strcmp(spec, "rdma"))
		return WIRE_RDMA;
	if (!strncmp(spec, "rdma:", 5) && spec[5]) {
		*device = spec + 5;
		return WIRE_RDMA;
	}
	return -1;
}

static const char *wire_name(uint32_t w)
{
	return w == WIRE_TCP ? "tcp" : w == WIRE_RDMA ? "rdma" : "an unknown wire";
}

/* Both sides say who they are and on what terms; a peer that is not a detvm FT link of
 * this version, wire and terms is refused. me is filled in here. */
static int greet(int fd, const char *peer, int wire, const struct transport_terms *terms, int server,
		 int64_t hello_deadline, struct greeting *me, struct greeting *them, char *err, size_t errlen)
{
	*me = (struct greeting){ .h = { .version = TRANSPORT_VERSION, .wire = (uint32_t)wire },
				 .t = { .beat_ms = terms ? terms->beat_ms : 0, .dead_ms = terms ? terms->dead_ms : 0,
					.keyed = terms && terms->key } };
	memcpy(me->h.magic, HELLO_MAGIC, 8);
	if (getrandom(me->t.nonce, sizeof(me->t.nonce), 0) != (ssize_t)sizeof(me->t.nonce))
		return errf(err, errlen, -EIO, "no random bytes for the hello: %s", strerror(errno));
	int r = link_write_all(fd, me, sizeof(*me), -1);
	if (!r)
		r = link_read_all(fd, &them->h, sizeof(them->h), hello_deadline);
	if (r)	/* a peer that never said who it is was refused, like one that said it wrongly */
		return errf(err, errlen, server ? -EPROTO : r, "%s: no hello from the peer: %s", peer,
			    r == -ECONNRESET ? "it closed the connection"
			    : r == -ETIMEDOUT ? "none within the deadline" : strerror(-r));
	if (memcmp(them->h.magic, HELLO_MAGIC, 8))
		return errf(err, errlen, -EPROTO, "%s is not a detvm FT peer (its first bytes are not a detvm hello)", peer);
	if (them->h.version != TRANSPORT_VERSION)
		return errf(err, errlen, -EPROTO, "%s speaks FT link version %u, this detvm %u", peer,
			    them->h.version, TRANSPORT_VERSION);
	if (them->h.wire != (uint32_t)wire)
		return errf(err, errlen, -EPROTO, "%s wants %s, this side %s", peer, wire_name(them->h.wire),
			    wire_name((uint32_t)wire));
	r = link_read_all(fd, &them->t, sizeof(them->t), hello_deadline);
	if (r)
		return errf(err, errlen, server ? -EPROTO : r, "%s: its hello ended short", peer);
	if (!them->t.keyed != !me->t.keyed)
		return errf(err, errlen, -EPROTO, "%s %s --key, this side %s", peer, them->t.keyed ? "has a" : "has no",
			    me->t.keyed ? "has one" : "has none");
	if (me->t.beat_ms && them->t.beat_ms && (me->t.beat_ms != them->t.beat_ms || me->t.dead_ms != them->t.dead_ms))
		return errf(err, errlen, -EPROTO, "%s runs with --beat-ms %u --dead-ms %u, this side with --beat-ms %u "
			    "--dead-ms %u: both sides must agree", peer, them->t.beat_ms, them->t.dead_ms,
			    me->t.beat_ms, me->t.dead_ms);
	return 0;
}

/* Each side proves the key over both hellos, the connecting side first: the accepting
 * side says nothing of the key to a peer that has not proved it. */
static int prove(int fd, const char *peer, const uint8_t *key, int server, int64_t hello_deadline,
		 const struct greeting *me, const struct greeting *them, char *err, size_t errlen)
{
	struct greeting tr[2] = { server ? *them : *me, server ? *me : *them };
	uint8_t mine[AUTH_PROOF_BYTES], theirs[AUTH_PROOF_BYTES];
	auth_proof(key, server ? "server" : "client", tr, sizeof(tr), mine);
	int r = server ? 0 : link_write_all(fd, mine, sizeof(mine), -1);
	if (!r)
		r = link_read_all(fd, theirs, sizeof(theirs), hello_deadline);
	if (r)
		return errf(err, errlen, server ? -EPROTO : r, "%s: no proof of the key: %s", peer,
			    r == -ECONNRESET ? "it closed the connection (does it hold another key?)"
			    : r == -ETIMEDOUT ? "none within the deadline" : strerror(-r));
	if (!auth_proof_ok(key, server ? "client" : "server", tr, sizeof(tr), theirs))
		return errf(err, errlen, -EPROTO, "%s does not hold this pair's key: refused", peer);
	return server ? link_write_all(fd, mine, sizeof(mine), -1) : 0;
}

/* The hello, the proofs on a keyed link, then the wire takes the connection over. */
static int finish(struct transport **out, int fd, const char *peer, int wire, const char *device,
		  const struct transport_terms *terms, int server, int64_t deadline, int64_t hello_deadline,
		  char *err, size_t errlen)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct greeting me, them;
	struct link_aead *aead = NULL;
	int r = greet(fd, peer, wire, terms, server, hello_deadline, &me, &them, err, errlen);
	if (!r && me.t.keyed)
		r = prove(fd, peer, terms->key, server, hello_deadline, &me, &them, err, errlen);
	if (!r && me.t.keyed) {
		uint8_t salt[2 * AUTH_NONCE_BYTES];
		memcpy(salt, server ? them.t.nonce : me.t.nonce, AUTH_NONCE_BYTES);
		memcpy(salt + AUTH_NONCE_BYTES, server ? me.t.nonce : them.t.nonce, AUTH_NONCE_BYTES);
		aead = link_aead_new(terms->key, salt, sizeof(salt), server);
		if (!aead)
			r = errf(err, errlen, -ENOMEM, "cannot set up the link's cipher");
	}
	if (r) {
		close(fd);
		return r;
	}
	r = wire == WIRE_TCP ? transport_tcp_new(out, fd, peer, err, errlen)
			       : transport_rdma_new(out, fd, peer, device, server, deadline, err, errlen);
	if (r) {
		link_aead_free(aead);
		return r;
	}
	(*out)->send_timeout_ms = -1;
	(*out)->aead = aead;
	return 0;
}

int transport_send(struct transport *t, const void *msg, size_t len)
{
	if (!t->aead)
		return t->ops->send(t, msg, len);
	if (len > TRANSPORT_MAX_MSG)
		return -EMSGSIZE;
	if (t->auth_failures)
		return -EPIPE;
	const uint8_t *sealed = link_aead_seal(t->aead, msg, len);
	return sealed ? t->ops->send(t, sealed, len + AUTH_TAG_BYTES) : -ENOMEM;
}

ssize_t transport_recv(struct transport *t, void *buf, size_t cap, int timeout_ms)
{
	if (!t->aead)
		return t->ops->recv(t, buf, cap, timeout_ms);
	if (t->auth_failures)
		return -EPROTO;
	size_t incap = cap > TRANSPORT_MAX_MSG ? WIRE_MAX_MSG : cap + AUTH_TAG_BYTES;
	uint8_t *in = link_aead_inbox(t->aead, incap);
	if (!in)
		return -ENOMEM;
	ssize_t n = t->ops->recv(t, in, incap, timeout_ms);
	if (n < 0)
		return n;
	uint64_t seq;
	long m = link_aead_open(t->aead, (size_t)n, buf, cap, &seq);
	if (m == -EMSGSIZE)
		link_too_big(t, (size_t)n, cap + AUTH_TAG_BYTES);
	else if (m < 0) {
		t->auth_failures++;
		link_fail(t, "%s: message %llu does not authenticate (altered, replayed or out of order): "
			  "the link is refused", t->peer, (unsigned long long)seq);
	}
	return m;
}

int transport_accept(struct transport **out, struct transport_listener *l, const char *spec,
		     const struct transport_terms *terms, int timeout_ms, char *err, size_t errlen)
{
	const char *device;
	int wire = parse_wire(spec, &device);
	*out = NULL;
	if (wire < 0)
		return errf(err, errlen, -EINVAL, "unknown transport '%s' (tcp or rdma[:DEVICE])", spec);
	int64_t deadline = link_deadline(timeout_ms);
	struct pollfd pf = { .fd = l->fd, .events = POLLIN };
	int r;
	while ((r = poll(&pf, 1, link_ms_left(deadline))) < 0 && errno == EINTR)
		;
	if (r <= 0)
		return errf(err, errlen, r ? -errno : -ETIMEDOUT, "no peer connected to %s within %d ms",
			    l->addr, timeout_ms);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	if (fd < 0)
		return errf(err, errlen, -errno, "accept on %s: %s", l->addr, strerror(errno));
	char peer[96];
	name_of((struct sockaddr *)&ss, sl, peer, sizeof(peer));
	int64_t hello = link_deadline(l->hello_ms);
	return finish(out, fd, peer, wire, device, terms, 1, deadline,
		      deadline >= 0 && deadline < hello ? deadline : hello, err, errlen);
}

int transport_accept_stream(struct transport **out, int fd, const char *peer, const char *spec,
			    const struct transport_terms *terms, int hello_ms, char *err, size_t errlen)
{
	const char *device;
	int wire = parse_wire(spec, &device);
	*out = NULL;
	if (wire < 0) {
		close(fd);
		return errf(err, errlen, -EINVAL, "unknown transport '%s' (tcp or rdma[:DEVICE])", spec);
	}
	int64_t hello = link_deadline(hello_ms);
	return finish(out, fd, peer, wire, device, terms, 1, hello, hello, err, errlen);
}

int transport_connect(struct transport **out, const char *hostport, const char *spec,
		      const struct transport_terms *terms, int timeout_ms, char *err, size_t errlen)
{
	const char *device;
	int wire = parse_wire(spec, &device);
	*out = NULL;
	if (wire < 0)
		return errf(err, errlen, -EINVAL, "unknown transport '%s' (tcp or rdma[:DEVICE])", spec);
	struct addrinfo *res;
	int r = resolve(hostport, 0, &res, err, errlen);
	if (r)
		return r;
	int64_t deadline = link_deadline(timeout_ms);
	int fd = -1;
	/* the peer may not listen yet: try again until the deadline */
	for (;;) {
		for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
			fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
			if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen)) {
				r = -errno;
				close(fd);
				fd = -1;
			}
		}
		if (fd >= 0 || link_ms_left(deadline) == 0)
			break;
		usleep(50 * 1000);
	}
	freeaddrinfo(res);
	if (fd < 0)
		return errf(err, errlen, r ? r : -ECONNREFUSED, "cannot connect to %s: %s", hostport,
			    strerror(r ? -r : ECONNREFUSED));
	return finish(out, fd, hostport, wire, device, terms, 0, deadline, deadline, err, errlen);
}

void transport_destroy(struct transport *t)
{
	if (!t)
		return;
	link_aead_free(t->aead);
	t->ops->destroy(t);
}
