/* `detvm record` and `detvm replay`. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "replay/record.h"
#include "replay/replay.h"
#include "replay/sha256.h"
#include "tools/cli.h"
#include "tools/cli_snapshot.h"
#include "vmm/chaos.h"
#include "tools/gdb_server.h"
#include "vmm/exitcode.h"
#include "vmm/file_io.h"
#include "vmm/host_run.h"
#include "vmm/log.h"
#include "vmm/probe.h"
#include "replay/trace_header.h"

#define STR(x) #x
#define XSTR(x) STR(x)

static const char record_help[] =
	"usage: detvm record -o TRACE [run options] IMAGE\n"
	"\n"
	"Runs IMAGE live, as `detvm run` does, and writes every nondeterministic input the\n"
	"guest receives to TRACE: clock reads, timer expiries, console input, network frames,\n"
	"disk errors, every guest-caused exit and interrupt with its position, and checkpoints\n"
	"of register and memory digests. Each disk's starting content is copied beside the\n"
	"trace as TRACE.diskN; `detvm replay TRACE` needs the trace, those copies and the\n"
	"image files the trace names.\n"
	"\n"
	"options:\n"
	"  -o, --output TRACE          the trace to write (required)\n"
	"      --checkpoint-every N    a register and memory checkpoint every N exits\n"
	"                              (default " XSTR(RECORD_CHECKPOINT_EXITS) "; there is also one per guest second):\n"
	"                              a smaller N finds where a replay diverged more exactly\n"
	"      --chaos SEED            chaos recording (see `detvm run --help`): the seed and\n"
	"                              --chaos-max go into the trace header; replay needs no flag\n"
	"  and every option of `detvm run --help`.\n"
	"exit status: as `detvm run`; 10 also when the trace cannot be written.\n";

static const char replay_help[] =
	"usage: detvm replay [options] TRACE\n"
	"\n"
	"Re-executes a recording exactly, with no live input: no stdin, no network peer, no\n"
	"wall clock. The machine is rebuilt from the trace header; the image, initrd and disk\n"
	"snapshots it names are checked by SHA-256 first. Every guest exit, interrupt and\n"
	"checkpoint is compared with the trace; the first difference stops the replay with\n"
	"`diverged at exit N (rip ...): expected ..., got ...`. Delivery points the recording\n"
	"made inside long runs without exits (`step` delivery) and interrupt windows a host\n"
	"reported late are found again by hardware breakpoint or single-step and checked\n"
	"by register and memory digest; one not found within 2 s + 200x the recorded time\n"
	"(at most 10 minutes) is a divergence too; so is a guest that runs on that long\n"
	"without the exit the recording made next (22 s for one that came within 100 ms).\n"
	"\n"
	"options:\n"
	"  -s, --serial SPEC     console output: stdio (default) or file:PATH\n"
	"      --gdb [HOST]:PORT serve gdb's remote protocol there (port 0: any free one,\n"
	"                        printed; no HOST: 127.0.0.1 only; a HOST others reach, such\n"
	"                        as 0.0.0.0, lets them read and change the guest, and says so):\n"
	"                        breakpoints, watchpoints, stepping and reverse\n"
	"                        execution (reverse-stepi, reverse-continue, reverse-next);\n"
	"                        without --gdb-wait the replay runs and gdb may attach later\n"
	"      --gdb-wait        with --gdb: stop before the first instruction until gdb attaches\n"
	"      --checkpoint-mem SIZE  memory for reverse execution's checkpoints\n"
	"                        (default 25% of guest RAM)\n"
	"      --stats           print counters to stderr at the end\n"
	"  -v, --verbose         more messages;  -q, --quiet  errors only\n"
	"  -h, --help            this help\n"
	"\n"
	"exit status: the recorded guest's status when the replay matched to the end;\n"
	"6 diverged; 7 the trace is unreadable, corrupt or truncated (after replaying what it\n"
	"holds); 12 a file the trace names is missing or changed; 2 usage.\n";

int cli_record(int argc, char **argv)
{
	struct run_opts o;
	int r = cli_run_opts_parse("record", record_help, argc, argv, &o);
	if (r)
		return r < 0 ? DETVM_EXIT_OK : r;
	return cli_record_session(&o, NULL);
}

int cli_record_session(struct run_opts *op, const struct cli_stream *stream)
{
	struct run_opts o = *op;
	int r;
	cli_block_stop_signals(SIG_BLOCK);
	int out_fd = cli_open_serial(o.serial);
	if (out_fd < 0)
		return DETVM_EXIT_USAGE;

	static struct host_run host;
	static struct recorder rec;
	static struct machine m;
	static struct record_disk disks[MACHINE_MAX_DISKS];
	static struct trace_header_buf hb;
	static struct snapshot snap;
	static struct replay_setup setup;
	static struct cli_control control;
	static struct chaos chaos;
	char err[768] = "";
	int code = DETVM_EXIT_HOST, have_machine = 0, trace_open = 0;
	if (o.restore && (code = cli_restore_open(&o, &snap, &setup)))
		goto out_close;
	code = DETVM_EXIT_HOST;
	if (host_run_init(&host, out_fd, STDIN_FILENO)) {
		log_error("cannot set up host input: %s", strerror(errno));
		goto out_close;
	}
	uint64_t disk_sizes[MACHINE_MAX_DISKS];
	for (unsigned i = 0; i < o.cfg.ndisks; i++) {
		char copy[4096];
		snprintf(copy, sizeof(copy), "%s.disk%u", o.output, i);
		if (record_disk_copy(o.cfg.disks[i].path, copy, &disks[i], err, sizeof(err))) {
			log_error("%s", err);
			code = DETVM_EXIT_USAGE;
			goto out_host;
		}
	}
	code = cli_host_devices(&host, &o.cfg, disk_sizes);
	if (code)
		goto out_host;
	uint64_t every = o.checkpoint_exits ? o.checkpoint_exits : RECORD_CHECKPOINT_EXITS;
	recorder_init(&rec, stream && stream->wrap ? stream->wrap(stream->ctx, &host.io) : &host.io, every);
	o.cfg.track_state = 1;
	int honoured = cli_prepare_host(&o.cfg, o.step);
	code = machine_create(&m, &o.cfg, &rec.io, disk_sizes, err, sizeof(err));
	if (code) {
		log_error("%s", err);
		goto out_rec;
	}
	have_machine = 1;
	code = DETVM_EXIT_HOST;
	if (trace_header_build(&hb, &o.cfg, &m, disks, every, err, sizeof(err)) ||
	    (o.restore && trace_header_set_start(&hb, o.restore, err, sizeof(err)))) {
		log_error("%s", err);
		code = DETVM_EXIT_USAGE;
		goto out_rec;
	}
	if (o.chaos)
		trace_header_set_chaos(&hb, o.chaos_seed, o.chaos_max, o.chaos_pause_us);
	struct trace_writer_opts wo = { .sink = stream ? stream->sink : NULL, .sink_ctx = stream ? stream->ctx : NULL };
	r = recorder_start(&rec, o.output, &hb.hdr, &wo);
	if (r) {
		log_error("cannot write trace '%s': %s", o.output, file_strerror(r));
		goto out_rec;
	}
	trace_open = 1;
	if (stream && stream->recording)
		stream->recording(stream->ctx, &rec);
	m.obs = &rec.obs;
	cli_chaos_start(&m, &o, &chaos);
	cli_warn_cpuid(honoured);
	if (!m.kvm.tsc_exit)
		log_warn("this KVM does not let detvm see RDTSC (see `detvm doctor`, tsc-exit): a guest "
			 "that reads the TSC will not replay");
	if ((o.restore && (code = cli_restore_apply(&snap, &m, &host))) ||
	    (o.control && (code = cli_control_start(&control, o.control, &m, &o.cfg, &host))))
		goto out_rec;
	/* the kick also flushes blocks while the guest runs without exits */
	code = cli_run_machine(&m, &host, o.timeout, 1);
	cli_control_stop(&control);
