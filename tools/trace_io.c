/* Device I/O in a trace (see trace_io.h). */
#include "tools/trace_io.h"

#include "devices/virtio/mmio.h"
#include "vmm/machine.h"

#define UART_REGS 8

void io_map_init(struct io_map *m, const Detvm__TraceHeader *h)
{
	m->disks = h->config ? (unsigned)h->config->n_disks : 0;
	m->nics = h->config ? (unsigned)h->config->n_nics : 0;
}

static enum io_class classify_exit(const struct io_map *m, const Detvm__ExitRecord *x,
				   unsigned *index)
{
	uint64_t slot;

	if (!x->is_write)
		return IO_NONE;
	if (x->kind == DETVM__EXIT_KIND__EXIT_PIO && x->addr >= MACHINE_COM1_PORT &&
	    x->addr < MACHINE_COM1_PORT + UART_REGS) {
		*index = 0;
		return IO_CONSOLE;
	}
	if (x->kind != DETVM__EXIT_KIND__EXIT_MMIO || x->addr < MACHINE_VIRTIO_BASE ||
	    (x->addr - MACHINE_VIRTIO_BASE) % MACHINE_VIRTIO_STRIDE != VIRTIO_MMIO_QUEUE_NOTIFY)
		return IO_NONE;
	slot = (x->addr - MACHINE_VIRTIO_BASE) / MACHINE_VIRTIO_STRIDE;
	if (slot < m->disks) {
		*index = (unsigned)slot;
		return IO_DISK;
	}
	if (slot < (uint64_t)m->disks + m->nics) {
		*index = (unsigned)(slot - m->disks);
		return IO_NET;
	}
	return IO_NONE;
}

enum io_class io_classify(const struct io_map *m, const Detvm__Event *ev, unsigned *index)
{
	*index = 0;
	switch (ev->payload_case) {
	case DETVM__EVENT__PAYLOAD_EXIT:
		return classify_exit(m, ev->exit, index);
	case DETVM__EVENT__PAYLOAD_DISK:
		*index = ev->disk->disk;
		return IO_DISK;
	case DETVM__EVENT__PAYLOAD_NET_RX:
		*index = ev->net_rx->nic;
		return IO_NET;
	case DETVM__EVENT__PAYLOAD_CONSOLE:
		*index = ev->console->console;
		return IO_CONSOLE;
	default:
		return IO_NONE;
	}
}
