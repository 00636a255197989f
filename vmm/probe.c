#include "vmm/probe.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/cpuid.h"
#include "vmm/x86.h"

/*
 * A 64-bit guest with paging on (identity-mapped first 2 MiB, user-accessible) running
 * code at PROBE_CODE in `ring`: the mode real guests run in, which is what the facts
 * are about (some nested hosts emulate other modes even in ring 3).
 */
int probe_make(struct probe *p, const uint8_t *code, size_t len, int ring)
{
	return probe_make_tsc(p, code, len, ring, TSC_EXIT_OFF);
}

int probe_make_tsc(struct probe *p, const uint8_t *code, size_t len, int ring, enum tsc_exit_want tsc)
{
	char err[256];
	if (guest_mem_init(&p->mem, PROBE_MEM))
		return -ENOMEM;
	memcpy(p->mem.base + PROBE_CODE, code, len);
	uint64_t *pml4 = (uint64_t *)(p->mem.base + 0x2000), *pdpt = (uint64_t *)(p->mem.base + 0x3000),
		 *pd = (uint64_t *)(p->mem.base + 0x4000);
	pml4[0] = 0x3000 | 7;	/* present, writable, user */
	pdpt[0] = 0x4000 | 7;
	pd[0] = 0x87;		/* a 2 MiB page */
	if (kvm_vm_create(&p->kvm, &p->mem, 0, tsc, err, sizeof(err)) < 0) {
		guest_mem_destroy(&p->mem);
		return -ENODEV;
	}
	kvm_vcpu_set_cpuid_policy(&p->kvm);
	struct kvm_sregs s;
	kvm_vcpu_get_sregs(&p->kvm, &s);
	struct kvm_segment cs = { .limit = 0xffffffff, .selector = ring ? 0x2b : 0x08, .type = 0xb,
				  .present = 1, .dpl = ring, .l = 1, .s = 1, .g = 1 };
	struct kvm_segment ds = cs;
	ds.type = 0x3;
	ds.l = 0;
	ds.db = 1;
	ds.selector = ring ? 0x23 : 0x10;
	s.cs = cs;
	s.ds = s.es = s.fs = s.gs = s.ss = ds;
	s.tr = (struct kvm_segment){ .limit = 0x67, .type = 11, .present = 1 };
	s.cr3 = 0x2000;
	s.cr4 = 0x20;		/* PAE */
	s.cr0 = 0x80050033;	/* PG, AM, WP, NE, ET, MP, PE */
	s.efer = 0x500;		/* LME, LMA */
	struct kvm_regs r = { .rip = PROBE_CODE, .rsp = 0x1f0000,
			      .rflags = 0x2 | (3u << 12) /* IOPL 3: OUT from ring 3 */ };
	if (ioctl(p->kvm.vcpu_fd, KVM_SET_SREGS, &s) < 0 || ioctl(p->kvm.vcpu_fd, KVM_SET_REGS, &r) < 0) {
		kvm_vm_destroy(&p->kvm);
		guest_mem_destroy(&p->mem);
		return -EINVAL;
	}
	return 0;
}


void probe_free(struct probe *p)
{
	kvm_vm_destroy(&p->kvm);
	guest_mem_destroy(&p->mem);
}

/* mov eax,1; cpuid; mov eax,edx; mov dx,PORT; out dx,eax; hlt */
static const uint8_t cpuid_code[] = { 0xb8, 1, 0, 0, 0, 0x0f, 0xa2, 0x89, 0xd0, 0x66, 0xba,
				      PROBE_PORT, 0, 0xef, 0xf4 };
/* mov ecx,N; 1: dec ecx; jnz 1b; mov dx,PORT; out dx,eax; hlt (64-bit encodings) */
const uint8_t probe_loop_code[15] = { 0xb9, PROBE_LOOP_COUNT & 0xff, (PROBE_LOOP_COUNT >> 8) & 0xff,
				     (PROBE_LOOP_COUNT >> 16) & 0xff, 0, 0xff, 0xc9, 0x75, 0xfc, 0x66,
				     0xba, PROBE_PORT, 0, 0xef, 0xf4 };
