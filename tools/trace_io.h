/*
 * Which events of a trace are device I/O, for the timelines of `detvm export` and
 * `detvm report`. The header says which virtio devices the machine had; they sit in
 * virtio-mmio windows in the order vmm/machine.c attaches them (disks, then NICs), so a
 * guest write to a window's QueueNotify register is a request to that device.
 */
#ifndef DETVM_TOOLS_TRACE_IO_H
#define DETVM_TOOLS_TRACE_IO_H

#include "logs/trace.h"

enum io_class {
	IO_NONE,
	IO_DISK,	/* a request kicked (queue notify), or a recorded disk completion */
	IO_NET,		/* a queue kicked (TX: frames sent; RX: buffers given), or a frame received */
	IO_CONSOLE,	/* a write to COM1, or console input */
};

struct io_map {
	unsigned disks, nics;
};

void io_map_init(struct io_map *m, const Detvm__TraceHeader *h);
/* The event's class; *index is the disk or NIC number (0 for the console). */
enum io_class io_classify(const struct io_map *m, const Detvm__Event *ev, unsigned *index);

#endif
