/*
 * 8259A PIC pair, the slave's INT output on master input 2. Edge inputs latch into
 * IRR on a rising edge and stay latched until acknowledged (devices pulse their
 * lines); level inputs (ELCR or ICW1 LTIM) follow the line.
 */
#include "devices/pic.h"

#include <string.h>

#include "vmm/log.h"

#define PIC_CASCADE 2

static uint8_t level_mask(const struct pic_chip *c)
{
	/* ICW1 LTIM makes every input level-triggered; the PC keeps that choice in ELCR */
	return c->ltim ? 0xff : c->elcr;
}

/* Rank of the highest-priority set bit (0 = highest), 8 when none is set. */
static unsigned top_rank(uint8_t bits, uint8_t lowest)
{
	for (unsigned rank = 0; rank < 8; rank++) {
		if (bits & (1u << ((lowest + 1 + rank) & 7)))
			return rank;
	}
	return 8;
}

static unsigned rank_irq(unsigned rank, uint8_t lowest)
{
	return (lowest + 1 + rank) & 7;
}

/* The input this chip would present on an INTA now, or -1. */
static int chip_pending(const struct pic_chip *c, int master)
{
	uint8_t req = c->irr & ~c->imr;
	if (!req)
		return -1;
	unsigned rreq = top_rank(req, c->lowest);
	uint8_t in = c->isr;
	if (c->special_mask)
		in &= ~c->imr;
	unsigned rin = top_rank(in, c->lowest);
	unsigned irq = rank_irq(rreq, c->lowest);
	if (rreq < rin)
		return (int)irq;
	/* SFNM: a higher-priority slave request may nest while IR2 itself is in service */
	if (master && c->sfnm && !c->single && irq == PIC_CASCADE && rreq == rin)
		return (int)irq;
	return -1;
}

static void pic_update(struct pic *p)
{
	struct pic_chip *m = &p->chip[0];
	if (m->single)
		return;
	/*
	 * Re-asserted after every change rather than on an edge, so a slave that still has
	 * requests after an INTA keeps IR2 requested. Never cleared here: if the slave's
	 * request goes away before the INTA, the master still acknowledges IR2 and the
	 * slave answers with its spurious IRQ15 vector, as the hardware does.
	 */
	if (chip_pending(&p->chip[1], 0) >= 0)
		m->irr |= 1u << PIC_CASCADE;
}

static void chip_ack(struct pic_chip *c, unsigned irq)
{
	uint8_t bit = 1u << irq;
	/* a level input stays requested while its line is high; ISR blocks it until EOI */
	if (!(level_mask(c) & bit))
		c->irr &= ~bit;
	if (c->auto_eoi) {
		if (c->rotate_on_aeoi)
			c->lowest = irq;
	} else {
		c->isr |= bit;
	}
}

static void chip_set_line(struct pic_chip *c, unsigned irq, int level)
{
	uint8_t bit = 1u << irq;
	if (level_mask(c) & bit) {
		if (level)
			c->irr |= bit;
		else
			c->irr &= ~bit;
	} else if (level && !(c->lines & bit)) {
		c->irr |= bit;
	}
	if (level)
		c->lines |= bit;
	else
		c->lines &= ~bit;
}

void pic_set_irq(struct pic *p, unsigned irq, int level)
{
	if (irq >= 16) {
		log_guest_error(&p->guest_errors, "pic: irq %u out of range", irq);
		return;
	}
	struct pic_chip *c = &p->chip[irq >> 3];
	/* master input 2 is the slave's INT output unless the master runs single */
	if (irq == PIC_CASCADE && !c->single)
		return;
	chip_set_line(c, irq & 7, level);
	pic_update(p);
}

int pic_has_interrupt(const struct pic *p)
{
	return chip_pending(&p->chip[0], 1) >= 0;
}

