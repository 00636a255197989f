/*
 * The command line of the offline trace tools (stats, diff, console, export, report):
 * one parser for their few options, and output files that appear whole or not at all.
 */
#ifndef DETVM_TOOLS_TOOL_ARGS_H
#define DETVM_TOOLS_TOOL_ARGS_H

#include <stdbool.h>
#include <stdio.h>

/* Options a tool accepts (tool_spec.accepts) or needs (tool_spec.needs). */
enum tool_option {
	TOOL_JSON = 1 << 0,		/* --json */
	TOOL_OUT = 1 << 1,		/* -o FILE, --output FILE */
	TOOL_CHROME = 1 << 2,		/* --chrome */
	TOOL_REPLAY_LOG = 1 << 3,	/* --replay-log FILE */
};

struct tool_spec {
	const char *prog;	/* "detvm stats" */
	const char *help;	/* the whole --help text */
	unsigned accepts, needs;
	int files;		/* how many trace files the tool takes */
};

struct tool_opts {
	bool json, chrome;
	const char *out, *replay_log;
	const char *files[2];
};

/*
 * Parse argv (argv[0] is the command's name). -1 to go on; otherwise the exit code to
 * return now: 0 after --help, 2 after one line on stderr for a usage error.
 */
int tool_parse(const struct tool_spec *s, int argc, char **argv, struct tool_opts *o);

struct trace_walk;
/*
 * tool_parse(), then trace_walk_open() of the one trace file: -1 with w open to go on,
 * or the exit code to return now (w closed).
 */
int tool_open_trace(const struct tool_spec *s, int argc, char **argv, struct tool_opts *o,
		    struct trace_walk *w);

/*
 * An output file written under a temporary name in the same folder and renamed into
 * place by tool_out_commit(), so a failed run leaves no half file (and no old file is
 * clobbered by one). "-" is stdout.
 */
struct tool_out {
	FILE *f;
	const char *path;
	char tmp[4096];
};
/* 0, or DUMP_EXIT_IO after one line on stderr. */
int tool_out_open(struct tool_out *o, const char *prog, const char *path);
/* Flush, close and rename: 0, or DUMP_EXIT_IO after one line on stderr. */
int tool_out_commit(struct tool_out *o, const char *prog);
/* Close and remove the temporary file. */
void tool_out_abort(struct tool_out *o);

/* stdout flushed: code, or DUMP_EXIT_IO after one line (a closed pipe stays quiet). */
int tool_finish_stdout(const char *prog, int code);

#endif
