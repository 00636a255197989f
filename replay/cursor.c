/* The replayer's place in the trace: the next event, and how a mismatch is reported. */
#include "replay/cursor.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "replay/events.h"

void replay_advance(struct replayer *p)
{
	int r = trace_reader_next(p->r, &p->cur);
	p->have = r == 1;
	p->status = r == 1 ? 0 : r;
}

void replay_consume(struct replayer *p)
{
	p->events++;
	replay_advance(p);
}

void replay_fail(struct replayer *p, int code, const char *fmt, ...)
{
	if (p->failed)
		return;	/* the first mismatch is the one that matters */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
	va_end(ap);
	p->failed = code;
}

/* What the trace has next, in words: for "expected ..." in a divergence message. */
void replay_describe_next(struct replayer *p, char *out, size_t len)
{
	if (!p->have) {
		snprintf(out, len, "%s", p->status == 0 ? "the end of the trace" : "no more events");
		return;
	}
	char what[256];
	event_describe(p->cur.ev, what, sizeof(what));
	if (p->cur.position == p->position)
		snprintf(out, len, "%s", what);
	else
		snprintf(out, len, "%s at exit %" PRIu64, what, p->cur.position);
}

void replay_diverged(struct replayer *p, const char *got)
{
	char want[320];
	replay_describe_next(p, want, sizeof(want));
	replay_fail(p, REPLAY_EXIT_DIVERGED, "diverged at exit %" PRIu64 " (rip 0x%" PRIx64 "): expected %s, got %s",
	            p->position, p->rip, want, got);
}

/* The trace cannot go on: truncated or unreadable. */
void replay_trace_ends(struct replayer *p)
{
	if (p->status == TRACE_ERR_TRUNCATED)
		replay_fail(p, REPLAY_EXIT_TRACE,
		            "the trace is truncated: replay ran to its last complete block and stopped at exit %" PRIu64
		            " (%s)", p->position, trace_reader_error(p->r));
	else
		replay_fail(p, REPLAY_EXIT_TRACE, "cannot read the trace at exit %" PRIu64 ": %s", p->position,
		            trace_reader_error(p->r));
}

/* The next event if it is of kind c at the current position; else a divergence. */
const Detvm__Event *replay_expect(struct replayer *p, Detvm__Event__PayloadCase c, const char *got)
{
	if (p->failed)
		return NULL;
	if (!p->have && p->status < 0) {
		replay_trace_ends(p);
		return NULL;
	}
	if (!p->have || p->cur.position != p->position || p->cur.ev->payload_case != c) {
		replay_diverged(p, got);
		return NULL;
	}
	return p->cur.ev;
}

int replay_next_is(struct replayer *p, Detvm__Event__PayloadCase c)
{
	return !p->failed && p->have && p->cur.position == p->position && p->cur.ev->payload_case == c;
}

int replayer_place(const struct replayer *p, struct replay_place *pl)
{
	if (p->failed || !p->have)
		return -1;
	trace_reader_mark(p->r, &p->cur, &pl->mark);
	pl->position = p->position;
	pl->rip = p->rip;
	pl->events = p->events;
	pl->checkpoints = p->checkpoints;
	pl->step_points = p->step_points;
	pl->frames_discarded = p->frames_discarded;
	return 0;
}

int replayer_return(struct replayer *p, const struct replay_place *pl)
{
	int r = trace_reader_seek(p->r, &pl->mark, &p->cur);
	p->have = r == 1;
	p->status = r == 1 ? 0 : r;
	if (!p->have) {
		replay_fail(p, REPLAY_EXIT_TRACE, "cannot read the trace again at event %" PRIu64 ": %s",
		            pl->events, trace_reader_error(p->r));
		return REPLAY_EXIT_TRACE;
	}
	p->position = pl->position;
	p->rip = pl->rip;
	p->events = pl->events;
	p->checkpoints = pl->checkpoints;
	p->step_points = pl->step_points;
	p->frames_discarded = pl->frames_discarded;
	p->progress_ns = 0;	/* the no-progress clock starts again at the next host exit */
	return 0;
}
