#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "devices/uart.h"
#include "tests/unit/devices/test_devices_util.h"
#include "tests/unit/support/test_hostio.h"

#define COM1 0x3f8
#define RBR (COM1 + 0)
#define IER (COM1 + 1)
#define IIR (COM1 + 2)
#define FCR (COM1 + 2)
#define LCR (COM1 + 3)
#define MCR (COM1 + 4)
#define LSR (COM1 + 5)
#define MSR (COM1 + 6)
#define SCR (COM1 + 7)

struct fix {
	struct test_hostio th;
	struct bus pio;
	struct line_rec lines;
	struct irq_sink sink;
	struct uart uart;
};

static int setup(void **state)
{
	struct fix *f = test_calloc(1, sizeof(*f));
	test_hostio_init(&f->th);
	bus_init(&f->pio, "pio");
	f->sink = line_rec_sink(&f->lines);
	uart_init(&f->uart, &f->th.io, &f->sink, 4, 0);
	assert_int_equal(uart_attach(&f->uart, &f->pio, COM1), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	test_free(*state);
	return 0;
}

static void type(struct fix *f, const void *data, uint32_t len)
{
	assert_int_equal(test_hostio_deliver(&f->th, HOSTIO_EV_CONSOLE_IN, 0, data, len), 0);
}

static void test_output(void **state)
{
	struct fix *f = *state;
	assert_int_equal(inb(&f->pio, LSR), 0x60);
	const char *msg = "hello, detvm\n";
	for (const char *p = msg; *p; p++)
		outb(&f->pio, RBR, (uint8_t)*p);
	assert_int_equal(f->th.out_len, 13);
	assert_memory_equal(f->th.out, msg, 13);
	assert_int_equal(inb(&f->pio, LSR), 0x60);	/* THRE and TEMT right away */
	assert_int_equal(f->uart.tx_bytes, 13);
}

static void test_input_interrupt(void **state)
{
	struct fix *f = *state;
	outb(&f->pio, FCR, 0x07);	/* FIFO on, trigger 1 */
	outb(&f->pio, IER, 0x01);
	assert_int_equal(f->lines.rises[4], 0);
	type(f, "abc", 3);
	assert_int_equal(f->lines.rises[4], 0);	/* OUT2 off: the pin is not driven */
	outb(&f->pio, MCR, 0x0b);
	assert_int_equal(f->lines.rises[4], 1);
	assert_int_equal(f->lines.level[4], 1);
	assert_int_equal(inb(&f->pio, IIR), 0xc4);
	assert_int_equal(inb(&f->pio, LSR) & 1, 1);
	assert_int_equal(inb(&f->pio, RBR), 'a');
	assert_int_equal(inb(&f->pio, RBR), 'b');
	assert_int_equal(inb(&f->pio, RBR), 'c');
	assert_int_equal(inb(&f->pio, LSR) & 1, 0);
	assert_int_equal(inb(&f->pio, IIR), 0xc1);
	assert_int_equal(f->lines.level[4], 0);
	/* pending again: a new edge */
	type(f, "d", 1);
	assert_int_equal(f->lines.rises[4], 2);
	assert_int_equal(inb(&f->pio, RBR), 'd');
	assert_int_equal(f->lines.level[4], 0);
}

static void test_trigger_levels(void **state)
{
	struct fix *f = *state;
	outb(&f->pio, FCR, 0x81);	/* trigger 8 */
	outb(&f->pio, IER, 0x01);
	type(f, "123", 3);
	assert_int_equal(inb(&f->pio, IIR), 0xcc);	/* below trigger: character timeout */
	type(f, "45678", 5);
	assert_int_equal(inb(&f->pio, IIR), 0xc4);
	outb(&f->pio, FCR, 0xc3);	/* trigger 14, clear RX */
	assert_int_equal(inb(&f->pio, LSR) & 1, 0);
	type(f, "0123456789abc", 13);
	assert_int_equal(inb(&f->pio, IIR), 0xcc);
	type(f, "d", 1);
	assert_int_equal(inb(&f->pio, IIR), 0xc4);

	/* without FIFOs: one holding register, data interrupt at once */
	outb(&f->pio, FCR, 0x00);
	assert_int_equal(inb(&f->pio, IIR), 0x01);
	type(f, "xyz", 3);
	assert_int_equal(inb(&f->pio, IIR), 0x04);
	assert_int_equal(f->uart.rx_count, 1);
	assert_int_equal(f->uart.bl_count, 2);
	assert_int_equal(inb(&f->pio, RBR), 'x');
	assert_int_equal(inb(&f->pio, RBR), 'y');
	assert_int_equal(inb(&f->pio, RBR), 'z');
	assert_int_equal(inb(&f->pio, IIR), 0x01);
}

static void test_backlog_and_drops(void **state)
{
	struct fix *f = *state;
	static uint8_t in[UART_FIFO_SIZE + UART_BACKLOG_SIZE + 10];
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 3);
	outb(&f->pio, FCR, 0x01);
	type(f, in, 100);
	type(f, in + 100, (uint32_t)sizeof(in) - 100);
	assert_int_equal(f->uart.rx_dropped, 10);
	for (size_t i = 0; i < UART_FIFO_SIZE + UART_BACKLOG_SIZE; i++) {
		assert_int_equal(inb(&f->pio, LSR) & 1, 1);
		assert_int_equal(inb(&f->pio, RBR), in[i]);
	}
	assert_int_equal(inb(&f->pio, LSR) & 1, 0);
	/* reading an empty FIFO is harmless */
	inb(&f->pio, RBR);
	assert_int_equal(inb(&f->pio, LSR) & 1, 0);
}

