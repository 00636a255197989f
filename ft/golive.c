#include "ft/golive.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/cursor.h"
#include "vmm/exitcode.h"
#include "vmm/file_io.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/mono_clock.h"

#define BLOCK 4096u

static void flush_pending(struct ft_golive *g);

static struct ft_golive *self(struct hostio *h)
{
	return h->priv;
}

/* One disk's blocks the replay wrote, to the shared disk. */
static int sync_disk(struct ft_golive *g, unsigned d)
{
	static uint8_t buf[BLOCK];
	for (uint64_t b = 0; b < g->nblocks[d]; b++) {
		if (!(g->dirty[d][b / 8] & (1u << (b % 8))))
			continue;
		uint64_t off = b * BLOCK, len = g->rp->disk_size[d] - off;
		if (len > BLOCK)
			len = BLOCK;
		int r = file_pread_full(g->rp->disk_fd[d], buf, len, off);
		if (!r)
			r = file_pwrite_full(g->live->disk_fd[d], buf, len, off);
		if (r)
			return r;
		g->blocks_copied++;
	}
	if (g->nblocks[d] && fdatasync(g->live->disk_fd[d]) < 0)
		return -errno;
	return 0;
}

/* Brings the shared disks up to the replay's copies: every block the replay wrote. The
 * fence first: a stale primary still writing a disk finishes its write, then writes
 * nothing more; what it wrote, the copy writes again. */
static int sync_disks(struct ft_golive *g)
{
	for (unsigned d = 0; d < g->rp->ndisks && d < g->live->ndisks; d++) {
		int r = g->fence ? ft_fence_enter(g->fence, d) : 0;
		if (r)
			return r;
		r = sync_disk(g, d);
		if (g->fence)
			ft_fence_leave(g->fence, d);
		if (r)
			return r;
	}
	return 0;
}

static int go_live(struct ft_golive *g)
{
	uint64_t t0 = mono_clock_ns();
	int r = sync_disks(g);
	if (r)
		return r;
	host_run_set_clock(g->live, g->guest_ns);
	for (unsigned t = 0; t < HOSTIO_TIMERS; t++)
		if (g->armed[t] != HOSTIO_TIMER_OFF)
			hostio_timer_arm(&g->live->io, t, g->armed[t]);
	/* a frame the guest sends finds no backend it cannot open: counted, not fatal */
	for (unsigned i = 0; i < g->nnics; i++) {
		char err[300];
		if (host_run_add_nic(g->live, g->nic_spec[i], err, sizeof(err)) < 0)
			log_warn("going live without NIC %u: %s", i, err);
	}
	r = host_run_start(g->live);
	if (r)
		return r;
	if (g->released)
		flush_pending(g);
	/* a live guest that runs without exits needs delivery points of its own */
	if (g->m)
		g->m->step_rings = 1u << 0 | 1u << 3;
	g->live_now = 1;
	g->position = g->rp->position;
	g->host_ns = mono_clock_ns() - t0;
	return 0;
}

/* Live already, or the log just ended and the switch is made now: 1; replay on: 0. */
static int live(struct ft_golive *g)
{
	struct replayer *p = g->rp;
	if (g->live_now)
		return 1;
	if (g->refused || p->failed || p->have || p->status >= 0)
		return 0;
	if (!g->may_go_live(g->ctx, p->position)) {
		g->refused = 1;
		return 0;
	}
	int r = go_live(g);
	if (r) {
		g->error = r;
		g->refused = 1;
		replay_fail(p, DETVM_EXIT_HOST, "cannot go live at exit %" PRIu64 ": %s", p->position, strerror(-r));
		return 0;
	}
	log_info("live at exit %" PRIu64 ": guest clock %.3f s, %" PRIu64 " disk blocks issued again, "
		 "switch took %.3f ms", g->position, (double)g->guest_ns / 1e9, g->blocks_copied,
		 (double)g->host_ns / 1e6);
	log_info("console: %" PRIu64 " bytes the primary had released not shown again, %" PRIu64
		 " bytes issued again (the re-issued window)", g->console_skipped, g->console_reissued);
	return 1;
}

static struct hostio *rp_io(struct ft_golive *g)
{
	return &g->rp->io;
}

/* Live, and the arbiter that let it go live is lost: nothing more goes out. */
static int fenced(struct ft_golive *g)
{
	return g->live_now && arbiter_fenced(g->authority, &g->fenced);
}

