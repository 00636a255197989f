/*
 * `detvm dump [--json] [--stats] TRACE`: print a trace file (logs/FORMAT.md) for humans
 * (one event per line), for programs (JSON Lines) or as a per-kind size summary.
 */
#ifndef DETVM_TOOLS_DUMP_H
#define DETVM_TOOLS_DUMP_H

#include <stdio.h>

/* Exit codes. */
#define DUMP_EXIT_OK 0
#define DUMP_EXIT_USAGE 2	/* bad flags, no file, more than one file */
#define DUMP_EXIT_TRACE 7	/* the trace cannot be read to a clean end (incl. truncation) */
#define DUMP_EXIT_IO 10		/* writing the output failed */

/* Entry point for the CLI's command table: argv[0] is "dump". Returns an exit code. */
int dump_main(int argc, char **argv);

/* The same, writing to out and err instead of stdout and stderr (for tests). */
int dump_run(int argc, char **argv, FILE *out, FILE *err);

#endif
