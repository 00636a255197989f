// SPDX-License-Identifier: MIT
/*
 * Minimal virtio-mmio (version 2 / "modern") drivers for one block and one
 * network device, with split virtqueues.
 *
 * Requests are synchronous and use fixed descriptor slots, so the whole
 * driver state is a few indices.  Data descriptors point straight at the
 * ring-3 buffer (identity mapping: virtual == physical), which avoids copying
 * in the emulated ring 0.  Completion is found by polling the used ring,
 * sleeping with `sti; hlt` in between: QEMU's microvm routes virtio-mmio
 * interrupts to an IOAPIC we do not program, so the PIT tick must be enough;
 * the device interrupt, where it reaches the 8259A (detvm), only wakes us
 * sooner.
 */
#include "kernel.h"

/* virtio-mmio registers */
#define VM_MAGIC	0x000
#define VM_VERSION	0x004
#define VM_DEVICE_ID	0x008
#define VM_DEV_FEAT	0x010
#define VM_DEV_FEAT_SEL	0x014
#define VM_DRV_FEAT	0x020
#define VM_DRV_FEAT_SEL	0x024
#define VM_QUEUE_SEL	0x030
#define VM_QUEUE_MAX	0x034
#define VM_QUEUE_NUM	0x038
#define VM_QUEUE_READY	0x044
#define VM_QUEUE_NOTIFY	0x050
#define VM_IRQ_STATUS	0x060
#define VM_IRQ_ACK	0x064
#define VM_STATUS	0x070
#define VM_DESC_LO	0x080
#define VM_DESC_HI	0x084
#define VM_AVAIL_LO	0x090
#define VM_AVAIL_HI	0x094
#define VM_USED_LO	0x0a0
#define VM_USED_HI	0x0a4
#define VM_CONFIG	0x100

#define ST_ACK		1
#define ST_DRIVER	2
#define ST_DRIVER_OK	4
#define ST_FEATURES_OK	8

#define VIRTIO_ID_NET	1
#define VIRTIO_ID_BLK	2

#define DESC_NEXT	1
#define DESC_WRITE	2

#define QMAX		8	/* entries per queue: enough for sync requests */
#define RXBUF		2048	/* >= 12-byte header + 1514-byte frame */
#define NET_HDR		12	/* virtio_net_hdr incl. num_buffers (VERSION_1) */
#define TIMEOUT		300	/* ticks (3 s at 100 Hz) before giving up */

struct vdesc {
	u64 addr;
	u32 len;
	u16 flags, next;
};

struct vavail {
	u16 flags, idx;
	u16 ring[QMAX];
};

struct vused {
	u16 flags, idx;
	struct {
		u32 id, len;
	} ring[QMAX];
};

/* One 4 KiB page per queue: descriptors, then avail, then used. */
struct vqpage {
	struct vdesc desc[QMAX];
	struct vavail avail __attribute__((aligned(256)));
	struct vused used __attribute__((aligned(256)));
} __attribute__((aligned(4096)));

struct vq {
	struct vqpage *p;
	u16 num, avail_idx, last_used;
};

struct vdev {
	u64 base;
	int irq;
	int nq;
	struct vq q[2];
};

static struct vqpage qpages[3];
static struct vdev blk, net;
static int have_blk, have_net;
static u8 rxbuf[QMAX][RXBUF] __attribute__((aligned(64)));
static u8 net_hdr[NET_HDR];
static struct {
	u32 type, reserved;
	u64 sector;
} blk_hdr;
static volatile u8 blk_status;
static u8 scratch[64];

static u32 rd(struct vdev *d, u32 off)
{
	return mmio_read32(d->base + off);
}

static void wr(struct vdev *d, u32 off, u32 v)
{
	mmio_write32(d->base + off, v);
}

