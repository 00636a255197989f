/*
 * trace_mutate: copy a detvm trace, changing one event -- the divergence tests' way of
 * making a recording lie about what happened.
 *
 * usage: trace_mutate IN OUT KIND N [DELTA_NS]
 *
 * KIND (N counts from 1, over the events of that kind only):
 *   exit-data    flip bit 0 of the first data byte of the N-th exit record that has data
 *   console-out  the same, restricted to writes to COM1's data port (0x3f8)
 *   clock        add DELTA_NS (default 1 ms, may be negative) to the N-th clock read
 *   timer        add DELTA_NS (default 1 ms, may be negative) to the N-th timer fire
 *   landmark     flip bit 0 of the first byte of the N-th landmark's (step delivery
 *                point's) regs_digest
 *   landmark-regs  the same in the vCPU registers it carries (RAX's low byte)
 *   landmark-page  the same in the first page it carries
 *   digest-version  no event: the header's digest_version becomes N (0 allowed);
 *                prints position 0
 *   timer-shift  the N-th timer fire and every event after it move DELTA_NS (here a
 *                count of positions, > 0) positions on: the trace skips exits
 *   end-status   the N-th (only) end event's exit status becomes DELTA_NS
 *   chaos-max    no event: a chaos trace's header says its delays were at most N
 *                exits; N = 0 drops the chaos field (the trace claims to be plain);
 *                prints position 0
 *
 * DELTA_NS is read for clock and timer only (it must still be a number for the others).
 * Prints the position (exit ordinal) of the changed event on stdout, and a description
 * on stderr. The copy keeps the header, every event with its position and the footer's
 * fields the writer does not compute; block boundaries may differ from the input's.
 * Exit status: 0 done, 1 no such event or I/O/trace error, 2 usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logs/trace.h"
#include "trace_copy.h"

#define COM1_DATA 0x3f8
#define MS_NS 1000000LL

enum kind { K_EXIT_DATA, K_CONSOLE_OUT, K_CLOCK, K_TIMER, K_LANDMARK, K_DIGEST_VERSION, K_TIMER_SHIFT, K_END_STATUS,
	    K_LANDMARK_REGS, K_LANDMARK_PAGE, K_CHAOS_MAX };

static const char *const kind_names[] = {
	[K_EXIT_DATA] = "exit-data",
	[K_CONSOLE_OUT] = "console-out",
	[K_CLOCK] = "clock",
	[K_TIMER] = "timer",
	[K_LANDMARK] = "landmark",
	[K_DIGEST_VERSION] = "digest-version",
	[K_TIMER_SHIFT] = "timer-shift",
	[K_END_STATUS] = "end-status",
	[K_LANDMARK_REGS] = "landmark-regs",
	[K_LANDMARK_PAGE] = "landmark-page",
	[K_CHAOS_MAX] = "chaos-max",
};

static int usage(void)
{
	fprintf(stderr, "usage: trace_mutate IN OUT exit-data|console-out|clock|timer|landmark|digest-version|\n"
		"       timer-shift|end-status|landmark-regs|landmark-page|chaos-max\n"
		"       N [DELTA_NS]\n");
	return 2;
}

/* Whether ev is an event of kind k that counts towards N. */
static int matches(enum kind k, const Detvm__Event *ev)
{
	switch (k) {
	case K_EXIT_DATA:
		return ev->payload_case == DETVM__EVENT__PAYLOAD_EXIT && ev->exit->data.len > 0;
	case K_CONSOLE_OUT:
		return ev->payload_case == DETVM__EVENT__PAYLOAD_EXIT && ev->exit->data.len > 0 &&
		       ev->exit->kind == DETVM__EXIT_KIND__EXIT_PIO && ev->exit->is_write &&
		       ev->exit->addr == COM1_DATA;
	case K_CLOCK:
		return ev->payload_case == DETVM__EVENT__PAYLOAD_CLOCK;
	case K_TIMER:
	case K_TIMER_SHIFT:
		return ev->payload_case == DETVM__EVENT__PAYLOAD_TIMER;
	case K_LANDMARK:
		return ev->payload_case == DETVM__EVENT__PAYLOAD_LANDMARK &&
		       ev->landmark->regs_digest.len > 0;
	case K_END_STATUS:
		return ev->payload_case == DETVM__EVENT__PAYLOAD_END;
	case K_LANDMARK_REGS:
		return ev->payload_case == DETVM__EVENT__PAYLOAD_LANDMARK && ev->landmark->state &&
		       ev->landmark->state->regs.len > 0;
	case K_LANDMARK_PAGE:
		return ev->payload_case == DETVM__EVENT__PAYLOAD_LANDMARK && ev->landmark->n_pages > 0;
	case K_DIGEST_VERSION:
	case K_CHAOS_MAX:
		break;		/* a header change: no event matches */
	}
	return 0;
}

