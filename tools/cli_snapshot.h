/*
 * Snapshots from the command line: the control socket a running VM listens on
 * (`--control PATH` on run and record), the `detvm snapshot` command that asks it for one,
 * and `--restore SNAPSHOT`, which builds the machine from a snapshot instead of booting.
 */
#ifndef DETVM_TOOLS_CLI_SNAPSHOT_H
#define DETVM_TOOLS_CLI_SNAPSHOT_H

#include <pthread.h>

#include "replay/snapshot.h"
#include "replay/trace_header.h"
#include "tools/cli.h"

struct host_run;

struct cli_control {
	int listen_fd;
	/* the job of the current request, on the vCPU thread at delivery points; it says
	 * cli_control_done() when finished (until then it runs at every point) */
	void (*work)(struct cli_control *c, struct machine *m);
	/* "protect ARGS": on the control thread, with the reply to fill; NULL: refused */
	void (*protect)(void *ctx, struct cli_control *c, const char *args, char *reply, size_t len);
	void *protect_ctx;
	char path[108];
	pthread_t thread, vcpu;
	int running;
	struct machine *m;
	const struct machine_config *cfg;
	struct host_run *live;
	struct machine_request req;
	pthread_mutex_t lock;
	pthread_cond_t done;
	char args[4096];		/* the request being served */
	char reply[1024];		/* its answer, "" until served */
};

/* Listens on the unix socket path for the VM m, built from cfg (NULL: no snapshots);
 * the calling thread is its vCPU thread; live is the host whose clock a snapshot keeps.
 * c->protect and protect_ctx, set before, are kept. 0, or an exit code after saying why. */
int cli_control_start(struct cli_control *c, const char *path, struct machine *m, const struct machine_config *cfg,
		      struct host_run *live);
void cli_control_stop(struct cli_control *c);
/* Runs work at the vCPU's next delivery points until it calls cli_control_done(); the
 * reply it gave, into reply. Control thread. */
void cli_control_run(struct cli_control *c, void (*work)(struct cli_control *, struct machine *), char *reply,
		     size_t len);
/* The job is finished, with this reply ("ok ..." or "error ..."). vCPU thread. */
void cli_control_done(struct cli_control *c, const char *reply);

/* --restore: opens the snapshot and puts its machine into o->cfg (its disks are the
 * snapshot's copies unless o names --disk for each). 0, or an exit code after saying why. */
int cli_restore_open(struct run_opts *o, struct snapshot *s, struct replay_setup *setup);
/* After machine_create: loads the snapshot into m; the clock of the live host h (NULL in
 * replay) resumes where the snapshot's stopped and its timers are armed again. */
int cli_restore_apply(const struct snapshot *s, struct machine *m, struct host_run *h);

int cli_snapshot(int argc, char **argv);

#endif
