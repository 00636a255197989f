#include "tests/unit/support/test_hostio.h"

#include <errno.h>
#include <string.h>

static struct test_hostio *self(struct hostio *h)
{
	return h->priv;
}

static uint64_t t_clock_ns(struct hostio *h)
{
	self(h)->clock_reads++;
	return self(h)->now_ns;
}

static int64_t t_wallclock_ns(struct hostio *h)
{
	return self(h)->wall_ns + (int64_t)self(h)->now_ns;
}

static void t_timer_arm(struct hostio *h, unsigned timer, uint64_t deadline)
{
	if (timer < HOSTIO_TIMERS) {
		self(h)->timer_deadline[timer] = deadline;
		self(h)->timer_arms[timer]++;
	}
}

static void t_console_out(struct hostio *h, unsigned con, const uint8_t *buf, size_t len)
{
	struct test_hostio *t = self(h);
	size_t room = TEST_HOSTIO_OUT_MAX - t->out_len;
	if (len > room)
		len = room;
	memcpy(t->out + t->out_len, buf, len);
	t->out_len += len;
}

static int disk_check(struct test_hostio *t, uint64_t off, size_t len)
{
	if (t->disk_error)
		return t->disk_error;
	if (!t->disk || off > t->disk_size || len > t->disk_size - off)
		return -EIO;
	return 0;
}

static int t_disk_read(struct hostio *h, unsigned disk, uint64_t off, void *buf, size_t len)
{
	int r = disk_check(self(h), off, len);
	if (!r)
		memcpy(buf, self(h)->disk + off, len);
	return r;
}

static int t_disk_write(struct hostio *h, unsigned disk, uint64_t off, const void *buf, size_t len)
{
	int r = disk_check(self(h), off, len);
	if (!r)
		memcpy(self(h)->disk + off, buf, len);
	return r;
}

static int t_disk_flush(struct hostio *h, unsigned disk)
{
	self(h)->flushes++;
	return self(h)->disk_error;
}

static int t_net_send(struct hostio *h, unsigned nic, const uint8_t *frame, size_t len)
{
	struct test_hostio *t = self(h);
	if (t->frame_count == TEST_HOSTIO_FRAMES || len > sizeof(t->frames[0].data))
		return -ENOBUFS;
	memcpy(t->frames[t->frame_count].data, frame, len);
	t->frames[t->frame_count].len = len;
	t->frame_count++;
	return 0;
}

static const struct hostio_ops test_ops = {
	.name = "test",
	.clock_ns = t_clock_ns,
	.wallclock_ns = t_wallclock_ns,
	.timer_arm = t_timer_arm,
	.console_out = t_console_out,
	.disk_read = t_disk_read,
	.disk_write = t_disk_write,
	.disk_flush = t_disk_flush,
	.net_send = t_net_send,
};

void test_hostio_init(struct test_hostio *t)
{
	memset(t, 0, sizeof(*t));
	hostio_init(&t->io, &test_ops, t);
	/* 2026-01-02 03:04:05 UTC: fixed, so RTC tests can assert exact fields */
	t->wall_ns = 1767323045LL * 1000000000LL;
	for (unsigned i = 0; i < HOSTIO_TIMERS; i++)
		t->timer_deadline[i] = HOSTIO_TIMER_OFF;
}

void test_hostio_advance(struct test_hostio *t, uint64_t now_ns)
{
	t->now_ns = now_ns;
	for (unsigned i = 0; i < HOSTIO_TIMERS; i++) {
		/* a handler may re-arm; fire again while still due, as the run loop would */
		for (int guard = 0; guard < 100000 && t->timer_deadline[i] <= now_ns; guard++) {
			t->timer_deadline[i] = HOSTIO_TIMER_OFF;
			struct hostio_event ev = { HOSTIO_EV_TIMER, i, now_ns, 0, NULL };
			hostio_deliver(&t->io, &ev);
		}
	}
}

int test_hostio_deliver(struct test_hostio *t, uint32_t kind, uint32_t source, const void *data,
			uint32_t len)
{
	struct hostio_event ev = { kind, source, t->now_ns, len, data };
	return hostio_deliver(&t->io, &ev);
}