static int queue_init(struct vdev *d, int i)
{
	struct vq *q = &d->q[i];
	u32 max;
	u64 a;

	wr(d, VM_QUEUE_SEL, i);
	max = rd(d, VM_QUEUE_MAX);
	if (max == 0)
		return -1;
	q->num = QMAX;
	while (q->num > max)
		q->num >>= 1;
	q->avail_idx = 0;
	q->last_used = 0;
	memset(q->p, 0, sizeof(*q->p));
	wr(d, VM_QUEUE_NUM, q->num);
	a = (u64)q->p->desc;
	wr(d, VM_DESC_LO, (u32)a);
	wr(d, VM_DESC_HI, (u32)(a >> 32));
	a = (u64)&q->p->avail;
	wr(d, VM_AVAIL_LO, (u32)a);
	wr(d, VM_AVAIL_HI, (u32)(a >> 32));
	a = (u64)&q->p->used;
	wr(d, VM_USED_LO, (u32)a);
	wr(d, VM_USED_HI, (u32)(a >> 32));
	wr(d, VM_QUEUE_READY, 1);
	return 0;
}

/* Make head visible to the device and kick queue qi. */
static void submit(struct vdev *d, int qi, u16 head)
{
	struct vq *q = &d->q[qi];

	q->p->avail.ring[q->avail_idx % q->num] = head;
	barrier();
	q->avail_idx++;
	*(volatile u16 *)&q->p->avail.idx = q->avail_idx;
	barrier();
	wr(d, VM_QUEUE_NOTIFY, qi);
}

static int used_pending(struct vq *q)
{
	barrier();
	return *(volatile u16 *)&q->p->used.idx != q->last_used;
}

/* Wait for one completion on q; devices that finish during the notify exit
 * (detvm) cost no hlt at all. */
static int wait_used(struct vq *q)
{
	u64 end = ticks + TIMEOUT;

	for (int spin = 0; spin < 16; spin++)
		if (used_pending(q))
			goto done;
	while (!used_pending(q)) {
		if (ticks >= end)
			return -1;
		__asm__ __volatile__("sti; hlt; cli" ::: "memory");
	}
done:
	q->last_used++;
	return 0;
}

static void net_fill_rx(void)
{
	struct vq *q = &net.q[0];

	for (u16 i = 0; i < q->num; i++) {
		q->p->desc[i].addr = (u64)rxbuf[i];
		q->p->desc[i].len = RXBUF;
		q->p->desc[i].flags = DESC_WRITE;
		q->p->avail.ring[i] = i;
	}
	barrier();
	q->avail_idx = q->num;
	*(volatile u16 *)&q->p->avail.idx = q->avail_idx;
	wr(&net, VM_QUEUE_NOTIFY, 0);
}

