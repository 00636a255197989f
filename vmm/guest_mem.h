/*
 * Guest physical memory as the VMM sees it. RAM starts at GPA 0; above 3 GiB it skips
 * the PCI/MMIO hole and continues at 4 GiB. Device models reach guest memory only
 * through these checked accessors, so a guest-supplied address can never take the VMM
 * outside the mapping.
 */
#ifndef DETVM_VMM_GUEST_MEM_H
#define DETVM_VMM_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_HOLE_START 0xC0000000ULL	/* MMIO devices live between here and 4 GiB */
#define GUEST_MEM_HIGH_START 0x100000000ULL
#define GUEST_PAGE_SIZE 4096ULL

struct guest_mem_slot {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
};

struct guest_mem {
	uint8_t *base;		/* one host mapping; the high slot follows the low one */
	uint64_t size;		/* total RAM bytes */
	unsigned nslots;
	struct guest_mem_slot slots[2];
	/* Pages the VMM itself wrote (device DMA, loaders): KVM's dirty log misses those. */
	uint64_t *dirty;	/* one bit per page of RAM, in slot order; NULL: not tracked */
	/* A second consumer's record of writes (FT re-protection's pre-copy): pages the VMM
	 * wrote, and those KVM's dirty log reported (vmm/digest.c), until it clears them;
	 * NULL: none. The digests' `dirty` is cleared by theirs, not by it. */
	uint64_t *also;
	/* Pages the VMM wrote since the recorder's step shadow last copied them
	 * (vmm/step_shadow.h); NULL: none. */
	uint64_t *shadow_stale;
};

/* Maps size bytes (a multiple of 4 KiB, at least 1 MiB). 0 or -errno. */
int guest_mem_init(struct guest_mem *m, uint64_t size);
/* Wraps memory the caller owns (unit tests): no hole handling beyond what size implies. */
void guest_mem_wrap(struct guest_mem *m, void *host, uint64_t size);
void guest_mem_destroy(struct guest_mem *m);
int guest_mem_track_dirty(struct guest_mem *m);

/* Host pointer for [gpa, gpa+len) if it lies inside one slot, else NULL. */
void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);
/* Copies; -EFAULT if any byte is outside RAM (nothing is copied then). */
int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *buf, uint64_t len);
int guest_mem_write(struct guest_mem *m, uint64_t gpa, const void *buf, uint64_t len);
/* The GPA of the page at index `page` of the mapping (slot order, as dirty bitmaps count). */
uint64_t guest_mem_page_gpa(const struct guest_mem *m, uint64_t page);
/* Record a VMM write made through guest_mem_ptr(). */
void guest_mem_mark_dirty(struct guest_mem *m, uint64_t gpa, uint64_t len);

#endif
