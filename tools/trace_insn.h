/*
 * `detvm trace`: an instruction tracer riding on an exact replay (vmm/tracer.h). Within a
 * window of positions it single-steps every instruction and writes one record each:
 * position, RIP, CPL, bytes, disassembly (Capstone), the effective address of each memory
 * operand and, with regs, the registers that changed since the previous record.
 */
#ifndef DETVM_TOOLS_TRACE_INSN_H
#define DETVM_TOOLS_TRACE_INSN_H

#include "tools/capstone_lib.h"
#include <stdint.h>
#include <stdio.h>

#include "vmm/machine.h"
#include "vmm/x86.h"

/* A position: exit number, and instructions single-stepped since that exit. */
struct trace_pos {
	uint64_t exit;
	uint64_t step;
};

/* "EXIT" or "EXIT+STEPS" (decimal); 0, or -EINVAL for anything else. */
int trace_pos_parse(const char *s, struct trace_pos *p);
int trace_pos_cmp(const struct trace_pos *a, const struct trace_pos *b);

#define TRACE_MAX_MEM 4
#define TRACE_NREGS 30

/* One traced instruction, as the formats write it. */
struct trace_record {
	struct trace_pos pos;
	uint64_t rip;
	unsigned cpl;
	unsigned mode;			/* 16, 32 or 64 */
	uint8_t bytes[16];
	unsigned nbytes;		/* 0: not readable at RIP */
	const char *mnemonic;		/* NULL: the bytes do not decode */
	const char *operands;
	uint64_t mem[TRACE_MAX_MEM];	/* linear addresses of memory operands */
	unsigned nmem;
	int event;			/* the interrupt vector this entry delivered, or TRACER_* */
	int loaded;			/* replay loaded the state of a step point just before: the
					 * instructions from the previous exit to it did not run */
	int unstepped;			/* the guest goes on in this ring, which the host does not
					 * single-step, or into a ring-0 handler it cannot stop at
					 * (no breakpoint): what it runs there is not traced; else -1 */
	int with_regs;			/* --regs: nregs and the names below are given */
	unsigned nregs;			/* changed registers */
	const char *reg_name[TRACE_NREGS];
	uint64_t reg_value[TRACE_NREGS];
};

struct trace_format {
	const char *name;
	void (*begin)(FILE *f, int regs);
	void (*record)(FILE *f, const struct trace_record *r);
};

/* trace_x86.c: adds to rec the registers (of TRACE_NREGS) whose values differ from last (all when
 * last_r is NULL); RFLAGS without TF and RF, which single-stepping sets. */
void trace_changed_regs(struct trace_record *rec, const struct kvm_regs *r, const struct kvm_sregs *s,
			const struct kvm_regs *last_r, const struct kvm_sregs *last_s);

/* By name ("text", "jsonl"), NULL if none. */
const struct trace_format *trace_format_find(const char *name);

struct insn_tracer {
	struct run_tracer hook;
	struct trace_pos from, to;
	int has_to;
	int regs;
	const struct trace_format *fmt;
	FILE *out;
	csh cs[3];			/* 16-, 32- and 64-bit decoders */
	cs_insn *insn;
	struct trace_pos pos;		/* of the next stop */
	int open;			/* inside the window */
	int done;			/* past it */
	/* the instruction at the previous stop, to undo what single-stepping leaks into the
	 * guest (see trace_insn.c) */
	struct {
		int valid;
		uint64_t rip, len;
		uint16_t cs;
		int pushf, syscall, call, hlt;
		int paging;	/* it may have changed the guest's mappings */
		int flags;	/* it may have cleared TF (so KVM must set it again) */
		uint64_t target;	/* a direct jump's or call's, else 0 */
		int gate;	/* the vector of the interrupt gate it goes through, else -1 */
	} prev;
	int event;			/* what the next stop reports as delivered */
	int must_apply;			/* the next stop sets the debug state again */
	unsigned step_rings;		/* where this host single-steps: bit n for ring n */
	unsigned bp_rings;		/* where its hardware breakpoints work: bit n for ring n */
	uint64_t states_loaded;		/* m->stats.states_loaded at the previous entry */
	int loaded;			/* the next record comes after a loaded state */
	/* instruction fetches come back to the same few pages: reads (never writes) go
	 * through it, flushed after an instruction that may change the guest's mappings
	 * (prev.paging) and after the guest ran unwatched */
	struct x86_tlb tlb;
	struct kvm_regs last_regs;	/* at the previous record, for --regs */
	struct kvm_sregs last_sregs;
	int have_last;
	uint64_t traced, started_ns, ended_ns;
	uint64_t *progress_ns;		/* the replay's no-exit watchdog, credited while stepping */
	uint64_t credit_ns;
	int failed;			/* an exit code once it failed */
};

/* 0, or -1 after printing why (Capstone refused). */
int insn_tracer_init(struct insn_tracer *t, const struct trace_format *fmt, FILE *out);
void insn_tracer_destroy(struct insn_tracer *t);

#endif