const uint8_t probe_int3_code[3] = { 0x90, 0xcc, 0xf4 };

int probe_cpuid_honoured(void)
{
	struct probe p;
	int r = probe_make(&p, cpuid_code, sizeof(cpuid_code), 0);
	if (r)
		return r;
	r = kvm_vcpu_run(&p.kvm);
	struct kvm_run *run = p.kvm.run;
	if (!r && run->exit_reason == KVM_EXIT_IO && run->io.size == 4) {
		uint32_t edx;
		memcpy(&edx, (uint8_t *)run + run->io.data_offset, 4);
		r = !(edx & CPUID_1_EDX_TSC);
	} else if (!r) {
		r = -EPROTO;
	}
	probe_free(&p);
	return r;
}

/*
 * Ring 3 executes SYSCALL; LSTAR points at ring-0 code that writes the port. Where the
 * host honours it the write comes from CPL 0 with CS = STAR[47:32]; a host that emulates
 * guest ring 0 badly jumps to LSTAR but stays in CPL 3 (DESIGN.md's old host).
 */
int probe_syscall_enters_ring0(void)
{
	/* at PROBE_CODE: syscall; hlt -- at + 0x100: mov dx,PORT; out dx,al; hlt */
	uint8_t code[0x106] = { 0x0f, 0x05, 0xf4 };
	const uint8_t handler[] = { 0x66, 0xba, PROBE_PORT, 0, 0xee, 0xf4 };
	memcpy(code + 0x100, handler, sizeof(handler));
	struct probe p;
	int r = probe_make(&p, code, sizeof(code), 3);
	if (r)
		return r;
	/* STAR: SYSCALL loads CS 0x08; LSTAR: the handler; SFMASK: nothing masked */
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[3];
	} msrs = { .h.nmsrs = 3, .e = { { .index = 0xc0000081, .data = 0x0008ULL << 32 | 0x0018ULL << 48 },
					{ .index = 0xc0000082, .data = PROBE_CODE + 0x100 },
					{ .index = 0xc0000084, .data = 0 } } };
	struct kvm_sregs s;
	r = kvm_vcpu_get_sregs(&p.kvm, &s);
	s.efer |= 1;	/* SCE */
	if (!r && ioctl(p.kvm.vcpu_fd, KVM_SET_SREGS, &s) < 0)
		r = -errno;
	if (!r && ioctl(p.kvm.vcpu_fd, KVM_SET_MSRS, &msrs) != 3)
		r = -EIO;
	if (!r)
		r = kvm_vcpu_run(&p.kvm);
	if (!r)
		r = p.kvm.run->exit_reason == KVM_EXIT_IO && !kvm_vcpu_get_sregs(&p.kvm, &s) &&
		    (s.cs.selector & 3) == 0 && s.cs.dpl == 0;
	probe_free(&p);
	return r;
}

int probe_single_steps(int ring, int max)
{
	struct probe p;
	int r = probe_make(&p, probe_loop_code, sizeof(probe_loop_code), ring);
	if (r)
		return r;
	/* a step counts only where it stopped after exactly one more instruction: the loop's
	 * dec ecx (PROBE_CODE + 5) and jnz (+ 7) in turn, ecx one lower every second step */
	struct kvm_run *run = p.kvm.run;
	run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	int steps = 0;
	r = kvm_vcpu_set_debug(&p.kvm, KVM_DEBUG_STEP, 0);
	while (!r && steps < max && !kvm_vcpu_run(&p.kvm) && run->exit_reason == KVM_EXIT_DEBUG &&
	       run->s.regs.regs.rip == PROBE_CODE + (steps & 1 ? 7 : 5) &&
	       run->s.regs.regs.rcx == PROBE_LOOP_COUNT - (steps + 1) / 2)
		steps++;
	probe_free(&p);
	return r ? r : steps;
}

/* Bit n set where probe(n, PROBE_STEPS) reaches PROBE_STEPS, for rings 0 and 3. */
static unsigned rings_where(int (*probe)(int ring, int max))
{
	unsigned rings = 0;
	for (int ring = 0; ring <= 3; ring += 3)
		if (probe(ring, PROBE_STEPS) >= PROBE_STEPS)
			rings |= 1u << ring;
	return rings;
}

