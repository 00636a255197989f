/* Internals of `detvm report` shared by cli_report.c, report_html.c and report_svg.c. */
#ifndef DETVM_TOOLS_REPORT_H
#define DETVM_TOOLS_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tools/console_log.h"
#include "tools/trace_io.h"
#include "tools/trace_walk.h"

/* What the timeline counts: bars (exits .. network) and marks (checkpoints, landmarks). */
enum report_series { RS_EXITS, RS_IRQ, RS_DISK, RS_NET, RS_CHECKPOINT, RS_LANDMARK, RS_COUNT };
#define RS_BARS RS_CHECKPOINT	/* the series drawn as bars */

/* Events counted at one value of guest time (it is piecewise constant; see trace_walk.h). */
struct time_step {
	uint64_t ns;
	uint64_t count[RS_COUNT];
};

/* Where a replay diverged, from its stderr (`--replay-log`). */
struct divergence {
	bool replayed;		/* a log was given */
	bool diverged;		/* and it names a divergence */
	uint64_t position;	/* the exit it names */
	uint64_t guest_ns;	/* guest time there, from the trace */
	bool located;		/* the position was found in the trace */
	char message[1024];	/* the log's line, or what it said instead */
	char *context;		/* the trace's events around the position, as `dump` shows them */
	size_t context_len;
	unsigned context_events;
};

struct report {
	const char *path;
	struct time_step *steps;
	size_t nsteps, cap;
	uint64_t end_ns;
	struct io_map io;
	struct console_log console;
	struct divergence div;
	FILE *context;		/* open memstream on div.context while walking */
};

/* The SVG timeline (report_svg.c). */
void report_svg(FILE *f, const struct report *r);

/* HTML text, escaped; bytes that are not printable ASCII as \xNN (report_html.c). */
void report_put_html(FILE *f, const uint8_t *p, size_t len);
void report_put_html_str(FILE *f, const char *s);
/* The page's sections (report_html.c). */
void report_page_start(FILE *f, const struct report *r);
void report_header_section(FILE *f, const Detvm__TraceHeader *h, const Detvm__TraceFooter *ft,
			   const struct trace_tally *t);
void report_console_section(FILE *f, const struct console_log *c);
void report_replay_section(FILE *f, const struct divergence *d);
void report_page_end(FILE *f);

#endif
