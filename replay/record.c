#include "replay/record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/events.h"
#include "replay/vcpu_codec.h"
#include "vmm/exitcode.h"
#include "vmm/file_io.h"
#include "vmm/mono_clock.h"

static struct recorder *self_io(struct hostio *h)
{
	return h->priv;
}

static void append(struct recorder *r, Detvm__Event *ev)
{
	if (!r->w && !r->error)
		r->error = -ENOTCONN;	/* a device took input before the trace existed */
	if (r->error)
		return;
	int e = trace_writer_append(r->w, r->position, ev);
	if (e)
		r->error = e;
}

static void append_payload(struct recorder *r, struct event_buf *b, Detvm__Event__PayloadCase c)
{
	b->ev.payload_case = c;
	append(r, &b->ev);
}

/* ---- the hostio the devices see -------------------------------------------------- */

static uint64_t rec_clock_ns(struct hostio *h)
{
	struct recorder *r = self_io(h);
	uint64_t v = hostio_clock_ns(r->inner);
	struct event_buf b;
	detvm__event__init(&b.ev);
	detvm__clock_read__init(&b.u.clock);
	b.u.clock.value_ns = v;
	b.ev.clock = &b.u.clock;
	append_payload(r, &b, DETVM__EVENT__PAYLOAD_CLOCK);
	r->guest_ns = v;
	return v;
}

static int64_t rec_wallclock_ns(struct hostio *h)
{
	struct recorder *r = self_io(h);
	int64_t v = hostio_wallclock_ns(r->inner);
	struct event_buf b;
	detvm__event__init(&b.ev);
	detvm__wallclock_read__init(&b.u.wallclock);
	b.u.wallclock.value_ns = v;
	b.ev.wallclock = &b.u.wallclock;
	append_payload(r, &b, DETVM__EVENT__PAYLOAD_WALLCLOCK);
	return v;
}

static void rec_timer_arm(struct hostio *h, unsigned timer, uint64_t deadline)
{
	hostio_timer_arm(self_io(h)->inner, timer, deadline);
}

static void rec_console_out(struct hostio *h, unsigned con, const uint8_t *buf, size_t len)
{
	hostio_console_out(self_io(h)->inner, con, buf, len);
}

/* A failed disk operation is an input (the host's I/O error): logged so replay fails it
 * the same way. Success is not logged: the data comes from the disk snapshot. */
static int disk_status(struct recorder *r, unsigned disk, int status)
{
	if (!status)
		return 0;
	struct event_buf b;
	detvm__event__init(&b.ev);
	detvm__disk_completion__init(&b.u.disk);
	b.u.disk.disk = disk;
	b.u.disk.status = status;
	b.ev.disk = &b.u.disk;
	append_payload(r, &b, DETVM__EVENT__PAYLOAD_DISK);
	return status;
}

static int rec_disk_read(struct hostio *h, unsigned disk, uint64_t off, void *buf, size_t len)
{
	struct recorder *r = self_io(h);
	return disk_status(r, disk, hostio_disk_read(r->inner, disk, off, buf, len));
}

static int rec_disk_write(struct hostio *h, unsigned disk, uint64_t off, const void *buf, size_t len)
{
	struct recorder *r = self_io(h);
	return disk_status(r, disk, hostio_disk_write(r->inner, disk, off, buf, len));
}

static int rec_disk_flush(struct hostio *h, unsigned disk)
{
	struct recorder *r = self_io(h);
	return disk_status(r, disk, hostio_disk_flush(r->inner, disk));
}

/* Whether a frame left is not visible to the guest (virtio-net only counts it). */
static int rec_net_send(struct hostio *h, unsigned nic, const uint8_t *frame, size_t len)
{
	return hostio_net_send(self_io(h)->inner, nic, frame, len);
}

static void flush_if_due(struct recorder *r)
{
	if (!r->error) {
		int e = trace_writer_flush_if_due(r->w, mono_clock_ns());
		if (e < 0)
			r->error = e;
	}
}

static int rec_deliver_due(struct hostio *h, uint64_t position)
{
	struct recorder *r = self_io(h);
	r->position = position;
	int n = r->inner->ops->deliver_due(r->inner, position);
	flush_if_due(r);
	return r->error ? r->error : n;
}

