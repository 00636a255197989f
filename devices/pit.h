/*
 * Intel 8254 programmable interval timer (channels 0-2 at 0x40-0x43) and the PC's
 * port 0x61 (channel 2 gate, speaker, refresh toggle, channel 2 OUT). Time comes only
 * from hostio_clock_ns(); channel 0's interrupts from the HOSTIO_TIMER_PIT timer.
 */
#ifndef DETVM_DEVICES_PIT_H
#define DETVM_DEVICES_PIT_H

#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/hostio.h"
#include "vmm/irq.h"
#include "vmm/state_io.h"

#define PIT_FREQ_HZ 1193182u

struct pit_channel {
	uint8_t mode;		/* 0-5 */
	uint8_t rw;		/* 1 lobyte, 2 hibyte, 3 lobyte then hibyte */
	uint8_t bcd;
	uint8_t gate;
	uint8_t loaded;		/* a count was written since the control word */
	uint8_t running;	/* counting (modes 1/5: triggered by a gate edge) */
	uint8_t null_count;	/* count written but not yet loaded into the counter */
	uint8_t write_hi;	/* lohi: the next write is the high byte */
	uint8_t write_lo;	/* lohi: the low byte already written */
	uint8_t read_hi;	/* lohi: the next read of a live/latched count is the high byte */
	uint8_t latched;	/* count latch holds latch_value, unread bytes remain */
	uint8_t latch_hi_only;	/* lohi latch: the low byte has been read */
	uint8_t status_latched;
	uint8_t status;
	uint16_t latch_value;
	uint16_t live_hi;	/* lohi live read: high byte captured with the low byte */
	uint32_t reload;	/* 1-65536 (binary) or 1-10000 (BCD) */
	uint64_t start_ns;	/* clock when counting (re)started */
	uint64_t base_ticks;	/* ticks counted before start_ns (gate pauses) */
	uint64_t next_irq_tick;	/* channel 0: tick index of the next interrupt */
};

struct pit {
	struct hostio *io;
	struct irq_sink irq;
	unsigned irq_line;
	struct pit_channel ch[3];
	uint8_t port61;		/* bits 0-3 as written */
	uint64_t irqs;		/* interrupts raised */
	uint64_t lost_ticks;	/* periods coalesced into one interrupt */
	uint64_t guest_errors;
};

void pit_init(struct pit *t, struct hostio *io, const struct irq_sink *irq, unsigned irq_line);
/* 0x40-0x43 and 0x61; subscribes to HOSTIO_EV_TIMER/HOSTIO_TIMER_PIT. */
int pit_attach(struct pit *t, struct bus *pio);

/* Device state for snapshots (vmm/state_io.h); load checks what it reads. The timer is
 * re-armed by whoever restores the hostio's deadlines. */
void pit_save(const struct pit *t, struct state_out *o);
void pit_load(struct pit *t, struct state_in *in);

#endif
