/*
 * `detvm ft backup`: takes the primary's trace as it comes, replays it in near lockstep,
 * and when the primary dies goes live at the end of the log (ft/golive.h) once it has
 * won the arbiter.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ft/arbiter.h"
#include "ft/golive.h"
#include "ft/link.h"
#include "logs/trace.h"
#include "tools/cli.h"
#include "tools/cli_ft_protect.h"
#include "vmm/exitcode.h"
#include "vmm/file_io.h"
#include "vmm/log.h"

struct backup_opts {
	const char *listen, *trace, *wire, *serial, *arbiter, *console_seq, *net, *control, *protect;
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
		{ "arbiter", required_argument, NULL, 'R' }, { "console-seq", required_argument, NULL, 'Q' },
		{ "net", required_argument, NULL, 'n' }, { "help", no_argument, NULL, 'h' },
		{ "control", required_argument, NULL, 'C' }, { "protect", required_argument, NULL, 'P' }, { 0 },
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
		case 'R': b->arbiter = optarg; break;
		case 'Q': b->console_seq = optarg; break;
		case 'n': b->net = optarg; break;
		case 'C': b->control = optarg; break;
		case 'P': b->protect = optarg; break;
		case 'B':
			if (cli_parse_ms(cmd, "beat-ms", optarg, &b->beat_ms))
				return DETVM_EXIT_USAGE;
			break;
		case 'K':
			if (cli_parse_ms(cmd, "dead-ms", optarg, &b->dead_ms))
				return DETVM_EXIT_USAGE;
			break;
		case 'A':
			b->accept_timeout = strtod(optarg, &end);
			if (*end || end == optarg || !(b->accept_timeout > 0) || b->accept_timeout > 1e6)
				return cli_usage_error(cmd, "bad --accept-timeout '%s': want seconds > 0", optarg);
			break;
		case 's':
			if (cli_check_serial(cmd, optarg))
				return DETVM_EXIT_USAGE;
			b->serial = optarg;
			break;
		case 'S': b->stats = 1; break;
		case 'v': if (log_threshold < LOG_DEBUG) log_threshold++; break;
		case 'q': log_threshold = LOG_ERROR; break;
		case 'h':
			fputs(cli_ft_help, stdout);
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
	return cli_ft_check_wire(cmd, b->wire);
}

struct backup_side {
	struct ft_link link;
	const struct backup_opts *b;
	const Detvm__TraceHeader *hdr;
	struct arbiter *arb;
	uint64_t gen;
	struct host_run live;
	int live_made;
	struct ft_golive g;
	int golive_made;
	int seq_fd;
	int halted;		/* lost the arbiter or could not reach it */
	struct ft_incoming incoming;	/* the state a re-protected primary sends first */
	struct cli_control control;	/* --control: re-protection once live */
	struct cli_protect protect;
};

/* The log ended: go live only if the primary died (not one that sent garbage, not one
 * that finished) and this side won the arbiter. */
static int may_go_live(void *ctx, uint64_t position)
{
	struct backup_side *s = ctx;
	if (s->link.peer != FT_PEER_DEAD)
		return 0;
	log_error("the primary is gone: %s", s->link.why);
	if (s->link.fault) {
		log_error("not going live: a primary that breaks the protocol leaves nothing to trust");
		return 0;
	}
	if (!s->arb) {
		log_error("no --arbiter: this backup does not go live; it stopped at exit %llu, the end of what it received",
			  (unsigned long long)position);
		return 0;
	}
	char then[64];
	snprintf(then, sizeof(then), "going live at exit %llu", (unsigned long long)position);
	if (arbiter_decide(s->arb, s->gen, then))
		return 1;
	s->halted = 1;
	return 0;
}

