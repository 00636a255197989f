/*
 * The FT link (net/transport.h) end to end on a real wire: a forked peer on loopback.
 * Run with no argument for the tcp wire; `test_transport rdma` runs the same tests over
 * RDMA verbs (tests/unit/net/transport_rdma.sh sets up a Soft-RoCE device first).
 * Asserts: messages of every size arrive whole and in order both ways, many more bytes
 * than the RDMA ring holds go through (credits and wrap-around), a timeout is a timeout,
 * a peer that closes or is killed ends the link with -ECONNRESET and one line, and a peer
 * that is not a detvm link, of another version or wire, or that sends a garbage frame, is
 * refused with one line -- never a crash or a hang; an idle connection that never says
 * hello is dropped after the listener's hello deadline and the next peer is taken. The
 * links are keyed, as an FT pair's are: a peer with another key, none, or other timings
 * is refused, and the listener then takes the real peer.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/transport.h"

static const uint8_t key[TRANSPORT_KEY_BYTES] = "the pair's key, 32 bytes long..";
static const uint8_t other_key[TRANSPORT_KEY_BYTES] = "another key, also 32 bytes long";
static const struct transport_terms terms = { key, 100, 3000 };
static const struct transport_terms plain = { NULL, 0, 0 };

static const char *wire = "tcp";
static struct transport_listener lst;
static char err[256];

static int setup(void **state)
{
	if (transport_listen(&lst, "127.0.0.1:0", err, sizeof(err)))
		fail_msg("listen: %s", err);
	return 0;
}

static int teardown(void **state)
{
	transport_listener_close(&lst);
	return 0;
}

static void fill(uint8_t *b, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)((i * 131 + seed * 7919) >> 3);
}

/* The forked peer: connects and runs fn; its exit status is fn's. */
static pid_t peer_on(int (*fn)(struct transport *t), const struct transport_terms *on)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct transport *t;
		char e[256];
		if (transport_connect(&t, lst.addr, wire, on, 10000, e, sizeof(e))) {
			fprintf(stderr, "peer: %s\n", e);
			_exit(90);
		}
		int rc = fn(t);
		transport_destroy(t);
		_exit(rc);
	}
	return pid;
}

static pid_t peer(int (*fn)(struct transport *t))
{
	return peer_on(fn, &terms);
}

