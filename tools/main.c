#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tools/dump.h"
#include "tools/cli.h"
#include "tools/cli_snapshot.h"
#include "vmm/exitcode.h"

#include "vmm/version.h"

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct cli_command commands[] = {
	{ "run", "boot a guest (PVH ELF or Linux bzImage) with the deterministic platform", cli_run },
	{ "record", "run a guest and record its nondeterministic inputs into a trace", cli_record },
	{ "replay", "re-execute a recorded trace exactly, checking every exit", cli_replay },
	{ "trace", "replay a trace, writing every instruction of a window (disassembled)", cli_trace },
	{ "dump", "print a trace's header and events (--json, --stats)", dump_main },
	{ "snapshot", "save a running VM's state to a file (run/record --restore starts from it)", cli_snapshot },
	{ "stats", "events per kind per guest second, bytes, compression, longest gaps", cli_stats },
	{ "diff", "the first position where two traces differ (exit 1), or exit 0", cli_diff },
	{ "console", "the guest's console output, each line with its exit number and guest time", cli_console },
	{ "export", "a trace as Chrome trace-event JSON (--chrome) for Perfetto", cli_export },
	{ "report", "one self-contained HTML page: timeline, console, header, divergence", cli_report },
	{ "ft", "run a guest on a primary while a backup replays it in lockstep", cli_ft },
	{ "doctor", "report what this host's KVM can do for detvm", cli_doctor },
	{ "help", "show this help, or `detvm help COMMAND`", cmd_help },
	{ "version", "print the version", cmd_version },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: detvm COMMAND [options] ...\n\n"
		   "detvm is a deterministic KVM virtual machine monitor.\n\ncommands:\n");
	for (unsigned i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n`detvm COMMAND --help` describes a command's options.\n");
}

static const struct cli_command *find(const char *name)
{
	for (unsigned i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int cmd_help(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--help") && strcmp(argv[1], "-h")) {
		const struct cli_command *c = find(argv[1]);
		if (!c)
			return cli_usage_error("help", "unknown command '%s'", argv[1]);
		char help[] = "--help";
		char *args[] = { argv[1], help, NULL };
		return c->main(2, args);
	}
	usage(stdout);
	return DETVM_EXIT_OK;
}

static int cmd_version(int argc, char **argv)
{
	printf("detvm %s\n", DETVM_VERSION_STRING);
	return DETVM_EXIT_OK;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "detvm: no command given; usage: detvm COMMAND [options] (try `detvm --help`)\n");
		return DETVM_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return DETVM_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version"))
		return cmd_version(argc, argv);
	/* output piped into `head` must end quietly, not with SIGPIPE */
	signal(SIGPIPE, SIG_IGN);
	const struct cli_command *c = find(argv[1]);
	if (!c) {
		fprintf(stderr, "detvm: unknown command '%s' (try `detvm --help`)\n", argv[1]);
		return DETVM_EXIT_USAGE;
	}
	return c->main(argc - 1, argv + 1);
}
