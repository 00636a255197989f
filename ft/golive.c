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

static struct ft_golive *self(struct hostio *h)
{
	return h->priv;
}

/* Brings the shared disks up to the replay's copies: every block the replay wrote. */
static int sync_disks(struct ft_golive *g)
{
	static uint8_t buf[BLOCK];
	for (unsigned d = 0; d < g->rp->ndisks && d < g->live->ndisks; d++) {
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
	return 1;
}

static struct hostio *rp_io(struct ft_golive *g)
{
	return &g->rp->io;
}

static uint64_t gl_clock_ns(struct hostio *h)
{
	struct ft_golive *g = self(h);
	if (live(g))
		return hostio_clock_ns(&g->live->io);
	uint64_t v = hostio_clock_ns(rp_io(g));
	if (!g->rp->failed && v > g->guest_ns)
		g->guest_ns = v;
	return v;
}

static int64_t gl_wallclock_ns(struct hostio *h)
{
	struct ft_golive *g = self(h);
	return live(g) ? hostio_wallclock_ns(&g->live->io) : hostio_wallclock_ns(rp_io(g));
}

static void gl_timer_arm(struct hostio *h, unsigned timer, uint64_t deadline)
{
	struct ft_golive *g = self(h);
	if (timer < HOSTIO_TIMERS)
		g->armed[timer] = deadline;
	hostio_timer_arm(live(g) ? &g->live->io : rp_io(g), timer, deadline);
}

static void gl_console_out(struct hostio *h, unsigned con, const uint8_t *buf, size_t len)
{
	struct ft_golive *g = self(h);
	struct hostio *to = live(g) ? &g->live->io : rp_io(g);
	ft_console_seq(g->seq_fd, &g->console_off, len);
	hostio_console_out(to, con, buf, len);
	if (g->live_now)	/* the bytes at once, as the side channel already says them */
		host_run_flush(g->live);
}

static int gl_disk_read(struct hostio *h, unsigned disk, uint64_t off, void *buf, size_t len)
{
	struct ft_golive *g = self(h);
	return hostio_disk_read(live(g) ? &g->live->io : rp_io(g), disk, off, buf, len);
}

static int gl_disk_write(struct hostio *h, unsigned disk, uint64_t off, const void *buf, size_t len)
{
	struct ft_golive *g = self(h);
	if (live(g))
		return hostio_disk_write(&g->live->io, disk, off, buf, len);
	int r = hostio_disk_write(rp_io(g), disk, off, buf, len);
	if (!r && len && disk < REPLAY_MAX_DISKS && g->dirty[disk])
		for (uint64_t b = off / BLOCK; b <= (off + len - 1) / BLOCK && b < g->nblocks[disk]; b++)
			g->dirty[disk][b / 8] |= (uint8_t)(1u << (b % 8));
	return r;
}

static int gl_disk_flush(struct hostio *h, unsigned disk)
{
	struct ft_golive *g = self(h);
	return hostio_disk_flush(live(g) ? &g->live->io : rp_io(g), disk);
}

static int gl_net_send(struct hostio *h, unsigned nic, const uint8_t *frame, size_t len)
{
	struct ft_golive *g = self(h);
	return hostio_net_send(live(g) ? &g->live->io : rp_io(g), nic, frame, len);
}

static int gl_deliver_due(struct hostio *h, uint64_t position)
{
	struct ft_golive *g = self(h);
	g->rp->position = position;
	struct hostio *to = live(g) ? &g->live->io : rp_io(g);
	return to->ops->deliver_due(to, position);
}

static int gl_idle_wait(struct hostio *h, uint64_t position)
{
	struct ft_golive *g = self(h);
	g->rp->position = position;
	struct hostio *to = live(g) ? &g->live->io : rp_io(g);
	return to->ops->idle_wait(to, position);
}

static int gl_due(struct hostio *h)
{
	struct ft_golive *g = self(h);
	return g->live_now && g->live->io.ops->due(&g->live->io);
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

/* The run observer: the replayer's while the log lasts, none once live. */

#define RP(g) ((g)->rp->obs)

static int ob_exit(void *s, uint64_t position, const struct kvm_run *run, const uint8_t *mem)
{
	struct ft_golive *g = s;
	g->rp->position = position;
	return live(g) ? 0 : RP(g).ops->exit(RP(g).self, position, run, mem);
}

static int ob_interrupt(void *s, uint64_t position, unsigned vector, uint64_t rip)
{
	struct ft_golive *g = s;
	g->rp->position = position;
	return live(g) ? 0 : RP(g).ops->interrupt(RP(g).self, position, vector, rip);
}

static int ob_no_interrupt(void *s, uint64_t position, uint64_t rip, int pending)
{
	struct ft_golive *g = s;
	g->rp->position = position;
	return live(g) ? 0 : RP(g).ops->no_interrupt(RP(g).self, position, rip, pending);
}

static int ob_want_checkpoint(void *s, uint64_t position)
{
	struct ft_golive *g = s;
	g->rp->position = position;
	return live(g) ? 0 : RP(g).ops->want_checkpoint(RP(g).self, position);
}

static int ob_checkpoint(void *s, uint64_t position, uint64_t rip, const struct run_digest *d)
{
	struct ft_golive *g = s;
	g->rp->position = position;
	return live(g) ? 0 : RP(g).ops->checkpoint(RP(g).self, position, rip, d);
}

static int ob_should_stop(void *s, uint64_t position, int *code)
{
	struct ft_golive *g = s;
	g->rp->position = position;
	return live(g) ? 0 : RP(g).ops->should_stop(RP(g).self, position, code);
}

static int ob_window(void *s, uint64_t position, struct step_landmark *lm)
{
	struct ft_golive *g = s;
	g->rp->position = position;
	return live(g) ? OBSERVER_WINDOW_ASK : RP(g).ops->window(RP(g).self, position, lm);
}

static int ob_step_point(void *s, const struct step_landmark *lm)
{
	struct ft_golive *g = s;
	g->rp->position = lm->last_exit + 1;
	return live(g) ? 0 : RP(g).ops->step_point(RP(g).self, lm);
}

static int ob_step_target(void *s, uint64_t position, struct step_landmark *lm)
{
	struct ft_golive *g = s;
	g->rp->position = position;
	return live(g) ? 0 : RP(g).ops->step_target(RP(g).self, position, lm);
}

static int ob_host_exit(void *s)
{
	struct ft_golive *g = s;
	return live(g) ? 0 : RP(g).ops->host_exit(RP(g).self);
}

static int ob_end(void *s, uint64_t position, int code, const char *why, const struct run_digest *d)
{
	struct ft_golive *g = s;
	g->rp->position = position;
	return live(g) ? 0 : RP(g).ops->end(RP(g).self, position, code, why, d);
}

static int ob_failure(void *s, char *msg, unsigned len)
{
	struct ft_golive *g = s;
	return RP(g).ops->failure(RP(g).self, msg, len);
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
	g->seq_fd = seq_fd;
	g->may_go_live = may_go_live;
	g->ctx = ctx;
	for (unsigned t = 0; t < HOSTIO_TIMERS; t++)
		g->armed[t] = HOSTIO_TIMER_OFF;
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

void ft_golive_set_machine(struct ft_golive *g, struct machine *m)
{
	g->m = m;
}

void ft_golive_destroy(struct ft_golive *g)
{
	for (unsigned d = 0; d < REPLAY_MAX_DISKS; d++) {
		free(g->dirty[d]);
		g->dirty[d] = NULL;
	}
}
