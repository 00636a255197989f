#include "replay/replay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/cursor.h"
#include "replay/events.h"
#include "replay/vcpu_codec.h"
#include "vmm/exitcode.h"
#include "vmm/file_io.h"
#include "vmm/log.h"
#include "vmm/mono_clock.h"
#include "vmm/page_delta.h"

/* The run observer: every exit, interrupt, checkpoint and landmark compared with the trace. */

static int obs_exit(void *s, uint64_t position, const struct kvm_run *run, const uint8_t *mem)
{
	struct replayer *p = s;
	p->position = position;
	p->rip = run->s.regs.regs.rip;
	p->progress_ns = mono_clock_ns();
	struct event_buf b;
	event_from_exit(&b, run, mem);
	char got[256];
	event_describe(&b.ev, got, sizeof(got));
	const Detvm__Event *e = replay_expect(p, DETVM__EVENT__PAYLOAD_EXIT, got);
	if (!e)
		return 1;
	if (!event_exit_equal(e->exit, b.ev.exit) || (e->rip && e->rip != b.ev.rip)) {
		char want[256];
		event_describe(e, want, sizeof(want));
		replay_fail(p, REPLAY_EXIT_DIVERGED,
		            "diverged at exit %" PRIu64 " (rip 0x%" PRIx64 "): expected %s at rip 0x%" PRIx64 ", got %s",
		            position, p->rip, want, e->rip, got);
		return 1;
	}
	replay_consume(p);
	return 0;
}

static int obs_interrupt(void *s, uint64_t position, unsigned vector, uint64_t rip)
{
	struct replayer *p = s;
	p->position = position;
	char got[64];
	snprintf(got, sizeof(got), "interrupt vector 0x%x", vector);
	const Detvm__Event *e = replay_expect(p, DETVM__EVENT__PAYLOAD_INTERRUPT, got);
	if (!e)
		return 1;
	if (e->interrupt->vector != vector) {
		replay_diverged(p, got);
		return 1;
	}
	replay_consume(p);
	return 0;
}

static int obs_no_interrupt(void *s, uint64_t position, uint64_t rip, int pending)
{
	struct replayer *p = s;
	p->position = position;
	if (p->failed)
		return 0;
	/* the recording injected here, so its PIC had a line up and its guest could take it:
	 * otherwise the guest may now run on without exits and never get there */
	if (replay_next_is(p, DETVM__EVENT__PAYLOAD_INTERRUPT)) {
		p->rip = rip;
		replay_diverged(p, "no interrupt to inject (none pending, or the guest could not take one)");
		return 1;
	}
	/* the recording's next exit is an interrupt window: it had one pending, to wait for */
	if (!pending && p->have && p->cur.position == position + 1 &&
	    p->cur.ev->payload_case == DETVM__EVENT__PAYLOAD_EXIT &&
	    p->cur.ev->exit->kind == DETVM__EXIT_KIND__EXIT_IRQ_WINDOW) {
		p->rip = rip;
		p->position = position + 1;
		replay_diverged(p, "no interrupt pending, so no interrupt window to wait for");
		return 1;
	}
	return 0;
}

static int obs_want_checkpoint(void *s, uint64_t position)
{
	struct replayer *p = s;
	p->position = position;
	return replay_next_is(p, DETVM__EVENT__PAYLOAD_CHECKPOINT);
}

static int digest_equal(const ProtobufCBinaryData *b, const uint8_t *d, size_t len)
{
	return b->len == len && !memcmp(b->data, d, len);
}

static int compare_checkpoint(struct replayer *p, const struct run_digest *d)
{
	const Detvm__Event *e = replay_expect(p, DETVM__EVENT__PAYLOAD_CHECKPOINT, "no checkpoint");
	if (!e)
		return 1;
	const Detvm__Checkpoint *c = e->checkpoint;
	int regs = digest_equal(&c->regs_digest, d->regs, sizeof(d->regs));
	int mem = digest_equal(&c->mem_digest, d->mem, sizeof(d->mem));
	if (!regs || !mem) {
		replay_fail(p, REPLAY_EXIT_DIVERGED,
		            "diverged at exit %" PRIu64 " (rip 0x%" PRIx64 "): expected the checkpoint's %s%s%s digest, got a different one",
		            p->position, p->rip, regs ? "" : "register", !regs && !mem ? " and " : "", mem ? "" : "memory");
		return 1;
	}
	p->checkpoints++;
	replay_consume(p);
	return 0;
}

