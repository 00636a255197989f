/*
 * The FT link's cost of its key: the same wire with and without the seal, side by side
 * in one run (a forked peer on loopback, or on a Soft-RoCE device for rdma).
 *   bulk   1 MiB messages one way, one small reply at the end: MB/s
 *   ping   64-byte round trips: microseconds each (the lockstep's ACK path)
 * usage: link_bench [tcp|rdma] [ROUNDS]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net/transport.h"

#define BULK_LEN (1u << 20)
#define BULK_MSGS 256
#define PINGS 5000

static const uint8_t key[TRANSPORT_KEY_BYTES] = "a benchmark's key of 32 bytes..";

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *err)
{
	fprintf(stderr, "link_bench: %s: %s\n", what, err);
	exit(1);
}

/* The peer: takes BULK_MSGS messages and answers, then echoes PINGS pings. */
static int peer(const char *addr, const char *wire, const struct transport_terms *terms)
{
	struct transport *t;
	char err[256];
	if (transport_connect(&t, addr, wire, terms, 10000, err, sizeof(err)))
		die("connect", err);
	uint8_t *b = malloc(BULK_LEN);
	for (int i = 0; i < BULK_MSGS; i++)
		if (transport_recv(t, b, BULK_LEN, 30000) != BULK_LEN)
			return 1;
	if (transport_send(t, "ok", 2))
		return 1;
	for (int i = 0; i < PINGS; i++) {
		ssize_t n = transport_recv(t, b, 64, 30000);
		if (n != 64 || transport_send(t, b, 64))
			return 1;
	}
	free(b);
	transport_destroy(t);
	return 0;
}

static void one(const char *wire, const char *name, const struct transport_terms *terms, double *mbs, double *us)
{
	struct transport_listener l;
	char err[256];
	if (transport_listen(&l, "127.0.0.1:0", err, sizeof(err)))
		die("listen", err);
	pid_t pid = fork();
	if (pid == 0)
		_exit(peer(l.addr, wire, terms));
	struct transport *t;
	if (transport_accept(&t, &l, wire, terms, 10000, err, sizeof(err)))
		die("accept", err);
	uint8_t *b = calloc(1, BULK_LEN);
	double t0 = now();
	for (int i = 0; i < BULK_MSGS; i++)
		if (transport_send(t, b, BULK_LEN))
			die("send", t->error);
	if (transport_recv(t, b, 16, 30000) != 2)
		die("bulk reply", t->error);
	double t1 = now();
	for (int i = 0; i < PINGS; i++)
		if (transport_send(t, b, 64) || transport_recv(t, b, 64, 30000) != 64)
			die("ping", t->error);
	double t2 = now();
	*mbs = BULK_MSGS * (BULK_LEN / 1e6) / (t1 - t0);
	*us = (t2 - t1) / PINGS * 1e6;
	transport_destroy(t);
	transport_listener_close(&l);
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		die(name, "the peer failed");
	free(b);
}

int main(int argc, char **argv)
{
	const char *wire = argc > 1 ? argv[1] : "tcp";
	int rounds = argc > 2 ? atoi(argv[2]) : 3;
	if (!strcmp(wire, "-h") || !strcmp(wire, "--help") || rounds < 1) {
		printf("usage: link_bench [tcp|rdma] [ROUNDS]\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	const struct transport_terms plain = { NULL, 0, 0 }, keyed = { key, 0, 0 };
	double best[2][2] = { { 0, 1e9 }, { 0, 1e9 } };
	for (int r = 0; r < rounds; r++)	/* alternated, the best of each */
		for (int k = 0; k < 2; k++) {
			double mbs, us;
			one(wire, k ? "keyed" : "plain", k ? &keyed : &plain, &mbs, &us);
			if (mbs > best[k][0])
				best[k][0] = mbs;
			if (us < best[k][1])
				best[k][1] = us;
		}
	printf("link %s, best of %d: %-26s %10s %10s\n", wire, rounds, "", "plain", "keyed");
	printf("  bulk, 1 MiB messages (MB/s)            %10.0f %10.0f   keyed/plain %.2f\n", best[0][0], best[1][0],
	       best[1][0] / best[0][0]);
	printf("  round trip, 64 bytes (us)              %10.1f %10.1f   keyed/plain %.2f\n", best[0][1], best[1][1],
	       best[1][1] / best[0][1]);
	return 0;
}
