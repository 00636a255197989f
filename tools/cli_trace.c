/* `detvm trace`: an exact replay that single-steps and writes every instruction of a window. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "logs/trace.h"
#include "replay/replay.h"
#include "tools/cli.h"
#include "tools/trace_insn.h"
#include "vmm/exitcode.h"
#include "vmm/file_io.h"
#include "vmm/log.h"
#include "vmm/mono_clock.h"
#include "vmm/probe.h"

static const char trace_help[] =
	"usage: detvm trace [options] -o OUT TRACE\n"
	"\n"
	"Replays TRACE exactly as `detvm replay` does (every exit, interrupt and checkpoint\n"
	"compared) and, inside a window of positions, single-steps every instruction and\n"
	"writes one line for each: its position, CPL, CPU mode, RIP, bytes, disassembly\n"
	"(Capstone, Intel syntax), the linear address of each memory operand, and int=VECTOR\n"
	"on the first instruction of an interrupt handler the replay injected. The recording\n"
	"ran at full speed: only this replay pays for the stepping.\n"
	"\n"
	"A position is EXIT+N: the N-th instruction after guest-caused exit EXIT (0: the\n"
	"first one the guest runs after it; exits count from 1, and 0+N is the N-th from\n"
	"the start). `detvm dump TRACE` shows the exit numbers (@EXIT). EXIT alone is EXIT+0.\n"
	"An interrupt injected at exit EXIT makes its handler's first instruction EXIT+0.\n"
	"\n"
	"options:\n"
	"  -o, --output OUT      where the records go (- for standard output); required\n"
	"  --from POS            the first position traced (default 0+0, the start)\n"
	"  --to POS              the first position not traced (default: the end)\n"
	"  --format text|jsonl   text (default): columns, a # header line; jsonl: one JSON\n"
	"                        object per line (exit, step, cpl, mode, rip, bytes, insn,\n"
	"                        mem, and interrupt and regs where there are some)\n"
	"  --regs                add the registers that changed since the previous line\n"
	"                        (the first line has them all); RFLAGS without TF and RF\n"
	"  -s, --serial SPEC     console output: stdio (default) or file:PATH\n"
	"  --stats               the machine's counters and the tracing rate, on stderr\n"
	"  -v, --verbose / -q, --quiet\n"
	"  -h, --help\n"
	"exit status: as `detvm replay` (0 when the replay matched to its end); 2 bad\n"
	"options or positions; 7 a trace that cannot be read to a clean end; 10 OUT cannot\n"
	"be written.\n";

struct trace_opts {
	const char *trace, *output, *serial;
	const struct trace_format *fmt;
	struct trace_pos from, to;
	int has_to, regs, stats;
};

static int parse_pos(const char *option, const char *arg, struct trace_pos *p)
{
	if (trace_pos_parse(arg, p))
		return cli_usage_error("trace", "%s '%s' is not a position: EXIT or EXIT+STEPS, in decimal", option, arg);
	return 0;
}

static int parse(int argc, char **argv, struct trace_opts *o)
{
	enum { OPT_FROM = 256, OPT_TO, OPT_FORMAT, OPT_REGS, OPT_STATS };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' }, { "from", required_argument, NULL, OPT_FROM },
		{ "to", required_argument, NULL, OPT_TO },  { "format", required_argument, NULL, OPT_FORMAT },
		{ "regs", no_argument, NULL, OPT_REGS },    { "serial", required_argument, NULL, 's' },
		{ "stats", no_argument, NULL, OPT_STATS },  { "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },	    { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	memset(o, 0, sizeof(*o));
	o->serial = "stdio";
	o->fmt = trace_format_find("text");
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":o:s:vqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': o->output = optarg; break;
		case OPT_FROM:
			if (parse_pos("--from", optarg, &o->from))
				return DETVM_EXIT_USAGE;
			break;
		case OPT_TO:
			if (parse_pos("--to", optarg, &o->to))
				return DETVM_EXIT_USAGE;
			o->has_to = 1;
			break;
		case OPT_FORMAT:
			o->fmt = trace_format_find(optarg);
			if (!o->fmt)
				return cli_usage_error("trace", "unknown --format '%s' (text or jsonl)", optarg);
			break;
		case OPT_REGS: o->regs = 1; break;
		case 's':
			if (cli_check_serial("trace", optarg))
				return DETVM_EXIT_USAGE;
			o->serial = optarg;
			break;
		case OPT_STATS: o->stats = 1; break;
		case 'v': if (log_threshold < LOG_DEBUG) log_threshold++; break;
		case 'q': log_threshold = LOG_ERROR; break;
		case 'h':
			fputs(trace_help, stdout);
			return -1;
		case ':':
			return cli_usage_error("trace", "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error("trace", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("trace", optind >= argc ? "no TRACE given" : "more than one TRACE given");
	o->trace = argv[optind];
	if (!o->output)
		return cli_usage_error("trace", "no -o OUT given (- for standard output)");
	if (o->has_to && trace_pos_cmp(&o->to, &o->from) <= 0)
		return cli_usage_error("trace", "--to must come after --from: the window would be empty");
	return 0;
}

static int wrap(void *ctx, struct replayer *rp, struct hostio **io, struct run_observer **obs)
{
	((struct insn_tracer *)ctx)->progress_ns = &rp->progress_ns;
	return 0;
}

static void created(void *ctx, struct machine *m)
{
	m->tracer = &((struct insn_tracer *)ctx)->hook;
}

static void print_rate(const struct insn_tracer *t, const struct trace_opts *o)
{
	double s = (double)(t->ended_ns - t->started_ns) / 1e9;
	fprintf(stderr, "trace: %" PRIu64 " instructions traced in %.3f s (%.0f instructions/s)\n", t->traced, s,
		s > 0 ? (double)t->traced / s : 0.0);
}

int cli_trace(int argc, char **argv)
{
	struct trace_opts o;
	int code = parse(argc, argv, &o);
	if (code)
		return code < 0 ? DETVM_EXIT_OK : code;
	char err[768] = "";
	struct trace_reader *reader;
	if (trace_reader_open(&reader, o.trace, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return DETVM_EXIT_TRACE;
	}
	int to_stdout = !strcmp(o.output, "-");
	int fd = to_stdout ? STDOUT_FILENO : file_create_private(o.output);
	FILE *out = fd < 0 ? NULL : to_stdout ? stdout : fdopen(fd, "w");
	if (!out) {
		log_error("cannot create '%s': %s", o.output, file_strerror(fd < 0 ? fd : -errno));
		if (fd >= 0)
			close(fd);
		trace_reader_close(reader);
		return DETVM_EXIT_USAGE;
	}
	static char buf[1 << 20];
	setvbuf(out, buf, _IOFBF, sizeof(buf));
	static struct insn_tracer t;
	if (insn_tracer_init(&t, o.fmt, out)) {
		trace_reader_close(reader);
		code = DETVM_EXIT_HOST;
		goto out;
	}
	t.from = o.from;
	t.to = o.to;
	t.has_to = o.has_to;
	t.regs = o.regs;
	t.step_rings = probe_step_rings();
	t.bp_rings = probe_breakpoint_rings();
	o.fmt->begin(out, o.regs);
	const struct cli_replay_wrap w = { .wrap = wrap, .created = created, .ctx = &t };
	code = cli_replay_session(reader, o.trace, o.serial, o.stats, &w);
	if (t.open)
		t.ended_ns = mono_clock_ns();
	if (!t.started_ns && code == DETVM_EXIT_OK)
		log_warn("the window from %" PRIu64 "+%" PRIu64 " was never reached: the guest ended before it",
			 o.from.exit, o.from.step);
	else if (o.stats || log_threshold >= LOG_INFO)
		print_rate(&t, &o);
	insn_tracer_destroy(&t);
out:
	if (fflush(out) || ferror(out) || (!to_stdout && fclose(out))) {
		log_error("cannot write '%s': %s", o.output, strerror(errno));
		return code ? code : DETVM_EXIT_HOST;
	}
	return code;
}