static int rec_idle_wait(struct hostio *h, uint64_t position)
{
	struct recorder *r = self_io(h);
	/* by age only: a block per halt would cost more in framing than the events weigh;
	 * the flush kick wakes the wait, so blocks still go out within the age limit */
	flush_if_due(r);
	return r->inner->ops->idle_wait(r->inner, position);
}

static int rec_due(struct hostio *h)
{
	struct recorder *r = self_io(h);
	/* not an input: what the guest gets is logged when it is delivered */
	return r->inner->ops->due ? r->inner->ops->due(r->inner) : 0;
}

static const struct hostio_ops record_ops = {
	.name = "record",
	.clock_ns = rec_clock_ns,
	.wallclock_ns = rec_wallclock_ns,
	.timer_arm = rec_timer_arm,
	.console_out = rec_console_out,
	.disk_read = rec_disk_read,
	.disk_write = rec_disk_write,
	.disk_flush = rec_disk_flush,
	.net_send = rec_net_send,
	.deliver_due = rec_deliver_due,
	.idle_wait = rec_idle_wait,
	.due = rec_due,
};

/* The live host delivers each event here; it is logged, then handed to the device. */
static void forward(void *opaque, const struct hostio_event *e)
{
	struct recorder *r = opaque;
	struct event_buf b;
	detvm__event__init(&b.ev);
	switch (e->kind) {
	case HOSTIO_EV_TIMER:
		detvm__timer_fire__init(&b.u.timer);
		b.u.timer.timer = e->source;
		b.u.timer.time_ns = e->time_ns;
		b.ev.timer = &b.u.timer;
		append_payload(r, &b, DETVM__EVENT__PAYLOAD_TIMER);
		r->guest_ns = e->time_ns;
		break;
	case HOSTIO_EV_CONSOLE_IN:
		detvm__console_input__init(&b.u.console);
		b.u.console.console = e->source;
		b.u.console.data.data = (uint8_t *)e->data;
		b.u.console.data.len = e->len;
		b.ev.console = &b.u.console;
		append_payload(r, &b, DETVM__EVENT__PAYLOAD_CONSOLE);
		break;
	case HOSTIO_EV_NET_RX:
		detvm__net_rx__init(&b.u.net_rx);
		b.u.net_rx.nic = e->source;
		b.u.net_rx.frame.data = (uint8_t *)e->data;
		b.u.net_rx.frame.len = e->len;
		b.ev.net_rx = &b.u.net_rx;
		append_payload(r, &b, DETVM__EVENT__PAYLOAD_NET_RX);
		break;
	default:
		/* kinds without a record type are not delivered: replay could not repeat them */
		return;
	}
	hostio_deliver(&r->io, e);
}

/* ---- the run observer ------------------------------------------------------------ */

/* Host time since the last exit or step point was logged, which this one now is. */
static uint64_t gap_since_last_exit(struct recorder *r)
{
	uint64_t now = mono_clock_ns(), gap = now - r->last_exit_ns;
	r->last_exit_ns = now;
	return gap;
}

static int obs_exit(void *s, uint64_t position, const struct kvm_run *run, const uint8_t *mem)
{
	struct recorder *r = s;
	r->position = position;
	struct event_buf b;
	event_from_exit(&b, run, mem);
	uint64_t gap = gap_since_last_exit(r);
	/* replay's yardsticks: how long to look for a landmark, how long to wait for an exit */
	if (b.u.exit.landmark.len || gap >= OBSERVER_SLOW_EXIT_NS)
		b.u.exit.elapsed_ns = gap;
	append(r, &b.ev);
	return r->error != 0;
}

static int obs_interrupt(void *s, uint64_t position, unsigned vector, uint64_t rip)
{
	struct recorder *r = s;
	r->position = position;
	struct event_buf b;
	detvm__event__init(&b.ev);
	detvm__interrupt__init(&b.u.interrupt);
	b.u.interrupt.vector = vector;
	b.ev.rip = rip;
	b.ev.interrupt = &b.u.interrupt;
	append_payload(r, &b, DETVM__EVENT__PAYLOAD_INTERRUPT);
	return r->error != 0;
}

