/*
 * `detvm export --chrome TRACE -o OUT.json`: a trace as Chrome trace-event JSON (the
 * format chrome://tracing and ui.perfetto.dev open), keyed by guest time. One process,
 * one track ("thread") per kind of thing: exits (with `halted` slices from a HLT to the
 * next exit), interrupts, disk, network, console (each line as written), clock and
 * timers, checkpoints, landmarks, and the rest.
 */
#include <inttypes.h>
#include <string.h>

#include "replay/events.h"
#include "tools/cli.h"
#include "tools/console_log.h"
#include "tools/dump.h"
#include "tools/tool_args.h"
#include "tools/trace_io.h"
#include "tools/trace_walk.h"

#define EXPORT_PROG "detvm export"
#define EXPORT_PID 1

static const struct tool_spec spec = {
	.prog = EXPORT_PROG,
	.accepts = TOOL_CHROME | TOOL_OUT,
	.needs = TOOL_CHROME | TOOL_OUT,
	.files = 1,
	.help = "usage: " EXPORT_PROG " --chrome TRACE -o OUT.json\n"
		"\n"
		"Write the trace as Chrome trace-event JSON, for ui.perfetto.dev or\n"
		"chrome://tracing: every event as an instant on a timeline of guest time\n"
		"(microseconds; the guest clock as the trace last saw it), on one track per kind:\n"
		"exits (plus a `halted` slice from each HLT to the next exit), interrupts, disk\n"
		"(queue notifies, completions), network (queue notifies, received frames),\n"
		"console (each output line, input), clock and timers, checkpoints, landmarks,\n"
		"other. Each event's args hold its position (exit number), sequence number and\n"
		"RIP. OUT appears only when the whole trace was read (`-o -`: stdout).\n"
		"\n"
		"  --chrome        the output format (the only one so far)\n"
		"  -o, --output F  where to write\n"
		"  -h, --help      this text\n"
		"\n"
		"Exit status: 0; 2 usage error; 7 the trace cannot be read to its clean end\n"
		"(one line on stderr, no output file); 10 output error.\n",
};

enum track {
	T_EXITS = 1, T_IRQ, T_DISK, T_NET, T_CONSOLE, T_CLOCK, T_CHECKPOINT, T_LANDMARK, T_OTHER,
	T_COUNT
};

static const char *const track_names[T_COUNT] = {
	[T_EXITS] = "exits", [T_IRQ] = "interrupts", [T_DISK] = "disk I/O",
	[T_NET] = "network I/O", [T_CONSOLE] = "console", [T_CLOCK] = "clock and timers",
	[T_CHECKPOINT] = "checkpoints", [T_LANDMARK] = "landmarks", [T_OTHER] = "other",
};

/* The track of each event kind; an exit that is device I/O also goes on its device's. */
static const enum track kind_track[DUMP_KIND_SLOTS] = {
	[DETVM__EVENT__PAYLOAD_EXIT] = T_EXITS,
	[DETVM__EVENT__PAYLOAD_CLOCK] = T_CLOCK,
	[DETVM__EVENT__PAYLOAD_TIMER] = T_CLOCK,
	[DETVM__EVENT__PAYLOAD_INTERRUPT] = T_IRQ,
	[DETVM__EVENT__PAYLOAD_CONSOLE] = T_CONSOLE,
	[DETVM__EVENT__PAYLOAD_NET_RX] = T_NET,
	[DETVM__EVENT__PAYLOAD_DISK] = T_DISK,
	[DETVM__EVENT__PAYLOAD_CHECKPOINT] = T_CHECKPOINT,
	[DETVM__EVENT__PAYLOAD_LANDMARK] = T_LANDMARK,
};

static const enum track io_track[] = {
	[IO_NONE] = 0, [IO_DISK] = T_DISK, [IO_NET] = T_NET, [IO_CONSOLE] = 0,
};

struct exporter {
	FILE *f;
	struct io_map io;
	struct console_log console;
	bool halted;			/* the last exit was a HLT */
	uint64_t halt_ns, halt_pos;
};

static void put_ts(FILE *f, uint64_t ns)
{
	fprintf(f, "\"ts\":%" PRIu64 ".%03" PRIu64, ns / 1000, ns % 1000);
}

static void put_instant(FILE *f, enum track t, const char *name, const char *cat, uint64_t ns,
			const struct trace_event *te)
{
	fputs(",\n{\"ph\":\"i\",\"s\":\"t\",\"name\":", f);
	dump_put_json_str(f, name);
	fprintf(f, ",\"cat\":\"%s\",\"pid\":%d,\"tid\":%d,", cat, EXPORT_PID, (int)t);
	put_ts(f, ns);
	fprintf(f, ",\"args\":{\"position\":%" PRIu64 ",\"seq\":%" PRIu64 ",\"rip\":\"0x%" PRIx64
		"\"}}", te->position, te->seq, te->ev->rip);
}

