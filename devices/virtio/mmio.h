/*
 * virtio-mmio transport, version 2 only (virtio 1.1 section 4.2.2): a 4 KiB register
 * window, device configuration at 0x100. Device types plug in through an ops table and
 * embed a struct virtio_mmio; the transport owns the virtqueues, feature negotiation,
 * the status machine and the interrupt line.
 */
#ifndef DETVM_DEVICES_VIRTIO_MMIO_H
#define DETVM_DEVICES_VIRTIO_MMIO_H

#include <stdint.h>

#include "devices/virtio/virtq.h"
#include "vmm/bus.h"
#include "vmm/guest_mem.h"
#include "vmm/irq.h"
#include "vmm/state_io.h"

#define VIRTIO_MMIO_SIZE 0x1000
#define VIRTIO_MMIO_MAGIC 0x74726976		/* "virt" */
#define VIRTIO_MMIO_VENDOR 0x4d565444		/* "DTVM" */
#define VIRTIO_MMIO_MAX_QUEUES 4

/* Registers (byte offsets into the window). */
#define VIRTIO_MMIO_MAGIC_VALUE 0x000
#define VIRTIO_MMIO_VERSION 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG 0x100

#define VIRTIO_MMIO_INT_VRING 1
#define VIRTIO_MMIO_INT_CONFIG 2

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

/* Transport feature bits (6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

struct virtio_device_ops {
	const char *name;		/* "blk", "net": messages and queue names */
	uint32_t device_id;
	uint64_t features;		/* device-type bits; the transport adds VERSION_1 and
					 * INDIRECT_DESC */
	unsigned num_queues;		/* <= VIRTIO_MMIO_MAX_QUEUES */
	uint16_t queue_max;		/* a power of two <= VIRTQ_MAX_SIZE */
	uint32_t config_size;		/* bytes of config space */
	/* offset + size <= config_size is guaranteed; data is little-endian */
	void (*config_read)(void *dev, uint32_t offset, uint8_t *data, unsigned size);
	void (*config_write)(void *dev, uint32_t offset, const uint8_t *data, unsigned size);
	/* The driver kicked queue q (ready, DRIVER_OK). Process it synchronously. */
	void (*queue_notify)(void *dev, unsigned q);
	/* The driver wrote 0 to Status: drop device-side state. Queues are already reset. */
	void (*reset)(void *dev);
};

struct virtio_mmio {
	const struct virtio_device_ops *ops;
	void *dev;
	struct guest_mem *mem;
	const struct irq_sink *irq;
	unsigned irq_line;
	uint64_t device_features;
	uint64_t driver_features;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint32_t status;
	uint32_t interrupt_status;
	uint32_t config_generation;
	int irq_level;			/* what we last drove the line to */
	struct virtq queues[VIRTIO_MMIO_MAX_QUEUES];
	char qnames[VIRTIO_MMIO_MAX_QUEUES][24];
	uint64_t bad_accesses;		/* misaligned, wrong-size, unknown or ill-timed */
};

/* Sets up the transport for one device; -EINVAL if ops is out of the limits above. */
int virtio_mmio_init(struct virtio_mmio *t, const struct virtio_device_ops *ops, void *dev,
		     struct guest_mem *mem, const struct irq_sink *irq, unsigned irq_line);
/* Registers the VIRTIO_MMIO_SIZE window at base; bus_register()'s errors. */
int virtio_mmio_attach(struct virtio_mmio *t, struct bus *mmio, uint64_t base);
/* The io_handler the window uses (for callers that place the device themselves). */
extern const struct io_handler virtio_mmio_handler;

/* Queue q if the driver made it ready and set DRIVER_OK, else NULL. */
struct virtq *virtio_mmio_queue(struct virtio_mmio *t, unsigned q);
int virtio_mmio_driver_ok(const struct virtio_mmio *t);
/* After pushing used entries on queue q: raise the used-buffer interrupt if due. */
void virtio_mmio_notify_used(struct virtio_mmio *t, unsigned q);
/* The device changed its config space: bump ConfigGeneration and interrupt. */
void virtio_mmio_config_changed(struct virtio_mmio *t);

/* Transport and queue state for snapshots (vmm/state_io.h); load checks each queue's
 * size against what the device offers. */
void virtio_mmio_save(const struct virtio_mmio *t, struct state_out *o);
void virtio_mmio_load(struct virtio_mmio *t, struct state_in *in);

#endif
