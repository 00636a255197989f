/*
 * `detvm console TRACE [--json]`: the guest's console output from a trace alone, each
 * line with the exit that wrote its first byte and the guest time there.
 */
#include <inttypes.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/console_log.h"
#include "tools/dump.h"
#include "tools/tool_args.h"
#include "tools/trace_walk.h"

#define CONSOLE_PROG "detvm console"

static const struct tool_spec spec = {
	.prog = CONSOLE_PROG,
	.accepts = TOOL_JSON,
	.files = 1,
	.help = "usage: " CONSOLE_PROG " [--json] TRACE\n"
		"\n"
		"Print what the recorded guest wrote to its console (COM1), rebuilt from the\n"
		"trace's exit records, one line per console line:\n"
		"  POSITION  GUEST-TIME  TEXT\n"
		"POSITION is the exit number that wrote the line's first byte, GUEST-TIME the\n"
		"guest clock as the trace last saw it there. Bytes that are not printable are\n"
		"shown as \\xNN (a CR before the newline is dropped).\n"
		"\n"
		"  --json      JSON Lines: {\"position\",\"guest_ns\",\"text\",\"newline\",\"missing\"}\n"
		"              per line, text exactly as written (newline: false for an\n"
		"              unfinished last line; missing: bytes of a long `rep outsb` the\n"
		"              trace did not keep)\n"
		"  -h, --help  this text\n"
		"\n"
		"Exit status: 0; 2 usage error; 7 the trace cannot be read to its clean end\n"
		"(one line on stderr, nothing on stdout); 10 output error.\n",
};

static void put_text(const struct console_line *l)
{
	size_t n = l->len;

	if (l->newline && n && l->text[n - 1] == '\r')
		n--;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = l->text[i];

		/* guest bytes never reach the terminal raw: no escape sequences */
		if (c == '\\')
			fputs("\\\\", stdout);
		else if (c >= 0x20 && c < 0x7f)
			putchar(c);
		else
			printf("\\x%02x", c);
	}
	if (l->missing)
		printf(" [%" PRIu64 " bytes not in the trace]", l->missing);
	putchar('\n');
}

static void print_lines(const struct console_log *c, bool json)
{
	for (size_t i = 0; i < c->nlines; i++) {
		const struct console_line *l = &c->lines[i];

		if (json) {
			printf("{\"position\":%" PRIu64 ",\"guest_ns\":%" PRIu64 ",\"text\":",
			       l->position, l->guest_ns);
			dump_put_json_bytes_str(stdout, l->text, l->len);
			printf(",\"newline\":%s,\"missing\":%" PRIu64 "}\n",
			       l->newline ? "true" : "false", l->missing);
			continue;
		}
		printf("%10" PRIu64 "  ", l->position);
		trace_put_guest_time(stdout, l->guest_ns);
		fputs("  ", stdout);
		put_text(l);
	}
}

static int take(void *ctx, const struct trace_walk *w)
{
	return console_log_event(ctx, &w->te, w->guest_ns);
}

int cli_console(int argc, char **argv)
{
	struct console_log c;
	struct tool_opts o;
	struct trace_walk w;
	int code = tool_open_trace(&spec, argc, argv, &o, &w);

	if (code >= 0)
		return code;
	console_log_init(&c);
	code = trace_walk_each(&w, take, &c);
	/* all or nothing: a transcript cut at a damaged block would read as complete */
	if (!code)
		print_lines(&c, o.json);
	console_log_free(&c);
	trace_walk_close(&w);
	return code ? code : tool_finish_stdout(CONSOLE_PROG, DUMP_EXIT_OK);
}
