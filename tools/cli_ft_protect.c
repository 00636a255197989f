/* Re-protection on the command line (tools/cli_ft_protect.h). */
#include "tools/cli_ft_protect.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ft/arbiter.h"
#include "net/transport.h"
#include "tools/local_sock.h"
#include "vmm/exitcode.h"
#include "vmm/file_io.h"
#include "vmm/log.h"
#include "vmm/mono_clock.h"

static uint64_t live_clock(void *ctx)
{
	struct cli_protect *pr = ctx;
	return hostio_clock_ns(&pr->g->live->io);
}

/* In the pause: recorder -> output rule -> live host, and the trace starts. */
static int become_primary(void *ctx)
{
	struct cli_protect *pr = ctx;
	struct ft_golive *g = pr->g;
	hostio_unsubscribe_all(&g->live->io);
	pr->side.seq_fd = g->seq_fd;
	struct hostio *held = cli_ft_side_wrap(&pr->side, &g->live->io);
	pr->side.hold.console_off = g->console_off;
	recorder_init(&pr->rec, held, RECORD_CHECKPOINT_EXITS);
	cli_ft_side_recording(&pr->side, &pr->rec);
	struct trace_writer_opts wo = { .sink = cli_ft_side_sink, .sink_ctx = &pr->side };
	int r = recorder_start(&pr->rec, pr->trace, &pr->hb.hdr, &wo);
	if (r)
		return r;
	pr->started = 1;
	ft_golive_protected(g, &pr->rec.io, &pr->rec.obs);
	return 0;
}

/* On the vCPU thread at each delivery point until the transfer is over. */
static void protect_work(struct cli_control *c, struct machine *m)
{
	struct cli_protect *pr = c->protect_ctx;
	char reply[512];
	int r;
	if (!pr->p.m) {
		r = ft_protect_begin(&pr->p, m, &pr->side.link, live_clock, become_primary, pr);
		if (!r)
			return;
		snprintf(pr->p.why, sizeof(pr->p.why), "cannot start: %s", strerror(-r));
	} else {
		pr->p.console_off = pr->g->console_off;
		r = ft_protect_step(&pr->p);
		if (!r)
			return;
	}
	const struct ft_protect *p = &pr->p;
	if (r == 1) {
		snprintf(reply, sizeof(reply), "ok pause %.3f ms, %u rounds, %" PRIu64 " pages (%" PRIu64 " in the pause) in %.3f s\n",
			 (double)p->pause_ns / 1e6, p->round, p->sent_pages, p->pause_pages,
			 (double)(mono_clock_ns() - p->begin_ns) / 1e9);
		log_info("protected by the backup at %s from exit %" PRIu64 ": %s", pr->peer, m->stats.exits, reply + 3);
	} else {
		snprintf(reply, sizeof(reply), "error re-protection failed: %s\n", p->why);
		log_error("re-protection by %s failed: %s; running on unprotected", pr->peer, p->why);
	}
	ft_protect_destroy(&pr->p);
	memset(&pr->p, 0, sizeof(pr->p));
	cli_control_done(c, reply);
}

/* The trace's configuration: the first primary's machine, its disks the shared ones. */
static int build_header(struct cli_protect *pr, char *err, size_t errlen)
{
	const Detvm__VmConfig *c = pr->hdr->config;
	struct machine_config cfg = { .mem_size = c->mem_bytes, .image_path = c->kernel->path };
	if (c->initrd && c->initrd->path && *c->initrd->path)
		cfg.initrd_path = c->initrd->path;
	for (size_t i = 0; i < c->n_disks && i < MACHINE_MAX_DISKS; i++)
		cfg.disks[cfg.ndisks++] = (struct machine_disk){ c->disks[i]->path, c->disks[i]->read_only };
	for (size_t i = 0; i < c->n_nics && i < MACHINE_MAX_NICS; i++)
		cfg.nics[cfg.nnics++] = c->nics[i]->backend;
	static const struct record_disk none[MACHINE_MAX_DISKS];
	if (trace_header_build(&pr->hb, &cfg, pr->m, none, RECORD_CHECKPOINT_EXITS, err, errlen))
		return -EINVAL;
	trace_header_set_start_link(&pr->hb);
	return 0;
}