static uint64_t gl_clock_ns(struct hostio *h)
{
	struct ft_golive *g = self(h);
	if (live(g))
		return hostio_clock_ns(g->out);
	uint64_t v = hostio_clock_ns(rp_io(g));
	if (!g->rp->failed && v > g->guest_ns)
		g->guest_ns = v;
	return v;
}

static int64_t gl_wallclock_ns(struct hostio *h)
{
	struct ft_golive *g = self(h);
	return live(g) ? hostio_wallclock_ns(g->out) : hostio_wallclock_ns(rp_io(g));
}

static void gl_timer_arm(struct hostio *h, unsigned timer, uint64_t deadline)
{
	struct ft_golive *g = self(h);
	if (timer < HOSTIO_TIMERS)
		g->armed[timer] = deadline;
	hostio_timer_arm(live(g) ? g->out : rp_io(g), timer, deadline);
}

#define PENDING_MAX (1u << 20)

/* Shows replayed console bytes: the side channel line, then the bytes. */
static void show(struct ft_golive *g, struct hostio *to, unsigned con, const uint8_t *buf, size_t len)
{
	uint64_t off = g->pending_off;
	ft_console_seq(g->seq_fd, &off, len);
	hostio_console_out(to, con, buf, len);
	g->console_reissued += len;
}

/* Drops what the primary has released since; past PENDING_MAX the oldest is shown. */
static void trim_pending(struct ft_golive *g, unsigned con)
{
	uint64_t mark = __atomic_load_n(g->released, __ATOMIC_ACQUIRE);
	size_t drop = mark <= g->pending_off ? 0 : mark - g->pending_off < g->pending_len ? (size_t)(mark - g->pending_off) : g->pending_len;
	if (g->pending_len - drop > PENDING_MAX) {	/* the primary is slow to say: show, not grow */
		size_t n = g->pending_len - drop - PENDING_MAX;
		g->pending_off += drop;
		show(g, rp_io(g), con, g->pending + drop, n);
		drop += n;
	} else {
		g->console_skipped += drop;
	}
	memmove(g->pending, g->pending + drop, g->pending_len - drop);
	g->pending_len -= drop;
	g->pending_off += drop;
}

static void hold_console(struct ft_golive *g, unsigned con, const uint8_t *buf, size_t len)
{
	if (!g->pending_len)
		g->pending_off = g->console_off;
	while (len) {
		size_t n = len < PENDING_MAX ? len : PENDING_MAX;
		memcpy(g->pending + g->pending_len, buf, n);
		g->pending_len += n;
		g->console_off += n;
		buf += n;
		len -= n;
		trim_pending(g, con);
	}
}

/* Going live: what the primary may not have released is issued again. */
static void flush_pending(struct ft_golive *g)
{
	if (!g->pending_len)
		return;
	trim_pending(g, 0);
	show(g, &g->live->io, 0, g->pending, g->pending_len);
	g->pending_off += g->pending_len;
	g->pending_len = 0;
	host_run_flush(g->live);
}

static void gl_console_out(struct hostio *h, unsigned con, const uint8_t *buf, size_t len)
{
	struct ft_golive *g = self(h);
	struct hostio *to = live(g) ? g->out : rp_io(g);
	if (fenced(g))
		return;
	if (!g->live_now && g->released) {
		hold_console(g, con, buf, len);
		return;
	}
	if (to != g->out || to == &g->live->io)	/* a primary again: the output rule says them */
		ft_console_seq(g->seq_fd, &g->console_off, len);
	hostio_console_out(to, con, buf, len);
	if (to == &g->live->io)	/* the bytes at once, as the side channel already says them */
		host_run_flush(g->live);
}

static int gl_disk_read(struct hostio *h, unsigned disk, uint64_t off, void *buf, size_t len)
{
	struct ft_golive *g = self(h);
	return hostio_disk_read(live(g) ? g->out : rp_io(g), disk, off, buf, len);
}

static int gl_disk_write(struct hostio *h, unsigned disk, uint64_t off, const void *buf, size_t len)
{
	struct ft_golive *g = self(h);
	if (live(g)) {
		if (fenced(g))
			return -EIO;
		int r = ft_fence_disk_write(g->fence, g->out, disk, off, buf, len);
		if (r == -ESTALE)	/* a newer pair's side is live: this one stops */
			g->fenced = 1;
		return r == -ESTALE ? -EIO : r;
	}
	int r = hostio_disk_write(rp_io(g), disk, off, buf, len);
	if (!r && len && disk < REPLAY_MAX_DISKS && g->dirty[disk])
		for (uint64_t b = off / BLOCK; b <= (off + len - 1) / BLOCK && b < g->nblocks[disk]; b++)
			g->dirty[disk][b / 8] |= (uint8_t)(1u << (b % 8));
	return r;
}

