#include "devices/virtio/net.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/log.h"

#define RXQ 0
#define TXQ 1

static void rx_drop_head(struct virtio_net *n)
{
	free(n->rx_pending[n->rx_head].data);
	n->rx_pending[n->rx_head].data = NULL;
	n->rx_head = (n->rx_head + 1) % VIRTIO_NET_RX_PENDING;
	n->rx_count--;
}

static void rx_drop_all(struct virtio_net *n)
{
	while (n->rx_count)
		rx_drop_head(n);
	n->rx_head = 0;
}

/* Move waiting frames into posted rx buffers, oldest first. */
static void rx_flush(struct virtio_net *n)
{
	struct virtq *q = virtio_mmio_queue(&n->mmio, RXQ);
	/* no offloads: the header is all zero; num_buffers is 1 without MRG_RXBUF */
	uint8_t hdr[VIRTIO_NET_HDR_LEN] = { [10] = 1 };

	if (!q)
		return;
	for (unsigned i = 0; i < q->num && n->rx_count; i++) {
		struct virtio_net_frame *f = &n->rx_pending[n->rx_head];
		int r = virtq_pop(q, n->mem, &n->chain);

		if (r == 0 || r == -EFAULT)
			break;
		if (r < 0)
			continue;
		if (n->chain.write_len < VIRTIO_NET_HDR_LEN + (uint64_t)f->len) {
			/* the frame cannot fit: drop it, keep the buffer for the next one */
			virtq_unpop(q);
			n->rx_too_big++;
			rx_drop_head(n);
			continue;
		}
		if (virtq_chain_write(n->mem, &n->chain, 0, hdr, sizeof(hdr)) ||
		    virtq_chain_write(n->mem, &n->chain, VIRTIO_NET_HDR_LEN, f->data, f->len)) {
			virtq_push(q, n->mem, n->chain.head, 0);
			break;
		}
		if (virtq_push(q, n->mem, n->chain.head, VIRTIO_NET_HDR_LEN + f->len))
			break;
		n->rx_frames++;
		rx_drop_head(n);
	}
	virtio_mmio_notify_used(&n->mmio, RXQ);
}

static void net_rx_event(void *opaque, const struct hostio_event *ev)
{
	struct virtio_net *n = opaque;
	struct virtio_net_frame *f;

	if (!virtio_mmio_driver_ok(&n->mmio)) {
		/* a NIC whose driver is not up drops, as hardware with the link down would */
		n->rx_dropped_down++;
		return;
	}
	if (ev->len > VIRTIO_NET_MAX_FRAME) {
		n->rx_too_big++;
		return;
	}
	if (n->rx_count == VIRTIO_NET_RX_PENDING) {
		n->rx_dropped++;
		return;
	}
	f = &n->rx_pending[(n->rx_head + n->rx_count) % VIRTIO_NET_RX_PENDING];
	f->data = malloc(ev->len ? ev->len : 1);
	if (!f->data) {
		n->rx_dropped_down++;
		return;
	}
	if (ev->len)
		memcpy(f->data, ev->data, ev->len);
	f->len = ev->len;
	n->rx_count++;
	rx_flush(n);
}

/* Gather one frame from a tx chain and send it; the header carries nothing we use. */
static void tx_one(struct virtio_net *n, const struct virtq_chain *c)
{
	uint64_t len;
	int r;

	if (c->read_len < VIRTIO_NET_HDR_LEN || c->read_len - VIRTIO_NET_HDR_LEN > VIRTIO_NET_MAX_FRAME) {
		log_guest_error(&n->tx_bad, "virtio-net: tx chain of %llu bytes (header %u, max frame %u)",
				(unsigned long long)c->read_len, VIRTIO_NET_HDR_LEN, VIRTIO_NET_MAX_FRAME);
		return;
	}
	len = c->read_len - VIRTIO_NET_HDR_LEN;
	if (virtq_chain_read(n->mem, c, VIRTIO_NET_HDR_LEN, n->tx_buf, len)) {
		n->tx_bad++;
		return;
	}
	r = hostio_net_send(n->io, n->nic, n->tx_buf, (size_t)len);
	if (r)
		n->tx_errors++;
	else
		n->tx_frames++;
}