/* Reset and bring up d with only VIRTIO_F_VERSION_1 (bit 32) negotiated. */
static int dev_init(struct vdev *d, u32 id)
{
	u32 st;

	wr(d, VM_STATUS, 0);
	for (int i = 0; i < 1000 && rd(d, VM_STATUS); i++)
		;
	wr(d, VM_STATUS, ST_ACK);
	wr(d, VM_STATUS, ST_ACK | ST_DRIVER);
	wr(d, VM_DEV_FEAT_SEL, 1);
	if (!(rd(d, VM_DEV_FEAT) & 1))
		return -1;	/* legacy-only device */
	wr(d, VM_DRV_FEAT_SEL, 0);
	wr(d, VM_DRV_FEAT, 0);
	wr(d, VM_DRV_FEAT_SEL, 1);
	wr(d, VM_DRV_FEAT, 1);
	wr(d, VM_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
	st = rd(d, VM_STATUS);
	if (!(st & ST_FEATURES_OK))
		return -1;
	for (int i = 0; i < d->nq; i++)
		if (queue_init(d, i))
			return -1;
	if (id == VIRTIO_ID_NET)
		net_fill_rx();
	wr(d, VM_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
	return 0;
}

/* Parse a number like Linux's memparse: decimal or 0x-hex, K/M/G suffix. */
static const char *parse_num(const char *s, u64 *out)
{
	u64 v = 0, base = 10;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (;; s++) {
		int c = *s, d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			break;
		v = v * base + d;
	}
	if (*s == 'K' || *s == 'k')
		v <<= 10, s++;
	else if (*s == 'M' || *s == 'm')
		v <<= 20, s++;
	else if (*s == 'G' || *s == 'g')
		v <<= 30, s++;
	*out = v;
	return s;
}

static void probe_one(u64 base, u64 irq)
{
	struct vdev tmp = { .base = base, .irq = (int)irq };
	struct vdev *d;
	u32 id;

	if (rd(&tmp, VM_MAGIC) != 0x74726976 || rd(&tmp, VM_VERSION) != 2)
		return;
	id = rd(&tmp, VM_DEVICE_ID);
	if (id == VIRTIO_ID_BLK && !have_blk) {
		d = &blk;
		*d = tmp;
		d->nq = 1;
		d->q[0].p = &qpages[0];
	} else if (id == VIRTIO_ID_NET && !have_net) {
		d = &net;
		*d = tmp;
		d->nq = 2;
		d->q[0].p = &qpages[1];
		d->q[1].p = &qpages[2];
	} else {
		return;
	}
	if (dev_init(d, id)) {
		kputs("INFO virtio: device init failed at ");
		kputhex(base);
		kputs("\n");
		return;
	}
	if (id == VIRTIO_ID_BLK)
		have_blk = 1;
	else
		have_net = 1;
	kputs(id == VIRTIO_ID_BLK ? "INFO virtio-blk at " : "INFO virtio-net at ");
	kputhex(base);
	kputs(" irq ");
	kputhex(irq);
	kputs("\n");
	if (irq > 0 && irq < 16 && irq != 2)
		pic_unmask((int)irq);
}

/* Find every `virtio_mmio.device=<size>@<base>:<irq>` on the command line. */
void virtio_probe(const char *s)
{
	static const char key[] = "virtio_mmio.device=";

	for (; *s; s++) {
		u64 size, base, irq = 0;
		int i;

		if (*s != 'v')
			continue;
		for (i = 0; key[i] && s[i] == key[i]; i++)
			;
		if (key[i])
			continue;
		s = parse_num(s + i, &size);
		if (*s != '@')
			continue;
		s = parse_num(s + 1, &base);
		if (*s == ':')
			s = parse_num(s + 1, &irq);
		probe_one(base, irq);
		if (!*s)
			break;
	}
}

void virtio_irq(int irq)
{
	struct vdev *ds[2] = { have_blk ? &blk : 0, have_net ? &net : 0 };

	for (int i = 0; i < 2; i++) {
		u32 isr;

		if (!ds[i] || ds[i]->irq != irq)
			continue;
		isr = rd(ds[i], VM_IRQ_STATUS);
		if (isr)
			wr(ds[i], VM_IRQ_ACK, isr);
	}
}

s64 blk_capacity(void)
{
	if (!have_blk)
		return -19;
	return (s64)(rd(&blk, VM_CONFIG) | (u64)rd(&blk, VM_CONFIG + 4) << 32);
}

s64 blk_io(int write, u64 sector, u64 buf, u64 nsect)
{
	struct vdesc *dsc;

	if (!have_blk)
		return -19;
	dsc = blk.q[0].p->desc;
	blk_hdr.type = write ? 1 : 0;	/* VIRTIO_BLK_T_OUT / _IN */
	blk_hdr.sector = sector;
	blk_status = 0xff;
	dsc[0] = (struct vdesc){ (u64)&blk_hdr, sizeof(blk_hdr), DESC_NEXT, 1 };
	dsc[1] = (struct vdesc){ buf, (u32)(nsect * 512),
				 (u16)(DESC_NEXT | (write ? 0 : DESC_WRITE)), 2 };
	dsc[2] = (struct vdesc){ (u64)&blk_status, 1, DESC_WRITE, 0 };
	submit(&blk, 0, 0);
	if (wait_used(&blk.q[0]))
		return -110;
	return blk_status == 0 ? 0 : -5;
}

s64 net_ready(void)
{
	return have_net ? 0 : -19;
}

s64 net_send(u64 buf, u64 len)
{
	struct vdesc *dsc;

	if (!have_net)
		return -19;
	if (len == 0 || len > 1514)
		return -22;
	dsc = net.q[1].p->desc;
	dsc[0] = (struct vdesc){ (u64)net_hdr, NET_HDR, DESC_NEXT, 1 };
	dsc[1] = (struct vdesc){ buf, (u32)len, 0, 0 };
	submit(&net, 1, 0);
	return wait_used(&net.q[1]) ? -110 : 0;
}

s64 net_recv(u64 buf, u64 max)
{
	struct vq *q = &net.q[0];
	u32 id, len;

	if (!have_net)
		return -19;
	if (!used_pending(q))
		return 0;
	id = q->p->used.ring[q->last_used % q->num].id;
	len = q->p->used.ring[q->last_used % q->num].len;
	q->last_used++;
	if (id >= q->num)
		return -5;
	len = len > NET_HDR ? len - NET_HDR : 0;
	if (len > RXBUF - NET_HDR)
		len = RXBUF - NET_HDR;
	if (len > max)
		len = (u32)max;
	memcpy((void *)buf, rxbuf[id] + NET_HDR, len);
	submit(&net, 0, (u16)id);	/* the same buffer goes back to the device */
	return len;
}

/*
 * Post one malformed chain (abi.h HOSTILE_*) and kick the device, as a hostile
 * driver would.  The VMM must survive and count it; the device may be left
 * needing a reset, which is what SYS_DEV_RESET is for.  Only the data buffer
 * is bad, so a device that serves part of a request writes into scratch.
 */
s64 virtio_hostile(int dev, int kind)
{
	struct vdev *d = dev == GDEV_BLK ? &blk : &net;
	int qi = dev == GDEV_BLK ? 0 : 1;
	struct vq *q;
	struct vdesc *dsc;

	if (dev == GDEV_BLK ? !have_blk : !have_net)
		return -19;
	if (kind < 0 || kind >= HOSTILE_NKINDS)
		return -22;
	q = &d->q[qi];
	dsc = q->p->desc;
	blk_hdr.type = 0;
	blk_hdr.sector = 0;
	if (dev == GDEV_BLK)
		dsc[0] = (struct vdesc){ (u64)&blk_hdr, sizeof(blk_hdr), DESC_NEXT, 1 };
	else
		dsc[0] = (struct vdesc){ (u64)net_hdr, NET_HDR, DESC_NEXT, 1 };
	dsc[1] = (struct vdesc){ (u64)scratch, 64, dev == GDEV_BLK ? DESC_WRITE : 0, 0 };
	if (dev == GDEV_BLK) {
		dsc[1].flags |= DESC_NEXT;
		dsc[1].next = 2;
		dsc[2] = (struct vdesc){ (u64)&blk_status, 1, DESC_WRITE, 0 };
	}
	switch (kind) {
	case HOSTILE_OUT_OF_RAM:
		dsc[1].addr = 0x4000000000UL;	/* 256 GiB */
		break;
	case HOSTILE_WRAP:
		dsc[1].addr = 0xfffffffffffff000UL;
		dsc[1].len = 0x2000;
		break;
	case HOSTILE_HUGE_LEN:
		dsc[1].len = 0xfffff000u;
		break;
	case HOSTILE_LOOP:
		dsc[1].flags |= DESC_NEXT;
		dsc[1].next = 0;
		break;
	case HOSTILE_BAD_NEXT:
		dsc[1].flags |= DESC_NEXT;
		dsc[1].next = (u16)(q->num + 5);
		break;
	case HOSTILE_BAD_HEAD:
		submit(d, qi, (u16)(q->num + 3));
		return 0;
	case HOSTILE_AVAIL_JUMP:
		q->p->avail.ring[q->avail_idx % q->num] = 0;
		barrier();
		q->avail_idx += 0x8000;
		*(volatile u16 *)&q->p->avail.idx = q->avail_idx;
		barrier();
		wr(d, VM_QUEUE_NOTIFY, qi);
		return 0;
	}
	submit(d, qi, 0);
	return 0;
}

s64 virtio_reset(int dev)
{
	if (dev == GDEV_BLK && have_blk)
		return dev_init(&blk, VIRTIO_ID_BLK) ? -5 : 0;
	if (dev == GDEV_NET && have_net)
		return dev_init(&net, VIRTIO_ID_NET) ? -5 : 0;
	return -19;
}
