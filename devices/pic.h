/*
 * Intel 8259A programmable interrupt controller, the PC's master/slave pair with the
 * slave cascaded on master IRQ2, plus the ELCR edge/level registers at 0x4d0-0x4d1.
 */
#ifndef DETVM_DEVICES_PIC_H
#define DETVM_DEVICES_PIC_H

#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/irq.h"
#include "vmm/state_io.h"

struct pic_chip {
	uint8_t irr;		/* requests latched (edge) or followed (level) */
	uint8_t isr;		/* in service */
	uint8_t imr;		/* masked */
	uint8_t lines;		/* current input levels, for edge detection */
	uint8_t elcr;		/* 1 = level-triggered input */
	uint8_t elcr_mask;	/* inputs that may be level-triggered */
	uint8_t ltim;		/* ICW1 LTIM: all inputs level-triggered */
	uint8_t vector_base;	/* ICW2 & 0xf8 */
	uint8_t icw3;
	uint8_t init_step;	/* 0: operational, 1-3: expecting ICW2-ICW4 */
	uint8_t want_icw4;
	uint8_t single;		/* ICW1 SNGL: no cascade */
	uint8_t auto_eoi;
	uint8_t rotate_on_aeoi;
	uint8_t sfnm;		/* special fully nested mode (master) */
	uint8_t special_mask;
	uint8_t read_isr;	/* OCW3 RR/RIS: command port reads ISR, not IRR */
	uint8_t poll;		/* OCW3 P: next command port read is a poll */
	uint8_t lowest;		/* priority rotation: the lowest-priority input */
};

struct pic {
	struct pic_chip chip[2];	/* [0] master at 0x20, [1] slave at 0xa0 */
	uint64_t guest_errors;
};

void pic_init(struct pic *p);
/* Master 0x20-0x21, slave 0xa0-0xa1, ELCR 0x4d0-0x4d1. */
int pic_attach(struct pic *p, struct bus *pio);
/* irq 0-15; level 1 = line asserted. */
void pic_set_irq(struct pic *p, unsigned irq, int level);
struct irq_sink pic_irq_sink(struct pic *p);
/* Nonzero while the INTR line to the CPU is asserted. */
int pic_has_interrupt(const struct pic *p);
/* The INTA cycle: the vector to inject (a spurious IRQ7/IRQ15 vector when nothing is). */
int pic_ack(struct pic *p);

/* Device state for snapshots (vmm/state_io.h); load checks what it reads. */
void pic_save(const struct pic *p, struct state_out *o);
void pic_load(struct pic *p, struct state_in *in);

#endif
