/*
 * Re-protection: a running VM (a backup that went live) gets a new backup without
 * stopping. Its state goes over the FT link as STATE messages (ft/link.h) before the
 * trace that continues from it:
 *
 *  1. pre-copy, the guest running: every non-zero page, then, round after round, the
 *     pages written since the previous round began (KVM's dirty log and the VMM's own
 *     writes, vmm/guest_mem.h `also`), 2 ms slices at delivery points, at most half
 *     of the vCPU's time;
 *  2. once a round is small (or after FT_PROTECT_MAX_ROUNDS) the pause, at one delivery
 *     point: the last written pages, then the vCPU, every device, clock and timers
 *     (vmm/machine_state.h);
 *  3. the VM becomes a primary there: recorder and output rule in front of its live
 *     host, its trace (whose header says it starts from the state on the link) streamed.
 * The backup builds the machine from that header, loads the state, and replays.
 *
 * STATE payloads: 'B' u64 guest RAM bytes | 'P' pages, each u64 page index and 4 KiB |
 * 'F' u64 console offset, then the machine state.
 */
#ifndef DETVM_FT_PROTECT_H
#define DETVM_FT_PROTECT_H

#include <stddef.h>
#include <stdint.h>

#include "ft/link.h"
#include "vmm/machine.h"
#include "vmm/machine_state.h"

#define FT_PROTECT_MAX_ROUNDS 8
#define FT_PROTECT_PAUSE_PAGES 1024	/* a round this small: pause and send the rest */

struct ft_protect {
	struct machine *m;
	struct ft_link *link;
	uint64_t pages;			/* guest pages */
	uint64_t *todo;			/* this round's pages */
	uint64_t cursor;		/* next page of the round to look at */
	unsigned round;
	uint64_t round_pages[FT_PROTECT_MAX_ROUNDS + 1];	/* sent in each round */
	uint64_t sent_pages;
	uint64_t begin_ns, pause_ns, pause_pages;
	uint64_t next_slice_ns;		/* no pre-copy before this: the guest's turn */
	/* the pause: the live host's clock, and becoming the primary (0 or -errno) */
	uint64_t (*clock)(void *ctx);
	int (*become_primary)(void *ctx);
	void *ctx;
	uint64_t console_off;		/* console bytes the guest wrote so far */
	uint8_t *batch;			/* a STATE message being filled */
	size_t batch_len;
	char why[256];			/* a failure, one line */
};

/* Starts the transfer of m over link (the new backup connected); clock and become_primary
 * (with ctx) are the pause's. 0 or -errno. */
int ft_protect_begin(struct ft_protect *p, struct machine *m, struct ft_link *link, uint64_t (*clock)(void *ctx),
		     int (*become_primary)(void *ctx), void *ctx);
/* At a delivery point: a slice of pre-copy, or the pause. 0 more to do; 1 done, the VM
 * is a primary now; -errno failed (why), the VM runs on unprotected. */
int ft_protect_step(struct ft_protect *p);
void ft_protect_destroy(struct ft_protect *p);

/* The backup's side: what came in STATE messages, until it is loaded. */
struct ft_incoming {
	uint64_t mem_max;		/* the most guest memory taken (set before; 0: any the VMM builds) */
	uint8_t *mem;
	uint64_t mem_size, pages;
	uint64_t *have;			/* pages received */
	uint8_t *state;
	size_t state_len;
	uint64_t console_off;
	int complete;			/* the 'F' message came */
};

/* ft_link on_state: takes one STATE payload; 0, -EINVAL (garbage), -E2BIG (a guest above
 * mem_max), -ENOMEM. */
int ft_incoming_take(void *incoming, const uint8_t *data, size_t len);
/* Loads what came into m (built from the trace header). 0, or -errno with err. */
int ft_incoming_apply(struct ft_incoming *in, struct machine *m, struct machine_saved *saved, char *err,
		      size_t errlen);
void ft_incoming_destroy(struct ft_incoming *in);

#endif
