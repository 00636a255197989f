/* Command-line front end: one table entry per `detvm COMMAND`. */
#ifndef DETVM_TOOLS_CLI_H
#define DETVM_TOOLS_CLI_H

#include <stdint.h>
#include <time.h>

#include "ft/arbiter.h"
#include "vmm/machine.h"

struct cli_command {
	const char *name;
	const char *summary;
	int (*main)(int argc, char **argv);
};

int cli_run(int argc, char **argv);
int cli_record(int argc, char **argv);
int cli_replay(int argc, char **argv);
int cli_trace(int argc, char **argv);
int cli_doctor(int argc, char **argv);
int cli_ft(int argc, char **argv);
/* offline tools over traces (cli_stats.c, cli_diff.c, cli_console.c, cli_export.c, cli_report.c) */
int cli_stats(int argc, char **argv);
int cli_diff(int argc, char **argv);
int cli_console(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_report(int argc, char **argv);
int cli_ft_backup(int argc, char **argv);
extern const char cli_ft_help[];
/* The FT wire a user asked for exists here, or one line and DETVM_EXIT_USAGE. */
int cli_ft_check_wire(const char *cmd, const char *wire);
/* --console-seq PATH: *fd a new file (-1 for no PATH); 0, or DETVM_EXIT_USAGE after saying why. */
int cli_ft_open_seq(const char *path, int *fd);


/* Options shared by run, record and ft primary (record adds -o TRACE; ft primary adds
 * -o and the link). */
struct run_opts {
	struct machine_config cfg;
	const char *serial;
	const char *output;
	uint64_t checkpoint_exits;	/* record only */
	const char *peer, *wire;	/* ft primary: the backup, and the transport */
	const char *key_file;		/* ft primary: the pair's shared key */
	int beat_ms, dead_ms;		/* ft: heartbeat period, silence that means dead */
	const char *arbiter;		/* ft: file:PATH or etcd(s)://HOST:PORT/KEY, NULL none */
	struct arbiter_creds arb_creds;	/* ft: --arbiter-cacert, -cert, -key, -auth */
	const char *console_seq;	/* ft: the console side channel's file, NULL none */
	const char *restore;		/* --restore: start from this snapshot, not a boot */
	const char *control;		/* --control: the socket `detvm snapshot` talks to */
	int step;			/* --delivery step (the default) */
	int chaos;			/* run, record: --chaos SEED given */
	uint64_t chaos_seed;
	uint32_t chaos_max;		/* --chaos-max, or CHAOS_DEFAULT_MAX */
	uint32_t chaos_pause_us;	/* --chaos-pause-us, or CHAOS_DEFAULT_PAUSE_US */
	double timeout;
	int stats;
};

/* A trace streamed as it is written (the FT primary's link): every piece goes to sink;
 * finish, after the footer, waits until the stream is safe (NULL: nothing to wait for).
 * Both return 0 or -errno. wrap (NULL: none) puts a hostio between the recorder and the
 * live host (the output rule), and recording hands it the recorder once it exists. */
struct hostio;
struct recorder;
struct cli_stream {
	int (*sink)(void *ctx, const void *data, size_t len);
	int (*finish)(void *ctx);
	struct hostio *(*wrap)(void *ctx, struct hostio *live);
	void (*recording)(void *ctx, struct recorder *rec);
	void *ctx;
};
/* detvm record with parsed options, the trace also streamed where stream is given. */
int cli_record_session(struct run_opts *o, const struct cli_stream *stream);
struct trace_reader;
struct replayer;
struct run_observer;
/* Something in front of the replayer (the FT backup's go-live): given the replayer with
 * its disks, the hostio and observer the machine gets instead; then the machine. wrap
 * returns 0 or an exit code after printing why. */
struct cli_replay_wrap {
	int (*wrap)(void *ctx, struct replayer *rp, struct hostio **io, struct run_observer **obs);
	void (*created)(void *ctx, struct machine *m);
	/* a trace that starts from a state the FT link brought: load it into m; 0 or a code */
	int (*restore)(void *ctx, struct machine *m);
	/* with restore: the shared disks such a trace replays from (trace_header_to_setup) */
	const struct machine_config *shared;
	void *ctx;
	/* NULL, or told how the run ended (before the machine goes) */
	void (*ended)(void *ctx, struct machine *m, int code);
};
/* detvm replay of an open trace (owned from here); path locates the disk snapshots;
 * wrap NULL for a plain replay. */
int cli_replay_session(struct trace_reader *reader, const char *path, const char *serial, int stats,
		       const struct cli_replay_wrap *wrap);

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
/* Probes whether the host applies CPUID (pins the thread where it does not) and, with
 * step, which rings it single-steps; tells cfg. Returns the CPUID probe's result. */
int cli_prepare_host(struct machine_config *cfg, int step);
/* cli_prepare_host for a replay, plus how landmarks will be reached on this host. */
void cli_prepare_replay(struct machine_config *cfg);
/* The warning for hosts that ignore CPUID; after the machine is built, so a bad image
 * still gets exactly one line. */
void cli_warn_cpuid(int honoured);
/* The vCPU kick period: the `step` fallback's T (DESIGN.md) and the recorder's flush. */
#define CLI_KICK_NS (10 * 1000 * 1000)
/* A periodic SIGRTMIN to this thread every CLI_KICK_NS: KVM_RUN returns, a host exit,
 * which delivers nothing by itself. 0 or -errno; timer_delete() stops it. */
int cli_start_kick(timer_t *t);
/* Starts the host side, runs m to its end with the console raw; an exit code. The vCPU
 * is kicked every CLI_KICK_NS with kick (the recorder's flush) or a `step` fallback. */
int cli_run_machine(struct machine *m, struct host_run *h, double timeout, int kick);
void cli_console_raw(void);
void cli_console_restore(void);

struct chaos;
/* With --chaos, the seeded delivery delays on m (after machine_create); says so at -v. */
void cli_chaos_start(struct machine *m, const struct run_opts *o, struct chaos *c);
/* With --chaos and --stats, one line of what the delays did. */
void cli_chaos_stats(const struct run_opts *o, const struct chaos *c);

/* "256M", "1G", "4096" -> bytes; -EINVAL on garbage or overflow. */
int cli_parse_size(const char *s, uint64_t *out);
/* --disk PATH[,ro|,rw] into cfg (arg is cut at the comma); 0 or DETVM_EXIT_USAGE after
 * printing why. */
int cli_parse_disk(const char *cmd, struct machine_config *cfg, char *arg);
/* The FT commands' --arbiter-cacert, -cert, -key and -auth (long options only). */
enum { CLI_OPT_ARB_CACERT = 1000, CLI_OPT_ARB_CERT, CLI_OPT_ARB_KEY, CLI_OPT_ARB_AUTH };
static inline void cli_arbiter_cred(struct arbiter_creds *c, int opt, const char *v)
{
	*(opt == CLI_OPT_ARB_CACERT ? &c->cacert : opt == CLI_OPT_ARB_CERT ? &c->cert
	  : opt == CLI_OPT_ARB_KEY ? &c->key : &c->auth) = v;
}

#define CLI_FT_NO_KEY "no key given: use --key FILE (the secret both sides of the pair hold, mode 600)"

/* --beat-ms / --dead-ms: 1..3600000 ms into *out; 0, or DETVM_EXIT_USAGE after saying why. */
int cli_parse_ms(const char *cmd, const char *option, const char *arg, int *out);
/* --serial stdio|file:PATH; 0, or DETVM_EXIT_USAGE after saying why. */
int cli_check_serial(const char *cmd, const char *arg);
/* Prints "detvm COMMAND: msg" and returns DETVM_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
