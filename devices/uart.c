/*
 * 16550A UART. Everything happens instantly: a byte written to THR is on the console
 * before the OUT instruction completes, so THR and the shift register are always empty
 * and there is no TX FIFO to model. The interrupt output is recomputed after every
 * access and driven as a level (pending && OUT2 && !loopback); the PIC in edge mode
 * then sees one edge each time an interrupt becomes pending again.
 *
 * The RX character timeout needs a timer this device does not have; since input
 * arrives in whole events, "no more characters are coming" is always true once an
 * event is delivered, so data below the trigger level reports as a timeout at once.
 */
#include "devices/uart.h"

#include <string.h>

#include "vmm/log.h"

enum {
	REG_RBR_THR = 0, REG_IER, REG_IIR_FCR, REG_LCR, REG_MCR, REG_LSR, REG_MSR, REG_SCR,
};

#define IER_RDI 0x01
#define IER_THRI 0x02
#define IER_RLSI 0x04
#define IER_MSI 0x08

#define IIR_NONE 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_TIMEOUT 0x0c
#define IIR_FIFO 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

static int fifo_on(const struct uart *u)
{
	return u->fcr & FCR_ENABLE;
}

static unsigned rx_capacity(const struct uart *u)
{
	return fifo_on(u) ? UART_FIFO_SIZE : 1;
}

static unsigned rx_trigger(const struct uart *u)
{
	static const unsigned levels[4] = { 1, 4, 8, 14 };
	return fifo_on(u) ? levels[u->fcr >> 6] : 1;
}

static void rx_push(struct uart *u, uint8_t b)
{
	u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = b;
	u->rx_count++;
}

static uint8_t rx_pop(struct uart *u)
{
	uint8_t b = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
	u->rx_count--;
	return b;
}

static void rx_clear(struct uart *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
}

/* Move backlog bytes into the FIFO while it has room. */
static void refill(struct uart *u)
{
	while (u->bl_count && u->rx_count < rx_capacity(u)) {
		rx_push(u, u->backlog[u->bl_head]);
		u->bl_head = (u->bl_head + 1) % UART_BACKLOG_SIZE;
		u->bl_count--;
	}
}

static uint8_t msr_lines(const struct uart *u)
{
	if (!(u->mcr & MCR_LOOP))
		return MSR_CTS | MSR_DSR | MSR_DCD;	/* a terminal is always attached */
	uint8_t v = 0;
	if (u->mcr & MCR_RTS)
		v |= MSR_CTS;
	if (u->mcr & MCR_DTR)
		v |= MSR_DSR;
	if (u->mcr & MCR_OUT1)
		v |= MSR_RI;
	if (u->mcr & MCR_OUT2)
		v |= MSR_DCD;
	return v;
}

static void msr_update(struct uart *u)
{
	uint8_t now = msr_lines(u), changed = now ^ u->msr_prev;
	if (changed & MSR_CTS)
		u->msr_delta |= 0x01;
	if (changed & MSR_DSR)
		u->msr_delta |= 0x02;
	if ((u->msr_prev & MSR_RI) && !(now & MSR_RI))
		u->msr_delta |= 0x04;	/* trailing edge of ring indicator only */
	if (changed & MSR_DCD)
		u->msr_delta |= 0x08;
	u->msr_prev = now;
}

static uint8_t iir_id(const struct uart *u)
{
	if ((u->ier & IER_RLSI) && u->lsr_err)
		return IIR_RLSI;
	if ((u->ier & IER_RDI) && u->rx_count) {
		if (u->rx_count >= rx_trigger(u))
			return IIR_RDI;
		return fifo_on(u) ? IIR_TIMEOUT : IIR_RDI;
	}
	if ((u->ier & IER_THRI) && u->thr_pending)
		return IIR_THRI;
	if ((u->ier & IER_MSI) && u->msr_delta)
		return IIR_MSI;
	return IIR_NONE;
}

static void update_irq(struct uart *u)
{
	/* in loopback the OUT2 pin is looped to DCD and the interrupt pin is cut off */
	int level = iir_id(u) != IIR_NONE && (u->mcr & MCR_OUT2) && !(u->mcr & MCR_LOOP);
	if (level == u->irq_level)
		return;
	u->irq_level = level;
	irq_set(&u->irq, u->irq_line, level);
}

static void transmit(struct uart *u, uint8_t b)
{
	if (u->mcr & MCR_LOOP) {
		if (u->rx_count < rx_capacity(u))
			rx_push(u, b);
		else
			u->lsr_err |= LSR_OE;
	} else {
		hostio_console_out(u->io, u->console, &b, 1);
		u->tx_bytes++;
	}
	/* the byte left THR at once, so THR is empty again */
	u->thr_pending = 1;
}