static int obs_want_checkpoint(void *s, uint64_t position)
{
	struct recorder *r = s;
	/* guest time comes from values already in the trace, so replay decides alike */
	return (r->checkpoint_exits && position % r->checkpoint_exits == 0) ||
	       r->guest_ns - r->last_checkpoint_ns >= RECORD_CHECKPOINT_NS;
}

static void append_checkpoint(struct recorder *r, uint64_t rip, const struct run_digest *d)
{
	struct event_buf b;
	detvm__event__init(&b.ev);
	detvm__checkpoint__init(&b.u.checkpoint);
	b.u.checkpoint.regs_digest.data = (uint8_t *)d->regs;
	b.u.checkpoint.regs_digest.len = sizeof(d->regs);
	b.u.checkpoint.mem_digest.data = (uint8_t *)d->mem;
	b.u.checkpoint.mem_digest.len = sizeof(d->mem);
	b.u.checkpoint.guest_time_ns = r->guest_ns;
	b.ev.rip = rip;
	b.ev.checkpoint = &b.u.checkpoint;
	append_payload(r, &b, DETVM__EVENT__PAYLOAD_CHECKPOINT);
}

static int obs_checkpoint(void *s, uint64_t position, uint64_t rip, const struct run_digest *d)
{
	struct recorder *r = s;
	r->position = position;
	r->last_checkpoint_ns = r->guest_ns;
	r->checkpoints++;
	append_checkpoint(r, rip, d);
	return r->error != 0;
}

static int obs_should_stop(void *s, uint64_t position, int *code)
{
	struct recorder *r = s;
	if (!r->error)
		return 0;
	*code = DETVM_EXIT_HOST;	/* the trace cannot be written: stop here */
	return 1;
}

static int obs_no_interrupt(void *s, uint64_t position, uint64_t rip, int pending)
{
	return 0;
}

static int obs_window(void *s, uint64_t position, struct step_landmark *lm)
{
	return OBSERVER_WINDOW_ASK;	/* recording takes the window wherever KVM reports it */
}

static int obs_step_point(void *s, const struct step_landmark *lm)
{
	struct recorder *r = s;
	r->position = lm->last_exit + 1;
	struct event_buf b;
	detvm__event__init(&b.ev);
	detvm__landmark__init(&b.u.landmark);
	b.u.landmark.last_exit = lm->last_exit;
	b.u.landmark.rip = lm->rip;
	b.u.landmark.regs_digest.data = (uint8_t *)lm->regs;
	b.u.landmark.regs_digest.len = sizeof(lm->regs);
	b.u.landmark.mem_digest.data = (uint8_t *)lm->mem;
	b.u.landmark.mem_digest.len = sizeof(lm->mem);
	b.u.landmark.elapsed_ns = gap_since_last_exit(r);
	struct vcpu_codec_buf state;
	if (lm->state) {
		vcpu_state_encode(lm->state, &state);
		b.u.landmark.state = &state.msg;
		if (lm->npages > r->pages_cap) {
			free(r->pages);
			free(r->pagep);
			r->pages = calloc(lm->npages, sizeof(*r->pages));
			r->pagep = calloc(lm->npages, sizeof(*r->pagep));
			r->pages_cap = r->pages && r->pagep ? lm->npages : 0;
			if (!r->pages_cap) {
				r->error = -ENOMEM;
				return 1;
			}
		}
		for (size_t i = 0; i < lm->npages; i++) {
			detvm__page_image__init(&r->pages[i]);
			r->pages[i].gpa = lm->pages[i].gpa;
			if (lm->pages[i].data)
				r->pages[i].data = (ProtobufCBinaryData){ 4096, (uint8_t *)lm->pages[i].data };
			else
				r->pages[i].delta = (ProtobufCBinaryData){ lm->pages[i].delta_len,
									   (uint8_t *)lm->pages[i].delta };
			r->pagep[i] = &r->pages[i];
		}
		b.u.landmark.n_pages = lm->npages;
		b.u.landmark.pages = r->pagep;
	}
	b.ev.rip = lm->rip;
	b.ev.landmark = &b.u.landmark;
	append_payload(r, &b, DETVM__EVENT__PAYLOAD_LANDMARK);
	r->step_points++;
	return r->error != 0;
}

static int obs_step_target(void *s, uint64_t position, struct step_landmark *lm)
{
	return 0;	/* recording takes step points where the live host stops */
}

