/* The replayer's hostio: every input the devices take comes from the trace, in order. */
#include "replay/replay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "replay/cursor.h"
#include "replay/events.h"
#include "vmm/file_io.h"

static struct replayer *self_io(struct hostio *h)
{
	return h->priv;
}

static uint64_t rp_clock_ns(struct hostio *h)
{
	struct replayer *p = self_io(h);
	const Detvm__Event *e = replay_expect(p, DETVM__EVENT__PAYLOAD_CLOCK, "a clock read");
	if (!e)
		return 0;
	uint64_t v = e->clock->value_ns;
	replay_consume(p);
	return v;
}

static int64_t rp_wallclock_ns(struct hostio *h)
{
	struct replayer *p = self_io(h);
	const Detvm__Event *e = replay_expect(p, DETVM__EVENT__PAYLOAD_WALLCLOCK, "a wall-clock read");
	if (!e)
		return 0;
	int64_t v = e->wallclock->value_ns;
	replay_consume(p);
	return v;
}

static void rp_timer_arm(struct hostio *h, unsigned timer, uint64_t deadline)
{
	/* timer expiries come from the trace */
}

static void rp_console_out(struct hostio *h, unsigned con, const uint8_t *buf, size_t len)
{
	struct replayer *p = self_io(h);
	while (len && !p->mute) {
		ssize_t n = write(p->out_fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= n;
	}
}

static int disk_io(struct replayer *p, unsigned disk, uint64_t off, void *buf, size_t len, int wr)
{
	if (replay_next_is(p, DETVM__EVENT__PAYLOAD_DISK)) {
		int status = p->cur.ev->disk->status;	/* the host failed this one in the recording */
		replay_consume(p);
		return status;
	}
	if (disk >= p->ndisks || off > p->disk_size[disk] || len > p->disk_size[disk] - off)
		return -EIO;
	if (wr && p->disk_writing && len)
		p->disk_writing(p->disk_ctx, disk, off, len);
	int r = wr ? file_pwrite_full(p->disk_fd[disk], buf, len, off)
		   : file_pread_full(p->disk_fd[disk], buf, len, off);
	if (r)	/* the recording succeeded here: a host failure now is a divergence */
		replay_fail(p, REPLAY_EXIT_DIVERGED, "diverged at exit %" PRIu64 ": the replay disk failed (%s)",
		            p->position, strerror(-r));
	return r;
}

static int rp_disk_read(struct hostio *h, unsigned disk, uint64_t off, void *buf, size_t len)
{
	return disk_io(self_io(h), disk, off, buf, len, 0);
}

static int rp_disk_write(struct hostio *h, unsigned disk, uint64_t off, const void *buf, size_t len)
{
	return disk_io(self_io(h), disk, off, (void *)buf, len, 1);
}

static int rp_disk_flush(struct hostio *h, unsigned disk)
{
	struct replayer *p = self_io(h);
	if (replay_next_is(p, DETVM__EVENT__PAYLOAD_DISK)) {
		int status = p->cur.ev->disk->status;
		replay_consume(p);
		return status;
	}
	return 0;
}

static int rp_net_send(struct hostio *h, unsigned nic, const uint8_t *frame, size_t len)
{
	self_io(h)->frames_discarded++;
	return 0;
}

static int is_input(const Detvm__Event *e)
{
	return e->payload_case == DETVM__EVENT__PAYLOAD_TIMER ||
	       e->payload_case == DETVM__EVENT__PAYLOAD_CONSOLE ||
	       e->payload_case == DETVM__EVENT__PAYLOAD_NET_RX;
}

static int rp_deliver_due(struct hostio *h, uint64_t position)
{
	struct replayer *p = self_io(h);
	p->position = position;
	int n = 0;
	while (!p->failed && p->have && p->cur.position == position && is_input(p->cur.ev)) {
		const Detvm__Event *e = p->cur.ev;
		struct hostio_event ev = { 0 };
		/* copy out first: delivering may consume clock events and move the cursor */
		static uint8_t buf[65536];	/* the largest event the live side can post */
		switch (e->payload_case) {
		case DETVM__EVENT__PAYLOAD_TIMER:
			ev = (struct hostio_event){ HOSTIO_EV_TIMER, e->timer->timer, e->timer->time_ns, 0, NULL };
			break;
		case DETVM__EVENT__PAYLOAD_CONSOLE:
			ev = (struct hostio_event){ HOSTIO_EV_CONSOLE_IN, e->console->console, 0,
						    (uint32_t)e->console->data.len, buf };
			break;
		default:
			ev = (struct hostio_event){ HOSTIO_EV_NET_RX, e->net_rx->nic, 0,
						    (uint32_t)e->net_rx->frame.len, buf };
			break;
		}
		if (ev.len > sizeof(buf)) {
			replay_fail(p, REPLAY_EXIT_TRACE, "event %" PRIu64 " carries %u bytes, more than detvm accepts",
			            p->cur.seq, ev.len);
			break;
		}
		if (ev.len)
			memcpy(buf, e->payload_case == DETVM__EVENT__PAYLOAD_CONSOLE ? e->console->data.data
										 : e->net_rx->frame.data, ev.len);
		replay_consume(p);
		hostio_deliver(&p->io, &ev);
		n++;
	}
	return p->failed ? -ECANCELED : n;
}

static int rp_idle_wait(struct hostio *h, uint64_t position)
{
	struct replayer *p = self_io(h);
	p->position = position;
	/* idle skip: no waiting, the next input is simply taken now */
	if (!p->failed && p->have && p->cur.position == position && is_input(p->cur.ev))
		return 0;
	if (!p->failed && !p->have && p->status < 0)
		replay_trace_ends(p);
	else
		replay_diverged(p, "a halted guest with nothing to wake it");
	return -ECANCELED;
}

const struct hostio_ops replay_hostio_ops = {
	.name = "replay",
	.clock_ns = rp_clock_ns,
	.wallclock_ns = rp_wallclock_ns,
	.timer_arm = rp_timer_arm,
	.console_out = rp_console_out,
	.disk_read = rp_disk_read,
	.disk_write = rp_disk_write,
	.disk_flush = rp_disk_flush,
	.net_send = rp_net_send,
	.deliver_due = rp_deliver_due,
	.idle_wait = rp_idle_wait,
};
