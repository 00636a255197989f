/*
 * Reading a whole trace for the offline tools (stats, diff, console, export, report):
 * the logs/ reader's loop with one verdict, plus what every tool wants to know about
 * each event -- its guest time and its share of the trace's bytes.
 *
 * Guest time: the trace has no clock per event. It records the guest clock where the
 * guest or a device read it (clock reads), where a timer fired and at each checkpoint.
 * An event's guest time is the latest of those values at or before it: the guest clock
 * as the guest could last have observed it. Coarse (a ticking guest: 10 ms steps), never
 * invented, and the same on every read of the trace.
 */
#ifndef DETVM_TOOLS_TRACE_WALK_H
#define DETVM_TOOLS_TRACE_WALK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tools/dump_priv.h"

/* Count and encoded bytes per kind slot, as `detvm dump --stats` shows them. */
struct trace_tally {
	uint64_t count[DUMP_KIND_SLOTS];
	uint64_t bytes[DUMP_KIND_SLOTS];	/* packed Event bytes per kind */
	uint64_t events;
	uint64_t packed_bytes;
	uint64_t record_bytes;			/* packed + varint length prefix: block content */
	uint64_t first_pos, last_pos;
	/* step delivery points that carry a state, the pages they carry (step_changes of
	 * them as changes to the page replay holds) and those pages' bytes in the events
	 * (uncompressed) */
	uint64_t step_points, step_pages, step_changes, step_page_bytes;
	uint64_t guest_ns;			/* the latest guest clock value seen */
};

void trace_tally_add(struct trace_tally *t, const struct trace_event *te);

/* 1 and *ns when the event carries a value of the guest's monotonic clock. */
bool trace_event_guest_ns(const Detvm__Event *ev, uint64_t *ns);

struct trace_walk {
	const char *prog;		/* "detvm stats": the prefix of the one error line */
	const char *path;
	FILE *err;
	struct trace_reader *r;
	struct trace_event te;		/* the current event (trace_walk_next() == 1) */
	uint64_t guest_ns;		/* guest time of the current event */
	bool guest_known;		/* a guest clock value has been seen (before: 0) */
	struct trace_tally tally;	/* of every event returned so far */
	uint64_t header_bytes, file_bytes;
};

/*
 * Open path. 0, or DETVM_EXIT_TRACE after one line on err ("PROG: <reader's message>").
 */
int trace_walk_open(struct trace_walk *w, const char *prog, const char *path, FILE *err);
/*
 * The next event in w->te (with w->guest_ns and w->tally updated): 1; 0 at the clean end
 * (the footer is there and consistent); or DETVM_EXIT_TRACE as a negative number (-7)
 * after one line on err: truncated, corrupt or unreadable.
 */
int trace_walk_next(struct trace_walk *w);
/*
 * Every event through on_event(ctx, w) (a nonzero return: out of memory). 0 at the
 * clean end; otherwise the exit code after one line on err (7 trace, 10 memory).
 */
int trace_walk_each(struct trace_walk *w, int (*on_event)(void *ctx, const struct trace_walk *w),
		    void *ctx);
const Detvm__TraceHeader *trace_walk_header(const struct trace_walk *w);
/* The footer after trace_walk_next() returned 0. */
const Detvm__TraceFooter *trace_walk_footer(const struct trace_walk *w);
void trace_walk_close(struct trace_walk *w);

/*
 * Room for one more element in a growing array (arr: *cap elements of elem bytes, n
 * used), doubled from `first`: the array (moved or not), or NULL when out of memory
 * (arr is still valid then).
 */
void *grow_array(void *arr, size_t *cap, size_t n, size_t elem, size_t first);

/* Guest nanoseconds as "12.345678 s". */
void trace_put_guest_time(FILE *out, uint64_t ns);

#endif