static int obs_checkpoint(void *s, uint64_t position, uint64_t rip, const struct run_digest *d)
{
	struct replayer *p = s;
	p->position = position;
	return compare_checkpoint(p, d);
}

/* A status a recording can end with: detvm's own, less those only replay gives. */
static int recordable_end(int code)
{
	return code >= 0 && code < DETVM_EXIT_MISMATCH && code != DETVM_EXIT_DIVERGED && code != DETVM_EXIT_TRACE;
}

static int obs_should_stop(void *s, uint64_t position, int *code)
{
	struct replayer *p = s;
	p->position = position;
	if (p->failed) {
		*code = p->failed;
		log_error("%s", p->msg);
		return 1;
	}
	if (replay_next_is(p, DETVM__EVENT__PAYLOAD_END)) {
		*code = p->cur.ev->end->exit_code;
		if (!recordable_end(*code)) {
			replay_fail(p, REPLAY_EXIT_TRACE, "the trace is corrupt: it ends with exit status %d, which no recording ends with",
			            *code);
		} else if (detvm_exit_at_boundary(*code)) {
			/* the recording's guest ended itself at the exit just handled; this one did not */
			replay_diverged(p, "the guest running on");
		}
		if (p->failed) {
			*code = p->failed;
			log_error("%s", p->msg);
		}
		return 1;
	}
	return 0;
}

static int obs_window(void *s, uint64_t position, struct step_landmark *lm)
{
	struct replayer *p = s;
	if (p->failed || !p->have || p->cur.position != position + 1 ||
	    p->cur.ev->payload_case != DETVM__EVENT__PAYLOAD_EXIT ||
	    p->cur.ev->exit->kind != DETVM__EXIT_KIND__EXIT_IRQ_WINDOW)
		return OBSERVER_WINDOW_NONE;
	const Detvm__ExitRecord *x = p->cur.ev->exit;
	if (x->landmark.len != OBSERVER_DIGEST_BYTES && x->landmark.len != 2 * OBSERVER_DIGEST_BYTES)
		return OBSERVER_WINDOW_ASK;	/* a window the host places exactly */
	memset(lm, 0, sizeof(*lm));
	lm->last_exit = position;
	lm->rip = p->cur.ev->rip;
	memcpy(lm->regs, x->landmark.data, OBSERVER_DIGEST_BYTES);
	lm->has_mem = x->landmark.len == 2 * OBSERVER_DIGEST_BYTES;
	lm->elapsed_ns = x->elapsed_ns;
	if (lm->has_mem)
		memcpy(lm->mem, x->landmark.data + OBSERVER_DIGEST_BYTES, OBSERVER_DIGEST_BYTES);
	return OBSERVER_WINDOW_STEP;
}

/* The state a step point carries, for the run loop to load; nonzero (replay failed) for
 * one that does not decode. The pages point into the event, which lives until consumed. */
static int decode_step_state(struct replayer *p, const Detvm__Landmark *l, struct step_landmark *lm)
{
	int bad = vcpu_state_decode(l->state, &p->step_state) != 0;
	if (!bad && l->n_pages > p->step_pages_cap) {
		free(p->step_pages);
		p->step_pages = calloc(l->n_pages, sizeof(*p->step_pages));
		p->step_pages_cap = p->step_pages ? l->n_pages : 0;
		if (!p->step_pages) {
			replay_fail(p, DETVM_EXIT_HOST, "out of memory for a step delivery point's pages");
			return 1;
		}
	}
	for (size_t i = 0; !bad && i < l->n_pages; i++) {
		const Detvm__PageImage *pg = l->pages[i];
		if (pg->data.len) {
			bad = pg->data.len != 4096 || pg->delta.len;
			p->step_pages[i] = (struct page_image){ pg->gpa, pg->data.data, NULL, 0 };
			continue;
		}
		/* a change to the page replay holds: checked whole before any page is loaded */
		if (page_delta_check(pg->delta.data, pg->delta.len)) {
			replay_fail(p, REPLAY_EXIT_TRACE, "the trace is corrupt: event %" PRIu64 " is a step "
				    "delivery point whose change to page 0x%" PRIx64 " is malformed (%zu bytes)",
				    p->cur.seq, pg->gpa, pg->delta.len);
			return 1;
		}
		p->step_pages[i] = (struct page_image){ pg->gpa, NULL, pg->delta.data, pg->delta.len };
	}
	if (bad) {
		replay_fail(p, REPLAY_EXIT_TRACE, "the trace is corrupt: event %" PRIu64 " is a step delivery "
			    "point whose vCPU state or pages have the wrong size", p->cur.seq);
		return 1;
	}
	lm->state = &p->step_state;
	lm->pages = p->step_pages;
	lm->npages = l->n_pages;
	return 0;
}