static uint8_t reg_read(struct uart *u, unsigned reg)
{
	switch (reg) {
	case REG_RBR_THR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		if (u->rx_count) {
			u->rbr_last = rx_pop(u);
			refill(u);
		}
		return u->rbr_last;
	case REG_IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case REG_IIR_FCR: {
		uint8_t id = iir_id(u);
		if (id == IIR_THRI)
			u->thr_pending = 0;	/* reading IIR acknowledges THRE */
		return id | (fifo_on(u) ? IIR_FIFO : 0);
	}
	case REG_LCR:
		return u->lcr;
	case REG_MCR:
		return u->mcr;
	case REG_LSR: {
		uint8_t v = LSR_THRE | LSR_TEMT | u->lsr_err;
		if (u->rx_count)
			v |= LSR_DR;
		u->lsr_err = 0;
		return v;
	}
	case REG_MSR: {
		uint8_t v = msr_lines(u) | u->msr_delta;
		u->msr_delta = 0;
		return v;
	}
	default:
		return u->scr;
	}
}

static void reg_write(struct uart *u, unsigned reg, uint8_t val)
{
	switch (reg) {
	case REG_RBR_THR:
		if (u->lcr & LCR_DLAB)
			u->dll = val;
		else
			transmit(u, val);
		break;
	case REG_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = val;
		} else {
			uint8_t old = u->ier;
			u->ier = val & 0x0f;
			/* enabling THRI with THR empty raises THRE again (8250 driver relies on it) */
			if ((u->ier & ~old) & IER_THRI)
				u->thr_pending = 1;
		}
		break;
	case REG_IIR_FCR:
		if ((val ^ u->fcr) & FCR_ENABLE)
			rx_clear(u);	/* switching FIFO mode resets the FIFOs */
		if (val & FCR_CLEAR_RX)
			rx_clear(u);
		u->fcr = val & 0xc9;
		refill(u);
		break;
	case REG_LCR:
		u->lcr = val;
		break;
	case REG_MCR:
		u->mcr = val & 0x1f;
		msr_update(u);
		break;
	case REG_LSR:
	case REG_MSR:
		break;		/* factory test writes: ignored */
	default:
		u->scr = val;
		break;
	}
}

static void uart_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
	struct uart *u = opaque;
	for (unsigned i = 0; i < size; i++)
		data[i] = reg_read(u, (unsigned)((offset + i) & 7));
	update_irq(u);
}

static void uart_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
	struct uart *u = opaque;
	for (unsigned i = 0; i < size; i++)
		reg_write(u, (unsigned)((offset + i) & 7), data[i]);
	update_irq(u);
}

static void uart_console_in(void *opaque, const struct hostio_event *ev)
{
	struct uart *u = opaque;
	if (!ev->data && ev->len)
		return;
	for (uint32_t i = 0; i < ev->len; i++) {
		if (!u->bl_count && u->rx_count < rx_capacity(u)) {
			rx_push(u, ev->data[i]);
		} else if (u->bl_count < UART_BACKLOG_SIZE) {
			u->backlog[(u->bl_head + u->bl_count) % UART_BACKLOG_SIZE] = ev->data[i];
			u->bl_count++;
		} else {
			u->rx_dropped++;
		}
	}
	update_irq(u);
}

static const struct io_handler uart_ops = { uart_read, uart_write };

void uart_init(struct uart *u, struct hostio *io, const struct irq_sink *irq, unsigned irq_line,
	       unsigned console)
{
	memset(u, 0, sizeof(*u));
	u->io = io;
	if (irq)
		u->irq = *irq;
	u->irq_line = irq_line;
	u->console = console;
	u->msr_prev = msr_lines(u);
	u->dll = 0x0c;		/* 9600 baud, as firmware would leave it */
}

int uart_attach(struct uart *u, struct bus *pio, uint16_t base)
{
	int r = bus_register(pio, base, 8, &uart_ops, u, "uart");
	if (r)
		return r;
	r = hostio_subscribe(u->io, HOSTIO_EV_CONSOLE_IN, u->console, uart_console_in, u);
	if (r)
		bus_unregister(pio, base);
	return r;
}

/* The fields after the wiring (io, irq, irq_line, console), in declaration order. */
#define UART_STATE_FIELDS(X) X(ier) X(lcr) X(mcr) X(fcr) X(scr) X(dll) X(dlm) X(lsr_err) \
	X(msr_delta) X(msr_prev) X(rbr_last) X(thr_pending) X(irq_level) X(rx) X(rx_head) \
	X(rx_count) X(backlog) X(bl_head) X(bl_count) X(rx_dropped) X(tx_bytes) X(guest_errors)

void uart_save(const struct uart *u, struct state_out *o)
{
#define UART_PUT(f) state_put(o, &u->f, sizeof(u->f));
	UART_STATE_FIELDS(UART_PUT)
}

void uart_load(struct uart *u, struct state_in *in)
{
	struct uart n = *u;
#define UART_GET(f) state_get(in, &n.f, sizeof(n.f));
	UART_STATE_FIELDS(UART_GET)
	state_check(in, n.rx_head < UART_FIFO_SIZE && n.rx_count <= UART_FIFO_SIZE &&
			n.bl_head < UART_BACKLOG_SIZE && n.bl_count <= UART_BACKLOG_SIZE &&
			(n.irq_level == 0 || n.irq_level == 1), "the UART's queues");
	if (!in->err)
		*u = n;
}
