/*
 * The machine: guest memory, the vCPU, the buses and every device model, wired to one
 * hostio. Placement (ports, MMIO windows, IRQ lines) lives here and nowhere else.
 */
#ifndef DETVM_VMM_MACHINE_H
#define DETVM_VMM_MACHINE_H

#include <stdint.h>
#include <stdio.h>

#include "devices/i8042.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "devices/rtc.h"
#include "devices/uart.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/net.h"
#include "vmm/bus.h"
#include "vmm/cpuid.h"
#include "vmm/debugger.h"
#include "vmm/exit.h"
#include "vmm/guest_mem.h"
#include "vmm/hostio.h"
#include "vmm/irq_gate.h"
#include "vmm/digest.h"
#include "vmm/kvm.h"
#include "vmm/observer.h"
#include "vmm/step_shadow.h"
#include "vmm/tracer.h"
#include "vmm/vcpu_state.h"
#include "vmm/vtsc.h"

#define MACHINE_MAX_DISKS 4
#define MACHINE_MAX_NICS 4
#define MACHINE_VIRTIO_BASE 0xd0000000ULL
#define MACHINE_VIRTIO_STRIDE 0x1000ULL
#define MACHINE_DEBUG_EXIT_PORT 0xf4	/* QEMU's isa-debug-exit convention */
#define MACHINE_COM1_PORT 0x3f8
#define MACHINE_COM1_IRQ 4
#define MACHINE_RTC_IRQ 8
#define MACHINE_PIT_IRQ 0

struct machine_disk {
	const char *path;
	int read_only;
};

struct machine_config {
	uint64_t mem_size;
	const char *image_path;
	const char *cmdline;
	const char *initrd_path;
	struct machine_disk disks[MACHINE_MAX_DISKS];
	unsigned ndisks;
	const char *nics[MACHINE_MAX_NICS];
	unsigned nnics;
	uint64_t max_exits;	/* 0: no limit */
	int track_state;	/* dirty logging and digests: record and replay */
	/* The host ignores CPUID policies, so a Linux guest must be told on its command
	 * line what not to use (see machine.c). */
	int host_cpuid_ignored;
	/* cmdline is final: nothing is appended (replay gives what the recording used) */
	int cmdline_final;
	/* CPUID to give the vCPU; NULL: the policy applied to what this host's KVM offers.
	 * Replay passes the recorded table so the guest sees what it saw. */
	const struct kvm_cpuid_entry2 *cpuid;
	unsigned ncpuid;
	/* The `step` fallback (live runs): rings in which a guest that runs without exits
	 * while input is due gets a delivery point (bit n = ring n); 0 = `sync` only. */
	unsigned step_rings;
	/* Replay: hardware breakpoints work wherever single-step does, so landmarks are
	 * reached by running to their RIP rather than stepping every instruction. */
	int step_breakpoints;
	/* Who serves RDTSC: by default the virtual TSC where KVM lets detvm see it, else
	 * the host; replay asks for what the trace had. */
	enum tsc_exit_want tsc;
	/* Show the TSC in CPUID where the virtual TSC serves RDTSC, and a Linux guest its
	 * rate: it then keeps time by it. Not by default: a guest clock that follows the
	 * host's makes a guest slowed by lockstep on a slow host spend itself on timers. */
	int tsc_shown;
};

enum step_kind {
	STEP_NONE,
	STEP_WINDOW,	/* an interrupt window the recording host reported late */
	STEP_POINT,	/* a `step` delivery point */
};

struct machine_stats {
	uint64_t exits;		/* guest-caused exits: positions */
	uint64_t host_exits;	/* signals and kicks */
	uint64_t by_reason[KVM_EXIT_X86_WRMSR + 1];
	uint64_t interrupts;
	uint64_t breakpoints;	/* INT3s turned into #BP */
	uint64_t events;	/* host events delivered */
	uint64_t steps;		/* debug exits (single-steps, breakpoints) on the way to landmarks */
	uint64_t landmarks;	/* landmarks reached */
	uint64_t step_points;	/* `step` delivery points (they count as exits: positions) */
	uint64_t states_loaded;	/* replay: step points whose recorded state was loaded, not run to */
	uint64_t step_pages;	/* record: pages step points carried (whole or as changes) */
	uint64_t step_changes;	/* record: of those, carried as changes to the page at the last exit */
	uint64_t step_pages_unchanged;	/* record: written, but as at the last exit: left out */
};

/* Work the host side wants done on the vCPU thread at the next delivery point, where the
 * machine is whole (a snapshot): the host sets pending, then kicks the vCPU; fn clears it. */
