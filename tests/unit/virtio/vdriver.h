/*
 * A minimal virtio "driver" for unit tests: guest RAM in a malloc'd buffer, ring
 * layouts at fixed addresses, and helpers that program a virtio-mmio window through
 * the bus exactly as a guest would.
 */
#ifndef DETVM_TESTS_VIRTIO_VDRIVER_H
#define DETVM_TESTS_VIRTIO_VDRIVER_H

#include <stdint.h>

#include "devices/virtio/mmio.h"
#include "devices/virtio/virtq.h"
#include "vmm/bus.h"
#include "vmm/guest_mem.h"
#include "vmm/irq.h"

#define VD_RAM_SIZE (1u << 20)
#define VD_MMIO_BASE 0xd0000000ULL
#define VD_QNUM 16
/* queue i's rings live at VD_RING(i) + 0 (desc), + 0x400 (avail), + 0x800 (used) */
#define VD_RING(i) (0x1000ULL + 0x1000ULL * (i))
#define VD_DESC(i) VD_RING(i)
#define VD_AVAIL(i) (VD_RING(i) + 0x400)
#define VD_USED(i) (VD_RING(i) + 0x800)
#define VD_DATA 0x10000ULL	/* free space for buffers */

struct vdriver {
	uint8_t *ram;
	struct guest_mem mem;
	struct bus bus;
	struct irq_sink irq;
	int level;		/* current line level */
	unsigned edges;		/* rising edges seen */
	uint16_t avail_idx[4];
	uint16_t next_desc[4];	/* free descriptor slot per queue */
};

void vd_init(struct vdriver *d);
void vd_destroy(struct vdriver *d);

uint32_t vd_read32(struct vdriver *d, uint64_t reg);
void vd_write32(struct vdriver *d, uint64_t reg, uint32_t v);
/* Reset, negotiate VERSION_1 (+ extra feature bits), set up nq queues of VD_QNUM
 * entries, DRIVER_OK. Returns the final status register. */
uint32_t vd_setup(struct vdriver *d, unsigned nq, uint64_t extra_features);

/* Write descriptor slot idx of queue q (direct table). */
void vd_desc(struct vdriver *d, unsigned q, uint16_t idx, uint64_t addr, uint32_t len,
	     uint16_t flags, uint16_t next);
/* Build a chain from consecutive free slots: n segments {addr, len, write}. Returns head. */
struct vd_seg {
	uint64_t addr;
	uint32_t len;
	int write;
};
uint16_t vd_chain(struct vdriver *d, unsigned q, const struct vd_seg *segs, unsigned n);
/* Put head in the avail ring and bump avail idx (no notify). */
void vd_post(struct vdriver *d, unsigned q, uint16_t head);
void vd_notify(struct vdriver *d, unsigned q);
uint16_t vd_used_idx(struct vdriver *d, unsigned q);
/* Used ring element i of queue q. */
void vd_used_elem(struct vdriver *d, unsigned q, uint16_t i, uint32_t *id, uint32_t *len);

/* A virtq pointing at queue q's rings, for tests that exercise virtq directly. */
void vd_virtq(struct vdriver *d, unsigned q, struct virtq *vq);

#endif
