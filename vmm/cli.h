/* Command-line front end: one table entry per `detvm COMMAND`. */
#ifndef DETVM_VMM_CLI_H
#define DETVM_VMM_CLI_H

#include <stdint.h>

#include "vmm/machine.h"

struct cli_command {
	const char *name;
	const char *summary;
	int (*main)(int argc, char **argv);
};

int cli_run(int argc, char **argv);
int cli_record(int argc, char **argv);
int cli_replay(int argc, char **argv);
int cli_doctor(int argc, char **argv);

/* Options shared by run and record (record adds -o TRACE). */
struct run_opts {
	struct machine_config cfg;
	const char *serial;
	const char *output;
	double timeout;
	int stats;
};

/* 0, -1 after --help (exit 0), or DETVM_EXIT_USAGE after printing why. */
int cli_run_opts_parse(const char *cmd, const char *help, int argc, char **argv, struct run_opts *o);
struct host_run;
/* Opens cfg's disks and network backends on the live host; 0 or an exit code after
 * printing why. disk_sizes[i] gets what the guest will see of disk i. */
int cli_host_devices(struct host_run *h, const struct machine_config *cfg, uint64_t *disk_sizes);
/* stdio -> stdout; file:PATH -> a new file. -1 after printing why. */
int cli_open_serial(const char *spec);
/* SIGINT/SIGTERM set cli_stop_flag to 1, --timeout's SIGALRM to 2; both end KVM_RUN. */
extern volatile int cli_stop_flag;
int cli_install_signals(double timeout);
/* Host threads must not take the stop signals: block them before creating threads. */
void cli_block_stop_signals(int how);
/* Probes whether the host applies CPUID, tells cfg, pins where needed; the probe result. */
int cli_prepare_cpuid(struct machine_config *cfg);
/* The warning for hosts that ignore CPUID; after the machine is built, so a bad image
 * still gets exactly one line. */
void cli_warn_cpuid(int honoured);
/* Starts the host side, runs m to its end with the console raw; an exit code. */
int cli_run_machine(struct machine *m, struct host_run *h, double timeout);
void cli_console_raw(void);
void cli_console_restore(void);

/* "256M", "1G", "4096" -> bytes; -EINVAL on garbage or overflow. */
int cli_parse_size(const char *s, uint64_t *out);
/* Prints "detvm COMMAND: msg" and returns DETVM_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
