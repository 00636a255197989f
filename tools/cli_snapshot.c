/* `detvm snapshot`, the control socket it talks to, and `--restore`. */
#include "tools/cli_snapshot.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tools/local_sock.h"
#include "vmm/exitcode.h"
#include "vmm/file_io.h"
#include "vmm/host_run.h"
#include "vmm/log.h"

static const char snapshot_help[] =
	"usage: detvm snapshot --control PATH -o SNAPSHOT\n"
	"\n"
	"Saves the state of a running VM -- one started by `detvm run` or `detvm record` with\n"
	"--control PATH -- into SNAPSHOT: its configuration, vCPU, every device, guest memory\n"
	"(pages never written are not stored; the rest LZ4-compressed) and a copy of each disk\n"
	"beside it (SNAPSHOT.disk0, ...). The VM stops at its next delivery point (between two\n"
	"exits) for as long as the save takes, then runs on. Resume with\n"
	"`detvm run --restore SNAPSHOT` (or record from it: `detvm record --restore SNAPSHOT`).\n"
	"\n"
	"options:\n"
	"  -C, --control PATH   the VM's control socket\n"
	"  -o, --output PATH    the snapshot file to write (the VM writes it, so a path it can\n"
	"                       reach; relative paths are taken from this directory)\n"
	"  -h, --help           this help\n"
	"\n"
	"exit status: 0 saved; 2 usage; 10 the VM could not be reached or could not save.\n";

/* On the vCPU thread, at a delivery point: the machine is whole. */
static void serve(void *ctx, struct machine *m)
{
	struct cli_control *c = ctx;
	c->work(c, m);
}

void cli_control_done(struct cli_control *c, const char *reply)
{
	pthread_mutex_lock(&c->lock);
	snprintf(c->reply, sizeof(c->reply), "%s", reply);
	__atomic_store_n(&c->req.pending, 0, __ATOMIC_RELEASE);
	pthread_cond_signal(&c->done);
	pthread_mutex_unlock(&c->lock);
}

void cli_control_run(struct cli_control *c, void (*work)(struct cli_control *, struct machine *), char *reply,
		     size_t len)
{
	pthread_mutex_lock(&c->lock);
	c->reply[0] = 0;
	c->work = work;
	__atomic_store_n(&c->req.pending, 1, __ATOMIC_RELEASE);
	/* out of KVM_RUN or a halt's wait, to the next delivery point */
	pthread_kill(c->vcpu, SIGRTMIN);
	while (!c->reply[0] && c->running)
		pthread_cond_wait(&c->done, &c->lock);
	snprintf(reply, len, "%s", c->reply[0] ? c->reply : "error the VM ended before it was done\n");
	pthread_mutex_unlock(&c->lock);
}

static void snapshot_work(struct cli_control *c, struct machine *m)
{
	struct snapshot_info info;
	char err[768] = "", reply[1024];
	uint64_t clock = hostio_clock_ns(&c->live->io);
	int r = snapshot_save(c->args, m, c->cfg, clock, &info, err, sizeof(err));
	if (r)
		snprintf(reply, sizeof(reply), "error %s\n", err);
	else
		snprintf(reply, sizeof(reply), "ok %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", info.exits, info.bytes, info.pages);
	if (!r)
		log_info("snapshot at exit %" PRIu64 " written to '%s' (%" PRIu64 " bytes, %" PRIu64 " pages)",
			 info.exits, c->args, info.bytes, info.pages);
	cli_control_done(c, reply);
}

/* One request on a connection: "snapshot PATH\n" or "protect ARGS\n". */
static void handle(struct cli_control *c, int fd)
{
	char line[4200], reply[1100];
	ssize_t n = local_sock_read_line(fd, line, sizeof(line), LOCAL_SOCK_REQUEST_MS);
	if (n == -ETIMEDOUT) {
		log_info("control socket: dropped a client that sent no request within %d ms", LOCAL_SOCK_REQUEST_MS);
		return;
	}
	if (n < 0)
		line[0] = 0;
	snprintf(reply, sizeof(reply), "error unknown request (want: snapshot PATH, or protect HOST:PORT ...)\n");
	if (!strncmp(line, "snapshot ", 9) && line[9]) {
		snprintf(c->args, sizeof(c->args), "%s", line + 9);
		if (c->cfg && c->live)
			cli_control_run(c, snapshot_work, reply, sizeof(reply));
		else
			snprintf(reply, sizeof(reply), "error this VM does not take snapshots (run and record VMs do)\n");
	} else if (!strncmp(line, "protect ", 8)) {
		if (c->protect)
			c->protect(c->protect_ctx, c, line + 8, reply, sizeof(reply));
		else
			snprintf(reply, sizeof(reply), "error this VM cannot be protected (an FT backup that went live can)\n");
	}
	file_write_full(fd, reply, strlen(reply));
}

static void *control_thread(void *arg)
{
	struct cli_control *c = arg;
	for (;;) {
		int fd = accept(c->listen_fd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;	/* the socket was shut down: the VM ends */
		}
		uid_t uid;
		if (local_sock_peer_ok(fd, &uid))
			handle(c, fd);
		else
			log_warn("control socket: refused a connection from uid %d (only uid %d, which runs this VM, and root may use it)",
				 (int)uid, (int)geteuid());
		close(fd);
	}
}