static void put_header(FILE *f, const Detvm__TraceHeader *h, const char *path)
{
	const char *cmdline = h->config && h->config->cmdline ? h->config->cmdline : "";

	fputs("{\"displayTimeUnit\":\"ms\",\"otherData\":{\"trace\":", f);
	dump_put_json_str(f, path);
	fputs(",\"cmdline\":", f);
	dump_put_json_str(f, cmdline);
	fputs(",\"clock\":\"guest time, microseconds\"},\"traceEvents\":[\n", f);
	fprintf(f, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%d,\"args\":{\"name\":",
		EXPORT_PID);
	dump_put_json_str(f, *cmdline ? cmdline : "detvm guest");
	fputs("}}", f);
	for (int t = T_EXITS; t < T_COUNT; t++)
		fprintf(f, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%d,"
			"\"args\":{\"name\":\"%s\"}},\n{\"ph\":\"M\",\"name\":\"thread_sort_index\","
			"\"pid\":%d,\"tid\":%d,\"args\":{\"sort_index\":%d}}", EXPORT_PID, t,
			track_names[t], EXPORT_PID, t, t);
}

static int put_event(void *ctx, const struct trace_walk *w)
{
	struct exporter *x = ctx;
	const struct trace_event *te = &w->te;
	unsigned int kind = dump_event_kind(te->ev);
	enum track t = kind_track[kind] ? kind_track[kind] : T_OTHER;
	char what[160];
	unsigned index;
	enum io_class io = io_classify(&x->io, te->ev, &index);

	event_describe(te->ev, what, sizeof(what));
	if (kind == DETVM__EVENT__PAYLOAD_EXIT) {
		if (x->halted) {
			fputs(",\n{\"ph\":\"X\",\"name\":\"halted\",\"cat\":\"hlt\",", x->f);
			fprintf(x->f, "\"pid\":%d,\"tid\":%d,", EXPORT_PID, (int)T_EXITS);
			put_ts(x->f, x->halt_ns);
			fprintf(x->f, ",\"dur\":%" PRIu64 ".%03" PRIu64 ",\"args\":{\"from_position\":%"
				PRIu64 ",\"to_position\":%" PRIu64 "}}", (w->guest_ns - x->halt_ns) / 1000,
				(w->guest_ns - x->halt_ns) % 1000, x->halt_pos, te->position);
		}
		x->halted = te->ev->exit->kind == DETVM__EXIT_KIND__EXIT_HLT;
		x->halt_ns = w->guest_ns;
		x->halt_pos = te->position;
	}
	put_instant(x->f, t, what, dump_kind_name(kind), w->guest_ns, te);
	if (kind == DETVM__EVENT__PAYLOAD_EXIT && io_track[io])
		put_instant(x->f, io_track[io], what, io == IO_DISK ? "disk" : "net", w->guest_ns, te);
	return console_log_event(&x->console, te, w->guest_ns);
}

static void put_console(FILE *f, const struct console_log *c)
{
	for (size_t i = 0; i < c->nlines; i++) {
		const struct console_line *l = &c->lines[i];

		fputs(",\n{\"ph\":\"i\",\"s\":\"t\",\"name\":", f);
		dump_put_json_bytes_str(f, l->text, l->len);
		fprintf(f, ",\"cat\":\"console\",\"pid\":%d,\"tid\":%d,", EXPORT_PID, (int)T_CONSOLE);
		put_ts(f, l->guest_ns);
		fprintf(f, ",\"args\":{\"position\":%" PRIu64 "}}", l->position);
	}
}

int cli_export(int argc, char **argv)
{
	struct exporter x = { 0 };
	struct tool_out out;
	struct tool_opts o;
	struct trace_walk w;
	int code = tool_open_trace(&spec, argc, argv, &o, &w);

	if (code >= 0)
		return code;
	code = tool_out_open(&out, EXPORT_PROG, o.out);
	if (code) {
		trace_walk_close(&w);
		return code;
	}
	x.f = out.f;
	io_map_init(&x.io, trace_walk_header(&w));
	console_log_init(&x.console);
	put_header(x.f, trace_walk_header(&w), w.path);
	code = trace_walk_each(&w, put_event, &x);
	if (!code) {
		put_console(x.f, &x.console);
		fputs("\n]}\n", x.f);
		code = tool_out_commit(&out, EXPORT_PROG);
	} else {
		tool_out_abort(&out);
	}
	console_log_free(&x.console);
	trace_walk_close(&w);
	return code;
}
