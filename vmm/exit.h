/*
 * Exit dispatch as a function of a plain struct kvm_run: it performs device I/O on the
 * buses and says what the run loop must do next, but makes no ioctl, so it is unit-tested
 * without /dev/kvm (Firecracker's pattern).
 */
#ifndef DETVM_VMM_EXIT_H
#define DETVM_VMM_EXIT_H

#include <linux/kvm.h>
#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/hostio.h"
#include "vmm/vtsc.h"

enum exit_action {
	EXIT_ACT_CONTINUE,	/* handled; re-enter the guest */
	EXIT_ACT_HALT,		/* guest executed HLT: wait for an interrupt */
	EXIT_ACT_IRQ_WINDOW,	/* the guest can take an interrupt now */
	EXIT_ACT_INJECT_BP,	/* INT3 the host could not emulate: advance RIP, inject #BP */
	EXIT_ACT_HOST,		/* host-caused (signal, kick): not a guest position */
	EXIT_ACT_POWEROFF,	/* guest asked to power off or reset; see exit_ctx.poweroff_code */
	EXIT_ACT_SHUTDOWN,	/* triple fault */
	EXIT_ACT_INTERNAL,	/* KVM internal error other than INT3 */
	EXIT_ACT_FAIL_ENTRY,	/* VM entry failed */
	EXIT_ACT_UNKNOWN,	/* an exit reason detvm does not handle */
};

struct exit_ctx {
	struct bus *pio;
	struct bus *mmio;
	/* RDTSC, RDTSCP and RDMSR of the TSC reach detvm (KVM_CAP_X86_TSC_EXIT_DETVM) and are
	 * served from tsc with io's guest clock; NULL: they are not ours to serve */
	struct vtsc *tsc;
	struct hostio *io;
	uint64_t tsc_writes;	/* WRMSR to the TSC, refused with #GP */
	/* Set by platform devices (debug-exit port, i8042 reset) during dispatch. */
	int poweroff_requested;
	uint32_t poweroff_code;	/* 0: clean power-off or reset; else the guest's failure code */
	int reset_requested;
};

/* Guest-caused exits are delivery points and count as positions (DESIGN.md). */
static inline int exit_action_is_guest(enum exit_action a)
{
	return a != EXIT_ACT_HOST;
}

/* run->exit_reason == KVM_EXIT_INTR is returned by the caller for EINTR; see kvm.c. */
enum exit_action exit_handle(struct exit_ctx *ctx, struct kvm_run *run);

/* "PIO out 0x3f8 size 1 data 41" etc., for divergence and error messages. */
const char *exit_reason_name(uint32_t reason);
/* Instruction bytes KVM attached to an emulation failure; 0 if none. */
unsigned exit_insn_bytes(const struct kvm_run *run, const uint8_t **bytes);

#endif