static void test_loopback(void **state)
{
	struct fix *f = *state;
	/* Linux autoconfig: MCR = LOOP | OUT2 | RTS must read MSR 0x90 */
	outb(&f->pio, MCR, 0x1a);
	assert_int_equal(inb(&f->pio, MSR) & 0xf0, 0x90);
	outb(&f->pio, MCR, 0x1f);
	assert_int_equal(inb(&f->pio, MSR) & 0xf0, 0xf0);
	outb(&f->pio, MCR, 0x10);
	assert_int_equal(inb(&f->pio, MSR), 0x0f);	/* deltas: CTS, DSR, DCD fell; RI trailing edge */
	assert_int_equal(inb(&f->pio, MSR), 0x00);

	outb(&f->pio, FCR, 0x01);
	outb(&f->pio, RBR, 0x55);
	outb(&f->pio, RBR, 0xaa);
	assert_int_equal(f->th.out_len, 0);
	assert_int_equal(inb(&f->pio, RBR), 0x55);
	assert_int_equal(inb(&f->pio, RBR), 0xaa);
	for (int i = 0; i < 17; i++)
		outb(&f->pio, RBR, (uint8_t)i);
	assert_int_equal(inb(&f->pio, LSR) & 0x03, 0x03);	/* overrun on the 17th */
	assert_int_equal(inb(&f->pio, LSR) & 0x02, 0);

	/* loopback cuts the interrupt pin */
	outb(&f->pio, IER, 0x01);
	outb(&f->pio, MCR, 0x18);
	assert_int_equal(f->lines.level[4], 0);
	outb(&f->pio, MCR, 0x08);
	assert_int_equal(f->lines.level[4], 1);
	outb(&f->pio, MCR, 0x00);
	assert_int_equal(f->lines.level[4], 0);
	assert_int_equal(inb(&f->pio, MSR) & 0xf0, 0xb0);
}

static void test_divisor_and_scratch(void **state)
{
	struct fix *f = *state;
	outb(&f->pio, IER, 0x05);
	outb(&f->pio, LCR, 0x83);
	outb(&f->pio, RBR, 0x01);
	outb(&f->pio, IER, 0x00);
	assert_int_equal(inb(&f->pio, RBR), 0x01);
	assert_int_equal(inb(&f->pio, IER), 0x00);
	assert_int_equal(f->th.out_len, 0);	/* DLL write is not output */
	outb(&f->pio, LCR, 0x03);
	assert_int_equal(inb(&f->pio, LCR), 0x03);
	assert_int_equal(inb(&f->pio, IER), 0x05);
	assert_int_equal(f->uart.dll, 1);
	assert_int_equal(f->uart.dlm, 0);

	outb(&f->pio, SCR, 0xa5);
	assert_int_equal(inb(&f->pio, SCR), 0xa5);
	outb(&f->pio, SCR, 0x5a);
	assert_int_equal(inb(&f->pio, SCR), 0x5a);
	/* IER keeps its low nibble only */
	outb(&f->pio, IER, 0xff);
	assert_int_equal(inb(&f->pio, IER), 0x0f);
	outb(&f->pio, IER, 0x00);
	assert_int_equal(inb(&f->pio, IER), 0x00);
	/* FIFO presence as Linux probes it */
	outb(&f->pio, FCR, 0x01);
	assert_int_equal(inb(&f->pio, IIR) >> 6, 3);
	outb(&f->pio, LCR, 0xbf);	/* no EFR: offset 2 is still IIR, nonzero */
	assert_int_not_equal(inb(&f->pio, IIR), 0);
	outb(&f->pio, LCR, 0x03);
	outb(&f->pio, FCR, 0x00);
	assert_int_equal(inb(&f->pio, IIR) >> 6, 0);
}

