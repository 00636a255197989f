#include "tests/unit/virtio/vdriver.h"

#include <stdlib.h>
#include <string.h>

static void set_level(void *opaque, unsigned irq, int level)
{
	struct vdriver *d = opaque;

	if (level && !d->level)
		d->edges++;
	d->level = level;
}

void vd_init(struct vdriver *d)
{
	memset(d, 0, sizeof(*d));
	d->ram = aligned_alloc(4096, VD_RAM_SIZE);
	memset(d->ram, 0, VD_RAM_SIZE);
	guest_mem_wrap(&d->mem, d->ram, VD_RAM_SIZE);
	bus_init(&d->bus, "mmio");
	d->irq.set_level = set_level;
	d->irq.opaque = d;
}

void vd_destroy(struct vdriver *d)
{
	free(d->ram);
	d->ram = NULL;
}

uint32_t vd_read32(struct vdriver *d, uint64_t reg)
{
	uint32_t v = 0;

	bus_read(&d->bus, VD_MMIO_BASE + reg, (uint8_t *)&v, 4);
	return v;
}

void vd_write32(struct vdriver *d, uint64_t reg, uint32_t v)
{
	bus_write(&d->bus, VD_MMIO_BASE + reg, (const uint8_t *)&v, 4);
}

uint32_t vd_setup(struct vdriver *d, unsigned nq, uint64_t extra)
{
	uint64_t feat = 1ULL << VIRTIO_F_VERSION_1 | extra;

	vd_write32(d, VIRTIO_MMIO_STATUS, 0);
	vd_write32(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vd_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vd_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)feat);
	vd_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vd_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(feat >> 32));
	vd_write32(d, VIRTIO_MMIO_STATUS,
		   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < nq; q++) {
		memset(d->ram + VD_RING(q), 0, 0x1000);
		d->avail_idx[q] = 0;
		d->next_desc[q] = 0;
		vd_write32(d, VIRTIO_MMIO_QUEUE_SEL, q);
		vd_write32(d, VIRTIO_MMIO_QUEUE_NUM, VD_QNUM);
		vd_write32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)VD_DESC(q));
		vd_write32(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
		vd_write32(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)VD_AVAIL(q));
		vd_write32(d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
		vd_write32(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)VD_USED(q));
		vd_write32(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
		vd_write32(d, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	vd_write32(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
						  VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	return vd_read32(d, VIRTIO_MMIO_STATUS);
}

void vd_desc(struct vdriver *d, unsigned q, uint16_t idx, uint64_t addr, uint32_t len,
	     uint16_t flags, uint16_t next)
{
	uint8_t *p = d->ram + VD_DESC(q) + 16ULL * idx;

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

uint16_t vd_chain(struct vdriver *d, unsigned q, const struct vd_seg *segs, unsigned n)
{
	uint16_t head = d->next_desc[q] % VD_QNUM;

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (head + i) % VD_QNUM;
		uint16_t flags = (segs[i].write ? VIRTQ_DESC_F_WRITE : 0) |
				 (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);

		vd_desc(d, q, idx, segs[i].addr, segs[i].len, flags, (idx + 1) % VD_QNUM);
	}
	d->next_desc[q] = (head + n) % VD_QNUM;
	return head;
}

void vd_post(struct vdriver *d, unsigned q, uint16_t head)
{
	uint16_t idx = d->avail_idx[q];

	memcpy(d->ram + VD_AVAIL(q) + 4 + 2 * (idx % VD_QNUM), &head, 2);
	d->avail_idx[q] = ++idx;
	memcpy(d->ram + VD_AVAIL(q) + 2, &idx, 2);
}

void vd_notify(struct vdriver *d, unsigned q)
{
	vd_write32(d, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

uint16_t vd_used_idx(struct vdriver *d, unsigned q)
{
	uint16_t v;

	memcpy(&v, d->ram + VD_USED(q) + 2, 2);
	return v;
}

void vd_used_elem(struct vdriver *d, unsigned q, uint16_t i, uint32_t *id, uint32_t *len)
{
	const uint8_t *p = d->ram + VD_USED(q) + 4 + 8 * (i % VD_QNUM);

	memcpy(id, p, 4);
	memcpy(len, p + 4, 4);
}

void vd_virtq(struct vdriver *d, unsigned q, struct virtq *vq)
{
	memset(vq, 0, sizeof(*vq));
	vq->num = VD_QNUM;
	vq->ready = 1;
	vq->desc_gpa = VD_DESC(q);
	vq->avail_gpa = VD_AVAIL(q);
	vq->used_gpa = VD_USED(q);
	vq->name = "test.q";
}
