/*
 * `detvm ft primary` and `detvm ft backup`: a guest recorded on the primary while its
 * backup replays the trace as it comes, in near lockstep. The primary streams its trace
 * over the FT link (ft/link.h) as `record` writes it; the backup writes what arrives into
 * its own trace and replays that in follow mode, checking every exit and checkpoint.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ft/link.h"
#include "ft/output.h"
#include "replay/record.h"
#include "logs/trace.h"
#include "tools/cli.h"
#include "vmm/exitcode.h"
#include "vmm/log.h"

static const char ft_help[] =
	"usage: detvm ft primary --peer HOST:PORT -o TRACE [link options] [run options] IMAGE\n"
	"       detvm ft backup --listen HOST:PORT --trace TRACE [link options] [--serial S] [--stats]\n"
	"\n"
	"Runs a guest on the primary while the backup replays it in near lockstep. The primary\n"
	"records as `detvm record` does (TRACE, and the disk snapshots TRACE.diskN beside it)\n"
	"and streams the trace to the backup as it is written; the backup writes what it gets\n"
	"into its own TRACE and replays it as it grows, checking every exit and checkpoint,\n"
	"and acknowledges every piece it holds. Start the backup first. Both sides need the\n"
	"image and initrd at the same paths, and the backup the disk snapshots: give it a TRACE\n"
	"in the directory of the primary's (shared storage).\n"
	"\n"
	"Link options (both sides):\n"
	"  --transport tcp|rdma[:DEVICE]  the wire: TCP, or RDMA verbs (default tcp; rdma needs\n"
	"                       a device `detvm doctor` finds)\n"
	"  --beat-ms N          heartbeat period while nothing else is sent (default 10)\n"
	"  --dead-ms N          silence after which the peer counts as dead (default 100)\n"
	"Backup only:\n"
	"  --listen HOST:PORT   where to wait for the primary\n"
	"  --trace PATH         the backup's copy of the trace\n"
	"  --accept-timeout S   give up waiting for the primary after S seconds (default: wait)\n"
	"  -s, --serial stdio|file:PATH   the replayed console (default stdio)\n"
	"  --stats, -v, -q      as for replay\n"
	"\n"
	"The output rule: the guest's console bytes, frames and disk writes leave the primary\n"
	"only once the backup holds the log that produced them (disk reads see writes that\n"
	"wait); the guest waits only when 16 MiB of output does.\n"
	"\n"
	"Not built yet: go-live on the backup when the primary dies, the arbiter,\n"
	"re-protection. Today a backup that loses its primary stops at the end of what it\n"
	"received (exit 7), and a primary that loses its backup stops its guest (exit 10).\n"
	"\n"
	"Exit status: as record (primary) and replay (backup); 2 bad options, or an RDMA wire\n"
	"with no RDMA device; 10 the peer could not be reached.\n";

/* The wire a user asked for exists here, or one line and DETVM_EXIT_USAGE. */
static int check_wire(const char *cmd, const char *wire)
{
	if (strncmp(wire, "rdma", 4))
		return 0;
	char name[64];
	if (!transport_rdma_available(name, sizeof(name)))
		return cli_usage_error(cmd, "--transport %s: no RDMA device with an IPv4 address here (see `detvm doctor`)", wire);
	return 0;
}

struct primary_side {
	struct ft_link link;
	struct ft_hold hold;
};

/* After the footer: the backup acknowledges every piece, then what the guest output last
 * goes out. */
static int finish_stream(void *ctx)
{
	struct primary_side *p = ctx;
	int r = ft_primary_finish(&p->link, 60000);
	int d = ft_hold_drain(&p->hold, 60000);
	return r ? r : d;
}

static int sink(void *ctx, const void *data, size_t len)
{
	return ft_primary_sink(&((struct primary_side *)ctx)->link, data, len);
}

static struct hostio *wrap(void *ctx, struct hostio *live)
{
	struct primary_side *p = ctx;
	ft_hold_init(&p->hold, live, &p->link);
	return &p->hold.io;
}

static int flush_recorder(void *rec)
{
	return recorder_flush(rec);
}

static void recording(void *ctx, struct recorder *rec)
{
	ft_hold_set_flush(&((struct primary_side *)ctx)->hold, flush_recorder, rec);
}

static int primary(int argc, char **argv)
{
	struct run_opts o;
	int r = cli_run_opts_parse("ft primary", ft_help, argc, argv, &o);
	if (r)
		return r < 0 ? DETVM_EXIT_OK : r;
	if ((r = check_wire("ft primary", o.wire)))
		return r;
	char err[512];
	struct transport *t;
	r = transport_connect(&t, o.peer, o.wire, 30000, err, sizeof(err));
	if (r) {
		log_error("cannot reach the backup: %s", err);
		return DETVM_EXIT_HOST;
	}
	static struct primary_side side;
	r = ft_primary_start(&side.link, t, o.beat_ms, o.dead_ms);
	if (r) {
		transport_destroy(t);
		log_error("cannot start the FT link: %s", strerror(-r));
		return DETVM_EXIT_HOST;
	}
	log_info("streaming the trace to the backup at %s over %s", o.peer, o.wire);
	const struct cli_stream stream = { sink, finish_stream, wrap, recording, &side };
	int code = cli_record_session(&o, &stream);
	if (side.link.peer == FT_PEER_DEAD)
		log_error("the backup at %s is gone: %s", o.peer, side.link.why);
	else if (!code)
		log_info("the backup holds the whole trace (%llu pieces); %llu outputs waited for it, %llu ms in all",
			 (unsigned long long)ft_primary_acked(&side.link), (unsigned long long)side.hold.outputs,
			 (unsigned long long)side.hold.waited_ms);
	ft_hold_destroy(&side.hold);
	ft_link_destroy(&side.link);
	return code;
}

