/*
 * Motorola MC146818 CMOS RTC at 0x70-0x71: 128 bytes of CMOS, a calendar read from
 * hostio_wallclock_ns(), and periodic/update/alarm interrupts on one line (IRQ8).
 */
#ifndef DETVM_DEVICES_RTC_H
#define DETVM_DEVICES_RTC_H

#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/hostio.h"
#include "vmm/irq.h"
#include "vmm/state_io.h"

#define RTC_CMOS_SIZE 128

struct rtc {
	struct hostio *io;
	struct irq_sink irq;
	unsigned irq_line;
	uint8_t cmos[RTC_CMOS_SIZE];	/* time bytes hold the frozen time only while SET */
	uint8_t index;
	uint8_t nmi_masked;		/* bit 7 of the index write; kept, not acted on */
	int irq_level;
	int64_t offset_s;		/* guest calendar = host wallclock + offset_s */
	uint64_t pf_seen;		/* periodic periods already reflected in PF */
	int64_t uf_seen;		/* guest second already reflected in UF */
	uint64_t irqs;
	uint64_t guest_errors;
};

void rtc_init(struct rtc *r, struct hostio *io, const struct irq_sink *irq, unsigned irq_line);
/* 0x70-0x71; subscribes to HOSTIO_EV_TIMER/HOSTIO_TIMER_RTC. */
int rtc_attach(struct rtc *r, struct bus *pio);
/* Fills the BIOS memory-size bytes (0x15-0x18, 0x30-0x31, 0x34-0x35, 0x5b-0x5d). */
void rtc_set_mem_size(struct rtc *r, uint64_t ram_bytes);

/* Device state for snapshots (vmm/state_io.h); load checks what it reads. */
void rtc_save(const struct rtc *r, struct state_out *o);
void rtc_load(struct rtc *r, struct state_in *in);

#endif
