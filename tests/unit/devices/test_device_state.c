/* Device save/load (snapshots): a round trip keeps what the guest sees; short, damaged
 * or random state is refused or loaded within bounds, never a crash. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "devices/i8042.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "devices/rtc.h"
#include "devices/uart.h"
#include "tests/unit/devices/test_devices_util.h"
#include "tests/unit/support/test_hostio.h"

struct fix {
	struct test_hostio th;
	struct bus pio;
	struct line_rec lines;
	struct irq_sink sink;
	struct pic pic;
	struct pit pit;
	struct rtc rtc;
	struct uart uart;
	struct i8042 kbd;
};

static void no_reset(void *opaque)
{
	(void)opaque;
}

static struct fix *build(void)
{
	struct fix *f = test_calloc(1, sizeof(*f));
	test_hostio_init(&f->th);
	bus_init(&f->pio, "pio");
	f->sink = line_rec_sink(&f->lines);
	pic_init(&f->pic);
	pit_init(&f->pit, &f->th.io, &f->sink, 0);
	rtc_init(&f->rtc, &f->th.io, &f->sink, 8);
	uart_init(&f->uart, &f->th.io, &f->sink, 4, 0);
	i8042_init(&f->kbd, no_reset, NULL);
	assert_int_equal(pic_attach(&f->pic, &f->pio), 0);
	assert_int_equal(pit_attach(&f->pit, &f->pio), 0);
	assert_int_equal(rtc_attach(&f->rtc, &f->pio), 0);
	assert_int_equal(uart_attach(&f->uart, &f->pio, 0x3f8), 0);
	assert_int_equal(i8042_attach(&f->kbd, &f->pio), 0);
	return f;
}

static void save_all(struct fix *f, struct state_out *o)
{
	pic_save(&f->pic, o);
	pit_save(&f->pit, o);
	rtc_save(&f->rtc, o);
	uart_save(&f->uart, o);
	i8042_save(&f->kbd, o);
}

static int load_all(struct fix *f, const void *p, size_t len)
{
	struct state_in in;
	state_in_init(&in, p, len);
	pic_load(&f->pic, &in);
	pit_load(&f->pit, &in);
	rtc_load(&f->rtc, &in);
	uart_load(&f->uart, &in);
	i8042_load(&f->kbd, &in);
	return in.err ? in.err : in.pos == in.len ? 0 : 1;
}

/* A machine state a guest could have made: PIC programmed, PIT counting, input queued. */
static void program(struct fix *f)
{
	outb(&f->pio, 0x20, 0x11);
	outb(&f->pio, 0x21, 0x20);
	outb(&f->pio, 0x21, 0x04);
	outb(&f->pio, 0x21, 0x01);
	outb(&f->pio, 0x21, 0xfa);
	outb(&f->pio, 0x43, 0x34);
	outb(&f->pio, 0x40, 0x9c);
	outb(&f->pio, 0x40, 0x2e);
	outb(&f->pio, 0x3fb, 0x03);
	outb(&f->pio, 0x3f9, 0x01);
	outb(&f->pio, 0x3ff, 0x5a);
	assert_int_equal(test_hostio_deliver(&f->th, HOSTIO_EV_CONSOLE_IN, 0, "snap", 4), 0);
	outb(&f->pio, 0x70, 0x0b);
}

/* A programmed fixture's state in o. */
static struct fix *saved(struct state_out *o)
{
	struct fix *f = build();
	program(f);
	state_out_init(o);
	save_all(f, o);
	assert_int_equal(o->err, 0);
	return f;
}

static void test_round_trip(void **state)
{
	(void)state;
	struct state_out o;
	struct fix *a = saved(&o), *b = build();
	assert_int_equal(load_all(b, o.buf, o.len), 0);
	/* what the guest reads next is the same on both */
	uint16_t ports[] = { 0x21, 0x3fd, 0x3ff, 0x3fb, 0x71, 0x64 };
	for (unsigned i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		assert_int_equal(inb(&b->pio, ports[i]), inb(&a->pio, ports[i]));
	for (int i = 0; i < 4; i++)	/* the queued input, byte by byte */
		assert_int_equal(inb(&b->pio, 0x3f8), inb(&a->pio, 0x3f8));
	assert_int_equal(b->pit.ch[0].reload, 0x2e9c);
	state_out_free(&o);
	test_free(a);
	test_free(b);
}

static void test_short_state_refused(void **state)
{
	(void)state;
	struct state_out o;
	struct fix *a = saved(&o), *b = build();
	for (size_t len = 0; len < o.len; len += 7)
		assert_true(load_all(b, o.buf, len) < 0);
	state_out_free(&o);
	test_free(a);
	test_free(b);
}

static void test_bad_fields_refused(void **state)
{
	(void)state;
	struct fix *a = build();
	struct state_out o;
	state_out_init(&o);
	uart_save(&a->uart, &o);
	/* rx_head far beyond the FIFO: the loader must not take it */
	size_t at = offsetof(struct uart, rx_head) - offsetof(struct uart, ier);
	uint32_t big = 1000;
	memcpy(o.buf + at, &big, sizeof(big));
	struct state_in in;
	state_in_init(&in, o.buf, o.len);
	struct uart before = a->uart;
	uart_load(&a->uart, &in);
	assert_int_equal(in.err, -EINVAL);
	assert_non_null(in.bad);
	assert_memory_equal(&before, &a->uart, sizeof(before));
	state_out_free(&o);
	test_free(a);
}

static void test_random_state_is_safe(void **state)
{
	(void)state;
	struct fix *f = build();
	static uint8_t blob[16384];
	uint64_t seed = 0x5eed;
	for (int round = 0; round < 300; round++) {
		for (size_t i = 0; i < sizeof(blob); i += 8) {
			uint64_t v = rnd_next(&seed);
			memcpy(blob + i, &v, 8);
		}
		load_all(f, blob, (size_t)(rnd_next(&seed) % sizeof(blob)));
		/* whatever was accepted, the guest can touch every port */
		for (uint16_t port = 0; port < 0x400; port++) {
			inb(&f->pio, port);
			outb(&f->pio, port, (uint8_t)rnd_next(&seed));
		}
	}
	test_free(f);
}

int main(void)
{
	log_threshold = LOG_ERROR;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_short_state_refused),
		cmocka_unit_test(test_bad_fields_refused),
		cmocka_unit_test(test_random_state_is_safe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