unsigned probe_step_rings(void)
{
	return rings_where(probe_single_steps);
}

unsigned probe_breakpoint_rings(void)
{
	return rings_where(probe_breakpoint_hits);
}

/*
 * Hits of a hardware breakpoint on the loop's dec ecx, used as replay uses one: at each
 * hit the instruction is stepped over once, then the breakpoint is armed again. A hit
 * counts only if the loop moved on since the last one (ecx went down).
 */
int probe_breakpoint_hits(int ring, int max)
{
	struct probe p;
	int r = probe_make(&p, probe_loop_code, sizeof(probe_loop_code), ring);
	if (r)
		return r;
	const uint64_t bp = PROBE_CODE + 5;
	struct kvm_run *run = p.kvm.run;
	run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	uint64_t last = UINT64_MAX;
	int hits = 0;
	r = kvm_vcpu_set_debug(&p.kvm, KVM_DEBUG_HW_BP, bp);
	while (!r && hits < max && !kvm_vcpu_run(&p.kvm) && run->exit_reason == KVM_EXIT_DEBUG &&
	       run->s.regs.regs.rip == bp && run->s.regs.regs.rcx < last) {
		hits++;
		last = run->s.regs.regs.rcx;
		r = kvm_vcpu_set_debug(&p.kvm, KVM_DEBUG_STEP, 0);
		if (r || kvm_vcpu_run(&p.kvm) || run->exit_reason != KVM_EXIT_DEBUG)
			break;
		r = kvm_vcpu_set_debug(&p.kvm, KVM_DEBUG_HW_BP, bp);
	}
	probe_free(&p);
	return r ? r : hits;
}

int probe_sw_breakpoint_hits(int ring, int max)
{
	struct probe p;
	int r = probe_make(&p, probe_loop_code, sizeof(probe_loop_code), ring);
	if (r)
		return r;
	/* an INT3 over `dec ecx` and then over `jnz`, in turn: each hit moves the guest on
	 * by one instruction with no single-step (which some hosts lack in ring 3) */
	static const uint64_t at[2] = { PROBE_CODE + 5, PROBE_CODE + 7 };
	uint8_t *code = guest_mem_ptr(&p.mem, PROBE_CODE, sizeof(probe_loop_code));
	struct kvm_run *run = p.kvm.run;
	run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	int hits = 0;
	r = kvm_vcpu_set_debug(&p.kvm, KVM_DEBUG_SW_BP, 0);
	code[at[0] - PROBE_CODE] = X86_OP_INT3;
	while (!r && hits < max && !kvm_vcpu_run(&p.kvm) && run->exit_reason == KVM_EXIT_DEBUG &&
	       run->debug.arch.exception == X86_VEC_BP && run->s.regs.regs.rip == at[hits % 2]) {
		code[at[hits % 2] - PROBE_CODE] = probe_loop_code[at[hits % 2] - PROBE_CODE];
		hits++;
		code[at[hits % 2] - PROBE_CODE] = X86_OP_INT3;
	}
	probe_free(&p);
	return r ? r : hits;
}

/* RDTSC, then OUT of AL: the value detvm served must come back. */
static const uint8_t rdtsc_code[] = { 0x0f, 0x31, 0xe6, PROBE_PORT, 0xf4 };

int probe_tsc_exit(int ring)
{
	struct probe p;
	int r = probe_make_tsc(&p, rdtsc_code, sizeof(rdtsc_code), ring, TSC_EXIT_ON);
	if (r)
		return r;
	struct kvm_run *run = p.kvm.run;
	int ok = 0;
	if (!kvm_vcpu_run(&p.kvm) && run->exit_reason == KVM_EXIT_X86_RDMSR && run->msr.index == 0x10 &&
	    run->msr.reason == KVM_MSR_EXIT_REASON_TSC_DETVM) {
		run->msr.data = 0x5a;
		ok = !kvm_vcpu_run(&p.kvm) && run->exit_reason == KVM_EXIT_IO && run->io.port == PROBE_PORT &&
		     *((uint8_t *)run + run->io.data_offset) == 0x5a;
	}
	probe_free(&p);
	return ok;
}