struct machine;
struct machine_request {
	void (*fn)(void *ctx, struct machine *m);
	void *ctx;
	volatile int pending;
};

struct machine {
	struct guest_mem mem;
	struct kvm_vm kvm;
	struct bus pio;
	struct bus mmio;
	struct hostio *io;
	struct exit_ctx ex;
	struct irq_sink irq;		/* devices keep a pointer to it: lives as long as they do */
	struct pic pic;
	struct pit pit;
	struct rtc rtc;
	struct uart com1;
	struct i8042 kbd;
	struct virtio_blk blk[MACHINE_MAX_DISKS];
	unsigned nblk;
	struct virtio_net net[MACHINE_MAX_NICS];
	unsigned nnet;
	uint64_t max_exits;
	uint64_t platform_errors;	/* bad guest accesses to platform ports */
	struct machine_stats stats;
	struct kvm_cpuid_entry2 cpuid[CPUID_MAX_ENTRIES];	/* what the vCPU was given */
	unsigned ncpuid;
	struct run_observer *obs;	/* NULL in plain runs */
	struct irq_gate *gate;		/* NULL: inject as soon as the guest can take it */
	struct run_tracer *tracer;	/* NULL unless instructions are traced (replay) */
	struct run_debugger *dbg;	/* NULL unless a debugger drives the run */
	struct {
		enum step_kind kind;	/* what is being single-stepped towards, if anything */
		uint64_t rip;
		uint8_t regs[OBSERVER_DIGEST_BYTES];
		uint8_t mem[OBSERVER_DIGEST_BYTES];
		int has_mem;		/* compare memory too */
		uint64_t started_ns, deadline_ns;	/* host time: when to give up looking */
		uint64_t steps;
		int single;		/* single-stepping now (else at a breakpoint), -1 unset */
		uint64_t pushf_next;	/* the RIP after a PUSHF being stepped over, else 0 */
		/* the HLT written over the landmark's first byte (step.c), where it went */
		int halt_set, halt_failed;
		uint64_t halt_gpa;
		uint8_t halt_orig;
	} step;
	int step_breakpoints;		/* reach landmarks by breakpoint, then compare */
	int exception_queued;		/* the last exit raises #BP or #GP on re-entry */
	unsigned step_rings;		/* live `step` fallback: rings to make points in */
	uint64_t step_exits_at_kick;	/* exit count at the previous host exit */
	struct mem_digest digest;	/* with track_state */
	int track_state;
	/* what a step point and a snapshot carry (see struct step_landmark) */
	uint32_t state_msrs[VCPU_STATE_MAX_MSRS];
	unsigned nstate_msrs;
	struct vcpu_state step_state;
	struct vtsc tsc;		/* served when m->ex.tsc points here */
	int tsc_shown;			/* ... and in CPUID, its rate on Linux's command line */
	struct page_image *step_pages;
	size_t step_pages_cap;
	struct step_shadow shadow;	/* what recorded step points' pages are stored against */
	uint8_t *step_deltas;		/* their encodings, PAGE_DELTA_MAX a page */
	size_t step_deltas_cap;		/* pages */
	char cmdline[4096];		/* what the guest was given */
	volatile int *stop;		/* set from a signal handler: 1 interrupt, 2 timeout */
	struct machine_request *request;	/* NULL: none */
	/* waiting in HLT for an interrupt: a snapshot taken there resumes waiting */
	int halted;
};

/* Guest RAM detvm builds (16 MiB to 64 GiB, whole pages): NULL for a size it can build,
 * else what is wrong with it, in words. */
const char *machine_mem_size_problem(uint64_t size);

/*
 * Builds the machine: memory, KVM, devices, the image loaded. disk_sizes[i] is the
 * capacity of disk i as the hostio sees it. On failure err holds one line; the return
 * is a detvm exit code (DETVM_EXIT_USAGE for bad images, DETVM_EXIT_KVM, ...).
 */
int machine_create(struct machine *m, const struct machine_config *cfg, struct hostio *io,
		   const uint64_t *disk_sizes, char *err, size_t errlen);
void machine_destroy(struct machine *m);
void machine_nic_mac(unsigned index, uint8_t mac[6]);
/* The MSRs a saved vCPU state carries (m->state_msrs); 0 or -errno. */
int machine_list_msrs(struct machine *m);
/* Runs until the guest ends; returns a detvm exit code and prints why it ended. */
int machine_run(struct machine *m);
/* One line per device counter worth knowing (bad chains, dropped input, ...). */
void machine_print_stats(const struct machine *m, FILE *f);

#endif
