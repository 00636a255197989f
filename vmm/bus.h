/* PIO and MMIO buses: address ranges mapped to device handlers. */
#ifndef DETVM_VMM_BUS_H
#define DETVM_VMM_BUS_H

#include <stdint.h>

/*
 * One handler signature for port I/O and MMIO (as kvmtool does). A device sees only the
 * offset into the range it was registered at, never the absolute address, so where it
 * is placed is the machine's business. data holds size bytes, little-endian.
 */
struct io_handler {
	void (*read)(void *opaque, uint64_t offset, uint8_t *data, unsigned size);
	void (*write)(void *opaque, uint64_t offset, const uint8_t *data, unsigned size);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct io_handler *ops;
	void *opaque;
	const char *name;
};

#define BUS_MAX_RANGES 64

struct bus {
	const char *name;		/* "pio" or "mmio", for messages */
	unsigned count;
	struct bus_range ranges[BUS_MAX_RANGES];	/* sorted by base, never overlapping */
	uint64_t unclaimed_reads;	/* guest accesses that hit no device */
	uint64_t unclaimed_writes;
};

void bus_init(struct bus *b, const char *name);
/* -EINVAL for len 0 or wrap-around, -EEXIST if it overlaps a range, -ENOSPC when full. */
int bus_register(struct bus *b, uint64_t base, uint64_t len, const struct io_handler *ops,
		 void *opaque, const char *name);
/* Removes the range that starts at base; -ENOENT if there is none. */
int bus_unregister(struct bus *b, uint64_t base);
const struct bus_range *bus_find(const struct bus *b, uint64_t addr);
/*
 * Dispatch a guest access. An access no device claims reads as all-ones (as on a PC)
 * and writes are dropped; both are counted and return -ENOENT. An access that starts
 * in a range but runs past its end is treated as unclaimed too.
 */
int bus_read(struct bus *b, uint64_t addr, uint8_t *data, unsigned size);
int bus_write(struct bus *b, uint64_t addr, const uint8_t *data, unsigned size);

#endif
