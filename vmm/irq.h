/* Interrupt lines from devices to the interrupt controller. */
#ifndef DETVM_VMM_IRQ_H
#define DETVM_VMM_IRQ_H

/*
 * A device holds a sink and its line number and drives the line's level. Edge-triggered
 * sources (PIT, UART, virtio on the 8259A) pulse: level 1 then 0. The PIC implements it.
 */
struct irq_sink {
	void (*set_level)(void *opaque, unsigned irq, int level);
	void *opaque;
};

static inline void irq_set(const struct irq_sink *s, unsigned irq, int level)
{
	if (s && s->set_level)
		s->set_level(s->opaque, irq, level);
}

static inline void irq_pulse(const struct irq_sink *s, unsigned irq)
{
	irq_set(s, irq, 1);
	irq_set(s, irq, 0);
}

#endif