static int obs_host_exit(void *s)
{
	struct recorder *r = s;
	flush_if_due(r);
	return r->error != 0;
}

static Detvm__EndReason end_reason(int code)
{
	switch (code) {
	case 0: case 1: return DETVM__END_REASON__END_GUEST_SHUTDOWN;
	case 8: case 11: return DETVM__END_REASON__END_USER_STOP;
	default: return DETVM__END_REASON__END_ERROR;
	}
}

static int obs_end(void *s, uint64_t position, int code, const char *why, const struct run_digest *d)
{
	struct recorder *r = s;
	r->position = position;
	if (d) {
		append_checkpoint(r, 0, d);
		r->final = *d;
		r->have_final = 1;
	}
	struct event_buf b;
	detvm__event__init(&b.ev);
	detvm__end__init(&b.u.end);
	b.u.end.reason = end_reason(code);
	b.u.end.message = (char *)why;
	b.u.end.exit_code = code;
	b.ev.end = &b.u.end;
	append_payload(r, &b, DETVM__EVENT__PAYLOAD_END);
	r->ended = 1;
	r->end_code = code;
	return r->error != 0;
}

static int obs_failure(void *s, char *msg, unsigned len)
{
	/* said once, by `detvm record` when it closes the trace, with what the trace holds */
	if (len)
		msg[0] = 0;
	return DETVM_EXIT_HOST;
}

static const struct run_observer_ops record_observer = {
	.exit = obs_exit,
	.interrupt = obs_interrupt,
	.no_interrupt = obs_no_interrupt,
	.want_checkpoint = obs_want_checkpoint,
	.checkpoint = obs_checkpoint,
	.should_stop = obs_should_stop,
	.window = obs_window,
	.step_point = obs_step_point,
	.step_target = obs_step_target,
	.host_exit = obs_host_exit,
	.end = obs_end,
	.failure = obs_failure,
};

void recorder_init(struct recorder *r, struct hostio *inner, uint64_t checkpoint_exits)
{
	memset(r, 0, sizeof(*r));
	hostio_init(&r->io, &record_ops, r);
	r->inner = inner;
	r->checkpoint_exits = checkpoint_exits;
	r->obs.ops = &record_observer;
	r->obs.self = r;
	for (unsigned k = 0; k < HOSTIO_EV_KINDS; k++)
		for (unsigned s = 0; s < HOSTIO_MAX_SOURCES; s++)
			hostio_subscribe(inner, k, s, forward, r);
}

int recorder_start(struct recorder *r, const char *path, const Detvm__TraceHeader *hdr,
		   const struct trace_writer_opts *opts)
{
	struct trace_writer_opts o = opts ? *opts : (struct trace_writer_opts){ 0 };
	o.create = file_create_private;
	r->last_exit_ns = mono_clock_ns();
	return trace_writer_open(&r->w, path, hdr, &o);
}

int recorder_flush(struct recorder *r)
{
	if (!r->w || r->error)
		return r->error;
	int e = trace_writer_flush(r->w);
	if (e)
		r->error = e;
	return e;
}

int recorder_close(struct recorder *r)
{
	free(r->pages);
	free(r->pagep);
	r->pages = NULL;
	r->pagep = NULL;
	r->pages_cap = 0;
	if (!r->w)
		return r->error;
	Detvm__TraceFooter f;
	detvm__trace_footer__init(&f);
	f.final_position = r->position;
	if (r->have_final) {
		f.final_digest.data = (uint8_t *)&r->final;
		f.final_digest.len = sizeof(r->final);
	}
	f.clean_exit = r->ended && !r->error;
	f.reason = end_reason(r->end_code);
	char msg[64];
	snprintf(msg, sizeof(msg), "detvm exit status %d", r->end_code);
	f.message = msg;
	int e = trace_writer_close(r->w, &f);
	r->w = NULL;
	return r->error ? r->error : e;
}

void recorder_get_stats(struct recorder *r, struct trace_writer_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!r->w)
		return;
	/* the open block counts too: write it so its compressed size is known */
	if (!r->error) {
		int e = trace_writer_flush(r->w);
		if (e)
			r->error = e;
	}
	trace_writer_get_stats(r->w, st);
}