int pic_ack(struct pic *p)
{
	struct pic_chip *m = &p->chip[0], *s = &p->chip[1];
	int vec;

	pic_update(p);
	int irq = chip_pending(m, 1);
	if (irq < 0)
		return m->vector_base + 7;	/* request vanished: spurious IRQ7 */
	if (irq == PIC_CASCADE && !m->single) {
		int sirq = chip_pending(s, 0);
		chip_ack(m, PIC_CASCADE);
		m->irr &= ~(1u << PIC_CASCADE);	/* even under LTIM: pic_update re-asserts it */
		if (sirq < 0) {
			vec = s->vector_base + 7;	/* spurious IRQ15; master's IR2 is in service */
		} else {
			chip_ack(s, (unsigned)sirq);
			vec = s->vector_base + sirq;
		}
	} else {
		chip_ack(m, (unsigned)irq);
		vec = m->vector_base + irq;
	}
	pic_update(p);
	return vec;
}

static void icw1(struct pic_chip *c, uint8_t val)
{
	uint8_t elcr = c->elcr, elcr_mask = c->elcr_mask, lines = c->lines;
	memset(c, 0, sizeof(*c));
	c->elcr = elcr;
	c->elcr_mask = elcr_mask;
	c->lines = lines;
	c->ltim = !!(val & 0x08);
	/* the edge-sense latches are reset: only a new rising edge requests again */
	c->irr = c->lines & level_mask(c);
	c->lowest = 7;
	c->want_icw4 = val & 0x01;
	c->single = !!(val & 0x02);
	c->init_step = 1;
}

static void ocw2(struct pic_chip *c, uint8_t val)
{
	unsigned cmd = val >> 5, irq = val & 7;
	switch (cmd) {
	case 0:		/* clear rotate in auto-EOI */
	case 4:		/* set rotate in auto-EOI */
		c->rotate_on_aeoi = cmd == 4;
		break;
	case 1:		/* non-specific EOI */
	case 5: {	/* rotate on non-specific EOI */
		unsigned rank = top_rank(c->isr, c->lowest);
		if (rank == 8)
			break;
		irq = rank_irq(rank, c->lowest);
		c->isr &= ~(1u << irq);
		if (cmd == 5)
			c->lowest = irq;
		break;
	}
	case 3:		/* specific EOI */
	case 7:		/* rotate on specific EOI */
		c->isr &= ~(1u << irq);
		if (cmd == 7)
			c->lowest = irq;
		break;
	case 6:		/* set priority: irq becomes the lowest */
		c->lowest = irq;
		break;
	default:	/* 2: no operation */
		break;
	}
}

static void ocw3(struct pic_chip *c, uint8_t val)
{
	if (val & 0x04)
		c->poll = 1;
	if (val & 0x02)
		c->read_isr = val & 0x01;
	if (val & 0x40)
		c->special_mask = !!(val & 0x20);
}

static void chip_write(struct pic *p, struct pic_chip *c, unsigned port, uint8_t val)
{
	if (port == 0) {
		if (val & 0x10)
			icw1(c, val);
		else if (val & 0x08)
			ocw3(c, val);
		else
			ocw2(c, val);
		return;
	}
	switch (c->init_step) {
	case 0:
		c->imr = val;
		break;
	case 1:
		c->vector_base = val & 0xf8;
		if (!c->single)
			c->init_step = 2;
		else
			c->init_step = c->want_icw4 ? 3 : 0;
		break;
	case 2:
		c->icw3 = val;
		c->init_step = c->want_icw4 ? 3 : 0;
		break;
	default:
		if (!(val & 0x01))
			log_guest_error(&p->guest_errors, "pic: ICW4 8080/8085 mode not supported");
		c->auto_eoi = !!(val & 0x02);
		c->sfnm = !!(val & 0x10);
		c->init_step = 0;
		break;
	}
}

static uint8_t chip_read(struct pic_chip *c, unsigned port, int master)
{
	if (port == 1)
		return c->imr;
	if (c->poll) {
		/* a poll is an INTA for this chip alone, answered on the data bus */
		c->poll = 0;
		int irq = chip_pending(c, master);
		if (irq < 0)
			return 0;
		chip_ack(c, (unsigned)irq);
		return 0x80 | (uint8_t)irq;
	}
	return c->read_isr ? c->isr : c->irr;
}