static uint64_t add_delta(uint64_t v, int64_t delta)
{
	if (delta < 0 && (uint64_t)-delta > v)
		return 0;
	return v + (uint64_t)delta;
}

/*
 * Append a changed copy of ev: the reader owns ev, so the change goes into shallow
 * copies of the event and its payload (and, for data, of the bytes).
 */
/* A malloc'd copy of b (never empty here) with bit 0 of its first byte flipped. */
/* A copy of b with bit 0 of byte `at` flipped (at < b->len). */
static uint8_t *flipped_at(const ProtobufCBinaryData *b, size_t at)
{
	uint8_t *d = malloc(b->len);
	if (d) {
		memcpy(d, b->data, b->len);
		d[at] ^= 1;
	}
	return d;
}

static uint8_t *flipped(const ProtobufCBinaryData *b)
{
	return flipped_at(b, 0);
}

static int append_changed(struct trace_writer *w, const struct trace_event *te, enum kind k,
			  int64_t delta)
{
	Detvm__Event ev = *te->ev;
	Detvm__ExitRecord exit;
	Detvm__ClockRead clock;
	Detvm__TimerFire timer;
	Detvm__Landmark landmark;
	Detvm__VcpuState state;
	Detvm__PageImage page, **pages = NULL;
	Detvm__End end_ev;
	uint8_t *data = NULL;
	int r;

	switch (k) {
	case K_EXIT_DATA:
	case K_CONSOLE_OUT:
		exit = *ev.exit;
		if (!(data = flipped(&exit.data)))
			return -ENOMEM;
		fprintf(stderr, "trace_mutate: exit at position %" PRIu64 " (port/addr 0x%" PRIx64
			"): data byte 0x%02x -> 0x%02x\n", te->position, exit.addr,
			exit.data.data[0], data[0]);
		exit.data.data = data;
		ev.exit = &exit;
		break;
	case K_CLOCK:
		clock = *ev.clock;
		clock.value_ns = add_delta(clock.value_ns, delta);
		fprintf(stderr, "trace_mutate: clock read at position %" PRIu64 ": %" PRIu64
			" -> %" PRIu64 " ns\n", te->position, ev.clock->value_ns, clock.value_ns);
		ev.clock = &clock;
		break;
	case K_TIMER:
		timer = *ev.timer;
		timer.time_ns = add_delta(timer.time_ns, delta);
		fprintf(stderr, "trace_mutate: timer %u fire at position %" PRIu64 ": %" PRIu64
			" -> %" PRIu64 " ns\n", timer.timer, te->position, ev.timer->time_ns,
			timer.time_ns);
		ev.timer = &timer;
		break;
	case K_LANDMARK:
		landmark = *ev.landmark;
		if (!(data = flipped(&landmark.regs_digest)))
			return -ENOMEM;
		fprintf(stderr, "trace_mutate: landmark at position %" PRIu64 " (last exit %" PRIu64
			", rip 0x%" PRIx64 "): regs_digest byte 0x%02x -> 0x%02x\n", te->position,
			landmark.last_exit, landmark.rip, landmark.regs_digest.data[0], data[0]);
		landmark.regs_digest.data = data;
		ev.landmark = &landmark;
		break;
	case K_LANDMARK_REGS:
		landmark = *ev.landmark;
		state = *landmark.state;
		if (!(data = flipped(&state.regs)))
			return -ENOMEM;
		fprintf(stderr, "trace_mutate: landmark at position %" PRIu64 ": vCPU register byte 0 0x%02x -> 0x%02x\n",
			te->position, state.regs.data[0], data[0]);
		state.regs.data = data;
		landmark.state = &state;
		ev.landmark = &landmark;
		break;
	case K_LANDMARK_PAGE:
		landmark = *ev.landmark;
		page = *landmark.pages[0];
		/* a whole page: its byte 0; a change to the page (PageImage.delta): its last byte,
		 * always one of the bytes it writes, so the change stays well-formed */
		ProtobufCBinaryData *b = page.data.len ? &page.data : &page.delta;
		if (!b->len)
			return -EINVAL;	/* neither: a corrupt page, nothing to flip */
		size_t at = b == &page.delta ? b->len - 1 : 0;
		pages = malloc(landmark.n_pages * sizeof(*pages));
		if (!pages || !(data = flipped_at(b, at))) {
			free(pages);
			return -ENOMEM;
		}
		fprintf(stderr, "trace_mutate: landmark at position %" PRIu64 ": page 0x%" PRIx64 " (1 of %zu) %s byte %zu 0x%02x -> 0x%02x\n",
			te->position, page.gpa, landmark.n_pages, b == &page.delta ? "change" : "image", at,
			b->data[at], data[at]);
		b->data = data;
		memcpy(pages, landmark.pages, landmark.n_pages * sizeof(*pages));
		pages[0] = &page;
		landmark.pages = pages;
		ev.landmark = &landmark;
		break;
	case K_END_STATUS:
		end_ev = *ev.end;
		end_ev.exit_code = (int32_t)delta;
		fprintf(stderr, "trace_mutate: end at position %" PRIu64 ": exit status %d -> %d\n",
			te->position, ev.end->exit_code, end_ev.exit_code);
		ev.end = &end_ev;
		break;
	case K_DIGEST_VERSION:
	case K_CHAOS_MAX:
	case K_TIMER_SHIFT:
		break;		/* never called: no event changes */
	}
	r = trace_writer_append(w, te->position, &ev);
	free(data);
	free(pages);
	return r;
}

