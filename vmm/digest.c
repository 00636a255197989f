#include "vmm/digest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

/* Multiply-xorshift over 64-bit words: fast enough to hash all of RAM once at the first
 * checkpoint; a mismatch detector, not a cryptographic hash. */
static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

uint64_t digest_hash(const void *data, uint64_t len, uint64_t seed)
{
	const uint8_t *p = data;
	uint64_t a = seed ^ 0x9e3779b97f4a7c15ULL, b = len * 0x94d049bb133111ebULL;
	uint64_t i = 0;
	for (; i + 16 <= len; i += 16) {
		uint64_t x, y;
		memcpy(&x, p + i, 8);
		memcpy(&y, p + i + 8, 8);
		a = (a ^ x) * 0x9fb21c651e98df25ULL;
		b = (b ^ y) * 0xc2b2ae3d27d4eb4fULL;
		a ^= a >> 29;
		b ^= b >> 31;
	}
	for (; i < len; i++)
		a = (a ^ p[i]) * 0x100000001b3ULL;
	return mix(a ^ mix(b));
}

int mem_digest_init(struct mem_digest *d, const struct guest_mem *m)
{
	memset(d, 0, sizeof(*d));
	d->pages = m->size / GUEST_PAGE_SIZE;
	d->page_hash = calloc(d->pages, sizeof(uint64_t));
	d->kvm_dirty = calloc((d->pages + 63) / 64 + 1, sizeof(uint64_t));
	d->written = calloc((d->pages + 63) / 64 + 1, sizeof(uint64_t));
	d->changed = calloc((d->pages + 63) / 64 + 1, sizeof(uint64_t));
	if (!d->page_hash || !d->kvm_dirty || !d->written || !d->changed) {
		mem_digest_destroy(d);
		return -ENOMEM;
	}
	return 0;
}

void mem_digest_destroy(struct mem_digest *d)
{
	free(d->page_hash);
	free(d->kvm_dirty);
	free(d->written);
	free(d->changed);
	d->page_hash = d->kvm_dirty = d->written = d->changed = NULL;
}

/*
 * A page's share of each lane of the memory digest. The lanes are sums of these, so a
 * rehashed page updates them in O(1) and a digest costs O(pages written), not O(RAM):
 * replay takes one at every breakpoint stop on the way to a landmark.
 */
static uint64_t lane_term(uint64_t page, uint64_t page_hash, int lane)
{
	static const uint64_t k[2] = { 0x9e3779b97f4a7c15ULL, 0xd6e8feb86659fd93ULL };
	return mix(page_hash ^ mix((page + 1) * k[lane]));
}

static void set_page_hash(struct mem_digest *d, uint64_t page, uint64_t h)
{
	for (int lane = 0; lane < 2; lane++)
		d->lane[lane] += lane_term(page, h, lane) - lane_term(page, d->page_hash[page], lane);
	d->page_hash[page] = h;
}

static void rehash(struct mem_digest *d, const struct guest_mem *m, uint64_t page)
{
	set_page_hash(d, page, digest_hash(m->base + page * GUEST_PAGE_SIZE, GUEST_PAGE_SIZE, 0));
	d->rehashed++;
}

/* Pages KVM saw the guest write since the last call, merged into the VMM's bitmap (to
 * rehash) and the written set. */