static int peer_status(pid_t pid)
{
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static struct transport *accept_peer(void)
{
	struct transport *t;
	if (transport_accept(&t, &lst, wire, &terms, 10000, err, sizeof(err)))
		fail_msg("accept: %s", err);
	assert_string_equal(t->ops->wire, wire[0] == 'r' ? "rdma" : "tcp");
	return t;
}

static const size_t sizes[] = { 0, 1, 7, 4096, 65536, 1 << 20, 3 << 20 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define ROUNDS 60

/* Echoes every message back, until an empty one after ROUNDS. */
static int echo(struct transport *t)
{
	uint8_t *b = malloc(TRANSPORT_MAX_MSG);
	int rc = 0;
	for (int i = 0; i < ROUNDS && !rc; i++) {
		ssize_t n = transport_recv(t, b, TRANSPORT_MAX_MSG, 20000);
		rc = n < 0 || transport_send(t, b, (size_t)n);
	}
	free(b);
	return rc;
}

static void test_echo(void **state)
{
	pid_t pid = peer(echo);
	struct transport *t = accept_peer();
	uint8_t *out = malloc(3 << 20), *in = malloc(3 << 20);
	for (int i = 0; i < ROUNDS; i++) {
		size_t len = sizes[i % NSIZES];
		fill(out, len, (uint32_t)i);
		assert_int_equal(transport_send(t, out, len), 0);
		ssize_t n = transport_recv(t, in, 3 << 20, 20000);
		assert_int_equal(n, (ssize_t)len);
		assert_memory_equal(in, out, len);
	}
	assert_int_equal(t->sent_msgs, ROUNDS);
	assert_int_equal(t->recv_msgs, ROUNDS);
	transport_destroy(t);
	free(out);
	free(in);
	assert_int_equal(peer_status(pid), 0);
}

#define BULK_MSGS 96
#define BULK_LEN (1u << 20)

/* Sends BULK_MSGS messages of 1 MiB without waiting (three times the RDMA ring), then
 * reads one 4-byte checksum back. */
static int bulk(struct transport *t)
{
	uint8_t *b = malloc(BULK_LEN);
	for (uint32_t i = 0; i < BULK_MSGS; i++) {
		fill(b, BULK_LEN, i);
		if (transport_send(t, b, BULK_LEN))
			return 1;
	}
	uint32_t sum;
	ssize_t n = transport_recv(t, &sum, sizeof(sum), 60000);
	free(b);
	return n == sizeof(sum) && sum == BULK_MSGS ? 0 : 2;
}

static void test_bulk(void **state)
{
	pid_t pid = peer(bulk);
	struct transport *t = accept_peer();
	uint8_t *in = malloc(BULK_LEN), *want = malloc(BULK_LEN);
	uint32_t ok = 0;
	for (uint32_t i = 0; i < BULK_MSGS; i++) {
		ssize_t n = transport_recv(t, in, BULK_LEN, 60000);
		assert_int_equal(n, BULK_LEN);
		fill(want, BULK_LEN, i);
		ok += !memcmp(in, want, BULK_LEN);
	}
	assert_int_equal(ok, BULK_MSGS);
	assert_int_equal(transport_send(t, &ok, sizeof(ok)), 0);
	assert_int_equal(peer_status(pid), 0);
	transport_destroy(t);
	free(in);
	free(want);
}

static int send_max(struct transport *t)
{
	uint8_t *b = calloc(1, TRANSPORT_MAX_MSG + 1);
	int r = transport_send(t, b, TRANSPORT_MAX_MSG + 1) == -EMSGSIZE ? 0 : 1;
	b[TRANSPORT_MAX_MSG - 1] = 0x5a;
	if (!r)
		r = transport_send(t, b, TRANSPORT_MAX_MSG) ? 2 : 0;
	/* the peer reads this one into too small a buffer */
	if (!r)
		r = transport_send(t, b, 100) ? 3 : 0;
	uint8_t c;
	transport_recv(t, &c, 1, 20000);	/* until the peer is done */
	free(b);
	return r;
}

static void test_sizes(void **state)
{
	pid_t pid = peer(send_max);
	struct transport *t = accept_peer();
	uint8_t *in = malloc(TRANSPORT_MAX_MSG);
	assert_int_equal(transport_recv(t, in, TRANSPORT_MAX_MSG, 20000), TRANSPORT_MAX_MSG);
	assert_int_equal(in[TRANSPORT_MAX_MSG - 1], 0x5a);
	assert_int_equal(transport_recv(t, in, 10, 20000), -EMSGSIZE);
	assert_non_null(strstr(t->error, "more than the 10 expected"));
	/* the link is unusable after that */
	assert_true(transport_recv(t, in, 10, 0) < 0);
	transport_destroy(t);
	free(in);
	assert_int_equal(peer_status(pid), 0);
}

static int sleep_then_close(struct transport *t)
{
	usleep(300 * 1000);
	return 0;
}

static void test_timeout_and_close(void **state)
{
	pid_t pid = peer(sleep_then_close);
	struct transport *t = accept_peer();
	uint8_t b[16];
	assert_int_equal(transport_recv(t, b, sizeof(b), 50), -ETIMEDOUT);
	assert_int_equal(transport_recv(t, b, sizeof(b), 0), -ETIMEDOUT);
	assert_int_equal(transport_recv(t, b, sizeof(b), 20000), -ECONNRESET);
	assert_non_null(strstr(t->error, "closed the link"));
	assert_int_equal(transport_send(t, b, 1), -EPIPE);
	transport_destroy(t);
	assert_int_equal(peer_status(pid), 0);
}

static int hang(struct transport *t)
{
	pause();
	return 0;
}

static void test_peer_killed(void **state)
{
	pid_t pid = peer(hang);
	struct transport *t = accept_peer();
	uint8_t b[16];
	kill(pid, SIGKILL);
	assert_int_equal(transport_recv(t, b, sizeof(b), 20000), -ECONNRESET);
	assert_int_equal(peer_status(pid), 128 + SIGKILL);
	transport_destroy(t);
}

/* A raw TCP peer: connects to the listener and writes `bytes`, then waits. */
static pid_t raw_peer(const void *bytes, size_t len)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_in a = { .sin_family = AF_INET };
		const char *port = strrchr(lst.addr, ':') + 1;
		a.sin_port = htons((uint16_t)atoi(port));
		inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) || write(fd, bytes, len) != (ssize_t)len)
			_exit(90);
		char c;
		read(fd, &c, 1);	/* until the other side hangs up */
		sleep(1);
		_exit(0);
	}
	return pid;
}