static int obs_step_target(void *s, uint64_t position, struct step_landmark *lm)
{
	struct replayer *p = s;
	if (p->failed || !p->have || p->cur.position != position + 1 ||
	    p->cur.ev->payload_case != DETVM__EVENT__PAYLOAD_LANDMARK)
		return 0;
	const Detvm__Landmark *l = p->cur.ev->landmark;
	if (l->last_exit != position || l->regs_digest.len != OBSERVER_DIGEST_BYTES ||
	    l->mem_digest.len != OBSERVER_DIGEST_BYTES) {
		replay_fail(p, REPLAY_EXIT_TRACE, "the trace is corrupt: event %" PRIu64 " is a malformed step "
		            "delivery point", p->cur.seq);
		return 0;
	}
	memset(lm, 0, sizeof(*lm));
	lm->last_exit = l->last_exit;
	lm->rip = l->rip;
	lm->has_mem = 1;
	lm->elapsed_ns = l->elapsed_ns;
	memcpy(lm->regs, l->regs_digest.data, OBSERVER_DIGEST_BYTES);
	memcpy(lm->mem, l->mem_digest.data, OBSERVER_DIGEST_BYTES);
	if (l->state && decode_step_state(p, l, lm))
		return 0;
	return 1;
}

static int obs_step_point(void *s, const struct step_landmark *lm)
{
	struct replayer *p = s;
	p->position = lm->last_exit + 1;
	p->rip = lm->rip;
	p->progress_ns = mono_clock_ns();
	char got[96];
	snprintf(got, sizeof(got), "a step delivery point at rip 0x%" PRIx64, lm->rip);
	const Detvm__Event *e = replay_expect(p, DETVM__EVENT__PAYLOAD_LANDMARK, got);
	if (!e)
		return 1;
	const Detvm__Landmark *l = e->landmark;
	if (l->rip != lm->rip || !digest_equal(&l->regs_digest, lm->regs, sizeof(lm->regs)) ||
	    !digest_equal(&l->mem_digest, lm->mem, sizeof(lm->mem))) {
		replay_diverged(p, got);
		return 1;
	}
	p->step_points++;
	replay_consume(p);
	return 0;
}

/*
 * A guest that diverged into a loop without exits would keep replay running forever:
 * no exit for far longer than the recording took to its next one is a divergence. A
 * landmark next has its own budget (vmm/step.c); an exit without elapsed_ns came
 * within OBSERVER_SLOW_EXIT_NS when recorded.
 */
static int obs_host_exit(void *s)
{
	struct replayer *p = s;
	uint64_t now = mono_clock_ns(), recorded = OBSERVER_SLOW_EXIT_NS;
	if (p->failed)
		return 1;
	if (!p->progress_ns) {
		p->progress_ns = now;
		return 0;
	}
	if (p->have && p->cur.ev->payload_case == DETVM__EVENT__PAYLOAD_LANDMARK)
		return 0;
	if (p->have && p->cur.ev->payload_case == DETVM__EVENT__PAYLOAD_EXIT && p->cur.position == p->position + 1) {
		if (p->cur.ev->exit->landmark.len)
			return 0;
		if (p->cur.ev->exit->elapsed_ns)
			recorded = p->cur.ev->exit->elapsed_ns;
	}
	if (now - p->progress_ns < observer_search_budget_ns(recorded))
		return 0;
	char want[320];
	replay_describe_next(p, want, sizeof(want));
	replay_fail(p, REPLAY_EXIT_DIVERGED,
	            "diverged after exit %" PRIu64 ": the guest ran %.1f s without an exit; the recording went on to %s within %.3f s",
	            p->position, (double)(now - p->progress_ns) / 1e9, want, (double)recorded / 1e9);
	return 1;
}

