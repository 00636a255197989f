/* COM1 output from the exit records of a trace (see console_log.h). */
#include "tools/console_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools/trace_walk.h"
#include "vmm/machine.h"

/* 16550A register offsets and bits, as devices/uart.c decodes them */
#define UART_THR 0
#define UART_LCR 3
#define UART_MCR 4
#define UART_REGS 8
#define LCR_DLAB 0x80
#define MCR_LOOP 0x10

void console_log_init(struct console_log *c)
{
	memset(c, 0, sizeof(*c));
}

static struct console_line *open_line(struct console_log *c, uint64_t pos, uint64_t ns)
{
	struct console_line *l;

	if (c->nlines && !c->lines[c->nlines - 1].newline)
		return &c->lines[c->nlines - 1];
	l = grow_array(c->lines, &c->cap, c->nlines, sizeof(*l), 64);
	if (!l)
		return NULL;
	c->lines = l;
	l = &c->lines[c->nlines++];
	memset(l, 0, sizeof(*l));
	l->position = pos;
	l->guest_ns = ns;
	return l;
}

static int put_byte(struct console_log *c, uint8_t b, uint64_t pos, uint64_t ns)
{
	struct console_line *l = open_line(c, pos, ns);
	uint8_t *text;

	if (!l)
		return -ENOMEM;
	c->bytes++;
	if (b == '\n') {
		l->newline = true;
		return 0;
	}
	text = grow_array(l->text, &l->cap, l->len, 1, 80);
	if (!text)
		return -ENOMEM;
	l->text = text;
	l->text[l->len++] = b;
	return 0;
}

static int reg_write(struct console_log *c, unsigned reg, uint8_t v, uint64_t pos, uint64_t ns)
{
	switch (reg) {
	case UART_THR:
		/* a divisor byte, or a byte looped back to the receiver: neither is output */
		if (!(c->lcr & LCR_DLAB) && !(c->mcr & MCR_LOOP))
			return put_byte(c, v, pos, ns);
		return 0;
	case UART_LCR:
		c->lcr = v;
		return 0;
	case UART_MCR:
		c->mcr = v & 0x1f;
		return 0;
	default:
		return 0;
	}
}

int console_log_event(struct console_log *c, const struct trace_event *te, uint64_t ns)
{
	const Detvm__ExitRecord *x = te->ev->payload_case == DETVM__EVENT__PAYLOAD_EXIT ?
		te->ev->exit : NULL;
	uint64_t written;
	unsigned size;

	if (!x || x->kind != DETVM__EXIT_KIND__EXIT_PIO || !x->is_write ||
	    x->addr < MACHINE_COM1_PORT || x->addr >= MACHINE_COM1_PORT + UART_REGS)
		return 0;
	size = x->size ? x->size : 1;
	/* byte j of an `out` (or of each element of a `rep outs`) goes to port + j % size */
	for (size_t j = 0; j < x->data.len; j++) {
		unsigned reg = (unsigned)(x->addr - MACHINE_COM1_PORT + j % size) % UART_REGS;
		int r = reg_write(c, reg, x->data.data[j], te->position, ns);

		if (r)
			return r;
	}
	written = (uint64_t)size * (x->count > 1 ? x->count : 1);
	if (written > x->data.len && c->nlines) {
		/* the recorder keeps the first bytes of a long string out; say what is gone */
		c->lines[c->nlines - 1].missing += written - x->data.len;
	}
	return 0;
}

void console_log_free(struct console_log *c)
{
	for (size_t i = 0; i < c->nlines; i++)
		free(c->lines[i].text);
	free(c->lines);
	memset(c, 0, sizeof(*c));
}
