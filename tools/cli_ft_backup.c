/*
 * `detvm ft backup`: takes the primary's trace as it comes, replays it in near lockstep,
 * and when the primary dies goes live at the end of the log (ft/golive.h) once it has
 * won the arbiter.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
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
#include "tools/dump_priv.h"
#include "vmm/exitcode.h"
#include "vmm/file_io.h"
#include "vmm/log.h"
#include "vmm/mono_clock.h"

/* What a backup takes from a primary unless told otherwise (--max-mem): guest RAM from
 * the wire is memory this host maps. */
#define BACKUP_MEM_MAX_DEFAULT (4ULL << 30)

struct backup_opts {
	const char *listen, *trace, *wire, *serial, *arbiter, *console_seq, *net, *control, *protect, *key_file;
	struct arbiter_creds arb_creds;
	int beat_ms, dead_ms, stats;
	double accept_timeout;
	struct machine_config shared;	/* --disk: the shared disks, never the header's paths */
	char shared_real[MACHINE_MAX_DISKS][PATH_MAX];
	uint64_t max_mem, max_trace;
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
		{ "control", required_argument, NULL, 'C' }, { "protect", required_argument, NULL, 'P' },
		{ "disk", required_argument, NULL, 'd' },    { "max-mem", required_argument, NULL, 'M' },
		{ "max-trace", required_argument, NULL, 'X' }, { "key", required_argument, NULL, 'k' },
		{ "arbiter-cacert", required_argument, NULL, CLI_OPT_ARB_CACERT },
		{ "arbiter-cert", required_argument, NULL, CLI_OPT_ARB_CERT },
		{ "arbiter-key", required_argument, NULL, CLI_OPT_ARB_KEY },
		{ "arbiter-auth", required_argument, NULL, CLI_OPT_ARB_AUTH }, { 0 },
	};
	const char *cmd = "ft backup";
	memset(b, 0, sizeof(*b));
	b->wire = "tcp";
	b->serial = "stdio";
	b->accept_timeout = -1;
	b->max_mem = BACKUP_MEM_MAX_DEFAULT;
	b->max_trace = FT_TRACE_MAX_DEFAULT;
	optind = 1;
	opterr = 0;
	int c;
	char *end;
	while ((c = getopt_long(argc, argv, ":s:d:vqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'L': b->listen = optarg; break;
		case 'o': b->trace = optarg; break;
		case 'T': b->wire = optarg; break;
		case 'R': b->arbiter = optarg; break;
		case 'Q': b->console_seq = optarg; break;
		case 'n': b->net = optarg; break;
		case 'C': b->control = optarg; break;
		case 'P': b->protect = optarg; break;
		case 'k': b->key_file = optarg; break;
		case CLI_OPT_ARB_CACERT: case CLI_OPT_ARB_CERT: case CLI_OPT_ARB_KEY: case CLI_OPT_ARB_AUTH:
			cli_arbiter_cred(&b->arb_creds, c, optarg);
			break;
		case 'd':
			if (cli_parse_disk(cmd, &b->shared, optarg))
				return DETVM_EXIT_USAGE;
			break;
		case 'M':
			if (cli_parse_size(optarg, &b->max_mem) || machine_mem_size_problem(b->max_mem))
				return cli_usage_error(cmd, "bad --max-mem '%s': want 16M..64G in 4K units", optarg);
			break;
		case 'X':
			if (cli_parse_size(optarg, &b->max_trace) || !b->max_trace)
				return cli_usage_error(cmd, "bad --max-trace '%s': want a size such as 64G", optarg);
			break;
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
	if (!b->key_file)
		return cli_usage_error(cmd, CLI_FT_NO_KEY);
	for (unsigned i = 0; i < b->shared.ndisks; i++)
		if (!realpath(b->shared.disks[i].path, b->shared_real[i]))
			return cli_usage_error(cmd, "cannot resolve --disk '%s': %s", b->shared.disks[i].path,
					       strerror(errno));
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
	uint8_t key[TRANSPORT_KEY_BYTES];	/* the pair's (--key) */
	struct ft_fence fence;		/* the shared disks', with an arbiter */
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
	if (arbiter_decide(s->arb, s->gen, then)) {
		s->fence.gen = s->gen + 1;	/* it writes as the generation it won */
		return 1;
	}
	s->halted = 1;
	return 0;
}

/* The shared disks (this backup's --disk, checked against the header) and the NICs
 * (its --net) to open at go-live. */
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
		const struct machine_disk *d = &s->b->shared.disks[i];
		int r = host_run_add_disk(&s->live, d->path, d->read_only, err, sizeof(err));
		if (r < 0) {
			log_error("the shared disk: %s", err);
			return DETVM_EXIT_USAGE;
		}
		if (s->live.disk_size[r] != rp->disk_size[i]) {
			log_error("shared disk '%s' has %llu bytes, the primary's snapshot of it %llu: not the same disk",
				  d->path, (unsigned long long)s->live.disk_size[r],
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
	s->g.authority = s->arb;
	s->g.fence = s->fence.n ? &s->fence : NULL;
	for (size_t i = 0; i < c->n_nics && i < FT_GOLIVE_MAX_NICS; i++)
		s->g.nic_spec[s->g.nnics++] = s->b->net;	/* given: check_header */
	*io = &s->g.io;
	*obs = &s->g.obs;
	return 0;
}

/* A path from the header, quoted and escaped: it came from the peer, so it may hold
 * anything, newlines included, and the refusal must stay one line. */
static const char *quoted(const char *p, char *buf, size_t len)
{
	FILE *f = fmemopen(buf, len, "w");
	if (!f)
		return "(a path)";
	dump_put_quoted(f, (const uint8_t *)(p ? p : ""), p ? strlen(p) : 0, 200);
	fclose(f);
	buf[len - 1] = 0;
	return buf;
}

/* The header names host resources (disk paths, NICs) and sizes: the backup takes them
 * only as they agree with its own command line. 0, or why not in err. */
static int check_header(const struct backup_opts *b, const Detvm__TraceHeader *h, char *err, size_t errlen)
{
	const Detvm__VmConfig *c = h->config;
	char q[256];
	if (!c) {
		snprintf(err, errlen, "its trace header has no VM configuration");
		return -1;
	}
	if (c->n_disks != b->shared.ndisks) {
		snprintf(err, errlen, "its VM has %zu disks, this backup was given %u (--disk)", c->n_disks,
			 b->shared.ndisks);
		return -1;
	}
	for (unsigned i = 0; i < b->shared.ndisks; i++) {
		const Detvm__DiskConfig *d = c->disks[i];
		if (!d->path || strcmp(d->path, b->shared_real[i])) {
			snprintf(err, errlen, "its disk %u is %s, this backup's --disk is '%s': not this pair's disk", i,
				 quoted(d->path, q, sizeof(q)), b->shared_real[i]);
			return -1;
		}
		if (!d->read_only != !b->shared.disks[i].read_only) {
			snprintf(err, errlen, "its disk %u is %s, this backup's --disk %s", i,
				 d->read_only ? "read-only" : "writable", b->shared.disks[i].read_only ? "ro" : "rw");
			return -1;
		}
	}
	if (c->n_nics && !b->net) {
		snprintf(err, errlen, "its VM has %zu NICs: give this backup --net SPEC (the backend it opens on going live)",
			 c->n_nics);
		return -1;
	}
	if (c->mem_bytes > b->max_mem) {
		snprintf(err, errlen, "its VM has %" PRIu64 " MiB of memory, more than this backup takes (--max-mem %" PRIu64 "M)",
			 c->mem_bytes >> 20, b->max_mem >> 20);
		return -1;
	}
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
	s->protect.side.fence = s->fence.n ? &s->fence : NULL;
	memcpy(s->protect.side.key, s->key, sizeof(s->key));
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

/* One primary on the link, its trace header read and agreed to: 0 with *wfd (the trace
 * being written) and *reader (following it), or an exit code after saying why. Whoever
 * is refused before that -- no hello in time, not a detvm peer, a header that disagrees
 * with this backup's command line -- is dropped in one line, and the backup waits for
 * the next (within --accept-timeout). A peer that breaks the protocol ends it (7). */
static int form_pair(struct backup_side *s, struct transport_listener *lst, int *wfd, struct trace_reader **reader)
{
	const struct backup_opts *b = s->b;
	uint64_t until = mono_clock_ns() + (uint64_t)(b->accept_timeout * 1e9);
	int refused = DETVM_EXIT_HOST;	/* when no primary comes in time: why the last one was not taken */
	char err[512];
	for (;;) {
		int64_t left_ms = (int64_t)(until - mono_clock_ns()) / 1000000;
		struct transport *t;
		struct transport_terms terms = cli_ft_terms(s->key, b->beat_ms, b->dead_ms);
		int r = transport_accept(&t, lst, b->wire, &terms,
					 b->accept_timeout < 0 ? -1 : left_ms > 0 ? (int)left_ms : 0, err, sizeof(err));
		if (r == -EPROTO) {
			log_error("%s: dropped, waiting for the primary", err);
			refused = DETVM_EXIT_HOST;
			continue;
		}
		if (r) {
			log_error("%s", err);
			return refused;
		}
		/* the generation this pair contends for: read once the pair has formed */
		if (s->arb && s->arb->ops->generation(s->arb, &s->gen, err, sizeof(err))) {
			log_error("%s; halting", err);
			transport_destroy(t);
			return DETVM_EXIT_FT_HALTED;
		}
		*wfd = file_create_private(b->trace);
		int rfd = *wfd < 0 ? *wfd : open(b->trace, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (rfd < 0) {
			log_error("cannot create the backup's trace '%s': %s", b->trace,
				  file_strerror(rfd == *wfd ? *wfd : -errno));
			transport_destroy(t);
			if (*wfd >= 0)
				close(*wfd);
			return DETVM_EXIT_USAGE;
		}
		/* a state comes only from the live VM this backup asked (--protect) */
		s->link.on_state = b->protect ? ft_incoming_take : NULL;
		s->link.state_ctx = &s->incoming;
		s->link.fd_max = b->max_trace;
		r = ft_backup_start(&s->link, t, *wfd, b->beat_ms, b->dead_ms);
		if (r) {
			log_error("cannot start the FT link: %s", strerror(-r));
			transport_destroy(t);
			close(*wfd);
			close(rfd);
			return DETVM_EXIT_HOST;
		}
		log_info("the primary at %s connected over %s", t->peer, b->wire);
		if (trace_reader_open_follow(reader, rfd, b->trace, ft_backup_more, &s->link, err, sizeof(err))) {
			if (s->link.peer == FT_PEER_DEAD)	/* the cause first, then what it left */
				log_error("the primary is gone before its trace header was complete: %s", s->link.why);
			log_error("%s", err);
			ft_link_destroy(&s->link);
			close(*wfd);
			return DETVM_EXIT_TRACE;
		}
		char why[600];
		if (!check_header(b, trace_reader_header(*reader), why, sizeof(why)))
			return 0;
		log_error("refused the primary at %s: %s; waiting for another", t->peer, why);
		trace_reader_close(*reader);
		ft_link_destroy(&s->link);
		close(*wfd);
		ft_incoming_destroy(&s->incoming);
		refused = DETVM_EXIT_MISMATCH;
	}
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
	s.incoming.mem_max = b.max_mem;
	if (cli_ft_load_key(s.key, b.key_file))
		return DETVM_EXIT_USAGE;
	uint64_t gen;
	if (b.arbiter && (r = cli_ft_arbiter_open(&s.arb, b.arbiter, "backup", &b.arb_creds, &gen)))
		return r;
	if (s.arb && (r = cli_ft_fence_open(&s.fence, &b.shared, 0))) {
		arbiter_close(s.arb);
		return r;
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
	struct trace_reader *reader;
	int wfd = -1;
	code = form_pair(&s, &lst, &wfd, &reader);
	transport_listener_close(&lst);
	if (!code) {
		s.hdr = trace_reader_header(reader);
		const struct cli_replay_wrap w = { .wrap = wrap, .created = created, .restore = restore, .ctx = &s,
						   .shared = &b.shared };
		code = cli_replay_session(reader, b.trace, b.serial, b.stats, &w);
		cli_control_stop(&s.control);
		code = cli_protect_finish(&s.protect, code);
		if (!s.g.live_now && !code)	/* the whole trace replayed: the primary says BYE */
			ft_backup_wait_bye(&s.link, 10000);
		if (s.halted || s.g.fenced)
			code = DETVM_EXIT_FT_HALTED;
		else if (s.g.live_now)
			log_info("the guest ran on live from exit %llu and ended with status %d",
				 (unsigned long long)s.g.position, code);
		else if (s.link.peer == FT_PEER_DEAD && !code)
			log_error("the primary is gone: %s", s.link.why);
		if (s.link.synced)	/* pieces that held a disk flush */
			log_info("%llu pieces with a disk flush in them were made durable before their ACK",
				 (unsigned long long)s.link.synced);
		ft_link_destroy(&s.link);
		close(wfd);
	}
out:
	ft_incoming_destroy(&s.incoming);
	if (s.golive_made)
		ft_golive_destroy(&s.g);
	if (s.live_made)
		host_run_destroy(&s.live);
	ft_fence_close(&s.fence);
	arbiter_close(s.arb);
	if (s.seq_fd >= 0)
		close(s.seq_fd);
	return code;
}
