/*
 * `detvm report TRACE -o report.html [--replay-log FILE]`: one self-contained HTML page
 * about a recording -- the header (image, command line, digests), an SVG timeline of
 * exits, interrupts, disk and network I/O over guest time, the console transcript with
 * positions and, given the stderr of a `detvm replay` of it, where and how that replay
 * diverged, with the trace's events around that exit.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/dump.h"
#include "tools/report.h"
#include "tools/tool_args.h"
#include "tools/trace_io.h"
#include "tools/trace_walk.h"

#define REPORT_PROG "detvm report"
/* the divergence context: events at these many positions before and after it */
#define CONTEXT_BEFORE 3
#define CONTEXT_AFTER 2
#define CONTEXT_MAX_EVENTS 40

static const struct tool_spec spec = {
	.prog = REPORT_PROG,
	.accepts = TOOL_OUT | TOOL_REPLAY_LOG,
	.needs = TOOL_OUT,
	.files = 1,
	.help = "usage: " REPORT_PROG " TRACE -o REPORT.html [--replay-log FILE]\n"
		"\n"
		"Write one self-contained HTML page (no scripts, nothing fetched) about a trace:\n"
		"the recording's header (image and disks with SHA-256, command line, delivery,\n"
		"final digest), an SVG timeline of exits, interrupts, disk and network I/O in\n"
		"events per guest second (checkpoints and landmarks marked), and the console\n"
		"transcript with each line's position and guest time.\n"
		"\n"
		"  -o, --output F      where to write (`-`: stdout); F appears only when the\n"
		"                      whole trace was read\n"
		"  --replay-log FILE   the stderr of a `detvm replay` of this trace: a line\n"
		"                      `diverged at/after exit N...` is shown with the trace's\n"
		"                      events around exit N and a red line on the timeline;\n"
		"                      without it the page says 'not replayed'\n"
		"  -h, --help          this text\n"
		"\n"
		"Exit status: 0; 2 usage error or an unreadable replay log; 7 the trace cannot be\n"
		"read to its clean end (one line on stderr, no output file); 10 output error.\n",
};

/* The divergence a replay's stderr names, or its last line. 0, or 2 after one line. */
static int read_replay_log(const char *path, struct divergence *d)
{
	FILE *f = fopen(path, "r");
	char line[sizeof(d->message)];

	d->replayed = true;
	snprintf(d->message, sizeof(d->message), "(the log is empty)");
	if (!f) {
		fprintf(stderr, REPORT_PROG ": cannot read the replay log %s: %s\n", path,
			strerror(errno));
		return DUMP_EXIT_USAGE;
	}
	while (fgets(line, sizeof(line), f)) {
		char *at = strstr(line, "diverged at exit ");
		char *after = strstr(line, "diverged after exit ");

		line[strcspn(line, "\n")] = 0;
		if (!d->diverged && *line)
			snprintf(d->message, sizeof(d->message), "%s", line);
		if (d->diverged || (!at && !after))
			continue;
		d->diverged = true;
		d->position = strtoull(at ? at + strlen("diverged at exit ") :
				       after + strlen("diverged after exit "), NULL, 10);
	}
	fclose(f);
	return 0;
}

static int add_step(struct report *r, uint64_t ns)
{
	struct time_step *steps;

	if (r->nsteps && r->steps[r->nsteps - 1].ns == ns)
		return 0;
	steps = grow_array(r->steps, &r->cap, r->nsteps, sizeof(*steps), 256);
	if (!steps)
		return -1;
	r->steps = steps;
	memset(&r->steps[r->nsteps], 0, sizeof(r->steps[0]));
	r->steps[r->nsteps++].ns = ns;
	return 0;
}

static void divergence_context(struct report *r, const struct trace_walk *w)
{
	struct divergence *d = &r->div;
	uint64_t pos = w->te.position;

	if (!d->diverged || !r->context)
		return;
	if (!d->located && pos >= d->position) {
		d->located = true;
		d->guest_ns = w->guest_ns;
	}
	if (pos + CONTEXT_BEFORE >= d->position && pos <= d->position + CONTEXT_AFTER &&
	    d->context_events++ < CONTEXT_MAX_EVENTS)
		dump_text_event(r->context, &w->te);
}

static int take(void *ctx, const struct trace_walk *w)
{
	struct report *r = ctx;
	static const int kind_series[DUMP_KIND_SLOTS] = {
		[DETVM__EVENT__PAYLOAD_EXIT] = RS_EXITS + 1,
		[DETVM__EVENT__PAYLOAD_INTERRUPT] = RS_IRQ + 1,
		[DETVM__EVENT__PAYLOAD_CHECKPOINT] = RS_CHECKPOINT + 1,
		[DETVM__EVENT__PAYLOAD_LANDMARK] = RS_LANDMARK + 1,
	};
	static const int io_series[] = { [IO_DISK] = RS_DISK + 1, [IO_NET] = RS_NET + 1 };
	unsigned int k = dump_event_kind(w->te.ev), index;
	enum io_class io = io_classify(&r->io, w->te.ev, &index);
	struct time_step *s;

	if (add_step(r, w->guest_ns))
		return -1;
	s = &r->steps[r->nsteps - 1];
	if (kind_series[k])
		s->count[kind_series[k] - 1]++;
	if (io == IO_DISK || io == IO_NET)
		s->count[io_series[io] - 1]++;
	r->end_ns = w->guest_ns;
	divergence_context(r, w);
	return console_log_event(&r->console, &w->te, w->guest_ns);
}

static void write_page(FILE *f, struct report *r, const struct trace_walk *w)
{
	report_page_start(f, r);
	report_replay_section(f, &r->div);
	fputs("<h2>Timeline</h2>\n", f);
	report_svg(f, r);
	report_header_section(f, trace_walk_header(w), trace_walk_footer(w), &w->tally);
	report_console_section(f, &r->console);
	report_page_end(f);
}

int cli_report(int argc, char **argv)
{
	struct report r = { 0 };
	struct tool_out out;
	struct tool_opts o;
	struct trace_walk w;
	int code = tool_open_trace(&spec, argc, argv, &o, &w);

	if (code >= 0)
		return code;
	r.path = o.files[0];
	if (o.replay_log && (code = read_replay_log(o.replay_log, &r.div))) {
		trace_walk_close(&w);
		return code;
	}
	io_map_init(&r.io, trace_walk_header(&w));
	console_log_init(&r.console);
	if (r.div.diverged)
		r.context = open_memstream(&r.div.context, &r.div.context_len);
	code = trace_walk_each(&w, take, &r);
	if (r.context && fclose(r.context) && !code) {
		fprintf(stderr, REPORT_PROG ": out of memory\n");
		code = DUMP_EXIT_IO;
	}
	if (!code)
		code = tool_out_open(&out, REPORT_PROG, o.out);
	if (!code) {
		write_page(out.f, &r, &w);
		code = tool_out_commit(&out, REPORT_PROG);
	}
	console_log_free(&r.console);
	free(r.steps);
	free(r.div.context);
	trace_walk_close(&w);
	return code;
}
