// SPDX-License-Identifier: MIT
/*
 * detvm-work: the Debian guest's user-space workload, built static (gcc -static) into the
 * root filesystem by tests/debian/build.sh and run by /etc/detvm/workload.sh.
 *
 *   detvm-work DIR PEER_IP
 *
 * 1. reads the TSC directly (RDTSC in ring 3, what databases and JITs do) READS times:
 *    every read must exceed the one before; prints a checksum of the values, which a
 *    replay must reproduce (the TSC is a logged input of the trace);
 * 2. writes FILES files of FILE_BYTES into DIR on the ext4 root, with contents derived
 *    from the TSC values, fsyncs them and the directory, sync()s, reads them back;
 * 3. sends DATAGRAMS UDP datagrams to PEER_IP port 7 (the test's echo peer,
 *    tests/debian/ip_peer.py) and checks that each comes back unchanged;
 * 4. calls clock_gettime(CLOCK_MONOTONIC) in a loop, CLOCK_READS times or as many as the
 *    kernel command line's detvm.clock=N says (tests/bench/vtsc_bench.sh times it with the
 *    TSC in CPUID and without), and prints the clock source, how many distinct values it
 *    returned and the span: time must not go back.
 * One line per step, "detvm-work: ..."; exit 0 when all four passed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define READS 2000
#define FILES 4
#define FILE_BYTES (64 * 1024)
#define DATAGRAMS 8
#define CLOCK_READS 2000

static uint64_t tsc[READS];

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ull;
	return h;
}

static int tsc_step(void)
{
	int i, back = 0;

	for (i = 0; i < READS; i++)
		tsc[i] = rdtsc();
	for (i = 1; i < READS; i++)
		back += tsc[i] <= tsc[i - 1];
	printf("detvm-work: tsc %d reads, first %llu, span %llu, fnv1a %016llx, %d not increasing\n",
	       READS, (unsigned long long)tsc[0], (unsigned long long)(tsc[READS - 1] - tsc[0]),
	       (unsigned long long)fnv1a(0xcbf29ce484222325ull, tsc, sizeof(tsc)), back);
	return back ? -1 : 0;
}

static int file_step(const char *dir)
{
	static unsigned char buf[FILE_BYTES], back[FILE_BYTES];
	char path[4096];
	uint64_t h = 0xcbf29ce484222325ull;
	int i, fd;
	size_t j;

	if (mkdir(dir, 0755) && errno != EEXIST)
		return perror(dir), -1;
	for (i = 0; i < FILES; i++) {
		for (j = 0; j < FILE_BYTES; j += 8)
			memcpy(buf + j, &tsc[(j / 8 + i) % READS], 8);
		snprintf(path, sizeof(path), "%s/file%d", dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, buf, FILE_BYTES) != FILE_BYTES || fsync(fd) || close(fd))
			return perror(path), -1;
		fd = open(path, O_RDONLY);
		if (fd < 0 || read(fd, back, FILE_BYTES) != FILE_BYTES || close(fd))
			return perror(path), -1;
		if (memcmp(buf, back, FILE_BYTES))
			return fprintf(stderr, "detvm-work: %s reads back differently\n", path), -1;
		h = fnv1a(h, buf, FILE_BYTES);
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0 || fsync(fd) || close(fd))
		return perror(dir), -1;
	sync();
	printf("detvm-work: wrote, synced and read back %d files of %d bytes in %s, fnv1a %016llx\n",
	       FILES, FILE_BYTES, dir, (unsigned long long)h);
	return 0;
}

static int udp_step(const char *peer)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(7) };
	unsigned char out[1400], in[1500];
	int i, fd, echoed = 0;

	if (inet_pton(AF_INET, peer, &to.sin_addr) != 1)
		return fprintf(stderr, "detvm-work: bad peer address %s\n", peer), -1;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof(to)))
		return perror("udp socket"), -1;
	for (i = 0; i < DATAGRAMS; i++) {
		size_t len = 32 + i * 150;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t got;

		memset(out, 'a' + i, len);
		memcpy(out, &tsc[i], 8);
		if (send(fd, out, len, 0) != (ssize_t)len)
			return perror("udp send"), -1;
		/* ten seconds of guest time: the first datagram waits for ARP */
		if (poll(&p, 1, 10000) != 1) {
			fprintf(stderr, "detvm-work: no echo of datagram %d\n", i);
			break;
		}
		got = recv(fd, in, sizeof(in), 0);
		echoed += got == (ssize_t)len && !memcmp(in, out, len);
	}
	close(fd);
	printf("detvm-work: udp %d/%d datagrams echoed by %s port 7\n", echoed, DATAGRAMS, peer);
	return echoed == DATAGRAMS ? 0 : -1;
}

/* detvm.clock=N from the kernel command line, else CLOCK_READS */
static long clock_reads(void)
{
	char line[4096];
	FILE *f = fopen("/proc/cmdline", "r");
	long n = CLOCK_READS;

	if (f && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "detvm.clock=");
		if (p)
			n = strtol(p + strlen("detvm.clock="), NULL, 10);
	}
	if (f)
		fclose(f);
	return n;
}

static int clock_step(void)
{
	char source[64] = "?";
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
	long n = clock_reads(), distinct = 0, back = 0;
	struct timespec t0, prev, t;

	if (f) {
		if (fgets(source, sizeof(source), f))
			source[strcspn(source, "\n")] = 0;
		fclose(f);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	prev = t0;
	for (long i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		distinct += t.tv_sec != prev.tv_sec || t.tv_nsec != prev.tv_nsec;
		back += t.tv_sec < prev.tv_sec || (t.tv_sec == prev.tv_sec && t.tv_nsec < prev.tv_nsec);
		prev = t;
	}
	printf("detvm-work: clock_gettime %ld reads, clocksource %s, %ld distinct, span %lld us, %ld going back\n",
	       n, source, distinct,
	       (long long)((prev.tv_sec - t0.tv_sec) * 1000000LL + (prev.tv_nsec - t0.tv_nsec) / 1000), back);
	return back ? -1 : 0;
}

int main(int argc, char **argv)
{
	int bad = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: detvm-work DIR PEER_IP\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	bad |= tsc_step();
	bad |= file_step(argv[1]);
	bad |= udp_step(argv[2]);
	bad |= clock_step();
	return bad ? 1 : 0;
}
