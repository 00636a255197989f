/* Port I/O helpers and an interrupt-line recorder for the device tests. */
#ifndef DETVM_TESTS_DEVICES_UTIL_H
#define DETVM_TESTS_DEVICES_UTIL_H

#include <stdint.h>
#include <string.h>

#include "vmm/bus.h"
#include "vmm/irq.h"
#include "vmm/log.h"

static inline void outb(struct bus *b, uint16_t port, uint8_t v)
{
	bus_write(b, port, &v, 1);
}

static inline uint8_t inb(struct bus *b, uint16_t port)
{
	uint8_t v = 0;
	bus_read(b, port, &v, 1);
	return v;
}

/* Records every line's level and counts rising edges, as an edge-triggered PIC sees. */
struct line_rec {
	int level[16];
	unsigned rises[16];
	unsigned calls;
};

static inline void line_rec_set(void *opaque, unsigned irq, int level)
{
	struct line_rec *r = opaque;
	r->calls++;
	if (irq >= 16)
		return;
	if (level && !r->level[irq])
		r->rises[irq]++;
	r->level[irq] = !!level;
}

static inline struct irq_sink line_rec_sink(struct line_rec *r)
{
	memset(r, 0, sizeof(*r));
	return (struct irq_sink){ .set_level = line_rec_set, .opaque = r };
}

/* A small deterministic generator for the garbage tests (xorshift64). */
static inline uint64_t rnd_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

#endif