static const char *errstr(int r)
{
	return r <= -1000 ? trace_strerror(r) : strerror(-r);
}

int main(int argc, char **argv)
{
	struct trace_reader *rd;
	struct trace_writer *w;
	struct trace_event te;
	Detvm__TraceFooter f;
	char err[512];
	uint64_t n, seen = 0, changed_at = 0;
	int64_t delta = MS_NS;
	int k = -1, r, changed = 0;
	char *end;

	if (argc != 5 && argc != 6)
		return usage();
	for (unsigned i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (!strcmp(argv[3], kind_names[i]))
			k = (int)i;
	errno = 0;
	n = strtoull(argv[4], &end, 10);
	if (k < 0 || errno || *end || (n == 0 && k != K_DIGEST_VERSION && k != K_CHAOS_MAX) || n > UINT32_MAX)
		return usage();
	if (argc == 6) {
		errno = 0;
		delta = strtoll(argv[5], &end, 10);
		if (errno || *end)
			return usage();
	}
	if (k == K_TIMER_SHIFT && delta <= 0)
		return usage();	/* positions never go back */

	if (trace_reader_open(&rd, argv[1], err, sizeof(err)) < 0) {
		fprintf(stderr, "trace_mutate: %s\n", err);
		return 1;
	}
	Detvm__TraceHeader hdr = *trace_reader_header(rd);
	if (k == K_DIGEST_VERSION) {
		fprintf(stderr, "trace_mutate: header digest_version %" PRIu32 " -> %" PRIu64 "\n",
			hdr.digest_version, n);
		hdr.digest_version = (uint32_t)n;
		changed = 1;
	}
	Detvm__ChaosConfig chaos;
	if (k == K_CHAOS_MAX) {
		if (!hdr.chaos) {
			fprintf(stderr, "trace_mutate: '%s' is not a chaos recording\n", argv[1]);
			trace_reader_close(rd);
			return 1;
		}
		fprintf(stderr, "trace_mutate: header chaos max_delay %" PRIu32 " -> %s%" PRIu64 "\n",
			hdr.chaos->max_delay, n ? "" : "none, plain trace ", n);
		chaos = *hdr.chaos;
		chaos.max_delay = (uint32_t)n;
		hdr.chaos = n ? &chaos : NULL;
		changed = 1;
	}
	r = trace_writer_open(&w, argv[2], &hdr, NULL);
	if (r) {
		fprintf(stderr, "trace_mutate: cannot create '%s': %s\n", argv[2], errstr(r));
		trace_reader_close(rd);
		return 1;
	}
	uint64_t shift = 0;
	while ((r = trace_reader_next(rd, &te)) == 1) {
		int written = 0;
		if (!changed && matches(k, te.ev) && ++seen == n) {
			changed = 1;
			changed_at = te.position;
			if (k == K_TIMER_SHIFT) {
				shift = (uint64_t)delta;
				fprintf(stderr, "trace_mutate: timer fire at position %" PRIu64
					" and every later event moved %" PRIu64 " positions on\n", te.position, shift);
			} else {
				r = append_changed(w, &te, k, delta);
				written = 1;
			}
		}
		if (!written)
			r = trace_writer_append(w, te.position + shift, te.ev);
		if (r) {
			fprintf(stderr, "trace_mutate: cannot append event %" PRIu64 ": %s\n", te.seq,
				errstr(r));
			goto fail;
		}
	}
	if (r < 0) {
		fprintf(stderr, "trace_mutate: %s\n", trace_reader_error(rd));
		goto fail;
	}
	if (!changed) {
		fprintf(stderr, "trace_mutate: the trace has %" PRIu64 " %s events, not %" PRIu64 "\n",
			seen, kind_names[k], n);
		goto fail;
	}

	trace_copy_footer(&f, trace_reader_footer(rd));
	r = trace_writer_close(w, &f);
	trace_reader_close(rd);
	if (r) {
		fprintf(stderr, "trace_mutate: cannot write '%s': %s\n", argv[2], errstr(r));
		return 1;
	}
	printf("%" PRIu64 "\n", changed_at);
	return 0;
fail:
	trace_writer_discard(w);
	trace_reader_close(rd);
	remove(argv[2]);
	return 1;
}
