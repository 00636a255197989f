/*
 * virtio-blk (device id 2, virtio 1.1 section 5.2) over one request queue. Every request
 * is served synchronously on the queue notify, on the vCPU thread, through the hostio
 * disk calls, so completions land in the used ring in a deterministic order.
 */
#ifndef DETVM_DEVICES_VIRTIO_BLK_H
#define DETVM_DEVICES_VIRTIO_BLK_H

#include <stdint.h>

#include "devices/virtio/mmio.h"
#include "vmm/hostio.h"
#include "vmm/state_io.h"

#define VIRTIO_ID_BLOCK 2

#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_FLUSH 9

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_SECTOR 512
#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_QUEUE_MAX 256
#define VIRTIO_BLK_CONFIG_SIZE 60	/* struct virtio_blk_config up to write_zeroes */

struct virtio_blk {
	struct virtio_mmio mmio;
	struct guest_mem *mem;
	struct hostio *io;
	unsigned disk;
	uint64_t sectors;		/* capacity in 512-byte sectors */
	int read_only;
	uint8_t config[64];
	char id[VIRTIO_BLK_ID_BYTES + 1];
	struct virtq_chain chain;	/* scratch for the chain being served */
	/* statistics */
	uint64_t requests;
	uint64_t io_errors;		/* requests answered VIRTIO_BLK_S_IOERR */
	uint64_t unsupported;		/* requests answered VIRTIO_BLK_S_UNSUPP */
	uint64_t bad_requests;		/* no room for a status byte: returned with len 0 */
};

/*
 * capacity_bytes is rounded down to whole sectors. The device is on the bus only after
 * virtio_blk_attach(). 0 or -EINVAL.
 */
int virtio_blk_init(struct virtio_blk *b, struct guest_mem *mem, struct hostio *io,
		    const struct irq_sink *irq, unsigned irq_line, unsigned disk_index,
		    uint64_t capacity_bytes, int read_only);
int virtio_blk_attach(struct virtio_blk *b, struct bus *mmio, uint64_t base);

/* Device state for snapshots (vmm/state_io.h): the transport, the config, the counters. */
void virtio_blk_save(const struct virtio_blk *b, struct state_out *o);
void virtio_blk_load(struct virtio_blk *b, struct state_in *in);

#endif