int cli_control_start(struct cli_control *c, const char *path, struct machine *m, const struct machine_config *cfg,
		      struct host_run *live)
{
	struct cli_control keep = *c;	/* what the caller set: the protect handler */
	memset(c, 0, sizeof(*c));
	c->protect = keep.protect;
	c->protect_ctx = keep.protect_ctx;
	char err[600];
	c->listen_fd = local_sock_listen(path, err, sizeof(err));
	if (c->listen_fd < 0) {
		log_error("%s", err);
		return DETVM_EXIT_USAGE;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->m = m;
	c->cfg = cfg;
	c->live = live;
	c->vcpu = pthread_self();
	c->req = (struct machine_request){ .fn = serve, .ctx = c };
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->done, NULL);
	c->running = 1;
	if (pthread_create(&c->thread, NULL, control_thread, c)) {
		log_error("cannot start the control thread");
		close(c->listen_fd);
		unlink(path);
		return DETVM_EXIT_HOST;
	}
	m->request = &c->req;
	return 0;
}

void cli_control_stop(struct cli_control *c)
{
	if (!c->running)
		return;
	pthread_mutex_lock(&c->lock);
	c->running = 0;
	pthread_cond_broadcast(&c->done);
	pthread_mutex_unlock(&c->lock);
	shutdown(c->listen_fd, SHUT_RDWR);
	pthread_join(c->thread, NULL);
	close(c->listen_fd);
	unlink(c->path);
	c->m->request = NULL;
}

int cli_restore_open(struct run_opts *o, struct snapshot *s, struct replay_setup *setup)
{
	char err[768] = "";
	int code = snapshot_open(s, o->restore, err, sizeof(err));
	if (!code)
		code = trace_header_to_setup(s->hdr, o->restore, NULL, setup, err, sizeof(err));
	if (code) {
		log_error("%s", err);
		snapshot_close(s);
		return code;
	}
	struct machine_config cfg = setup->cfg;
	if (o->cfg.ndisks && o->cfg.ndisks != cfg.ndisks) {
		log_error("the snapshot's machine has %u disks; %u --disk given", cfg.ndisks, o->cfg.ndisks);
		snapshot_close(s);
		return DETVM_EXIT_USAGE;
	}
	for (unsigned i = 0; i < o->cfg.ndisks; i++)
		cfg.disks[i] = o->cfg.disks[i];
	for (unsigned i = 0; i < cfg.nnics; i++)	/* --net replaces the snapshot's backends */
		cfg.nics[i] = i < o->cfg.nnics ? o->cfg.nics[i] : cfg.nics[i];
	cfg.max_exits = o->cfg.max_exits;
	o->cfg = cfg;
	return 0;
}

int cli_restore_apply(const struct snapshot *s, struct machine *m, struct host_run *h)
{
	char err[768] = "";
	struct machine_saved saved;
	int r = snapshot_apply(s, m, &saved, err, sizeof(err));
	if (r) {
		log_error("cannot restore: %s", err);
		return r == -EINVAL ? DETVM_EXIT_TRACE : DETVM_EXIT_KVM;
	}
	if (h)
		host_run_set_clock(h, saved.clock_ns);
	machine_state_rearm(m, &saved);
	log_info("restored the snapshot taken at exit %" PRIu64 "%s", saved.exits, m->halted ? " (halted)" : "");
	return 0;
}

int cli_snapshot(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "control", required_argument, NULL, 'C' }, { "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },	     { 0 },
	};
	const char *control = NULL, *output = NULL;
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":C:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'C': control = optarg; break;
		case 'o': output = optarg; break;
		case 'h': fputs(snapshot_help, stdout); return DETVM_EXIT_OK;
		case ':': return cli_usage_error("snapshot", "option '%s' needs a value", argv[optind - 1]);
		default: return cli_usage_error("snapshot", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cli_usage_error("snapshot", "unexpected argument '%s'", argv[optind]);
	if (!control || !output)
		return cli_usage_error("snapshot", "need --control PATH and -o SNAPSHOT");
	char abs[4096];
	if (output[0] != '/') {
		char cwd[3000];
		if (!getcwd(cwd, sizeof(cwd)))
			return cli_usage_error("snapshot", "cannot resolve '%s': %s", output, strerror(errno));
		snprintf(abs, sizeof(abs), "%s/%s", cwd, output);
		output = abs;
	}
	if (strchr(output, '\n'))
		return cli_usage_error("snapshot", "a snapshot path cannot hold a newline");
	int fd = local_sock_connect(control);
	if (fd < 0) {
		log_error("cannot reach the VM's control socket '%s': %s", control, strerror(-fd));
		return DETVM_EXIT_HOST;
	}
	char req[4200], reply[1100];
	snprintf(req, sizeof(req), "snapshot %s\n", output);
	size_t n = 0;
	if (!file_write_full(fd, req, strlen(req)))
		for (ssize_t k; n < sizeof(reply) - 1 && (k = read(fd, reply + n, sizeof(reply) - 1 - n)) > 0;)
			n += (size_t)k;
	close(fd);
	reply[n] = 0;
	reply[strcspn(reply, "\n")] = 0;
	uint64_t exits, bytes, pages;
	if (sscanf(reply, "ok %" SCNu64 " %" SCNu64 " %" SCNu64, &exits, &bytes, &pages) == 3) {
		printf("snapshot at exit %" PRIu64 ": %s (%" PRIu64 " bytes, %" PRIu64 " guest pages)\n", exits, output,
		       bytes, pages);
		return DETVM_EXIT_OK;
	}
	log_error("the VM could not save a snapshot: %s", n ? (strncmp(reply, "error ", 6) ? reply : reply + 6)
							   : "no answer (did it end?)");
	return DETVM_EXIT_HOST;
}
