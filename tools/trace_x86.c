/*
 * The x86 side of `detvm trace` (trace_insn.h): positions and which registers changed.
 * Pure functions of register state.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tools/trace_insn.h"

int trace_pos_parse(const char *s, struct trace_pos *p)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long e = strtoull(s, &end, 10), n = 0;
	if (errno)
		return -EINVAL;
	if (*end == '+') {
		const char *k = end + 1;
		if (*k < '0' || *k > '9')
			return -EINVAL;
		n = strtoull(k, &end, 10);
		if (errno)
			return -EINVAL;
	}
	if (*end)
		return -EINVAL;
	p->exit = e;
	p->step = n;
	return 0;
}

int trace_pos_cmp(const struct trace_pos *a, const struct trace_pos *b)
{
	if (a->exit != b->exit)
		return a->exit < b->exit ? -1 : 1;
	return a->step < b->step ? -1 : a->step > b->step;
}

/* The registers --regs compares, in the order they are written. */
static const struct {
	const char *name;
	uint8_t sregs;		/* in kvm_sregs, else kvm_regs */
	uint8_t size;
	uint16_t off;
} reg_table[TRACE_NREGS] = {
#define R(n) { #n, 0, 8, offsetof(struct kvm_regs, n) }
	R(rax), R(rbx), R(rcx), R(rdx), R(rsi), R(rdi), R(rsp), R(rbp), R(r8), R(r9), R(r10), R(r11),
	R(r12), R(r13), R(r14), R(r15), R(rflags),
#undef R
#define S(n, f, sz) { n, 1, sz, offsetof(struct kvm_sregs, f) }
	S("cs", cs.selector, 2), S("ss", ss.selector, 2), S("ds", ds.selector, 2), S("es", es.selector, 2),
	S("fs", fs.selector, 2), S("gs", gs.selector, 2), S("fs_base", fs.base, 8), S("gs_base", gs.base, 8),
	S("cr0", cr0, 8), S("cr2", cr2, 8), S("cr3", cr3, 8), S("cr4", cr4, 8), S("efer", efer, 8),
#undef S
};

static uint64_t reg_get(const struct kvm_regs *r, const struct kvm_sregs *s, unsigned i)
{
	uint64_t v = 0;
	memcpy(&v, (const uint8_t *)(reg_table[i].sregs ? (const void *)s : (const void *)r) + reg_table[i].off,
	       reg_table[i].size);
	/* single-stepping sets these: not the guest's doing */
	return i == 16 ? v & ~X86_RFLAGS_STEPPING : v;
}

void trace_changed_regs(struct trace_record *rec, const struct kvm_regs *r, const struct kvm_sregs *s,
			const struct kvm_regs *last_r, const struct kvm_sregs *last_s)
{
	for (unsigned i = 0; i < TRACE_NREGS; i++) {
		uint64_t v = reg_get(r, s, i);
		if (last_r && v == reg_get(last_r, last_s, i))
			continue;
		rec->reg_name[rec->nregs] = reg_table[i].name;
		rec->reg_value[rec->nregs++] = v;
	}
}
