/* The primary's half of an FT pair, shared by `ft primary` and a re-protected VM: the
 * output rule's hold in front of the live host, the link as the trace's sink, and what
 * happens when the backup is lost. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ft/arbiter.h"
#include "replay/record.h"
#include "tools/cli_ft.h"
#include "vmm/exitcode.h"
#include "vmm/log.h"

/* The backup is gone: go on alone only after winning the arbiter. */
static int backup_lost(void *ctx)
{
	struct cli_ft_side *p = ctx;
	log_error("the backup at %s is gone: %s", p->peer, p->link.why);
	if (!p->arb) {
		log_error("no --arbiter: the primary does not go on alone; halting");
		return 0;
	}
	if (!arbiter_decide(p->arb, p->gen, "going on alone"))
		return 0;
	if (p->fence)	/* from here it writes as the generation it won */
		p->fence->gen = p->gen + 1;
	return 1;
}

/* After the footer: the backup acknowledges every piece, then what the guest output last
 * goes out. */
int cli_ft_side_finish(void *ctx)
{
	struct cli_ft_side *p = ctx;
	int r = p->hold.alone ? 0 : ft_primary_finish(&p->link, 60000);
	if (r == -EPIPE)	/* the backup died at the very end: alone, or halted */
		r = ft_hold_lost(&p->hold);
	int d = ft_hold_drain(&p->hold, 60000);
	return r ? r : d;
}

int cli_ft_side_sink(void *ctx, const void *data, size_t len)
{
	struct cli_ft_side *p = ctx;
	if (p->hold.alone)
		return p->hold.fenced ? -EPIPE : 0;
	int r = ft_primary_sink(&p->link, data, len);
	return r == -EPIPE ? ft_hold_lost(&p->hold) : r;
}

struct hostio *cli_ft_side_wrap(void *ctx, struct hostio *live)
{
	struct cli_ft_side *p = ctx;
	ft_hold_init(&p->hold, live, &p->link);
	p->hold.lost = backup_lost;
	p->hold.lost_ctx = p;
	p->hold.seq_fd = p->seq_fd;
	p->hold.authority = p->arb;
	p->hold.fence = p->fence;
	return &p->hold.io;
}

static int flush_recorder(void *rec)
{
	return recorder_flush(rec);
}

void cli_ft_side_recording(void *ctx, struct recorder *rec)
{
	ft_hold_set_flush(&((struct cli_ft_side *)ctx)->hold, flush_recorder, rec);
}


struct transport_terms cli_ft_terms(const uint8_t key[TRANSPORT_KEY_BYTES], int beat_ms, int dead_ms)
{
	return (struct transport_terms){ .key = key,
					 .beat_ms = (uint32_t)(beat_ms > 0 ? beat_ms : FT_BEAT_MS_DEFAULT),
					 .dead_ms = (uint32_t)(dead_ms > 0 ? dead_ms : FT_DEAD_MS_DEFAULT) };
}

int cli_ft_fence_open(struct ft_fence *f, const struct machine_config *cfg, uint64_t gen)
{
	char real[MACHINE_MAX_DISKS][PATH_MAX], err[600];
	const char *paths[MACHINE_MAX_DISKS];
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		paths[i] = NULL;
		if (cfg->disks[i].read_only)
			continue;
		if (!realpath(cfg->disks[i].path, real[i])) {
			log_error("cannot resolve the shared disk '%s': %s", cfg->disks[i].path, strerror(errno));
			return DETVM_EXIT_USAGE;
		}
		paths[i] = real[i];
	}
	if (!ft_fence_open(f, paths, cfg->ndisks, gen, err, sizeof(err)))
		return 0;
	log_error("%s", err);
	return DETVM_EXIT_USAGE;
}

int cli_ft_arbiter_open(struct arbiter **a, const char *url, const char *role, const struct arbiter_creds *creds,
			uint64_t *gen)
{
	char err[512];
	int r = arbiter_open(a, url, role, creds, err, sizeof(err));
	if (r) {
		log_error("%s", err);
		return r == -ELIBACC ? DETVM_EXIT_HOST : DETVM_EXIT_USAGE;
	}
	/* asked now, while nothing is at stake: an arbiter this side cannot use is one it
	 * cannot win, and the connection (a TLS handshake takes seconds under an emulator)
	 * is open when a failover needs it */
	if ((*a)->ops->generation(*a, gen, err, sizeof(err))) {
		log_error("%s; halting before the guest starts", err);
		arbiter_close(*a);
		*a = NULL;
		return DETVM_EXIT_FT_HALTED;
	}
	return 0;
}

int cli_ft_load_key(uint8_t key[TRANSPORT_KEY_BYTES], const char *path)
{
	char err[512];
	if (!transport_key_load(path, key, err, sizeof(err)))
		return 0;
	log_error("%s", err);
	return DETVM_EXIT_USAGE;
}