struct backup_opts {
	const char *listen, *trace, *wire, *serial;
	int beat_ms, dead_ms, stats;
	double accept_timeout;
};

static int parse_backup(int argc, char **argv, struct backup_opts *b)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'L' }, { "trace", required_argument, NULL, 'o' },
		{ "transport", required_argument, NULL, 'T' }, { "beat-ms", required_argument, NULL, 'B' },
		{ "dead-ms", required_argument, NULL, 'K' }, { "serial", required_argument, NULL, 's' },
		{ "stats", no_argument, NULL, 'S' }, { "accept-timeout", required_argument, NULL, 'A' },
		{ "verbose", no_argument, NULL, 'v' }, { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	const char *cmd = "ft backup";
	memset(b, 0, sizeof(*b));
	b->wire = "tcp";
	b->serial = "stdio";
	b->accept_timeout = -1;
	optind = 1;
	opterr = 0;
	int c;
	char *end;
	while ((c = getopt_long(argc, argv, ":s:vqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'L': b->listen = optarg; break;
		case 'o': b->trace = optarg; break;
		case 'T': b->wire = optarg; break;
		case 'B':
		case 'K': {
			long v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < 1 || v > 3600000)
				return cli_usage_error(cmd, "bad --%s '%s': want milliseconds >= 1",
						       c == 'B' ? "beat-ms" : "dead-ms", optarg);
			*(c == 'B' ? &b->beat_ms : &b->dead_ms) = (int)v;
			break;
		}
		case 'A':
			b->accept_timeout = strtod(optarg, &end);
			if (*end || end == optarg || !(b->accept_timeout > 0) || b->accept_timeout > 1e6)
				return cli_usage_error(cmd, "bad --accept-timeout '%s': want seconds > 0", optarg);
			break;
		case 's':
			if (strcmp(optarg, "stdio") && strncmp(optarg, "file:", 5))
				return cli_usage_error(cmd, "bad --serial '%s': use stdio or file:PATH", optarg);
			b->serial = optarg;
			break;
		case 'S': b->stats = 1; break;
		case 'v': if (log_threshold < LOG_DEBUG) log_threshold++; break;
		case 'q': log_threshold = LOG_ERROR; break;
		case 'h':
			fputs(ft_help, stdout);
			return -1;
		case ':':
			return cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (!b->listen)
		return cli_usage_error(cmd, "no address to listen on: use --listen HOST:PORT");
	if (!b->trace)
		return cli_usage_error(cmd, "no trace file given: use --trace PATH");
	return check_wire(cmd, b->wire);
}

static int backup(int argc, char **argv)
{
	struct backup_opts b;
	int r = parse_backup(argc, argv, &b);
	if (r)
		return r < 0 ? DETVM_EXIT_OK : r;
	char err[512];
	struct transport_listener lst;
	if (transport_listen(&lst, b.listen, err, sizeof(err))) {
		log_error("%s", err);
		return DETVM_EXIT_USAGE;
	}
	log_info("waiting for the primary on %s", lst.addr);
	struct transport *t;
	r = transport_accept(&t, &lst, b.wire, b.accept_timeout < 0 ? -1 : (int)(b.accept_timeout * 1000),
			     err, sizeof(err));
	transport_listener_close(&lst);
	if (r) {
		log_error("%s", err);
		return DETVM_EXIT_HOST;
	}
	int wfd = open(b.trace, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rfd = wfd < 0 ? -1 : open(b.trace, O_RDONLY | O_CLOEXEC);
	if (rfd < 0) {
		log_error("cannot create the backup's trace '%s': %s", b.trace, strerror(errno));
		transport_destroy(t);
		if (wfd >= 0)
			close(wfd);
		return DETVM_EXIT_USAGE;
	}
	static struct ft_link link;
	r = ft_backup_start(&link, t, wfd, b.beat_ms, b.dead_ms);
	if (r) {
		log_error("cannot start the FT link: %s", strerror(-r));
		transport_destroy(t);
		close(wfd);
		close(rfd);
		return DETVM_EXIT_HOST;
	}
	log_info("the primary at %s connected over %s", t->peer, b.wire);
	struct trace_reader *reader;
	int code;
	if (trace_reader_open_follow(&reader, rfd, b.trace, ft_backup_more, &link, err, sizeof(err))) {
		log_error("%s", err);
		code = DETVM_EXIT_TRACE;
	} else {
		code = cli_replay_session(reader, b.trace, b.serial, b.stats);
	}
	if (link.peer == FT_PEER_DEAD)
		log_error("the primary is gone: %s; the backup stopped at the end of what it received "
			  "(going live is not built yet)", link.why);
	ft_link_destroy(&link);
	close(wfd);
	return code;
}

int cli_ft(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("ft", "want `detvm ft primary ...` or `detvm ft backup ...` (see --help)");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(ft_help, stdout);
		return DETVM_EXIT_OK;
	}
	if (!strcmp(argv[1], "primary"))
		return primary(argc - 1, argv + 1);
	if (!strcmp(argv[1], "backup"))
		return backup(argc - 1, argv + 1);
	return cli_usage_error("ft", "unknown role '%s': primary or backup", argv[1]);
}