out_rec:
	if (trace_open) {
		struct trace_writer_stats st;
		recorder_get_stats(&rec, &st);
		r = recorder_close(&rec);
		if (o.stats)
			fprintf(stderr, "trace: %" PRIu64 " events, %" PRIu64 " checkpoints, %" PRIu64
					" event bytes compressed to %" PRIu64 " (ratio %.2f)\n",
				st.events, rec.checkpoints, st.raw_bytes, st.compressed_bytes,
				st.compressed_bytes ? (double)st.raw_bytes / st.compressed_bytes : 0.0);
		if (!r && stream && stream->finish)
			r = stream->finish(stream->ctx);
		if (r) {
			log_error("cannot write the trace '%s'%s: %s; it holds the run up to its last complete block",
				  o.output, stream ? " or stream it to the backup" : "",
				  r <= -1000 ? trace_strerror(r) : strerror(-r));
			code = DETVM_EXIT_HOST;
		} else {
			log_info("recorded %" PRIu64 " exits into '%s'", m.stats.exits, o.output);
		}
	}
	if (o.stats && have_machine)
		machine_print_stats(&m, stderr);
	if (have_machine)
		cli_chaos_stats(&o, &chaos);
	if (have_machine)
		machine_destroy(&m);
out_host:
	host_run_destroy(&host);
