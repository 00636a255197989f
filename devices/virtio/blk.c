#include "devices/virtio/blk.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/log.h"

#define REQ_HDR_SIZE 16		/* le32 type, le32 reserved, le64 sector */

struct disk_io {
	struct virtio_blk *b;
	uint64_t off;		/* disk byte offset of the next piece */
	int write;		/* guest -> disk */
};

static int disk_piece(void *opaque, uint8_t *host, uint64_t gpa, uint32_t n)
{
	struct disk_io *d = opaque;
	int r;

	if (d->write) {
		r = hostio_disk_write(d->b->io, d->b->disk, d->off, host, n);
	} else {
		r = hostio_disk_read(d->b->io, d->b->disk, d->off, host, n);
		/* the VMM wrote guest RAM behind KVM's back */
		guest_mem_mark_dirty(d->b->mem, gpa, n);
	}
	d->off += n;
	return r ? -EIO : 0;
}

/* sector + len bytes within the disk, in whole sectors? */
static int in_range(const struct virtio_blk *b, uint64_t sector, uint64_t len)
{
	return len % VIRTIO_BLK_SECTOR == 0 && sector <= b->sectors &&
	       len / VIRTIO_BLK_SECTOR <= b->sectors - sector;
}

static uint8_t rw(struct virtio_blk *b, const struct virtq_chain *c, int write, uint64_t sector,
		  uint64_t *written)
{
	/* data follows the header (out) or precedes the status byte (in) */
	uint64_t len = write ? c->read_len - REQ_HDR_SIZE : c->write_len - 1;
	struct disk_io d = { b, sector * VIRTIO_BLK_SECTOR, write };

	if (write && b->read_only)
		return VIRTIO_BLK_S_IOERR;
	if (!in_range(b, sector, len))
		return VIRTIO_BLK_S_IOERR;
	if (virtq_chain_foreach(b->mem, c, !write, write ? REQ_HDR_SIZE : 0, len, disk_piece, &d))
		return VIRTIO_BLK_S_IOERR;
	if (!write)
		*written = len;
	return VIRTIO_BLK_S_OK;
}

/* Serve one request; returns the byte count for the used ring. */
static uint32_t serve(struct virtio_blk *b, const struct virtq_chain *c)
{
	uint8_t hdr[REQ_HDR_SIZE];
	uint32_t type;
	uint64_t sector, written = 0;
	uint8_t status;

	b->requests++;
	if (!c->write_len) {
		log_guest_error(&b->bad_requests, "virtio-blk: request without a status byte");
		return 0;
	}
	if (virtq_chain_read(b->mem, c, 0, hdr, sizeof(hdr))) {
		status = VIRTIO_BLK_S_IOERR;
		goto done;
	}
	memcpy(&type, hdr, 4);
	type = le32toh(type);
	memcpy(&sector, hdr + 8, 8);
	sector = le64toh(sector);

	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		status = rw(b, c, type == VIRTIO_BLK_T_OUT, sector, &written);
		break;
	case VIRTIO_BLK_T_FLUSH:
		status = hostio_disk_flush(b->io, b->disk) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_GET_ID:
		written = c->write_len - 1;
		if (written > VIRTIO_BLK_ID_BYTES)
			written = VIRTIO_BLK_ID_BYTES;
		/* b->id is NUL-padded to 20 bytes, as the spec wants shorter ids */
		status = virtq_chain_write(b->mem, c, 0, b->id, written) ? VIRTIO_BLK_S_IOERR
									: VIRTIO_BLK_S_OK;
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
done:
	if (status == VIRTIO_BLK_S_IOERR)
		b->io_errors++;
	else if (status == VIRTIO_BLK_S_UNSUPP)
		b->unsupported++;
	if (status != VIRTIO_BLK_S_OK)
		written = 0;
	virtq_chain_write(b->mem, c, c->write_len - 1, &status, 1);
	return (uint32_t)(written + 1);
}