static void pic_io_read(struct pic *p, unsigned chip, uint64_t offset, uint8_t *data, unsigned size)
{
	for (unsigned i = 0; i < size; i++) {
		unsigned port = (unsigned)((offset + i) & 1);
		data[i] = chip_read(&p->chip[chip], port, chip == 0);
	}
	pic_update(p);
}

static void pic_io_write(struct pic *p, unsigned chip, uint64_t offset, const uint8_t *data,
			 unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		chip_write(p, &p->chip[chip], (unsigned)((offset + i) & 1), data[i]);
	pic_update(p);
}

static void master_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
	pic_io_read(opaque, 0, offset, data, size);
}

static void master_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
	pic_io_write(opaque, 0, offset, data, size);
}

static void slave_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
	pic_io_read(opaque, 1, offset, data, size);
}

static void slave_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
	pic_io_write(opaque, 1, offset, data, size);
}

static void elcr_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
	struct pic *p = opaque;
	for (unsigned i = 0; i < size; i++)
		data[i] = p->chip[(offset + i) & 1].elcr;
}

static void elcr_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
	struct pic *p = opaque;
	for (unsigned i = 0; i < size; i++) {
		struct pic_chip *c = &p->chip[(offset + i) & 1];
		if (data[i] & ~c->elcr_mask)
			log_guest_error(&p->guest_errors, "pic: ELCR%u bits %#x cannot be level",
					(unsigned)((offset + i) & 1), data[i] & ~c->elcr_mask);
		c->elcr = data[i] & c->elcr_mask;
		/* inputs now level-triggered take the line's current state */
		c->irr = (c->irr & ~level_mask(c)) | (c->lines & level_mask(c));
	}
	pic_update(p);
}

static const struct io_handler master_ops = { master_read, master_write };
static const struct io_handler slave_ops = { slave_read, slave_write };
static const struct io_handler elcr_ops = { elcr_read, elcr_write };

void pic_init(struct pic *p)
{
	memset(p, 0, sizeof(*p));
	for (unsigned i = 0; i < 2; i++) {
		p->chip[i].lowest = 7;
		p->chip[i].imr = 0xff;	/* as firmware leaves it: nothing until programmed */
	}
	/* IRQ0-2 (timer, keyboard, cascade), IRQ8 and IRQ13 are always edge on a PC */
	p->chip[0].elcr_mask = 0xf8;
	p->chip[1].elcr_mask = 0xde;
	p->chip[0].vector_base = 0x08;
	p->chip[1].vector_base = 0x70;
}

int pic_attach(struct pic *p, struct bus *pio)
{
	int r = bus_register(pio, 0x20, 2, &master_ops, p, "pic-master");
	if (r)
		return r;
	r = bus_register(pio, 0xa0, 2, &slave_ops, p, "pic-slave");
	if (r)
		goto err_master;
	r = bus_register(pio, 0x4d0, 2, &elcr_ops, p, "pic-elcr");
	if (r)
		goto err_slave;
	return 0;

err_slave:
	bus_unregister(pio, 0xa0);
err_master:
	bus_unregister(pio, 0x20);
	return r;
}

static void sink_set_level(void *opaque, unsigned irq, int level)
{
	pic_set_irq(opaque, irq, level);
}

struct irq_sink pic_irq_sink(struct pic *p)
{
	return (struct irq_sink){ .set_level = sink_set_level, .opaque = p };
}

void pic_save(const struct pic *p, struct state_out *o)
{
	state_put(o, p->chip, sizeof(p->chip));
	state_put_u64(o, p->guest_errors);
}

void pic_load(struct pic *p, struct state_in *in)
{
	struct pic_chip c[2];
	state_get(in, c, sizeof(c));
	uint64_t errors = state_get_u64(in);
	for (unsigned i = 0; i < 2; i++)
		state_check(in, c[i].init_step <= 3 && c[i].lowest <= 7 && !(c[i].vector_base & 7), "the PIC's registers");
	if (in->err)
		return;
	memcpy(p->chip, c, sizeof(c));
	p->guest_errors = errors;
}