static void test_thre_interrupt(void **state)
{
	struct fix *f = *state;
	outb(&f->pio, MCR, 0x08);
	assert_int_equal(inb(&f->pio, IIR), 0x01);
	outb(&f->pio, IER, 0x02);	/* THR is empty: THRE at once */
	assert_int_equal(f->lines.rises[4], 1);
	assert_int_equal(inb(&f->pio, IIR), 0x02);	/* reading IIR acknowledges it */
	assert_int_equal(inb(&f->pio, IIR), 0x01);
	assert_int_equal(f->lines.level[4], 0);

	/* Linux's THRE re-assert test: IER 0 then THRI again re-raises */
	outb(&f->pio, IER, 0x00);
	outb(&f->pio, IER, 0x02);
	assert_int_equal(inb(&f->pio, IIR), 0x02);
	assert_int_equal(f->lines.rises[4], 2);

	/* each transmitted byte empties THR again */
	outb(&f->pio, RBR, 'x');
	assert_int_equal(f->lines.rises[4], 3);
	assert_int_equal(f->lines.level[4], 1);
	outb(&f->pio, RBR, 'y');
	assert_int_equal(f->lines.rises[4], 3);	/* still pending, no extra edge */
	outb(&f->pio, IER, 0x00);	/* stop_tx drops the line */
	assert_int_equal(f->lines.level[4], 0);

	/* RX data outranks THRE */
	outb(&f->pio, IER, 0x03);
	type(f, "q", 1);
	assert_int_equal(inb(&f->pio, IIR), 0x04);
	inb(&f->pio, RBR);
	assert_int_equal(inb(&f->pio, IIR), 0x02);

	/* modem status interrupt */
	outb(&f->pio, IER, 0x08);
	outb(&f->pio, MCR, 0x18);
	outb(&f->pio, MCR, 0x1a);	/* loopback CTS change sets DCTS */
	assert_int_equal(inb(&f->pio, IIR), 0x00);
	inb(&f->pio, MSR);
	assert_int_equal(inb(&f->pio, IIR), 0x01);
}

static void test_garbage(void **state)
{
	struct fix *f = *state;
	uint64_t s = 0x0123456789abcdefull;
	for (int i = 0; i < 300000; i++) {
		uint64_t r = rnd_next(&s);
		uint16_t port = COM1 + (r & 7);
		switch ((r >> 8) % 8) {
		case 0:
		case 1:
		case 2:
			outb(&f->pio, port, (uint8_t)(r >> 16));
			break;
		case 3: {
			uint8_t buf[64];
			for (unsigned j = 0; j < sizeof(buf); j++)
				buf[j] = (uint8_t)(r >> (j % 56));
			type(f, buf, (uint32_t)((r >> 24) % sizeof(buf)));
			break;
		}
		default:
			inb(&f->pio, port);
			break;
		}
		assert_true(f->uart.rx_count <= UART_FIFO_SIZE);
		assert_true(f->uart.bl_count <= UART_BACKLOG_SIZE);
		/* the line is exactly "interrupt pending, OUT2 set, not in loopback" */
		const struct uart *u = &f->uart;
		int any = ((u->ier & 1) && u->rx_count) || ((u->ier & 2) && u->thr_pending) ||
			  ((u->ier & 4) && u->lsr_err) || ((u->ier & 8) && u->msr_delta);
		int expect = any && (u->mcr & 0x08) && !(u->mcr & 0x10);
		assert_int_equal(f->lines.level[4], expect);
	}
	/* back to a sane configuration, it still works */
	outb(&f->pio, LCR, 0x03);
	outb(&f->pio, MCR, 0x0b);
	outb(&f->pio, FCR, 0x07);
	outb(&f->pio, IER, 0x01);
	for (int i = 0; i < UART_FIFO_SIZE + UART_BACKLOG_SIZE && (inb(&f->pio, LSR) & 1); i++)
		inb(&f->pio, RBR);
	assert_int_equal(inb(&f->pio, LSR) & 1, 0);
	size_t before = f->th.out_len;
	outb(&f->pio, RBR, 'Z');
	assert_int_equal(f->th.out_len, before + 1);
	assert_int_equal(f->th.out[before], 'Z');
	type(f, "k", 1);
	assert_int_equal(inb(&f->pio, IIR), 0xc4);
	assert_int_equal(inb(&f->pio, RBR), 'k');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_input_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trigger_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backlog_and_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_divisor_and_scratch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thre_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
