#include "ft/output.h"

#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm/file_io.h"
#include "vmm/log.h"

enum output_kind { OUT_CONSOLE, OUT_FRAME, OUT_DISK_WRITE, OUT_DISK_FLUSH };

struct ft_output {
	struct ft_output *next;
	enum output_kind kind;
	unsigned index;		/* console, NIC or disk */
	uint64_t off;		/* disk writes */
	uint64_t piece;		/* released once the backup holds this many pieces; 0 unmarked */
	size_t len;
	uint8_t data[];
};

static struct ft_hold *self(struct hostio *h)
{
	return h->priv;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Does one output on the live host. A disk write that fails now was reported done to the
 * guest when it was queued: it is lost, and said so. */
static void perform(struct ft_hold *h, const struct ft_output *o)
{
	int r = 0;
	switch (o->kind) {
	case OUT_CONSOLE: {
		uint64_t at = h->console_off;
		ft_console_seq(h->seq_fd, &h->console_off, o->len);
		hostio_console_out(h->inner, o->index, o->data, o->len);
		/* the live host writes a line at its end: bytes after the last newline may
		 * still sit in its buffer, so they are not counted out yet */
		const uint8_t *nl = memrchr(o->data, '\n', o->len);
		if (nl && h->link)
			__atomic_store_n(&h->link->mark, at + (uint64_t)(nl - o->data) + 1, __ATOMIC_RELEASE);
		break;
	}
	case OUT_FRAME:
		hostio_net_send(h->inner, o->index, o->data, o->len);
		break;
	case OUT_DISK_WRITE:
		if (h->stall_at && ++h->disk_writes == h->stall_at)
			raise(SIGSTOP);	/* a primary that stands still here, for the fencing test */
		r = ft_fence_disk_write(h->fence, h->inner, o->index, o->off, o->data, o->len);
		if (r == -ESTALE) {	/* said why; the backup is live: nothing more from here */
			h->fenced = h->halted = 1;
			return;
		}
		break;
	case OUT_DISK_FLUSH:
		r = hostio_disk_flush(h->inner, o->index);
		break;
	}
	if (r)
		log_error("disk %u: a write the guest was told was done failed when it was released: %s",
			  o->index, strerror(-r));
	h->released++;
}

/* The recorder's open block goes to the link now: the outputs queued since the last
 * time wait for the piece count that includes it. */
static void mark(struct ft_hold *h)
{
	if (!h->unmarked)
		return;
	int sync = h->unsynced && h->link;
	uint64_t before = sync ? ft_primary_queued(h->link) : 0;
	if (sync) {
		__atomic_store_n(&h->link->sync_next, 1, __ATOMIC_RELEASE);
		h->unsynced = 0;
	}
	if (h->flush)
		h->flush(h->flush_ctx);
	uint64_t n = ft_primary_queued(h->link);
	/* a flush with no new block (the last one went already): an empty piece carries
	 * the sync, so the backup makes what it holds durable before the outputs' ACK */
	if (sync && n == before) {
		ft_primary_sink(h->link, "", 0);
		n = ft_primary_queued(h->link);
	}
	for (struct ft_output *o = h->head; o; o = o->next)
		if (!o->piece)
			o->piece = n;
	h->unmarked = 0;
}

/* Does every output the backup has acknowledged, oldest first: while it is heard from
 * (else it may be live already, with these outputs issued again); all, once alone. */
static void release(struct ft_hold *h)
{
	if (h->alone && arbiter_fenced(h->authority, &h->fenced))
		h->halted = 1;
	if (h->halted)
		return;
	uint64_t acked = h->alone ? UINT64_MAX : ft_link_fresh(h->link) ? ft_primary_acked(h->link) : 0;
	while (h->head && h->head->piece && h->head->piece <= acked && !h->halted) {
		struct ft_output *o = h->head;
		h->head = o->next;
		if (!h->head)
			h->tail = NULL;
		perform(h, o);
		h->held_bytes -= o->len;
		free(o);
	}
}

/* The backup is gone: alone or halted, as the arbiter says (once). 0 alone, -EPIPE halted. */
int ft_hold_lost(struct ft_hold *h)
{
	if (!h->alone && !h->halted) {
		if (h->lost && h->lost(h->lost_ctx))
			h->alone = 1;
		else
			h->halted = 1;
	}
	release(h);
	return h->alone ? 0 : -EPIPE;
}

/* Waits until the oldest output may go (or the backup is gone); -EPIPE then. */
static int wait_oldest(struct ft_hold *h)
{
	if (h->halted)
		return -EPIPE;
	mark(h);
	if (!h->head || h->alone)
		return 0;
	uint64_t t0 = now_ms();
	int r = ft_primary_wait_acked(h->link, h->head->piece, -1);
	h->waited_ms += now_ms() - t0;
	release(h);
	return r == -EPIPE ? ft_hold_lost(h) : r;
}

static void enqueue(struct ft_hold *h, enum output_kind kind, unsigned index, uint64_t off,
		    const void *data, size_t len)
{
	if (h->halted)	/* nothing goes out again: nothing is kept either */
		return;
	/* only output waits, until too much of it does: then the guest waits too */
	while (h->held_bytes + len > FT_HOLD_MAX_BYTES && h->head)
		if (wait_oldest(h))
			return;
	struct ft_output *o = malloc(sizeof(*o) + len);
	if (!o) {
		log_error("out of memory for a held output");
		return;
	}
	*o = (struct ft_output){ .kind = kind, .index = index, .off = off, .len = len };
	if (len)
		memcpy(o->data, data, len);
	if (h->tail)
		h->tail->next = o;
	else
		h->head = o;
	h->tail = o;
	h->held_bytes += len;
	h->unmarked = 1;
	h->unsynced |= kind == OUT_DISK_FLUSH;
	h->outputs++;
}

static uint64_t hold_clock_ns(struct hostio *io)
{
	return hostio_clock_ns(self(io)->inner);
}

static int64_t hold_wallclock_ns(struct hostio *io)
{
	return hostio_wallclock_ns(self(io)->inner);
}

static void hold_timer_arm(struct hostio *io, unsigned timer, uint64_t deadline)
{
	hostio_timer_arm(self(io)->inner, timer, deadline);
}

static void hold_console_out(struct hostio *io, unsigned con, const uint8_t *buf, size_t len)
{
	enqueue(self(io), OUT_CONSOLE, con, 0, buf, len);
}

static int hold_net_send(struct hostio *io, unsigned nic, const uint8_t *frame, size_t len)
{
	enqueue(self(io), OUT_FRAME, nic, 0, frame, len);
	return 0;
}

static int hold_disk_write(struct hostio *io, unsigned disk, uint64_t off, const void *buf, size_t len)
{
	enqueue(self(io), OUT_DISK_WRITE, disk, off, buf, len);
	return 0;
}

static int hold_disk_flush(struct hostio *io, unsigned disk)
{
	enqueue(self(io), OUT_DISK_FLUSH, disk, 0, NULL, 0);
	return 0;
}

/* The disk as the guest wrote it: what is on it, under the writes still queued. */
static int hold_disk_read(struct hostio *io, unsigned disk, uint64_t off, void *buf, size_t len)
{
	struct ft_hold *h = self(io);
	int r = hostio_disk_read(h->inner, disk, off, buf, len);
	if (r)
		return r;
	for (const struct ft_output *o = h->head; o; o = o->next) {
		if (o->kind != OUT_DISK_WRITE || o->index != disk || o->off >= off + len || o->off + o->len <= off)
			continue;
		uint64_t from = o->off > off ? o->off : off;
		uint64_t to = o->off + o->len < off + len ? o->off + o->len : off + len;
		memcpy((uint8_t *)buf + (from - off), o->data + (from - o->off), to - from);
	}
	return 0;
}

static int hold_deliver_due(struct hostio *io, uint64_t position)
{
	struct ft_hold *h = self(io);
	int n = h->inner->ops->deliver_due(h->inner, position);
	mark(h);
	release(h);
	return h->fenced ? -EPIPE : n;
}

/* A halted guest waits for its next event, its outputs for the backup: whichever comes
 * first (the live host cannot be woken by an ACK, so outputs are polled every ms). */
static int hold_idle_wait(struct hostio *io, uint64_t position)
{
	struct ft_hold *h = self(io);
	mark(h);
	release(h);
	while (h->head) {
		if (h->inner->ops->due && h->inner->ops->due(h->inner))
			return 0;
		uint64_t t0 = now_ms();
		int r = ft_primary_wait_acked(h->link, h->head->piece, 1);
		h->waited_ms += now_ms() - t0;
		release(h);
		if (r == -EPIPE && ft_hold_lost(h))
			break;
	}
	return h->fenced ? -EPIPE : h->inner->ops->idle_wait(h->inner, position);
}

static int hold_due(struct hostio *io)
{
	struct ft_hold *h = self(io);
	release(h);
	return h->inner->ops->due ? h->inner->ops->due(h->inner) : 0;
}

static const struct hostio_ops hold_ops = {
	.name = "ft primary",
	.clock_ns = hold_clock_ns,
	.wallclock_ns = hold_wallclock_ns,
	.timer_arm = hold_timer_arm,
	.console_out = hold_console_out,
	.disk_read = hold_disk_read,
	.disk_write = hold_disk_write,
	.disk_flush = hold_disk_flush,
	.net_send = hold_net_send,
	.deliver_due = hold_deliver_due,
	.idle_wait = hold_idle_wait,
	.due = hold_due,
};

/* Inputs pass through: what the live host delivers goes to whoever listens here. */
static void forward(void *opaque, const struct hostio_event *e)
{
	struct ft_hold *h = opaque;
	hostio_deliver(&h->io, e);
}

void ft_hold_init(struct ft_hold *h, struct hostio *inner, struct ft_link *link)
{
	memset(h, 0, sizeof(*h));
	hostio_init(&h->io, &hold_ops, h);
	h->inner = inner;
	h->link = link;
	h->seq_fd = -1;
	const char *stall = getenv("DETVM_TEST_STALL_AT_WRITE");
	h->stall_at = stall ? strtoull(stall, NULL, 10) : 0;
	for (unsigned k = 0; k < HOSTIO_EV_KINDS; k++)
		for (unsigned s = 0; s < HOSTIO_MAX_SOURCES; s++)
			hostio_subscribe(inner, k, s, forward, h);
}

void ft_hold_set_flush(struct ft_hold *h, int (*flush)(void *ctx), void *ctx)
{
	h->flush = flush;
	h->flush_ctx = ctx;
}

int ft_hold_drain(struct ft_hold *h, int timeout_ms)
{
	mark(h);
	if (!h->head)
		return 0;
	int r = h->alone ? 0 : ft_primary_wait_acked(h->link, h->tail->piece, timeout_ms);
	release(h);
	if (r == -EPIPE && !ft_hold_lost(h))
		r = 0;
	return h->head ? (r ? r : -EPIPE) : 0;
}

void ft_hold_destroy(struct ft_hold *h)
{
	while (h->head) {
		struct ft_output *o = h->head;
		h->head = o->next;
		free(o);
	}
	h->tail = NULL;
}

void ft_console_seq(int fd, uint64_t *off, size_t len)
{
	if (fd >= 0 && len) {
		char line[48];
		int n = snprintf(line, sizeof(line), "%" PRIu64 " %zu\n", *off, len);
		int r = file_write_full(fd, line, (size_t)n);
		if (r)
			log_warn("cannot write the console side channel: %s", strerror(-r));
	}
	*off += len;
}

