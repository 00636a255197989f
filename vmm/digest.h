/*
 * Digests of guest state for checkpoints: registers, and all of guest memory kept
 * up to date incrementally -- only pages written since the last digest are rehashed,
 * found through KVM's dirty log (guest writes) and guest_mem's own bitmap (VMM writes).
 */
#ifndef DETVM_VMM_DIGEST_H
#define DETVM_VMM_DIGEST_H

#include <stdint.h>

#include "vmm/guest_mem.h"
#include "vmm/kvm.h"
#include "vmm/observer.h"

/* Bump when a digest of the same state changes value: traces record it (TraceHeader). */
#define DIGEST_VERSION 1

struct mem_digest {
	uint64_t pages;
	uint64_t *page_hash;	/* one per page, slot order */
	uint64_t lane[2];	/* the memory digest before its final mix: sums over pages */
	uint64_t *kvm_dirty;	/* scratch bitmap for KVM_GET_DIRTY_LOG */
	/* pages KVM saw the guest write since mem_digest_forget_written(), one bit each */
	uint64_t *written;
	/* pages rehashed (changed, by the guest or the VMM) since mem_digest_forget_changed() */
	uint64_t *changed;
	int primed;		/* every page hashed at least once */
	uint64_t rehashed;	/* pages hashed so far, for statistics */
};

int mem_digest_init(struct mem_digest *d, const struct guest_mem *m);
void mem_digest_destroy(struct mem_digest *d);
/* Brings the page hashes up to date (needs KVM dirty logging on every slot when k is
 * not NULL) and writes the digest of registers and memory. 0 or -errno. */
int mem_digest_take(struct mem_digest *d, struct guest_mem *m, struct kvm_vm *k,
		    struct run_digest *out);
/* The memory half of that alone: no vCPU ioctl, for digests taken at many exits. */
int mem_digest_memory(struct mem_digest *d, struct guest_mem *m, struct kvm_vm *k,
		      uint8_t out[OBSERVER_DIGEST_BYTES]);
/* Fetches KVM's dirty log now: the pages join those the next digest rehashes and the
 * written set. 0 or -errno. */
int mem_digest_collect(struct mem_digest *d, struct guest_mem *m, struct kvm_vm *k);
void mem_digest_forget_written(struct mem_digest *d);
/* The written set: calls fn(page index, arg) for each page in it. */
void mem_digest_each_written(const struct mem_digest *d, void (*fn)(uint64_t page, void *arg), void *arg);
/* The changed set (replay checkpoints): every page rehashed since the last forget. */
void mem_digest_each_changed(const struct mem_digest *d, void (*fn)(uint64_t page, void *arg), void *arg);
void mem_digest_forget_changed(struct mem_digest *d);
/* The 64-bit hash used for pages and digests (exposed for tests). */
uint64_t digest_hash(const void *data, uint64_t len, uint64_t seed);

#endif
