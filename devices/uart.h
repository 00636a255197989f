/*
 * National Semiconductor 16550A UART: 16-byte FIFOs, DLAB divisor latches, loopback,
 * and the interrupt behaviour Linux's 8250 driver probes for. Transmitted bytes go to
 * hostio_console_out() at once (the transmitter is never busy); received bytes arrive
 * as HOSTIO_EV_CONSOLE_IN events and wait in a device-side backlog while the FIFO is
 * full.
 */
#ifndef DETVM_DEVICES_UART_H
#define DETVM_DEVICES_UART_H

#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/hostio.h"
#include "vmm/irq.h"
#include "vmm/state_io.h"

#define UART_FIFO_SIZE 16
#define UART_BACKLOG_SIZE 4096

struct uart {
	struct hostio *io;
	struct irq_sink irq;
	unsigned irq_line;
	unsigned console;
	uint8_t ier;
	uint8_t lcr;
	uint8_t mcr;
	uint8_t fcr;
	uint8_t scr;
	uint8_t dll;
	uint8_t dlm;
	uint8_t lsr_err;	/* OE/PE/FE/BI, cleared by reading LSR */
	uint8_t msr_delta;	/* DCTS/DDSR/TERI/DDCD, cleared by reading MSR */
	uint8_t msr_prev;	/* modem status bits as last seen, for the deltas */
	uint8_t rbr_last;	/* what RBR reads when the FIFO is empty */
	uint8_t thr_pending;	/* THR-empty interrupt pending (until IIR read or THR write) */
	int irq_level;
	uint8_t rx[UART_FIFO_SIZE];
	unsigned rx_head;
	unsigned rx_count;
	uint8_t backlog[UART_BACKLOG_SIZE];
	unsigned bl_head;
	unsigned bl_count;
	uint64_t rx_dropped;	/* input bytes that found FIFO and backlog full */
	uint64_t tx_bytes;
	uint64_t guest_errors;
};

/* COM1: irq_line 4, console 0. */
void uart_init(struct uart *u, struct hostio *io, const struct irq_sink *irq, unsigned irq_line,
	       unsigned console);
/* base..base+7; subscribes to HOSTIO_EV_CONSOLE_IN for its console. */
int uart_attach(struct uart *u, struct bus *pio, uint16_t base);

/* Device state for snapshots (vmm/state_io.h); load checks what it reads. */
void uart_save(const struct uart *u, struct state_out *o);
void uart_load(struct uart *u, struct state_in *in);

#endif
