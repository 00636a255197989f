/*
 * virtio-net (device id 1, virtio 1.1 section 5.1): receive queue 0, transmit queue 1,
 * a MAC in config space, the 12-byte struct virtio_net_hdr_v1, no offloads, no control
 * queue, no mergeable rx buffers.
 *
 * TX is served synchronously on the notify and handed to hostio_net_send(). RX frames
 * arrive as HOSTIO_EV_NET_RX events (vCPU thread, delivery points) and wait in a small
 * device-side queue until the guest posts receive buffers.
 */
#ifndef DETVM_DEVICES_VIRTIO_NET_H
#define DETVM_DEVICES_VIRTIO_NET_H

#include <stdint.h>

#include "devices/virtio/mmio.h"
#include "vmm/hostio.h"
#include "vmm/state_io.h"

#define VIRTIO_ID_NET 1

#define VIRTIO_NET_F_MAC 5

#define VIRTIO_NET_HDR_LEN 12		/* struct virtio_net_hdr_v1 */
#define VIRTIO_NET_QUEUE_MAX 256
#define VIRTIO_NET_RX_PENDING 64	/* frames held while the guest has no rx buffers */
#define VIRTIO_NET_MAX_FRAME 65535	/* larger frames are dropped both ways */
#define VIRTIO_NET_CONFIG_SIZE 12	/* mac, status, max_virtqueue_pairs, mtu */

struct virtio_net_frame {
	uint8_t *data;
	uint32_t len;
};

struct virtio_net {
	struct virtio_mmio mmio;
	struct guest_mem *mem;
	struct hostio *io;
	unsigned nic;
	uint8_t config[VIRTIO_NET_CONFIG_SIZE];
	struct virtio_net_frame rx_pending[VIRTIO_NET_RX_PENDING];	/* a ring */
	unsigned rx_head;
	unsigned rx_count;
	struct virtq_chain chain;	/* scratch for the chain being served */
	uint8_t tx_buf[VIRTIO_NET_MAX_FRAME];
	/* statistics */
	uint64_t tx_frames;		/* handed to hostio_net_send() and accepted */
	uint64_t tx_errors;		/* hostio_net_send() refused them */
	uint64_t tx_bad;		/* chains without a header, or frames too large */
	uint64_t rx_frames;		/* written into guest buffers */
	uint64_t rx_dropped;		/* the pending queue was full */
	uint64_t rx_dropped_down;	/* arrived before DRIVER_OK, or out of memory */
	uint64_t rx_too_big;		/* larger than the rx buffer offered or the limit */
};

/* Subscribes to HOSTIO_EV_NET_RX for nic_index. 0, -EINVAL, -EBUSY. */
int virtio_net_init(struct virtio_net *n, struct guest_mem *mem, struct hostio *io,
		    const struct irq_sink *irq, unsigned irq_line, unsigned nic_index,
		    const uint8_t mac[6]);
int virtio_net_attach(struct virtio_net *n, struct bus *mmio, uint64_t base);
/* Frees frames still waiting. The hostio subscription stays (hostio has no unsubscribe),
 * so destroy the hostio no later than the device. */
void virtio_net_destroy(struct virtio_net *n);

/* Device state for snapshots (vmm/state_io.h): the transport, the config, frames that wait
 * for rx buffers, the counters. */
void virtio_net_save(const struct virtio_net *n, struct state_out *o);
void virtio_net_load(struct virtio_net *n, struct state_in *in);

#endif
