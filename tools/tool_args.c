/* Option parsing and whole-or-nothing output files for the offline trace tools. */
#include "tools/tool_args.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tools/dump.h"
#include "tools/trace_walk.h"
#include "vmm/file_io.h"

struct option_name {
	enum tool_option opt;
	const char *name, *alias;
	bool has_arg;
};

static const struct option_name options[] = {
	{ TOOL_JSON, "--json", NULL, false },
	{ TOOL_OUT, "--output", "-o", true },
	{ TOOL_CHROME, "--chrome", NULL, false },
	{ TOOL_REPLAY_LOG, "--replay-log", NULL, true },
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

static int usage_error(const struct tool_spec *s, const char *what, const char *arg)
{
	fprintf(stderr, "%s: %s%s%s%s (try `%s --help`)\n", s->prog, what, arg ? " '" : "",
		arg ? arg : "", arg ? "'" : "", s->prog);
	return DUMP_EXIT_USAGE;
}

static const struct option_name *find_option(const char *a)
{
	for (unsigned i = 0; i < NOPTIONS; i++)
		if (!strcmp(a, options[i].name) || (options[i].alias && !strcmp(a, options[i].alias)))
			return &options[i];
	return NULL;
}

static void set_option(struct tool_opts *o, enum tool_option opt, const char *arg)
{
	switch (opt) {
	case TOOL_JSON:
		o->json = true;
		break;
	case TOOL_OUT:
		o->out = arg;
		break;
	case TOOL_CHROME:
		o->chrome = true;
		break;
	case TOOL_REPLAY_LOG:
		o->replay_log = arg;
		break;
	}
}

int tool_parse(const struct tool_spec *s, int argc, char **argv, struct tool_opts *o)
{
	unsigned seen = 0;
	bool opts_done = false;
	int nfiles = 0;

	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const struct option_name *on;

		if (opts_done || a[0] != '-' || !a[1]) {
			if (nfiles == s->files)
				return usage_error(s, "too many trace files:", a);
			o->files[nfiles++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			opts_done = true;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(s->help, stdout);
			return tool_finish_stdout(s->prog, 0);
		}
		on = find_option(a);
		if (!on || !(s->accepts & on->opt))
			return usage_error(s, "unknown option", a);
		if (on->has_arg && i + 1 >= argc)
			return usage_error(s, "missing the argument of", a);
		set_option(o, on->opt, on->has_arg ? argv[++i] : NULL);
		seen |= on->opt;
	}
	for (unsigned i = 0; i < NOPTIONS; i++)
		if ((s->needs & options[i].opt) && !(seen & options[i].opt))
			return usage_error(s, "missing option", options[i].name);
	if (nfiles < s->files)
		return usage_error(s, s->files > 1 ? "want two trace files" : "no trace file given",
				   NULL);
	return -1;
}

int tool_open_trace(const struct tool_spec *s, int argc, char **argv, struct tool_opts *o,
		    struct trace_walk *w)
{
	int code = tool_parse(s, argc, argv, o);

	if (code >= 0)
		return code;
	code = trace_walk_open(w, s->prog, o->files[0], stderr);
	return code ? code : -1;
}

int tool_out_open(struct tool_out *o, const char *prog, const char *path)
{
	memset(o, 0, sizeof(*o));
	o->path = path;
	if (!strcmp(path, "-")) {
		o->f = stdout;
		return 0;
	}
	int fd = file_create_temp(path, o->tmp, sizeof(o->tmp));
	o->f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!o->f) {
		fprintf(stderr, "%s: cannot create %s: %s\n", prog, path, strerror(fd < 0 ? -fd : errno));
		if (fd >= 0) {
			close(fd);
			unlink(o->tmp);
		}
		return DUMP_EXIT_IO;
	}
	return 0;
}

int tool_out_commit(struct tool_out *o, const char *prog)
{
	int bad;

	if (o->f == stdout)
		return tool_finish_stdout(prog, 0);
	bad = fflush(o->f) || ferror(o->f);
	bad = fclose(o->f) || bad;
	o->f = NULL;
	if (bad || rename(o->tmp, o->path)) {
		fprintf(stderr, "%s: writing %s failed: %s\n", prog, o->path, strerror(errno));
		unlink(o->tmp);
		return DUMP_EXIT_IO;
	}
	return 0;
}

void tool_out_abort(struct tool_out *o)
{
	if (!o->f || o->f == stdout)
		return;
	fclose(o->f);
	o->f = NULL;
	unlink(o->tmp);
}

int tool_finish_stdout(const char *prog, int code)
{
	if (fflush(stdout) || ferror(stdout)) {
		if (errno != EPIPE)
			fprintf(stderr, "%s: writing the output failed: %s\n", prog, strerror(errno));
		return DUMP_EXIT_IO;
	}
	return code;
}