static void blk_notify(void *dev, unsigned qi)
{
	struct virtio_blk *b = dev;
	struct virtq *q = virtio_mmio_queue(&b->mmio, qi);

	if (!q)
		return;
	for (unsigned n = 0; n < q->num; n++) {
		int r = virtq_pop(q, b->mem, &b->chain);

		if (r == 0 || r == -EFAULT)
			break;
		if (r < 0)
			continue;
		if (virtq_push(q, b->mem, b->chain.head, serve(b, &b->chain)))
			break;
	}
	virtio_mmio_notify_used(&b->mmio, qi);
}

static void blk_config_read(void *dev, uint32_t off, uint8_t *data, unsigned size)
{
	struct virtio_blk *b = dev;

	memcpy(data, b->config + off, size);
}

static const struct virtio_device_ops blk_ops = {
	.name = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.features = 1ULL << VIRTIO_BLK_F_SEG_MAX | 1ULL << VIRTIO_BLK_F_FLUSH,
	.num_queues = 1,
	.queue_max = VIRTIO_BLK_QUEUE_MAX,
	.config_size = VIRTIO_BLK_CONFIG_SIZE,
	.config_read = blk_config_read,
	.queue_notify = blk_notify,
};

static const struct virtio_device_ops blk_ro_ops = {
	.name = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.features = 1ULL << VIRTIO_BLK_F_SEG_MAX | 1ULL << VIRTIO_BLK_F_FLUSH |
		    1ULL << VIRTIO_BLK_F_RO,
	.num_queues = 1,
	.queue_max = VIRTIO_BLK_QUEUE_MAX,
	.config_size = VIRTIO_BLK_CONFIG_SIZE,
	.config_read = blk_config_read,
	.queue_notify = blk_notify,
};

int virtio_blk_init(struct virtio_blk *b, struct guest_mem *mem, struct hostio *io,
		    const struct irq_sink *irq, unsigned irq_line, unsigned disk_index,
		    uint64_t capacity_bytes, int read_only)
{
	uint64_t cap;
	/* a request is header + data segments + status: leave room for the other two */
	uint32_t seg_max = htole32(VIRTIO_BLK_QUEUE_MAX - 2);
	int r;

	if (!mem || !io)
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	r = virtio_mmio_init(&b->mmio, read_only ? &blk_ro_ops : &blk_ops, b, mem, irq, irq_line);
	if (r)
		return r;
	b->mem = mem;
	b->io = io;
	b->disk = disk_index;
	b->sectors = capacity_bytes / VIRTIO_BLK_SECTOR;
	b->read_only = !!read_only;
	cap = htole64(b->sectors);
	memcpy(b->config + 0, &cap, 8);		/* capacity */
	memcpy(b->config + 12, &seg_max, 4);	/* seg_max */
	/* deterministic, so a recorded guest reads the same serial on replay */
	snprintf(b->id, sizeof(b->id), "detvm-disk%u", disk_index);
	return 0;
}

int virtio_blk_attach(struct virtio_blk *b, struct bus *mmio, uint64_t base)
{
	return virtio_mmio_attach(&b->mmio, mmio, base);
}

/* The config space follows from the disk's size, which the restoring host knows. */
#define BLK_STATE_FIELDS(X) X(requests) X(io_errors) X(unsupported) X(bad_requests)

void virtio_blk_save(const struct virtio_blk *b, struct state_out *o)
{
	virtio_mmio_save(&b->mmio, o);
#define BLK_PUT(f) state_put(o, &b->f, sizeof(b->f));
	BLK_STATE_FIELDS(BLK_PUT)
}

void virtio_blk_load(struct virtio_blk *b, struct state_in *in)
{
	virtio_mmio_load(&b->mmio, in);
#define BLK_GET(f) state_get(in, &b->f, sizeof(b->f));
	BLK_STATE_FIELDS(BLK_GET)
}
