/*
 * A running machine's state apart from guest memory: the vCPU (vcpu_state.h), every
 * device model, the guest clock and the timers the devices armed. Snapshots, replay
 * checkpoints and the FT backup's re-protection all save and load it here, at a delivery
 * point (between exits, interrupts not yet offered), the only place where the machine
 * is whole: no exit half handled, no host event half delivered.
 */
#ifndef DETVM_VMM_MACHINE_STATE_H
#define DETVM_VMM_MACHINE_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/hostio.h"
#include "vmm/machine.h"
#include "vmm/state_io.h"

/* Bump when the saved layout of any part changes: loaders refuse other versions. */
#define MACHINE_STATE_VERSION 3

/* What a load hands back for the host side to take over. */
struct machine_saved {
	uint64_t clock_ns;			/* the guest clock when it was saved */
	uint64_t exits;				/* positions run before it was saved */
	uint64_t armed[HOSTIO_TIMERS];		/* timer deadlines, HOSTIO_TIMER_OFF if none */
};

/* Appends the state to o, with the guest clock at clock_ns: the live host's reading, taken
 * by the caller and not through m's hostio, where a recorder would log it as an input
 * the guest never asked for. 0, or -errno with err holding one line. */
int machine_state_save(struct machine *m, uint64_t clock_ns, struct state_out *o, char *err, size_t errlen);
/*
 * Loads the state into a machine built from the same configuration. Nothing is loaded
 * into KVM unless every device's part was accepted. 0, or -EINVAL (a damaged or
 * foreign blob) / -errno from KVM with err holding one line.
 */
int machine_state_load(struct machine *m, struct state_in *in, struct machine_saved *saved, char *err,
		       size_t errlen);
/* Arms the saved timers on the machine's hostio; call once its clock reads saved->clock_ns. */
void machine_state_rearm(struct machine *m, const struct machine_saved *saved);

/* Guest memory: all of it zero again, and the digests start over. */
void machine_mem_clear(struct machine *m);

#endif