static int gl_disk_flush(struct hostio *h, unsigned disk)
{
	struct ft_golive *g = self(h);
	if (live(g) && fenced(g))
		return -EIO;
	return hostio_disk_flush(live(g) ? g->out : rp_io(g), disk);
}

static int gl_net_send(struct hostio *h, unsigned nic, const uint8_t *frame, size_t len)
{
	struct ft_golive *g = self(h);
	if (live(g) && fenced(g))
		return 0;	/* lost, as a wire may lose it */
	return hostio_net_send(live(g) ? g->out : rp_io(g), nic, frame, len);
}

static int gl_deliver_due(struct hostio *h, uint64_t position)
{
	struct ft_golive *g = self(h);
	g->rp->position = position;
	struct hostio *to = live(g) ? g->out : rp_io(g);
	return fenced(g) ? -EPIPE : to->ops->deliver_due(to, position);
}

static int gl_idle_wait(struct hostio *h, uint64_t position)
{
	struct ft_golive *g = self(h);
	g->rp->position = position;
	struct hostio *to = live(g) ? g->out : rp_io(g);
	return fenced(g) ? -EPIPE : to->ops->idle_wait(to, position);
}

static int gl_due(struct hostio *h)
{
	struct ft_golive *g = self(h);
	return g->live_now && g->out->ops->due && g->out->ops->due(g->out);
}

static const struct hostio_ops golive_ops = {
	.name = "ft-backup",
	.clock_ns = gl_clock_ns,
	.wallclock_ns = gl_wallclock_ns,
	.timer_arm = gl_timer_arm,
	.console_out = gl_console_out,
	.disk_read = gl_disk_read,
	.disk_write = gl_disk_write,
	.disk_flush = gl_disk_flush,
	.net_send = gl_net_send,
	.deliver_due = gl_deliver_due,
	.idle_wait = gl_idle_wait,
	.due = gl_due,
};

/* The run observer: the replayer's while the log lasts; once live the recorder's of a
 * re-protected VM, or none (NULL: a live VM nobody records has nothing to check). */
static struct run_observer *target(struct ft_golive *g)
{
	return !live(g) ? &g->rp->obs : g->live_obs;
}

static int ob_exit(void *s, uint64_t position, const struct kvm_run *run, const uint8_t *mem)
{
	struct ft_golive *g = s;
	g->rp->position = position;
	struct run_observer *o = target(g);
	return o ? o->ops->exit(o->self, position, run, mem) : 0;
}

static int ob_interrupt(void *s, uint64_t position, unsigned vector, uint64_t rip)
{
	struct ft_golive *g = s;
	g->rp->position = position;
	struct run_observer *o = target(g);
	return o ? o->ops->interrupt(o->self, position, vector, rip) : 0;
}

static int ob_no_interrupt(void *s, uint64_t position, uint64_t rip, int pending)
{
	struct ft_golive *g = s;
	g->rp->position = position;
	struct run_observer *o = target(g);
	return o ? o->ops->no_interrupt(o->self, position, rip, pending) : 0;
}

static int ob_want_checkpoint(void *s, uint64_t position)
{
	struct ft_golive *g = s;
	g->rp->position = position;
	struct run_observer *o = target(g);
	return o ? o->ops->want_checkpoint(o->self, position) : 0;
}

static int ob_checkpoint(void *s, uint64_t position, uint64_t rip, const struct run_digest *d)
{
	struct ft_golive *g = s;
	g->rp->position = position;
	struct run_observer *o = target(g);
	return o ? o->ops->checkpoint(o->self, position, rip, d) : 0;
}

static int ob_should_stop(void *s, uint64_t position, int *code)
{
	struct ft_golive *g = s;
	g->rp->position = position;
	struct run_observer *o = target(g);
	return o ? o->ops->should_stop(o->self, position, code) : 0;
}

static int ob_window(void *s, uint64_t position, struct step_landmark *lm)
{
	struct ft_golive *g = s;
	g->rp->position = position;
	struct run_observer *o = target(g);
	return o ? o->ops->window(o->self, position, lm) : OBSERVER_WINDOW_ASK;
}

static int ob_step_point(void *s, const struct step_landmark *lm)
{
	struct ft_golive *g = s;
	g->rp->position = lm->last_exit + 1;
	struct run_observer *o = target(g);
	return o ? o->ops->step_point(o->self, lm) : 0;
}