void cli_protect_request(void *ctx, struct cli_control *c, const char *args, char *reply, size_t len)
{
	struct cli_protect *pr = ctx;
	char addr[256] = "", wire[16] = "tcp", err[512] = "";
	int beat = pr->beat_ms, dead = pr->dead_ms;
	if (sscanf(args, "%255s %15s %d %d", addr, wire, &beat, &dead) < 1) {
		snprintf(reply, len, "error want: protect HOST:PORT [tcp|rdma [BEAT_MS DEAD_MS]]\n");
		return;
	}
	if (!pr->g->live_now) {
		snprintf(reply, len, "error this backup is not live: it still follows its primary\n");
		return;
	}
	if (pr->active) {
		snprintf(reply, len, "error already protected by the backup at %s\n", pr->peer);
		return;
	}
	snprintf(pr->peer, sizeof(pr->peer), "%s", addr);
	pr->side.peer = pr->peer;
	if (pr->side.arb && pr->side.arb->ops->generation(pr->side.arb, &pr->side.gen, err, sizeof(err))) {
		snprintf(reply, len, "error %s\n", err);
		return;
	}
	snprintf(pr->trace, sizeof(pr->trace), "%s.p%u", pr->trace_base, pr->count + 1);
	struct transport *t;
	struct transport_terms terms = cli_ft_terms(pr->side.key, beat, dead);
	if (build_header(pr, err, sizeof(err)) || transport_connect(&t, addr, wire, &terms, 10000, err, sizeof(err))) {
		snprintf(reply, len, "error %s\n", err);
		return;
	}
	int r = ft_primary_start(&pr->side.link, t, beat, dead);
	if (r) {
		transport_destroy(t);
		snprintf(reply, len, "error cannot start the FT link: %s\n", strerror(-r));
		return;
	}
	log_info("re-protecting: handing the running state to the backup at %s over %s", addr, wire);
	pr->active = 1;
	cli_control_run(c, protect_work, reply, len);
	if (!pr->started) {
		ft_link_destroy(&pr->side.link);
		pr->active = 0;
		return;
	}
	pr->count++;
}

int cli_protect_finish(struct cli_protect *pr, int code)
{
	if (!pr->started)
		return code;
	int r = recorder_close(&pr->rec);
	if (!r)
		r = cli_ft_side_finish(&pr->side);
	if (pr->side.hold.halted)
		code = DETVM_EXIT_FT_HALTED;
	else if (r)
		log_error("the trace to the new backup at %s did not end cleanly: %s", pr->peer,
			  r <= -1000 ? trace_strerror(r) : strerror(-r));
	else
		log_info("the backup at %s holds the whole trace", pr->peer);
	ft_hold_destroy(&pr->side.hold);
	ft_link_destroy(&pr->side.link);
	pr->started = pr->active = 0;
	return code;
}

struct ask {
	int fd;
	char control[108];
};

static void *await_answer(void *arg)
{
	struct ask *a = arg;
	char reply[600];
	size_t n = 0;
	for (ssize_t k; n < sizeof(reply) - 1 && (k = read(a->fd, reply + n, sizeof(reply) - 1 - n)) > 0;)
		n += (size_t)k;
	reply[n] = 0;
	reply[strcspn(reply, "\n")] = 0;
	if (!strncmp(reply, "ok ", 3))
		log_info("the VM at %s is protected by this backup: %s", a->control, reply + 3);
	else
		log_error("the VM at %s was not protected: %s", a->control,
			  n ? (strncmp(reply, "error ", 6) ? reply : reply + 6) : "no answer");
	close(a->fd);
	free(a);
	return NULL;
}

int cli_protect_ask(const char *control, const char *addr, const char *wire, int beat_ms, int dead_ms)
{
	struct ask *a = calloc(1, sizeof(*a));
	if (!a) {
		log_error("out of memory");
		return DETVM_EXIT_HOST;
	}
	snprintf(a->control, sizeof(a->control), "%s", control);
	a->fd = local_sock_connect(control);
	if (a->fd < 0) {
		int r = a->fd;
		log_error("cannot reach the running VM's control socket '%s': %s", control, strerror(-r));
		free(a);
		return r == -ENAMETOOLONG ? DETVM_EXIT_USAGE : DETVM_EXIT_HOST;
	}
	char req[400];
	snprintf(req, sizeof(req), "protect %s %s %d %d\n", addr, wire, beat_ms, dead_ms);
	pthread_t t;
	if (file_write_full(a->fd, req, strlen(req)) || pthread_create(&t, NULL, await_answer, a)) {
		log_error("cannot ask the VM at '%s' for its state", control);
		close(a->fd);
		free(a);
		return DETVM_EXIT_HOST;
	}
	pthread_detach(t);
	return 0;
}