static void expect_refused(const void *bytes, size_t len, const char *why)
{
	pid_t pid = raw_peer(bytes, len);
	struct transport *t = NULL;
	int r = transport_accept(&t, &lst, wire, &terms, 10000, err, sizeof(err));
	assert_true(r < 0);
	assert_null(t);
	if (!strstr(err, why))
		fail_msg("error '%s' lacks '%s'", err, why);
	assert_null(strchr(err, '\n'));
	kill(pid, SIGKILL);
	peer_status(pid);
}

struct hello {
	char magic[8];
	uint32_t version, wire;
};

static void test_refused(void **state)
{
	static const char http[] = "GET / HTTP/1.0\r\n\r\n......";
	expect_refused(http, sizeof(http), "not a detvm FT peer");
	struct hello h = { .version = 99, .wire = wire[0] == 'r' ? 2 : 1 };
	memcpy(h.magic, "detvm-ft", 8);
	char want[64];
	snprintf(want, sizeof(want), "speaks FT link version 99, this detvm %d", TRANSPORT_VERSION);
	expect_refused(&h, sizeof(h), want);
	h.version = TRANSPORT_VERSION;
	h.wire = wire[0] == 'r' ? 1 : 2;
	expect_refused(&h, sizeof(h), wire[0] == 'r' ? "wants tcp, this side rdma" : "wants rdma, this side tcp");
	expect_refused("", 0, "no hello from the peer");
}

static int say_hi(struct transport *t)
{
	return transport_send(t, "hi", 2) != 0;
}

/* An `nc` that connects and sends nothing must not hold the listener for ever: it is
 * dropped after hello_ms (-EPROTO, the listener still good) and the real peer gets in. */
static void test_idle_hello(void **state)
{
	lst.hello_ms = 300;
	pid_t idle = fork();
	assert_true(idle >= 0);
	if (idle == 0) {
		struct sockaddr_in a = { .sin_family = AF_INET };
		a.sin_port = htons((uint16_t)atoi(strrchr(lst.addr, ':') + 1));
		inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
			_exit(90);
		pause();
		_exit(0);
	}
	usleep(200 * 1000);	/* connected first */
	pid_t good = peer(say_hi);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct transport *t = NULL;
	assert_int_equal(transport_accept(&t, &lst, wire, &terms, 10000, err, sizeof(err)), -EPROTO);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_null(t);
	if (!strstr(err, "no hello from the peer: none within the deadline"))
		fail_msg("error '%s'", err);
	assert_true(t1.tv_sec - t0.tv_sec < 5);
	t = accept_peer();
	uint8_t b[16];
	assert_int_equal(transport_recv(t, b, sizeof(b), 20000), 2);
	transport_destroy(t);
	assert_int_equal(peer_status(good), 0);
	kill(idle, SIGKILL);
	peer_status(idle);
}

#define LAST_ROUNDS 20

/* Waits until the other side is blocked in recv, sends one message and closes at once. */
static int last_words(struct transport *t)
{
	usleep(30 * 1000);
	return transport_send(t, "bye", 3) != 0;
}

/* What a peer sent just before it closed is delivered, even when the close is seen first
 * (rdma: the side channel's end, and a queue pair destroyed with a write in flight). A
 * race, so several rounds. */