/* The shared disks (the primary's, named in the header) and the NICs to open at go-live. */
static int wrap(void *ctx, struct replayer *rp, struct hostio **io, struct run_observer **obs)
{
	struct backup_side *s = ctx;
	const Detvm__VmConfig *c = s->hdr->config;
	int from_link = c->start_state && c->start_state->path && !strcmp(c->start_state->path, TRACE_START_FT_LINK);
	if (from_link != (s->incoming.mem != NULL)) {
		log_error("%s", from_link ? "the trace starts from a state the primary never sent"
					  : "the primary sent a state, then a trace that does not start from it");
		return DETVM_EXIT_TRACE;
	}
	if (host_run_init(&s->live, rp->out_fd, -1)) {
		log_error("cannot set up the live host: %s", strerror(errno));
		return DETVM_EXIT_HOST;
	}
	s->live_made = 1;
	char err[512];
	for (size_t i = 0; i < c->n_disks && i < rp->ndisks; i++) {
		int r = host_run_add_disk(&s->live, c->disks[i]->path, c->disks[i]->read_only, err, sizeof(err));
		if (r < 0) {
			log_error("the shared disk: %s", err);
			return DETVM_EXIT_USAGE;
		}
		if (s->live.disk_size[r] != rp->disk_size[i]) {
			log_error("shared disk '%s' has %llu bytes, the primary's snapshot of it %llu: not the same disk",
				  c->disks[i]->path, (unsigned long long)s->live.disk_size[r],
				  (unsigned long long)rp->disk_size[i]);
			return DETVM_EXIT_MISMATCH;
		}
	}
	int r = ft_golive_init(&s->g, rp, &s->live, s->seq_fd, may_go_live, s);
	if (r) {
		log_error("cannot prepare going live: %s", strerror(-r));
		return DETVM_EXIT_HOST;
	}
	s->golive_made = 1;
	s->g.released = &s->link.mark;
	for (size_t i = 0; i < c->n_nics && i < FT_GOLIVE_MAX_NICS; i++)
		s->g.nic_spec[s->g.nnics++] = s->b->net ? s->b->net : c->nics[i]->backend;
	*io = &s->g.io;
	*obs = &s->g.obs;
	return 0;
}

static void created(void *ctx, struct machine *m)
{
	struct backup_side *s = ctx;
	ft_golive_set_machine(&s->g, m);
	if (!s->b->control)
		return;
	s->protect = (struct cli_protect){ .g = &s->g, .hdr = s->hdr, .m = m, .trace_base = s->b->trace,
					   .beat_ms = s->b->beat_ms, .dead_ms = s->b->dead_ms };
	s->protect.side.arb = s->arb;
	s->control.protect = cli_protect_request;
	s->control.protect_ctx = &s->protect;
	if (cli_control_start(&s->control, s->b->control, m, NULL, &s->live))
		log_warn("going on without the control socket: this VM cannot be re-protected");
}

/* A re-protected primary's trace starts from the state it sent first. */
static int restore(void *ctx, struct machine *m)
{
	struct backup_side *s = ctx;
	struct machine_saved saved;
	char err[512];
	if (ft_incoming_apply(&s->incoming, m, &saved, err, sizeof(err))) {
		log_error("cannot take the primary's state: %s", err);
		return DETVM_EXIT_TRACE;
	}
	ft_golive_restored(&s->g, saved.clock_ns, s->incoming.console_off);
	machine_state_rearm(m, &saved);
	/* the private disk copies are made: what the primary holds back may go now */
	ft_backup_open_acks(&s->link);
	uint64_t pages = 0;
	for (uint64_t w = 0; w < (s->incoming.pages + 63) / 64; w++)
		pages += (uint64_t)__builtin_popcountll(s->incoming.have[w]);
	log_info("took the primary's running state at exit %llu (%llu pages)", (unsigned long long)saved.exits,
		 (unsigned long long)pages);
	ft_incoming_destroy(&s->incoming);
	return 0;
}