static int obs_end(void *s, uint64_t position, int code, const char *why, const struct run_digest *d)
{
	struct replayer *p = s;
	p->position = position;
	/* stopped by a signal or a host error here, not where the recording ended: nothing
	 * to compare, and the stop's own status stands */
	if (!d && !(replay_next_is(p, DETVM__EVENT__PAYLOAD_END) && p->cur.ev->end->exit_code == code))
		return 0;
	char got[96];
	snprintf(got, sizeof(got), "the guest ending with exit status %d", code);
	/* the recording ended otherwise right here: say that, not that a checkpoint is missing */
	if (d && replay_next_is(p, DETVM__EVENT__PAYLOAD_END) && p->cur.ev->end->exit_code != code) {
		replay_diverged(p, got);
		return 1;
	}
	if (d && compare_checkpoint(p, d))
		return 1;
	const Detvm__Event *e = replay_expect(p, DETVM__EVENT__PAYLOAD_END, got);
	if (!e)
		return 1;
	if (e->end->exit_code != code) {
		replay_diverged(p, got);
		return 1;
	}
	replay_consume(p);
	if (p->have) {
		replay_fail(p, REPLAY_EXIT_DIVERGED, "diverged at exit %" PRIu64 ": the guest ended but the trace goes on",
		            position);
		return 1;
	}
	if (p->status < 0) {	/* no footer, a damaged one, or bytes after it */
		replay_trace_ends(p);
		return 1;
	}
	p->ended = 1;
	p->end_code = code;
	return 0;
}

static int obs_failure(void *s, char *msg, unsigned len)
{
	struct replayer *p = s;
	snprintf(msg, len, "%s", p->msg);
	return p->failed ? p->failed : REPLAY_EXIT_DIVERGED;
}

static const struct run_observer_ops replay_observer = {
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

/*
 * The gate of a chaos trace: the recording held deliverable interrupts by a seeded draw,
 * so the guest's state cannot say where one went in; the trace can. Inject where it has
 * the Interrupt next (obs_interrupt then compares the vector), hold elsewhere. Where the
 * recording could not have held (a HLT, or max exits after the hold began) inject
 * anyway, so the trace's missing Interrupt is reported as the divergence it is.
 */
static int gate_hold(void *s, uint64_t position, int halted)
{
	struct replayer *p = s;
	p->position = position;
	if (p->failed || halted || replay_next_is(p, DETVM__EVENT__PAYLOAD_INTERRUPT)) {
		p->chaos_holding = 0;
		return 0;
	}
	if (!p->chaos_holding) {
		p->chaos_holding = 1;
		p->chaos_from = position;
	}
	return position - p->chaos_from < p->chaos_max;
}

static const struct irq_gate_ops replay_gate_ops = { .hold = gate_hold };

void replayer_follow_chaos(struct replayer *p, uint32_t max_delay)
{
	p->gate.ops = &replay_gate_ops;
	p->gate.self = p;
	p->chaos_max = max_delay;
}

void replayer_init(struct replayer *p, struct trace_reader *r, int out_fd)
{
	memset(p, 0, sizeof(*p));
	hostio_init(&p->io, &replay_hostio_ops, p);
	p->obs.ops = &replay_observer;
	p->obs.self = p;
	p->r = r;
	p->out_fd = out_fd;
	replay_advance(p);
}

void replayer_add_disk(struct replayer *p, int fd, uint64_t size)
{
	if (p->ndisks < REPLAY_MAX_DISKS) {
		p->disk_fd[p->ndisks] = fd;
		p->disk_size[p->ndisks++] = size;
	} else {
		close(fd);
	}
}

void replayer_destroy(struct replayer *p)
{
	free(p->step_pages);
	p->step_pages = NULL;
	p->step_pages_cap = 0;
	for (unsigned i = 0; i < p->ndisks; i++)
		close(p->disk_fd[i]);
	p->ndisks = 0;
	if (p->r)
		trace_reader_close(p->r);
	p->r = NULL;
}