static void test_last_words(void **state)
{
	for (int i = 0; i < LAST_ROUNDS; i++) {
		pid_t pid = peer(last_words);
		struct transport *t = accept_peer();
		char b[8];
		ssize_t n = transport_recv(t, b, sizeof(b), 5000);
		if (n != 3)
			fail_msg("round %d: recv %zd (%s)", i, n, t->error);
		assert_true(transport_recv(t, b, sizeof(b), 5000) < 0);
		transport_destroy(t);
		assert_int_equal(peer_status(pid), 0);
	}
}

/* A peer on other terms is refused, in one line, on both sides; the listener then takes
 * the real peer. */
static void expect_terms_refused(const struct transport_terms *on, const char *why)
{
	pid_t bad = peer_on(say_hi, on);
	struct transport *t = NULL;
	assert_int_equal(transport_accept(&t, &lst, wire, &terms, 10000, err, sizeof(err)), -EPROTO);
	assert_null(t);
	if (!strstr(err, why))
		fail_msg("error '%s' lacks '%s'", err, why);
	assert_int_equal(peer_status(bad), 90);
}

static void test_key(void **state)
{
	struct transport_terms wrong = terms, none = plain, slow = terms;
	wrong.key = other_key;
	slow.dead_ms = 5000;
	expect_terms_refused(&wrong, "does not hold this pair's key: refused");
	expect_terms_refused(&none, "has no --key, this side has one");
	expect_terms_refused(&slow, "runs with --beat-ms 100 --dead-ms 5000, this side with --beat-ms 100 --dead-ms 3000");
	pid_t good = peer(say_hi);
	struct transport *t = accept_peer();
	uint8_t b[16];
	assert_int_equal(transport_recv(t, b, sizeof(b), 20000), 2);
	assert_int_equal(t->auth_failures, 0);
	transport_destroy(t);
	assert_int_equal(peer_status(good), 0);
}

/* tcp: after a good hello, a frame length no sender would write (an rdma message's size
 * is what the peer's NIC wrote: garbage there is a wrong hello, test_refused) */
static void test_garbage_frame(void **state)
{
	struct {
		struct hello h;
		uint32_t beat_ms, dead_ms, keyed, pad;
		uint8_t nonce[32];
		uint32_t len;
	} __attribute__((packed)) g = { .h = { .version = TRANSPORT_VERSION, .wire = 1 }, .len = 0xfffffff0u };
	memcpy(g.h.magic, "detvm-ft", 8);
	pid_t pid = raw_peer(&g, sizeof(g));
	struct transport *t;
	if (transport_accept(&t, &lst, wire, &plain, 10000, err, sizeof(err)))
		fail_msg("accept: %s", err);
	uint8_t b[64];
	assert_int_equal(transport_recv(t, b, sizeof(b), 20000), -EPROTO);
	assert_non_null(strstr(t->error, "sent garbage: a message of 4294967280 bytes"));
	transport_destroy(t);
	kill(pid, SIGKILL);
	peer_status(pid);
}

static void test_bad_specs(void **state)
{
	struct transport *t;
	struct transport_listener l;
	assert_int_equal(transport_connect(&t, "127.0.0.1:1", "carrier-pigeon", &terms, 100, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown transport 'carrier-pigeon'"));
	assert_int_equal(transport_connect(&t, "nocolon", "tcp", &terms, 100, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is not HOST:PORT"));
	assert_true(transport_connect(&t, "127.0.0.1:1", "tcp", &terms, 200, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "cannot connect to 127.0.0.1:1"));
	assert_true(transport_listen(&l, "256.1.1.1:5", err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "256.1.1.1"));
	assert_int_equal(transport_accept(&t, &lst, "tcp", &terms, 50, err, sizeof(err)), -ETIMEDOUT);
	assert_non_null(strstr(err, "no peer connected"));
}

int main(int argc, char **argv)
{
	if (argc > 1)
		wire = argv[1];
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_and_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_hello, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_words, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_specs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_frame, setup, teardown),	/* tcp only */
	};
	size_t n = sizeof(tests) / sizeof(tests[0]);
	return _cmocka_run_group_tests(wire[0] == 'r' ? "test_transport rdma" : "test_transport tcp", tests,
				       wire[0] == 'r' ? n - 1 : n, NULL, NULL);
}
