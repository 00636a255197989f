/* Host network backends with real sockets and, where the host allows it, a real tap. */
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_packet.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/backend.h"

/* What the reader thread hands us, guarded because it runs on another thread. */
struct sink {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned frames;
	uint8_t last[2048];
	size_t last_len;
	const uint8_t *want;	/* frames equal to this are counted in matches */
	size_t want_len;
	unsigned matches;
};

static void sink_init(struct sink *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
}

static void sink_destroy(struct sink *s)
{
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
}

static void on_frame(void *opaque, const uint8_t *frame, size_t len)
{
	struct sink *s = opaque;

	pthread_mutex_lock(&s->lock);
	s->frames++;
	s->last_len = len < sizeof(s->last) ? len : sizeof(s->last);
	memcpy(s->last, frame, s->last_len);
	if (s->want && len == s->want_len && !memcmp(frame, s->want, len))
		s->matches++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Wait up to 5 s for *counter (frames or matches) to reach n. */
static int sink_wait_for(struct sink *s, const unsigned *counter, unsigned n)
{
	struct timespec dl;
	int r = 0, ok;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 5;
	pthread_mutex_lock(&s->lock);
	while (*counter < n && r == 0)
		r = pthread_cond_timedwait(&s->cond, &s->lock, &dl);
	ok = *counter >= n;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

static int sink_wait(struct sink *s, unsigned n)
{
	return sink_wait_for(s, &s->frames, n);
}

static void test_unknown_scheme(void **state)
{
	struct net_backend *nb = (void *)1;
	char err[256];

	assert_int_equal(net_backend_open(&nb, "foo:bar", on_frame, NULL, err, sizeof(err)), -EINVAL);
	assert_null(nb);
	assert_string_equal(err, "unknown network backend 'foo': use tap:IFNAME or unix:PATH");
	assert_int_equal(net_backend_open(&nb, "eth0", NULL, NULL, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown network backend 'eth0': use tap:IFNAME or unix:PATH");
	/* a scheme that only starts like a known one */
	assert_int_equal(net_backend_open(&nb, "unixx:/tmp/x", NULL, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'unixx'"));
	assert_int_equal(net_backend_open(&nb, "unix:", NULL, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "needs an argument"));
	assert_int_equal(net_backend_open(&nb, "tap:", NULL, NULL, err, sizeof(err)), -EINVAL);
	net_backend_close(NULL);
}

struct unix_fix {
	char dir[64];
	char path[128];
	int peer;
};

static int unix_setup(void **state)
{
	struct unix_fix *f = test_calloc(1, sizeof(*f));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	strcpy(f->dir, "/tmp/detvm-net-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/peer.sock", f->dir);
	f->peer = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(f->peer >= 0);
	strcpy(sa.sun_path, f->path);
	assert_int_equal(bind(f->peer, (struct sockaddr *)&sa, sizeof(sa)), 0);
	*state = f;
	return 0;
}

static int unix_teardown(void **state)
{
	struct unix_fix *f = *state;

	if (f->peer >= 0)
		close(f->peer);
	unlink(f->path);
	rmdir(f->dir);
	test_free(f);
	return 0;
}

static void test_unix_missing_peer(void **state)
{
	struct unix_fix *f = *state;
	struct net_backend *nb;
	char spec[160], err[512];

	snprintf(spec, sizeof(spec), "unix:%s/nobody.sock", f->dir);
	assert_int_equal(net_backend_open(&nb, spec, on_frame, NULL, err, sizeof(err)), -ENOENT);
	assert_null(nb);
	assert_non_null(strstr(err, "nobody.sock"));
	assert_non_null(strstr(err, "cannot connect"));

	char longpath[300];
	memset(longpath, 'a', sizeof(longpath));
	memcpy(longpath, "unix:/", 6);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(net_backend_open(&nb, longpath, NULL, NULL, err, sizeof(err)), -ENAMETOOLONG);
}

static void test_unix_round_trip(void **state)
{
	struct unix_fix *f = *state;
	struct net_backend *nb;
	struct sink s;
	struct sockaddr_un from;
	socklen_t fromlen = sizeof(from);
	uint8_t frame[1514], got[2048];
	char spec[160], err[256];
	ssize_t n;

	sink_init(&s);
	snprintf(spec, sizeof(spec), "unix:%s", f->path);
	assert_int_equal(net_backend_open(&nb, spec, on_frame, &s, err, sizeof(err)), 0);

	/* guest -> peer: one datagram per frame, from an autobound (abstract) address */
	for (size_t i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 13);
	assert_int_equal(net_backend_send(nb, frame, sizeof(frame)), 0);
	assert_int_equal(net_backend_send(nb, frame, 60), 0);
	n = recvfrom(f->peer, got, sizeof(got), 0, (struct sockaddr *)&from, &fromlen);
	assert_int_equal(n, sizeof(frame));
	assert_memory_equal(got, frame, sizeof(frame));
	assert_true(fromlen > offsetof(struct sockaddr_un, sun_path) + 1);
	assert_int_equal(from.sun_path[0], '\0');
	n = recv(f->peer, got, sizeof(got), 0);
	assert_int_equal(n, 60);
	assert_int_equal(nb->tx_frames, 2);

	/* peer -> guest: the reader thread calls on_frame */
	assert_int_equal(sendto(f->peer, "hello-frame", 11, 0, (struct sockaddr *)&from, fromlen), 11);
	assert_true(sink_wait(&s, 1));
	pthread_mutex_lock(&s.lock);
	assert_int_equal(s.last_len, 11);
	assert_memory_equal(s.last, "hello-frame", 11);
	pthread_mutex_unlock(&s.lock);

	/* an oversized datagram is dropped whole, not truncated; the next one still comes */
	uint8_t *big = calloc(1, NET_BACKEND_MAX_FRAME + 100);
	int sz = 1 << 20;
	setsockopt(f->peer, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	assert_int_equal(sendto(f->peer, big, NET_BACKEND_MAX_FRAME + 100, 0, (struct sockaddr *)&from,
				fromlen),
			 NET_BACKEND_MAX_FRAME + 100);
	free(big);
	assert_int_equal(sendto(f->peer, "second", 6, 0, (struct sockaddr *)&from, fromlen), 6);
	assert_true(sink_wait(&s, 2));
	assert_int_equal(s.frames, 2);
	assert_int_equal(s.last_len, 6);
	assert_int_equal(nb->rx_dropped, 1);

	/* the peer going away: sends fail without blocking and are counted */
	close(f->peer);
	f->peer = -1;
	assert_true(net_backend_send(nb, frame, 60) < 0);
	assert_int_equal(nb->tx_dropped, 1);
	/* the reader survives the peer's death and does not spin on the socket error */
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	usleep(200 * 1000);
	getrusage(RUSAGE_SELF, &ru1);
	long cpu_us = (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) * 1000000L +
		      (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) +
		      (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1000000L +
		      (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec);
	assert_true(cpu_us < 100 * 1000);
	assert_int_equal(nb->reader_error, 0);

	net_backend_close(nb);
	sink_destroy(&s);
}

static void test_unix_close_while_idle(void **state)
{
	struct unix_fix *f = *state;
	struct sink s;
	char spec[160], err[256];

	sink_init(&s);
	snprintf(spec, sizeof(spec), "unix:%s", f->path);
	/* the reader is blocked in poll: close must still stop and join it, repeatedly */
	for (int i = 0; i < 20; i++) {
		struct net_backend *nb;

		assert_int_equal(net_backend_open(&nb, spec, on_frame, &s, err, sizeof(err)), 0);
		if (i % 2)
			usleep(1000);
		net_backend_close(nb);
	}
	assert_int_equal(s.frames, 0);
	sink_destroy(&s);
}

static int set_up(const char *ifname)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	strcpy(ifr.ifr_name, ifname);
	r = ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (!r)
		r = ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
	return r;
}

static uint64_t if_stat(const char *ifname, const char *stat)
{
	char path[128];
	unsigned long long v = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", ifname, stat);
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_int_equal(fscanf(fp, "%llu", &v), 1);
	fclose(fp);
	return v;
}

static void test_tap(void **state)
{
	char ifname[IFNAMSIZ];
	struct net_backend *nb;
	struct sink s;
	char err[256], spec[64];
	int r;

	assert_int_equal(net_backend_open(&nb, "tap:a-name-much-too-long-for-linux", NULL, NULL, err,
					  sizeof(err)),
			 -EINVAL);
	/* per process, so parallel runs of this test do not collide */
	snprintf(ifname, sizeof(ifname), "detvmt%u", (unsigned)getpid() % 100000);
	snprintf(spec, sizeof(spec), "tap:%s", ifname);
	sink_init(&s);
	r = net_backend_open(&nb, spec, on_frame, &s, err, sizeof(err));
	if (r == -EPERM || r == -EACCES || r == -ENOENT || r == -ENODEV || r == -ENXIO ||
	    r == -EBADFD) {
		fprintf(stderr, "skipping tap test: /dev/net/tun unusable here: %s\n", err);
		sink_destroy(&s);
		skip();
	}
	assert_int_equal(r, 0);
	unsigned ifindex = if_nametoindex(ifname);
	assert_true(ifindex > 0);

	/* down: the kernel refuses frames, which is an error, not a hang */
	uint8_t frame[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x01, 0x88, 0xb5 };
	memcpy(frame + 14, "detvm tap test", 14);
	r = net_backend_send(nb, frame, sizeof(frame));
	assert_true(r == 0 || r == -EIO);

	/* up: a sent frame arrives whole (no packet-info prefix eaten) */
	assert_int_equal(set_up(ifname), 0);
	uint64_t rx0 = if_stat(ifname, "rx_bytes");
	assert_int_equal(net_backend_send(nb, frame, sizeof(frame)), 0);
	assert_int_equal(if_stat(ifname, "rx_bytes") - rx0, sizeof(frame));

	/* and a frame the host transmits on the tap reaches on_frame */
	int ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (ps < 0) {
		fprintf(stderr, "tap test: no AF_PACKET socket (%s), rx part not checked\n",
			strerror(errno));
		goto out;
	}
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_ifindex = (int)ifindex, .sll_halen = 6 };
	memset(ll.sll_addr, 0xff, 6);
	frame[20] = 0x42;
	pthread_mutex_lock(&s.lock);
	s.want = frame;
	s.want_len = sizeof(frame);
	pthread_mutex_unlock(&s.lock);
	assert_int_equal(sendto(ps, frame, sizeof(frame), 0, (struct sockaddr *)&ll, sizeof(ll)),
			 sizeof(frame));
	assert_true(sink_wait_for(&s, &s.matches, 1));
	assert_true(nb->rx_frames >= 1);
	close(ps);
out:
	net_backend_close(nb);
	/* not persistent: closing the fd removes it */
	assert_int_equal(if_nametoindex(ifname), 0);
	sink_destroy(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_scheme),
		cmocka_unit_test_setup_teardown(test_unix_missing_peer, unix_setup, unix_teardown),
		cmocka_unit_test_setup_teardown(test_unix_round_trip, unix_setup, unix_teardown),
		cmocka_unit_test_setup_teardown(test_unix_close_while_idle, unix_setup, unix_teardown),
		cmocka_unit_test(test_tap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
