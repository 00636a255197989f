/*
 * Probe VMs: a 2 MiB 64-bit guest with paging on that runs a few bytes of code in ring 0
 * or ring 3. `detvm doctor` measures host facts with them; `detvm run` uses one to check
 * whether the host applies the CPUID policy at all.
 */
#ifndef DETVM_VMM_PROBE_H
#define DETVM_VMM_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/guest_mem.h"
#include "vmm/kvm.h"

#define PROBE_MEM (2ULL << 20)
#define PROBE_CODE 0x1000
#define PROBE_PORT 0xf0
#define PROBE_LOOP_COUNT 20000u
#define PROBE_NATIVE_NS_PER_ITER 20.0	/* native is ~1 ns per iteration, emulated ~1000 */

struct probe {
	struct guest_mem mem;
	struct kvm_vm kvm;
};

int probe_make(struct probe *p, const uint8_t *code, size_t len, int ring);
int probe_make_tsc(struct probe *p, const uint8_t *code, size_t len, int ring, enum tsc_exit_want tsc);
void probe_free(struct probe *p);
/* 1 if a guest sees the policy (TSC hidden), 0 if it sees the host's CPUID, -errno. */
int probe_cpuid_honoured(void);

/* 1 if SYSCALL from guest ring 3 enters ring 0 (Linux user space depends on it), 0 if
 * the host leaves the guest in ring 3, -errno if the probe could not run. */
int probe_syscall_enters_ring0(void);
/* Single-steps a loop in `ring`; how many steps KVM reported (at most max), or -errno. */
int probe_single_steps(int ring, int max);
#define PROBE_STEPS 50
/* The rings KVM single-steps on this host: bit 0 for ring 0, bit 3 for ring 3. */
unsigned probe_step_rings(void);
/* Hits of a hardware breakpoint in a loop in `ring` (at most max), or -errno. */
int probe_breakpoint_hits(int ring, int max);
/* Hits of INT3s written into a loop in `ring` that exit to detvm (KVM_DEBUG_SW_BP), at
 * most max, or -errno. */
int probe_sw_breakpoint_hits(int ring, int max);
/* The rings where hardware breakpoints work on this host, as probe_step_rings. */
unsigned probe_breakpoint_rings(void);

/* 1 if RDTSC in `ring` exits to detvm and completes with the value it served
 * (KVM_CAP_X86_TSC_EXIT_DETVM), 0 if it does not, -ENODEV without the capability. */
int probe_tsc_exit(int ring);

extern const uint8_t probe_loop_code[15];
extern const uint8_t probe_int3_code[3];

#endif
