/* Command-line front end: one table entry per `detvm COMMAND`. */
#ifndef DETVM_VMM_CLI_H
#define DETVM_VMM_CLI_H

#include <stdint.h>

struct cli_command {
	const char *name;
	const char *summary;
	int (*main)(int argc, char **argv);
};

int cli_run(int argc, char **argv);
int cli_doctor(int argc, char **argv);

/* "256M", "1G", "4096" -> bytes; -EINVAL on garbage or overflow. */
int cli_parse_size(const char *s, uint64_t *out);
/* Prints "detvm COMMAND: msg" and returns DETVM_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