static void tx_flush(struct virtio_net *n)
{
	struct virtq *q = virtio_mmio_queue(&n->mmio, TXQ);

	if (!q)
		return;
	for (unsigned i = 0; i < q->num; i++) {
		int r = virtq_pop(q, n->mem, &n->chain);

		if (r == 0 || r == -EFAULT)
			break;
		if (r < 0)
			continue;
		tx_one(n, &n->chain);
		/* the device writes nothing into a tx buffer */
		if (virtq_push(q, n->mem, n->chain.head, 0))
			break;
	}
	virtio_mmio_notify_used(&n->mmio, TXQ);
}

static void net_notify(void *dev, unsigned q)
{
	struct virtio_net *n = dev;

	if (q == RXQ)
		rx_flush(n);
	else if (q == TXQ)
		tx_flush(n);
}

static void net_config_read(void *dev, uint32_t off, uint8_t *data, unsigned size)
{
	struct virtio_net *n = dev;

	memcpy(data, n->config + off, size);
}

static void net_reset(void *dev)
{
	rx_drop_all(dev);
}

static const struct virtio_device_ops net_ops = {
	.name = "net",
	.device_id = VIRTIO_ID_NET,
	.features = 1ULL << VIRTIO_NET_F_MAC,
	.num_queues = 2,
	.queue_max = VIRTIO_NET_QUEUE_MAX,
	.config_size = VIRTIO_NET_CONFIG_SIZE,
	.config_read = net_config_read,
	.queue_notify = net_notify,
	.reset = net_reset,
};

int virtio_net_init(struct virtio_net *n, struct guest_mem *mem, struct hostio *io,
		    const struct irq_sink *irq, unsigned irq_line, unsigned nic_index,
		    const uint8_t mac[6])
{
	/* fields the guest may read though their features are not offered */
	uint16_t link_up = htole16(1), pairs = htole16(1);
	int r;

	if (!mem || !io || !mac)
		return -EINVAL;
	memset(n, 0, sizeof(*n));
	r = virtio_mmio_init(&n->mmio, &net_ops, n, mem, irq, irq_line);
	if (r)
		return r;
	n->mem = mem;
	n->io = io;
	n->nic = nic_index;
	memcpy(n->config, mac, 6);
	memcpy(n->config + 6, &link_up, 2);
	memcpy(n->config + 8, &pairs, 2);
	return hostio_subscribe(io, HOSTIO_EV_NET_RX, nic_index, net_rx_event, n);
}

int virtio_net_attach(struct virtio_net *n, struct bus *mmio, uint64_t base)
{
	return virtio_mmio_attach(&n->mmio, mmio, base);
}

void virtio_net_destroy(struct virtio_net *n)
{
	rx_drop_all(n);
}

#define NET_STATE_FIELDS(X) X(config) X(tx_frames) X(tx_errors) X(tx_bad) X(rx_frames) \
	X(rx_dropped) X(rx_dropped_down) X(rx_too_big)

void virtio_net_save(const struct virtio_net *n, struct state_out *o)
{
	virtio_mmio_save(&n->mmio, o);
#define NET_PUT(f) state_put(o, &n->f, sizeof(n->f));
	NET_STATE_FIELDS(NET_PUT)
	state_put_u32(o, n->rx_count);
	for (unsigned i = 0; i < n->rx_count; i++) {
		const struct virtio_net_frame *f = &n->rx_pending[(n->rx_head + i) % VIRTIO_NET_RX_PENDING];
		state_put_u32(o, f->len);
		state_put(o, f->data, f->len);
	}
}

void virtio_net_load(struct virtio_net *n, struct state_in *in)
{
	virtio_mmio_load(&n->mmio, in);
#define NET_GET(f) state_get(in, &n->f, sizeof(n->f));
	NET_STATE_FIELDS(NET_GET)
	rx_drop_all(n);
	uint32_t count = state_get_u32(in);
	if (!state_check(in, count <= VIRTIO_NET_RX_PENDING, "the frames waiting for rx buffers"))
		return;
	for (uint32_t i = 0; i < count && !in->err; i++) {
		uint32_t len = state_get_u32(in);
		if (!state_check(in, len <= VIRTIO_NET_MAX_FRAME && len <= in->len - in->pos, "a waiting frame"))
			return;
		struct virtio_net_frame *f = &n->rx_pending[n->rx_count];
		f->data = malloc(len ? len : 1);
		if (!state_check(in, f->data != NULL, "memory for a waiting frame"))
			return;
		state_get(in, f->data, len);
		f->len = len;
		n->rx_count++;
	}
}