int mem_digest_collect(struct mem_digest *d, struct guest_mem *m, struct kvm_vm *k)
{
	uint64_t first = 0;
	for (unsigned s = 0; s < m->nslots; s++) {
		uint64_t n = m->slots[s].size / GUEST_PAGE_SIZE;
		memset(d->kvm_dirty, 0, ((n + 63) / 64) * sizeof(uint64_t));
		struct kvm_dirty_log log = { .slot = s, .dirty_bitmap = d->kvm_dirty };
		if (ioctl(k->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
			return -errno;
		for (uint64_t w = 0; w < (n + 63) / 64; w++) {
			uint64_t bits = d->kvm_dirty[w];
			while (bits) {
				uint64_t pg = first + w * 64 + (uint64_t)__builtin_ctzll(bits);
				bits &= bits - 1;
				m->dirty[pg / 64] |= 1ULL << (pg % 64);
				d->written[pg / 64] |= 1ULL << (pg % 64);
				if (m->also)
					m->also[pg / 64] |= 1ULL << (pg % 64);
			}
		}
		first += n;
	}
	return 0;
}

static void regs_digest(struct kvm_vm *k, uint8_t out[OBSERVER_DIGEST_BYTES])
{
	struct kvm_regs r;
	struct kvm_sregs s;
	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	if (k) {
		kvm_vcpu_get_regs(k, &r);
		kvm_vcpu_get_sregs(k, &s);
	}
	/* the architectural state that decides the future; no host-chosen fields */
	uint64_t v[] = { s.cr0, s.cr2, s.cr3, s.cr4, s.efer, s.cs.selector, s.ss.selector,
			 s.ds.selector, s.es.selector, s.fs.base, s.gs.base, s.gdt.base, s.idt.base,
			 s.tr.base, s.gdt.limit, s.idt.limit };
	uint64_t h1 = digest_hash(&r, sizeof(r), 1), h2 = digest_hash(v, sizeof(v), 2);
	memcpy(out, &h1, 8);
	memcpy(out + 8, &h2, 8);
}

/*
 * The first digest needs every page, but a page of the anonymous mapping that was never
 * touched is not resident and reads as zeros: its hash is known without reading it.
 * That keeps the first checkpoint from walking all of guest RAM.
 */
static void prime(struct mem_digest *d, struct guest_mem *m)
{
	unsigned char vec[4096];
	static const uint8_t zeros[GUEST_PAGE_SIZE];
	uint64_t zero = digest_hash(zeros, GUEST_PAGE_SIZE, 0);
	/* the lanes start as if every page hashed 0; each page then gets its real hash */
	d->lane[0] = d->lane[1] = 0;
	for (uint64_t pg = 0; pg < d->pages; pg++) {
		d->page_hash[pg] = 0;
		for (int lane = 0; lane < 2; lane++)
			d->lane[lane] += lane_term(pg, 0, lane);
	}
	for (uint64_t pg = 0; pg < d->pages; pg += sizeof(vec)) {
		uint64_t n = d->pages - pg < sizeof(vec) ? d->pages - pg : sizeof(vec);
		if (mincore(m->base + pg * GUEST_PAGE_SIZE, n * GUEST_PAGE_SIZE, vec) < 0)
			memset(vec, 1, n);	/* cannot tell: hash them all */
		for (uint64_t i = 0; i < n; i++) {
			if (vec[i] & 1) {
				m->dirty[(pg + i) / 64] |= 1ULL << ((pg + i) % 64);
				continue;
			}
			set_page_hash(d, pg + i, zero);
		}
	}
	d->primed = 1;
}

int mem_digest_memory(struct mem_digest *d, struct guest_mem *m, struct kvm_vm *k,
		      uint8_t out[OBSERVER_DIGEST_BYTES])
{
	if (!m->dirty)
		return -EINVAL;
	if (k) {
		int r = mem_digest_collect(d, m, k);
		if (r)
			return r;
	}
	if (!d->primed)
		prime(d, m);
	for (uint64_t w = 0; w < (d->pages + 63) / 64; w++) {
		uint64_t bits = m->dirty[w];
		m->dirty[w] = 0;
		d->changed[w] |= bits;
		while (bits) {
			uint64_t pg = w * 64 + (uint64_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			if (pg < d->pages)
				rehash(d, m, pg);
		}
	}
	uint64_t h1 = mix(d->lane[0] ^ d->pages), h2 = mix(d->lane[1] + d->pages);
	memcpy(out, &h1, 8);
	memcpy(out + 8, &h2, 8);
	return 0;
}

void mem_digest_forget_written(struct mem_digest *d)
{
	memset(d->written, 0, ((d->pages + 63) / 64) * sizeof(uint64_t));
}

void mem_digest_forget_changed(struct mem_digest *d)
{
	memset(d->changed, 0, ((d->pages + 63) / 64) * sizeof(uint64_t));
}

void mem_digest_each_changed(const struct mem_digest *d, void (*fn)(uint64_t page, void *arg), void *arg)
{
	for (uint64_t w = 0; w < (d->pages + 63) / 64; w++)
		for (uint64_t bits = d->changed[w]; bits; bits &= bits - 1)
			fn(w * 64 + (uint64_t)__builtin_ctzll(bits), arg);
}

void mem_digest_each_written(const struct mem_digest *d, void (*fn)(uint64_t page, void *arg), void *arg)
{
	for (uint64_t w = 0; w < (d->pages + 63) / 64; w++)
		for (uint64_t bits = d->written[w]; bits; bits &= bits - 1)
			fn(w * 64 + (uint64_t)__builtin_ctzll(bits), arg);
}

int mem_digest_take(struct mem_digest *d, struct guest_mem *m, struct kvm_vm *k,
		    struct run_digest *out)
{
	int r = mem_digest_memory(d, m, k, out->mem);
	if (!r)
		regs_digest(k, out->regs);
	return r;
}
