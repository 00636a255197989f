#include "vmm/x86.h"

#include <errno.h>
#include <string.h>

#include "vmm/machine.h"

unsigned x86_cpu_mode(const struct kvm_sregs *s)
{
	if (!(s->cr0 & X86_CR0_PE))
		return 16;
	if ((s->efer & X86_EFER_LMA) && s->cs.l)
		return 64;
	return s->cs.db ? 32 : 16;
}

int x86_linear_to_gpa(struct machine *m, const struct kvm_sregs *s, uint64_t lin, uint64_t *gpa)
{
	*gpa = lin;
	if (!(s->cr0 & X86_CR0_PG))
		return 0;
	/* the vCPU's own page walk, in whatever paging mode the guest is */
	struct kvm_translation t = { .linear_address = lin };
	if (kvm_vcpu_translate(&m->kvm, &t) || !t.valid)
		return -1;
	*gpa = t.physical_address;
	return 0;
}

static int linear_to_gpa_cached(struct machine *m, const struct kvm_sregs *s, struct x86_tlb *t, uint64_t lin,
				uint64_t *gpa)
{
	if (!t || !(s->cr0 & X86_CR0_PG))
		return x86_linear_to_gpa(m, s, lin, gpa);
	uint64_t vpn = lin >> 12;
	unsigned i = vpn % X86_TLB_SIZE;
	if (!((t->valid >> i) & 1) || t->e[i].vpn != vpn || t->e[i].cr3 != s->cr3) {
		if (x86_linear_to_gpa(m, s, lin & ~(GUEST_PAGE_SIZE - 1), gpa))
			return -1;
		t->e[i].vpn = vpn;
		t->e[i].cr3 = s->cr3;
		t->e[i].gpn = *gpa >> 12;
		t->valid |= 1ULL << i;
	}
	*gpa = t->e[i].gpn << 12 | (lin & (GUEST_PAGE_SIZE - 1));
	return 0;
}

size_t x86_read_linear(struct machine *m, const struct kvm_sregs *s, struct x86_tlb *tlb, uint64_t lin,
		       void *buf, size_t n)
{
	size_t done = 0;
	while (done < n) {
		uint64_t gpa;
		if (linear_to_gpa_cached(m, s, tlb, lin + done, &gpa))
			break;
		/* a linear page maps to one physical page: read to its end, translate again */
		size_t k = GUEST_PAGE_SIZE - (gpa & (GUEST_PAGE_SIZE - 1));
		if (k > n - done)
			k = n - done;
		if (guest_mem_read(&m->mem, gpa, (uint8_t *)buf + done, k))
			break;
		done += k;
	}
	return done;
}

void x86_clear_tf_at(struct machine *m, const struct kvm_sregs *s, uint64_t lin)
{
	/* TF is bit 0 of the image's second byte: only that byte is translated and written,
	 * so an image across a page boundary is no special case */
	uint64_t gpa;
	uint8_t *p = x86_linear_to_gpa(m, s, lin + 1, &gpa) ? NULL : guest_mem_ptr(&m->mem, gpa, 1);
	if (!p || !(*p & (X86_RFLAGS_TF >> 8)))
		return;
	*p &= (uint8_t)~(X86_RFLAGS_TF >> 8);
	guest_mem_mark_dirty(&m->mem, gpa, 1);
}

void x86_segment_from_descriptor(const uint8_t d[8], uint16_t selector, struct kvm_segment *seg)
{
	memset(seg, 0, sizeof(*seg));
	seg->selector = selector;
	seg->base = d[2] | (uint32_t)d[3] << 8 | (uint32_t)d[4] << 16 | (uint32_t)d[7] << 24;
	seg->limit = d[0] | (uint32_t)d[1] << 8 | (uint32_t)(d[6] & 15) << 16;
	seg->type = d[5] & 15;
	seg->s = (d[5] >> 4) & 1;
	seg->dpl = (d[5] >> 5) & 3;
	seg->present = d[5] >> 7;
	seg->avl = (d[6] >> 4) & 1;
	seg->l = (d[6] >> 5) & 1;
	seg->db = (d[6] >> 6) & 1;
	seg->g = d[6] >> 7;
	if (seg->g)
		seg->limit = seg->limit << 12 | 0xfff;
}

int x86_idt_gate(struct machine *m, const struct kvm_sregs *s, struct x86_tlb *tlb, unsigned vector,
		 struct x86_gate *g)
{
	uint8_t e[16];
	memset(g, 0, sizeof(*g));
	if (!(s->cr0 & X86_CR0_PE)) {	/* real mode: the vector table holds offset:segment */
		g->in_limit = 4 * vector + 3 <= s->idt.limit;
		if (x86_read_linear(m, s, tlb, s->idt.base + 4 * vector, e, 4) != 4)
			return -EFAULT;
		g->selector = (uint16_t)(e[2] | e[3] << 8);
		g->handler = ((uint64_t)g->selector << 4) + (e[0] | e[1] << 8);
		g->present = 1;
		return 0;
	}
	unsigned size = s->efer & X86_EFER_LMA ? 16 : 8;
	g->in_limit = size * vector + size - 1 <= s->idt.limit;
	if (x86_read_linear(m, s, tlb, s->idt.base + size * vector, e, size) != size)
		return -EFAULT;
	uint64_t off = (uint64_t)(e[0] | e[1] << 8) | (uint64_t)(e[6] | e[7] << 8) << 16;
	g->selector = (uint16_t)(e[2] | e[3] << 8);
	g->present = e[5] >> 7;
	if (size == 16) {
		g->ist = e[4] & 7;
		g->handler = off | (uint64_t)(e[8] | e[9] << 8 | e[10] << 16 | (uint32_t)e[11] << 24) << 32;
		return 0;
	}
	/* segmentation applies outside long mode: the handler is relative to its code
	 * segment, whose base only the GDT knows */
	uint8_t d[8];
	struct kvm_segment cs;
	if (x86_read_linear(m, s, tlb, s->gdt.base + (g->selector & ~7u), d, 8) != 8)
		return -EFAULT;
	x86_segment_from_descriptor(d, g->selector, &cs);
	g->handler = (off + cs.base) & 0xffffffffULL;
	return 0;
}