out_close:
	snapshot_close(&snap);
	if (out_fd != STDOUT_FILENO)
		close(out_fd);
	return code;
}

/* A private, already-unlinked copy of a disk snapshot: replay writes must not touch it. */
static int scratch_copy(const char *src, uint64_t *size, char *err, size_t errlen)
{
	const char *tmpdir = getenv("TMPDIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/detvm-replay-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	int out = mkstemp(path);
	if (out < 0) {
		snprintf(err, errlen, "cannot create a scratch disk in %s: %s", path, strerror(errno));
		return -1;
	}
	unlink(path);
	off_t n = file_copy_sparse(src, out, err, errlen);
	if (n < 0) {
		close(out);
		return -1;
	}
	*size = (uint64_t)n & ~511ULL;
	return out;
}

struct replay_opts {
	const char *gdb;
	int gdb_wait;
	uint64_t checkpoint_mem;	/* 0: 25% of guest RAM */
};

static int parse_replay_opts(int argc, char **argv, const char **serial, int *stats, const char **trace,
			     struct replay_opts *ro)
{
	static const struct option longopts[] = {
		{ "gdb", required_argument, NULL, 'g' },    { "gdb-wait", no_argument, NULL, 'W' },
		{ "checkpoint-mem", required_argument, NULL, 'C' },
		{ "serial", required_argument, NULL, 's' }, { "stats", no_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },	    { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },	    { 0 },
	};
	*serial = "stdio";
	*stats = 0;
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":s:vqh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (cli_check_serial("replay", optarg))
				return DETVM_EXIT_USAGE;
			*serial = optarg;
			break;
		case 'S': *stats = 1; break;
		case 'g': ro->gdb = optarg; break;
		case 'W': ro->gdb_wait = 1; break;
		case 'C':
			if (cli_parse_size(optarg, &ro->checkpoint_mem) || !ro->checkpoint_mem)
				return cli_usage_error("replay", "--checkpoint-mem wants a size such as 64M, not '%s'", optarg);
			break;
		case 'v': if (log_threshold < LOG_DEBUG) log_threshold++; break;
		case 'q': log_threshold = LOG_ERROR; break;
		case 'h':
			fputs(replay_help, stdout);
			return -1;
		case ':':
			return cli_usage_error("replay", "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error("replay", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("replay", optind >= argc ? "no TRACE given" : "more than one TRACE given");
	*trace = argv[optind];
	if (ro->gdb_wait && !ro->gdb)
		return cli_usage_error("replay", "--gdb-wait needs --gdb HOST:PORT");
	return 0;
}

/* detvm replay --gdb: the stub drives the replayer's machine. */
struct gdb_wrap {
	struct gdb_server server;
	struct replayer *rp;
	uint64_t budget;
};

static int gdb_wrap_replayer(void *ctx, struct replayer *rp, struct hostio **io, struct run_observer **obs)
{
	((struct gdb_wrap *)ctx)->rp = rp;
	return 0;
}

static void gdb_wrap_created(void *ctx, struct machine *m)
{
	struct gdb_wrap *g = ctx;
	g->server.cps.budget = g->budget ? g->budget : m->mem.size / 4;
	gdb_server_attach(&g->server, m, g->rp);
}

static void gdb_wrap_ended(void *ctx, struct machine *m, int code)
{
	gdb_server_finish(&((struct gdb_wrap *)ctx)->server, code);
}

int cli_replay(int argc, char **argv)
{
	const char *serial = NULL, *path = NULL;
	int stats;
	struct replay_opts ro = { 0 };
	int r = parse_replay_opts(argc, argv, &serial, &stats, &path, &ro);
	if (r)
		return r < 0 ? DETVM_EXIT_OK : r;
	char err[768] = "";
	static struct gdb_wrap g;
	if (ro.gdb) {	/* a bad --gdb is a usage error, before the trace is looked at */
		g.budget = ro.checkpoint_mem;
		int code = gdb_server_init(&g.server, ro.gdb, ro.gdb_wait, 0);
		if (code)
			return code;
	}
	struct trace_reader *reader;
	if (trace_reader_open(&reader, path, err, sizeof(err)) < 0) {
		log_error("%s", err);
		if (ro.gdb)
			gdb_server_destroy(&g.server);
		return DETVM_EXIT_TRACE;
	}
	if (!ro.gdb)
		return cli_replay_session(reader, path, serial, stats, NULL);
	int code;
	const struct cli_replay_wrap w = { .wrap = gdb_wrap_replayer, .created = gdb_wrap_created, .ctx = &g, .ended = gdb_wrap_ended };
	code = cli_replay_session(reader, path, serial, stats, &w);
	gdb_server_destroy(&g.server);
	return code;
}

int cli_replay_session(struct trace_reader *reader, const char *path, const char *serial, int stats,
		       const struct cli_replay_wrap *wrap)
{
	char err[768] = "";
	static struct replay_setup setup;
	static struct replayer rp;
	static struct machine m;
	int code = trace_header_to_setup(trace_reader_header(reader), path, wrap && wrap->restore ? wrap->shared : NULL,
					 &setup, err, sizeof(err));
	if (code) {
		log_error("%s", err);
		trace_reader_close(reader);
		return code;
	}
	int out_fd = cli_open_serial(serial);
	if (out_fd < 0) {
		trace_reader_close(reader);
		return DETVM_EXIT_USAGE;
	}
	replayer_init(&rp, reader, out_fd);
	uint64_t disk_sizes[MACHINE_MAX_DISKS];
	for (unsigned i = 0; i < setup.cfg.ndisks; i++) {
		int fd = scratch_copy(setup.disk_snapshot[i], &disk_sizes[i], err, sizeof(err));
		if (fd < 0) {
			log_error("%s", err);
			code = DETVM_EXIT_HOST;
			goto out;
		}
		replayer_add_disk(&rp, fd, disk_sizes[i]);
	}
	struct hostio *io = &rp.io;
	struct run_observer *obs = &rp.obs;
	if (wrap && (code = wrap->wrap(wrap->ctx, &rp, &io, &obs)))
		goto out;
	cli_prepare_replay(&setup.cfg);
	code = machine_create(&m, &setup.cfg, io, disk_sizes, err, sizeof(err));
	if (code) {
		log_error("replay: %s", err);
		goto out;
	}
	if (wrap)
		wrap->created(wrap->ctx, &m);
	if (setup.start_from_link) {	/* only with wrap->restore (trace_header_to_setup) */
		code = wrap->restore(wrap->ctx, &m);
		if (code) {
			machine_destroy(&m);
			goto out;
		}
	} else if (setup.start_state[0]) {
		static struct snapshot snap;
		int r = snapshot_open(&snap, setup.start_state, err, sizeof(err));
		if (r) {
			log_error("replay: %s", err);
			code = r;
		} else {
			code = cli_restore_apply(&snap, &m, NULL);
			snapshot_close(&snap);
		}
		if (code) {
			machine_destroy(&m);
			goto out;
		}
	}
	m.stop = &cli_stop_flag;
	m.obs = obs;
	if (setup.chaos) {
		replayer_follow_chaos(&rp, setup.chaos_max);
		m.gate = &rp.gate;
		log_info("a chaos recording (seed %" PRIu64 ", delays of 0..%" PRIu32 " exits): interrupts go in where the trace has them",
			 setup.chaos_seed, setup.chaos_max);
	}
	cli_install_signals(0);
	/* while replay looks for a landmark the guest may run freely: the kick lets the
	 * loop check how long it has been looking */
	timer_t kick;
	int kick_on = !cli_start_kick(&kick);
	code = machine_run(&m);
	if (kick_on)
		timer_delete(kick);
	if (wrap && wrap->ended)
		wrap->ended(wrap->ctx, &m, code);
	if (rp.ended)
		log_info("replay identical: %" PRIu64 " exits, %" PRIu64 " events, %" PRIu64
			 " checkpoints matched; the guest ended with status %d", m.stats.exits, rp.events,
			 rp.checkpoints, rp.end_code);
	if (stats)
		machine_print_stats(&m, stderr);
	machine_destroy(&m);
out:
	replayer_destroy(&rp);
	if (out_fd != STDOUT_FILENO)
		close(out_fd);
	return code;
}