static int ob_step_target(void *s, uint64_t position, struct step_landmark *lm)
{
	struct ft_golive *g = s;
	g->rp->position = position;
	struct run_observer *o = target(g);
	return o ? o->ops->step_target(o->self, position, lm) : 0;
}

static int ob_host_exit(void *s)
{
	struct ft_golive *g = s;
	struct run_observer *o = target(g);
	return o ? o->ops->host_exit(o->self) : 0;
}

static int ob_end(void *s, uint64_t position, int code, const char *why, const struct run_digest *d)
{
	struct ft_golive *g = s;
	g->rp->position = position;
	struct run_observer *o = target(g);
	return o ? o->ops->end(o->self, position, code, why, d) : 0;
}

static int ob_failure(void *s, char *msg, unsigned len)
{
	struct ft_golive *g = s;
	/* the recorder of a re-protected VM, else the replayer (a failed switch's reason) */
	struct run_observer *o = g->live_now && g->live_obs ? g->live_obs : &g->rp->obs;
	return o->ops->failure(o->self, msg, len);
}

static const struct run_observer_ops golive_observer = {
	.exit = ob_exit,
	.interrupt = ob_interrupt,
	.no_interrupt = ob_no_interrupt,
	.want_checkpoint = ob_want_checkpoint,
	.checkpoint = ob_checkpoint,
	.should_stop = ob_should_stop,
	.window = ob_window,
	.step_point = ob_step_point,
	.step_target = ob_step_target,
	.host_exit = ob_host_exit,
	.end = ob_end,
	.failure = ob_failure,
};

static void forward(void *opaque, const struct hostio_event *ev)
{
	struct ft_golive *g = opaque;
	if (ev->kind == HOSTIO_EV_TIMER && !g->live_now && ev->time_ns > g->guest_ns)
		g->guest_ns = ev->time_ns;
	hostio_deliver(&g->io, ev);
}

int ft_golive_init(struct ft_golive *g, struct replayer *rp, struct host_run *live, int seq_fd,
		   int (*may_go_live)(void *ctx, uint64_t position), void *ctx)
{
	memset(g, 0, sizeof(*g));
	hostio_init(&g->io, &golive_ops, g);
	g->obs = (struct run_observer){ &golive_observer, g };
	g->rp = rp;
	g->live = live;
	g->out = &live->io;
	g->seq_fd = seq_fd;
	g->may_go_live = may_go_live;
	g->ctx = ctx;
	for (unsigned t = 0; t < HOSTIO_TIMERS; t++)
		g->armed[t] = HOSTIO_TIMER_OFF;
	/* a chunk past PENDING_MAX is shown before the next joins: never more than twice it */
	g->pending = malloc(2 * PENDING_MAX);
	if (!g->pending)
		return -ENOMEM;
	for (unsigned d = 0; d < rp->ndisks; d++) {
		g->nblocks[d] = (rp->disk_size[d] + BLOCK - 1) / BLOCK;
		g->dirty[d] = calloc(g->nblocks[d] / 8 + 1, 1);
		if (!g->dirty[d]) {
			ft_golive_destroy(g);
			return -ENOMEM;
		}
	}
	for (unsigned k = 0; k < HOSTIO_EV_KINDS; k++)
		for (unsigned s = 0; s < HOSTIO_MAX_SOURCES; s++) {
			hostio_subscribe(&rp->io, k, s, forward, g);
			hostio_subscribe(&live->io, k, s, forward, g);
		}
	return 0;
}

void ft_golive_protected(struct ft_golive *g, struct hostio *out, struct run_observer *obs)
{
	g->out = out;
	g->live_obs = obs;
	for (unsigned k = 0; k < HOSTIO_EV_KINDS; k++)
		for (unsigned s = 0; s < HOSTIO_MAX_SOURCES; s++)
			hostio_subscribe(out, k, s, forward, g);
}

void ft_golive_restored(struct ft_golive *g, uint64_t guest_ns, uint64_t console_off)
{
	g->guest_ns = guest_ns;
	g->console_off = console_off;
}

void ft_golive_set_machine(struct ft_golive *g, struct machine *m)
{
	g->m = m;
}

void ft_golive_destroy(struct ft_golive *g)
{
	free(g->pending);
	g->pending = NULL;
	for (unsigned d = 0; d < REPLAY_MAX_DISKS; d++) {
		free(g->dirty[d]);
		g->dirty[d] = NULL;
	}
}