int cli_ft_backup(int argc, char **argv)
{
	struct backup_opts b;
	int r = parse_backup(argc, argv, &b);
	if (r)
		return r < 0 ? DETVM_EXIT_OK : r;
	char err[512];
	static struct backup_side s;
	s.b = &b;
	s.seq_fd = -1;
	if (b.arbiter && arbiter_open(&s.arb, b.arbiter, "backup", err, sizeof(err))) {
		log_error("%s", err);
		return DETVM_EXIT_USAGE;
	}
	if (cli_ft_open_seq(b.console_seq, &s.seq_fd)) {
		arbiter_close(s.arb);
		return DETVM_EXIT_USAGE;
	}
	struct transport_listener lst;
	int code = DETVM_EXIT_HOST;
	if (transport_listen(&lst, b.listen, err, sizeof(err))) {
		log_error("%s", err);
		code = DETVM_EXIT_USAGE;
		goto out;
	}
	log_info("waiting for the primary on %s", lst.addr);
	if (b.protect && (code = cli_protect_ask(b.protect, lst.addr, b.wire, b.beat_ms, b.dead_ms))) {
		transport_listener_close(&lst);
		goto out;
	}
	code = DETVM_EXIT_HOST;
	struct transport *t;
	r = transport_accept(&t, &lst, b.wire, b.accept_timeout < 0 ? -1 : (int)(b.accept_timeout * 1000),
			     err, sizeof(err));
	transport_listener_close(&lst);
	if (r) {
		log_error("%s", err);
		goto out;
	}
	/* the generation this pair contends for: read once the pair has formed */
	if (s.arb && s.arb->ops->generation(s.arb, &s.gen, err, sizeof(err))) {
		log_error("%s", err);
		transport_destroy(t);
		goto out;
	}
	int wfd = file_create_private(b.trace);
	int rfd = wfd < 0 ? wfd : open(b.trace, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (rfd < 0) {
		log_error("cannot create the backup's trace '%s': %s", b.trace, file_strerror(rfd == wfd ? wfd : -errno));
		transport_destroy(t);
		if (wfd >= 0)
			close(wfd);
		code = DETVM_EXIT_USAGE;
		goto out;
	}
	s.link.on_state = ft_incoming_take;
	s.link.state_ctx = &s.incoming;
	r = ft_backup_start(&s.link, t, wfd, b.beat_ms, b.dead_ms);
	if (r) {
		log_error("cannot start the FT link: %s", strerror(-r));
		transport_destroy(t);
		close(wfd);
		close(rfd);
		goto out;
	}
	log_info("the primary at %s connected over %s", t->peer, b.wire);
	struct trace_reader *reader;
	if (trace_reader_open_follow(&reader, rfd, b.trace, ft_backup_more, &s.link, err, sizeof(err))) {
		if (s.link.peer == FT_PEER_DEAD)	/* the cause first, then what it left */
			log_error("the primary is gone before its trace header was complete: %s", s.link.why);
		log_error("%s", err);
		code = DETVM_EXIT_TRACE;
	} else {
		s.hdr = trace_reader_header(reader);
		const struct cli_replay_wrap w = { .wrap = wrap, .created = created, .restore = restore, .ctx = &s };
		code = cli_replay_session(reader, b.trace, b.serial, b.stats, &w);
		cli_control_stop(&s.control);
		code = cli_protect_finish(&s.protect, code);
		if (!s.g.live_now && !code)	/* the whole trace replayed: the primary says BYE */
			ft_backup_wait_bye(&s.link, 10000);
		if (s.halted)
			code = DETVM_EXIT_FT_HALTED;
		else if (s.g.live_now)
			log_info("the guest ran on live from exit %llu and ended with status %d",
				 (unsigned long long)s.g.position, code);
		else if (s.link.peer == FT_PEER_DEAD && !code)
			log_error("the primary is gone: %s", s.link.why);
	}
	ft_link_destroy(&s.link);
	close(wfd);
out:
	ft_incoming_destroy(&s.incoming);
	if (s.golive_made)
		ft_golive_destroy(&s.g);
	if (s.live_made)
		host_run_destroy(&s.live);
	arbiter_close(s.arb);
	if (s.seq_fd >= 0)
		close(s.seq_fd);
	return code;
}
